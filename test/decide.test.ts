import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, failureGroup, confidenceOf, type DecideConfig } from "../src/decide/index.ts";
import type { CaseResult, FailureCause, RunSummary, VariantSummary } from "../src/evaluate/types.ts";
import { compareVariants } from "../src/evaluate/significance.ts";
import type { TaskKind } from "../src/models/index.ts";
import { PLAIN_PRICES, tokensFor } from "./helpers/cost-fixture.ts";

// ---------------------------------------------------------------------------------------------
// Fixture helper: per-variant pass/fail counts → consistent per-case results.
// ---------------------------------------------------------------------------------------------

/** Failure causes plus the two weak_reasoning signals that count as behaviour. */
type CauseKey = FailureCause | "wrong_label" | "wrong_fields";
const ORDER: CauseKey[] = [
  "missing_knowledge",
  "stale_knowledge",
  "wrong_retrieval",
  "hallucination",
  "bad_format",
  "wrong_tone",
  "policy_violation",
  "wrong_label",
  "wrong_fields",
  "weak_reasoning",
];
const GROUP: Record<CauseKey, string> = {
  missing_knowledge: "k",
  stale_knowledge: "k",
  wrong_retrieval: "k",
  hallucination: "k",
  bad_format: "b",
  wrong_tone: "b",
  policy_violation: "b",
  wrong_label: "b",
  wrong_fields: "b",
  weak_reasoning: "r",
};

interface VariantSpec {
  pass: number;
  fail?: Partial<Record<CauseKey, number>>;
  perQueryUsd?: number;
  p95?: number;
  truncated?: boolean;
  context?: { budgetTokens: number; corpusTokens: number; packedTokens: number };
}

interface RunSpec {
  variants: Record<string, VariantSpec>;
  constraints?: Partial<DecideConfig["constraints"]>;
  pricing?: Partial<DecideConfig["pricing"]>;
  complete?: boolean;
}

const DEFAULT_PER_QUERY: Record<string, number> = {
  "prompt-only": 0.0002,
  "long-context": 0.01,
  rag: 0.0008,
  "fine-tuned": 0.0002,
  hybrid: 0.0008,
};

/**
 * Cases c000…: the base variant (prompt-only) fails the first cases in cause order; every other
 * variant places each failure on a case that failed on the base with the same cause, else the
 * same group, else any base failure, else a base pass — so "rag fixes N of prompt-only's
 * knowledge failures" is simply the difference of the counts.
 */
