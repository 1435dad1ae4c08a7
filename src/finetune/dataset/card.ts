/**
 * The data card: what is in a dataset and whether it is enough for the task.
 *
 * Adequacy rules of thumb (docs/datasets.md):
 *   - a narrow classifier needs hundreds of labelled examples in total (we ask for 200, or
 *     20 × labels if more) and at least 20 per label (50 is comfortable);
 *   - a generative behaviour (qa, extract, tone) needs 1,000+.
 * "Have" counts the train + validation splits — what a trainer gets; the test split is held out.
 */
import type { DatasetSplits, TrainingExample, TrainingTask } from "../index.ts";
import { countTokens } from "../../models/tokens.ts";
import { tasksOf } from "./clean.ts";

export interface CardOptions {
  /** Dataset name shown in the title. */
  name?: string;
  /** Minimum examples per label (train + validation) for a classifier (default 20). */
  minPerLabel?: number;
  /** Minimum total examples for a classifier (default 200). */
  minClassifier?: number;
  /** Minimum examples for a generative behaviour (default 1000). */
  minGenerative?: number;
}

export interface Adequacy {
  adequate: boolean;
  /** Examples the task needs (train + validation). */
  needed: number;
  /** Examples it has (train + validation). */
  have: number;
  note: string;
}

export interface TokenStats {
  min: number;
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

export interface LabelBalance {
  label: string;
  train: number;
  validation: number;
  test: number;
  total: number;
}

export interface TaskCard {
  task: TrainingTask;
  splits: { train: number; validation: number; test: number };
  total: number;
  /** Classify only. */
  labels?: LabelBalance[];
  /** Largest label count / smallest (train + validation); classify only. */
  imbalanceRatio?: number;
  /** Labels with fewer than minPerLabel examples (train + validation). */
  underMinimum?: string[];
  /** Tokens per example (system + input + output) over all splits. */
  tokens: { input: TokenStats; output: TokenStats; total: TokenStats };
  adequacy: Adequacy;
}

export interface DataCard {
  name: string;
  total: number;
  splits: { train: number; validation: number; test: number };
  tasks: TaskCard[];
  /** Every task adequate; `have` and `needed` summed over tasks. */
  adequacy: Adequacy;
  /** Data content hash (train + validation), when known. */
  hash?: string;
  /** Examples by source kind: "eval run" or "file" (labelled files and served logs). */
  sources: Record<string, number>;
  settings: { minPerLabel: number; minClassifier: number; minGenerative: number };
}

export function buildCard(splits: DatasetSplits, options: CardOptions = {}): DataCard {
  const minPerLabel = options.minPerLabel ?? 20;
  const minClassifier = options.minClassifier ?? 200;
  const minGenerative = options.minGenerative ?? 1000;
  const all = [...splits.train, ...splits.validation, ...splits.test];
  const tasks = tasksOf(all).map((task) => taskCard(task, splits, { minPerLabel, minClassifier, minGenerative }));
  const sources: Record<string, number> = {};
  for (const e of all) {
    const kind = e.source.startsWith("runs/") ? "eval run" : "file";
    sources[kind] = (sources[kind] ?? 0) + 1;
  }
  const adequate = tasks.length > 0 && tasks.every((t) => t.adequacy.adequate);
  const needed = tasks.reduce((s, t) => s + t.adequacy.needed, 0);
  const have = tasks.reduce((s, t) => s + t.adequacy.have, 0);
  return {
    name: options.name ?? "dataset",
    total: all.length,
    splits: { train: splits.train.length, validation: splits.validation.length, test: splits.test.length },
    tasks,
    adequacy: {
      adequate,
      needed,
      have,
      note: tasks.length === 0 ? "no examples" : tasks.map((t) => `${t.task}: ${t.adequacy.note}`).join(" "),
    },
    sources,
    settings: { minPerLabel, minClassifier, minGenerative },
  };
}

/** The usable training count the decision weighs: train + validation examples (test is held out). */
export function labelledExamplesFor(card: DataCard, task?: TrainingTask): number {
  if (task) return card.tasks.find((t) => t.task === task)?.adequacy.have ?? 0;
  return card.splits.train + card.splits.validation;
}

function taskCard(task: TrainingTask, splits: DatasetSplits, s: { minPerLabel: number; minClassifier: number; minGenerative: number }): TaskCard {
  const of = (xs: TrainingExample[]) => xs.filter((e) => e.task === task);
  const train = of(splits.train);
  const validation = of(splits.validation);
  const test = of(splits.test);
  const all = [...train, ...validation, ...test];
  const have = train.length + validation.length;
  const card: TaskCard = {
    task,
    splits: { train: train.length, validation: validation.length, test: test.length },
    total: all.length,
    tokens: {
      input: stats(all.map((e) => countTokens(e.system ?? "") + countTokens(e.input))),
      output: stats(all.map((e) => countTokens(e.output))),
      total: stats(all.map((e) => countTokens(e.system ?? "") + countTokens(e.input) + countTokens(e.output))),
    },
    adequacy: { adequate: false, needed: 0, have, note: "" },
  };
  if (task === "classify") {
    const labels = new Map<string, LabelBalance>();
    const add = (xs: TrainingExample[], k: "train" | "validation" | "test") => {
      for (const e of xs) {
        const b = labels.get(e.output) ?? { label: e.output, train: 0, validation: 0, test: 0, total: 0 };
        b[k]++;
        b.total++;
        labels.set(e.output, b);
      }
    };
    add(train, "train");
    add(validation, "validation");
    add(test, "test");
    const balance = [...labels.values()].sort((a, b) => b.total - a.total || (a.label < b.label ? -1 : 1));
    const usable = balance.map((b) => b.train + b.validation);
    const under = balance.filter((b) => b.train + b.validation < s.minPerLabel).map((b) => b.label);
    card.labels = balance;
    card.imbalanceRatio = balance.length > 0 ? round(Math.max(...usable) / Math.max(1, Math.min(...usable)), 2) : 0;
    card.underMinimum = under;
    const needed = Math.max(s.minClassifier, s.minPerLabel * balance.length);
    const adequate = have >= needed && under.length === 0 && balance.length >= 2;
    const parts: string[] = [];
    if (balance.length < 2) parts.push(`only ${balance.length} label — a classifier needs at least 2`);
    if (have < needed) parts.push(`${have} labelled examples, a narrow classifier needs about ${needed} (hundreds in total, ≥ ${s.minPerLabel} per label)`);
    if (under.length > 0) parts.push(`${under.length} label(s) under ${s.minPerLabel} examples: ${under.slice(0, 8).join(", ")}${under.length > 8 ? ", …" : ""}`);
    if (card.imbalanceRatio > 10) parts.push(`imbalance ${card.imbalanceRatio}:1 — the classifier may ignore rare labels`);
    card.adequacy = {
      adequate,
      needed,
      have,
      note: adequate
        ? `adequate: ${have} labelled examples over ${balance.length} labels, every label ≥ ${s.minPerLabel}${parts.length ? ` (${parts.join("; ")})` : ""}.`
        : `not enough: ${parts.join("; ")}.`,
    };
  } else {
    const needed = s.minGenerative;
    const adequate = have >= needed;
    const what = task === "qa" ? "answering behaviour" : "extraction format";
    card.adequacy = {
      adequate,
      needed,
      have,
      note: adequate
        ? `adequate: ${have} examples for a generative ${what} (≥ ${needed}).`
        : `not enough: ${have} examples, teaching a generative ${what} takes ${needed}+; collect more (corrections from served logs) or fix it with retrieval and prompting first.`,
    };
  }
  return card;
}

function stats(xs: number[]): TokenStats {
  if (xs.length === 0) return { min: 0, mean: 0, p50: 0, p95: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { min: s[0], mean: round(s.reduce((a, b) => a + b, 0) / s.length, 1), p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** The card as Markdown (card.md). */
export function renderCardMarkdown(card: DataCard): string {
  const lines: string[] = [];
  lines.push(`# Data card: ${card.name}`, "");
  if (card.hash) lines.push(`Content hash (train + validation): \`${card.hash}\``, "");
  lines.push(
    `**${card.adequacy.adequate ? "Adequate" : "Not adequate"}** — have ${card.adequacy.have} training examples (train + validation), need ${card.adequacy.needed}.`,
    "",
    "| split | examples |",
    "| --- | ---: |",
    `| train | ${card.splits.train} |`,
    `| validation | ${card.splits.validation} |`,
    `| test (held out) | ${card.splits.test} |`,
    `| total | ${card.total} |`,
    "",
  );
  const src = Object.entries(card.sources);
  if (src.length) lines.push(`Sources: ${src.map(([k, n]) => `${n} from ${k}s`).join(", ")}.`, "");
  for (const t of card.tasks) {
    lines.push(`## ${t.task}`, "");
    lines.push(`${t.adequacy.adequate ? "✅" : "⚠️"} ${t.adequacy.note}`, "");
    lines.push(`Splits: train ${t.splits.train} · validation ${t.splits.validation} · test ${t.splits.test}.`, "");
    const tk = t.tokens.total;
    lines.push(`Tokens per example: min ${tk.min} · median ${tk.p50} · mean ${tk.mean} · p95 ${tk.p95} · max ${tk.max} (input p95 ${t.tokens.input.p95}, output p95 ${t.tokens.output.p95}).`, "");
    if (t.labels) {
      lines.push(`Class balance: ${t.labels.length} labels, imbalance ratio ${t.imbalanceRatio}:1${t.underMinimum?.length ? `, under ${card.settings.minPerLabel}: ${t.underMinimum.join(", ")}` : ""}.`, "");
      lines.push("| label | train | validation | test | total |", "| --- | ---: | ---: | ---: | ---: |");
      for (const b of t.labels) lines.push(`| ${b.label.replace(/\|/g, "\\|")} | ${b.train} | ${b.validation} | ${b.test} | ${b.total} |`);
      lines.push("");
    }
  }
  lines.push(
    `Thresholds: classifier ≥ ${card.settings.minClassifier} examples and ≥ ${card.settings.minPerLabel} per label; generative behaviour ≥ ${card.settings.minGenerative}. See docs/datasets.md.`,
    "",
  );
  return lines.join("\n");
}
