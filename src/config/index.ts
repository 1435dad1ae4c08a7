/**
 * config/ — load and validate `ragtune.yaml`.
 *
 * Errors name the file, the line and the key (`ragtune.yaml:12: retrieval.k: expected number`),
 * because a config is edited by hand and a bare "invalid config" wastes the user's time.
 */
import { readFileSync, existsSync } from "node:fs";
import { resolve, dirname } from "node:path";
import { parseDocument, LineCounter, isMap, isSeq, type Node } from "yaml";
import { ConfigSchema, type RagtuneConfig } from "./schema.ts";
import { InputError, didYouMean } from "../util/errors.ts";

export { ConfigSchema, VARIANT_NAMES, type RagtuneConfig, type VariantName, type Constraints } from "./schema.ts";

export const CONFIG_FILE = "ragtune.yaml";

export interface LoadedConfig {
  config: RagtuneConfig;
  /** Absolute path of the config file. */
  path: string;
  /** Project root: the folder holding the config; relative paths in the config resolve from it. */
  root: string;
}

/** Find the config: an explicit path, else `ragtune.yaml` in `cwd`. */
export function resolveConfigPath(explicit: string | undefined, cwd = process.cwd()): string {
  const path = resolve(cwd, explicit ?? CONFIG_FILE);
  if (!existsSync(path)) {
    throw new InputError(
      explicit
        ? `config file not found: ${path}`
        : `no ${CONFIG_FILE} in ${cwd} — run \`ragtune init\` to create one, or pass --config FILE`,
    );
  }
  return path;
}

export function loadConfig(explicit?: string, cwd = process.cwd()): LoadedConfig {
  const path = resolveConfigPath(explicit, cwd);
  const text = readFileSync(path, "utf8");
  return { config: parseConfig(text, path), path, root: dirname(path) };
}

/** Parse and validate config text; `file` is used in error messages. */
export function parseConfig(text: string, file = CONFIG_FILE): RagtuneConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new InputError(`${file}:${line}: YAML syntax error: ${e.message.split("\n")[0]}`);
  }
  const raw = doc.toJS() ?? {};
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let message = issue.message;
    let keyPath = path;
    if (issue.code === "unrecognized_keys") {
      const keys = (issue as { keys: string[] }).keys;
      const known = knownKeys(path);
      message = keys
        .map((k) => {
          const hint = didYouMean(k, known);
          return `unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ""}`;
        })
        .join("; ");
      keyPath = [...path, keys[0]];
    }
    const line = lineOf(doc.contents as Node | null, keyPath, lineCounter);
    const where = path.length ? path.join(".") : "(top level)";
    return `${file}:${line}: ${where}: ${message}`;
  });
  throw new InputError(`invalid config:\n  ${lines.join("\n  ")}`);
}

/** Keys the schema accepts at an object path, for "did you mean" hints. */
function knownKeys(path: string[]): string[] {
  // Walk the zod schema's object shapes; arrays and records are stepped through.
  let schema: any = ConfigSchema;
  for (const part of path) {
    schema = unwrap(schema);
    if (schema?.shape) schema = schema.shape[part];
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