export function makeRun(spec: RunSpec): { summary: RunSummary; cases: CaseResult[]; config: DecideConfig } {
  const names = Object.keys(spec.variants);
  const totals = names.map((n) => spec.variants[n].pass + Object.values(spec.variants[n].fail ?? {}).reduce((a, b) => a + (b ?? 0), 0));
  assert.ok(totals.every((t) => t === totals[0]), `fixture variants must have equal case counts: ${totals.join(", ")}`);
  const total = totals[0];
  const baseName = names.includes("prompt-only") ? "prompt-only" : names[0];
  const id = (i: number) => `c${String(i).padStart(3, "0")}`;

  const baseLayout: (CauseKey | undefined)[] = new Array(total).fill(undefined);
  let next = 0;
  for (const k of ORDER) for (let j = 0; j < (spec.variants[baseName].fail?.[k] ?? 0); j++) baseLayout[next++] = k;
  const taskOf = (i: number): TaskKind => (baseLayout[i] === "wrong_label" ? "classify" : baseLayout[i] === "wrong_fields" ? "extract" : "qa");

  const layouts: Record<string, (CauseKey | undefined)[]> = { [baseName]: baseLayout };
  for (const name of names) {
    if (name === baseName) continue;
    const layout: (CauseKey | undefined)[] = new Array(total).fill(undefined);
    for (const k of ORDER) {
      let want = spec.variants[name].fail?.[k] ?? 0;
      const prefs: ((i: number) => boolean)[] = [
        (i) => baseLayout[i] === k,
        (i) => baseLayout[i] !== undefined && GROUP[baseLayout[i]!] === GROUP[k],
        (i) => baseLayout[i] !== undefined,
        () => true,
      ];
      for (const pref of prefs) {
        for (let i = 0; i < total && want > 0; i++) {
          if (layout[i] === undefined && pref(i)) {
            layout[i] = k;
            want--;
          }
        }
      }
    }
    layouts[name] = layout;
  }

  const cases: CaseResult[] = [];
  const variants: VariantSummary[] = [];
  for (const name of names) {
    const v = spec.variants[name];
    const perQuery = v.perQueryUsd ?? DEFAULT_PER_QUERY[name] ?? 0.001;
    const failures: Partial<Record<FailureCause, number>> = {};
    const failuresByTask: VariantSummary["failuresByTask"] = {};
    layouts[name].forEach((k, i) => {
      const cause: FailureCause | undefined = k === "wrong_label" || k === "wrong_fields" ? "weak_reasoning" : k;
      const task = taskOf(i);
      if (cause) {
        failures[cause] = (failures[cause] ?? 0) + 1;
        const t = (failuresByTask[task] ??= {});
        t[cause] = (t[cause] ?? 0) + 1;
      }
      cases.push({
        runId: "run-test",
        caseId: id(i),
        variant: name,
        task,
        input: `question ${i}`,
        output: k ? `wrong answer ${i}` : `right answer ${i}`,
        abstained: false,
        citations: [],
        retrieved: [],
        contextPaths: [],
        contextTokens: 0,
        truncated: !!v.truncated,
        scores: [],
        passed: !k,
        failure: k
          ? { cause: cause!, signal: k === cause ? `${k}_signal` : k, evidence: `evidence for ${id(i)} on ${name}` }
          : undefined,
        usage: { inputTokens: 100, outputTokens: 20 },
        latencyMs: v.p95 ?? 500,
        costUsd: 0,
        projectedCostUsd: perQuery,
        generator: "offline:extractive",
        tags: [],
      });
    });
    variants.push({
      name,
      generator: "offline:extractive",
      cases: total,
      passed: v.pass,
      passRate: v.pass / total,
      metrics: {},
      failures,
      failuresByTask,
      latencyMs: { p50: (v.p95 ?? 500) / 2, p95: v.p95 ?? 500 },
      costUsd: 0,
      projectedCostUsd: perQuery * total,
      tokens: { input: 100 * total, output: 20 * total },
      perQuery: { ...tokensFor(perQuery), costUsd: 0, projectedCostUsd: perQuery },
      context:
        name === "long-context"
          ? { budgetTokens: 32_000, corpusTokens: v.truncated ? 180_000 : 12_000, packedTokens: v.truncated ? 31_990 : 12_000, truncated: !!v.truncated, ...v.context }
          : undefined,
    });
  }
  const summary: RunSummary = {
    runId: "run-test",
    createdAt: "2026-01-01T00:00:00.000Z",
    project: "fixture",
    generator: "offline:extractive",
    suite: { path: "suite.yaml", cases: total, byTask: { qa: total } },
    corpus: { documents: 10, chunks: 100, tokens: 12_000, versions: ["v1"] },
    retrievalK: 5,
    variants,
    notConfigured: ["fine-tuned", "hybrid"]
      .filter((n) => !names.includes(n))
      .map((name) => ({ name, reason: "no trained model is registered for this project" })),
    complete: spec.complete ?? true,
  };
  const config: DecideConfig = {
    constraints: {
      knowledgeChange: "monthly",
      citationsRequired: false,
      queriesPerDay: 1000,
      labelledExamples: 0,
      externalDataStoreAllowed: true,
      ...spec.constraints,
    },
    pricing: {
      asOf: "2026-01-01",
      models: PLAIN_PRICES,
      referenceModel: "openai:gpt-4.1-mini",
      fineTuneTrainingUsd: 50,
      vectorStoreMonthlyUsd: 25,
      ...spec.pricing,
    },
  };
  return { summary, cases, config };
}

function run(spec: RunSpec) {
  const { summary, cases, config } = makeRun(spec);
  return decide(summary, cases, config);
}

const has = (lines: string[], text: string) =>
  assert.ok(lines.some((l) => l.includes(text)), `expected a line containing ${JSON.stringify(text)} in:\n${lines.join("\n")}`);

// Scenario fixtures reused by several tests.
const supportBot = {
  "prompt-only": { pass: 8, fail: { missing_knowledge: 24, stale_knowledge: 6, bad_format: 2 } },
  "long-context": { pass: 22, fail: { missing_knowledge: 18 }, truncated: true },
  rag: { pass: 36, fail: { missing_knowledge: 2, wrong_retrieval: 2 } },
} satisfies Record<string, VariantSpec>;

