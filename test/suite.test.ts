import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { loadSuite, SuiteError, formatIssue } from "../src/evaluate/suite.ts";

/** Write `files` (relative path → content) into a fresh temp dir and return its path. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-suite-"));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  return dir;
}

/** Load and expect a SuiteError; return its message lines. */
function errorsOf(path: string): string[] {
  try {
    loadSuite(path);
  } catch (e) {
    assert.ok(e instanceof SuiteError, `expected SuiteError, got ${String(e)}`);
    assert.equal(e.message, e.issues.map(formatIssue).join("\n"));
    return e.message.split("\n");
  }
  assert.fail("expected loadSuite to throw");
}

test("YAML list of cases: fields, list coercion, defaults", () => {
  const dir = fixture({
    "suite.yaml": [
      "- id: price",
      "  input: How much is Pro per user?",
      "  answer: $12",
      "  stale_answers: [$10]",
      "  sources: docs/v2/pricing.md#Pro",
      "  contains: [per user]",
      "  forbidden: guarantee",
      "  tone: {must_include: [thanks]}",
      "- id: 42",
      "  input: What is the rate limit?",
      "  answer: [300, 300 requests per minute]",
      "  regex: '\\d+'",
      "  tags: api",
      "- id: onprem",
      "  input: Can I install it on-premise?",
      "  must_abstain: true",
      "",
    ].join("\n"),
  });
  const suite = loadSuite(join(dir, "suite.yaml"));
  assert.equal(suite.cases.length, 3);
  const [a, b, c] = suite.cases;
  assert.deepEqual(
    { id: a.id, task: a.task, answer: a.answer, stale: a.stale_answers, sources: a.sources, forbidden: a.forbidden, tone: a.tone, line: a.line },
    { id: "price", task: "qa", answer: ["$12"], stale: ["$10"], sources: ["docs/v2/pricing.md#Pro"], forbidden: ["guarantee"], tone: { must_include: ["thanks"] }, line: 1 },
  );
  assert.deepEqual(b.answer, ["300", "300 requests per minute"]);
  assert.equal(b.id, "42");
  assert.equal(b.regex, "\\d+");
  assert.deepEqual(b.tags, ["api"]);
  assert.equal(b.line, 9);
  assert.equal(c.must_abstain, true);
  assert.equal(c.answer, undefined);
  assert.deepEqual(suite.labels, []);
});

test("YAML mapping: include glob + JSONL, labels, named schema from an included file, schema path, defaults", () => {
  const dir = fixture({
    "suite.yaml": [
      "include:",
      "  - parts/*.yaml",
      "  - extra.jsonl",
      "labels:",
      "  - name: billing",
      "    description: Charges and refunds",
      "  - account_access",
      "defaults:",
      "  tags: [smoke]",
      "cases:",
      "  - id: route-1",
      "    task: classify",
      "    input: I was charged twice",
      "    label: billing",
      "  - id: extract-1",
      "    task: extract",
      "    input: 'From: ana@example.com'",
      "    json_schema: contact",
      "    expected_json: {email: ana@example.com}",
      "",
    ].join("\n"),
    "parts/schemas.yaml": [
      "schemas:",
      "  contact:",
      "    type: object",
      "    properties: {email: {type: string, format: email}}",
      "    required: [email]",
      "cases:",
      "  - id: part-1",
      "    input: hello",
      "    answer: hi",
      "",
    ].join("\n"),
    "extra.jsonl": '{"id":"j-1","task":"extract","input":"x","json_schema":"schemas/order.json"}\n\n{"id":"j-2","input":"q","contains":["a","b"]}\n',
    "schemas/order.json": '{"type":"object","properties":{"total":{"type":"number"}}}',
  });
  const suite = loadSuite(join(dir, "suite.yaml"));
  assert.deepEqual(
    suite.cases.map((c) => c.id),
    ["part-1", "j-1", "j-2", "route-1", "extract-1"],
  );
  assert.deepEqual(suite.labels, [{ name: "billing", description: "Charges and refunds" }, { name: "account_access" }]);
  const byId = new Map(suite.cases.map((c) => [c.id, c]));
  assert.equal((byId.get("extract-1")!.json_schema as { required: string[] }).required[0], "email");
  assert.deepEqual(byId.get("j-1")!.json_schema, { type: "object", properties: { total: { type: "number" } } });
  assert.equal(byId.get("j-2")!.line, 3);
  assert.ok(byId.get("j-2")!.file.endsWith("extra.jsonl"));
  // defaults apply to the cases of the file that declares them only
  assert.deepEqual(byId.get("route-1")!.tags, ["smoke"]);
  assert.equal(byId.get("part-1")!.tags, undefined);
});

