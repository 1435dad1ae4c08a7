/**
 * promptfoo import: config and CSV fixtures convert to suites that ragtune's own loader accepts;
 * every assertion is mapped or listed with file:line; bad input is exit 2 naming file, line, field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promptfooImporter } from "../src/interop/promptfoo.ts";
import { formatNote, suiteYaml, type ImportResult } from "../src/interop/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { scoreCase } from "../src/evaluate/scorers.ts";
import type { Suite } from "../src/evaluate/types.ts";
import { runCli } from "./helpers/cli.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/interop/", import.meta.url));
const CONFIG = join(FIXTURES, "promptfooconfig.yaml");
const CSV = join(FIXTURES, "tests.csv");

/** Write the converted suite and read it back with the suite loader `ragtune eval` uses. */
function load(result: ImportResult): Suite {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-pf-"));
  writeFileSync(join(dir, "suite.yaml"), suiteYaml(result, "x"));
  return loadSuite(join(dir, "suite.yaml"));
}

const notesText = (r: ImportResult) => r.notes.map(formatNote).join("\n");

test("promptfoo config: vars → input, assertions → expectations, defaultTest applied; the suite loads", () => {
  const r = promptfooImporter.read(CONFIG);
  const suite = load(r);
  const byId = new Map(suite.cases.map((c) => [c.id, c]));
  assert.deepEqual([...byId.keys()], ["refund-window-annual-plan", "refund-window-annual-plan-2", "export-format-csv", "test-4", "test-5"]);
  const refund = byId.get("refund-window-annual-plan")!;
  assert.equal(refund.input, "Within how many days can I get a refund on an annual plan?");
  assert.equal(refund.task, "qa");
  assert.deepEqual(refund.contains, ["30 days"]);
  assert.deepEqual(refund.forbidden, ["14 days", "As an AI"], "not-contains and the defaultTest's not-icontains");
  const money = byId.get("refund-window-annual-plan-2")!;
  assert.deepEqual(money.answer, ["Yes, within 30 days of payment."]);
  assert.equal(money.tone?.rubric, "Polite, names the 30-day window, offers a next step");
  assert.equal(byId.get("export-format-csv")!.regex, "\\b(CSV|JSON)\\b");
  assert.deepEqual(byId.get("test-4")!.json_schema, { type: "object", required: ["email", "plan"] });
});

test("promptfoo config: what is not converted is listed with file:line — code refused, unknown types, extra vars", () => {
  const text = notesText(promptfooImporter.read(CONFIG));
  const lines = readFileSync(CONFIG, "utf8").split("\n");
  const lineOf = (s: string) => lines.findIndex((l) => l.includes(s)) + 1;
  assert.match(text, new RegExp(`promptfooconfig\\.yaml:${lineOf("type: javascript")}: tests\\[2\\]\\.assert\\[2\\]: 'javascript' refused: ragtune does not run code`));
  assert.match(text, new RegExp(`promptfooconfig\\.yaml:${lineOf("type: python")}: tests\\[4\\]\\.assert\\[0\\]: 'python' refused`));
  assert.match(text, new RegExp(`:${lineOf("type: similar")}: tests\\[3\\]\\.assert\\[1\\]: 'similar' not converted: no ragtune equivalent`));
  assert.match(text, new RegExp(`:${lineOf("type: contains-any")}: .*'contains-any' not converted: ragtune checks one regex per case`));
  assert.match(text, /vars\.context: var not converted \(only 'question' becomes the input\), in 1 test\(s\)/);
});

test("promptfoo CSV: __expected cells by prefix, __description → id, metadata columns listed, code refused", () => {
  const r = promptfooImporter.read(CSV);
  const suite = load(r);
  const byId = new Map(suite.cases.map((c) => [c.id, c]));
  assert.deepEqual([...byId.keys()], ["trash-retention", "accepted-cards", "test-3", "test-5"]);
  assert.deepEqual(byId.get("trash-retention")!.contains, ["60 days"]);
  assert.deepEqual(byId.get("trash-retention")!.forbidden, ["forever"]);
  assert.equal(byId.get("accepted-cards")!.tone?.rubric, "lists the accepted cards, friendly", "grade: is llm-rubric");
  assert.deepEqual(byId.get("test-3")!.answer, ["There is no SLA on the Free plan."], "a cell with no type prefix is equals");
  assert.equal(byId.get("test-5")!.input, "Quoted, with a comma");
  assert.equal(byId.get("test-5")!.regex, "^Yes");
  assert.deepEqual(byId.get("test-5")!.json_schema, {});
  const text = notesText(r);
  assert.match(text, /tests\.csv:1: columns not converted: __metadata:area/);
  assert.match(text, /tests\.csv:5: __expected1: 'javascript' refused/);
  assert.match(text, /tests\.csv:5: row 5: test not converted: none of its assertions converts/);
});

