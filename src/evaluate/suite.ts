/**
 * Suite loading: YAML (`.yaml`/`.yml`) or JSONL (`.jsonl`) files of cases, with includes, declared
 * labels, named JSON Schemas and defaults. Validation is strict (unknown keys are errors, with a
 * "did you mean") and collects every problem before throwing one `SuiteError`, so a user fixes a
 * suite in one pass instead of one error per run. Every message is `file:line: case 'id': field
 * 'name': problem`, with the line of the offending YAML node (or JSONL line). Format: docs/suite.md.
 */
import { readFileSync, existsSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node as YamlNode } from "yaml";
import { globSync, isDynamicPattern } from "tinyglobby";
import type { LabelSpec, TaskKind } from "../models/index.ts";
import type { Suite, SuiteCase } from "./types.ts";
import { InputError } from "../util/errors.ts";
import { compileCaseRegex, compileSchema } from "./scorers.ts";

// ---------------------------------------------------------------------------------------------
// Errors

export interface SuiteIssue {
  file: string;
  /** 1-based; 0 when the problem is the file as a whole (e.g. it cannot be read). */
  line: number;
  caseId?: string;
  field?: string;
  /** The problem itself; `formatIssue` adds the location. */
  message: string;
}

/** `<file>:<line>: case '<id>': field '<name>': <problem>` (case/field parts only when known). */
export function formatIssue(i: SuiteIssue): string {
  let s = i.line > 0 ? `${i.file}:${i.line}: ` : `${i.file}: `;
  if (i.caseId !== undefined) s += `case '${i.caseId}': `;
  if (i.field !== undefined) s += `field '${i.field}': `;
  return s + i.message;
}

/** Every problem found in a suite (and the files it includes), one per line of `message`. */
export class SuiteError extends InputError {
  readonly issues: SuiteIssue[];
  constructor(issues: SuiteIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "SuiteError";
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------
// "Did you mean"

/** Edit distance counting an adjacent transposition as one edit ("abstian" → "abstain"), the commonest typo. */
function typoDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

const sortedLetters = (s: string) => [...s].sort().join("");

/**
 * The closest candidate to a misspelt word, or undefined when nothing is close. Ties go to a
 * candidate with the same letters (a transposition: "taks" → "task", not "tags").
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { c: string; d: number; anagram: boolean } | undefined;
  for (const c of candidates) {
    const d = typoDistance(w, c.toLowerCase());
    const anagram = sortedLetters(w) === sortedLetters(c.toLowerCase());
    if (!best || d < best.d || (d === best.d && anagram && !best.anagram)) best = { c, d, anagram };
  }
  return best && best.d > 0 && best.d <= Math.max(2, Math.floor(w.length / 3)) ? best.c : undefined;
}

// ---------------------------------------------------------------------------------------------
// Schemas (zod): the accepted shape of a case and of a suite file's top level.

export const TASKS = ["qa", "classify", "extract"] as const;

/** Numbers are accepted where a string is meant (`answer: 12`), since YAML turns them into numbers. */
const text = z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string().min(1));
const nonBlank = z.string().refine((s) => s.trim().length > 0, { error: "must not be empty" });
/** A single value or a list of values, always a non-empty list after parsing. */
const listOf = <T extends z.ZodType>(item: T) => z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item).min(1));

