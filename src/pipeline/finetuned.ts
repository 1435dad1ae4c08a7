/**
 * The generator behind the `fine-tuned` and `hybrid` variants: the project's promoted models (one
 * per task, from the model registry) on top of the base generator.
 *
 * A fine-tuned model changes some behaviours of a base model and leaves the rest as they were, so
 * per task:
 * - a promoted in-process classifier answers `classify` cases (abstaining below its confidence
 *   threshold = routed to a human);
 * - a promoted memoriser answers `qa` cases it has seen: alone in `fine-tuned` (no context, no
 *   citations), and in `hybrid` only when the reader, given the retrieved context, abstains —
 *   retrieval first, memorised knowledge as the fallback;
 * - a promoted model served through a generator id (a fine-tuned API model, a LoRA adapter) answers
 *   the tasks it was trained for like any LLM generator, with the variant's context;
 * - every other task goes to the base generator, unchanged.
 * Each result names the model that produced it (e.g. `classifier:m-20261121-…`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { GenerateRequest, GenerateResult, Generator } from "../models/index.ts";
import { FALLBACK_MESSAGE } from "../models/index.ts";
import type { ModelRecord, TrainingTask } from "../finetune/index.ts";
import { NearestExampleMemoriser } from "../finetune/memoriser.ts";
import { MEMORISER_FILE } from "../finetune/trainers/memoriser.ts";
import { EncodedClassifier } from "../finetune/classifier/encoded.ts";
import { countTokens } from "../models/tokens.ts";

type Predictor =
  | { kind: "classifier"; record: ModelRecord; model: EncodedClassifier }
  | { kind: "memoriser"; record: ModelRecord; model: NearestExampleMemoriser }
  | { kind: "generator"; record: ModelRecord; generator: Generator };

/** Loaded promoted models by task. */
export type FineTunedModels = Partial<Record<TrainingTask, Predictor>>;

/**
 * Load the promoted models. `makeGenerator` builds a generator for records served by id
 * (fine-tuned API models, adapters). Throws with the model id and path when an artifact is missing.
 */
export function loadFineTunedModels(records: readonly ModelRecord[], makeGenerator: (id: string) => Generator, root = process.cwd()): FineTunedModels {
  const out: FineTunedModels = {};
  for (const stored of records) {
    // Artifacts are recorded relative to the project folder, so a moved project still finds them.
    const record = { ...stored, artifact: resolve(root, stored.artifact) };
    if (record.generatorId) {
      out[record.task] = { kind: "generator", record, generator: makeGenerator(record.generatorId) };
    } else if (record.trainer === "classifier") {
      if (!existsSync(record.artifact)) throw new Error(`model ${record.id}: artifact ${record.artifact} is missing (retrain, or roll back with \`ragtune models rollback --task ${record.task}\`)`);
      out[record.task] = { kind: "classifier", record, model: EncodedClassifier.load(record.artifact) };
    } else if (record.trainer === "memoriser") {
      const file = join(record.artifact, MEMORISER_FILE);
      if (!existsSync(file)) throw new Error(`model ${record.id}: artifact ${file} is missing (retrain, or roll back with \`ragtune models rollback --task ${record.task}\`)`);
      out[record.task] = { kind: "memoriser", record, model: NearestExampleMemoriser.fromJSON(JSON.parse(readFileSync(file, "utf8")), file) };
    } else {
      throw new Error(`model ${record.id}: trainer '${record.trainer}' produced no generator id and no in-process artifact ragtune can serve`);
    }
  }
  return out;
}

/** What the fine-tuned variants will use, in words (summary and report). */
export function describeFineTuned(models: FineTunedModels): string {
  const parts = Object.entries(models).map(([task, p]) => `${task}: ${p!.kind} ${p!.record.id}${p!.kind === "generator" ? ` (${p!.record.generatorId})` : ""}`);
  return parts.length ? parts.join("; ") : "no promoted model";
}

export class FineTunedGenerator implements Generator {
  readonly id: string;

  constructor(
    private readonly base: Generator,
    private readonly models: FineTunedModels,
    private readonly mode: "fine-tuned" | "hybrid",
    private readonly fallbackMessage: string = FALLBACK_MESSAGE,
  ) {
    const ids = Object.values(models).map((p) => `${p!.kind}:${p!.record.id}`);
    this.id = `finetuned(${ids.join(",")}; base ${base.id})`;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const p = this.models[request.task];
    if (!p) return this.base.generate(request);
    const usage = { inputTokens: countTokens(request.input), outputTokens: 0 };
    if (p.kind === "generator") return p.generator.generate(request);

    if (p.kind === "classifier") {
      // Embeds the input first when the model was trained with an encoder (settings.encoder).
      const prediction = await p.model.predict(request.input);
      const generator = `classifier:${p.record.id}`;
      if (prediction.abstained) {
        return { text: this.fallbackMessage, citations: [], abstained: true, confidence: prediction.confidence, usage, generator };
      }
      return { text: prediction.label, label: prediction.label, citations: [], abstained: false, confidence: prediction.confidence, usage: { ...usage, outputTokens: 1 }, generator };
    }

    // memoriser (qa)
    const generator = `memoriser:${p.record.id}`;
    if (this.mode === "hybrid" && request.context.length > 0) {
      const read = await this.base.generate(request);
      if (!read.abstained) return read;
      const hit = p.model.answer(request.input);
      if (!hit) return read;
      return { text: hit.answer, citations: [], abstained: false, confidence: hit.similarity, usage: { inputTokens: read.usage.inputTokens, outputTokens: countTokens(hit.answer) }, generator };
    }
    const hit = p.model.answer(request.input);
    if (!hit) return { text: this.fallbackMessage, citations: [], abstained: true, confidence: p.model.nearest(request.input)?.similarity ?? 0, usage, generator };
    return { text: hit.answer, citations: [], abstained: false, confidence: hit.similarity, usage: { ...usage, outputTokens: countTokens(hit.answer) }, generator };
  }
}
