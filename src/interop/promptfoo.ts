/**
 * promptfoo → ragtune suite. Reads a promptfooconfig (YAML or JSON: `tests`, `defaultTest`, tests
 * files named by `file://`) or a tests CSV (var columns, `__expected…` assertion columns,
 * `__description`). `vars` give the input (one var: `--input-var`, else the only var, else
 * question/query/input); assertions map to expectations:
 *
 *   equals → answer · contains, icontains, contains-all, icontains-all → contains ·
 *   regex → regex · contains-any / icontains-any / starts-with → regex (built) ·
 *   is-json (value: schema) → json_schema · not-contains, not-icontains, not-regex → forbidden ·
 *   llm-rubric (CSV `grade:`) → tone.rubric (judged by the LLM tone judge)
 *
 * Code assertions (javascript, python) are refused with a message; anything else is listed as not
 * converted, with file:line. A test left without any expectation is listed, not written.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, type Node as YamlNode, type Document } from "yaml";
import { parseCsv } from "../util/csv.ts";
import {
  ImportError,
  escapeRegex,
  hasExpectation,
  regexProblem,
  slug,
  uniqueIds,
  type ImportNote,
  type ImportOptions,
  type ImportResult,
  type ImportedCase,
  type Importer,
} from "./index.ts";

interface RawAssert {
  type: string;
  value: unknown;
  line: number;
  field: string;
  transform?: boolean;
}

interface RawTest {
  file: string;
  line: number;
  field: string;
  description?: string;
  vars: Map<string, unknown>;
  asserts: RawAssert[];
}

/** Names preferred for the input when a test has several vars. */
const INPUT_VAR_NAMES = ["question", "query", "input"];

const CODE_TYPES = new Set(["javascript", "python", "fn", "webhook"]);

/** promptfoo assertion types a CSV `__expected` cell may name as `type:` (else the cell is an `equals`). */
const CSV_TYPES = new Set([
  "equals", "contains", "icontains", "contains-all", "contains-any", "icontains-all", "icontains-any", "regex", "starts-with",
  "is-json", "contains-json", "is-xml", "contains-xml", "is-html", "contains-html", "is-sql", "contains-sql",
  "javascript", "fn", "python", "webhook", "llm-rubric", "grade", "model-graded-closedqa", "factuality", "similar", "levenshtein",
  "rouge-n", "bleu", "g-eval", "answer-relevance", "context-faithfulness", "context-recall", "context-relevance",
  "classifier", "moderation", "is-refusal", "perplexity", "cost", "latency", "word-count", "finish-reason",
]);

function read(file: string, options: ImportOptions = {}): ImportResult {
  const abs = resolve(file);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ImportError(file, 0, undefined, "file not found");
  const notes: ImportNote[] = [];
  const tests = extname(abs).toLowerCase() === ".csv" ? readCsvTests(file, notes) : readConfigTests(file, notes);
  return convert(tests, notes, options);
}

// ---------------------------------------------------------------------------------------------
// Reading: config (YAML/JSON) and CSV into RawTests

