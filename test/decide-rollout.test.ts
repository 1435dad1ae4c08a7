/** The rollout plan: practitioners' order, this run's numbers, separate rollback paths. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Evidence, rolloutPlan, type DecideConfig } from "../src/decide/index.ts";
import type { RunSummary } from "../src/evaluate/types.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";
import { PLAIN_PRICES, tokensFor } from "./helpers/cost-fixture.ts";

const config: DecideConfig = {
  constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 1000, labelledExamples: 500, externalDataStoreAllowed: true, p95LatencyMs: 800 },
  pricing: { asOf: "2026-11-01", models: PLAIN_PRICES, referenceModel: "openai:gpt-4.1-mini", fineTuneTrainingUsd: 50, vectorStoreMonthlyUsd: 25 },
};
const variant = (name: string, passRate: number, metrics: Record<string, number> = {}) => ({
  name, cases: 100, passed: Math.round(passRate * 100), passRate, metrics, failures: {}, failuresByTask: {},
  latencyMs: { p50: 10, p95: 40 }, tokens: { input: 1, output: 1 }, costUsd: 0, projectedCostUsd: 0.01,
  perQuery: { ...tokensFor(0.0001), costUsd: 0, projectedCostUsd: 0.0001 },
});
const summary = {
  runId: "r", project: "p", createdAt: "2026-12-01T00:00:00Z", generator: "offline:extractive", complete: true, notConfigured: [], comparisons: [],
  suite: { cases: 100, byTask: { qa: 100 } },
  variants: [variant("prompt-only", 0.2, { fallbackRate: 0.5 }), variant("rag", 0.6, { "retrieval.hitAtK": 0.9, "retrieval.mrr": 0.7, "abstention.accuracy": 0.8 }), variant("hybrid", 0.7, { "retrieval.hitAtK": 0.9 })],
} as unknown as RunSummary;

test("hybrid: prompt → rag → log → fix retrieval → fine-tune, retrieval and model undone on separate paths", () => {
  const plan = rolloutPlan(new Evidence(summary, [], config), "hybrid");
  assert.deepEqual(plan.map((s) => s.title), ["Prompt baseline", "Basic RAG", "Log failures", "Fix retrieval", "Fine-tune the stable behaviour"]);
  assert.deepEqual(plan.map((s) => s.step), [1, 2, 3, 4, 5]);
  assert.deepEqual(plan.map((s) => s.rollback.kind), ["config", "retrieval", "none", "retrieval", "model"]);
  assert.match(plan[1].watch.join(" "), /rag: 60%/);
  assert.match(plan[1].watch.join(" "), /hit@k \(90%\)/);
  assert.match(plan[1].watch.join(" "), /vs target 800 ms/);
  assert.match(plan[4].rollback.how, /ragtune models rollback/);
  assert.match(plan[4].rollback.how, /index and retrieval config are not touched/);
  assert.match(plan[1].rollback.how, /trained models are not touched/);
});

test("other architectures get only their steps", () => {
  const ev = new Evidence(summary, [], config);
  assert.deepEqual(rolloutPlan(ev, "prompt-only").map((s) => s.title), ["Prompt baseline"]);
  assert.deepEqual(rolloutPlan(ev, "fine-tune").map((s) => s.rollback.kind), ["config", "model"]);
  assert.deepEqual(rolloutPlan(ev, "rag").map((s) => s.title), ["Prompt baseline", "Basic RAG", "Log failures", "Fix retrieval"]);
  assert.equal(rolloutPlan(ev, "stronger-model").at(-1)?.title, "Stronger model");
  assert.match(rolloutPlan(ev, "long-context")[1].watch.join(" "), /long-context: not measured/, "an unmeasured variant says so, never a number");
});

test("report.md and report.json carry the plan; decide prints it", async () => {
  const root = makeTinyProject();
  try {
    assert.equal((await runCli(["ingest"], root)).code, 0);
    await runCli(["eval"], root);
    const decide = await runCli(["decide"], root);
    assert.match(decide.stdout, /rollout/);
    assert.match(decide.stdout, /1\. Prompt baseline/);
    assert.equal((await runCli(["report"], root)).code, 0);
    const runs = join(root, "runs");
    const run = readdirSync(runs).sort().at(-1)!;
    const json = JSON.parse(readFileSync(join(runs, run, "report.json"), "utf8"));
    assert.ok(json.recommendation.rollout.length >= 1);
    const md = readFileSync(join(runs, run, "report.md"), "utf8");
    assert.match(md, /## Rollout plan/);
    assert.match(md, /undo \((?:config|retrieval|model|none)\)/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
