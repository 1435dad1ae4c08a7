/**
 * Per-variant aggregation of case results into the numbers reports and decide/ read. Metric
 * names in `VariantSummary.metrics` are a contract: `passRate.<task>`, `retrieval.hitAtK`,
 * `retrieval.recallAtK`, `retrieval.mrr`, `abstention.accuracy`, `answer.f1`, `fallbackRate`,
 * `unsupportedRate`. A metric is omitted when no case could measure it (rather than reported as 0).
 */
import type { TaskKind } from "../models/index.ts";
import type { CaseResult, FailureCause, Interval, VariantSummary } from "./types.ts";
import { isFallback } from "./metrics.ts";
import { bootstrapInterval, bootstrapOptions, byCase, hasRepeats, passAtAll, type StatsOptions } from "./significance.ts";
import { judgeHumanAgreement } from "./judges/index.ts";

export type { StatsOptions } from "./significance.ts";

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
const r6i = (i: Interval): Interval => ({ low: r6(i.low), high: r6(i.high) });

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

/**
 * One variant's results → its summary. Without repeats every result is one case and the numbers
 * are plain shares and means over results. With repeats (any `repeat` > 0) each case's repeats are
 * averaged first and every rate is a mean over cases of those per-case means: `cases` counts
 * distinct cases, `passRate` is the mean per-case pass share and `passed` its sum, rounded.
 * Failures, latency, tokens and costs stay totals over every call. `ci` holds a percentile
 * bootstrap interval (resampling cases) for passRate and every metric; see docs/statistics.md.
 */
export function summariseVariant(
  name: string,
  generator: string,
  results: CaseResult[],
  extra: SummaryExtra = {},
  options: StatsOptions = {},
): VariantSummary {
  const boot = bootstrapOptions(options);
  const repeated = hasRepeats(results);
  // The unit of resampling and averaging: a result, or with repeats a case and all its repeats.
  const units: CaseResult[][] = repeated ? [...byCase(results).values()] : results.map((r) => [r]);
  /** Per-unit means of value over the unit's results that include it; units with none are left out. */
  const measure = (include: (r: CaseResult) => boolean, value: (r: CaseResult) => number): number[] => {
    const out: number[] = [];
    for (const u of units) {
      const vals = u.filter(include).map(value);
      if (vals.length) out.push(mean(vals));
    }
    return out;
  };
  const n = units.length;
  const passShares = measure(() => true, (r) => (r.passed ? 1 : 0));
  const passed = repeated ? Math.round(passShares.reduce((a, b) => a + b, 0)) : results.filter((r) => r.passed).length;
  const metrics: Record<string, number> = {};
  const samples: Record<string, number[]> = { passRate: passShares };
  const put = (key: string, values: number[]) => {
    metrics[key] = r6(mean(values));
    samples[key] = values;
  };

  const tasks = [...new Set(results.map((r) => r.task))].sort() as TaskKind[];
  for (const t of tasks) put(`passRate.${t}`, measure((r) => r.task === t, (r) => (r.passed ? 1 : 0)));

  // Only cases that have gold sources and ran retrieval carry `retrieval`.
  const hasRetrieval = (r: CaseResult) => r.retrieval !== undefined;
  if (results.some(hasRetrieval)) {
    put("retrieval.hitAtK", measure(hasRetrieval, (r) => r.retrieval!.hitAtK));
    put("retrieval.recallAtK", measure(hasRetrieval, (r) => r.retrieval!.recallAtK));
    put("retrieval.mrr", measure(hasRetrieval, (r) => r.retrieval!.mrr));
  }

  // The abstention scorer is emitted exactly for must_abstain cases.
  const scoreOf = (r: CaseResult, name: string) => r.scores.find((s) => s.name === name);
  if (results.some((r) => scoreOf(r, "abstention"))) {
    put("abstention.accuracy", measure((r) => scoreOf(r, "abstention") !== undefined, (r) => (scoreOf(r, "abstention")!.pass ? 1 : 0)));
  }

  if (results.some((r) => scoreOf(r, "answer"))) put("answer.f1", measure((r) => scoreOf(r, "answer") !== undefined, (r) => scoreOf(r, "answer")!.value));

  if (n > 0) put("fallbackRate", measure(() => true, (r) => (isFallback(r.abstained) ? 1 : 0)));

  const answered = (r: CaseResult) => !r.abstained && r.task === "qa";
  if (results.some((r) => answered(r) && unsupported(r) !== undefined)) put("unsupportedRate", measure(answered, (r) => (unsupported(r) === true ? 1 : 0)));

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
  // Per query = per call: with repeats every repeat is a query served.
  const calls = results.length;
  const costUsd = results.reduce((a, r) => a + r.costUsd, 0);
  const projectedCostUsd = results.reduce((a, r) => a + r.projectedCostUsd, 0);
  const input = results.reduce((a, r) => a + r.usage.inputTokens, 0);
  const output = results.reduce((a, r) => a + r.usage.outputTokens, 0);

  const summary: VariantSummary = {
    name,
    generator,
    cases: n,
    passed,
    passRate: n === 0 ? 0 : r6(repeated ? mean(passShares) : passed / n),
    metrics,
    failures,
    failuresByTask,
    latencyMs: { p50: r6(percentile(latencies, 50)), p95: r6(percentile(latencies, 95)) },
    costUsd,
    projectedCostUsd,
    tokens: { input, output },
    perQuery: {
      inputTokens: calls === 0 ? 0 : r6(input / calls),
      outputTokens: calls === 0 ? 0 : r6(output / calls),
      costUsd: calls === 0 ? 0 : costUsd / calls,
      projectedCostUsd: calls === 0 ? 0 : projectedCostUsd / calls,
    },
  };
  if (extra.context) summary.context = extra.context;
  if (n > 0) {
    summary.ci = {};
    for (const [key, values] of Object.entries(samples)) summary.ci[key] = r6i(bootstrapInterval(values, boot));
  }
  if (repeated) {
    const rep = passAtAll(results);
    summary.repeats = { n: rep.n, passAll: r6(rep.passAll), agreement: r6(rep.agreement) };
  }
  const withCache = results.filter((r) => r.cached !== undefined);
  if (withCache.length) {
    const hits = withCache.filter((r) => r.cached === true).length;
    summary.cache = { hits, misses: withCache.length - hits };
  }
  const judge = judgeSummary(results);
  if (judge) summary.judge = judge;
  return summary;
}

