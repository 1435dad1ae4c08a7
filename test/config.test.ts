import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseConfig } from "../src/config/index.ts";
import { STARTER_CONFIG } from "../src/config/template.ts";
import { configJsonSchema, configMarkdown } from "../src/config/emit.ts";

test("defaults fill every section from a minimal config", () => {
  const c = parseConfig("sources:\n  - include: docs/**/*.md\n");
  assert.equal(c.retrieval.k, 5);
  assert.equal(c.chunking.maxTokens, 300);
  assert.equal(c.models.generator, "offline:extractive");
  assert.deepEqual(c.variants, ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"]);
  assert.equal(c.sources[0].version, "");
});

test("errors name the file, the line and the key", () => {
  const text = "name: x\nsources:\n  - include: a\n    verison: v2\nretrieval:\n  k: lots\n";
  assert.throws(
    () => parseConfig(text, "proj/ragtune.yaml"),
    (e: Error) => {
      assert.match(e.message, /proj\/ragtune\.yaml:4: sources\.0: unknown key 'verison' \(did you mean 'version'\?\)/);
      assert.match(e.message, /proj\/ragtune\.yaml:6: retrieval\.k: .*expected number/);
      return true;
    },
  );
});

test("a misspelt top-level section gets a hint; YAML syntax errors carry a line", () => {
  assert.throws(() => parseConfig("sources:\n  - include: a\nretreival:\n  k: 3\n"), /:3: \(top level\): unknown key 'retreival' \(did you mean 'retrieval'\?\)/);
  assert.throws(() => parseConfig("sources:\n  - include: a\n bad: [\n"), /ragtune\.yaml:\d+: YAML syntax error/);
});

test("cross-field rules: overlap must be smaller than the chunk", () => {
  assert.throws(
    () => parseConfig("sources:\n  - include: a\nchunking:\n  maxTokens: 50\n  overlapTokens: 60\n"),
    /chunking\.overlapTokens: overlapTokens must be smaller than maxTokens/,
  );
});

test("variants and constraints are validated against their enums", () => {
  assert.throws(() => parseConfig("sources:\n  - include: a\nvariants: [rag, finetuned]\n"), /:3: variants\.1/);
  assert.throws(() => parseConfig("sources:\n  - include: a\nconstraints:\n  knowledgeChange: hourly\n"), /constraints\.knowledgeChange/);
});

test("the starter config written by `init` is valid", () => {
  const c = parseConfig(STARTER_CONFIG);
  assert.equal(c.name, "my-project");
  assert.equal(c.sources[0].version, "current");
});

test("schema/ragtune.schema.json and docs/config.md are up to date (run `npm run schema`)", () => {
  const onDisk = JSON.parse(readFileSync(new URL("../schema/ragtune.schema.json", import.meta.url), "utf8"));
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(configJsonSchema())));
  assert.equal(readFileSync(new URL("../docs/config.md", import.meta.url), "utf8"), configMarkdown());
  assert.ok((onDisk.required as string[]).includes("sources"));
});
