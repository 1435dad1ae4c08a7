// Writes schema/ragtune.schema.json and docs/config.md from the zod schema (`npm run schema`).
import { writeFileSync, mkdirSync } from "node:fs";
import { configJsonSchema, configMarkdown } from "../src/config/emit.ts";

mkdirSync("schema", { recursive: true });
writeFileSync("schema/ragtune.schema.json", JSON.stringify(configJsonSchema(), null, 2) + "\n");
writeFileSync("docs/config.md", configMarkdown());
console.log("wrote schema/ragtune.schema.json and docs/config.md");