const formatBot = {
  "prompt-only": { pass: 20, fail: { bad_format: 12, wrong_label: 8 } },
  "long-context": { pass: 20, fail: { bad_format: 12, wrong_label: 8 } },
  rag: { pass: 21, fail: { bad_format: 11, wrong_label: 8 } },
} satisfies Record<string, VariantSpec>;

// ---------------------------------------------------------------------------------------------

test("fixture helper aligns failures case by case", () => {
  const { cases } = makeRun({ variants: supportBot });
  const po = cases.filter((c) => c.variant === "prompt-only" && !c.passed);
  const rag = cases.filter((c) => c.variant === "rag" && !c.passed);
  assert.equal(po.length, 32);
  assert.equal(rag.length, 4);
  assert.ok(rag.every((r) => po.some((p) => p.caseId === r.caseId && failureGroup(p.failure) === "knowledge")));
});

test("failure grouping: wrong_label/wrong_fields are behaviour, other weak_reasoning is reasoning", () => {
  assert.equal(failureGroup({ cause: "weak_reasoning", signal: "wrong_label", evidence: "" }), "behaviour");
  assert.equal(failureGroup({ cause: "weak_reasoning", signal: "wrong_fields", evidence: "" }), "behaviour");
  assert.equal(failureGroup({ cause: "weak_reasoning", signal: "answer_mismatch", evidence: "" }), "reasoning");
  assert.equal(failureGroup({ cause: "hallucination", signal: "x", evidence: "" }), "knowledge");
  assert.equal(failureGroup({ cause: "policy_violation", signal: "x", evidence: "" }), "behaviour");
  assert.equal(failureGroup(undefined), undefined);
});

test("(c) support bot over fast-changing docs with citations → rag, quoting the measured numbers", () => {
  const d = run({ variants: supportBot, constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 5000 } });
  assert.equal(d.architecture, "rag");
  assert.equal(d.rule, "rag-for-knowledge");
  has(d.rationale, "94% of prompt-only failures (30 of 32) are missing knowledge (missing_knowledge 24, stale_knowledge 6)");
  has(d.rationale, "rag fixes 87% of them (26 of 30)");
  has(d.rationale, "rag passes 90% (36/40)");
  has(d.rationale, "long-context fails 18 cases because the corpus was truncated");
  has(d.rationale, "Knowledge changes weekly");
  has(d.rationale, "Citations are required");
  // rag: 0.0008 × 5000 × 30 + 25 = $145; long-context: 0.01 × 5000 × 30 = $1,500.
  has(d.rationale, "$145.00/month at 5,000 queries/day");
  assert.deepEqual(Object.keys(d.failureShares).sort(), ["long-context", "prompt-only", "rag"]);
  assert.equal(d.failureShares["prompt-only"].missing_knowledge, 0.75);
  assert.ok(d.costs.some((c) => c.variant === "rag" && Math.abs(c.monthlyUsd - 145) < 1e-9));
  assert.ok(d.breakEven.some((b) => b.between.includes("rag") && b.between.includes("long-context")));
  assert.ok(d.whatWouldChange.length > 0);
  has(d.whatWouldChange, "long-context would cost");
});

test("(e) strict format/classification on stable data with many labelled examples → fine-tune", () => {
  const d = run({ variants: formatBot, constraints: { knowledgeChange: "yearly", labelledExamples: 800 } });
  assert.equal(d.architecture, "fine-tune");
  assert.equal(d.rule, "fine-tune-for-behaviour");
  has(d.rationale, "100% of prompt-only failures (20 of 20) are behaviour (format/tone/policy/labels) (bad_format 12, wrong_label 8)");
  has(d.rationale, "19 of 20 (95%) still fail on rag");
  has(d.rationale, "800 labelled examples");
  has(d.rationale, "fine-tuned variant was not measured");
  has(d.whatWouldChange, "Train and run the fine-tuned variant");
});

