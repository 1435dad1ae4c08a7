import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults, readSummary } from "../src/evaluate/runs.ts";
import type { CaseResult } from "../src/evaluate/types.ts";

async function setup() {
  const root = makeTinyProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  const { config } = project;
  await ingestProject({ root, sources: config.sources, chunking: config.chunking, store: project.store });
  const suite = loadSuite(join(root, config.suite));
  return { root, project, suite };
}

test("a run records config, one line per case × variant, and a summary", async () => {
  const { project, suite } = await setup();
  try {
    const { runDir, summary } = await runEval({ project, suite });
    for (const f of ["config.json", "cases.jsonl", "summary.json"]) assert.ok(existsSync(join(runDir, f)), f);
    const lines = readFileSync(join(runDir, "cases.jsonl"), "utf8").trim().split("\n");
    assert.equal(lines.length, 6 * 3, "6 cases × 3 runnable variants");
    assert.deepEqual(summary.variants.map((v) => v.name), ["prompt-only", "long-context", "rag"]);
    assert.deepEqual(summary.notConfigured.map((n) => n.name), ["fine-tuned", "hybrid"]);
    assert.equal(summary.generator, "offline:extractive");
    const cases = lines.map((l) => JSON.parse(l) as CaseResult);
    for (const c of cases) {
      assert.equal(typeof c.latencyMs, "number");
      assert.ok(c.usage.inputTokens > 0, `${c.variant}/${c.caseId} counted input tokens`);
      assert.equal(c.passed, c.scores.every((s) => s.pass));
      assert.equal(c.failure === undefined, c.passed, "exactly the failed cases carry a failure label");
    }
    // prompt-only sees no documents: answerable questions fail for missing knowledge.
    const po = cases.find((c) => c.variant === "prompt-only" && c.caseId === "trash")!;
    assert.equal(po.passed, false);
    assert.equal(po.failure?.cause, "missing_knowledge");
    // rag retrieves the gold page and answers with a citation into it.
    const rag = cases.find((c) => c.variant === "rag" && c.caseId === "trash")!;
    assert.equal(rag.passed, true, rag.output);
    assert.equal(rag.retrieval?.hitAtK, 1);
    assert.equal(rag.citations[0].path, "docs/v2/trash.md");
    // the unanswerable question is abstained on by rag
    const un = cases.find((c) => c.variant === "rag" && c.caseId === "unanswerable")!;
    assert.equal(un.abstained, true);
    assert.equal(un.passed, true);
    // extraction is not retrieved for
    assert.equal(cases.find((c) => c.variant === "rag" && c.caseId === "extract-email")!.retrieved.length, 0);
    // projected cost uses the reference model's price: more tokens → more cost
    const lc = cases.find((c) => c.variant === "long-context" && c.caseId === "trash")!;
    assert.ok(lc.projectedCostUsd > rag.projectedCostUsd);
    assert.equal(rag.costUsd, 0, "the offline generator costs nothing");
  } finally {
    project.close();
  }
});

test("an interrupted run resumes: recorded pairs are kept, missing ones are run, a torn line is redone", async () => {
  const { project, suite } = await setup();
  try {
    const first = await runEval({ project, suite });
    const file = join(first.runDir, "cases.jsonl");
    const lines = readFileSync(file, "utf8").trim().split("\n");
    // Simulate a crash: keep 7 whole lines and half of the 8th.
    writeFileSync(file, lines.slice(0, 7).join("\n") + "\n" + lines[7].slice(0, 20));
    const kept = lines.slice(0, 7).map((l) => JSON.parse(l) as CaseResult);
    const resumed = await runEval({ project, suite, resumeDir: first.runDir });
    assert.equal(resumed.cases.length, 18);
    const after = readCaseResults(first.runDir);
    assert.equal(after.length, 18, "torn line dropped, the rest rerun");
    for (const k of kept) assert.ok(after.some((a) => a.caseId === k.caseId && a.variant === k.variant && a.latencyMs === k.latencyMs));
    assert.deepEqual(
      readSummary(first.runDir).variants.map((v) => [v.name, v.passed]),
      first.summary.variants.map((v) => [v.name, v.passed]),
    );
  } finally {
    project.close();
  }
});

test("resume refuses a changed suite", async () => {
  const { root, project, suite } = await setup();
  try {
    const first = await runEval({ project, suite, variants: ["rag"] });
    writeFileSync(join(root, "suite.yaml"), readFileSync(join(root, "suite.yaml"), "utf8").replace("60 days", "61 days"));
    const changed = loadSuite(join(root, "suite.yaml"));
    await assert.rejects(runEval({ project, suite: changed, resumeDir: first.runDir }), /suite changed/);
    assert.equal(readdirSync(join(root, "runs")).length, 1);
  } finally {
    project.close();
  }
});

test("eval on an empty index is a clear input error", async () => {
  const root = makeTinyProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    await assert.rejects(runEval({ project, suite: loadSuite(join(root, "suite.yaml")) }), /index is empty — run `ragtune ingest` first/);
  } finally {
    project.close();
  }
});
