/**
 * Generate `schema/ragtune.schema.json` (for editors) and `docs/config.md` (for people) from the
 * one zod schema, so the documentation of every option cannot drift from the code.
 */
import { z } from "zod";
import { ConfigSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  // Draft 7: the newest draft yaml-language-server (the editors' YAML support) reads.
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any", target: "draft-7" }) as Record<string, unknown>;
  // No $id: the schema is not published at a URL. `ragtune init` points configs at the copy inside
  // the installed package (a file that exists on the user's machine).
  return {
    ...schema,
    title: "ragtune.yaml",
    description: "ragtune project configuration",
  };
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
};

export function configMarkdown(): string {
  const rows: string[] = [];
  const walk = (s: JsonSchema, path: string, required: Set<string>) => {
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      if (key === "$schema") continue;
      const p = path ? `${path}.${key}` : key;
      const inner = prop.type === "array" && prop.items?.properties ? prop.items : prop;
      const isObject = inner.properties && Object.keys(inner.properties).length > 0;
      if (!isObject || prop.description) {
        rows.push(`| \`${p}${prop.type === "array" && isObject ? "[]" : ""}\` | ${typeOf(prop)} | ${fmtDefault(prop.default, required.has(key))} | ${(prop.description ?? "").replace(/\|/g, "\\|")} |`);
      }
      if (isObject) walk(inner, prop.type === "array" ? `${p}[]` : p, new Set((inner as { required?: string[] }).required ?? []));
      // Maps of objects (e.g. models.providers.<name>) document their value's keys too.
      const value = prop.additionalProperties;
      if (value && typeof value === "object" && value.properties) walk(value, `${p}.<name>`, new Set((value as { required?: string[] }).required ?? []));
    }
  };
  const root = configJsonSchema() as JsonSchema & { required?: string[] };
  walk(root, "", new Set(root.required ?? []));
  return [
    "# Configuration reference (`ragtune.yaml`)",
    "",
    "Generated from `src/config/schema.ts` by `npm run schema` — do not edit by hand.",
    "Editors that understand JSON Schema can validate the file with `schema/ragtune.schema.json`",
    "(`ragtune init` writes a `# yaml-language-server: $schema=` comment pointing at the copy in the installed package).",
    "Relative paths resolve from the folder holding `ragtune.yaml`.",
    "",
    "## How values are checked",
    "",
    "Every command loads and checks the whole file first. A bad value stops the command with exit code 2 and",
    "one line per problem naming the file, the line and the key, e.g.",
    "`ragtune.yaml:14: evaluate.bootstrapSamples: must be at most 100,000, got 1000000000000`. Nothing is",
    "written or removed before the config is valid.",
    "",
    "- **Unknown keys** are errors, with a did-you-mean hint; so is `__proto__` as a key anywhere.",
    "- **Numbers** have a lower and an upper bound (the range column below); integers must be integers.",
    "- **Enumerations** list what is allowed, with a did-you-mean hint.",
    "- **Model ids** (`models.generator`, `models.judge`, `models.embedder`, `retrieval.rerank`,",
    "  `pricing.referenceModel`, the keys of `pricing.models` that contain `:`) must use a known kind;",
    "  `openai-compatible:<provider>/<model>` must name a provider declared under `models.providers`",
    "  (did-you-mean over the declared names). Model files and API keys are checked when a model is first used.",
    "  `pricing.referenceModel` must have a price (built in, or under `pricing.models`).",
    "- **Cross-field rules**: `chunking.overlapTokens` < `chunking.maxTokens`, `chunking.minTokens` ≤",
    "  `chunking.maxTokens`; `retrieval.mode: dense | hybrid` needs `models.embedder`; a fine-tuning dataset's",
    "  `trainer` must learn its `task` (classifier: classify, memoriser: qa; extract needs openai or command);",
    "  `variants` and `evaluate.judges` list each name once.",
    "- **Paths**: `storeDir`, `runsDir` and `cache.dir` must be folders or not exist yet (a file in the way is",
    "  an error); `suite` and `finetune.datasets[].file` must be files when they exist. A missing suite is",
    "  reported by `ragtune eval`, a missing dataset file by `ragtune finetune train`, each naming the key.",
    "- **Names** in `models.providers` are letters, digits, `.`, `_` and `-`; `apiKeyEnv` is an environment",
    "  variable name; `baseUrl` is an http(s) URL; strings that name something must not be empty.",
    "",
    "## Keys",
    "",
    "| key | type | default | meaning |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(" \\| ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" \\| ");
  if (s.type === "array") return `${s.items ? typeOf(s.items) : "any"}[]`;
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") return `map of ${typeOf(s.additionalProperties)}`;
  // Zod reports "no upper bound" as MAX_SAFE_INTEGER; show it as open-ended.
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : s.exclusiveMaximum !== undefined ? `<${s.exclusiveMaximum}` : undefined;
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
  const range = min !== undefined || max !== undefined ? ` (${min ?? ""}–${max ?? ""})` : "";
  return `${Array.isArray(s.type) ? s.type.join("\\|") : (s.type ?? "any")}${range}`;
}

function fmtDefault(v: unknown, required: boolean): string {
  if (v === undefined) return required ? "**required**" : "–";
  const json = JSON.stringify(v);
  return json.length > 40 ? "see schema" : `\`${json}\``;
}