class YamlFile {
  readonly lc = new LineCounter();
  readonly doc: Document;
  constructor(readonly file: string) {
    const text = readFileSync(file, "utf8");
    this.doc = parseDocument(text, { lineCounter: this.lc, uniqueKeys: false });
    const err = this.doc.errors[0];
    if (err) throw new ImportError(file, this.lc.linePos(err.pos[0]).line, undefined, `not valid YAML: ${err.message.split("\n")[0]}`);
  }
  line(path: (string | number)[]): number {
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = (p.length ? this.doc.getIn(p, true) : this.doc.contents) as YamlNode | undefined;
      if (node?.range) return this.lc.linePos(node.range[0]).line;
      if (p.length === 0) return 1;
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function readConfigTests(file: string, notes: ImportNote[]): RawTest[] {
  const y = new YamlFile(resolve(file));
  const top: unknown = y.doc.toJS();
  if (!isObject(top)) throw new ImportError(file, 1, undefined, "expected a promptfoo config (a mapping with `tests`)");
  if (top.tests === undefined) throw new ImportError(file, 1, "tests", "missing: a promptfoo config lists its test cases under `tests`");
  let defaults: RawTest | undefined;
  if (top.defaultTest !== undefined) {
    if (isObject(top.defaultTest)) defaults = testFromObject(top.defaultTest, y, ["defaultTest"], file);
    else notes.push({ file, line: y.line(["defaultTest"]), field: "defaultTest", message: "a defaultTest in another file is not read (inline it to convert its assertions)" });
  }
  const entries = Array.isArray(top.tests) ? top.tests : [top.tests];
  const tests: RawTest[] = [];
  entries.forEach((entry, i) => {
    const path: (string | number)[] = Array.isArray(top.tests) ? ["tests", i] : ["tests"];
    if (typeof entry === "string") tests.push(...testsFromReference(entry, file, y.line(path), path.join("."), notes));
    else if (isObject(entry)) tests.push(testFromObject(entry, y, path, file));
    else throw new ImportError(file, y.line(path), fieldName(path), "expected a test (a mapping with vars and assert) or a file:// path");
  });
  if (defaults) {
    for (const t of tests) {
      for (const [k, v] of defaults.vars) if (!t.vars.has(k)) t.vars.set(k, v);
      t.asserts.push(...defaults.asserts);
    }
  }
  return tests;
}

const fieldName = (path: (string | number)[]) => path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");

/** `tests: file://tests.csv` (or a YAML file of tests), relative to the config. Globs and code are listed. */
function testsFromReference(ref: string, file: string, line: number, field: string, notes: ImportNote[]): RawTest[] {
  const path = ref.replace(/^file:\/\//, "");
  const target = resolve(dirname(resolve(file)), path);
  const ext = extname(path).toLowerCase();
  if (/[*?[{]/.test(path) || !existsSync(target) || ![".csv", ".yaml", ".yml", ".json"].includes(ext)) {
    const why = /[*?[{]/.test(path) ? "globs are not expanded" : !existsSync(target) ? `file not found (${target})` : `'${ext || path}' tests are not read (CSV, YAML or JSON only)`;
    notes.push({ file, line, field, message: `tests from '${ref}' not converted: ${why}` });
    return [];
  }
  if (ext === ".csv") return readCsvTests(target, notes);
  const y = new YamlFile(target);
  const list: unknown = y.doc.toJS();
  if (!Array.isArray(list)) throw new ImportError(target, 1, undefined, "expected a list of tests");
  return list.map((t, i) => {
    if (!isObject(t)) throw new ImportError(target, y.line([i]), `[${i}]`, "expected a test (a mapping with vars and assert)");
    return testFromObject(t, y, [i], target);
  });
}

function testFromObject(t: Record<string, unknown>, y: YamlFile, path: (string | number)[], file: string): RawTest {
  const line = y.line(path);
  const field = fieldName(path);
  const vars = new Map<string, unknown>();
  if (t.vars !== undefined) {
    if (!isObject(t.vars)) throw new ImportError(file, y.line([...path, "vars"]), `${field}.vars`, "expected a mapping of var names to values");
    for (const [k, v] of Object.entries(t.vars)) vars.set(k, v);
  }
  const asserts: RawAssert[] = [];
  if (t.assert !== undefined) {
    if (!Array.isArray(t.assert)) throw new ImportError(file, y.line([...path, "assert"]), `${field}.assert`, "expected a list of assertions");
    t.assert.forEach((a, j) => {
      const ap = [...path, "assert", j];
      if (!isObject(a)) throw new ImportError(file, y.line(ap), fieldName(ap), "expected an assertion (a mapping with type and value)");
      if (typeof a.type !== "string" || a.type.trim() === "") throw new ImportError(file, y.line(ap), `${fieldName(ap)}.type`, "missing: every assertion has a type");
      asserts.push({ type: a.type.trim(), value: a.value, line: y.line(ap), field: fieldName(ap), transform: a.transform !== undefined });
    });
  }
  const description = typeof t.description === "string" && t.description.trim() ? t.description : undefined;
  return { file, line, field, description, vars, asserts };
}

/** promptfoo's tests CSV: a header of var names and `__`-columns; one test per row. */
function readCsvTests(file: string, notes: ImportNote[]): RawTest[] {
  const records = parseCsv(readFileSync(resolve(file), "utf8"), file);
  if (records.length === 0) throw new ImportError(file, 1, undefined, "empty CSV: expected a header row of var names and __expected columns");
  const [header, ...rows] = records;
  const names = header.fields.map((h) => h.trim());
  const dup = names.find((n, i) => n !== "" && names.indexOf(n) !== i);
  if (dup) throw new ImportError(file, header.line, dup, "column appears twice in the header");
  const ignored = names.filter((n) => n.startsWith("__") && !/^__expected\d*$/.test(n) && n !== "__description");
  if (ignored.length) notes.push({ file, line: header.line, message: `columns not converted: ${ignored.join(", ")}` });
  return rows.map((r) => {
    if (r.fields.length > names.length) throw new ImportError(file, r.line, undefined, `${r.fields.length} fields, but the header has ${names.length} columns`);
    const vars = new Map<string, unknown>();
    const asserts: RawAssert[] = [];
    let description: string | undefined;
    names.forEach((name, i) => {
      const cell = r.fields[i] ?? "";
      if (/^__expected\d*$/.test(name)) {
        if (cell.trim() !== "") asserts.push({ ...csvAssertion(cell), line: r.line, field: name });
      } else if (name === "__description") description = cell.trim() || undefined;
      else if (!name.startsWith("__") && name !== "") vars.set(name, cell);
    });
    return { file, line: r.line, field: `row ${r.line}`, description, vars, asserts };
  });
}

/** `contains: Paris`, `not-icontains: sorry`, `is-json`, `grade: polite` …; a cell with no known type is an `equals`. */
function csvAssertion(cell: string): { type: string; value: unknown } {
  const m = /^(not-)?([a-z][a-z0-9-]*)(?::\s?([\s\S]*))?$/.exec(cell.trim());
  if (!m || !CSV_TYPES.has(m[2]) || (m[3] === undefined && m[2] !== "is-json" && m[2] !== "is-refusal" && !m[2].startsWith("is-"))) {
    return { type: "equals", value: cell };
  }
  const base = m[2] === "grade" ? "llm-rubric" : m[2] === "fn" ? "javascript" : m[2];
  let value: unknown = m[3];
  if (base === "is-json" && typeof value === "string" && value.trim()) {
    try {
      value = JSON.parse(value);
    } catch {
      /* left as text: reported as not converted below */
    }
  }
  if ((base.endsWith("-all") || base.endsWith("-any")) && typeof value === "string") value = value.split(",").map((s) => s.trim()).filter(Boolean);
  return { type: `${m[1] ?? ""}${base}`, value };
}

// ---------------------------------------------------------------------------------------------
// Converting RawTests into cases

function chooseInputVar(tests: RawTest[], flag: string | undefined): string | undefined {
  if (tests.length === 0) return undefined;
  const all = [...new Set(tests.flatMap((t) => [...t.vars.keys()]))];
  if (flag !== undefined) {
    const t = tests.find((x) => !x.vars.has(flag));
    if (t) throw new ImportError(t.file, t.line, `${t.field}.vars`, `--input-var: no var '${flag}' in this test; its vars: ${[...t.vars.keys()].join(", ") || "(none)"}`);
    return flag;
  }
  if (all.length === 1 && tests.every((t) => t.vars.has(all[0]))) return all[0];
  const named = INPUT_VAR_NAMES.find((n) => tests.every((t) => t.vars.has(n)));
  if (named) return named;
  const t = tests[0];
  throw new ImportError(
    t.file,
    t.line,
    `${t.field}.vars`,
    all.length === 0
      ? "no vars: the tests have no input to convert"
      : `cannot tell which var is the input (vars: ${all.join(", ")}); pass --input-var NAME`,
  );
}

const asText = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined);
const asTexts = (v: unknown): string[] | undefined => {
  const list = Array.isArray(v) ? v : [v];
  const out = list.map(asText);
  return out.length > 0 && out.every((s): s is string => s !== undefined && s.trim() !== "") ? out : undefined;
};

function convert(tests: RawTest[], notes: ImportNote[], options: ImportOptions): ImportResult {
  const inputVar = chooseInputVar(tests, options.inputVar);
  const cases: ImportedCase[] = [];
  const bases: string[] = [];
  const unusedVars = new Map<string, { file: string; line: number; n: number }>();
  tests.forEach((t, i) => {
    const note = (field: string, message: string, line = t.line) => notes.push({ file: t.file, line, field, message });
    const raw = t.vars.get(inputVar!);
    const input = asText(raw);
    if (input === undefined || input.trim() === "") {
      note(`${t.field}.vars.${inputVar}`, typeof raw === "string" && /^file:\/\//.test(raw) ? "test not converted: the input is a file:// reference" : "test not converted: the input var is empty or not text");
      return;
    }
    if (/^file:\/\//.test(input)) return note(`${t.field}.vars.${inputVar}`, "test not converted: the input is a file:// reference, not text");
    for (const k of t.vars.keys()) {
      if (k === inputVar) continue;
      const u = unusedVars.get(k) ?? { file: t.file, line: t.line, n: 0 };
      u.n++;
      unusedVars.set(k, u);
    }
    const c: ImportedCase = { id: "", input, from: { file: t.file, line: t.line } };
    const rubrics: string[] = [];
    for (const a of t.asserts) applyAssertion(c, a, rubrics, (message) => notes.push({ file: t.file, line: a.line, field: a.field, message }));
    if (rubrics.length) c.tone = { rubric: rubrics.join("\n") };
    if (!hasExpectation(c)) return note(t.field, "test not converted: none of its assertions converts to a ragtune expectation");
    cases.push(c);
    bases.push(t.description ? slug(t.description) : `test-${i + 1}`);
  });
  uniqueIds(bases).forEach((id, i) => (cases[i].id = id));
  for (const [k, u] of unusedVars) notes.push({ file: u.file, line: u.line, field: `vars.${k}`, message: `var not converted (only '${inputVar}' becomes the input), in ${u.n} test(s)` });
  return { format: "promptfoo", cases, notes };
}

function applyAssertion(c: ImportedCase, a: RawAssert, rubrics: string[], note: (message: string) => void): void {
  if (a.transform) return note(`'${a.type}' not converted: it has a transform (ragtune scores the output as is)`);
  const negated = a.type.startsWith("not-");
  const base = negated ? a.type.slice(4) : a.type;
  if (CODE_TYPES.has(base)) {
    return note(`'${a.type}' refused: ragtune does not run code from a suite; express it as contains/regex/json_schema, or as an llm-rubric`);
  }
  if (typeof a.value === "string" && /^file:\/\//.test(a.value)) return note(`'${a.type}' not converted: its value is a file:// reference`);
  const setRegex = (source: string, what: string) => {
    if (c.regex !== undefined) return note(`'${what}' not converted: ragtune checks one regex per case and this test already has one`);
    const problem = regexProblem(source);
    if (problem) return note(`'${what}' not converted: ${problem}`);
    c.regex = source;
  };
  const bad = () => note(`'${a.type}' not converted: expected a text value${base.endsWith("-all") || base.endsWith("-any") ? " or a list of texts" : ""}, got ${JSON.stringify(a.value) ?? "nothing"}`);
  if (negated) {
    const values = asTexts(a.value);
    if (!values) return base === "contains" || base === "icontains" || base === "regex" ? bad() : note(`'${a.type}' not converted: no ragtune equivalent`);
    if (base === "contains" || base === "icontains") (c.forbidden ??= []).push(...values.map(escapeRegex));
    else if (base === "regex") {
      for (const v of values) {
        const problem = regexProblem(v, "i");
        if (problem) note(`'${a.type}' not converted: ${problem}`);
        else (c.forbidden ??= []).push(v);
      }
    } else note(`'${a.type}' not converted: no ragtune equivalent`);
    return;
  }
  switch (base) {
    case "equals": {
      const v = asText(a.value);
      if (v === undefined || v.trim() === "") return bad();
      (c.answer ??= []).push(v);
      return;
    }
    case "contains":
    case "icontains":
    case "contains-all":
    case "icontains-all": {
      const v = asTexts(a.value);
      if (!v) return bad();
      (c.contains ??= []).push(...v);
      return;
    }
    case "contains-any":
    case "icontains-any": {
      const v = asTexts(a.value);
      if (!v) return bad();
      return setRegex(`/(?:${v.map(escapeRegex).join("|")})/${base.startsWith("i") ? "i" : ""}`, a.type);
    }
    case "starts-with": {
      const v = asText(a.value);
      if (v === undefined || v === "") return bad();
      return setRegex(`/^${escapeRegex(v)}/`, a.type);
    }
    case "regex": {
      const v = asText(a.value);
      if (v === undefined || v === "") return bad();
      return setRegex(v, a.type);
    }
    case "is-json": {
      if (a.value === undefined || a.value === null || a.value === "") c.json_schema ??= {};
      else if (isObject(a.value)) c.json_schema = a.value;
      else return note(`'is-json' not converted: its value is not a JSON Schema object`);
      return;
    }
    case "llm-rubric": {
      const v = asText(a.value);
      if (v === undefined || v.trim() === "") return bad();
      rubrics.push(v);
      return;
    }
    default:
      return note(`'${a.type}' not converted: no ragtune equivalent (listed so nothing is dropped silently)`);
  }
}

export const promptfooImporter: Importer = { format: "promptfoo", read };
