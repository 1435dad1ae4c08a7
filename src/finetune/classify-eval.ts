/**
 * `runClassifyExperiment`: train the in-process classifier on a labelled file, score it on a test
 * file next to the offline prompt baseline (baseline.ts), and time it. Used by
 * `ragtune finetune classify` and bench/classifier.ts.
 *
 * Input files: CSV (RFC 4180: header row, `"` quoting with `""` escapes, newlines inside quoted
 * fields, CRLF or LF) or JSONL (one object per line). The format comes from the extension
 * (`.csv`, `.jsonl`/`.ndjson`); anything else is sniffed from the first character (`{` → JSONL).
 * Errors name `file:line` and the field.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { InputError } from "../util/errors.ts";
import { percentile } from "../evaluate/stats.ts";
import { classificationMetrics as classificationMetricsOf, TextClassifier, type ClassifierOptions, type LabelledText } from "./classifier/model.ts";
import { promptBaseline } from "./baseline.ts";
import { csvTable, jsonlTable, type LabelledTable } from "./dataset/sources.ts";
import { getOwn, setOwn } from "../util/own.ts";

/** One parsed record with the line (1-based) it starts on. */
export interface Row {
  line: number;
  fields: Record<string, string>;
}

export interface Table {
  file: string;
  /** Column names: the CSV header, or the union of keys of the JSONL objects in first-seen order. */
  columns: string[];
  rows: Row[];
}

/** As strings: classification reads text and labels (numbers and booleans are stringified, other values dropped). */
function stringTable(t: LabelledTable): Table {
  const rows = t.rows.map(({ line, values }) => {
    const fields: Record<string, string> = {};
    for (const [key, v] of Object.entries(values)) {
      if (typeof v === "string") setOwn(fields, key, v);
      else if (typeof v === "number" || typeof v === "boolean") setOwn(fields, key, String(v));
    }
    return { line, fields };
  });
  return { file: t.file, columns: t.columns, rows };
}

/** CSV text as a table (header row; every record as many fields as the header) — dataset/sources.ts parses it. */
export function parseCsv(text: string, file = "<csv>"): Table {
  return stringTable(csvTable(text, file));
}

/** JSONL as a table: one JSON object per non-blank line. */
export function parseJsonl(text: string, file = "<jsonl>"): Table {
  return stringTable(jsonlTable(text, file));
}

export function readTable(file: string): Table {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson") return parseJsonl(text, file);
  if (ext === ".csv") return parseCsv(text, file);
  return text.trimStart().startsWith("{") ? parseJsonl(text, file) : parseCsv(text, file);
}

/**
 * Labelled examples from a table. A missing column is an error naming the columns that exist (and,
 * for the label, the one plausible other column — never picked silently); an empty value is an
 * error naming file:line and the field.
 */
export function labelledExamples(table: Table, textField: string, labelField: string): LabelledText[] {
  const { file, columns } = table;
  const missing = (field: string, role: "text" | "label"): InputError => {
    const others = columns.filter((c) => c !== textField && c !== labelField && c.toLowerCase() !== "id");
    let hint = "";
    if (role === "label" && others.length === 1) hint = `; did you mean --label-field ${others[0]}?`;
    if (role === "text" && others.length === 1) hint = `; did you mean --text-field ${others[0]}?`;
    return new InputError(`${file}: no ${role} field '${field}' (columns: ${columns.join(", ") || "none"})${hint}`);
  };
  if (table.rows.length > 0 && !columns.includes(textField)) throw missing(textField, "text");
  if (table.rows.length > 0 && !columns.includes(labelField)) throw missing(labelField, "label");
  const out: LabelledText[] = [];
  for (const r of table.rows) {
    const text = getOwn(r.fields, textField);
    const label = getOwn(r.fields, labelField);
    if (text === undefined || text.trim() === "") throw new InputError(`${file}:${r.line}: field '${textField}' is missing or empty`);
    if (label === undefined || label.trim() === "") throw new InputError(`${file}:${r.line}: field '${labelField}' is missing or empty`);
    out.push({ text, label: label.trim() });
  }
  if (out.length === 0) throw new InputError(`${file}: no examples`);
  return out;
}

export interface ClassifyExperimentInput {
  /** Training file (CSV or JSONL) or the examples themselves. */
  train: string | LabelledText[];
  test: string | LabelledText[];
  /** Field holding the text. Default "text". */
  textField?: string;
  /** Field holding the label. Default "label". */
  labelField?: string;
  options?: ClassifierOptions & { seed?: number; onEvent?: (e: { type: "log"; message: string } | { type: "metric"; name: string; value: number; step?: number }) => void };
  /** Save the trained model here (model.json + weights.bin). */
  outDir?: string;
}

export interface ClassifyExperimentResult {
  accuracy: number;
  macroF1: number;
  trainMs: number;
  /** 95th percentile of single-text prediction latency over the test set, in milliseconds. */
  predictP95Ms: number;
  /** Number of labels the model knows. */
  labels: number;
  baseline: { name: string; accuracy: number };
}

export interface ClassifyExperimentDetail extends ClassifyExperimentResult {
  model: TextClassifier;
  predictP50Ms: number;
  baselineMacroF1: number;
  testLabelsUnseen: number;
}

/** Train, time, and score the classifier and the prompt baseline on the test examples. */
export function runClassifyExperiment(input: ClassifyExperimentInput): ClassifyExperimentDetail {
  const textField = input.textField ?? "text";
  const labelField = input.labelField ?? "label";
  const load = (src: string | LabelledText[]) => (typeof src === "string" ? labelledExamples(readTable(src), textField, labelField) : src);
  const train = load(input.train);
  const test = load(input.test);
  if (new Set(train.map((e) => e.label)).size < 2) throw new InputError(`the training data has fewer than 2 labels; nothing to classify`);

  const t0 = performance.now();
  const model = TextClassifier.train(train, input.options ?? {});
  const trainMs = performance.now() - t0;
  if (input.outDir) model.save(input.outDir);

  const times: number[] = [];
  const predicted: string[] = [];
  for (const e of test) {
    const s = performance.now();
    predicted.push(model.predict(e.text).label);
    times.push(performance.now() - s);
  }
  const gold = test.map((e) => e.label);
  const metrics = classificationMetricsOf(gold, predicted);

  const baseline = promptBaseline(train);
  const basePred = test.map((e) => baseline.predict(e.text).label);
  const baseMetrics = classificationMetricsOf(gold, basePred);
  const known = new Set(model.labels);
  return {
    accuracy: metrics.accuracy,
    macroF1: metrics.macroF1,
    trainMs: Math.round(trainMs),
    predictP95Ms: round3(percentile(times, 95)),
    labels: model.labels.length,
    baseline: { name: baseline.name, accuracy: baseMetrics.accuracy },
    model,
    predictP50Ms: round3(percentile(times, 50)),
    baselineMacroF1: baseMetrics.macroF1,
    testLabelsUnseen: new Set(gold.filter((g) => !known.has(g))).size,
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
