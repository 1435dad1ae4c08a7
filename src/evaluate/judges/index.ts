/**
 * LLM-judged scorers: correctness, faithfulness, relevance, tone and policy. Each judge is a prompt
 * file under `prompts/`, a JSON Schema the reply must satisfy, and a zod check of the parsed reply.
 * A judge never silently passes: a reply that cannot be read after retries is a `judge_error`
 * (score 0, pass false, the case's outcome unknown), never NaN. docs/judges.md explains each judge.
 */
import { cohenKappa } from "../significance.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { ChatMessage, ChatProvider, Citation, ContextChunk, Usage } from "../../models/index.ts";
import { formatContext, parseJsonObject } from "../../models/llm-generator.ts";
import { JUDGE_NAMES, type JudgeName } from "../../config/schema.ts";
import type { CaseResult, JudgeVerdict, ScoreResult, Suite, SuiteCase } from "../types.ts";
import { InputError } from "../../util/errors.ts";
import { snippet } from "../normalize.ts";
import { getOwn } from "../../util/own.ts";

// ---------------------------------------------------------------------------------------------
// What each judge returns

/** The verdict/score/reasoning shape shared by correctness, relevance and tone. */
const gradedSchema = (what: string) => ({
  type: "object",
  additionalProperties: false,
  // reasoning first: with structured output the model writes its reasons before it commits to a verdict.
  required: ["reasoning", "verdict", "score"],
  properties: {
    reasoning: { type: "string", description: "One or two sentences explaining the verdict." },
    verdict: { type: "string", enum: ["pass", "fail"], description: `"pass" when ${what}.` },
    score: { type: "number", description: "From 0 (not at all) to 1 (fully)." },
  },
});

/**
 * The JSON Schema each judge's reply must satisfy, sent as structured output (`ChatOptions.jsonSchema`).
 * Every property is required and extra properties are refused, so the schemas work in OpenAI's
 * strict mode; ranges are stated in descriptions (strict mode ignores min/max) and checked by zod.
 */
export const JUDGE_SCHEMAS: Record<JudgeName, Record<string, unknown>> = {
  correctness: gradedSchema("the answer states the same facts as the reference"),
  faithfulness: {
    type: "object",
    additionalProperties: false,
    required: ["reasoning", "claims"],
    properties: {
      reasoning: { type: "string", description: "One or two sentences." },
      claims: {
        type: "array",
        description: "The answer's factual claims, each checked against the context.",
        items: {
          type: "object",
          additionalProperties: false,
          required: ["claim", "supported", "evidence"],
          properties: {
            claim: { type: "string" },
            supported: { type: "boolean", description: "The context states or directly implies the claim." },
            evidence: { type: "string", description: "The supporting quote from the context, or an empty string." },
          },
        },
      },
    },
  },
  relevance: gradedSchema("the answer addresses the question that was asked"),
  tone: gradedSchema("the reply meets every point of the rubric"),
  policy: {
    type: "object",
    additionalProperties: false,
    required: ["reasoning", "violations", "verdict"],
    properties: {
      reasoning: { type: "string", description: "One or two sentences." },
      violations: { type: "array", items: { type: "string" }, description: "One line per violation: the policy and the offending words." },
      verdict: { type: "string", enum: ["pass", "fail"], description: '"pass" when there are no violations.' },
    },
  },
};

/** The parsed replies (after `normalizeReply`), checked by zod. Extra keys are ignored. */
const Graded = z.object({
  verdict: z.enum(["pass", "fail"]),
  score: z.number().min(0).max(1),
  reasoning: z.string().optional(),
});
const Faithfulness = z.object({
  claims: z.array(z.object({ claim: z.string().min(1), supported: z.boolean(), evidence: z.string().optional() })),
  reasoning: z.string().optional(),
});
const Policy = z.object({
  verdict: z.enum(["pass", "fail"]),
  violations: z.array(z.string()),
  reasoning: z.string().optional(),
});

/** What `runJudge` returns: a `JudgeVerdict` plus the policy judge's violations and parsing notes. */
export interface JudgeOutcome extends JudgeVerdict {
  /** Policy judge: one line per violation. */
  violations?: string[];
  /** How the reply was read when it needed interpreting, e.g. "score 8 read on a 0–10 scale as 0.8". */
  notes?: string[];
}

// ---------------------------------------------------------------------------------------------
// Which judges apply

