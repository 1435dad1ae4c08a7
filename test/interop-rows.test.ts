/**
 * RAGAS/HF rows and OpenAI Evals samples → suites the suite loader accepts; contexts become
 * sources when the project's index holds them; bad rows name file, line and field (exit 2).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ragasImporter } from "../src/interop/ragas.ts";
import { openaiEvalsImporter } from "../src/interop/openai-evals.ts";
import { formatNote, suiteYaml, type ImportResult } from "../src/interop/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import type { Suite } from "../src/evaluate/types.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/interop/", import.meta.url));
const fx = (name: string) => join(FIXTURES, name);

function load(result: ImportResult): Suite {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-rows-"));
  writeFileSync(join(dir, "suite.yaml"), suiteYaml(result, "x"));
  return loadSuite(join(dir, "suite.yaml"));
}

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-rows-"));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

const notes = (r: ImportResult) => r.notes.map(formatNote).join("\n");

test("ragas JSONL: user_input → input, reference → answer; a row without a reference is listed; contexts need an index", () => {
  const r = ragasImporter.read(fx("ragas.jsonl"));
  const suite = load(r);
  assert.equal(suite.cases.length, 3);
  assert.equal(suite.cases[0].input, "Within how many days can I get a refund on an annual plan?");
  assert.deepEqual(suite.cases[0].answer, ["Annual plans can be refunded within 30 days of payment."]);
  assert.equal(suite.cases[0].sources, undefined);
  assert.match(notes(r), /ragas\.jsonl:4: row not converted: no reference answer/);
  assert.match(notes(r), /ragas\.jsonl:1: reference_contexts: 3 context text\(s\) not converted: .*no project index/);
});

test("ragas: contexts found in the index become sources; a context that is not there is listed", () => {
  const chunks = [
    { path: "docs/v2/billing.md", text: "Annual plans can be refunded within 30 days of payment. Monthly plans are never refundable." },
    { path: "docs/v2/trash.md", text: "Deleted cards stay in the trash for 60 days before they are permanently deleted. Admins can restore them." },
  ];
  const locateContext = (t: string) => chunks.find((c) => c.text.toLowerCase().includes(t.toLowerCase().slice(0, 50)))?.path;
  const r = ragasImporter.read(fx("ragas.jsonl"), { locateContext });
  const suite = load(r);
  assert.deepEqual(suite.cases[0].sources, ["docs/v2/billing.md"]);
  assert.deepEqual(suite.cases[1].sources, ["docs/v2/trash.md"]);
  assert.equal(suite.cases[2].sources, undefined);
  assert.match(notes(r), /ragas\.jsonl:3: reference_contexts: 1 context text\(s\) not converted: .*not found in the project's index/);
});

test("ragas JSON (0.1 names: question, ground_truth, answer, contexts) and CSV (JSON list cells) load", () => {
  const v01 = ragasImporter.read(fx("ragas-v01.json"));
  const s = load(v01);
  assert.deepEqual(s.cases.map((c) => c.answer), [["No, monthly plans are never refundable."], ["Admins, from the trash page."]]);
  const warning = v01.notes.find((n) => n.field === "answer")!;
  assert.equal(warning.kind, "warning");
  assert.match(warning.message, /'answer' is the model's response — check/);
  assert.match(notes(v01), /ragas-v01\.json:3: contexts: 1 context text\(s\) not converted/, "the line of the row in the JSON file, and the field it used");
  const csv = load(ragasImporter.read(fx("ragas.csv")));
  assert.deepEqual(csv.cases.map((c) => c.input), ["How long are deleted cards kept in the trash?", "Which cards, exactly, do you accept?"]);
  assert.deepEqual(csv.cases[1].answer, ["Visa, Mastercard and American Express"]);
});

test("openai-evals: string or chat input (last user message), ideal string or list; system prompts and earlier turns listed", () => {
  const r = openaiEvalsImporter.read(fx("openai-evals.jsonl"));
  const suite = load(r);
  assert.deepEqual(suite.cases.map((c) => c.input), [
    "Within how many days can I get a refund on an annual plan?",
    "How long are deleted cards kept in the trash?",
    "Can I pay with American Express?",
  ]);
  assert.deepEqual(suite.cases[0].answer, ["30 days", "within 30 days of payment"]);
  assert.match(notes(r), /openai-evals\.jsonl:3: input: earlier turns not converted/);
  assert.match(notes(r), /openai-evals\.jsonl:1: input: system message\(s\) not converted in 1 sample/);
});

test("bad rows: file, line and field", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => ragasImporter.read(writeTemp("a.jsonl", '{"user_input":"q","reference":"a"}\n{not json\n')), /a\.jsonl:2: invalid JSON/],
    [() => ragasImporter.read(writeTemp("b.jsonl", '{"user_input":"q","reference":"a"}\n\n{"query":"q","reference":"a"}\n')), /b\.jsonl:3: user_input: missing: a row needs user_input \(or question\); its fields: query, reference/],
    [() => ragasImporter.read(writeTemp("c.jsonl", '{"user_input":"q","reference":{"x":1}}\n')), /c\.jsonl:1: reference: expected a string/],
    [() => ragasImporter.read(writeTemp("d.jsonl", '{"user_input":"q","reference":"a","reference_contexts":"[1,2]"}\n')), /d\.jsonl:1: reference_contexts: expected a list of strings/],
    [() => ragasImporter.read(writeTemp("e.json", '[\n  {"user_input": "q", "reference": "a"},\n  {"user_input": "", "reference": "a"}\n]\n')), /e\.json:3: user_input: expected a non-empty string/],
    [() => ragasImporter.read(writeTemp("f.txt", "x")), /f\.txt: unsupported file type '\.txt'/],
    [() => openaiEvalsImporter.read(writeTemp("g.jsonl", '{"input":"q"}\n')), /g\.jsonl:1: ideal: missing/],
    [() => openaiEvalsImporter.read(writeTemp("h.jsonl", '{"input":[{"role":"system","content":"s"}],"ideal":"a"}\n')), /h\.jsonl:1: input: no user message/],
    [() => openaiEvalsImporter.read(writeTemp("i.jsonl", '{"input":[{"role":"user","content":7}],"ideal":"a"}\n')), /i\.jsonl:1: input\[0\]\.content: expected a string/],
    [() => openaiEvalsImporter.read(writeTemp("j.jsonl", '{"input":"q","ideal":[1]}\n')), /j\.jsonl:1: ideal: expected a string or a list of strings/],
  ];
  for (const [fn, re] of bad) assert.throws(fn, re);
});

test("cli: import ragas inside a project locates contexts in its index; import openai-evals writes --out", async () => {
  const root = makeTinyProject();
  assert.equal((await runCli(["ingest"], root)).code, 0);
  const r = await runCli(["import", "ragas", fx("ragas.jsonl"), "--out", "imported.yaml"], root);
  assert.equal(r.code, 0, r.stderr);
  const suite = loadSuite(join(root, "imported.yaml"));
  assert.deepEqual(suite.cases[0].sources, ["docs/v2/billing.md"]);
  assert.deepEqual(suite.cases[1].sources, ["docs/v2/trash.md"]);
  assert.match(r.stderr, /ragas\.jsonl:3: reference_contexts: 1 context text\(s\) not converted: .*not found in the project's index/);
  // The imported suite runs: eval against it (rag only) and get a result per case.
  const ev = await runCli(["eval", "--suite", "imported.yaml", "--variants", "rag", "--json"], root);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /"cases": 3\b/);

  const o = await runCli(["import", "openai-evals", fx("openai-evals.jsonl"), "--out", "oe.yaml"], root);
  assert.equal(o.code, 0, o.stderr);
  assert.equal(loadSuite(join(root, "oe.yaml")).cases.length, 3);
  const bad = await runCli(["import", "openai-evals", writeTemp("k.jsonl", '{"input": "q"}\n')], root);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: .*k\.jsonl:1: ideal: missing/m);
});

test("ragas CSV: columns named like Object.prototype members are plain columns", () => {
  const r = ragasImporter.read(writeTemp("proto.csv", "__proto__,constructor,question,reference\nx,y,Is toString a question?,yes\n"));
  assert.equal(r.cases[0].input, "Is toString a question?");
  assert.deepEqual(r.cases[0].answer, ["yes"]);
  assert.throws(() => ragasImporter.read(writeTemp("proto2.csv", "__proto__,reference\nx,yes\n")), /proto2\.csv:2: user_input: missing: .*its fields: __proto__, reference/);
});