const compiles = (flags: string) => (s: string, ctx: z.RefinementCtx) => {
  try {
    compileCaseRegex(s, flags);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}` });
  }
};

const ToneSchema = z
  .object({
    must_include: listOf(nonBlank).optional(),
    must_not_include: listOf(nonBlank).optional(),
    /** Free-text rubric for the LLM tone judge. */
    rubric: nonBlank.optional(),
  })
  .strict()
  .refine((t) => t.must_include !== undefined || t.must_not_include !== undefined || t.rubric !== undefined, {
    error: "needs must_include, must_not_include or rubric",
  });

export const CaseSchema = z
  .object({
    id: z.preprocess((v) => (typeof v === "number" ? String(v) : v), nonBlank),
    task: z.enum(TASKS).optional(),
    input: nonBlank,
    answer: listOf(text).optional(),
    contains: listOf(text).optional(),
    regex: z.string().min(1).superRefine(compiles("")).optional(),
    sources: listOf(nonBlank).optional(),
    must_abstain: z.boolean().optional(),
    stale_answers: listOf(text).optional(),
    json_schema: z
      .union([z.record(z.string(), z.unknown()), nonBlank], {
        error: "expected a JSON Schema object, the name of a schema under `schemas:`, or a path to a .json file",
      })
      .optional(),
    expected_json: z.record(z.string(), z.unknown()).optional(),
    label: nonBlank.optional(),
    forbidden: listOf(z.string().min(1).superRefine(compiles("i"))).optional(),
    tone: ToneSchema.optional(),
    policies: listOf(nonBlank).optional(),
    human: z.enum(["pass", "fail"]).optional(),
    tags: listOf(nonBlank).optional(),
  })
  .strict();

/** `- billing` is shorthand for `- {name: billing}`. */
const LabelSchema = z.preprocess(
  (v) => (typeof v === "string" ? { name: v } : v),
  z.object({ name: nonBlank, description: z.string().optional() }).strict(),
);

const TopSchema = z
  .object({
    include: listOf(nonBlank).optional(),
    labels: z.array(LabelSchema).optional(),
    schemas: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    defaults: z.object({ task: z.enum(TASKS).optional(), tags: listOf(nonBlank).optional() }).strict().optional(),
    /** Policy rules (in words) for the LLM policy judge, applied to every case of the suite. */
    policies: listOf(nonBlank).optional(),
    cases: z.array(z.unknown()).optional(),
  })
  .strict();

const CASE_FIELDS = Object.keys(CaseSchema.shape);
const TOP_FIELDS = Object.keys(TopSchema.shape);
const KNOWN_KEYS: ReadonlyMap<string, string[]> = new Map([
  ["", CASE_FIELDS],
  ["tone", ["must_include", "must_not_include", "rubric"]],
  ["defaults", ["task", "tags"]],
  ["labels", ["name", "description"]],
]);

// ---------------------------------------------------------------------------------------------
// Loading

/** Where values sit in a file: a line for any path of keys/indexes below a case (or the top). */
type Locate = (path: PropertyKey[]) => number;

interface PendingCase {
  c: SuiteCase;
  locate: Locate;
  /** A `json_schema` given by name, resolved once every included file's `schemas` are known. */
  schemaName?: string;
  fileOrder: number;
}

interface LoadState {
  issues: (SuiteIssue & { order: number })[];
  files: string[];
  cases: PendingCase[];
  labels: { spec: LabelSpec; file: string; line: number }[];
  schemas: Map<string, { schema: Record<string, unknown>; file: string; line: number }>;
  /** Every case id seen, valid case or not, for the duplicate check. */
  ids: { id: string; file: string; line: number }[];
  /** Suite-level policies from every file, in load order. */
  policies: string[];
}

/** Load and validate a suite file with everything it includes. Throws `SuiteError` listing every problem. */
export function loadSuite(path: string): Suite {
  const abs = resolve(path);
  const st: LoadState = { issues: [], files: [], cases: [], labels: [], schemas: new Map(), ids: [], policies: [] };
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new SuiteError([{ file: displayPath(abs), line: 0, message: "suite file not found" }]);
  }
  loadFile(abs, st);
  finish(abs, st);
  if (st.issues.length > 0) {
    const sorted = [...st.issues].sort((a, b) => a.order - b.order || a.line - b.line);
    throw new SuiteError(sorted.map(({ order: _order, ...i }) => i));
  }
  const declared = dedupeLabels(st.labels.map((l) => l.spec));
  const labels =
    declared.length > 0
      ? declared
      : [...new Set(st.cases.map((p) => p.c.label).filter((l): l is string => l !== undefined))].map((name) => ({ name }));
  const suite: Suite = { path, labels, cases: st.cases.map((p) => p.c) };
  const policies = [...new Set(st.policies)];
  if (policies.length > 0) suite.policies = policies;
  return suite;
}

/** Paths in messages: relative to the working directory when inside it, so they are clickable and short. */
function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

function addIssue(st: LoadState, file: string, issue: Omit<SuiteIssue, "file">): void {
  const order = Math.max(0, st.files.indexOf(file));
  st.issues.push({ file: displayPath(file), ...issue, order });
}

function loadFile(abs: string, st: LoadState): void {
  if (st.files.includes(abs)) return; // included twice (or a cycle): its cases are already in
  st.files.push(abs);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    addIssue(st, abs, { line: 0, message: `cannot read file: ${(e as Error).message}` });
    return;
  }
  const ext = extname(abs).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") loadYaml(abs, text, st);
  else if (ext === ".jsonl") loadJsonl(abs, text, st);
  else addIssue(st, abs, { line: 0, message: `unsupported suite format '${ext}' (use .yaml, .yml or .jsonl)` });
}

function loadJsonl(abs: string, text: string, st: LoadState): void {
  const lines = text.split(/\r?\n/);
  let n = 0;
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    n++;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      addIssue(st, abs, { line, message: `invalid JSON: ${(e as Error).message}` });
      return;
    }
    parseCase(value, n, abs, () => line, line, {}, st);
  });
}

function loadYaml(abs: string, text: string, st: LoadState): void {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  // Errors at end-of-input point one past the last line; clamp so the location is a real line.
  const lastLine = Math.max(1, text.replace(/\s+$/, "").split("\n").length);
  const lineAt = (offset: number) => Math.min(lc.linePos(offset).line, lastLine);
  if (doc.errors.length > 0) {
    // A syntax error makes the rest of the structure unreliable: report it and stop on this file.
    for (const e of doc.errors) addIssue(st, abs, { line: lineAt(e.pos[0]), message: `YAML syntax error: ${e.message.split("\n")[0]}` });
    return;
  }
  const root = doc.contents as YamlNode | null;
  if (root === null || (isScalar(root) && root.value === null)) return; // empty file: no cases
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  const nodeLine = (node: unknown) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineAt(range[0]) : 1;
  };
  const locateIn =
    (base: unknown): Locate =>
    (path) => {
      let cur: unknown = base;
      let line = nodeLine(base);
      for (const seg of path) {
        if (isMap(cur)) {
          const pair = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) break;
          line = nodeLine(pair.key);
          cur = pair.value;
          if (cur === null) break;
        } else if (isSeq(cur) && typeof seg === "number" && cur.items[seg] !== undefined) {
          cur = cur.items[seg];
          line = nodeLine(cur);
        } else break;
      }
      return line;
    };
  const locateRoot = locateIn(root);

  let caseNodes: { node: unknown; value: unknown }[] = [];
  let defaults: Defaults = {};
  if (isSeq(root)) {
    caseNodes = root.items.map((node, i) => ({ node, value: (data as unknown[])[i] }));
  } else if (isMap(root)) {
    const parsed = TopSchema.safeParse(data);
    if (!parsed.success) {
      for (const iss of withoutEchoes(parsed.error.issues)) reportZodIssue(st, abs, iss, data, locateRoot, undefined, TOP_FIELDS);
    }
    // Sections are used one by one, so a mistake in one (say `labels`) does not hide the cases' own errors.
    const obj = data as Record<string, unknown>;
    const section = <K extends keyof typeof TopSchema.shape>(key: K): z.infer<(typeof TopSchema.shape)[K]> | undefined => {
      const r = TopSchema.shape[key].safeParse(obj[key]);
      return r.success ? (r.data as z.infer<(typeof TopSchema.shape)[K]>) : undefined;
    };
    const top = {
      include: section("include"),
      labels: section("labels"),
      schemas: section("schemas"),
      defaults: section("defaults"),
      policies: section("policies"),
    };
    defaults = { task: top.defaults?.task, tags: top.defaults?.tags };

    for (const [i, inc] of (top.include ?? []).entries()) includeFiles(abs, inc, locateRoot(["include", i]), st);
    st.policies.push(...(top.policies ?? []).map((p) => p.trim()));
    for (const [i, spec] of (top.labels ?? []).entries()) {
      st.labels.push({ spec, file: abs, line: locateRoot(["labels", i]) });
    }
    for (const [name, schema] of Object.entries(top.schemas ?? {})) {
      const line = locateRoot(["schemas", name]);
      const prev = st.schemas.get(name);
      if (prev) {
        addIssue(st, abs, { line, field: `schemas.${name}`, message: `schema '${name}' is already defined at ${displayPath(prev.file)}:${prev.line}` });
        continue;
      }
      const err = schemaError(schema);
      if (err) addIssue(st, abs, { line, field: `schemas.${name}`, message: err });
      else st.schemas.set(name, { schema, file: abs, line });
    }
    // Only a valid `cases` list can be walked; if it was invalid the zod issue says so.
    const casesNode = root.get("cases", true);
    const casesData = (data as Record<string, unknown>).cases;
    if (isSeq(casesNode) && Array.isArray(casesData)) {
      caseNodes = casesNode.items.map((node, i) => ({ node, value: casesData[i] }));
    }
  } else {
    addIssue(st, abs, { line: nodeLine(root), message: "expected a list of cases, or a mapping with `cases:` (and optional include, labels, schemas, defaults, policies)" });
    return;
  }
  caseNodes.forEach(({ node, value }, i) => parseCase(value, i + 1, abs, locateIn(node), nodeLine(node), defaults, st));
}

/** Resolve one `include:` entry (a path or glob relative to the including file) and load what it names. */
function includeFiles(fromFile: string, spec: string, line: number, st: LoadState): void {
  const dir = dirname(fromFile);
  const field = "include";
  let targets: string[];
  if (isDynamicPattern(spec)) {
    targets = globSync(spec, { cwd: dir, absolute: true, onlyFiles: true })
      .map((p) => resolve(p))
      .filter((p) => /\.(ya?ml|jsonl)$/i.test(p) && p !== fromFile)
      .sort();
    if (targets.length === 0) {
      addIssue(st, fromFile, { line, field, message: `'${spec}' matched no .yaml, .yml or .jsonl files` });
      return;
    }
  } else {
    const target = resolve(dir, spec);
    if (!existsSync(target) || !statSync(target).isFile()) {
      addIssue(st, fromFile, { line, field, message: `included file '${spec}' not found (looked for ${displayPath(target)})` });
      return;
    }
    if (!/\.(ya?ml|jsonl)$/i.test(target)) {
      addIssue(st, fromFile, { line, field, message: `cannot include '${spec}': suite files are .yaml, .yml or .jsonl` });
      return;
    }
    targets = [target];
  }
  for (const t of targets) loadFile(t, st);
}

interface Defaults {
  task?: TaskKind;
  tags?: string[];
}

const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : typeof v);

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function fieldName(path: PropertyKey[]): string | undefined {
  if (path.length === 0) return undefined;
  return path.reduce<string>((s, seg) => (typeof seg === "number" ? `${s}[${seg}]` : s === "" ? String(seg) : `${s}.${String(seg)}`), "");
}

/** Turn a zod issue into a located SuiteIssue with a message written for suite authors. */
function reportZodIssue(
  st: LoadState,
  file: string,
  iss: z.core.$ZodIssue,
  data: unknown,
  locate: Locate,
  caseId: string | undefined,
  topKeys: string[],
): void {
  const path = iss.path as PropertyKey[];
  if (iss.code === "unrecognized_keys") {
    const parentKey = path.filter((p) => typeof p === "string").join(".");
    const known = parentKey === "" ? topKeys : KNOWN_KEYS.get(parentKey) ?? KNOWN_KEYS.get(String(path[0])) ?? [];
    for (const key of iss.keys) {
      const hint = didYouMean(key, known);
      addIssue(st, file, {
        line: locate([...path, key]),
        caseId,
        field: fieldName([...path, key]),
        message: hint ? `unknown field; did you mean '${hint}'?` : `unknown field (allowed: ${known.join(", ")})`,
      });
    }
    return;
  }
  const value = valueAt(data, path);
  let message: string;
  switch (iss.code) {
    case "invalid_type":
      message = value === undefined ? "is required" : `expected ${article(iss.expected)}, got ${typeName(value)}`;
      break;
    case "invalid_value": {
      const allowed = iss.values.map(String);
      const hint = typeof value === "string" ? didYouMean(value, allowed) : undefined;
      message = `must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})${hint ? `; did you mean '${hint}'?` : ""}`;
      break;
    }
    case "too_small":
      message = "must not be empty";
      break;
    default:
      message = iss.message;
  }
  addIssue(st, file, { line: locate(path), caseId, field: fieldName(path), message });
}

/** Drop a refinement's complaint about an object that already has an unknown key: the typo is the one problem. */
function withoutEchoes(issues: z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const unknownAt = new Set(issues.filter((i) => i.code === "unrecognized_keys").map((i) => JSON.stringify(i.path)));
  return issues.filter((i) => i.code !== "custom" || !unknownAt.has(JSON.stringify(i.path)));
}

const article = (t: string) => (t === "array" ? "a list" : t === "object" || t === "record" ? "a mapping" : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

function schemaError(schema: Record<string, unknown>): string | undefined {
  try {
    compileSchema(schema);
    return undefined;
  } catch (e) {
    return `invalid JSON Schema: ${(e as Error).message}`;
  }
}

const EXPECTATIONS = ["answer", "contains", "regex", "must_abstain", "json_schema", "expected_json", "label", "forbidden", "tone"] as const;

function parseCase(value: unknown, index: number, file: string, locate: Locate, line: number, defaults: Defaults, st: LoadState): void {
  const fallbackId = `#${index}`;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    addIssue(st, file, { line, caseId: fallbackId, message: `expected a mapping of case fields, got ${typeName(value)}` });
    return;
  }
  const rawId = (value as Record<string, unknown>).id;
  const hasId = (typeof rawId === "string" && rawId.trim() !== "") || typeof rawId === "number";
  const caseId = hasId ? String(rawId) : fallbackId;
  // Recorded before validation so a duplicate of an invalid case is still reported.
  if (hasId) st.ids.push({ id: caseId, file, line: locate(["id"]) });
  const parsed = CaseSchema.safeParse(value);
  if (!parsed.success) {
    for (const iss of withoutEchoes(parsed.error.issues)) reportZodIssue(st, file, iss, value, locate, caseId, CASE_FIELDS);
    return;
  }
  const d = parsed.data;
  const issue = (field: string | undefined, message: string, at?: number) =>
    addIssue(st, file, { line: at ?? (field ? locate([field]) : line), caseId, field, message });

  const task: TaskKind = d.task ?? defaults.task ?? "qa";
  const tags = [...new Set([...(defaults.tags ?? []), ...(d.tags ?? [])])];
  const needsLabel = task === "classify" && d.label === undefined;
  const needsSchema = task === "extract" && d.json_schema === undefined;
  if (needsLabel) issue("label", "classify cases need a label", line);
  if (needsSchema) issue("json_schema", "extract cases need a json_schema", line);
  const has = (k: (typeof EXPECTATIONS)[number]) => (k === "must_abstain" ? d.must_abstain === true : d[k] !== undefined);
  // A classify/extract case without its label/schema already has the more precise message.
  if (!needsLabel && !needsSchema && !EXPECTATIONS.some(has)) {
    issue(undefined, `needs at least one expectation (${EXPECTATIONS.join(", ").replace("must_abstain", "must_abstain: true")})`);
  }

  let schema: Record<string, unknown> | undefined;
  let schemaName: string | undefined;
  if (typeof d.json_schema === "object") {
    const err = schemaError(d.json_schema);
    if (err) issue("json_schema", err);
    else schema = d.json_schema;
  } else if (typeof d.json_schema === "string") {
    const ref = d.json_schema.trim();
    if (/\.json$/i.test(ref) || /[\\/]/.test(ref)) {
      const target = resolve(dirname(file), ref);
      try {
        const loaded: unknown = JSON.parse(readFileSync(target, "utf8"));
        if (loaded === null || typeof loaded !== "object" || Array.isArray(loaded)) issue("json_schema", `schema file '${ref}' does not hold a JSON object`);
        else {
          const err = schemaError(loaded as Record<string, unknown>);
          if (err) issue("json_schema", `${err} (in '${ref}')`);
          else schema = loaded as Record<string, unknown>;
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        issue("json_schema", code === "ENOENT" ? `schema file '${ref}' not found (looked for ${displayPath(target)})` : `cannot load schema file '${ref}': ${(e as Error).message}`);
      }
    } else schemaName = ref;
  }

  const c: SuiteCase = { id: d.id, task, input: d.input, file: displayPath(file), line };
  if (d.answer) c.answer = d.answer;
  if (d.contains) c.contains = d.contains;
  if (d.regex !== undefined) c.regex = d.regex;
  if (d.sources) c.sources = d.sources;
  if (d.must_abstain !== undefined) c.must_abstain = d.must_abstain;
  if (d.stale_answers) c.stale_answers = d.stale_answers;
  if (schema) c.json_schema = schema;
  if (d.expected_json) c.expected_json = d.expected_json;
  if (d.label !== undefined) c.label = d.label;
  if (d.forbidden) c.forbidden = d.forbidden;
  if (d.tone) c.tone = d.tone;
  if (d.policies) c.policies = d.policies.map((p) => p.trim());
  if (d.human !== undefined) c.human = d.human;
  if (tags.length > 0) c.tags = tags;
  st.cases.push({ c, locate, schemaName, fileOrder: st.files.indexOf(file) });
}

