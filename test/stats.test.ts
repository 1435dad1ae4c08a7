import { test } from "node:test";
import assert from "node:assert/strict";
import { percentile, summariseVariant } from "../src/evaluate/stats.ts";
import type { CaseResult, FailureLabel, RetrievalScores, ScoreResult } from "../src/evaluate/types.ts";
import type { TaskKind } from "../src/models/index.ts";

test("percentile: linear interpolation, order-independent, empty → 0", () => {
  assert.equal(percentile([], 50), 0);
  assert.equal(percentile([7], 95), 7);
  assert.equal(percentile([40, 10, 30, 20], 50), 25);
  assert.equal(percentile([10, 20, 30, 40], 0), 10);
  assert.equal(percentile([10, 20, 30, 40], 100), 40);
  // rank = 0.95 × 3 = 2.85 → 30 + 0.85 × 10
  assert.ok(Math.abs(percentile([10, 20, 30, 40], 95) - 38.5) < 1e-9);
});

let n = 0;
function result(r: {
  task?: TaskKind;
  passed: boolean;
  abstained?: boolean;
  scores?: ScoreResult[];
  retrieval?: RetrievalScores;
  failure?: FailureLabel;
  latencyMs?: number;
  tokens?: [number, number];
  cost?: [number, number];
  support?: CaseResult["support"];
  contextPaths?: string[];
}): CaseResult {
  n++;
  return {
    runId: "r",
    caseId: `c${n}`,
    variant: "rag",
    task: r.task ?? "qa",
    input: "q",
    output: "a",
    abstained: r.abstained ?? false,
    citations: [],
    retrieved: [],
    contextPaths: r.contextPaths ?? ["a.md"],
    contextTokens: 100,
    truncated: false,
    scores: r.scores ?? [],
    retrieval: r.retrieval,
    passed: r.passed,
    failure: r.failure,
    support: r.support,
    usage: { inputTokens: r.tokens?.[0] ?? 100, outputTokens: r.tokens?.[1] ?? 10 },
    latencyMs: r.latencyMs ?? 10,
    costUsd: r.cost?.[0] ?? 0,
    projectedCostUsd: r.cost?.[1] ?? 0.001,
    generator: "offline:extractive",
    tags: [],
  };
}

const score = (name: string, pass: boolean, value = pass ? 1 : 0): ScoreResult => ({ name, pass, value });
const fail = (cause: FailureLabel["cause"], signal = "s"): FailureLabel => ({ cause, signal, evidence: "e" });

test("summariseVariant: pass rates, retrieval means, abstention accuracy, F1, fallback and unsupported rates, failures", () => {
  const results = [
    result({ passed: true, scores: [score("answer", true)], retrieval: { k: 5, hitAtK: 1, recallAtK: 1, mrr: 1 }, support: { ratio: 1, unsupportedSentences: [] }, latencyMs: 10, tokens: [100, 20], cost: [0, 0.002] }),
    result({
      passed: false,
      scores: [score("answer", false, 0.5)],
      retrieval: { k: 5, hitAtK: 0, recallAtK: 0, mrr: 0.25 },
      failure: fail("wrong_retrieval", "gold_not_retrieved"),
      support: { ratio: 0.5, unsupportedSentences: ["x"] },
      latencyMs: 20,
      tokens: [300, 40],
      cost: [0, 0.004],
    }),
    result({ passed: true, abstained: true, scores: [score("abstention", true)], latencyMs: 30, tokens: [200, 0], cost: [0, 0.003] }),
    result({ passed: false, scores: [score("abstention", false)], failure: fail("hallucination", "answered_unanswerable"), latencyMs: 40, tokens: [100, 30], cost: [0, 0.001], support: { ratio: 1, unsupportedSentences: [] } }),
    result({ task: "classify", passed: false, scores: [score("label", false)], failure: fail("weak_reasoning", "wrong_label"), latencyMs: 50, tokens: [50, 5], cost: [0, 0] }),
    result({ task: "extract", passed: true, scores: [score("json_schema", true)], latencyMs: 60, tokens: [250, 105], cost: [0, 0] }),
  ];
  const s = summariseVariant("rag", "offline:extractive", results, { context: { budgetTokens: 1000, corpusTokens: 2000, packedTokens: 990, truncated: true } });
  assert.equal(s.name, "rag");
  assert.equal(s.generator, "offline:extractive");
  assert.equal(s.cases, 6);
  assert.equal(s.passed, 3);
  assert.equal(s.passRate, 0.5);
  assert.deepEqual(s.metrics, {
    "passRate.classify": 0,
    "passRate.extract": 1,
    "passRate.qa": 0.5,
    "retrieval.hitAtK": 0.5,
    "retrieval.recallAtK": 0.5,
    "retrieval.mrr": 0.625,
    "abstention.accuracy": 0.5,
    "answer.f1": 0.75,
    fallbackRate: 0.166667,
    // answered qa cases: 3; one flagged unsupported
    unsupportedRate: 0.333333,
  });
  assert.deepEqual(s.failures, { wrong_retrieval: 1, hallucination: 1, weak_reasoning: 1 });
  assert.deepEqual(s.failuresByTask, { qa: { wrong_retrieval: 1, hallucination: 1 }, classify: { weak_reasoning: 1 } });
  assert.deepEqual(s.latencyMs, { p50: 35, p95: 57.5 });
  assert.equal(s.costUsd, 0);
  assert.ok(Math.abs(s.projectedCostUsd - 0.01) < 1e-12);
  assert.deepEqual(s.tokens, { input: 1000, output: 200 });
  assert.equal(s.perQuery.inputTokens, 166.666667);
  assert.equal(s.perQuery.outputTokens, 33.333333);
  assert.ok(Math.abs(s.perQuery.projectedCostUsd - 0.01 / 6) < 1e-12);
  assert.deepEqual(s.context, { budgetTokens: 1000, corpusTokens: 2000, packedTokens: 990, truncated: true });
});

test("summariseVariant: metrics nobody could measure are omitted, not zero", () => {
  const s = summariseVariant("prompt-only", "offline:extractive", [
    result({ task: "classify", passed: true, scores: [score("label", true)], contextPaths: [] }),
  ]);
  assert.deepEqual(Object.keys(s.metrics).sort(), ["fallbackRate", "passRate.classify"]);
  assert.equal(s.context, undefined);
});

test("summariseVariant: unsupportedRate falls back to failure labels when support was not recorded", () => {
  const s = summariseVariant("rag", "g", [
    result({ passed: false, failure: fail("hallucination", "unsupported_claims"), scores: [score("answer", false)] }),
    result({ passed: true, scores: [score("answer", true)] }),
    result({ passed: false, abstained: true, failure: fail("weak_reasoning", "gold_in_context_wrong_answer"), scores: [score("answer", false)] }),
  ]);
  assert.equal(s.metrics.unsupportedRate, 0.5);
  assert.equal(s.metrics.fallbackRate, 0.333333);
});

test("summariseVariant: an empty variant is all zeros", () => {
  const s = summariseVariant("rag", "g", []);
  assert.deepEqual([s.cases, s.passRate, s.latencyMs.p50, s.perQuery.costUsd], [0, 0, 0, 0]);
  assert.deepEqual(s.metrics, {});
});
