/**
 * The fine-tuning loop for one task, as `ragtune finetune train` and the demo run it:
 *
 *   build the dataset (sources → clean → decontaminate against the eval suite → split → card)
 *   → train on train + validation → predict the held-out test split with the candidate, the
 *   prompt baseline and the currently promoted model → promotion gate (paired McNemar)
 *   → register the model (with its gate) → promote it when the gate passes (or when forced).
 *
 * The held-out test split is 20% of the data by default (not 10%: see the split comment below). The prompt baseline is what the framework asks fine-tuning to beat: for classification the
 * offline few-shot baseline (nearest labelled examples, ./baseline.ts) or, with an LLM generator,
 * that generator prompted with the label descriptions; for QA the project's generator with no
 * context (prompt-only).
 */
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { randomBytes } from "node:crypto";
import type { Project } from "../pipeline/project.ts";
import { DEFAULT_SYSTEM_PROMPT } from "../pipeline/index.ts";
import type { GateReport, ModelRecord, TrainedArtifact, Trainer, TrainerEvent, TrainingExample, TrainingTask } from "./index.ts";
import { buildDataset, type BuildOptions, type DatasetBuild } from "./dataset/index.ts";
import { loadSuite } from "../evaluate/suite.ts";
import { ClassifierTrainer } from "./trainers/classifier.ts";
import { MemoriserTrainer, answerMatches } from "./trainers/memoriser.ts";
import { FEW_SHOT_K, fewShotEmbedded, promptBaseline } from "./baseline.ts";
import { createEncoder, embedLabelled } from "./classifier/encoded.ts";
import { promotionGate, exactMatch } from "./gate.ts";
import { openModelRegistry } from "./open-registry.ts";
import { FineTunedGenerator, loadFineTunedModels } from "../pipeline/finetuned.ts";
import type { Generator } from "../models/index.ts";
import { InputError } from "../util/errors.ts";

export type TrainerName = "classifier" | "memoriser" | "openai" | "command";

export interface TrainRequest {
  task: TrainingTask;
  /** Default: classifier for classify, memoriser for qa. */
  trainer?: TrainerName;
  /** Where the examples come from, and cleaning/split settings (see dataset/index.ts). */
  dataset: Omit<BuildOptions, "decontaminate">;
  /** Drop training examples that duplicate eval suite inputs (default true). */
  decontaminate?: boolean;
  /** Trainer settings (recorded with the model). */
  settings?: Record<string, unknown>;
  /** A trainer instance for `openai` / `command` (built by the CLI from its flags). */
  trainerInstance?: Trainer;
  /** "gate" (default): promote when the gate passes; "never": register only; "force": promote regardless (reason required). */
  promote?: "gate" | "never" | "force";
  forceReason?: string;
  onEvent?: (event: TrainerEvent) => void;
}

export interface TrainOutcome {
  build: DatasetBuild;
  artifact: TrainedArtifact;
  record: ModelRecord;
  gate: GateReport;
  promoted: boolean;
  baselineName: string;
}

function defaultTrainer(task: TrainingTask): TrainerName {
  if (task === "classify") return "classifier";
  if (task === "qa") return "memoriser";
  throw new InputError(`no in-process trainer learns '${task}' tasks; use --trainer openai or --trainer command`);
}

function trainerFor(name: TrainerName, request: TrainRequest): Trainer {
  if (name === "classifier") return new ClassifierTrainer();
  if (name === "memoriser") return new MemoriserTrainer();
  if (!request.trainerInstance) throw new InputError(`trainer '${name}' needs its settings (see \`ragtune finetune train --help\`)`);
  return request.trainerInstance;
}

/** Predictions of a generator (baseline or served fine-tuned model) on held-out examples. */
async function generatorPredictions(generator: Generator, examples: TrainingExample[], labels: { name: string; description?: string }[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of examples) {
    const r = await generator.generate({ task: e.task, input: e.input, context: [], labels: e.task === "classify" ? labels : undefined, system: DEFAULT_SYSTEM_PROMPT });
    out.push(r.abstained ? "" : e.task === "classify" ? (r.label ?? "") : r.text);
  }
  return out;
}