function dedupeLabels(labels: LabelSpec[]): LabelSpec[] {
  const seen = new Map<string, LabelSpec>();
  for (const l of labels) if (!seen.has(l.name)) seen.set(l.name, l);
  return [...seen.values()];
}

/** Checks that need every file loaded: schema names, declared labels, unique ids, a non-empty suite. */
function finish(rootAbs: string, st: LoadState): void {
  const fileOf = (p: PendingCase) => st.files[p.fileOrder];

  // The same label in two files is a merge; twice in one file is a slip worth pointing out.
  const labelSeen = new Map<string, number>();
  for (const l of st.labels) {
    const key = `${l.file}\u0000${l.spec.name}`;
    const prevLine = labelSeen.get(key);
    if (prevLine !== undefined) {
      addIssue(st, l.file, { line: l.line, field: "labels", message: `label '${l.spec.name}' is declared twice (also at line ${prevLine})` });
    } else labelSeen.set(key, l.line);
  }
  const declared = [...new Set(st.labels.map((l) => l.spec.name))];

  const names = [...st.schemas.keys()];
  for (const p of st.cases) {
    const { c } = p;
    if (p.schemaName !== undefined) {
      const found = st.schemas.get(p.schemaName);
      if (found) c.json_schema = found.schema;
      else {
        const hint = didYouMean(p.schemaName, names);
        const known = names.length ? `declared: ${names.join(", ")}` : "no schemas are declared; use an inline object, a `schemas:` entry or a path to a .json file";
        addIssue(st, fileOf(p), {
          line: p.locate(["json_schema"]),
          caseId: c.id,
          field: "json_schema",
          message: `unknown schema '${p.schemaName}'${hint ? `; did you mean '${hint}'?` : ""} (${known})`,
        });
      }
    }
    if (c.label !== undefined && declared.length > 0 && !declared.includes(c.label)) {
      const hint = didYouMean(c.label, declared);
      addIssue(st, fileOf(p), {
        line: p.locate(["label"]),
        caseId: c.id,
        field: "label",
        message: `'${c.label}' is not a declared label${hint ? `; did you mean '${hint}'?` : ""} (labels: ${declared.join(", ")})`,
      });
    }
  }
  const firstById = new Map<string, { file: string; line: number }>();
  for (const at of st.ids) {
    const first = firstById.get(at.id);
    if (first) {
      addIssue(st, at.file, { line: at.line, caseId: at.id, field: "id", message: `duplicate id: also defined at ${displayPath(first.file)}:${first.line}` });
    } else firstById.set(at.id, at);
  }
  if (st.cases.length === 0 && st.issues.length === 0) addIssue(st, rootAbs, { line: 0, message: "the suite has no cases" });
}
