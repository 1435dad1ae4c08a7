import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildReport, writeReport, renderMarkdown, type ReportJson } from "../src/report/index.ts";
import { decide, type DecideConfig } from "../src/decide/index.ts";
import { summariseVariant } from "../src/evaluate/stats.ts";
import { compareVariants } from "../src/evaluate/significance.ts";
import { FAILURE_CAUSES, type CaseResult, type FailureCause, type RunSummary, type VariantSummary } from "../src/evaluate/types.ts";
import type { TaskKind } from "../src/models/index.ts";
import { PLAIN_PRICES, tokensFor } from "./helpers/cost-fixture.ts";

const config: DecideConfig = {
  constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 2000, labelledExamples: 0, externalDataStoreAllowed: true, monthlyBudgetUsd: 500 },
  pricing: { asOf: "2026-01-01", models: PLAIN_PRICES, referenceModel: "openai:gpt-4.1-mini", fineTuneTrainingUsd: 50, vectorStoreMonthlyUsd: 25 },
};

type Outcome = FailureCause | "pass";

/** 12 cases: 10 qa + 2 classify; per variant an outcome list in case order. */
function fixture(): { summary: RunSummary; cases: CaseResult[] } {
  const tasks: TaskKind[] = [...Array(10).fill("qa"), "classify", "classify"];
  const outcomes: Record<string, Outcome[]> = {
    "prompt-only": ["missing_knowledge", "missing_knowledge", "missing_knowledge", "missing_knowledge", "missing_knowledge", "stale_knowledge", "hallucination", "pass", "pass", "pass", "weak_reasoning", "pass"],
    "long-context": ["missing_knowledge", "missing_knowledge", "missing_knowledge", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "weak_reasoning", "pass"],
    rag: ["wrong_retrieval", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "weak_reasoning", "pass"],
  };
  const perQuery: Record<string, number> = { "prompt-only": 0.0002, "long-context": 0.012, rag: 0.0009 };
  const cases: CaseResult[] = [];
  const variants: VariantSummary[] = [];
  for (const [name, outs] of Object.entries(outcomes)) {
    const failures: Partial<Record<FailureCause, number>> = {};
    outs.forEach((o, i) => {
      const caseId = `q${String(i + 1).padStart(2, "0")}`;
      if (o !== "pass") failures[o] = (failures[o] ?? 0) + 1;
      cases.push({
        runId: "2026-01-01_00-00-00-abcd",
        caseId,
        variant: name,
        task: tasks[i],
        input: i === 0 ? `How do I rotate an API key? ${"Please explain in detail. ".repeat(20)}` : `Question ${i + 1} | with a pipe`,
        output: o === "pass" ? `Answer ${i + 1} [1]` : i === 0 ? "x".repeat(1000) : `I don't know.`,
        abstained: o === "missing_knowledge" && name === "prompt-only",
        label: tasks[i] === "classify" ? (o === "pass" ? "billing" : "bug") : undefined,
        citations: [],
        retrieved: [],
        contextPaths: [],
        contextTokens: 0,
        truncated: name === "long-context",
        scores: [],
        retrieval: name === "rag" && tasks[i] === "qa" ? { k: 5, hitAtK: o === "pass" ? 1 : 0, recallAtK: o === "pass" ? 1 : 0, mrr: o === "pass" ? 0.5 : 0 } : undefined,
        passed: o === "pass",
        failure:
          o === "pass"
            ? undefined
            : { cause: o, signal: o === "weak_reasoning" ? "wrong_label" : `${o}_signal`, evidence: `expected "billing" but got "bug" for ${caseId}` },
        usage: { inputTokens: 500, outputTokens: 50 },
        latencyMs: 100 + i,
        costUsd: 0,
        projectedCostUsd: perQuery[name],
        generator: "offline:extractive",
        tags: [],
      });
    });
    const passed = outs.filter((o) => o === "pass").length;
    variants.push({
      name,
      generator: "offline:extractive",
      cases: outs.length,
      passed,
      passRate: passed / outs.length,
      metrics: { abstentionAccuracy: 0.5 },
      failures,
      failuresByTask: {},
      latencyMs: { p50: 105, p95: 111 },
      costUsd: 0,
      projectedCostUsd: perQuery[name] * outs.length,
      tokens: { input: 500 * outs.length, output: 50 * outs.length },
      perQuery: { ...tokensFor(perQuery[name]), costUsd: 0, projectedCostUsd: perQuery[name] },
      context: name === "long-context" ? { budgetTokens: 32000, corpusTokens: 90000, packedTokens: 31980, truncated: true } : undefined,
    });
  }
  const summary: RunSummary = {
    runId: "2026-01-01_00-00-00-abcd",
    createdAt: "2026-01-01T00:00:00.000Z",
    project: "acme-support",
    generator: "offline:extractive",
    suite: { path: "suite.yaml", cases: 12, byTask: { qa: 10, classify: 2 } },
    corpus: { documents: 42, chunks: 310, tokens: 90000, versions: ["v1", "v2"] },
    retrievalK: 5,
    variants,
    notConfigured: [
      { name: "fine-tuned", reason: "no trained model is registered for this project" },
      { name: "hybrid", reason: "no trained model is registered for this project" },
    ],
    complete: true,
  };
  return { summary, cases };
}

