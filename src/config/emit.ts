/**
 * Generate `schema/ragtune.schema.json` (for editors) and `docs/config.md` (for people) from the
 * one zod schema, so the documentation of every option cannot drift from the code.
 */
import { z } from "zod";
import { ConfigSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://unpkg.com/ragtune/schema/ragtune.schema.json",
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
    "Editors that understand JSON Schema can validate the file with `schema/ragtune.schema.json`.",
    "Relative paths resolve from the folder holding `ragtune.yaml`. Unknown keys are errors (with a did-you-mean hint).",
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
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  const range = s.minimum !== undefined || max !== undefined ? ` (${s.minimum ?? ""}–${max ?? ""})` : "";
  return `${Array.isArray(s.type) ? s.type.join("\\|") : (s.type ?? "any")}${range}`;
}

function fmtDefault(v: unknown, required: boolean): string {
  if (v === undefined) return required ? "**required**" : "–";
  const json = JSON.stringify(v);
  return json.length > 40 ? "see schema" : `\`${json}\``;
}