/**
 * LLM judging of one variant's results: verdicts per judge (judged counts every verdict, errors
 * included, so judged = passed + failed + errors), the faithfulness judge's unsupported claims over
 * all its claims, judge cost, and Cohen's kappa between the case verdict (`passed`, which the
 * judges feed) and the `human:` label over results carrying one. Undefined when no judge ran.
 */
function judgeSummary(results: CaseResult[]): VariantSummary["judge"] {
  const verdicts = results.flatMap((r) => r.judges ?? []);
  if (!verdicts.length) return undefined;
  const byJudge: NonNullable<VariantSummary["judge"]>["byJudge"] = {};
  let claims = 0;
  let unsupportedClaims = 0;
  for (const v of verdicts) {
    const j = (byJudge[v.judge] ??= { judged: 0, passed: 0, errors: 0 });
    j.judged++;
    if (v.error) j.errors++;
    else if (v.pass === true) j.passed++;
    if (v.judge === "faithfulness" && !v.error && v.claims) {
      claims += v.claims.length;
      unsupportedClaims += v.claims.filter((c) => !c.supported).length;
    }
  }
  const out: NonNullable<VariantSummary["judge"]> = {
    model: [...new Set(verdicts.map((v) => v.model))].join(", "),
    byJudge,
    costUsd: results.reduce((a, r) => a + (r.judgeCostUsd ?? 0), 0),
  };
  if (claims > 0) out.unsupportedClaimRate = r6(unsupportedClaims / claims);
  // Human labels vs the judged verdicts; results whose judge errored are left out (verdict unknown).
  const k = judgeHumanAgreement(results);
  if (k.n > 0) out.humanAgreement = { n: k.n, kappa: r6(k.kappa), agreement: r6(k.agreement) };
  return out;
}
