/**
 * Where training examples come from: eval runs (the cases a variant got wrong, with the suite's
 * expected output), labelled files (CSV or JSONL with configurable field names), and served logs
 * with user corrections. Every example carries its `source` (`file:line` or `runs/<id>#<case>`)
 * so errors and review point at the line to fix.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, extname, isAbsolute, relative, resolve } from "node:path";
import type { TrainingExample, TrainingTask } from "../index.ts";
import type { SuiteCase } from "../../evaluate/types.ts";
import { readCaseResults, readSnapshot } from "../../evaluate/runs.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { InputError } from "../../util/errors.ts";
import { parseCsv } from "../../util/csv.ts";
import { getOwn } from "../../util/own.ts";

export const TRAINING_TASKS: readonly TrainingTask[] = ["classify", "qa", "extract"];

/** A case (or line) a source could not turn into an example, and why. */
export interface SkippedSource {
  source: string;
  reason: string;
}

export interface SourceResult {
  examples: TrainingExample[];
  skipped: SkippedSource[];
}

// ---------------------------------------------------------------------------------------------
// Eval runs

export interface RunSourceOptions {
  /** Also take cases every considered variant passed (default false: failures only). */
  includePassed?: boolean;
  /** Only results of these variants count (default: every variant in the run). */
  variants?: string[];
  /** The suite to read expected outputs from (default: the suite recorded in the run's config.json). */
  suitePath?: string;
}

/** The expected output of a suite case as a training target, or why there is none. */
export function expectedOutput(c: SuiteCase): { output: string } | { reason: string } {
  if (c.task === "classify") return c.label ? { output: c.label } : { reason: "classify case has no `label`" };
  if (c.task === "extract") {
    return c.expected_json ? { output: JSON.stringify(c.expected_json) } : { reason: "extract case has no `expected_json`" };
  }
  if (c.answer && c.answer.length > 0) return { output: c.answer[0] };
  return { reason: c.must_abstain ? "qa case expects abstention (no answer to teach)" : "qa case has no `answer`" };
}

/**
 * Examples from one eval run: each case that failed in any considered result (every variant and
 * repeat), once, with the suite's expected output. Source and id are `runs/<id>#<caseId>`.
 */
export function examplesFromRun(runDir: string, options: RunSourceOptions = {}): SourceResult {
  if (!existsSync(resolve(runDir, "config.json"))) throw new InputError(`${runDir}: not a run folder (no config.json)`);
  const snapshot = readSnapshot(runDir);
  const runId = snapshot.runId ?? basename(runDir);
  const suitePath = options.suitePath ?? snapshot.suitePath;
  const suite = loadSuite(isAbsolute(suitePath) ? suitePath : resolve(snapshot.configPath ? resolve(snapshot.configPath, "..") : runDir, suitePath));
  const cases = new Map(suite.cases.map((c) => [c.id, c]));
  const results = readCaseResults(runDir).filter((r) => !options.variants || options.variants.includes(r.variant));
  // A case is a failure when any considered result failed; repeats and variants collapse to one example.
  const failed = new Map<string, boolean>();
  for (const r of results) failed.set(r.caseId, (failed.get(r.caseId) ?? false) || !r.passed);
  const examples: TrainingExample[] = [];
  const skipped: SkippedSource[] = [];
  for (const [caseId, anyFailed] of failed) {
    if (!anyFailed && !options.includePassed) continue;
    const source = `runs/${runId}#${caseId}`;
    const c = cases.get(caseId);
    if (!c) {
      skipped.push({ source, reason: `case not in the suite ${suitePath} (the suite changed since the run)` });
      continue;
    }
    const expected = expectedOutput(c);
    if ("reason" in expected) {
      skipped.push({ source, reason: expected.reason });
      continue;
    }
    examples.push({ id: source, task: c.task, input: c.input, output: expected.output, source });
  }
  return { examples, skipped };
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)

export { parseCsv, type CsvRecord } from "../../util/csv.ts";

// ---------------------------------------------------------------------------------------------
// Labelled files

export interface LabelledFileOptions {
  task: TrainingTask;
  /** Field (CSV column / JSON key) holding the input (default "input"). */
  inputField?: string;
  /** Field holding the expected output (default "output"). */
  outputField?: string;
  /** Field holding a per-example system prompt (optional). */
  systemField?: string;
  /** How the file is named in sources and errors (default: relative to the working directory). */
  displayName?: string;
}

/** A labelled file as rows of named values, each with the line it starts on. */
export interface LabelledTable {
  file: string;
  /** The CSV header, or the union of the JSONL objects' keys in first-seen order. */
  columns: string[];
  /** Line of the CSV header (1 for JSONL). */
  headerLine: number;
  /** CSV values are strings; JSONL values are as parsed. */
  rows: { line: number; values: Record<string, unknown> }[];
}

/** CSV with a header row; every record must have as many fields as the header. */
export function csvTable(text: string, file: string): LabelledTable {
  const records = parseCsv(text, file);
  if (records.length === 0) throw new InputError(`${file}: empty CSV (expected a header row)`);
  const columns = records[0].fields.map((h) => h.trim());
  const rows = records.slice(1).map((r) => {
    if (r.fields.length !== columns.length) {
      throw new InputError(`${file}:${r.line}: ${r.fields.length} fields, the header has ${columns.length} (${columns.join(", ")})`);
    }
    return { line: r.line, values: Object.fromEntries(columns.map((c, k) => [c, r.fields[k]])) };
  });
  return { file, columns, headerLine: records[0].line, rows };
}

