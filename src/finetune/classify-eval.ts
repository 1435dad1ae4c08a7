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
import { parseCsv as parseCsvRecords } from "./dataset/sources.ts";

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

/**
 * CSV text as a table: the first record is the header, every other record must have as many fields
 * (RFC 4180 parsing — quotes, embedded newlines, BOM, file:line errors — is dataset/sources.ts's).
 */
export function parseCsv(text: string, file = "<csv>"): Table {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) throw new InputError(`${file}: empty file (expected a header row)`);
  const columns = records[0].fields.map((c) => c.trim());
  const rows: Row[] = [];
  for (const r of records.slice(1)) {
    if (r.fields.length !== columns.length)
      throw new InputError(`${file}:${r.line}: ${r.fields.length} fields, the header has ${columns.length} (${columns.join(", ")})`);
    const fields: Record<string, string> = {};
    columns.forEach((c, k) => (fields[c] = r.fields[k]));
    rows.push({ line: r.line, fields });
  }
  return { file, columns, rows };
}

/** Parse JSONL: one JSON object per non-blank line; values are kept as strings (numbers/booleans stringified). */
export function parseJsonl(text: string, file = "<jsonl>"): Table {
  const rows: Row[] = [];
  const columns: string[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, k) => {
    const line = k + 1;
    if (raw.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (err) {
      throw new InputError(`${file}:${line}: invalid JSON (${(err as Error).message})`);
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new InputError(`${file}:${line}: expected a JSON object per line`);
    const fields: Record<string, string> = {};
    for (const [key, v] of Object.entries(obj as Record<string, unknown>)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
      if (typeof v === "string") fields[key] = v;
      else if (typeof v === "number" || typeof v === "boolean") fields[key] = String(v);
    }
    rows.push({ line, fields });
  });
  return { file, columns, rows };
}

/** Read a CSV or JSONL file into a table. */
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
    const text = r.fields[textField];
    const label = r.fields[labelField];
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