test("(f) citations + strict format, knowledge fixed by retrieval, behaviour left → hybrid", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 20, bad_format: 10 } },
      rag: { pass: 28, fail: { missing_knowledge: 2, bad_format: 10 } },
    },
    constraints: { citationsRequired: true, labelledExamples: 500, knowledgeChange: "weekly" },
  });
  assert.equal(d.architecture, "hybrid");
  assert.equal(d.rule, "hybrid-for-knowledge-and-behaviour");
  has(d.rationale, "67% of prompt-only failures (20 of 30) are missing knowledge");
  has(d.rationale, "rag fixes 90% of them (18 of 20)");
  has(d.rationale, "10 of rag's 12 remaining failures (83%) are behaviour (bad_format 10)");
  has(d.rationale, "Citations are required");
  has(d.rationale, "hybrid variant was not measured");
  // Hybrid estimate: rag tokens (0.0008 × 1000 × 30 = $24) + $25 store + $50/12 training.
  const hy = d.costs.find((c) => c.variant === "hybrid");
  assert.ok(hy && Math.abs(hy.monthlyUsd - (24 + 25 + 50 / 12)) < 1e-9);
  has(d.whatWouldChange, "rag alone would do");
});

test("(d) small stable corpus, low volume → long-context, with costs and break-even", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 30 } },
      "long-context": { pass: 37, fail: { missing_knowledge: 3 }, perQueryUsd: 0.004 },
      rag: { pass: 38, fail: { missing_knowledge: 2 }, perQueryUsd: 0.0004 },
    },
    constraints: { knowledgeChange: "yearly", queriesPerDay: 50 },
  });
  assert.equal(d.architecture, "long-context");
  assert.equal(d.rule, "long-context-small-stable");
  has(d.rationale, "long-context fixes 90% of them (27 of 30)");
  has(d.rationale, "long-context passes 93% (37/40) vs rag 95%");
  // long-context 0.004 × 50 × 30 = $6; rag 0.0004 × 50 × 30 + 25 = $25.60; break-even 25 / (30 × 0.0036) ≈ 231.5/day.
  has(d.rationale, "$6.00/month");
  has(d.rationale, "vs rag $25.60/month");
  has(d.rationale, "Break-even with rag is ~232 queries/day");
  const be = d.breakEven.find((b) => b.between.includes("long-context") && b.between.includes("rag"));
  assert.equal(be?.queriesPerDay, 231.5);
  has(d.whatWouldChange, "rose above ~232 queries/day");
});

test("(c') weak generator: rag within tolerance of long-context wins on fast-changing docs + cost", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 40 } },
      "long-context": { pass: 31, fail: { missing_knowledge: 9, weak_reasoning: 10 }, perQueryUsd: 0.01 },
      rag: { pass: 29, fail: { wrong_retrieval: 6, weak_reasoning: 15 }, perQueryUsd: 0.0003 },
    },
    constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 4000 },
  });
  assert.equal(d.architecture, "rag");
  assert.equal(d.rule, "rag-for-knowledge");
  has(d.rationale, "rag fixes 48% of them (19 of 40)");
  has(d.rationale, "rag is 4 points below long-context (58% vs 62%), within the 5-point tolerance, and knowledge changes weekly, citations are required");
  // The same measurements on a stable corpus, no citations, and long-context cheaper: no reason to prefer rag.
  const stable = run({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 40 } },
      "long-context": { pass: 31, fail: { missing_knowledge: 9, weak_reasoning: 10 }, perQueryUsd: 0.0001 },
      rag: { pass: 29, fail: { wrong_retrieval: 6, weak_reasoning: 15 }, perQueryUsd: 0.0003 },
    },
    constraints: { knowledgeChange: "yearly", citationsRequired: false, queriesPerDay: 50 },
  });
  assert.notEqual(stable.architecture, "rag");
});

test("what-would-change never lists a condition that already holds", () => {
  // long-context wins on pass rate although citations are required and docs change weekly.
  const d = run({
    variants: {
      "prompt-only": { pass: 5, fail: { missing_knowledge: 35 } },
      "long-context": { pass: 30, fail: { weak_reasoning: 10 }, perQueryUsd: 0.004 },
      rag: { pass: 22, fail: { weak_reasoning: 18 }, perQueryUsd: 0.0004 },
    },
    constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 50 },
  });
  assert.equal(d.architecture, "long-context");
  const text = d.whatWouldChange.join("\n");
  assert.doesNotMatch(text, /citations became required/);
  assert.doesNotMatch(text, /changing monthly or faster/);
  has(d.whatWouldChange, "rag passed as well as long-context (now 55% vs 75%");
});