/** A `finetune.datasets` entry of ragtune.yaml. */
export type DeclaredDataset = Project["config"]["finetune"]["datasets"][number];

/** The train request for a declared dataset (the demo and the pilot train these as `finetune train` does). */
export function declaredDatasetRequest(project: Project, d: DeclaredDataset, promote: NonNullable<TrainRequest["promote"]>, forceReason?: string): TrainRequest {
  return {
    task: d.task,
    trainer: d.trainer,
    settings: d.settings,
    dataset: { name: d.task, files: [{ path: join(project.root, d.file), task: d.task, inputField: d.inputField, outputField: d.outputField, displayName: d.file }] },
    decontaminate: project.config.finetune.decontaminate,
    promote,
    ...(forceReason ? { forceReason } : {}),
  };
}

export async function trainAndRegister(project: Project, request: TrainRequest): Promise<TrainOutcome> {
  const { config, root } = project;
  const task = request.task;
  const trainerName = request.trainer ?? defaultTrainer(task);
  const trainer = trainerFor(trainerName, request);
  if (!trainer.tasks.includes(task)) throw new InputError(`trainer '${trainerName}' cannot learn '${task}' tasks (it learns ${trainer.tasks.join(", ")})`);
  if (request.promote === "force" && !request.forceReason?.trim()) throw new InputError("a forced promotion needs a reason (--reason)");

  // 1. dataset, decontaminated against the eval suite so the fine-tuned variant never sees its test.
  const suitePath = resolve(root, config.suite);
  let suiteInputs: string[] = [];
  let labels: { name: string; description?: string }[] = [];
  try {
    const suite = loadSuite(suitePath);
    suiteInputs = suite.cases.map((c) => c.input);
    labels = suite.labels;
  } catch (error) {
    if (request.decontaminate !== false) throw error;
  }
  const build = buildDataset({
    ...request.dataset,
    // The gate's held-out set is the test split: 20% (not the exporter's 10%) so a paired test on a
    // few hundred labelled examples has the power to tell a real gain from noise.
    split: request.dataset.split ?? { ratios: [70, 10, 20] },
    decontaminate: request.decontaminate === false ? false : { inputs: suiteInputs, label: config.suite },
  });
  const { train, validation, test } = build.splits;
  const ofTask = (xs: TrainingExample[]) => xs.filter((x) => x.task === task);
  if (ofTask(train).length === 0) throw new InputError(`no '${task}' examples left to train on after cleaning (see the dataset steps)`);
  const held = ofTask(test).length > 0 ? ofTask(test) : ofTask(validation);
  if (held.length === 0) throw new InputError(`no held-out '${task}' examples to gate the model on: add examples (the split needs at least a few per label)`);

  // 2. train into a fresh folder under <storeDir>/models/.
  const modelsDir = resolve(root, config.storeDir, "models");
  const dirName = `${task}-${trainerName}-${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(2).toString("hex")}`;
  const tmpDir = join(modelsDir, `.tmp-${dirName}`);
  mkdirSync(tmpDir, { recursive: true });
  let artifact: TrainedArtifact;
  try {
    artifact = await trainer.train({ train: ofTask(train), validation: ofTask(validation) }, { outDir: tmpDir, settings: request.settings, onEvent: request.onEvent });
  } catch (error) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw error;
  }
  // A finished artifact appears under its final name at once (a crash leaves only a .tmp- folder).
  const finalDir = join(modelsDir, dirName);
  renameSync(tmpDir, finalDir);
  artifact = relocateArtifact(artifact, tmpDir, finalDir, root);

  // 3. held-out predictions: candidate, prompt baseline, promoted model.
  const truth = held.map((e) => e.output);
  const candidateRecord: ModelRecord = { ...artifact, id: "candidate", datasetHash: build.hash, createdAt: new Date().toISOString(), status: "candidate" };
  const base = project.generator();
  const predictWith = async (record: ModelRecord): Promise<string[]> => {
    const models = loadFineTunedModels([record], (id) => project.generatorFor(id), root);
    const ft = new FineTunedGenerator(base, models, "fine-tuned");
    return generatorPredictions(ft, held, labels);
  };
  const candidate = await predictWith(candidateRecord);
  let baselineName: string;
  let baseline: string[];
  const encoderId = typeof request.settings?.encoder === "string" && request.settings.encoder !== "none" ? request.settings.encoder : undefined;
  if (task === "classify" && base.id.startsWith("offline:") && encoderId && trainerName === "classifier") {
    // A candidate that reads sentence embeddings is gated against a prompt whose examples were
    // chosen with the same embeddings (the stronger baseline, docs/classifier.md), not tf-idf.
    const encoder = createEncoder(encoderId)!;
    const examples = await embedLabelled(encoder, ofTask(train).map((e) => ({ text: e.input, label: e.output })));
    const pb = fewShotEmbedded(examples, FEW_SHOT_K, encoderId);
    const heldVectors = await encoder.embed(held.map((e) => e.input), "query");
    baselineName = `prompt baseline: ${pb.name}`;
    baseline = heldVectors.map((v) => pb.predict(v).label);
  } else if (task === "classify" && base.id.startsWith("offline:")) {
    const pb = promptBaseline(ofTask(train).map((e) => ({ text: e.input, label: e.output })), labels);
    baselineName = `prompt baseline: ${pb.name}`;
    baseline = held.map((e) => pb.predict(e.input).label);
  } else {
    baselineName = `prompt baseline: ${base.id}, prompt-only`;
    baseline = await generatorPredictions(base, held, labels);
  }
  const registry = openModelRegistry(project.config, project.root);
  try {
    const current = registry.promoted(task);
    const references = [{ name: baselineName, predictions: baseline }];
    if (current) references.push({ name: current.id, predictions: await predictWith(registry.localArtifact(current)) });
    const gate = promotionGate({
      candidate,
      references,
      truth,
      alpha: config.evaluate.alpha,
      correct: task === "qa" ? answerMatches : exactMatch,
    });

    // 4. register with the evidence; 5. promote by the gate (or by force), or not at all.
    const record = registry.register(
      // The gate scored the candidate and the baseline (references[0]) on the held-out split already.
      { ...artifact, metrics: { ...artifact.metrics, heldOutAccuracy: gate.comparisons[0].candidateAccuracy, baselineAccuracy: gate.comparisons[0].referenceAccuracy, heldOut: held.length } },
      { datasetHash: build.hash, parent: current?.id, gate },
    );
    const mode = request.promote ?? "gate";
    let promoted = false;
    if (mode === "force") {
      registry.promote(record.id, { gate, force: { reason: request.forceReason! } });
      promoted = true;
    } else if (mode === "gate" && gate.passed) {
      registry.promote(record.id, { gate });
      promoted = true;
    }
    return { build, artifact, record: registry.get(record.id), gate, promoted, baselineName };
  } finally {
    registry.close();
  }
}

/**
 * The trained artifact with every path the trainer reported inside its temp folder moved to the
 * final folder, relative to the project (the folder itself, a file in it such as a LoRA adapter,
 * the `?lora=` of a llamacpp generator id, paths in its config): after the rename the temp paths
 * no longer exist, and a relative path still resolves on another machine's copy of the project.
 */
export function relocateArtifact(artifact: TrainedArtifact, tmpDir: string, finalDir: string, root: string): TrainedArtifact {
  const moved = (p: string): string | undefined => {
    if (p === tmpDir) return relative(root, finalDir);
    if (p.startsWith(tmpDir + sep)) return relative(root, join(finalDir, p.slice(tmpDir.length + 1)));
    return undefined;
  };
  const inText = (text: string): string => text.split(tmpDir + sep).join(relative(root, finalDir) + sep);
  const config = Object.fromEntries(Object.entries(artifact.config).map(([k, v]) => [k, typeof v === "string" ? (moved(v) ?? v) : v]));
  return {
    ...artifact,
    artifact: moved(artifact.artifact) ?? artifact.artifact,
    config,
    ...(artifact.generatorId ? { generatorId: inText(artifact.generatorId) } : {}),
  };
}