test("labels are derived from the cases when none are declared", () => {
  const dir = fixture({
    "s.jsonl": ['{"id":"a","task":"classify","input":"x","label":"billing"}', '{"id":"b","task":"classify","input":"y","label":"security"}', '{"id":"c","task":"classify","input":"z","label":"billing"}'].join("\n"),
  });
  assert.deepEqual(loadSuite(join(dir, "s.jsonl")).labels, [{ name: "billing" }, { name: "security" }]);
});

test("every error kind in one YAML file, each with file:line, case and field", () => {
  const dir = fixture({
    "suite.yaml": [
      "labels: [billing, security]", // 1
      "schemas:", // 2
      "  contact: {type: object}", // 3
      "cases:", // 4
      "  - id: a", // 5
      "    input: What?", // 6
      "    answer: x", // 7
      "    must_abstian: true", // 8
      "  - id: b", // 9
      "    task: clasify", // 10
      "    input: ''", // 11
      "    regex: '(unclosed'", // 12
      "    forbidden: [ok, '[bad']", // 13
      "  - id: c", // 14
      "    task: classify", // 15
      "    input: route me", // 16
      "  - id: d", // 17
      "    task: classify", // 18
      "    input: route me", // 19
      "    label: biling", // 20
      "  - id: e", // 21
      "    task: extract", // 22
      "    input: doc", // 23
      "    expected_json: {a: 1}", // 24
      "  - id: f", // 25
      "    task: extract", // 26
      "    input: doc", // 27
      "    json_schema: contcat", // 28
      "  - id: g", // 29
      "    input: no expectation", // 30
      "    sources: [a.md]", // 31
      "  - id: a", // 32
      "    input: again", // 33
      "    answer: y", // 34
      "  - id: h", // 35
      "    input: q", // 36
      "    must_abstain: 'yes'", // 37
      "    tone: {must_include: []}", // 38
      "",
    ].join("\n"),
  });
  const f = join(dir, "suite.yaml");
  assert.deepEqual(errorsOf(f), [
    `${f}:8: case 'a': field 'must_abstian': unknown field; did you mean 'must_abstain'?`,
    `${f}:10: case 'b': field 'task': must be one of qa, classify, extract (got "clasify"); did you mean 'classify'?`,
    `${f}:11: case 'b': field 'input': must not be empty`,
    `${f}:12: case 'b': field 'regex': invalid regular expression: /(unclosed/: Unterminated group`,
    `${f}:13: case 'b': field 'forbidden[1]': invalid regular expression: /[bad/i: Unterminated character class`,
    `${f}:14: case 'c': field 'label': classify cases need a label`,
    `${f}:20: case 'd': field 'label': 'biling' is not a declared label; did you mean 'billing'? (labels: billing, security)`,
    `${f}:21: case 'e': field 'json_schema': extract cases need a json_schema`,
    `${f}:28: case 'f': field 'json_schema': unknown schema 'contcat'; did you mean 'contact'? (declared: contact)`,
    `${f}:29: case 'g': needs at least one expectation (answer, contains, regex, must_abstain: true, json_schema, expected_json, label, forbidden, tone)`,
    `${f}:32: case 'a': field 'id': duplicate id: also defined at ${f}:5`,
    `${f}:37: case 'h': field 'must_abstain': expected a boolean, got string`,
    `${f}:38: case 'h': field 'tone.must_include': must not be empty`,
  ]);
});

test("SuiteError.issues carries the structured parts", () => {
  const dir = fixture({ "s.yaml": "- id: x\n  input: q\n  contians: [a]\n" });
  try {
    loadSuite(join(dir, "s.yaml"));
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof SuiteError);
    assert.deepEqual(e.issues, [
      { file: join(dir, "s.yaml"), line: 3, caseId: "x", field: "contians", message: "unknown field; did you mean 'contains'?" },
    ]);
    assert.equal((e as SuiteError & { exitCode: number }).exitCode, 2);
  }
});