test("(b) weak reasoning dominant and persistent with context → stronger-model", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 20, fail: { missing_knowledge: 4, weak_reasoning: 16 } },
      rag: { pass: 23, fail: { missing_knowledge: 2, weak_reasoning: 15 } },
    },
  });
  assert.equal(d.architecture, "stronger-model");
  assert.equal(d.rule, "stronger-model-for-reasoning");
  has(d.rationale, "80% of prompt-only failures (16 of 20) are weak reasoning");
  has(d.rationale, "15 of 16 (94%) still fail on rag");
  has(d.rationale, "A stronger model was not measured");
  assert.notEqual(d.confidence, "high");
});

test("classification misses (weak_reasoning/wrong_label) do not count as reasoning", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 20, fail: { wrong_label: 20 } },
      rag: { pass: 20, fail: { wrong_label: 20 } },
    },
    constraints: { labelledExamples: 1000 },
  });
  assert.equal(d.architecture, "fine-tune");
});

test("(a) nothing fails on prompt-only → prompt-only, high confidence with enough cases", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 60 },
      "long-context": { pass: 60 },
      rag: { pass: 60 },
    },
  });
  assert.equal(d.architecture, "prompt-only");
  assert.equal(d.rule, "prompt-only-suffices");
  assert.equal(d.confidence, "high");
  has(d.rationale, "prompt-only passes 100% (60/60)");
});

test("(a) almost nothing fails (≥ 95%) → prompt-only", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 39, fail: { missing_knowledge: 1 } },
      rag: { pass: 40 },
    },
  });
  assert.equal(d.architecture, "prompt-only");
  has(d.rationale, "prompt-only passes 98% (39/40)");
  has(d.rationale, "Its 1 failure: missing_knowledge 1");
});

test("external store not allowed → not rag; falls back to long-context and says why", () => {
  const d = run({
    variants: {
      ...supportBot,
      "long-context": { pass: 30, fail: { missing_knowledge: 10 }, truncated: true },
    },
    constraints: { knowledgeChange: "weekly", externalDataStoreAllowed: false },
  });
  assert.notEqual(d.architecture, "rag");
  assert.notEqual(d.architecture, "hybrid");
  assert.equal(d.architecture, "long-context");
  assert.equal(d.rule, "knowledge-without-retrieval");
  has(d.rationale, "rag ruled out");
  has(d.rationale, "externalDataStoreAllowed is false");
  has(d.rationale, "long-context fixes 67% of them (20 of 30)");
  has(d.whatWouldChange, "externalDataStoreAllowed: true");
  has(d.whatWouldChange, "rag would pass 90%");
});

test("fine-tuning for knowledge with weekly-changing docs is never recommended, and says why", () => {
  const d = run({
    variants: supportBot,
    constraints: { knowledgeChange: "weekly", externalDataStoreAllowed: false, labelledExamples: 5000 },
  });
  assert.notEqual(d.architecture, "fine-tune");
  assert.notEqual(d.architecture, "rag");
  has(d.rationale, "fine-tune ruled out");
  has(d.rationale, "fine-tuning bakes facts into the weights, so the model would be stale within a week");
});

test("too few labelled examples → best non-fine-tune option, with a 'collect' line", () => {
  const d = run({ variants: formatBot, constraints: { knowledgeChange: "yearly", labelledExamples: 40 } });
  assert.notEqual(d.architecture, "fine-tune");
  assert.notEqual(d.architecture, "hybrid");
  // prompt-only 50%, rag 52.5%: within one case, so the cheaper prompt-only wins.
  assert.equal(d.architecture, "prompt-only");
  has(d.rationale, "only 40 labelled examples; fine-tuning needs ≥ 300");
  has(d.whatWouldChange, "Collect ≥ 300 labelled examples (you have 40)");
});

test("too few labels for hybrid → rag, with a 'collect' line naming hybrid", () => {
  const d = run({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 20, bad_format: 10 } },
      rag: { pass: 28, fail: { missing_knowledge: 2, bad_format: 10 } },
    },
    constraints: { citationsRequired: true, labelledExamples: 12 },
  });
  assert.equal(d.architecture, "rag");
  has(d.whatWouldChange, "Collect ≥ 300 labelled examples (you have 12): hybrid could then fix the 10 behaviour failures");
});

