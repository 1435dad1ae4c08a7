/**
 * finetune/dataset — from eval failures, labelled files and corrected logs to a clean, split,
 * documented and exported training set:
 *
 *   sources → clean (steps) → decontaminate → split → card → files + exports
 *
 * `buildDataset` does the work in memory; `writeDataset` writes a folder:
 *   train.jsonl validation.jsonl test.jsonl   TrainingExample per line
 *   card.md card.json                         the data card
 *   report.json                               sources, steps, conflicts, notes
 *   <format>.<split>.jsonl, axolotl.yaml      the chosen exports (validated before writing)
 * Format and defaults: docs/datasets.md.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { DatasetSplits, TrainingExample, TrainingTask } from "../index.ts";
import { InputError } from "../../util/errors.ts";
import { writeFileAtomic } from "../../util/fs.ts";
import { cleanExamples, decontaminate, type CleanOptions, type Conflict, type NearDupOptions, type StepReport } from "./clean.ts";
import { embedForSemanticDup, semanticDecontaminate } from "./semantic-dup.ts";
import type { Embedder } from "../../models/index.ts";
import { splitDataset, type SplitOptions } from "./split.ts";
import { buildCard, renderCardMarkdown, type CardOptions, type DataCard } from "./card.ts";
import { planExports, type AxolotlOptions, type ExportFormat, type ExportOptions } from "./export.ts";
import { dedupeById, examplesFromRun, readLabelledFile, readServedLog, type LabelledFileOptions, type RunSourceOptions, type SkippedSource } from "./sources.ts";

export * from "./sources.ts";
export * from "./clean.ts";
export * from "./semantic-dup.ts";
export * from "./split.ts";
export * from "./card.ts";
export * from "./export.ts";

export interface BuildOptions {
  /** Dataset name (default: the task when there is one, else "mixed"). */
  name?: string;
  /** Run folders to collect failures from. */
  runs?: string[];
  /** Options for every run (include passed cases, variants). */
  run?: RunSourceOptions;
  /** Labelled CSV / JSONL files. */
  files?: ({ path: string } & LabelledFileOptions)[];
  /** Served logs with corrections. */
  logs?: { path: string; task?: TrainingTask; correctedOnly?: boolean }[];
  /** Examples given directly (after the sources above). */
  examples?: TrainingExample[];
  clean?: CleanOptions;
  /**
   * Eval inputs the training set must not contain (normally the project's suite inputs);
   * `undefined`/`false` skips the step. Uses the near-duplicate settings of `clean.nearDup`, and
   * also drops semantic near copies when `clean.semanticDup` has `evalVectors` for these inputs.
   */
  decontaminate?: { inputs: string[]; label?: string } | false;
  split?: SplitOptions;
  card?: Omit<CardOptions, "name">;
}

export interface SourceSummary {
  kind: "run" | "file" | "log" | "given";
  path: string;
  examples: number;
  skipped: SkippedSource[];
}

export interface DatasetBuild {
  name: string;
  /** Every example kept (all splits), in source order. */
  examples: TrainingExample[];
  sources: SourceSummary[];
  steps: StepReport[];
  conflicts: Conflict[];
  splits: DatasetSplits;
  card: DataCard;
  /** sha256 of the canonical train + validation examples (what a model is trained on). */
  hash: string;
  /** Things a user should know (e.g. run examples removed as copies of the eval suite). */
  notes: string[];
}

/** The examples of every source (deduplicated by id), before cleaning. */
export function collectExamples(options: BuildOptions): { sources: SourceSummary[]; examples: TrainingExample[] } {
  const sources: SourceSummary[] = [];
  let collected: TrainingExample[] = [];
  for (const dir of options.runs ?? []) {
    const r = examplesFromRun(dir, options.run);
    sources.push({ kind: "run", path: dir, examples: r.examples.length, skipped: r.skipped });
    collected.push(...r.examples);
  }
  for (const f of options.files ?? []) {
    const ex = readLabelledFile(f.path, f);
    sources.push({ kind: "file", path: f.path, examples: ex.length, skipped: [] });
    collected.push(...ex);
  }
  for (const l of options.logs ?? []) {
    const r = readServedLog(l.path, { task: l.task, correctedOnly: l.correctedOnly });
    sources.push({ kind: "log", path: l.path, examples: r.examples.length, skipped: r.skipped });
    collected.push(...r.examples);
  }
  if (options.examples?.length) {
    sources.push({ kind: "given", path: "(given)", examples: options.examples.length, skipped: [] });
    collected.push(...options.examples);
  }
  collected = dedupeById(collected);
  if (collected.length === 0) {
    throw new InputError("no training examples: give eval runs with failed cases (--run), labelled files (--file) or served logs (--logs)");
  }
  return { sources, examples: collected };
}

export function buildDataset(options: BuildOptions): DatasetBuild {
  return buildFromCollected(collectExamples(options), options);
}