test("errors across included files are collected together; duplicate ids name both files", () => {
  const dir = fixture({
    "suite.yaml": "include: [a.yaml, missing.yaml]\ncases:\n  - id: dup\n    input: q\n    answer: a\n",
    "a.yaml": "- id: dup\n  input: q\n  answer: b\n- id: z\n  input: q\n  answer: 1\n  tone: {must_incude: [x]}\n",
  });
  const root = join(dir, "suite.yaml");
  const a = join(dir, "a.yaml");
  assert.deepEqual(errorsOf(root), [
    `${root}:1: field 'include': included file 'missing.yaml' not found (looked for ${join(dir, "missing.yaml")})`,
    `${root}:3: case 'dup': field 'id': duplicate id: also defined at ${a}:1`,
    `${a}:7: case 'z': field 'tone.must_incude': unknown field; did you mean 'must_include'?`,
  ]);
});

test("JSONL errors point at the JSONL line", () => {
  const dir = fixture({
    "s.jsonl": [
      '{"id":"ok","input":"q","answer":"a"}',
      "",
      "{not json",
      '{"id":"t","input":"q","answer":"a","taks":"qa"}',
      '{"id":"u","input":"q","answer":"a","sources":[1]}',
      '["a list"]',
    ].join("\n"),
  });
  const f = join(dir, "s.jsonl");
  const errs = errorsOf(f);
  assert.equal(errs.length, 4);
  assert.match(errs[0], new RegExp(`^${escape(f)}:3: invalid JSON: `));
  assert.equal(errs[1], `${f}:4: case 't': field 'taks': unknown field; did you mean 'task'?`);
  assert.equal(errs[2], `${f}:5: case 'u': field 'sources[0]': expected a string, got number`);
  assert.equal(errs[3], `${f}:6: case '#5': expected a mapping of case fields, got a list`);
});

test("top-level mistakes: unknown section, bad label entry, invalid inline schema, YAML syntax", () => {
  const dir = fixture({
    "top.yaml": "labls: [a]\nlabels:\n  - {name: billing, descripton: x}\ncases:\n  - id: s\n    task: extract\n    input: doc\n    json_schema: {type: objekt}\n",
    "syntax.yaml": "cases:\n  - id: x\n    input: a\n    input: b\n",
    "empty.yaml": "",
    "notes.txt": "x",
  });
  const top = join(dir, "top.yaml");
  const errs = errorsOf(top);
  assert.equal(errs[0], `${top}:1: field 'labls': unknown field; did you mean 'labels'?`);
  assert.equal(errs[1], `${top}:3: field 'labels[0].descripton': unknown field; did you mean 'description'?`);
  assert.match(errs[2], new RegExp(`^${escape(top)}:8: case 's': field 'json_schema': invalid JSON Schema: `));
  assert.equal(errs.length, 3);

  const syn = join(dir, "syntax.yaml");
  assert.deepEqual(errorsOf(syn), [`${syn}:4: YAML syntax error: Map keys must be unique`]);
  assert.deepEqual(errorsOf(join(dir, "empty.yaml")), [`${join(dir, "empty.yaml")}: the suite has no cases`]);
  assert.deepEqual(errorsOf(join(dir, "notes.txt")), [`${join(dir, "notes.txt")}: unsupported suite format '.txt' (use .yaml, .yml or .jsonl)`]);
  assert.deepEqual(errorsOf(join(dir, "nope.yaml")), [`${join(dir, "nope.yaml")}: suite file not found`]);
});

test("include cycles and repeated includes load each file once", () => {
  const dir = fixture({
    "a.yaml": "include: [b.yaml, b.yaml]\ncases:\n  - {id: a, input: q, answer: x}\n",
    "b.yaml": "include: [a.yaml]\ncases:\n  - {id: b, input: q, answer: y}\n",
  });
  assert.deepEqual(
    loadSuite(join(dir, "a.yaml")).cases.map((c) => c.id),
    ["b", "a"],
  );
});

test("a glob include that matches nothing is an error", () => {
  const dir = fixture({ "s.yaml": "include: ['parts/*.yaml']\ncases:\n  - {id: a, input: q, answer: x}\n" });
  const f = join(dir, "s.yaml");
  assert.deepEqual(errorsOf(f), [`${f}:1: field 'include': 'parts/*.yaml' matched no .yaml, .yml or .jsonl files`]);
});

