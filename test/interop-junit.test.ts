/**
 * JUnit export: structure (suite per variant, testcase per case, failures apart from errors,
 * skipped cases), escaping of hostile model output, and the CLI (`eval --junit`, `export junit`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { escapeXml, junitOutcome, junitXml } from "../src/report/junit.ts";
import type { CaseResult, RunSummary } from "../src/evaluate/types.ts";
import { childrenNamed, parseXml } from "./helpers/xml.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

const HOSTILE = "a < b && c > d ]]> \"q\" 'a' \u0000\u0007\u001b\uFFFE lone\uD800 🦄 é\nsecond line\ttab";

function result(over: Partial<CaseResult>): CaseResult {
  return {
    runId: "r1",
    caseId: "c",
    variant: "rag",
    task: "qa",
    input: "q?",
    output: "a",
    abstained: false,
    citations: [],
    retrieved: [],
    contextPaths: [],
    contextTokens: 0,
    truncated: false,
    scores: [],
    passed: true,
    usage: { inputTokens: 0, outputTokens: 0 },
    latencyMs: 1500,
    costUsd: 0,
    projectedCostUsd: 0,
    generator: "offline:extractive",
    tags: [],
    ...over,
  } as CaseResult;
}

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    runId: "2026-01-01_00-00-00-abcd",
    createdAt: "2026-01-01T00:00:00.000Z",
    project: "p",
    generator: "offline:extractive",
    suite: { path: "suite.yaml", cases: 4, byTask: {} },
    corpus: { documents: 1, chunks: 1, tokens: 1, versions: [] },
    retrievalK: 5,
    variants: [{ name: "rag", generator: "offline:extractive" }, { name: "prompt-only", generator: "offline:extractive" }] as RunSummary["variants"],
    notConfigured: [{ name: "fine-tuned", reason: "no promoted model" }],
    complete: true,
    ...over,
  } as RunSummary;
}

const cases: CaseResult[] = [
  result({ caseId: "ok" }),
  result({
    caseId: "wrong & <bad>",
    passed: false,
    output: HOSTILE,
    input: HOSTILE,
    scores: [{ name: "answer", pass: false, value: 0, detail: "expected 30 days" }],
    failure: { cause: "wrong_retrieval", signal: "gold_not_retrieved", source: "deterministic", evidence: `gold docs/a.md not in top 5; got ${HOSTILE}` },
    retrieved: [{ id: "docs/b.md#0", path: "docs/b.md", score: 1.25, version: "v2" }],
  }),
  result({
    caseId: "judged",
    passed: false,
    scores: [
      { name: "answer", pass: true, value: 1 },
      { name: "judge.tone", pass: false, value: 0, error: "judge_error", detail: "judge error: no JSON in reply" },
    ],
  }),
  result({ caseId: "ok", variant: "prompt-only" }),
];

test("escapeXml: markup, quotes and ]]> escaped; non-XML characters replaced; emoji and accents kept", () => {
  const e = escapeXml(HOSTILE);
  assert.ok(!/[<\u0000\u0007\u001b\uFFFE]/.test(e));
  assert.ok(!e.includes("]]>"));
  assert.ok(e.includes("🦄") && e.includes("é"));
  assert.ok(e.includes("&amp;&amp;") && e.includes("&quot;q&quot;") && e.includes("&apos;a&apos;"));
  assert.ok(e.includes("lone\uFFFD"), "a lone surrogate becomes U+FFFD");
});

test("junit: one suite per variant (and per not-configured variant), counts, failure vs error, skipped", () => {
  const xml = junitXml(summary({ skipped: { caseIds: ["tone-only"], reason: "no judge" } }), cases);
  const root = parseXml(xml);
  assert.equal(root.name, "testsuites");
  const suites = childrenNamed(root, "testsuite");
  assert.deepEqual(suites.map((s) => s.attrs.name), ["rag", "prompt-only", "fine-tuned"]);
  const [rag, po, ft] = suites;
  assert.deepEqual([rag.attrs.tests, rag.attrs.failures, rag.attrs.errors, rag.attrs.skipped], ["4", "1", "1", "1"]);
  assert.equal(rag.attrs.time, "4.500");
  const byName = new Map(childrenNamed(rag, "testcase").map((t) => [t.attrs.name, t]));
  assert.equal(byName.get("ok")!.attrs.classname, "rag");
  const failed = byName.get("wrong & <bad>")!;
  const failure = childrenNamed(failed, "failure")[0];
  assert.equal(failure.attrs.type, "wrong_retrieval");
  assert.match(failure.attrs.message, /^wrong_retrieval \(gold_not_retrieved\): gold docs\/a\.md not in top 5/);
  assert.ok(failure.attrs.message.includes("\n"), "a newline in an attribute survives as a character reference");
  assert.match(failure.text, /cause: wrong_retrieval\nsignal: gold_not_retrieved \(deterministic\)\nevidence: /);
  assert.ok(failure.text.includes("a < b && c > d ]]>") && failure.text.includes("🦄"), "hostile text round-trips (minus non-XML characters)");
  assert.match(failure.text, /docs\/b\.md#0 \(docs\/b\.md, v2\) score 1\.250/);
  const judged = byName.get("judged")!;
  assert.equal(childrenNamed(judged, "failure").length, 0);
  assert.equal(childrenNamed(judged, "error")[0].attrs.type, "judge_error");
  assert.equal(childrenNamed(byName.get("tone-only")!, "skipped")[0].attrs.message, "no judge");
  // prompt-only ran one case: the others are skipped, not silently absent.
  assert.deepEqual([po.attrs.tests, po.attrs.skipped], ["4", "3"]);
  assert.deepEqual([ft.attrs.tests, ft.attrs.skipped], ["4", "4"]);
  assert.match(childrenNamed(childrenNamed(ft, "testcase")[0], "skipped")[0].attrs.message, /not configured: no promoted model/);
  assert.deepEqual([root.attrs.tests, root.attrs.failures, root.attrs.errors, root.attrs.skipped], ["12", "1", "1", "8"]);
});

test("junit: a failure with a judge error next to a failing deterministic score is a failure, not an error", () => {
  const r = result({
    passed: false,
    scores: [
      { name: "answer", pass: false, value: 0 },
      { name: "judge.faithfulness", pass: false, value: 0, error: "judge_error" },
    ],
  });
  assert.equal(junitOutcome(r), "failure");
  assert.equal(junitOutcome(result({ passed: false, scores: [{ name: "judge.tone", pass: false, value: 0, error: "judge_error" }] })), "error");
});

test("junit: repeats are named per repeat; a stopped run says why cases were not run", () => {
  const xml = junitXml(summary({ repeats: 2, variants: [{ name: "rag" }] as RunSummary["variants"], notConfigured: [], stopped: "--max-cost $1 reached" }), [
    result({ caseId: "a", repeat: 0 }),
    result({ caseId: "a", repeat: 1 }),
    result({ caseId: "b", variant: "other" }),
  ]);
  const rag = childrenNamed(parseXml(xml), "testsuite")[0];
  const names = childrenNamed(rag, "testcase").map((t) => t.attrs.name);
  assert.deepEqual(names, ["a (repeat 1/2)", "a (repeat 2/2)", "b"]);
  assert.match(childrenNamed(childrenNamed(rag, "testcase")[2], "skipped")[0].attrs.message, /the run stopped \(--max-cost \$1 reached\)/);
});

test("the strict XML reader used above rejects broken files (so the checks mean something)", () => {
  for (const bad of ["<a>x &amp y</a>", "<a><b></a>", "<a>\u0001</a>", '<a x="<"/>', "<a>]]></a>", "<a/><b/>"]) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
});

test("cli: eval --junit writes the XML even when the gate fails; export junit prints it; bad flags exit 2", async () => {
  const root = makeTinyProject();
  assert.equal((await runCli(["ingest"], root)).code, 0);
  const gated = await runCli(["eval", "--variants", "rag,prompt-only", "--gate", "prompt-only=1", "--junit", "out/junit.xml"], root);
  assert.equal(gated.code, 1, gated.stderr);
  const xml = readFileSync(join(root, "out", "junit.xml"), "utf8");
  const suites = childrenNamed(parseXml(xml), "testsuite");
  assert.deepEqual(suites.map((s) => s.attrs.name), ["rag", "prompt-only"]);
  const cases = readFileSync(join(root, "suite.yaml"), "utf8").match(/^ {2}- id: /gm)!.length;
  assert.equal(Number(suites[0].attrs.tests), cases);
  assert.ok(Number(suites[1].attrs.failures) > 0, "prompt-only fails cases on this corpus");

  const exported = await runCli(["export", "junit", "latest"], root);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout, xml);
  const toFile = await runCli(["export", "junit", "--out", "again.xml"], root);
  assert.equal(toFile.code, 0, toFile.stderr);
  assert.equal(readFileSync(join(root, "again.xml"), "utf8"), xml);

  writeFileSync(join(root, "keep.txt"), "x");
  for (const [args, msg] of [
    [["export", "junit", "nope"], /export junit \[run\]: no run 'nope'/],
    [["export", "junit", "--out", "docs"], /option '--out <file>' argument 'docs' is invalid\. .*docs is a folder/],
    [["export", "junit", "--out", "keep.txt/x.xml"], /keep\.txt is a file, not a folder/],
    [["eval", "--dry-run", "--junit", "x.xml"], /--junit cannot be combined with --dry-run/],
    [["eval", "--junit", ""], /option '--junit <file>' argument '' is invalid\. expected a file path/],
  ] as [string[], RegExp][]) {
    const r = await runCli(args, root);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  assert.equal(existsSync(join(root, "x.xml")), false);
});