/**
 * The judges (of `enabled`, in JUDGE_NAMES order) that apply to a case and its output:
 * - correctness: qa with `answer` or `contains`, answered, not `must_abstain` (abstention is scored deterministically);
 * - faithfulness: qa, answered, with context;
 * - relevance: qa, answered;
 * - tone: qa whose `tone` has a `rubric` (answered or not: an abstention's wording matters too);
 * - policy: qa when the case or the suite has `policies` (answered or not).
 * classify and extract cases are never LLM-judged: the deterministic scorers are exact there.
 */
export function applicableJudges(
  c: SuiteCase,
  suite: Pick<Suite, "policies">,
  enabled: readonly JudgeName[],
  ctx: { answered: boolean; hasContext: boolean },
): JudgeName[] {
  if (c.task !== "qa") return [];
  const applies: Record<JudgeName, boolean> = {
    correctness: ctx.answered && c.must_abstain !== true && ((c.answer?.length ?? 0) > 0 || (c.contains?.length ?? 0) > 0),
    faithfulness: ctx.answered && ctx.hasContext,
    relevance: ctx.answered,
    tone: (c.tone?.rubric ?? "").trim() !== "",
    policy: policiesFor(c, suite).length > 0,
  };
  return JUDGE_NAMES.filter((name) => enabled.includes(name) && applies[name]);
}

/**
 * Cases that only a judge can score: their one expectation is a tone `rubric`. Without a judge
 * model they have no scorer at all, so a runner should warn about them (or refuse) rather than
 * count them as passed.
 */
export function judgeOnlyCases(suite: Pick<Suite, "cases">): SuiteCase[] {
  return suite.cases.filter(
    (c) =>
      (c.tone?.rubric ?? "").trim() !== "" &&
      !c.answer?.length &&
      !c.contains?.length &&
      c.regex === undefined &&
      c.must_abstain !== true &&
      c.json_schema === undefined &&
      c.expected_json === undefined &&
      c.label === undefined &&
      !c.forbidden?.length &&
      !c.tone?.must_include?.length &&
      !c.tone?.must_not_include?.length,
  );
}

/** The suite's policies then the case's own, without duplicates. */
export function policiesFor(c: SuiteCase, suite: Pick<Suite, "policies">): string[] {
  return [...new Set([...(suite.policies ?? []), ...(c.policies ?? [])].map((p) => p.trim()).filter((p) => p !== ""))];
}

// ---------------------------------------------------------------------------------------------
// Prompts

/** Placeholders a prompt file may use; each judge's file must use the ones it lists. */
export const PROMPT_PLACEHOLDERS = ["question", "answer", "reference", "context", "rubric", "policies"] as const;
type Placeholder = (typeof PROMPT_PLACEHOLDERS)[number];

const REQUIRED_PLACEHOLDERS: Record<JudgeName, Placeholder[]> = {
  correctness: ["question", "answer", "reference"],
  faithfulness: ["answer", "context"],
  relevance: ["question", "answer"],
  tone: ["answer", "rubric"],
  policy: ["answer", "policies"],
};

const DEFAULT_PROMPT_DIR = fileURLToPath(new URL("./prompts/", import.meta.url));
const promptCache = new Map<string, string>();

/**
 * The prompt template of a judge: `<dir>/<name>.md` minus its leading `<!-- … -->` comment (notes
 * for readers, not sent). Throws when the file is missing or uses an unknown placeholder or lacks
 * a required one, so a broken install or an edited prompt fails before any model call.
 */
export function loadJudgePrompt(name: JudgeName, dir: string = DEFAULT_PROMPT_DIR): string {
  const path = `${dir.replace(/[\\/]+$/, "")}/${name}.md`;
  const cached = promptCache.get(path);
  if (cached !== undefined) return cached;
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `judge prompt file for '${name}' ${code === "ENOENT" ? "is missing" : `cannot be read (${(e as Error).message})`}: ${path} ` +
        `(each judge needs src/evaluate/judges/prompts/<judge>.md; restore it from the repository)`,
    );
  }
  const template = raw.replace(/^\s*<!--[\s\S]*?-->\s*/, "").trim();
  const used = new Set([...template.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].map((m) => m[1]));
  const unknown = [...used].filter((p) => !(PROMPT_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new Error(`judge prompt ${path}: unknown placeholder ${unknown.map((u) => `{{${u}}}`).join(", ")} (known: ${PROMPT_PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")})`);
  }
  const missing = REQUIRED_PLACEHOLDERS[name].filter((p) => !used.has(p));
  if (missing.length > 0) throw new Error(`judge prompt ${path}: the ${name} judge needs ${missing.map((p) => `{{${p}}}`).join(", ")}`);
  promptCache.set(path, template);
  return template;
}

