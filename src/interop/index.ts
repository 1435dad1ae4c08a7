/**
 * interop/ — suites from the formats other eval tools use (promptfoo, RAGAS/HF rows, OpenAI Evals).
 * Each converter is one file that turns a file into `ImportedCase`s plus the list of what it could
 * not convert (with file:line), never dropping anything silently. Input that is not the format at
 * all (unparseable, a required field missing or of the wrong type) is an `ImportError` (exit 2).
 * `suiteYaml` writes the cases as a ragtune suite (docs/suite.md), which `loadSuite` reads.
 */
import { LineCounter, isMap, isSeq, parseDocument, stringify, type Node as YamlNode } from "yaml";
import { InputError } from "../util/errors.ts";
import { compileCaseRegex } from "../evaluate/scorers.ts";

/** A suite case as a converter produces it (the suite file's snake_case keys). */
export interface ImportedCase {
  id: string;
  task?: "qa";
  input: string;
  answer?: string[];
  contains?: string[];
  regex?: string;
  json_schema?: Record<string, unknown>;
  forbidden?: string[];
  tone?: { rubric: string };
  sources?: string[];
  tags?: string[];
  /** Where the case came from (not written to the suite; for messages). */
  from: { file: string; line: number };
}

/** Something in the input that was not converted, and why. */
export interface ImportNote {
  file: string;
  line: number;
  /** e.g. `tests[2].assert[1]` or `__expected2`. */
  field?: string;
  message: string;
  /** "warning": converted, but check it (e.g. a field read with a guessed meaning). Default: not converted. */
  kind?: "warning";
}

export interface ImportResult {
  /** Converter name, e.g. "promptfoo". */
  format: string;
  cases: ImportedCase[];
  notes: ImportNote[];
}

export interface ImportOptions {
  /** promptfoo: the var that holds the question. */
  inputVar?: string;
}

/** A converter: one file in, cases and notes out. */
export interface Importer {
  format: string;
  read(file: string, options?: ImportOptions): ImportResult;
}

export const formatNote = (n: ImportNote): string => `${n.file}${n.line > 0 ? `:${n.line}` : ""}: ${n.field ? `${n.field}: ` : ""}${n.message}`;

/** Input that is not the format: `file:line: field: problem`, exit 2. */
export class ImportError extends InputError {
  constructor(file: string, line: number, field: string | undefined, message: string) {
    super(formatNote({ file, line, field, message }));
    this.name = "ImportError";
  }
}

/** A case id from free text: lower-case words joined by '-', at most 60 characters. */
export function slug(text: string): string {
  return (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60)
      .replace(/-+$/, "") || "case"
  );
}

/** Unique ids: the first keeps its slug, later ones get -2, -3, … (never colliding with an id already taken). */
export function uniqueIds(bases: string[]): string[] {
  const taken = new Set<string>();
  return bases.map((b) => {
    let id = b;
    for (let n = 2; taken.has(id); n++) id = `${b}-${n}`;
    taken.add(id);
    return id;
  });
}

/** Whether `source` compiles as ragtune compiles case regexes (`extraFlags` "i" for forbidden). */
export function regexProblem(source: string, extraFlags = ""): string | undefined {
  try {
    compileCaseRegex(source, extraFlags);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A literal string as a regex source. */
export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Every case must carry an expectation the suite loader accepts; a case without one is a note, not a case. */
export function hasExpectation(c: ImportedCase): boolean {
  return Boolean(c.answer?.length || c.contains?.length || c.regex || c.json_schema || c.forbidden?.length || c.tone);
}

const KEY_ORDER = ["id", "task", "input", "answer", "contains", "regex", "json_schema", "forbidden", "tone", "sources", "tags"] as const;

/** Notes that are things left out (not warnings). */
export const notConverted = (r: ImportResult): number => r.notes.filter((n) => n.kind !== "warning").length;

/** The suite file: a comment naming the source, then `cases:`. */
export function suiteYaml(result: ImportResult, source: string): string {
  const cases = result.cases.map((c) => {
    const out: Record<string, unknown> = {};
    for (const k of KEY_ORDER) if (c[k] !== undefined) out[k] = c[k];
    return out;
  });
  const skipped = notConverted(result);
  const header = [
    `# Converted from ${source} (${result.format}) by \`ragtune import ${result.format}\`.`,
    `# ${result.cases.length} case(s)${skipped ? `; ${skipped} item(s) could not be converted (listed when converting)` : ""}. Format: docs/suite.md`,
  ];
  return `${header.join("\n")}\n${stringify({ cases }, { lineWidth: 0 })}`;
}

/** One record of a row file with the line it starts on. */
export interface SourceRow {
  line: number;
  row: Record<string, unknown>;
}

/**
 * Rows of a JSONL file (one object per line), or of a JSON file (an array of objects, or an object
 * holding one under `samples`, `data`, `rows` or `examples`). Errors name file:line.
 */
export function readJsonRows(file: string, text: string): SourceRow[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (/\.jsonl$|\.ndjson$/i.test(file)) {
    const rows: SourceRow[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      if (raw.trim() === "") return;
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch (e) {
        throw new ImportError(file, i + 1, undefined, `invalid JSON: ${(e as Error).message}`);
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ImportError(file, i + 1, undefined, "expected a JSON object per line");
      rows.push({ line: i + 1, row: v as Record<string, unknown> });
    });
    return rows;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const err = doc.errors[0];
  if (err) throw new ImportError(file, lc.linePos(err.pos[0]).line, undefined, `invalid JSON: ${err.message.split("\n")[0]}`);
  let list = doc.contents as YamlNode | null;
  let value: unknown = doc.toJS();
  if (isMap(list)) {
    const key = ["samples", "data", "rows", "examples"].find((k) => Array.isArray((value as Record<string, unknown>)[k]));
    if (!key) throw new ImportError(file, 1, undefined, "expected an array of rows (or an object with samples, data, rows or examples)");
    list = list.get(key, true) as YamlNode;
    value = (value as Record<string, unknown>)[key];
  }
  if (!isSeq(list) || !Array.isArray(value)) throw new ImportError(file, 1, undefined, "expected an array of rows");
  const items = list.items as YamlNode[];
  return (value as unknown[]).map((v, i) => {
    const line = items[i]?.range ? lc.linePos(items[i].range![0]).line : 1;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ImportError(file, line, `[${i}]`, "expected an object per row");
    return { line, row: v as Record<string, unknown> };
  });
}
