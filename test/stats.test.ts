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

test("summariseVariant: bootstrap intervals for passRate and every metric, seeded and reproducible", () => {
  const results = Array.from({ length: 40 }, (_, i) =>
    result({ passed: i % 4 !== 0, scores: [score("answer", i % 4 !== 0, ((i * 13) % 10) / 10)], retrieval: { k: 5, hitAtK: 1, recallAtK: 1, mrr: 1 } }),
  );
  const s = summariseVariant("rag", "g", results, {}, { bootstrapSamples: 500, alpha: 0.05, seed: 3 });
  assert.ok(s.ci);
  assert.deepEqual(Object.keys(s.ci).sort(), ["passRate", ...Object.keys(s.metrics)].sort());
  for (const [key, i] of Object.entries(s.ci)) {
    const point = key === "passRate" ? s.passRate : s.metrics[key];
    assert.ok(i.low <= point && point <= i.high, `${key}: ${point} outside [${i.low}, ${i.high}]`);
  }
  // 30/40 pass: a real interval around 75%; a constant metric gets a zero-width one.
  assert.ok(s.ci.passRate.low > 0.55 && s.ci.passRate.low < 0.75 && s.ci.passRate.high > 0.75 && s.ci.passRate.high < 0.92, JSON.stringify(s.ci.passRate));
  assert.deepEqual(s.ci["retrieval.hitAtK"], { low: 1, high: 1 });
  assert.deepEqual(summariseVariant("rag", "g", results, {}, { bootstrapSamples: 500, alpha: 0.05, seed: 3 }).ci, s.ci);
  // Defaults apply without options; an empty variant has no intervals.
  assert.ok(summariseVariant("rag", "g", results).ci?.passRate);
  assert.equal(summariseVariant("rag", "g", []).ci, undefined);
  // Runs without repeats, cache flags or judges get none of those blocks.
  assert.equal(s.repeats, undefined);
  assert.equal(s.cache, undefined);
  assert.equal(s.judge, undefined);
});

test("summariseVariant: repeats average per case; costs and tokens stay totals over all calls", () => {
  // 3 cases × 2 repeats: A passes both, B one of two, C none.
  const verdicts: [string, boolean[]][] = [["A", [true, true]], ["B", [true, false]], ["C", [false, false]]];
  const results = verdicts.flatMap(([id, vs]) =>
    vs.map((v, rep) => ({ ...result({ passed: v, scores: [score("answer", v, v ? 1 : 0.5)], tokens: [100, 10], cost: [0.01, 0.02] }), caseId: id, repeat: rep })),
  );
  const s = summariseVariant("rag", "g", results);
  assert.equal(s.cases, 3);
  assert.equal(s.passRate, 0.5);
  assert.equal(s.passed, 2); // 1 + 0.5 + 0, rounded
  assert.deepEqual(s.repeats, { n: 2, passAll: 0.333333, agreement: 0.666667 });
  assert.equal(s.metrics["passRate.qa"], 0.5);
  // per case F1: 1, 0.75, 0.5
  assert.equal(s.metrics["answer.f1"], 0.75);
  assert.deepEqual(s.tokens, { input: 600, output: 60 });
  assert.ok(Math.abs(s.costUsd - 0.06) < 1e-12);
  assert.equal(s.perQuery.inputTokens, 100);
  assert.ok(Math.abs(s.perQuery.costUsd - 0.01) < 1e-12);
});

test("summariseVariant: cache hits and misses from cached flags", () => {
  const results = [
    { ...result({ passed: true }), cached: true },
    { ...result({ passed: true }), cached: true },
    { ...result({ passed: false }), cached: false },
    result({ passed: true }),
  ];
  assert.deepEqual(summariseVariant("rag", "g", results).cache, { hits: 2, misses: 1 });
});

test("summariseVariant: judge block — per-judge counts, judge errors, unsupported claims, cost, kappa vs humans", () => {
  const verdict = (judge: "faithfulness" | "correctness", pass: boolean | undefined, claims?: boolean[]): NonNullable<CaseResult["judges"]>[number] => ({
    judge,
    model: "openai:gpt-4.1-mini",
    ...(pass === undefined ? { error: "judge_error" as const } : { pass }),
    ...(claims ? { claims: claims.map((supported, i) => ({ claim: `c${i}`, supported })) } : {}),
    attempts: 1,
    usage: { inputTokens: 10, outputTokens: 5 },
    cached: false,
  });
  const results: CaseResult[] = [
    { ...result({ passed: true }), judges: [verdict("faithfulness", true, [true, true, true]), verdict("correctness", true)], judgeCostUsd: 0.001, human: "pass" },
    { ...result({ passed: false }), judges: [verdict("faithfulness", false, [true, false]), verdict("correctness", false)], judgeCostUsd: 0.002, human: "fail" },
    { ...result({ passed: false }), judges: [verdict("faithfulness", undefined), verdict("correctness", true)], judgeCostUsd: 0.003, human: "pass" },
    { ...result({ passed: true }), judges: [verdict("correctness", true)], human: "fail" },
    result({ passed: true }),
  ];
  const j = summariseVariant("rag", "g", results).judge!;
  assert.equal(j.model, "openai:gpt-4.1-mini");
  assert.deepEqual(j.byJudge, { faithfulness: { judged: 3, passed: 1, errors: 1 }, correctness: { judged: 4, passed: 3, errors: 0 } });
  // 1 unsupported of 5 claims (the errored verdict has none).
  assert.equal(j.unsupportedClaimRate, 0.2);
  assert.ok(Math.abs(j.costUsd - 0.006) < 1e-12);
  // human vs passed, leaving out the case whose judge errored (its verdict is unknown):
  // (p,p) (f,f) (f,p) → agreement 2/3; pe = 1/3·2/3 + 2/3·1/3 = 4/9 → kappa (2/3 − 4/9)/(5/9) = 0.4.
  assert.deepEqual(j.humanAgreement, { n: 3, kappa: 0.4, agreement: 0.666667 });
});