/** Fill placeholders in one pass, so text from the answer or the docs is never expanded again. */
export function renderTemplate(template: string, values: Partial<Record<Placeholder, string>>): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (whole, key: string) => {
    const v = values[key as Placeholder];
    return v === undefined ? "(none)" : v;
  });
}

/** What a judge looks at. `output` is the generator's result as the scorers see it. */
export interface JudgeInput {
  case: SuiteCase;
  suite: Pick<Suite, "policies">;
  output: { text: string; abstained: boolean; citations: Pick<Citation, "chunkId">[] };
  /** The chunks the generator saw, in its order (so its [n] markers line up). */
  context: ContextChunk[];
}

function referenceText(c: SuiteCase): string {
  const parts: string[] = [];
  if (c.answer?.length) {
    parts.push(c.answer.length === 1 ? c.answer[0] : `Any one of these is a correct answer:\n${c.answer.map((a) => `- ${a}`).join("\n")}`);
  }
  if (c.contains?.length) parts.push(`The answer must state all of:\n${c.contains.map((a) => `- ${a}`).join("\n")}`);
  return parts.join("\n\n");
}

const SYSTEM_PROMPT =
  "You are a careful, strict evaluator of a support assistant's replies. Follow the grading instructions exactly. " +
  "Reply with a single JSON object matching the requested shape and nothing else.";

/** The messages a judge sends for one case (system + the rendered prompt file). */
export function judgeMessages(name: JudgeName, input: JudgeInput, promptDir?: string): ChatMessage[] {
  const c = input.case;
  const user = renderTemplate(loadJudgePrompt(name, promptDir), {
    question: c.input,
    answer: input.output.text,
    reference: referenceText(c) || "(no reference answer)",
    context: input.context.length > 0 ? formatContext(input.context) : "(no context)",
    rubric: c.tone?.rubric ?? "",
    policies: policiesFor(c, input.suite)
      .map((p) => `- ${p}`)
      .join("\n"),
  });
  return [
    { role: "system", content: SYSTEM_PROMPT },
    { role: "user", content: user },
  ];
}

// ---------------------------------------------------------------------------------------------
// Reading replies

const PASS_WORDS = new Set(["pass", "passed", "yes", "y", "true", "correct", "supported", "compliant", "relevant", "appropriate", "ok", "acceptable"]);
const FAIL_WORDS = new Set(
  ["fail", "failed", "no", "n", "false", "incorrect", "wrong", "unsupported", "not supported", "violation", "violates", "non-compliant", "noncompliant", "irrelevant", "not relevant", "inappropriate", "unacceptable"],
);

/** "PASS", "Yes", true → true; "fail", "No", false → false; anything else (e.g. "partially") → undefined. */
export function readVerdict(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v !== "string") return undefined;
  const w = v.trim().toLowerCase().replace(/[.!]+$/, "");
  if (PASS_WORDS.has(w)) return true;
  if (FAIL_WORDS.has(w)) return false;
  return undefined;
}

/**
 * A 0..1 score from what judges actually write: 0.8, "0.8", "80%", "8/10"; a number clearly on a
 * 0–10 (1 < s ≤ 10) or 0–100 (10 < s ≤ 100) scale is rescaled and a note says so. Anything else
 * (negative, > 100, not a number) is undefined, which fails validation and triggers a retry.
 */
export function readScore(v: unknown, notes: string[]): number | undefined {
  let n: number;
  let raw = v;
  if (typeof v === "string") {
    const s = v.trim();
    const frac = /^(-?\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(s);
    const pct = /^(-?\d+(?:\.\d+)?)\s*%$/.exec(s);
    if (frac && Number(frac[2]) > 0) {
      const r = Number(frac[1]) / Number(frac[2]);
      if (!(r >= 0 && r <= 1)) return undefined;
      notes.push(`score "${s}" read as ${round(r)}`);
      return r;
    }
    if (pct) {
      const r = Number(pct[1]) / 100;
      if (!(r >= 0 && r <= 1)) return undefined;
      notes.push(`score "${s}" read as ${round(r)}`);
      return r;
    }
    if (!/^-?\d+(?:\.\d+)?$/.test(s)) return undefined;
    raw = s;
    n = Number(s);
  } else if (typeof v === "number") n = v;
  else return undefined;
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (n <= 1) return n;
  if (n <= 10) {
    notes.push(`score ${String(raw)} read on a 0–10 scale as ${round(n / 10)}`);
    return n / 10;
  }
  if (n <= 100) {
    notes.push(`score ${String(raw)} read on a 0–100 scale as ${round(n / 100)}`);
    return n / 100;
  }
  return undefined;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

const lowerKeys = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.trim().toLowerCase(), v]));
const firstDefined = (o: Record<string, unknown>, keys: string[]) => keys.map((k) => getOwn(o, k)).find((v) => v !== undefined);

