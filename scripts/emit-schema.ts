// Writes schema/ragtune.schema.json, docs/config.md and schema/openapi.json (the serve API) from the zod schemas (`npm run schema`).
import { writeFileSync, mkdirSync } from "node:fs";
import { configJsonSchema, configMarkdown } from "../src/config/emit.ts";
import { openApiDocument } from "../src/serve/openapi.ts";

mkdirSync("schema", { recursive: true });
writeFileSync("schema/ragtune.schema.json", JSON.stringify(configJsonSchema(), null, 2) + "\n");
writeFileSync("docs/config.md", configMarkdown());
writeFileSync("schema/openapi.json", JSON.stringify(openApiDocument(), null, 2) + "\n");
console.log("wrote schema/ragtune.schema.json, docs/config.md and schema/openapi.json");
