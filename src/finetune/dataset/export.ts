/**
 * Exports for external trainers, validated before anything is written:
 *
 *   openai    {"messages":[{"role":"system",…},{"role":"user",…},{"role":"assistant",…}]}
 *   sharegpt  {"conversations":[{"from":"system"|"human"|"gpt","value":…}]}
 *   alpaca    {"instruction","input","output"}
 *   axolotl   a ready config YAML (LoRA) pointing at an exported file with the matching `type`
 *
 * Validation: roles valid, no empty turn, the whole record under the token limit, classify labels
 * non-empty, extract outputs valid JSON. Every problem names the example id and source; all of
 * them are reported at once, and no file is written when there is any.
 */
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import type { DatasetSplits, TrainingExample, TrainingTask } from "../index.ts";
import { countTokens } from "../../models/tokens.ts";
import { InputError } from "../../util/errors.ts";
import { writeFileAtomic } from "../../util/fs.ts";
import { DEFAULT_MAX_TOKENS } from "./clean.ts";

export const EXPORT_FORMATS = ["openai", "sharegpt", "alpaca", "axolotl"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** Formats that are data files (axolotl is a config over one of them). */
export type DataFormat = Exclude<ExportFormat, "axolotl">;

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}
export interface OpenAIRecord {
  messages: ChatMessage[];
}
export interface ShareGPTRecord {
  conversations: { from: "system" | "human" | "gpt"; value: string }[];
}
export interface AlpacaRecord {
  instruction: string;
  input: string;
  output: string;
}

export interface ExportOptions {
  /**
   * System prompt / instruction for examples without their own. Default: a short one per task
   * (classify lists the dataset's labels). `false`: no system turn (Alpaca then uses the task's
   * default instruction anyway, since it needs one).
   */
  system?: Partial<Record<TrainingTask, string>> | false;
  /** Token limit per record, all turns together (default 2048). */
  maxTokens?: number;
}

export interface ExportIssue {
  id: string;
  source: string;
  format: DataFormat;
  problem: string;
}

export class ExportValidationError extends InputError {
  constructor(readonly issues: ExportIssue[]) {
    const shown = issues.slice(0, 20).map((i) => `  ${i.id} (${i.source}) [${i.format}]: ${i.problem}`);
    if (issues.length > 20) shown.push(`  … and ${issues.length - 20} more`);
    super(`export validation failed — nothing was written:\n${shown.join("\n")}`);
    this.name = "ExportValidationError";
  }
}

/** Default system prompts; classify lists the labels seen in the dataset. */
export function defaultSystemPrompts(labels: string[] = []): Record<TrainingTask, string> {
  return {
    classify: `Classify the message into exactly one label${labels.length ? ` of: ${labels.join(", ")}` : ""}. Reply with the label only.`,
    qa: "Answer the question precisely and briefly. If you do not know, reply exactly: I don't know.",
    extract: "Extract the requested fields from the text. Reply with a JSON object only.",
  };
}

function systemFor(e: TrainingExample, prompts: Record<TrainingTask, string> | false): string | undefined {
  return e.system ?? (prompts ? prompts[e.task] : undefined);
}

export function toOpenAI(e: TrainingExample, prompts: Record<TrainingTask, string> | false = defaultSystemPrompts()): OpenAIRecord {
  const system = systemFor(e, prompts);
  const messages: ChatMessage[] = [];
  if (system !== undefined) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: e.input }, { role: "assistant", content: e.output });
  return { messages };
}

export function toShareGPT(e: TrainingExample, prompts: Record<TrainingTask, string> | false = defaultSystemPrompts()): ShareGPTRecord {
  const from = { system: "system", user: "human", assistant: "gpt" } as const;
  return { conversations: toOpenAI(e, prompts).messages.map((m) => ({ from: from[m.role], value: m.content })) };
}

export function toAlpaca(e: TrainingExample, prompts: Record<TrainingTask, string> | false = defaultSystemPrompts()): AlpacaRecord {
  return { instruction: systemFor(e, prompts) ?? defaultSystemPrompts()[e.task], input: e.input, output: e.output };
}