/**
 * Map the common ways judges deviate from the schema onto it (key case, `reason` for `reasoning`,
 * verdict words, scores as strings or on other scales) so zod only rejects replies that really
 * cannot be read. Values that cannot be interpreted are left as they were, for zod to report.
 */
export function normalizeReply(name: JudgeName, obj: Record<string, unknown>, notes: string[]): Record<string, unknown> {
  const o = lowerKeys(obj);
  const out: Record<string, unknown> = {};
  const reasoning = firstDefined(o, ["reasoning", "reason", "explanation", "rationale"]);
  if (reasoning !== undefined) out.reasoning = reasoning;
  if (name === "faithfulness") {
    const claims = firstDefined(o, ["claims", "statements"]);
    out.claims = Array.isArray(claims)
      ? claims.map((item) => {
          if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
          const it = lowerKeys(item as Record<string, unknown>);
          const supportedRaw = firstDefined(it, ["supported", "is_supported", "verdict"]);
          const supported = readVerdict(supportedRaw);
          const evidence = it.evidence;
          return {
            claim: firstDefined(it, ["claim", "statement", "text"]),
            supported: supported ?? supportedRaw,
            ...(evidence !== undefined && evidence !== null ? { evidence } : {}),
          };
        })
      : claims;
    return out;
  }
  const verdictRaw = firstDefined(o, ["verdict", "pass", "passed", "result"]);
  const verdict = readVerdict(verdictRaw);
  out.verdict = verdict === undefined ? verdictRaw : verdict ? "pass" : "fail";
  if (name === "policy") {
    const v = firstDefined(o, ["violations", "violation"]);
    out.violations = typeof v === "string" ? (v.trim() === "" ? [] : [v]) : v === null ? [] : v;
    return out;
  }
  const scoreRaw = o.score;
  if (scoreRaw === undefined && verdict !== undefined) {
    // A clear verdict without a score is still a verdict; the score follows it.
    notes.push(`no score given; ${verdict ? 1 : 0} taken from the verdict`);
    out.score = verdict ? 1 : 0;
  } else {
    const score = readScore(scoreRaw, notes);
    out.score = score ?? scoreRaw;
  }
  return out;
}

function zodProblem(error: z.ZodError): string {
  return error.issues
    .slice(0, 4)
    .map((i) => `${i.path.length ? i.path.join(".") : "(reply)"}: ${i.message}`)
    .join("; ");
}

/**
 * The JSON object in a reply: `parseJsonObject` (whole text, a fence, the first {…} block), then
 * each later {…} block, for prose like "score {0–1}: {\"verdict\": …}".
 */
export function parseJudgeJson(text: string): Record<string, unknown> | undefined {
  const first = parseJsonObject(text);
  if (first !== undefined) return first;
  for (let i = text.indexOf("{", text.indexOf("{") + 1); i > 0; i = text.indexOf("{", i + 1)) {
    const obj = parseJsonObject(text.slice(i));
    if (obj !== undefined) return obj;
  }
  return undefined;
}