test("converted expectations score like the promptfoo assertions they came from", () => {
  const suite = load(promptfooImporter.read(CONFIG));
  const refund = suite.cases.find((c) => c.id === "refund-window-annual-plan")!;
  const score = (text: string) => scoreCase(refund, { text, abstained: false }).every((s) => s.pass);
  assert.equal(score("You can get a refund within 30 DAYS."), true);
  assert.equal(score("Within 30 days (it used to be 14 days)."), false, "not-contains → forbidden");
  assert.equal(score("as an ai, 30 days"), false, "defaultTest not-icontains is case-insensitive");
  const special = promptfooImporter.read(writeTemp("c.yaml", "tests:\n  - vars: {q: 'x'}\n    assert:\n      - type: not-contains\n        value: 'a.b (c)'\n      - type: starts-with\n        value: 'Hi?'\n"));
  const c = load(special).cases[0];
  const ok = (text: string) => scoreCase(c, { text, abstained: false }).every((s) => s.pass);
  assert.equal(ok("Hi? fine axb c"), true, "a literal: '.' and '(' are escaped");
  assert.equal(ok("Hi? a.b (c)"), false);
  assert.equal(ok("Oh Hi? there"), false, "starts-with anchors");
});

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-pf-"));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

test("promptfoo: tests: file://tests.csv is read relative to the config; --input-var picks the var; ambiguity is exit 2 listing vars", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-pf-"));
  copyFileSync(CSV, join(dir, "tests.csv"));
  writeFileSync(join(dir, "promptfooconfig.yaml"), "prompts: ['{{question}}']\ntests: file://tests.csv\n");
  assert.equal(promptfooImporter.read(join(dir, "promptfooconfig.yaml")).cases.length, 4);

  const two = writeTemp("two.yaml", "tests:\n  - vars:\n      topic: billing\n      text: Refund my annual plan\n    assert:\n      - type: contains\n        value: refund\n");
  assert.throws(() => promptfooImporter.read(two), /two\.yaml:2: tests\[0\]\.vars: cannot tell which var is the input \(vars: topic, text\); pass --input-var NAME/);
  assert.equal(promptfooImporter.read(two, { inputVar: "text" }).cases[0].input, "Refund my annual plan");
  assert.throws(() => promptfooImporter.read(two, { inputVar: "question" }), /two\.yaml:2: tests\[0\]\.vars: --input-var: no var 'question' in this test; its vars: topic, text/);
});

test("promptfoo: malformed input names file, line and field", () => {
  const cases: [string, string, RegExp][] = [
    ["bad.yaml", "tests:\n  - vars: {q: [unclosed\n", /bad\.yaml:\d+: not valid YAML/],
    ["notype.yaml", "tests:\n  - vars: {q: hi}\n    assert:\n      - value: hi\n", /notype\.yaml:4: tests\[0\]\.assert\[0\]\.type: missing: every assertion has a type/],
    ["vars.yaml", "tests:\n  - vars: [a, b]\n", /vars\.yaml:2: tests\[0\]\.vars: expected a mapping/],
    ["assert.yaml", "tests:\n  - vars: {q: hi}\n    assert: contains\n", /assert\.yaml:3: tests\[0\]\.assert: expected a list of assertions/],
    ["none.yaml", "prompts: [x]\n", /none\.yaml:1: tests: missing/],
    ["ragged.csv", "question,__expected\nhi,contains: a,extra\n", /ragged\.csv:2: 3 fields, but the header has 2 columns/],
    ["dup.csv", "q,q\na,b\n", /dup\.csv:1: q: column appears twice/],
  ];
  for (const [name, text, re] of cases) assert.throws(() => promptfooImporter.read(writeTemp(name, text)), re, name);
});

test("cli: import promptfoo prints the suite on stdout and the notes on stderr; --out refuses to overwrite without --force", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-pf-cli-"));
  const r = await runCli(["import", "promptfoo", CONFIG], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# Converted from .*promptfooconfig\.yaml \(promptfoo\)/);
  assert.match(r.stderr, /not converted: .*promptfooconfig\.yaml:\d+: tests\[2\]\.assert\[2\]: 'javascript' refused/);
  writeFileSync(join(dir, "suite.yaml"), "keep me\n");
  const refused = await runCli(["import", "promptfoo", CSV, "--out", "suite.yaml"], dir);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--out: .*suite\.yaml exists; pass --force to replace it/);
  assert.equal(readFileSync(join(dir, "suite.yaml"), "utf8"), "keep me\n");
  const forced = await runCli(["import", "promptfoo", CSV, "--out", "suite.yaml", "--force"], dir);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(loadSuite(join(dir, "suite.yaml")).cases.length, 4);
  const nothing = await runCli(["import", "promptfoo", writeTemp("code.yaml", "tests:\n  - vars: {q: hi}\n    assert:\n      - type: javascript\n        value: 'true'\n")], dir);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /no test could be converted/);
});

test("promptfoo: contains-any / icontains-any become one regex that scores like the assertion", () => {
  const r = promptfooImporter.read(writeTemp("any.yaml", "tests:\n  - vars: {q: 'x'}\n    assert:\n      - type: icontains-any\n        value: ['C.S.V', JSON]\n"));
  const c = load(r).cases[0];
  assert.equal(c.regex, "/(?:C\\.S\\.V|JSON)/i");
  const ok = (text: string) => scoreCase(c, { text, abstained: false }).every((s) => s.pass);
  assert.equal(ok("export as json"), true);
  assert.equal(ok("export as c.s.v"), true);
  assert.equal(ok("export as CxSxV"), false);
});
