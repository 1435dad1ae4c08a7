/**
 * Trainer for the in-process text classifier (../classifier/model.ts): learns `classify` examples
 * (input → output label), writes `model.json` + `weights.bin` into `options.outDir`, and reports
 * accuracy and macro-F1 on the validation split.
 *
 * `settings` are `ClassifierOptions` (e.g. `{ c: 1, wordNgrams: 3, abstainBelow: 0.4 }`) plus
 * `seed`; unknown keys and wrong types are errors, so a typo never trains a silently different model.
 * `encoder: use-lite` adds the sentence embedding to the features (opt-in; classifier/encoded.ts):
 * the examples are embedded here, before training.
 */
import { DEFAULT_CLASSIFIER_OPTIONS, TextClassifier, type ClassifierOptions, type LabelledText } from "../classifier/model.ts";
import type { DatasetSplits, TrainedArtifact, Trainer, TrainingExample, TrainOptions } from "../index.ts";
import { hasOwn } from "../../util/own.ts";
import type { Embedder } from "../../models/index.ts";
import { checkEncoderId, createEncoder, embedLabelled } from "../classifier/encoded.ts";

export class ClassifierTrainer implements Trainer {
  readonly kind = "classifier";
  readonly tasks = ["classify"] as const;

  /** `encoderFor` builds the embedder of `settings.encoder` (default: createEncoder; tests pass a stub). */
  constructor(private readonly encoderFor: (id: string) => Embedder | undefined = createEncoder) {}

  async train(data: Pick<DatasetSplits, "train" | "validation">, options: TrainOptions): Promise<TrainedArtifact> {
    const toLabelled = (xs: TrainingExample[]): LabelledText[] => xs.filter((x) => x.task === "classify").map((x) => ({ text: x.input, label: x.output.trim() }));
    let train = toLabelled(data.train);
    let validation = toLabelled(data.validation);
    if (train.length === 0) throw new Error("classifier: no classify examples to learn (the training split has none)");
    for (const x of data.train) {
      if (x.task === "classify" && x.output.trim() === "") throw new Error(`classifier: ${x.source}: empty label`);
    }
    const { seed, ...classifierOptions } = parseSettings(options.settings ?? {});
    if (options.signal?.aborted) throw new Error("classifier: training aborted");
    options.onEvent?.({ type: "status", status: "training" });
    const started = performance.now();
    const encoder = classifierOptions.encoder && classifierOptions.encoder !== "none" ? this.encoderFor(classifierOptions.encoder) : undefined;
    if (encoder) {
      options.onEvent?.({ type: "log", message: `embedding ${train.length + validation.length} examples with ${classifierOptions.encoder}` });
      train = await embedLabelled(encoder, train);
      if (validation.length > 0) validation = await embedLabelled(encoder, validation);
    }
    const model = TextClassifier.train(train, {
      ...classifierOptions,
      validation: validation.length > 0 ? validation : undefined,
      seed,
      onEvent: (e) => options.onEvent?.(e),
    });
    const trainMs = Math.round(performance.now() - started);
    if (options.signal?.aborted) throw new Error("classifier: training aborted");
    model.save(options.outDir);

    const metrics: Record<string, number> = { examples: train.length, labels: model.labels.length, trainMs, temperature: model.temperature };
    if (validation.length > 0) {
      const ev = model.evaluate(validation);
      metrics.validationAccuracy = ev.accuracy;
      metrics.validationMacroF1 = ev.macroF1;
      metrics.validationExamples = validation.length;
      options.onEvent?.({ type: "metric", name: "validationAccuracy", value: ev.accuracy });
      options.onEvent?.({ type: "metric", name: "validationMacroF1", value: ev.macroF1 });
    } else if (model.metrics.validationAccuracy !== undefined) {
      // No validation split given: the number from the classifier's own held-out calibration split.
      metrics.heldOutAccuracy = model.metrics.validationAccuracy;
    }
    options.onEvent?.({ type: "status", status: "done" });
    return {
      trainer: this.kind,
      task: "classify",
      artifact: options.outDir,
      baseModel: "none",
      metrics,
      config: { ...model.options, seed: seed ?? 1, labels: [...model.labels] },
    };
  }
}

/** Validate trainer settings against the classifier's options (same names, same types). */
export function parseSettings(settings: Record<string, unknown>): ClassifierOptions & { seed?: number } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (key === "seed") {
      if (typeof value !== "number" || !Number.isInteger(value)) throw new Error(`classifier settings: seed must be an integer, got ${JSON.stringify(value)}`);
      out.seed = value;
      continue;
    }
    if (key === "encoder") {
      if (typeof value !== "string") throw new Error(`classifier settings: encoder must be a string, got ${JSON.stringify(value)}`);
      checkEncoderId(value);
      out.encoder = value;
      continue;
    }
    if (!hasOwn(DEFAULT_CLASSIFIER_OPTIONS, key))
      throw new Error(`classifier settings: unknown setting '${key}' (known: ${[...Object.keys(DEFAULT_CLASSIFIER_OPTIONS), "seed"].join(", ")})`);
    const def = DEFAULT_CLASSIFIER_OPTIONS[key as keyof ClassifierOptions];
    if (key === "charNgrams") {
      const ok = value === null || (Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v) && v >= 1) && value[0] <= value[1]);
      if (!ok) throw new Error(`classifier settings: charNgrams must be [min, max] (1 ≤ min ≤ max) or null, got ${JSON.stringify(value)}`);
    } else if (typeof value !== typeof def || (typeof value === "number" && !Number.isFinite(value))) {
      throw new Error(`classifier settings: ${key} must be a ${typeof def}, got ${JSON.stringify(value)}`);
    }
    out[key] = value;
  }
  return out as ClassifierOptions & { seed?: number };
}
