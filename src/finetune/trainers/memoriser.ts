/**
 * Trainer for the nearest-example memoriser (see ../memoriser.ts): "training" stores the pairs.
 * Validation reports what fine-tuning-for-knowledge buys: coverage (share of held-out questions it
 * answers at all) and accuracy on those (answer matches the expected one, normalised containment).
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../util/fs.ts";
import { normalizeText } from "../../evaluate/normalize.ts";
import type { TrainedArtifact, Trainer, TrainingExample, TrainOptions, DatasetSplits } from "../index.ts";
import { NearestExampleMemoriser } from "../memoriser.ts";

export const MEMORISER_FILE = "memoriser.json";

/** Expected-answer match used for memoriser validation: normalised equality or containment. */
export function answerMatches(predicted: string, expected: string): boolean {
  const p = normalizeText(predicted);
  const e = normalizeText(expected);
  return e !== "" && (p === e || p.includes(e) || (p !== "" && e.includes(p)));
}

export class MemoriserTrainer implements Trainer {
  readonly kind = "memoriser";
  readonly tasks = ["qa"] as const;

  async train(data: Pick<DatasetSplits, "train" | "validation">, options: TrainOptions): Promise<TrainedArtifact> {
    const qa = (xs: TrainingExample[]) => xs.filter((x) => x.task === "qa");
    const train = qa(data.train);
    if (train.length === 0) throw new Error("memoriser: no qa examples to learn (the training split has none)");
    const threshold = typeof options.settings?.threshold === "number" ? options.settings.threshold : undefined;
    const started = performance.now();
    const model = new NearestExampleMemoriser(train, { threshold });
    const trainMs = performance.now() - started;
    const validation = qa(data.validation);
    let answered = 0;
    let correct = 0;
    for (const v of validation) {
      const hit = model.answer(v.input);
      if (!hit) continue;
      answered++;
      if (answerMatches(hit.answer, v.output)) correct++;
    }
    options.onEvent?.({ type: "log", message: `memorised ${train.length} question/answer pairs (threshold ${model.threshold})` });
    writeFileAtomic(join(options.outDir, MEMORISER_FILE), JSON.stringify(model.toJSON()) + "\n");
    const metrics: Record<string, number> = { examples: train.length, trainMs };
    if (validation.length > 0) {
      metrics.validationCoverage = answered / validation.length;
      metrics.validationAccuracy = correct / validation.length;
    }
    return {
      trainer: this.kind,
      task: "qa",
      artifact: options.outDir,
      baseModel: "none",
      metrics,
      config: { threshold: model.threshold },
    };
  }
}
