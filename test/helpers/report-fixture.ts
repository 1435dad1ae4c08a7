/**
 * A small run (3 variants × 12 cases) with intervals, paired comparisons and retrieval scores,
 * built through the evaluator's own summary and statistics code; report.html tests render it.
 * `hostile` is put into every user-controlled text of the failed cases.
 */
import { buildReport, type ReportJson } from "../../src/report/index.ts";
import { decide, type DecideConfig } from "../../src/decide/index.ts";
import { summariseVariant } from "../../src/evaluate/stats.ts";
import { compareVariants } from "../../src/evaluate/significance.ts";
import type { CaseResult, FailureCause, RunSummary } from "../../src/evaluate/types.ts";
import { PLAIN_PRICES } from "./cost-fixture.ts";

export const HOSTILE = `</script><script>alert("x")</script><img src=x onerror='alert(1)'> & "quotes" 'single' </td></tr><!--`;

export const fixtureConfig: DecideConfig = {
  constraints: { knowledgeChange: "weekly", citationsRequired: true, queriesPerDay: 2000, labelledExamples: 0, externalDataStoreAllowed: true, monthlyBudgetUsd: 500, p95LatencyMs: 400 },
  pricing: { asOf: "2026-01-01", models: PLAIN_PRICES, referenceModel: "openai:gpt-4.1-mini", fineTuneTrainingUsd: 50, vectorStoreMonthlyUsd: 25 },
};

type Outcome = FailureCause | "pass";

const OUTCOMES: Record<string, Outcome[]> = {
  "prompt-only": ["missing_knowledge", "missing_knowledge", "missing_knowledge", "missing_knowledge", "missing_knowledge", "stale_knowledge", "hallucination", "pass", "pass", "pass", "weak_reasoning", "pass"],
  "long-context": ["missing_knowledge", "missing_knowledge", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "weak_reasoning", "pass"],
  rag: ["wrong_retrieval", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "pass", "bad_format", "pass"],
};
const PER_QUERY: Record<string, number> = { "prompt-only": 0.0002, "long-context": 0.012, rag: 0.0009 };

export function fixtureRun(hostile = HOSTILE): { summary: RunSummary; cases: CaseResult[] } {
  const runId = "2026-01-01_00-00-00-abcd";
  const cases: CaseResult[] = [];
  for (const [variant, outs] of Object.entries(OUTCOMES)) {
    outs.forEach((o, i) => {
      const caseId = `q${String(i + 1).padStart(2, "0")}`;
      const rag = variant === "rag";
      cases.push({
        runId,
        caseId,
        variant,
        task: i >= 10 ? "classify" : "qa",
        input: `Question ${i + 1}: ${hostile}`,
        output: o === "pass" ? `Answer ${i + 1} [1]` : `Wrong ${hostile}`,
        abstained: false,
        citations: rag ? [{ marker: 1, chunkId: `docs/a${i}.md#0`, path: `docs/a${i}.md`, headingPath: ["Guide", `Section ${hostile}`], lineStart: 3, lineEnd: 9 }] : [],
        retrieved: rag ? [{ id: `docs/a${i}.md#0`, path: `docs/a${i}.md`, score: 0.9, version: "v2" }, { id: `docs/b${i}.md#1`, path: `docs/b${i}.md`, score: 0.4, version: "" }] : [],
        contextPaths: [],
        contextTokens: 100,
        truncated: false,
        scores: [{ name: "answer", pass: o === "pass", value: o === "pass" ? 1 : 0 }],
        retrieval: rag && i < 10 ? { k: 5, hitAtK: o === "pass" ? 1 : 0, recallAtK: o === "pass" ? 1 : 0, mrr: o === "pass" ? 0.5 : 0 } : undefined,
        passed: o === "pass",
        failure: o === "pass" ? undefined : { cause: o, signal: `${o}_signal`, evidence: `saw ${hostile}`, source: "deterministic" },
        usage: { inputTokens: 500, outputTokens: 50 },
        latencyMs: (variant === "long-context" ? 300 : 100) + i * 10,
        costUsd: 0,
        projectedCostUsd: PER_QUERY[variant],
        generator: "offline:extractive",
        tags: [`tag ${hostile}`],
      });
    });
  }
  const opts = { alpha: 0.05, bootstrapSamples: 200, seed: 7 };
  const variants = Object.keys(OUTCOMES).map((v) => summariseVariant(v, "offline:extractive", cases.filter((c) => c.variant === v), {}, opts));
  const summary: RunSummary = {
    runId,
    createdAt: "2026-01-01T00:00:00.000Z",
    project: `acme ${hostile}`,
    generator: "offline:extractive",
    suite: { path: "suite.yaml", cases: 12, byTask: { qa: 10, classify: 2 } },
    corpus: { documents: 42, chunks: 310, tokens: 90000, versions: ["v1", "v2"] },
    retrievalK: 5,
    variants,
    notConfigured: [],
    complete: true,
    comparisons: compareVariants(cases, variants.map((v) => v.name), opts),
  };
  return { summary, cases };
}

export function fixtureReport(hostile = HOSTILE): { report: ReportJson; cases: CaseResult[] } {
  const { summary, cases } = fixtureRun(hostile);
  const decision = decide(summary, cases, fixtureConfig);
  return { report: buildReport(summary, cases, decision, fixtureConfig, { generatedAt: new Date("2026-02-03T04:05:06.000Z") }), cases };
}