/** JSONL: one JSON object per non-blank line (a leading BOM is dropped); errors name file:line. */
export function jsonlTable(text: string, file: string): LabelledTable {
  const columns: string[] = [];
  const seen = new Set<string>();
  const rows: LabelledTable["rows"] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (i === 0 && raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new InputError(`${file}:${i + 1}: invalid JSON: ${(e as Error).message}`);
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new InputError(`${file}:${i + 1}: expected a JSON object per line`);
    for (const key of Object.keys(value)) if (!seen.has(key)) seen.add(key), columns.push(key);
    rows.push({ line: i + 1, values: value as Record<string, unknown> });
  });
  return { file, columns, headerLine: 1, rows };
}

/** Examples from a labelled CSV or JSONL file (by extension: `.csv`, `.jsonl`/`.ndjson`). */
export function readLabelledFile(path: string, options: LabelledFileOptions): TrainingExample[] {
  if (!TRAINING_TASKS.includes(options.task)) throw new InputError(`unknown task '${options.task}' (use ${TRAINING_TASKS.join(", ")})`);
  const name = options.displayName ?? displayPath(path);
  if (!existsSync(path)) throw new InputError(`${name}: file not found`);
  const text = readFileSync(path, "utf8");
  const ext = extname(path).toLowerCase();
  const inputField = options.inputField ?? "input";
  const outputField = options.outputField ?? "output";
  let table: LabelledTable;
  if (ext === ".csv") {
    table = csvTable(text, name);
    for (const f of [inputField, outputField, ...(options.systemField ? [options.systemField] : [])]) {
      if (!table.columns.includes(f)) throw new InputError(`${name}:${table.headerLine}: no column '${f}' in the header (columns: ${table.columns.join(", ")})`);
    }
  } else if (ext === ".jsonl" || ext === ".ndjson") {
    table = jsonlTable(text, name);
  } else {
    throw new InputError(`${name}: unsupported labelled file '${ext || "(no extension)"}' (use .csv or .jsonl)`);
  }
  return table.rows.map((row) => {
    const where = `${name}:${row.line}`;
    const field = (f: string, required: boolean): string | undefined => {
      const v = getOwn(row.values, f);
      if (v === undefined || v === null) {
        if (required) throw new InputError(`${where}: missing field '${f}'`);
        return undefined;
      }
      const s = typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
      if (s.trim() === "") {
        if (required) throw new InputError(`${where}: field '${f}' is empty`);
        return undefined;
      }
      return s;
    };
    const example: TrainingExample = {
      id: where,
      task: options.task,
      input: field(inputField, true)!,
      output: field(outputField, true)!,
      source: where,
    };
    const system = options.systemField ? field(options.systemField, false) : undefined;
    if (system !== undefined) example.system = system;
    return example;
  });
}

// ---------------------------------------------------------------------------------------------
// Served logs

/**
 * One line of a served log (JSONL), as the server writes it: what came in, what the model said,
 * and — when a user fixed it — the correction. A correction wins: it is the training target.
 */
export interface ServedLogEntry {
  input: string;
  output: string;
  correction?: string;
  task?: TrainingTask;
  /** Request id, if the server assigned one (used as the example id). */
  id?: string;
  system?: string;
  /** ISO timestamp, informational. */
  at?: string;
}

export interface ServedLogOptions {
  /** Task for entries that do not carry one. */
  task?: TrainingTask;
  /** Only entries a user corrected (default false: uncorrected outputs count as accepted). */
  correctedOnly?: boolean;
  displayName?: string;
}

/** Examples from a served log: `{input, output, correction?}` per line; the correction wins. */
export function readServedLog(path: string, options: ServedLogOptions = {}): SourceResult {
  const name = options.displayName ?? displayPath(path);
  if (!existsSync(path)) throw new InputError(`${name}: file not found`);
  const examples: TrainingExample[] = [];
  const skipped: SkippedSource[] = [];
  readFileSync(path, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      if (!raw.trim()) return;
      const where = `${name}:${i + 1}`;
      let entry: Partial<ServedLogEntry>;
      try {
        entry = JSON.parse(raw) as Partial<ServedLogEntry>;
      } catch (e) {
        throw new InputError(`${where}: invalid JSON: ${(e as Error).message}`);
      }
      if (!entry || typeof entry !== "object") throw new InputError(`${where}: expected a JSON object per line`);
      for (const f of ["input", "output"] as const) {
        if (typeof entry[f] !== "string") throw new InputError(`${where}: missing field '${f}'`);
      }
      if (!entry.input!.trim()) throw new InputError(`${where}: field 'input' is empty`);
      const task = entry.task ?? options.task;
      if (!task) throw new InputError(`${where}: no 'task' in the entry and none given for the log (--task)`);
      if (!TRAINING_TASKS.includes(task)) throw new InputError(`${where}: field 'task': unknown task '${task}'`);
      const corrected = typeof entry.correction === "string" && entry.correction.trim() !== "";
      if (options.correctedOnly && !corrected) {
        skipped.push({ source: where, reason: "not corrected" });
        return;
      }
      const output = corrected ? entry.correction! : entry.output!;
      if (!output.trim()) {
        skipped.push({ source: where, reason: "empty output and no correction" });
        return;
      }
      const example: TrainingExample = { id: entry.id ? `${name}#${entry.id}` : where, task, input: entry.input!, output, source: where };
      if (entry.system) example.system = entry.system;
      examples.push(example);
    });
  return { examples, skipped };
}

// ---------------------------------------------------------------------------------------------

/**
 * Drop repeated examples by id (the same case collected twice, e.g. the same run given twice),
 * keeping the first; content duplicates are the cleaning pipeline's job.
 */
export function dedupeById(examples: TrainingExample[]): TrainingExample[] {
  const seen = new Set<string>();
  return examples.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}

function displayPath(abs: string): string {
  const rel = relative(process.cwd(), resolve(abs));
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : resolve(abs);
}