function build(): ReportJson {
  const { summary, cases } = fixture();
  const decision = decide(summary, cases, config);
  return buildReport(summary, cases, decision, config, { generatedAt: new Date("2026-02-03T04:05:06.000Z") });
}

test("report.json has the required keys and shapes", () => {
  const r = build();
  for (const key of ["runId", "generatedAt", "generator", "recommendation", "variants", "notConfigured", "costs", "breakEven", "suite", "corpus", "failureExamples"]) {
    assert.ok(key in r, `missing ${key}`);
  }
  assert.equal(r.runId, "2026-01-01_00-00-00-abcd");
  assert.equal(r.generatedAt, "2026-02-03T04:05:06.000Z");
  assert.equal(r.generator.id, "offline:extractive");
  assert.equal(r.generator.offline, true);
  assert.match(r.generator.note, /offline extractive reader/);

  assert.equal(r.recommendation.architecture, "rag");
  assert.ok(["high", "medium", "low"].includes(r.recommendation.confidence));
  assert.ok(r.recommendation.rationale.length > 0);
  assert.ok(r.recommendation.whatWouldChange.length > 0);

  assert.deepEqual(r.variants.map((v) => v.name), ["prompt-only", "long-context", "rag"]);
  for (const v of r.variants) {
    for (const key of ["name", "generator", "cases", "passed", "passRate", "metrics", "failures", "latencyMs", "costUsd", "projectedCostUsd"]) {
      assert.ok(key in v, `variant ${v.name} missing ${key}`);
    }
    assert.deepEqual(Object.keys(v.failures).sort(), [...FAILURE_CAUSES].sort());
    assert.ok("p50" in v.latencyMs && "p95" in v.latencyMs);
  }
  const po = r.variants[0];
  assert.equal(po.failures.missing_knowledge, 5);
  assert.equal(po.failures.bad_format, 0);
  // weak_reasoning with signal wrong_label is a behaviour failure.
  assert.deepEqual(po.failureGroups, { knowledge: 7, behaviour: 1, reasoning: 0 });
  assert.deepEqual(po.byTask.qa, { cases: 10, passed: 3, passRate: 0.3 });
  assert.deepEqual(po.byTask.classify, { cases: 2, passed: 1, passRate: 0.5 });
  assert.equal(po.fallbackRate, 5 / 12);
  assert.equal(po.retrieval, null);
  const rag = r.variants[2];
  assert.equal(rag.retrieval?.k, 5);
  assert.equal(rag.retrieval?.hitAtK, 0.9);
  assert.equal(rag.retrieval?.scoredCases, 10);
  // 0.0009 × 2000 × 30 + 25 = $79
  assert.ok(Math.abs((rag.monthlyUsd ?? 0) - 79) < 1e-9);

  assert.deepEqual(r.notConfigured.map((n) => n.name), ["fine-tuned", "hybrid"]);
  assert.ok(r.costs.some((c) => c.variant === "rag"));
  assert.ok(r.breakEven.some((b) => b.between.includes("rag")));
  assert.equal(r.suite.cases, 12);
  assert.equal(r.corpus.documents, 42);

  const ex = r.failureExamples["prompt-only"].missing_knowledge!;
  assert.equal(ex.length, 3);
  assert.deepEqual(ex.map((e) => e.caseId), ["q01", "q02", "q03"]);
  for (const key of ["caseId", "input", "output", "evidence"]) assert.ok(key in ex[0]);
  assert.ok(ex[0].output.length <= 280, "output is an excerpt");
  assert.ok(ex[0].output.endsWith("…"));
  assert.equal(r.failureExamples.rag.wrong_retrieval?.[0].caseId, "q01");

  // Round-trips through JSON unchanged (no undefined-only or non-finite values that would vanish).
  assert.deepEqual(JSON.parse(JSON.stringify(r)).recommendation, r.recommendation);
});