/**
 * `buildDataset` with the semantic near-duplicate steps (semantic-dup.ts): the collected inputs and
 * the eval inputs are embedded by `embedder` first, then cleaning removes semantic near copies
 * (cosine ≥ threshold, same output) after the Jaccard step, and decontamination drops training
 * inputs that are semantic near copies of an eval input. Opt-in: docs/datasets.md has the numbers.
 */
export async function buildDatasetSemantic(options: BuildOptions, embedder: Embedder, threshold?: number): Promise<DatasetBuild> {
  const collected = collectExamples(options);
  const embedded = await embedForSemanticDup(embedder, collected.examples, options.decontaminate ? options.decontaminate.inputs : []);
  return buildFromCollected(collected, { ...options, clean: { ...options.clean, semanticDup: { ...embedded, threshold } } });
}

function buildFromCollected({ sources, examples: collected }: { sources: SourceSummary[]; examples: TrainingExample[] }, options: BuildOptions): DatasetBuild {
  const cleaned = cleanExamples(collected, options.clean);
  const steps = [...cleaned.steps];
  let examples = cleaned.examples;
  const notes: string[] = [];
  if (options.decontaminate) {
    const near: NearDupOptions = options.clean?.nearDup || {};
    const d = decontaminate(examples, options.decontaminate.inputs, near);
    if (options.decontaminate.label) d.report.settings = { ...d.report.settings, against: options.decontaminate.label };
    steps.push(d.report);
    const semantic = options.clean?.semanticDup;
    if (semantic?.evalVectors) {
      const s = semanticDecontaminate(d.examples, options.decontaminate.inputs, semantic);
      if (options.decontaminate.label) s.report.settings = { ...s.report.settings, against: options.decontaminate.label };
      steps.push(s.report);
      d.examples = s.examples;
    }
    const fromRuns = examples.filter((e) => e.source.startsWith("runs/")).length - d.examples.filter((e) => e.source.startsWith("runs/")).length;
    if (fromRuns > 0) {
      notes.push(
        `${fromRuns} example(s) from eval runs were removed because they are cases of the eval suite: training on them would let the fine-tuned variant be scored on its own training data. ` +
          "Use runs of a separate training suite, or decontaminate against another suite.",
      );
    }
    examples = d.examples;
  }
  if (examples.length === 0) throw new InputError("every example was removed by cleaning — see the step report");

  const split = splitDataset(examples, options.split);
  notes.push(...split.notes);
  const splits: DatasetSplits = { train: split.train, validation: split.validation, test: split.test };
  const tasks = new Set(examples.map((e) => e.task));
  const name = options.name ?? (tasks.size === 1 ? [...tasks][0] : "mixed");
  const hash = datasetHash(splits);
  const card = buildCard(splits, { ...options.card, name });
  card.hash = hash;
  return { name, examples, sources, steps, conflicts: cleaned.conflicts, splits, card, hash, notes };
}

/** The canonical form of an example for hashing: content only, fixed key order. */
function canonical(e: TrainingExample): string {
  return JSON.stringify([e.task, e.system ?? null, e.input, e.output]);
}

/**
 * sha256 of the train and validation examples (content: task, system, input, output), each split
 * sorted, so the hash names the training data regardless of ids, sources and order.
 */
export function datasetHash(splits: Pick<DatasetSplits, "train" | "validation">): string {
  const h = createHash("sha256");
  for (const split of ["train", "validation"] as const) {
    h.update(`${split}\n`);
    for (const line of splits[split].map(canonical).sort()) h.update(line + "\n");
  }
  return h.digest("hex");
}

export function toJsonl(examples: TrainingExample[]): string {
  return examples
    .map((e) => JSON.stringify(e.system !== undefined ? { id: e.id, task: e.task, input: e.input, output: e.output, source: e.source, system: e.system } : { id: e.id, task: e.task, input: e.input, output: e.output, source: e.source }))
    .join("\n") + (examples.length ? "\n" : "");
}

/**
 * Write the dataset folder. Exports are built and validated first, so a validation error leaves
 * the folder as it was; each file is written atomically. Returns the paths written.
 */
export function writeDataset(
  dir: string,
  result: DatasetBuild,
  formats: ExportFormat[] = [],
  exportOptions: ExportOptions & { axolotl?: AxolotlOptions } = {},
): string[] {
  const plan = planExports(result.splits, formats, exportOptions);
  const files = new Map<string, string>();
  files.set("train.jsonl", toJsonl(result.splits.train));
  files.set("validation.jsonl", toJsonl(result.splits.validation));
  files.set("test.jsonl", toJsonl(result.splits.test));
  files.set("card.md", renderCardMarkdown(result.card));
  files.set("card.json", JSON.stringify(result.card, null, 2) + "\n");
  files.set(
    "report.json",
    JSON.stringify({ name: result.name, hash: result.hash, sources: result.sources, steps: result.steps, conflicts: result.conflicts, notes: result.notes, exports: formats }, null, 2) + "\n",
  );
  for (const [name, content] of plan.files) files.set(name, content);
  const written: string[] = [];
  for (const [name, content] of files) {
    writeFileAtomic(join(dir, name), content);
    written.push(join(dir, name));
  }
  return written;
}