test("budget exceeded demotes rag, quoting the numbers", () => {
  const d = run({
    variants: supportBot,
    constraints: { knowledgeChange: "weekly", queriesPerDay: 5000, monthlyBudgetUsd: 50 },
  });
  assert.notEqual(d.architecture, "rag");
  // Only prompt-only ($0.0002 × 5000 × 30 = $30) fits the $50 budget.
  assert.equal(d.architecture, "prompt-only");
  has(d.rationale, "rag would cost $145.00/month at 5,000 queries/day ($0.00080/query + $25.00 fixed), over the $50.00/month budget");
  has(d.whatWouldChange, "With a monthly budget of at least $145.00 (now $50.00), rag would be an option");
  const rag = d.costs.find((c) => c.variant === "rag");
  assert.equal(rag?.withinBudget, false);
  assert.equal(d.costs.find((c) => c.variant === "prompt-only")?.withinBudget, true);
});

test("latency target exceeded demotes rag, quoting the numbers", () => {
  const d = run({
    variants: {
      ...supportBot,
      rag: { ...supportBot.rag, p95: 3000 },
      "long-context": { pass: 30, fail: { missing_knowledge: 10 }, p95: 1200 },
    },
    constraints: { knowledgeChange: "weekly", p95LatencyMs: 1500 },
  });
  assert.notEqual(d.architecture, "rag");
  has(d.rationale, "rag p95 latency is 3000 ms, over the 1500 ms target");
});

test("fine-tuned not measured → lower confidence than when it was measured", () => {
  const variants = {
    "prompt-only": { pass: 30, fail: { bad_format: 20, wrong_label: 10 } },
    rag: { pass: 31, fail: { bad_format: 19, wrong_label: 10 } },
  };
  const constraints = { knowledgeChange: "yearly" as const, labelledExamples: 1000 };
  const unmeasured = run({ variants, constraints });
  const measured = run({ variants: { ...variants, "fine-tuned": { pass: 57, fail: { bad_format: 3 } } }, constraints });
  assert.equal(unmeasured.architecture, "fine-tune");
  assert.equal(measured.architecture, "fine-tune");
  assert.equal(measured.confidence, "high");
  assert.equal(unmeasured.confidence, "medium");
  has(unmeasured.rationale, "fine-tuned variant was not measured");
  has(measured.rationale, "fine-tuned was measured: fine-tuned passes 95% (57/60)");
});

test("a measured fine-tuned variant that does not help is not recommended", () => {
  const d = run({
    variants: { ...formatBot, "fine-tuned": { pass: 21, fail: { bad_format: 11, wrong_label: 8 } } },
    constraints: { labelledExamples: 1000 },
  });
  assert.notEqual(d.architecture, "fine-tune");
  has(d.rationale, "fine-tuned was measured and passes 53%");
});

test("confidence: sample size, margin, measured", () => {
  assert.equal(confidenceOf({ n: 60, measured: true, margin: 0.2, fallback: false, complete: true }), "high");
  assert.equal(confidenceOf({ n: 60, measured: true, margin: 0.01, fallback: false, complete: true }), "medium");
  assert.equal(confidenceOf({ n: 30, measured: true, margin: 0.2, fallback: false, complete: true }), "medium");
  assert.equal(confidenceOf({ n: 10, measured: true, margin: 0.2, fallback: false, complete: true }), "low");
  assert.equal(confidenceOf({ n: 60, measured: false, margin: NaN, fallback: false, complete: true }), "medium");
  assert.equal(confidenceOf({ n: 30, measured: false, margin: NaN, fallback: false, complete: true }), "low");
  assert.equal(confidenceOf({ n: 60, measured: true, margin: Infinity, fallback: false, complete: false }), "medium");
});

test("works from summaries alone (no per-case results)", () => {
  const { summary, config } = makeRun({ variants: supportBot, constraints: { knowledgeChange: "weekly" } });
  const d = decide(summary, [], config);
  assert.equal(d.architecture, "rag");
  has(d.rationale, "rag fixes 87% of them (26 of 30)");
});

test("a run with no measured variants is an input error, not a recommendation", () => {
  const { summary, config } = makeRun({ variants: { "prompt-only": { pass: 1 } } });
  assert.throws(() => decide({ ...summary, variants: [] }, [], config), /no measured variants/);
});

// ---------------------------------------------------------------------------------------------
// Paired comparisons (summary.comparisons)
// ---------------------------------------------------------------------------------------------