/** Parse one reply into verdict fields, or a problem to retry on. */
function readReply(name: JudgeName, text: string): { ok: true; fields: Partial<JudgeOutcome>; notes: string[] } | { ok: false; problem: string } {
  const obj = parseJudgeJson(text);
  if (obj === undefined) return { ok: false, problem: `reply is not a JSON object: "${snippet(text, 120)}"` };
  const notes: string[] = [];
  const norm = normalizeReply(name, obj, notes);
  if (name === "faithfulness") {
    const r = Faithfulness.safeParse(norm);
    if (!r.success) return { ok: false, problem: `reply does not match the schema: ${zodProblem(r.error)}` };
    const claims = r.data.claims.map((c) => ({ claim: c.claim, supported: c.supported }));
    const supported = claims.filter((c) => c.supported).length;
    // No checkable claims (e.g. a greeting): nothing is unsupported.
    if (claims.length === 0) notes.push("no claims found; nothing unsupported");
    return {
      ok: true,
      notes,
      fields: { pass: supported === claims.length, score: claims.length === 0 ? 1 : supported / claims.length, claims, reasoning: r.data.reasoning },
    };
  }
  if (name === "policy") {
    const r = Policy.safeParse(norm);
    if (!r.success) return { ok: false, problem: `reply does not match the schema: ${zodProblem(r.error)}` };
    const violations = r.data.violations.map((v) => v.trim()).filter((v) => v !== "");
    // A "pass" that lists violations contradicts itself: the listed violations win.
    if (r.data.verdict === "pass" && violations.length > 0) notes.push(`verdict "pass" but ${violations.length} violation(s) listed; counted as fail`);
    const pass = r.data.verdict === "pass" && violations.length === 0;
    return { ok: true, notes, fields: { pass, score: pass ? 1 : 0, violations, reasoning: r.data.reasoning } };
  }
  const r = Graded.safeParse(norm);
  if (!r.success) return { ok: false, problem: `reply does not match the schema: ${zodProblem(r.error)}` };
  return { ok: true, notes, fields: { pass: r.data.verdict === "pass", score: r.data.score, reasoning: r.data.reasoning } };
}

// ---------------------------------------------------------------------------------------------
// Running a judge

export interface RunJudgeOptions {
  /** Judge calls before giving up with judge_error (default 3; at least 1). */
  maxAttempts?: number;
  /** Repeat index under --repeats, passed as `ChatOptions.sample` (cache key only). */
  sample?: number;
  /** Max reply tokens per call (default 1024). */
  maxTokens?: number;
  /** Folder of the prompt files (default: ./prompts next to this module). */
  promptDir?: string;
}

/** A provider error that retrying will not fix (auth, validation) or a cancelled run: it must stop the run. */
function isFatal(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  return (error as { retryable?: unknown }).retryable === false || (error as { name?: unknown }).name === "AbortError";
}

/**
 * Ask one judge about one case. The call is schema-constrained (JUDGE_SCHEMAS) at temperature 0;
 * the reply is parsed leniently (fenced or prose-wrapped JSON, verdict words, score scales) and
 * checked with zod. An unreadable reply is retried with the problem stated back to the judge; a
 * thrown retryable provider error (already retried by the provider) counts as one failed attempt.
 * After `maxAttempts` failures the verdict is `{error: "judge_error", errorDetail}` — never NaN,
 * never a pass. Non-retryable provider errors (`retryable === false`) are rethrown.
 */
export async function runJudge(name: JudgeName, input: JudgeInput, provider: ChatProvider, options: RunJudgeOptions = {}): Promise<JudgeOutcome> {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
  const base = judgeMessages(name, input, options.promptDir);
  let messages = base;
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let model = provider.id;
  let allCached = true;
  let problem = "";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let text: string;
    try {
      const reply = await provider.chat(messages, {
        jsonSchema: { name: `judge_${name}`, schema: JUDGE_SCHEMAS[name] },
        temperature: 0,
        maxTokens: options.maxTokens ?? 1024,
        ...(options.sample !== undefined ? { sample: options.sample } : {}),
      });
      usage.inputTokens += reply.usage.inputTokens;
      usage.outputTokens += reply.usage.outputTokens;
      model = reply.model || model;
      allCached &&= reply.cached === true;
      text = reply.text;
    } catch (error) {
      if (isFatal(error)) throw error;
      allCached = false;
      problem = `provider error: ${(error as Error)?.message ?? String(error)}`;
      messages = base; // nothing to correct: ask the same again
      continue;
    }
    const read = readReply(name, text);
    if (read.ok) {
      const verdict: JudgeOutcome = { judge: name, model, ...read.fields, attempts: attempt, usage, cached: allCached };
      if (verdict.reasoning === undefined || verdict.reasoning === "") delete verdict.reasoning;
      if (read.notes.length > 0) verdict.notes = read.notes;
      return verdict;
    }
    problem = read.problem;
    // Show the judge its unusable reply and why; this also changes the cache key, so a cached bad reply is not replayed.
    messages = [
      ...base,
      { role: "assistant", content: text.slice(0, 4000) },
      { role: "user", content: `That reply could not be used (${problem}). Reply again with only the JSON object in the requested shape.` },
    ];
  }
  return {
    judge: name,
    model,
    error: "judge_error",
    errorDetail: `no usable verdict after ${maxAttempts} attempt${maxAttempts === 1 ? "" : "s"}; last: ${problem}`,
    attempts: maxAttempts,
    usage,
    cached: false,
  };
}

