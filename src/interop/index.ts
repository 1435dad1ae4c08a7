/**
 * interop/ — suites from the formats other eval tools use (promptfoo, RAGAS/HF rows, OpenAI Evals).
 * Each converter is one file that turns a file into `ImportedCase`s plus the list of what it could
 * not convert (with file:line), never dropping anything silently. Input that is not the format at
 * all (unparseable, a required field missing or of the wrong type) is an `ImportError` (exit 2).
 * `suiteYaml` writes the cases as a ragtune suite (docs/suite.md), which `loadSuite` reads.
 */
import { stringify } from "yaml";
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

/** The suite file: a comment naming the source, then `cases:`. */
export function suiteYaml(result: ImportResult, source: string): string {
  const cases = result.cases.map((c) => {
    const out: Record<string, unknown> = {};
    for (const k of KEY_ORDER) if (c[k] !== undefined) out[k] = c[k];
    return out;
  });
  const header = [
    `# Converted from ${source} (${result.format}) by \`ragtune import ${result.format}\`.`,
    `# ${result.cases.length} case(s)${result.notes.length ? `; ${result.notes.length} item(s) could not be converted (listed when converting)` : ""}. Format: docs/suite.md`,
  ];
  return `${header.join("\n")}\n${stringify({ cases }, { lineWidth: 0 })}`;
}