/** Record-level checks, shared by every format. */
export function validateRecord(e: TrainingExample, format: DataFormat, record: OpenAIRecord | ShareGPTRecord | AlpacaRecord, maxTokens: number): string[] {
  const problems: string[] = [];
  let turns: { role: string; text: string }[];
  if (format === "openai") {
    const valid = ["system", "user", "assistant"];
    turns = (record as OpenAIRecord).messages.map((m) => ({ role: m.role, text: m.content }));
    for (const t of turns) if (!valid.includes(t.role)) problems.push(`invalid role '${t.role}' (use ${valid.join(", ")})`);
    const roles = turns.map((t) => t.role).filter((r) => r !== "system");
    if (roles[roles.length - 1] !== "assistant") problems.push("the last turn must be the assistant's");
  } else if (format === "sharegpt") {
    const valid = ["system", "human", "gpt"];
    turns = (record as ShareGPTRecord).conversations.map((m) => ({ role: m.from, text: m.value }));
    for (const t of turns) if (!valid.includes(t.role)) problems.push(`invalid role '${t.role}' (use ${valid.join(", ")})`);
    if (turns[turns.length - 1]?.role !== "gpt") problems.push("the last turn must be gpt's");
  } else {
    const r = record as AlpacaRecord;
    turns = [
      { role: "instruction", text: r.instruction },
      { role: "input", text: r.input },
      { role: "output", text: r.output },
    ];
  }
  for (const t of turns) if (typeof t.text !== "string" || t.text.trim() === "") problems.push(`empty ${t.role} turn`);
  if (e.task === "classify" && !e.output.trim()) problems.push("empty label");
  if (e.task === "classify" && /\n/.test(e.output)) problems.push("label spans several lines");
  if (e.task === "extract") {
    try {
      JSON.parse(e.output);
    } catch {
      problems.push("extract output is not valid JSON");
    }
  }
  const tokens = turns.reduce((s, t) => s + countTokens(t.text ?? ""), 0);
  if (tokens > maxTokens) problems.push(`${tokens} tokens, over the limit of ${maxTokens}`);
  return problems;
}

export type SplitName = "train" | "validation" | "test";

export interface ExportPlan {
  /** File name → content. */
  files: Map<string, string>;
  /** The data files per format and split, for the Axolotl config. */
  dataFiles: Partial<Record<DataFormat, Partial<Record<SplitName, string>>>>;
}

export interface AxolotlOptions {
  /** Base model (default: a placeholder to replace). */
  baseModel?: string;
  sequenceLen?: number;
  /** Used when there is no validation split file (default 0.05). */
  valSetSize?: number;
  outputDir?: string;
  loraR?: number;
  loraAlpha?: number;
  loraDropout?: number;
  numEpochs?: number;
  learningRate?: number;
  microBatchSize?: number;
}

export const BASE_MODEL_PLACEHOLDER = "REPLACE-ME/base-model (e.g. meta-llama/Llama-3.2-3B-Instruct)";

/**
 * Build every export in memory and validate it; throws ExportValidationError (nothing written)
 * on any problem. Writing is separate (`writeExports`).
 */
export function planExports(
  splits: DatasetSplits,
  formats: ExportFormat[],
  options: ExportOptions & { axolotl?: AxolotlOptions } = {},
): ExportPlan {
  for (const f of formats) if (!EXPORT_FORMATS.includes(f)) throw new InputError(`unknown export format '${f}' (use ${EXPORT_FORMATS.join(", ")})`);
  const all = [...splits.train, ...splits.validation, ...splits.test];
  const labels = [...new Set(all.filter((e) => e.task === "classify").map((e) => e.output))].sort();
  const prompts = options.system === false ? false : { ...defaultSystemPrompts(labels), ...(options.system ?? {}) };
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const dataFormats = formats.filter((f): f is DataFormat => f !== "axolotl");
  // Axolotl needs a data file: the first chat export chosen, else ShareGPT.
  const axolotlData: DataFormat | undefined = formats.includes("axolotl") ? (dataFormats[0] ?? "sharegpt") : undefined;
  if (axolotlData && !dataFormats.includes(axolotlData)) dataFormats.push(axolotlData);

  const issues: ExportIssue[] = [];
  const files = new Map<string, string>();
  const dataFiles: ExportPlan["dataFiles"] = {};
  const convert = { openai: toOpenAI, sharegpt: toShareGPT, alpaca: toAlpaca } as const;
  for (const format of dataFormats) {
    for (const split of ["train", "validation", "test"] as const) {
      const examples = splits[split];
      if (examples.length === 0) continue;
      const lines: string[] = [];
      for (const e of examples) {
        const record = convert[format](e, prompts);
        for (const problem of validateRecord(e, format, record, maxTokens)) issues.push({ id: e.id, source: e.source, format, problem });
        lines.push(JSON.stringify(record));
      }
      const name = `${format}.${split}.jsonl`;
      files.set(name, lines.join("\n") + "\n");
      (dataFiles[format] ??= {})[split] = name;
    }
  }
  if (issues.length > 0) throw new ExportValidationError(issues);
  if (axolotlData) files.set("axolotl.yaml", axolotlConfig(axolotlData, dataFiles[axolotlData] ?? {}, { sequenceLen: maxTokens, ...options.axolotl }));
  return { files, dataFiles };
}

