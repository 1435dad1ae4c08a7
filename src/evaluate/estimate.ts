/**
 * What a run will cost before anything is spent (`ragtune eval --dry-run`, `--max-cost`).
 *
 * Every variant is built as for a real run, but its generator is an LLM generator over a
 * *recording* provider: the exact prompts a real model would get (system prompt, retrieved or
 * packed context, the case) are counted with the tokenizer, and no model is called. Input tokens
 * are therefore measured, not guessed. Output tokens are estimated per case (the model has not
 * answered yet), from what the case expects:
 *
 *   qa        min(max, 60 + 2 × tokens of the longest expected answer)  (60 when none: abstentions)
 *   classify  tokens of the longest label + 2
 *   extract   1.3 × tokens of the expected JSON + 10 (200 when none)
 *
 * and bounded by the generator's per-task max tokens, which give the worst case
 * (`maxOutputTokens`, `maxCostUsd`). Judge calls are estimated from the judged text plus a fixed
 * prompt scaffold (JUDGE_SCAFFOLD_TOKENS) and a typical verdict length. Cost = tokens × the model's
 * price (prices.ts, overridable in `pricing.models`); local and offline generators cost 0, and
 * `projectedCostUsd` prices the same tokens at `pricing.referenceModel`.
 */
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "../models/index.ts";
import { countTokens } from "../models/tokens.ts";
import { DEFAULT_MAX_TOKENS, LlmGenerator } from "../models/llm-generator.ts";
import { costUsd, priceFor } from "../models/prices.ts";
import { buildVariants, type Project } from "../pipeline/index.ts";
import type { VariantName } from "../config/index.ts";
import type { JudgeName, Suite, SuiteCase } from "./types.ts";
import { applicableJudges } from "./judges/index.ts";

/** Tokens of a judge prompt besides the judged text (instructions, schema, rubric framing). */
export const JUDGE_SCAFFOLD_TOKENS = 350;
/** Typical judge verdict lengths (faithfulness lists claims). */
export const JUDGE_OUTPUT_TOKENS: Record<JudgeName, number> = { correctness: 90, faithfulness: 220, relevance: 80, tone: 80, policy: 100 };

export interface CallEstimate {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Worst case: every reply as long as the generator allows. */
  maxOutputTokens: number;
  costUsd: number;
  maxCostUsd: number;
}

export interface VariantEstimate extends CallEstimate {
  name: string;
  /** The same tokens at `pricing.referenceModel` (what an offline run would cost served by an LLM). */
  projectedCostUsd: number;
  /** Judge calls on this variant's answers (absent without a judge). */
  judge?: CallEstimate;
}

export interface RunEstimate {
  generator: string;
  judge?: string;
  repeats: number;
  cases: number;
  variants: VariantEstimate[];
  /** Variants requested but not runnable (no trained model), as in a run. */
  notConfigured: { name: string; reason: string }[];
  totals: CallEstimate;
  /** Estimated cost of one case of one variant (one repeat, incl. judging), key `variant\u0000caseId`. */
  perCase: Map<string, number>;
}

export interface EstimateOptions {
  project: Project;
  suite: Suite;
  variants: VariantName[];
  cases: SuiteCase[];
  repeats: number;
  judge?: { id: string; judges: JudgeName[] };
}

/** Expected output tokens of a case (see the module comment). */
export function expectedOutputTokens(c: SuiteCase, suite: Suite): number {
  if (c.task === "classify") {
    const longest = Math.max(0, ...suite.labels.map((l) => countTokens(l.name)));
    return Math.min(DEFAULT_MAX_TOKENS.classify, longest + 2);
  }
  if (c.task === "extract") {
    return Math.min(DEFAULT_MAX_TOKENS.extract, c.expected_json ? Math.ceil(1.3 * countTokens(JSON.stringify(c.expected_json))) + 10 : 200);
  }
  const answers = [...(c.answer ?? []), ...(c.contains ?? [])];
  const longest = Math.max(0, ...answers.map((a) => countTokens(a)));
  return Math.min(DEFAULT_MAX_TOKENS.qa, 60 + 2 * longest);
}

