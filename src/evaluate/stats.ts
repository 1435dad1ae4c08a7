/**
 * Per-variant aggregation of case results into the numbers reports and decide/ read. Metric
 * names in `VariantSummary.metrics` are a contract: `passRate.<task>`, `retrieval.hitAtK`,
 * `retrieval.recallAtK`, `retrieval.mrr`, `abstention.accuracy`, `answer.f1`, `fallbackRate`,
 * `unsupportedRate`. A metric is omitted when no case could measure it (rather than reported as 0).
 */
import type { TaskKind } from "../models/index.ts";
import type { CaseResult, FailureCause, VariantSummary } from "./types.ts";
import { isFallback } from "./metrics.ts";

/** p-th percentile (0–100) with linear interpolation between closest ranks; 0 for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
/** Rounded so summaries diff cleanly between runs (float noise is not a change). */
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

export interface SummaryExtra {
  context?: VariantSummary["context"];
}

/** Whether the case's answer was flagged unsupported (see CaseResult.support). */
function unsupported(r: CaseResult): boolean | undefined {
  if (r.support) return r.support.unsupportedSentences.length > 0;
  // Runs that did not record support: the failure label came from the same metrics.supportRatio.
  if (r.failure?.signal === "unsupported_claims" && r.contextPaths.length > 0) return true;
  return undefined;
}

export function summariseVariant(name: string, generator: string, results: CaseResult[], extra: SummaryExtra = {}): VariantSummary {
  const n = results.length;
  const passed = results.filter((r) => r.passed).length;
  const metrics: Record<string, number> = {};

  const tasks = [...new Set(results.map((r) => r.task))].sort() as TaskKind[];
  for (const t of tasks) {
    const ofTask = results.filter((r) => r.task === t);
    metrics[`passRate.${t}`] = r6(ofTask.filter((r) => r.passed).length / ofTask.length);
  }

  // Only cases that have gold sources and ran retrieval carry `retrieval`.
  const withRetrieval = results.filter((r) => r.retrieval !== undefined);
  if (withRetrieval.length > 0) {
    metrics["retrieval.hitAtK"] = r6(mean(withRetrieval.map((r) => r.retrieval!.hitAtK)));
    metrics["retrieval.recallAtK"] = r6(mean(withRetrieval.map((r) => r.retrieval!.recallAtK)));
    metrics["retrieval.mrr"] = r6(mean(withRetrieval.map((r) => r.retrieval!.mrr)));
  }

  // The abstention scorer is emitted exactly for must_abstain cases.
  const abstention = results.map((r) => r.scores.find((s) => s.name === "abstention")).filter((s) => s !== undefined);
  if (abstention.length > 0) metrics["abstention.accuracy"] = r6(abstention.filter((s) => s.pass).length / abstention.length);

  const f1 = results.map((r) => r.scores.find((s) => s.name === "answer")).filter((s) => s !== undefined);
  if (f1.length > 0) metrics["answer.f1"] = r6(mean(f1.map((s) => s.value)));

  if (n > 0) metrics.fallbackRate = r6(results.filter((r) => isFallback(r.abstained)).length / n);

  const answered = results.filter((r) => !r.abstained && r.task === "qa");
  const flags = answered.map(unsupported);
  if (flags.some((f) => f !== undefined)) metrics.unsupportedRate = r6(flags.filter((f) => f === true).length / answered.length);

  const failures: VariantSummary["failures"] = {};
  const failuresByTask: VariantSummary["failuresByTask"] = {};
  for (const r of results) {
    if (!r.failure) continue;
    const cause: FailureCause = r.failure.cause;
    failures[cause] = (failures[cause] ?? 0) + 1;
    const byTask = (failuresByTask[r.task] ??= {});
    byTask[cause] = (byTask[cause] ?? 0) + 1;
  }

  const latencies = results.map((r) => r.latencyMs);
  const costUsd = results.reduce((a, r) => a + r.costUsd, 0);
  const projectedCostUsd = results.reduce((a, r) => a + r.projectedCostUsd, 0);
  const input = results.reduce((a, r) => a + r.usage.inputTokens, 0);
  const output = results.reduce((a, r) => a + r.usage.outputTokens, 0);

  const summary: VariantSummary = {
    name,
    generator,
    cases: n,
    passed,
    passRate: n === 0 ? 0 : r6(passed / n),
    metrics,
    failures,
    failuresByTask,
    latencyMs: { p50: r6(percentile(latencies, 50)), p95: r6(percentile(latencies, 95)) },
    costUsd,
    projectedCostUsd,
    tokens: { input, output },
    perQuery: {
      inputTokens: n === 0 ? 0 : r6(input / n),
      outputTokens: n === 0 ? 0 : r6(output / n),
      costUsd: n === 0 ? 0 : costUsd / n,
      projectedCostUsd: n === 0 ? 0 : projectedCostUsd / n,
    },
  };
  if (extra.context) summary.context = extra.context;
  return summary;
}
