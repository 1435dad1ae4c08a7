/**
 * finetune/ — from failures and labelled data to a trained, regression-tested, versioned model.
 *
 *   dataset/   build (eval runs, labelled CSV/JSONL) → clean (normalise, dedupe, near-dupes,
 *              conflicts, PII, length) → stratified split → data card → exports (OpenAI chat,
 *              ShareGPT, Alpaca, Axolotl config), validated
 *   trainers/  one `Trainer` interface: in-process text classifier, in-process nearest-example
 *              memoriser (QA), OpenAI-compatible fine-tuning API, user command (Axolotl, Unsloth…)
 *   registry   models in the store: list / show / promote (paired-test gate) / rollback
 *   baseline   the offline prompt baseline for classification (label descriptions + nearest examples)
 *
 * The eval variants `fine-tuned` and `hybrid` resolve the promoted model of each task (see
 * pipeline/finetuned.ts); tasks without a trained model fall back to the base generator.
 */

/** Task a training example teaches. */
export type TrainingTask = "classify" | "qa" | "extract";

/** One example, wherever it came from. */
export interface TrainingExample {
  /** Stable id (source-derived), unique within a dataset. */
  id: string;
  task: TrainingTask;
  /** The user text: a ticket, a question, a document to extract from. */
  input: string;
  /** The expected output: a label (classify), an answer (qa), a JSON string (extract). */
  output: string;
  /** Where it came from, for errors and review: `file:line` or `runs/<id>#<case>`. */
  source: string;
  /** Optional system prompt / instruction for chat exports. */
  system?: string;
}

export interface DatasetSplits {
  train: TrainingExample[];
  validation: TrainingExample[];
  test: TrainingExample[];
}

/** What a trainer produced. */
export interface TrainedArtifact {
  /** Trainer kind, e.g. "classifier", "memoriser", "openai", "command". */
  trainer: string;
  task: TrainingTask;
  /**
   * Where the model lives: a folder/file path (in-process artifacts, adapters) or a provider model
   * id (e.g. `openai:ft:gpt-4.1-mini:acme::abc123`).
   */
  artifact: string;
  /** Base model the artifact builds on (`none` for in-process models trained from scratch). */
  baseModel: string;
  /** Metrics on the validation split (and test split when the trainer evaluates it). */
  metrics: Record<string, number>;
  /** Trainer settings actually used (recorded with the model). */
  config: Record<string, unknown>;
  /**
   * For models served through a generator id (fine-tuned API models, LoRA adapters): the id the
   * fine-tuned variant uses, e.g. `openai:ft:…` or `llamacpp:base.gguf?lora=adapter.gguf`.
   */
  generatorId?: string;
}

/** Progress events a trainer may emit (streamed to the terminal by the CLI). */
export type TrainerEvent =
  | { type: "log"; message: string }
  | { type: "metric"; name: string; value: number; step?: number }
  | { type: "status"; status: string };

export interface TrainOptions {
  /** Folder where the trainer writes its artifact (created by the caller). */
  outDir: string;
  /** Trainer-specific settings. */
  settings?: Record<string, unknown>;
  onEvent?: (event: TrainerEvent) => void;
  signal?: AbortSignal;
}

/** Adding a trainer means one file implementing this. */
export interface Trainer {
  readonly kind: string;
  /** Tasks it can learn. */
  readonly tasks: readonly TrainingTask[];
  train(data: Pick<DatasetSplits, "train" | "validation">, options: TrainOptions): Promise<TrainedArtifact>;
}

/** A model in the registry: the trainer's artifact plus its identity, data and promotion state. */
export interface ModelRecord extends TrainedArtifact {
  /** e.g. `m-20261121-171200-3f2a`. */
  id: string;
  /** Content hash of the training data (train + validation splits). */
  datasetHash: string;
  /** The model promoted when this one was trained (what it must beat). */
  parent?: string;
  createdAt: string;
  status: "candidate" | "promoted" | "retired";
  promotedAt?: string;
  /** Promotion that bypassed the gate: who/why, recorded. */
  forced?: { reason: string; at: string };
  /** The gate's numbers at promotion (or refusal). */
  gate?: GateReport;
}

/** The promotion gate's evidence: the candidate vs each reference on the same held-out cases. */
export interface GateReport {
  passed: boolean;
  /** Held-out examples compared. */
  n: number;
  comparisons: {
    against: string;
    candidateAccuracy: number;
    referenceAccuracy: number;
    /** Exact McNemar on paired correctness. */
    pValue: number;
    onlyCandidate: number;
    onlyReference: number;
    better: boolean;
  }[];
  reason: string;
}