/**
 * The scorer view of a verdict: `judge.<name>` with pass/value/detail; a judge_error (or a verdict
 * without a pass) is `{pass: false, value: 0, error: "judge_error"}` — unknown, not passed.
 */
export function verdictToScore(v: JudgeVerdict): ScoreResult {
  const name = `judge.${v.judge}`;
  if (v.error !== undefined || typeof v.pass !== "boolean") {
    return { name, pass: false, value: 0, error: "judge_error", detail: `judge error: ${v.errorDetail ?? "no verdict"}` };
  }
  const value = typeof v.score === "number" && Number.isFinite(v.score) ? Math.min(1, Math.max(0, v.score)) : v.pass ? 1 : 0;
  const extra = v as JudgeOutcome;
  let detail: string | undefined;
  if (v.judge === "faithfulness" && v.claims) {
    const bad = v.claims.filter((c) => !c.supported);
    detail = `${v.claims.length - bad.length}/${v.claims.length} claims supported` + (bad.length ? `; unsupported: ${bad.map((c) => `"${snippet(c.claim, 80)}"`).join("; ")}` : "");
  } else if (v.judge === "policy" && extra.violations?.length) {
    detail = `violations: ${extra.violations.map((x) => `"${snippet(x, 80)}"`).join("; ")}`;
  } else if (v.reasoning) detail = snippet(v.reasoning, 200);
  if (extra.notes?.length) detail = [detail, `(${extra.notes.join("; ")})`].filter(Boolean).join(" ");
  return detail === undefined ? { name, pass: v.pass, value } : { name, pass: v.pass, value, detail };
}

// ---------------------------------------------------------------------------------------------
// Self-judging

/** The model behind an id, for comparing judge and generator: "openai:gpt-4o", "openai-compatible:azure/gpt-4o" and "ft:gpt-4o:org::x" are all gpt-4o. */
export function modelIdentity(id: string): string {
  let s = id.trim().toLowerCase();
  const kind = /^(openai-compatible|openai|ollama|anthropic):(.*)$/.exec(s);
  if (kind) {
    s = kind[2];
    if (kind[1] === "openai-compatible" && s.includes("/")) s = s.slice(s.indexOf("/") + 1);
  }
  const ft = /^ft:([^:]+)/.exec(s); // OpenAI fine-tunes: ft:<base>:<org>::<id>
  if (ft) s = ft[1];
  return s.replace(/:latest$/, "");
}

/**
 * Refuse to judge with the model under test: a model grading its own answers is measurably
 * lenient on them (self-preference bias), so its verdicts would flatter the very variant being
 * measured. `--allow-self-judge` overrides this (e.g. to try judging before a second model is available).
 */
export function assertNotSelfJudge(judgeId: string, generatorIds: readonly string[], allowSelfJudge: boolean): void {
  if (allowSelfJudge) return;
  const judge = modelIdentity(judgeId);
  const same = generatorIds.filter((g) => g.trim() === judgeId.trim() || modelIdentity(g) === judge);
  if (same.length === 0) return;
  throw new InputError(
    `refusing to judge with the model under test: judge "${judgeId}" is the same model as generator ${same.map((g) => `"${g}"`).join(", ")}. ` +
      `Models grade their own answers leniently (self-preference bias), which would inflate exactly the scores being compared. ` +
      `Set models.judge to a different model, or pass --allow-self-judge to accept the bias (it is recorded with the run).`,
  );
}

// ---------------------------------------------------------------------------------------------
// Agreement with humans

/** Pairs compared, Cohen's kappa (−1..1) and raw agreement (0..1); see significance.ts `cohenKappa`. */
export type Agreement = ReturnType<typeof cohenKappa>;
export { cohenKappa };

/**
 * How well the run's verdicts agree with the suite's `human:` labels: for every result carrying a
 * human label, human pass/fail vs the case's overall verdict (`passed`, judges included). Results
 * where a judge errored are left out (their verdict is unknown). Pass the results of one variant.
 */
export function judgeHumanAgreement(results: readonly CaseResult[]): Agreement {
  const pairs = results
    .filter((r) => r.human !== undefined && !(r.judges ?? []).some((v) => v.error !== undefined))
    .map((r) => ({ a: r.human === "pass", b: r.passed }));
  return cohenKappa(pairs);
}
