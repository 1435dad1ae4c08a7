/**
 * RAGAS / Hugging Face-style rows → ragtune suite. Rows come from JSONL, JSON or CSV:
 *   input:      `user_input` (RAGAS ≥ 0.2) or `question` (older datasets, HF QA sets)
 *   reference:  `reference`, else `ground_truth` (or the first of `ground_truths`), else `answer`
 *               (a note says so: in RAGAS 0.1 datasets `answer` is the model's response)
 *   contexts:   `reference_contexts`, else `contexts` — texts; they become `sources` only where the
 *               caller can locate a text in the project's index (`locateContext`), else listed
 * A row without an input is an error; a row without a reference is listed and left out (a case
 * needs an expectation). `id` / `_id` / `question_id` give the case id, else the question's slug.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { parseCsv } from "../util/csv.ts";
import { ImportError, readJsonRows, slug, uniqueIds, type ImportNote, type ImportResult, type ImportedCase, type Importer, type SourceRow } from "./index.ts";

export interface RagasImportOptions {
  /** The document path (or chunk id) of the indexed text a context quotes, when one is found. */
  locateContext?: (text: string) => string | undefined;
}

const INPUT_FIELDS = ["user_input", "question"];
const CONTEXT_FIELDS = ["reference_contexts", "contexts"];

/** Rows of a CSV: header names the fields; list fields hold JSON arrays (`["a","b"]`). */
function csvRows(file: string, text: string): SourceRow[] {
  const [header, ...records] = parseCsv(text, file);
  if (!header) throw new ImportError(file, 1, undefined, "empty CSV: expected a header row (user_input, reference, …)");
  const names = header.fields.map((h) => h.trim());
  return records.map((r) => {
    if (r.fields.length > names.length) throw new ImportError(file, r.line, undefined, `${r.fields.length} fields, but the header has ${names.length} columns`);
    // No prototype: a column named like an Object.prototype member (`__proto__`) is just a column.
    const row: Record<string, unknown> = Object.create(null);
    names.forEach((n, i) => {
      if (n) row[n] = r.fields[i] ?? "";
    });
    return { line: r.line, row };
  });
}

export function readRows(file: string): SourceRow[] {
  const abs = resolve(file);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ImportError(file, 0, undefined, "file not found");
  const text = readFileSync(abs, "utf8");
  const ext = extname(abs).toLowerCase();
  if (ext === ".csv") return csvRows(file, text);
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return readJsonRows(file, text);
  throw new ImportError(file, 0, undefined, `unsupported file type '${ext || "(none)"}' (use .jsonl, .json or .csv)`);
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v : typeof v === "number" ? String(v) : undefined);

/** A list of texts: an array, or (from CSV) a JSON array in a string. */
function textList(v: unknown): string[] | undefined {
  let value = v;
  if (typeof value === "string") {
    const s = value.trim();
    if (s === "") return [];
    if (!s.startsWith("[")) return [s];
    try {
      value = JSON.parse(s);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(value) || !value.every((x) => typeof x === "string")) return undefined;
  return value.filter((x) => x.trim() !== "");
}

function read(file: string, options: RagasImportOptions = {}): ImportResult {
  const rows = readRows(file);
  const notes: ImportNote[] = [];
  const cases: ImportedCase[] = [];
  const bases: string[] = [];
  let answerAsReference = 0;
  let contextsNotLocated = 0;
  let firstUnlocated: { line: number; field: string } | undefined;
  for (const { line, row } of rows) {
    const inputField = INPUT_FIELDS.find((f) => Object.hasOwn(row, f));
    if (!inputField) throw new ImportError(file, line, "user_input", `missing: a row needs user_input (or question); its fields: ${Object.keys(row).join(", ") || "(none)"}`);
    const input = text(row[inputField]);
    if (input === undefined) throw new ImportError(file, line, inputField, "expected a non-empty string");

    let reference: string[] | undefined;
    if (Object.hasOwn(row, "reference")) reference = textList(row.reference);
    else if (Object.hasOwn(row, "ground_truth")) reference = textList(row.ground_truth);
    else if (Object.hasOwn(row, "ground_truths")) reference = textList(row.ground_truths)?.slice(0, 1);
    else if (Object.hasOwn(row, "answer")) {
      reference = textList(row.answer);
      answerAsReference++;
    }
    if (reference === undefined && ["reference", "ground_truth", "ground_truths", "answer"].some((f) => Object.hasOwn(row, f))) {
      const f = ["reference", "ground_truth", "ground_truths", "answer"].find((k) => Object.hasOwn(row, k))!;
      throw new ImportError(file, line, f, "expected a string (or a list of strings)");
    }
    if (!reference?.length) {
      notes.push({ file, line, message: "row not converted: no reference answer (reference / ground_truth), so the case would have no expectation" });
      continue;
    }

    const c: ImportedCase = { id: "", input, answer: reference, from: { file, line } };
    const contextField = CONTEXT_FIELDS.find((f) => Object.hasOwn(row, f));
    if (contextField) {
      const contexts = textList(row[contextField]);
      if (contexts === undefined) throw new ImportError(file, line, contextField, "expected a list of strings");
      const sources: string[] = [];
      for (const ctx of contexts) {
        const where = options.locateContext?.(ctx);
        if (where) {
          if (!sources.includes(where)) sources.push(where);
        } else {
          contextsNotLocated++;
          firstUnlocated ??= { line, field: contextField };
        }
      }
      if (sources.length) c.sources = sources;
    }
    cases.push(c);
    const id = text(row.id) ?? text(row._id) ?? text(row.question_id);
    bases.push(id ? slug(id) : slug(input));
  }
  uniqueIds(bases).forEach((id, i) => (cases[i].id = id));
  if (answerAsReference) {
    notes.push({ file, line: 0, field: "answer", kind: "warning", message: `taken as the expected answer in ${answerAsReference} row(s) that have no reference; in RAGAS 0.1 datasets 'answer' is the model's response — check before trusting these` });
  }
  if (contextsNotLocated) {
    notes.push({
      file,
      line: firstUnlocated?.line ?? 0,
      field: firstUnlocated?.field,
      message: `${contextsNotLocated} context text(s) not converted: ragtune's sources are document paths, and ${options.locateContext ? "these texts were not found in the project's index" : "no project index was available to find them in (run inside a ragtune project after `ragtune ingest`)"}`,
    });
  }
  return { format: "ragas", cases, notes };
}

export const ragasImporter: Importer & { read(file: string, options?: RagasImportOptions): ImportResult } = { format: "ragas", read };