/** Validate, then write every file atomically into `dir`. Returns the paths written. */
export function writeExports(dir: string, splits: DatasetSplits, formats: ExportFormat[], options: ExportOptions & { axolotl?: AxolotlOptions } = {}): string[] {
  const plan = planExports(splits, formats, options);
  const written: string[] = [];
  for (const [name, content] of plan.files) {
    writeFileAtomic(join(dir, name), content);
    written.push(join(dir, name));
  }
  return written;
}

/**
 * An Axolotl LoRA config over an exported data file. Paths are relative to the dataset folder:
 * run `axolotl train axolotl.yaml` from there.
 */
export function axolotlConfig(format: DataFormat, files: Partial<Record<SplitName, string>>, options: AxolotlOptions = {}): string {
  const dataset = (path: string): Record<string, unknown> => {
    if (format === "alpaca") return { path, ds_type: "json", type: "alpaca" };
    if (format === "openai") {
      return { path, ds_type: "json", type: "chat_template", field_messages: "messages", message_property_mappings: { role: "role", content: "content" } };
    }
    return {
      path,
      ds_type: "json",
      type: "chat_template",
      field_messages: "conversations",
      message_property_mappings: { role: "from", content: "value" },
      roles: { system: ["system"], user: ["human"], assistant: ["gpt"] },
    };
  };
  if (!files.train) throw new InputError("axolotl config: no train split to point at (the dataset is empty)");
  const config: Record<string, unknown> = {
    base_model: options.baseModel ?? BASE_MODEL_PLACEHOLDER,
    ...(format === "alpaca" ? {} : { chat_template: "tokenizer_default" }),
    datasets: [dataset(files.train)],
  };
  if (files.validation) {
    // Our own held-out validation split; Axolotl must not carve another out of train.
    config.test_datasets = [{ ...dataset(files.validation), split: "train" }];
    config.val_set_size = 0;
  } else {
    config.val_set_size = options.valSetSize ?? 0.05;
  }
  Object.assign(config, {
    dataset_prepared_path: "last_run_prepared",
    output_dir: options.outputDir ?? "./outputs/lora-out",
    sequence_len: options.sequenceLen ?? DEFAULT_MAX_TOKENS,
    sample_packing: false,
    pad_to_sequence_len: false,
    adapter: "lora",
    lora_r: options.loraR ?? 16,
    lora_alpha: options.loraAlpha ?? 32,
    lora_dropout: options.loraDropout ?? 0.05,
    lora_target_linear: true,
    train_on_inputs: false,
    num_epochs: options.numEpochs ?? 3,
    micro_batch_size: options.microBatchSize ?? 2,
    gradient_accumulation_steps: 4,
    learning_rate: options.learningRate ?? 0.0002,
    optimizer: "adamw_torch",
    lr_scheduler: "cosine",
    warmup_ratio: 0.05,
    bf16: "auto",
    gradient_checkpointing: true,
    logging_steps: 10,
    evals_per_epoch: files.validation ? 2 : 0,
    saves_per_epoch: 1,
    seed: 42,
  });
  const header = [
    "# Axolotl LoRA config written by `ragtune dataset build`.",
    "# Replace base_model, then from this folder: axolotl train axolotl.yaml",
    "# The test split is not referenced here: it is held out for `ragtune` to evaluate the result.",
  ];
  return header.join("\n") + "\n" + toYaml(config);
}