test("report.md has the verdict, tables and footer", () => {
  const r = build();
  const md = renderMarkdown(r);
  assert.match(md, /^# ragtune report — acme-support/);
  assert.match(md, /\*\*Recommendation: RAG\*\* \(confidence: (high|medium|low)\)/);
  // Variant comparison table with per-task pass rates, fallback, latency, cost.
  assert.match(md, /\| Variant \| Generator \| Pass rate \| qa pass \| classify pass \| Fallback rate \| p50 \| p95 \| Cost\/query \| Monthly \(projected\) \|/);
  assert.match(md, /\| rag \| `offline:extractive` \| 83\.3% \(10\/12\) \| 90\.0% \(9\/10\) \| 50\.0% \(1\/2\) \|/);
  // Retrieval kept separate.
  assert.match(md, /\| Variant \| k \| hit@k \| recall@k \| MRR \| Cases scored \|/);
  assert.match(md, /\| rag \| 5 \| 90\.0% \| 90\.0% \| 0\.45 \| 10 \|/);
  // Failure distribution: variants × 8 causes.
  assert.ok(md.includes(`| Variant | Failed | ${FAILURE_CAUSES.join(" | ")} |`));
  assert.match(md, /\| prompt-only \| 8 \| 5 \(62\.5%\) \| 1 \(12\.5%\) \| – \| 1 \(12\.5%\) \|/);
  assert.match(md, /\| prompt-only \| 8 \|.*\| 7 \/ 1 \/ 0 \|/);
  assert.match(md, /## Why\n\n- /);
  assert.match(md, /## What would change the recommendation\n\n- /);
  assert.match(md, /## Cost & break-even/);
  assert.match(md, /\| Option \| Cost\/query \| Fixed\/month \| Monthly \| Within budget \| p95 \| Within latency \|/);
  assert.match(md, /\| long-context \| \$0\.012 \| \$0 \| \$720\.00 \| \*\*no\*\* \(budget \$500\.00\) \|/);
  assert.match(md, /long-context vs rag: ~/);
  assert.match(md, /## Failure examples/);
  assert.match(md, /`q01` \(qa\)/);
  assert.match(md, /- \*\*fine-tuned\*\* — not run: no trained model/);
  // Pipes inside cells are escaped; the footer names generator and run.
  assert.match(md, /Generated by ragtune at 2026-02-03T04:05:06\.000Z · run `2026-01-01_00-00-00-abcd` · generator `offline:extractive` \(offline extractive reader, no LLM\)/);
});

test("writeReport writes report.json and report.md atomically, leaving no temp files", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-report-"));
  try {
    const r = build();
    const paths = writeReport(dir, r);
    assert.deepEqual(readdirSync(dir).sort(), ["report.json", "report.md"]);
    assert.deepEqual(JSON.parse(readFileSync(paths.json, "utf8")), JSON.parse(JSON.stringify(r)));
    assert.equal(readFileSync(paths.markdown, "utf8"), renderMarkdown(r));
    // Overwrite in place: still exactly the two files.
    writeReport(dir, { ...r, generatedAt: "2026-03-01T00:00:00.000Z" });
    assert.deepEqual(readdirSync(dir).sort(), ["report.json", "report.md"]);
    assert.equal(JSON.parse(readFileSync(paths.json, "utf8")).generatedAt, "2026-03-01T00:00:00.000Z");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The fixture as a current run records it: intervals, paired comparisons, cache and cost. */
function buildWithStatistics(): { r: ReportJson; md: string } {
  const { summary, cases } = fixture();
  const opts = { bootstrapSamples: 1000, alpha: 0.05, seed: 1 };
  for (const v of summary.variants) {
    v.ci = summariseVariant(v.name, v.generator, cases.filter((c) => c.variant === v.name), {}, opts).ci;
    v.cache = { hits: 12, misses: 0 };
  }
  summary.comparisons = compareVariants(cases, summary.variants.map((v) => v.name), opts);
  summary.cache = { hits: 36, misses: 0 };
  summary.costUsd = 0;
  const decision = decide(summary, cases, config);
  const r = buildReport(summary, cases, decision, { ...config, evaluate: { alpha: 0.05, bootstrapSamples: 1000, seed: 1 } }, { generatedAt: new Date("2026-02-03T04:05:06.000Z") });
  return { r, md: renderMarkdown(r) };
}

test("report: pass rates carry their bootstrap interval", () => {
  const { r, md } = buildWithStatistics();
  const rag = r.variants.find((v) => v.name === "rag")!;
  assert.ok(rag.ci?.passRate && rag.ci.passRate.low < 10 / 12 && rag.ci.passRate.high >= 10 / 12);
  const lo = (rag.ci.passRate.low * 100).toFixed(1);
  const hi = rag.ci.passRate.high === 1 ? "100" : (rag.ci.passRate.high * 100).toFixed(1);
  assert.ok(md.includes(`| rag | \`offline:extractive\` | 83.3% [${lo}–${hi}] (10/12) |`), md.split("\n").find((l) => l.startsWith("| rag |")));
  assert.match(md, /95% bootstrap intervals over cases \(1,000 resamples, seed 1/);
});

test("report: differences between variants, with test, n, difference, CI, p and 'not significant'", () => {
  const { r, md } = buildWithStatistics();
  assert.equal(r.comparisons.length, 3);
  assert.deepEqual(r.statistics, { alpha: 0.05, bootstrapSamples: 1000, seed: 1 });
  assert.match(md, /## Differences between variants/);
  assert.match(md, /\| Comparison \| Metric \| Test \| Cases \| Difference \| 95% CI \| p \| Verdict \|/);
  // rag passes 6 cases prompt-only fails and none the other way: p = 2/64.
  assert.match(md, /\| rag vs prompt-only \| pass rate \| McNemar exact \(0 vs 6 discordant\) \| 12 \| \+50\.0 points \| \[[^\]]+\] \| 0\.031 \| \*\*significant\*\* \|/);
  // rag vs long-context: 2 discordant cases, p = 0.5.
  assert.match(md, /\| rag vs long-context \| pass rate \| McNemar exact \(0 vs 2 discordant\) \| 12 \| \+16\.7 points \| \[[^\]]+\] \| 0\.50 \| not significant \|/);
  assert.match(md, /\*\*Not significant\*\* means p ≥ 0\.05/);
});

test("report: cache and cost lines; report.json carries cache and per-variant costUsd", () => {
  const { r, md } = buildWithStatistics();
  assert.deepEqual(r.cache, { hits: 36, misses: 0 });
  assert.equal(r.costUsd, 0);
  for (const v of r.variants) {
    assert.deepEqual(v.cache, { hits: 12, misses: 0 });
    assert.equal(v.costUsd, 0);
  }
  assert.match(md, /Response cache: 36 hits, 0 misses — cached re-run: cost \$0\./);
  assert.match(md, /Run cost \(at each model's own price\): \*\*\$0\*\* — prompt-only \$0, long-context \$0, rag \$0\./);
  assert.match(md, /\| Monthly \(projected\) \| Run cost \|/);
});

test("report: runs recorded before statistics render as before, with empty new fields", () => {
  const r = build();
  assert.equal(r.cache, null);
  assert.deepEqual(r.comparisons, []);
  assert.equal(r.repeats, 1);
  assert.equal(r.judge, null);
  assert.equal(r.stopped, null);
  assert.equal(r.costUsd, 0);
  for (const v of r.variants) {
    assert.equal(v.cache, null);
    assert.equal(v.ci, undefined);
  }
  const md = renderMarkdown(r);
  assert.doesNotMatch(md, /Differences between variants|## Repeats|## LLM judges|Response cache|bootstrap intervals/);
  assert.match(md, /\| rag \| `offline:extractive` \| 83\.3% \(10\/12\) \|/);
});

test("report: repeats and judge blocks", () => {
  const { summary, cases } = fixture();
  const rag = summary.variants.find((v) => v.name === "rag")!;
  rag.repeats = { n: 3, passAll: 0.75, agreement: 0.8 };
  rag.judge = {
    model: "openai:gpt-4.1-mini",
    byJudge: { faithfulness: { judged: 10, passed: 7, errors: 1 }, correctness: { judged: 12, passed: 10, errors: 0 } },
    unsupportedClaimRate: 0.125,
    humanAgreement: { n: 12, kappa: 0.62, agreement: 0.83 },
    costUsd: 0.0123,
  };
  summary.judge = { model: "openai:gpt-4.1-mini", judges: ["faithfulness", "correctness"] };
  summary.repeats = 3;
  summary.stopped = "--max-cost $1.00 reached";
  const decision = decide(summary, cases, config);
  const r = buildReport(summary, cases, decision, config, { generatedAt: new Date("2026-02-03T04:05:06.000Z") });
  const md = renderMarkdown(r);
  assert.equal(r.repeats, 3);
  assert.deepEqual(r.variants[2].repeats, { n: 3, passAll: 0.75, agreement: 0.8, failedRuns: 2 });
  assert.match(md, /## Repeats/);
  assert.match(md, /\| Variant \| Repeats \| Pass rate \(mean\) \| pass\^N \| Agreement \| Failed runs \|/);
  assert.match(md, /\| rag \| 3 \| 83\.3% \| 75\.0% \| 80\.0% \| 2 \|/);
  assert.match(md, /## LLM judges/);
  assert.match(md, /Judge model: `openai:gpt-4\.1-mini`/);
  assert.match(md, /\| Variant \| correctness \| faithfulness \| judge_error \| Unsupported claims \| κ vs humans \| Judge cost \|/);
  assert.match(md, /\| rag \| 10\/12 \| 7\/10 \(1 error\) \| 1 \| 12\.5% \| 0\.62 \(agreement 83\.0%, n = 12\) \| \$0\.012 \|/);
  assert.match(md, /judging \$0\.012/);
  assert.match(md, /\*\*Stopped early:\*\* --max-cost \$1\.00 reached/);
});