test("a missing schema file is reported at the json_schema line", () => {
  const dir = fixture({ "s.yaml": "- id: a\n  task: extract\n  input: q\n  json_schema: schemas/none.json\n" });
  const f = join(dir, "s.yaml");
  assert.deepEqual(errorsOf(f), [`${f}:4: case 'a': field 'json_schema': schema file 'schemas/none.json' not found (looked for ${join(dir, "schemas/none.json")})`]);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test("judge fields: human labels, tone rubric, case and suite policies (merged across includes)", () => {
  const dir = fixture({
    "suite.yaml": [
      "include: [more.yaml, extra.jsonl]",
      "policies:",
      "  - Never promise refunds.",
      "  - Do not mention competitors.",
      "cases:",
      "  - id: refund",
      "    input: Will you refund my monthly plan?",
      "    answer: monthly plans are not refundable",
      "    human: pass",
      "    policies: Offer to escalate billing disputes.",
      "    tone:",
      "      rubric: Warm, no blame, offers a next step.",
      "  - id: rubric-and-rules",
      "    input: Hi",
      "    tone: {must_include: [thanks], rubric: Friendly.}",
      "    human: fail",
      "",
    ].join("\n"),
    "more.yaml": "policies: [Never promise refunds., 'No legal advice.']\ncases:\n  - {id: m, input: q, answer: a}\n",
    "extra.jsonl": '{"id":"j","input":"q","contains":"x","human":"fail","policies":["Be brief."],"tone":{"rubric":"Calm."}}\n',
  });
  const s = loadSuite(join(dir, "suite.yaml"));
  // included files first, then this file's; duplicates dropped
  assert.deepEqual(s.policies, ["Never promise refunds.", "No legal advice.", "Do not mention competitors."]);
  const byId = new Map(s.cases.map((c) => [c.id, c]));
  const refund = byId.get("refund")!;
  assert.equal(refund.human, "pass");
  assert.deepEqual(refund.policies, ["Offer to escalate billing disputes."]);
  assert.deepEqual(refund.tone, { rubric: "Warm, no blame, offers a next step." });
  assert.deepEqual(byId.get("rubric-and-rules")!.tone, { must_include: ["thanks"], rubric: "Friendly." });
  assert.equal(byId.get("rubric-and-rules")!.human, "fail");
  assert.deepEqual([byId.get("j")!.human, byId.get("j")!.policies, byId.get("j")!.tone], ["fail", ["Be brief."], { rubric: "Calm." }]);
  assert.equal(byId.get("m")!.human, undefined);
  assert.equal(byId.get("m")!.policies, undefined);
  // a suite without policies has none
  const plain = fixture({ "s.yaml": "- {id: a, input: q, answer: x}\n" });
  assert.equal(loadSuite(join(plain, "s.yaml")).policies, undefined);
});

test("judge fields: bad values are reported with file:line, case and field", () => {
  const dir = fixture({
    "suite.yaml": [
      "policies: [ok, '']", // 1
      "cases:", // 2
      "  - id: a", // 3
      "    input: q", // 4
      "    answer: x", // 5
      "    human: maybe", // 6
      "  - id: b", // 7
      "    input: q", // 8
      "    answer: x", // 9
      "    tone:", // 10
      "      rubric: ''", // 11
      "  - id: c", // 12
      "    input: q", // 13
      "    answer: x", // 14
      "    tone: {rubrc: Warm.}", // 15
      "    policies:", // 16
      "      - fine", // 17
      "      - {rule: x}", // 18
      "  - id: d", // 19
      "    input: q", // 20
      "    answer: x", // 21
      "    human: true", // 22
      "    tone: {}", // 23
      "",
    ].join("\n"),
    "s.jsonl": '{"id":"j","input":"q","answer":"x","human":"PASS"}\n',
  });
  const f = join(dir, "suite.yaml");
  assert.deepEqual(errorsOf(f), [
    `${f}:1: field 'policies[1]': must not be empty`,
    `${f}:6: case 'a': field 'human': must be one of pass, fail (got "maybe")`,
    `${f}:11: case 'b': field 'tone.rubric': must not be empty`,
    `${f}:15: case 'c': field 'tone.rubrc': unknown field; did you mean 'rubric'?`,
    `${f}:18: case 'c': field 'policies[1]': expected a string, got a mapping`,
    `${f}:22: case 'd': field 'human': must be one of pass, fail (got true)`,
    `${f}:23: case 'd': field 'tone': needs must_include, must_not_include or rubric`,
  ]);
  const j = join(dir, "s.jsonl");
  assert.deepEqual(errorsOf(j), [`${j}:1: case 'j': field 'human': must be one of pass, fail (got "PASS")`]);
});
