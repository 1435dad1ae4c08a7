/**
 * `ragtune init` writes a config whose editor schema ($schema modeline) is a file that exists on
 * this machine — the package's own schema — and that schema accepts the starter config.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { parse } from "yaml";
import { Ajv } from "ajv";
import { runCli } from "./helpers/cli.ts";
import { parseConfig } from "../src/config/index.ts";
import { SCHEMA_FILE, starterConfig } from "../src/config/template.ts";

test("init: the $schema modeline names the installed package's schema file, which exists and validates the starter config", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-init-schema-"));
  const r = await runCli(["init"], dir);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(join(dir, "ragtune.yaml"), "utf8");
  assert.doesNotMatch(text, /https?:\/\/unpkg|\$schema:\s*https?:/, "no URL of an unpublished package");
  const m = /^# yaml-language-server: \$schema=(.+)$/m.exec(text);
  assert.ok(m, "the modeline is written");
  const schemaPath = m[1].trim();
  assert.ok(isAbsolute(schemaPath), schemaPath);
  assert.ok(existsSync(schemaPath) && statSync(schemaPath).isFile(), `${schemaPath} exists`);
  assert.equal(schemaPath, SCHEMA_FILE);
  assert.match(r.stdout, new RegExp(`editors validate ragtune\\.yaml against ${SCHEMA_FILE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));

  const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
  const validate = new Ajv({ strict: false }).compile(schema);
  assert.ok(validate(parse(text)), JSON.stringify(validate.errors));
  assert.equal(validate({ sources: [{ include: "a" }], evaluate: { bootstrapSamples: 1e12 } }), false, "the schema carries the bounds");
  parseConfig(text); // and ragtune itself accepts it
});

test("starterConfig leaves the modeline out when the schema file is missing (never a dangling pointer)", () => {
  const text = starterConfig(join(tmpdir(), "no-such-dir", "ragtune.schema.json"));
  assert.doesNotMatch(text, /yaml-language-server/);
  assert.equal(parseConfig(text).name, "my-project");
});