/** A provider that answers nothing: it records the prompt size of each call. */
class RecordingProvider implements ChatProvider {
  readonly id = "dry-run";
  /** Prompt tokens and calls since the last `reset` (a case answered by a trained in-process model makes none). */
  lastInputTokens = 0;
  calls = 0;
  reset(): void {
    this.lastInputTokens = 0;
    this.calls = 0;
  }
  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    this.calls++;
    this.lastInputTokens += messages.reduce((n, m) => n + countTokens(m.content) + 4, 0);
    const text = options.jsonSchema || options.json ? "{}" : "I don't know";
    return { text, usage: { inputTokens: this.lastInputTokens, outputTokens: 0 }, model: "dry-run" };
  }
}

const zero = (): CallEstimate => ({ calls: 0, inputTokens: 0, outputTokens: 0, maxOutputTokens: 0, costUsd: 0, maxCostUsd: 0 });

function add(into: CallEstimate, from: CallEstimate): void {
  into.calls += from.calls;
  into.inputTokens += from.inputTokens;
  into.outputTokens += from.outputTokens;
  into.maxOutputTokens += from.maxOutputTokens;
  into.costUsd += from.costUsd;
  into.maxCostUsd += from.maxCostUsd;
}

export async function estimateRun(options: EstimateOptions): Promise<RunEstimate> {
  const { project, suite, cases, repeats } = options;
  const { config } = project;
  // The id only: estimating needs no API key and creates no client.
  const generatorId = project.generatorId();
  const recorder = new RecordingProvider();
  const recording = new LlmGenerator(recorder, { id: generatorId });
  const { variants, notConfigured } = buildVariants(project, options.variants, recording);
  const overrides = config.pricing.models;
  const own = priceFor(generatorId, overrides);
  const reference = priceFor(config.pricing.referenceModel, overrides);
  const judgePrice = options.judge ? priceFor(options.judge.id, overrides) : undefined;
  const price = (p: typeof own, input: number, output: number) => (p ? costUsd({ inputTokens: input, outputTokens: output }, p) : 0);

  const perCase = new Map<string, number>();
  const out: VariantEstimate[] = [];
  const totals = zero();
  for (const variant of variants) {
    const gen = zero();
    const judged = zero();
    let projected = 0;
    for (const c of cases) {
      recorder.reset();
      await variant.run({ task: c.task, input: c.input, labels: c.task === "classify" ? suite.labels : undefined, jsonSchema: c.json_schema });
      const calls = recorder.calls;
      const input = recorder.lastInputTokens;
      const output = calls === 0 ? 0 : expectedOutputTokens(c, suite) * calls;
      const maxOutput = calls === 0 ? 0 : DEFAULT_MAX_TOKENS[c.task] * calls;
      const one: CallEstimate = {
        calls,
        inputTokens: input,
        outputTokens: output,
        maxOutputTokens: maxOutput,
        costUsd: price(own, input, output),
        maxCostUsd: price(own, input, maxOutput),
      };
      projected += price(reference, input, output) * repeats;
      let caseCost = one.costUsd;
      if (options.judge) {
        const names = applicableJudges(c, suite, options.judge.judges, { answered: true, hasContext: variant.usesContext });
        for (const name of names) {
          const context = name === "faithfulness" ? input : 0;
          const jIn = JUDGE_SCAFFOLD_TOKENS + countTokens(c.input) + output + context + (c.answer ? countTokens(c.answer.join(" ")) : 0);
          const jOut = JUDGE_OUTPUT_TOKENS[name as JudgeName];
          const j: CallEstimate = { calls: 1, inputTokens: jIn, outputTokens: jOut, maxOutputTokens: jOut, costUsd: price(judgePrice, jIn, jOut), maxCostUsd: price(judgePrice, jIn, jOut) };
          caseCost += j.costUsd;
          for (let r = 0; r < repeats; r++) add(judged, j);
        }
      }
      perCase.set(`${variant.name}\u0000${c.id}`, caseCost);
      for (let r = 0; r < repeats; r++) add(gen, one);
    }
    const entry: VariantEstimate = { name: variant.name, ...gen, projectedCostUsd: projected };
    if (options.judge) entry.judge = judged;
    add(totals, gen);
    add(totals, judged);
    out.push(entry);
  }
  return {
    generator: generatorId,
    judge: options.judge?.id,
    repeats,
    cases: cases.length,
    variants: out,
    notConfigured,
    totals,
    perCase,
  };
}
