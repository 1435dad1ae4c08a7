/**
 * config/ — load and validate `ragtune.yaml`.
 *
 * Errors name the file, the line and the key (`ragtune.yaml:12: retrieval.k: must be at most 200,
 * got 500`), because a config is edited by hand and a bare "invalid config" wastes the user's time.
 * Every value is checked when the file is loaded: types, bounds, enumerations, model ids against
 * the declared providers (schema.ts, ids.ts) and, with the project folder known, the path-valued
 * keys against the file system (paths.ts).
 */
import { readFileSync, existsSync, statSync } from "node:fs";
import { resolve, dirname } from "node:path";
import { parseDocument, LineCounter, isMap, isSeq, type Document, type Node } from "yaml";
import type { z } from "zod";
import { ConfigSchema, type RagtuneConfig } from "./schema.ts";
import { pathProblems, type ConfigProblem } from "./paths.ts";
import { InputError, didYouMean } from "../util/errors.ts";

export { ConfigSchema, VARIANT_NAMES, JUDGE_NAMES, type RagtuneConfig, type VariantName, type Constraints } from "./schema.ts";

export const CONFIG_FILE = "ragtune.yaml";

export interface LoadedConfig {
  config: RagtuneConfig;
  /** Absolute path of the config file. */
  path: string;
  /** Project root: the folder holding the config; relative paths in the config resolve from it. */
  root: string;
  /**
   * `file:line: key` of a key path (e.g. ["finetune", "datasets", 0, "file"]), for errors found
   * after loading. Absent on configs built in code.
   */
  where?: (keyPath: readonly (string | number)[]) => string;
}

/** An InputError about one config key: `ragtune.yaml:12: suite: <message>` (or just the key without line info). */
export function configKeyError(loaded: Pick<LoadedConfig, "where" | "path">, keyPath: readonly (string | number)[], message: string): InputError {
  const where = loaded.where ? loaded.where(keyPath) : `${loaded.path}: ${keyPath.join(".")}`;
  return new InputError(`${where}: ${message}`);
}

/** Find the config: an explicit path, else `ragtune.yaml` in `cwd`. */
export function resolveConfigPath(explicit: string | undefined, cwd = process.cwd()): string {
  const path = resolve(cwd, explicit ?? CONFIG_FILE);
  if (!existsSync(path)) {
    throw new InputError(
      explicit
        ? `--config: config file not found: ${path}`
        : `no ${CONFIG_FILE} in ${cwd} — run \`ragtune init\` to create one, or pass --config FILE`,
    );
  }
  if (statSync(path).isDirectory()) {
    throw new InputError(explicit ? `--config: ${path} is a folder; pass the config file (e.g. ${resolve(path, CONFIG_FILE)})` : `${path} is a folder, not a config file`);
  }
  return path;
}

export function loadConfig(explicit?: string, cwd = process.cwd()): LoadedConfig {
  const path = resolveConfigPath(explicit, cwd);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const root = dirname(path);
  const parsed = parseWithLines(text, path);
  const problems = pathProblems(parsed.config, root);
  if (problems.length) throw parsed.error(problems);
  return { config: parsed.config, path, root, where: parsed.where };
}

/** Parse and validate config text; `file` is used in error messages. */
export function parseConfig(text: string, file = CONFIG_FILE): RagtuneConfig {
  return parseWithLines(text, file).config;
}

interface Parsed {
  config: RagtuneConfig;
  where: (keyPath: readonly (string | number)[]) => string;
  /** The InputError listing these problems, each as `file:line: key: message`. */
  error: (problems: ConfigProblem[]) => InputError;
}

function parseWithLines(text: string, file: string): Parsed {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new InputError(`${file}:${line}: YAML syntax error: ${e.message.split("\n")[0]}`);
  }
  const lineAt = (keyPath: readonly (string | number)[]) => lineOf(doc.contents as Node | null, keyPath.map(String), lineCounter);
  const keyName = (keyPath: readonly (string | number)[]) => (keyPath.length ? keyPath.join(".") : "(top level)");
  const where = (keyPath: readonly (string | number)[]) => `${file}:${lineAt(keyPath)}: ${keyName(keyPath)}`;
  const line = (p: ConfigProblem) => `${file}:${lineAt(p.linePath ?? p.path)}: ${keyName(p.path)}: ${p.message}`;
  const error = (problems: ConfigProblem[]) =>
    new InputError(problems.length === 1 ? `invalid config: ${line(problems[0])}` : `invalid config:\n  ${problems.map(line).join("\n  ")}`);

  const raw = toPlain(doc);
  if (raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    throw error([{ path: [], message: `expected a mapping of keys (name, sources, retrieval, …), got ${describe(raw)}` }]);
  }
  const forbidden = forbiddenKeys(raw, []);
  if (forbidden.length) throw error(forbidden);
  const result = ConfigSchema.safeParse(raw ?? {});
  if (result.success) return { config: result.data, where, error };
  throw error(result.error.issues.map((issue) => describeIssue(issue, raw)));
}

function toPlain(doc: Document): unknown {
  return doc.toJS({ maxAliasCount: 100 }) ?? null;
}