/** The run with the paired comparisons the runner would record for it. */
function runWithComparisons(spec: RunSpec) {
  const { summary, cases, config } = makeRun(spec);
  const plain = decide(summary, cases, config);
  summary.comparisons = compareVariants(cases, summary.variants.map((v) => v.name), { bootstrapSamples: 500, alpha: 0.05, seed: 1 });
  return { plain, withStats: decide(summary, cases, config), summary };
}

test("a lead over the best simpler option that is not significant lowers confidence and is stated", () => {
  // rag passes 3 cases long-context fails and none the other way: McNemar p = 2 × 1/8 = 0.25.
  const { plain, withStats, summary } = runWithComparisons({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 60 } },
      "long-context": { pass: 55, fail: { missing_knowledge: 15 } },
      rag: { pass: 58, fail: { missing_knowledge: 12 } },
    },
    constraints: { knowledgeChange: "weekly", citationsRequired: true },
  });
  const c = summary.comparisons!.find((x) => x.a === "long-context" && x.b === "rag")!;
  assert.equal(c.pValue, 0.25);
  assert.equal(withStats.architecture, "rag");
  assert.equal(withStats.architecture, plain.architecture);
  assert.equal(withStats.rule, plain.rule);
  // 70 cases → high; a 4-point margin → medium (as before); not significant → low.
  assert.equal(plain.confidence, "medium");
  assert.equal(withStats.confidence, "low");
  has(withStats.rationale, "rag vs long-context: +4.3 points, not significant (McNemar p = 0.25, n = 70)");
  has(withStats.rationale, "lead over long-context not significant");
  assert.ok(!plain.rationale.some((l) => l.includes("not significant")));
  has(withStats.whatWouldChange, "More cases would settle rag vs long-context");
  has(withStats.whatWouldChange, "paired cases (now 70) would make it significant at p < 0.05");
});

test("a significant lead, or a run without comparisons, decides exactly as before", () => {
  const { plain, withStats } = runWithComparisons({ variants: supportBot, constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 5000 } });
  // Sensitivity re-decides under other constraints, where the paired test can matter: compare the decision itself.
  const core = ({ sensitivity: _s, ...d }: ReturnType<typeof decide>) => d;
  assert.deepEqual(core(withStats), core(plain));
  // The winner trails the simpler option (long-context within tolerance): its lead cannot be in doubt.
  const lc = runWithComparisons({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 30 } },
      "long-context": { pass: 37, fail: { missing_knowledge: 3 }, perQueryUsd: 0.004 },
      rag: { pass: 38, fail: { missing_knowledge: 2 }, perQueryUsd: 0.0004 },
    },
    constraints: { knowledgeChange: "yearly", queriesPerDay: 50 },
  });
  assert.equal(lc.plain.architecture, "long-context");
  assert.deepEqual(core(lc.withStats), core(lc.plain));
});

test("confidence: a lead that is not significant costs one level", () => {
  assert.equal(confidenceOf({ n: 60, measured: true, margin: 0.2, fallback: false, complete: true, significant: false }), "medium");
  assert.equal(confidenceOf({ n: 60, measured: true, margin: 0.2, fallback: false, complete: true, significant: true }), "high");
  assert.equal(confidenceOf({ n: 60, measured: true, margin: 0.01, fallback: false, complete: true, significant: false }), "low");
});

test("not distinguishable: a lead that may be chance gives way to the cheaper, simpler option", () => {
  // The same 4-point, p = 0.25 lead of rag over long-context; at 20 queries/day long-context's
  // per-query tokens cost less than rag's fixed vector store.
  const { withStats } = runWithComparisons({
    variants: {
      "prompt-only": { pass: 10, fail: { missing_knowledge: 60 } },
      "long-context": { pass: 55, fail: { missing_knowledge: 15 } },
      rag: { pass: 58, fail: { missing_knowledge: 12 } },
    },
    constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 20 },
  });
  assert.equal(withStats.architecture, "long-context");
  assert.equal(withStats.rule, "not-distinguishable");
  // long-context is well ahead of prompt-only; only its rank against rag is uncertain.
  assert.equal(withStats.confidence, "medium");
  has(withStats.rationale, "rag and long-context are not distinguishable on this suite, so the simpler, cheaper long-context is recommended");
  has(withStats.rationale, "The failures pointed to rag");
  has(withStats.whatWouldChange, "rag would then be recommended");
  assert.ok(withStats.rollout.some((s) => s.title === "Long context"));
});