/** `__proto__` as a key would reach Object.prototype in code that copies the config: refused by name. */
function forbiddenKeys(value: unknown, path: (string | number)[]): ConfigProblem[] {
  if (typeof value !== "object" || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => forbiddenKeys(v, [...path, i]));
  const out: ConfigProblem[] = [];
  for (const key of Object.keys(value)) {
    if (key === "__proto__") out.push({ path: [...path, key], message: "'__proto__' is not allowed as a key" });
    else out.push(...forbiddenKeys((value as Record<string, unknown>)[key], [...path, key]));
  }
  return out;
}

/** The value at a key path of the parsed YAML (own properties only). */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const part of path) {
    if (typeof v !== "object" || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[part];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return `'${v.length > 60 ? `${v.slice(0, 57)}…` : v}'`;
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/** One zod issue as a problem at its key path, in words that say what is allowed. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): ConfigProblem {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  const value = valueAt(raw, issue.path);
  const got = `got ${describe(value)}`;
  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownKeys(path.map(String));
      const message = issue.keys
        .map((k) => {
          const hint = didYouMean(k, known);
          return `unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ""}`;
        })
        .join("; ");
      // The line is the unknown key's own; the key named is the section holding it.
      return { path, linePath: [...path, issue.keys[0]], message };
    }
    case "too_big": {
      const max = Number(issue.maximum);
      if (issue.origin === "string") return { path, message: `is longer than ${max} characters` };
      if (issue.origin === "array") return { path, message: `lists more than ${max} items` };
      return { path, message: `must be ${issue.inclusive === false ? "below" : "at most"} ${fmtNumber(max)}, ${got}` };
    }
    case "too_small": {
      const min = Number(issue.minimum);
      if (issue.origin === "string") return { path, message: min <= 1 ? "must not be empty" : `must be at least ${min} characters` };
      if (issue.origin === "array") return { path, message: `needs at least ${min} item${min === 1 ? "" : "s"}` };
      return { path, message: `must be ${issue.inclusive === false ? "above" : "at least"} ${fmtNumber(min)}, ${got}` };
    }
    case "invalid_type": {
      if (value === undefined && !hasKey(raw, issue.path)) return { path, message: `is required (expected ${issue.expected})` };
      if (issue.expected === "int") return { path, message: `expected an integer, ${got}` };
      return { path, message: `expected ${issue.expected}, ${got}` };
    }
    case "invalid_value": {
      const allowed = issue.values.map(String);
      const hint = typeof value === "string" ? didYouMean(value, allowed) : undefined;
      return { path, message: `${describe(value)} is not one of: ${allowed.join(", ")}${hint ? ` (did you mean '${hint}'?)` : ""}` };
    }
    case "invalid_union": {
      // What each alternative expects, e.g. "expected number or one of: auto; got 'lots'".
      const expects = issue.errors.map((branch) =>
        branch
          .map((i) =>
            i.code === "invalid_type" ? (i.expected === "array" ? "a list" : i.expected === "int" ? "an integer" : i.expected) : i.code === "invalid_value" ? `one of: ${i.values.map(String).join(", ")}` : i.message,
          )
          .join(", "),
      );
      return { path, message: `expected ${[...new Set(expects)].join(" or ")}; ${got}` };
    }
    case "invalid_key": {
      const key = String(issue.path[issue.path.length - 1] ?? "");
      return { path, message: `invalid key '${key}': ${issue.issues.map((i) => i.message).join("; ")}` };
    }
    default:
      return { path, message: issue.message };
  }
}

function hasKey(raw: unknown, path: readonly PropertyKey[]): boolean {
  const parent = valueAt(raw, path.slice(0, -1));
  return typeof parent === "object" && parent !== null && Object.hasOwn(parent, path[path.length - 1]);
}

const fmtNumber = (n: number) => (Number.isInteger(n) && Math.abs(n) >= 10_000 ? n.toLocaleString("en-US") : String(n));

/** Keys the schema accepts at an object path, for "did you mean" hints. */
function knownKeys(path: string[]): string[] {
  // Walk the zod schema's object shapes; arrays and records are stepped through.
  let schema: any = ConfigSchema;
  for (const part of path) {
    schema = unwrap(schema);
    if (schema?.shape) schema = Object.hasOwn(schema.shape, part) ? schema.shape[part] : undefined;
    else if (schema?.element) schema = schema.element;
    else if (schema?.valueType) schema = schema.valueType;
    else return [];
  }
  schema = unwrap(schema);
  if (schema?.element) schema = unwrap(schema.element);
  return schema?.shape ? Object.keys(schema.shape) : [];
}

function unwrap(schema: any): any {
  let s = schema;
  for (let i = 0; i < 10 && s; i++) {
    const def = s._zod?.def ?? s.def;
    if (def?.innerType) s = def.innerType;
    else if (def?.in && def?.type === "pipe") s = def.in;
    else break;
  }
  return s;
}

/** 1-based line of the YAML node at `path` (falls back to the nearest existing ancestor). */
function lineOf(root: Node | null, path: string[], lc: LineCounter): number {
  let node: any = root;
  let line = node?.range ? lc.linePos(node.range[0]).line : 1;
  for (const part of path) {
    if (isMap(node)) {
      const pair: any = node.items.find((p: any) => String(p.key?.value ?? p.key) === part);
      if (!pair) break;
      const keyRange = pair.key?.range;
      if (keyRange) line = lc.linePos(keyRange[0]).line;
      node = pair.value;
    } else if (isSeq(node)) {
      const item: any = node.items[Number(part)];
      if (!item) break;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else break;
  }
  return line;
}