// ---------------------------------------------------------------------------------------------
// Sensitivity: where one constraint, moved alone, changes the recommendation.
// ---------------------------------------------------------------------------------------------

const smallStable = {
  variants: {
    "prompt-only": { pass: 10, fail: { missing_knowledge: 30 } },
    "long-context": { pass: 37, fail: { missing_knowledge: 3 }, perQueryUsd: 0.004, p95: 2000 },
    rag: { pass: 38, fail: { missing_knowledge: 2 }, perQueryUsd: 0.0004, p95: 900 },
  },
  constraints: { knowledgeChange: "yearly", queriesPerDay: 50 },
} satisfies RunSpec;

test("sensitivity: the volume and freshness at which long-context gives way to rag", () => {
  const d = run(smallStable);
  assert.equal(d.architecture, "long-context");
  const volume = d.sensitivity.find((l) => l.lever === "queriesPerDay" && l.to === "rag");
  assert.ok(volume, JSON.stringify(d.sensitivity));
  // The cost break-even is ~231.5/day: the flip is there, not at an arbitrary grid point.
  assert.ok((volume.at as number) >= 231 && (volume.at as number) <= 240, String(volume.at));
  assert.match(volume.text, /Above ~2\d\d queries\/day \(now 50\), the recommendation becomes rag/);
  const fresh = d.sensitivity.find((l) => l.lever === "knowledgeChange");
  assert.equal(fresh?.to, "rag");
  assert.match(fresh!.text, /monthly or weekly or daily \(now yearly\)/);
  // A latency target under long-context's 2,000 ms p95 rules it out.
  const latency = d.sensitivity.find((l) => l.lever === "p95LatencyMs");
  assert.equal(latency?.to, "rag");
  assert.ok((latency!.at as number) < 2000 && (latency!.at as number) >= 900);
});

test("sensitivity: every line is true — deciding again with that one change gives the stated option", () => {
  const specs: RunSpec[] = [
    smallStable,
    { variants: supportBot, constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 5000 } },
    { variants: formatBot, constraints: { knowledgeChange: "yearly", labelledExamples: 0, queriesPerDay: 200 } },
    { variants: formatBot, constraints: { knowledgeChange: "yearly", labelledExamples: 5000, queriesPerDay: 200, monthlyBudgetUsd: 40 } },
    { variants: supportBot, constraints: { knowledgeChange: "monthly", p95LatencyMs: 950, queriesPerDay: 100, externalDataStoreAllowed: false } },
  ];
  let checked = 0;
  for (const spec of specs) {
    const { summary, cases, config } = makeRun(spec);
    const d = decide(summary, cases, config);
    for (const line of d.sensitivity) {
      const changed = decide(summary, cases, { ...config, constraints: { ...config.constraints, [line.lever]: line.at } });
      assert.equal(changed.architecture, line.to, `${line.text} (decided ${changed.architecture})`);
      assert.notEqual(line.to, d.architecture);
      checked++;
    }
  }
  assert.ok(checked >= 8, `only ${checked} sensitivity lines across the fixtures`);
});

test("sensitivity: labelled data is the lever for behaviour failures", () => {
  const d = run({ variants: formatBot, constraints: { knowledgeChange: "yearly", labelledExamples: 0, queriesPerDay: 200 } });
  assert.notEqual(d.architecture, "fine-tune");
  const labels = d.sensitivity.find((l) => l.lever === "labelledExamples");
  assert.equal(labels?.to, "fine-tune");
  assert.equal(labels?.at, 300);
});

test("wrong retrieval on rag: the evidence quotes the measured semantic-retrieval verdict, else says how to measure it", () => {
  const { summary, cases, config } = makeRun({ variants: supportBot });
  const plain = decide(summary, cases, config);
  assert.equal(plain.architecture, "rag");
  has(plain.whatWouldChange, "`ragtune bench retrieval --suite` measures whether semantic retrieval offline (use-lite) helps");
  const advice = "semantic retrieval (use-lite hybrid) measured +0.023 recall@5 and +0.025 MRR vs lexical on your suite (87 cases, chunking paragraphs): recommended";
  const measured = decide(summary, cases, { ...config, semanticRetrieval: { advice, measuredAt: "2026-12-03T14:00:00Z" } });
  has(measured.whatWouldChange, "Semantic retrieval (use-lite hybrid) measured +0.023 recall@5");
  has(measured.whatWouldChange, "(measured 2026-12-03)");
});
