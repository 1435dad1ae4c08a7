/**
 * Statistics an evaluation can be trusted with: bootstrap intervals, exact McNemar and paired
 * bootstrap tests between variants on the same cases, pass^N and agreement over repeats, and
 * Cohen's kappa between a judge and human labels. Every function is pure; everything random is
 * drawn from a seeded PRNG, so the same run gives the same report. See docs/statistics.md.
 */
import { mulberry32 } from "../util/rng.ts";
import type { CaseResult, Interval, PairedComparison } from "./types.ts";

export interface BootstrapOptions {
  /** Resamples (default 2,000). */
  samples?: number;
  /** 1 − confidence level of intervals, and the significance level of tests (default 0.05). */
  alpha?: number;
  /** PRNG seed (default 1). */
  seed?: number;
}

/** The option names of `evaluate.*` in ragtune.yaml, as the runner passes them. */
export interface StatsOptions {
  bootstrapSamples?: number;
  alpha?: number;
  seed?: number;
}

export const STATS_DEFAULTS = { bootstrapSamples: 2000, alpha: 0.05, seed: 1 } as const;

/** Config-style options → bootstrap options, defaults filled in. */
export function bootstrapOptions(o: StatsOptions = {}): Required<BootstrapOptions> {
  return {
    samples: o.bootstrapSamples ?? STATS_DEFAULTS.bootstrapSamples,
    alpha: o.alpha ?? STATS_DEFAULTS.alpha,
    seed: o.seed ?? STATS_DEFAULTS.seed,
  };
}

export { mulberry32 };

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
/** Rounded so summaries diff cleanly between runs (float noise is not a change). */
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
const r6i = (i: Interval): Interval => ({ low: r6(i.low), high: r6(i.high) });

/** Quantile q (0–1) of sorted values, linear interpolation between closest ranks. */
function quantileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(1, Math.max(0, q)) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Means of `samples` resamples (with replacement, same size) of values. */
function resampledMeans(values: number[], samples: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const n = values.length;
  const out = new Array<number>(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(rand() * n)];
    out[s] = sum / n;
  }
  return out;
}

function fill(o: BootstrapOptions): Required<BootstrapOptions> {
  return { samples: Math.max(1, Math.floor(o.samples ?? STATS_DEFAULTS.bootstrapSamples)), alpha: o.alpha ?? STATS_DEFAULTS.alpha, seed: o.seed ?? STATS_DEFAULTS.seed };
}

/**
 * Percentile bootstrap interval of the mean at level 1 − alpha. Degenerate inputs: no values →
 * {0, 0} (callers omit the interval instead); one value, or all values equal → {v, v}.
 * A 0% or 100% rate therefore gets a zero-width interval: read it together with the case count.
 */
export function bootstrapInterval(values: number[], options: BootstrapOptions = {}): Interval {
  if (values.length === 0) return { low: 0, high: 0 };
  const first = values[0];
  if (values.every((v) => v === first)) return { low: first, high: first };
  const { samples, alpha, seed } = fill(options);
  const means = resampledMeans(values, samples, seed).sort((a, b) => a - b);
  return { low: quantileSorted(means, alpha / 2), high: quantileSorted(means, 1 - alpha / 2) };
}

/** log C(m, k) for k = 0..m, by the product recurrence (exact enough for m in the many thousands). */
function logBinomials(m: number): number[] {
  const out = new Array<number>(m + 1);
  out[0] = 0;
  for (let k = 0; k < m; k++) out[k + 1] = out[k] + Math.log(m - k) - Math.log(k + 1);
  return out;
}

/**
 * P[X ≤ k] for X ~ Binomial(m, 1/2). Up to m = 1,000 the terms are summed directly from 2^−m
 * (still a normal double), which is exact for small m; beyond that, in log space.
 */
export function binomialHalfCdf(k: number, m: number): number {
  if (k < 0) return 0;
  if (k >= m) return 1;
  if (m <= 1000) {
    let term = Math.pow(0.5, m);
    let sum = term;
    for (let i = 0; i < k; i++) {
      term = (term * (m - i)) / (i + 1);
      sum += term;
    }
    return Math.min(1, sum);
  }
  const logC = logBinomials(m);
  const logHalf = m * Math.log(0.5);
  const terms = logC.slice(0, k + 1).map((l) => l + logHalf);
  const max = terms.reduce((a, t) => (t > a ? t : a), -Infinity);
  const sum = terms.reduce((a, t) => a + Math.exp(t - max), 0);
  return Math.min(1, Math.exp(max + Math.log(sum)));
}

/**
 * Exact McNemar test on paired pass/fail verdicts: only the discordant pairs carry evidence.
 * With b = only a passed and c = only b passed, p = min(1, 2·P[X ≤ min(b, c)]), X ~ Bin(b + c, ½);
 * p = 1 when there are no discordant pairs.
 */
export function mcnemarExact(pairs: { a: boolean; b: boolean }[]): { n: number; onlyA: number; onlyB: number; pValue: number } {
  let onlyA = 0;
  let onlyB = 0;
  for (const p of pairs) {
    if (p.a && !p.b) onlyA++;
    else if (p.b && !p.a) onlyB++;
  }
  const m = onlyA + onlyB;
  const pValue = m === 0 ? 1 : Math.min(1, 2 * binomialHalfCdf(Math.min(onlyA, onlyB), m));
  return { n: pairs.length, onlyA, onlyB, pValue };
}

/**
 * Paired bootstrap of per-case differences (b − a). diff is their mean; ci the percentile
 * interval; the two-sided p-value is 2·min(share of resampled means ≤ 0, share ≥ 0), each share
 * with the +1 correction ((count + 1) / (samples + 1)), capped at 1 — so it is never 0.
 * No differences → diff 0, ci {0, 0}, p 1.
 */
export function pairedBootstrap(diffs: number[], options: BootstrapOptions = {}): { diff: number; ci: Interval; pValue: number } {
  if (diffs.length === 0) return { diff: 0, ci: { low: 0, high: 0 }, pValue: 1 };
  const { samples, alpha, seed } = fill(options);
  const diff = mean(diffs);
  const first = diffs[0];
  let means: number[];
  if (diffs.every((d) => d === first)) means = new Array<number>(samples).fill(first);
  else means = resampledMeans(diffs, samples, seed).sort((a, b) => a - b);
  let le = 0;
  let ge = 0;
  for (const m of means) {
    if (m <= 0) le++;
    if (m >= 0) ge++;
  }
  const pValue = Math.min(1, 2 * Math.min((le + 1) / (samples + 1), (ge + 1) / (samples + 1)));
  const ci = diffs.every((d) => d === first) ? { low: first, high: first } : { low: quantileSorted(means, alpha / 2), high: quantileSorted(means, 1 - alpha / 2) };
  return { diff, ci, pValue };
}

/**
 * Cohen's kappa between two raters' yes/no verdicts: (po − pe) / (1 − pe), po the observed
 * agreement, pe the agreement expected by chance from each rater's yes-rate. Conventions so it
 * is never NaN: no pairs → kappa 0, agreement 0; pe = 1 (both raters constant and the same) →
 * kappa 1 when they agree (they always do then), else 0.
 */
export function cohenKappa(pairs: { a: boolean; b: boolean }[]): { n: number; kappa: number; agreement: number } {
  const n = pairs.length;
  if (n === 0) return { n: 0, kappa: 0, agreement: 0 };
  let agree = 0;
  let yesA = 0;
  let yesB = 0;
  for (const p of pairs) {
    if (p.a === p.b) agree++;
    if (p.a) yesA++;
    if (p.b) yesB++;
  }
  const po = agree / n;
  const pa = yesA / n;
  const pb = yesB / n;
  const pe = pa * pb + (1 - pa) * (1 - pb);
  const kappa = 1 - pe < 1e-12 ? (po === 1 ? 1 : 0) : (po - pe) / (1 - pe);
  return { n, kappa, agreement: po };
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lowP = 0.02425;
  if (p < lowP) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lowP) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Roughly how many paired cases would make a difference with two-sided p-value `pValue` at n
 * cases significant at alpha, if the effect stayed the same: the test statistic grows with √n,
 * so n' ≈ n · (z(1 − alpha/2) / z(1 − p/2))². Undefined when p ≥ 1 (no observed difference).
 */
export function casesForSignificance(n: number, pValue: number, alpha: number = STATS_DEFAULTS.alpha): number | undefined {
  if (!(pValue < 1) || n <= 0) return undefined;
  const zObs = normalQuantile(1 - pValue / 2);
  if (!(zObs > 0)) return undefined;
  const zNeed = normalQuantile(1 - alpha / 2);
  return Math.ceil(n * (zNeed / zObs) ** 2);
}

// ---------------------------------------------------------------------------------------------
// Repeats: one variant's results, several per case
// ---------------------------------------------------------------------------------------------

/** Results grouped by caseId (first-seen order); a duplicated (caseId, repeat) keeps the last one. */
export function byCase(results: CaseResult[]): Map<string, CaseResult[]> {
  const slots = new Map<string, Map<number, CaseResult>>();
  for (const r of results) {
    let m = slots.get(r.caseId);
    if (!m) slots.set(r.caseId, (m = new Map()));
    m.set(r.repeat ?? 0, r);
  }
  const out = new Map<string, CaseResult[]>();
  for (const [id, m] of slots) out.set(id, [...m.entries()].sort((x, y) => x[0] - y[0]).map(([, r]) => r));
  return out;
}

/** Per-case pass share: the mean of its verdicts over repeats (1 or 0 without repeats). */
export function perCasePass(results: CaseResult[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, rs] of byCase(results)) out.set(id, rs.filter((r) => r.passed).length / rs.length);
  return out;
}

/** Whether any result is a repeat beyond the first. */
export function hasRepeats(results: CaseResult[]): boolean {
  return results.some((r) => (r.repeat ?? 0) > 0);
}

/**
 * pass^N and agreement over repeats of one variant: n is the number of repeats (highest repeat
 * index + 1); passAll the share of cases that passed every repeat they ran; agreement the share of
 * cases whose verdicts were all the same (all pass or all fail). No results → all zeros.
 */
export function passAtAll(results: CaseResult[]): { n: number; passAll: number; agreement: number } {
  const cases = byCase(results);
  if (cases.size === 0) return { n: 0, passAll: 0, agreement: 0 };
  let all = 0;
  let same = 0;
  for (const rs of cases.values()) {
    const passed = rs.filter((r) => r.passed).length;
    if (passed === rs.length) all++;
    if (passed === rs.length || passed === 0) same++;
  }
  const n = Math.max(...results.map((r) => (r.repeat ?? 0) + 1));
  return { n, passAll: all / cases.size, agreement: same / cases.size };
}

// ---------------------------------------------------------------------------------------------
// Variants compared on the same cases
// ---------------------------------------------------------------------------------------------

interface CaseView {
  /** Share of repeats passed. */
  pass: number;
  /** Mean "answer" score value over repeats that have one. */
  f1?: number;
}

function caseViews(results: CaseResult[]): Map<string, CaseView> {
  const out = new Map<string, CaseView>();
  for (const [id, rs] of byCase(results)) {
    const f1 = rs.map((r) => r.scores.find((s) => s.name === "answer")?.value).filter((v): v is number => typeof v === "number");
    out.set(id, { pass: rs.filter((r) => r.passed).length / rs.length, ...(f1.length ? { f1: mean(f1) } : {}) });
  }
  return out;
}

/**
 * Every pair of variants (in the given order: a before b; diff = b − a) compared on the cases both
 * ran, paired by caseId:
 * - "passRate": exact McNemar on per-case pass/fail when every case ran once; with repeats, a
 *   paired bootstrap on the per-case pass shares (the mean of each case's verdicts), since a
 *   share is not a yes/no verdict. The interval is a paired bootstrap interval either way.
 * - "answer.f1": paired bootstrap on the per-case mean "answer" score, over cases where both have it.
 * Pairs without shared cases are left out. significant = pValue < alpha. diff and ci are rounded
 * to 6 decimals (as summaries are); p-values are not.
 */
export function compareVariants(results: CaseResult[], variants: string[], options: StatsOptions = {}): PairedComparison[] {
  const opts = bootstrapOptions(options);
  const views = new Map<string, Map<string, CaseView>>();
  const repeated = new Map<string, boolean>();
  for (const v of variants) {
    const mine = results.filter((r) => r.variant === v);
    views.set(v, caseViews(mine));
    repeated.set(v, hasRepeats(mine));
  }
  const out: PairedComparison[] = [];
  for (let i = 0; i < variants.length; i++) {
    for (let j = i + 1; j < variants.length; j++) {
      const a = variants[i];
      const b = variants[j];
      const va = views.get(a)!;
      const vb = views.get(b)!;
      const shared = [...va.keys()].filter((id) => vb.has(id));
      if (shared.length === 0) continue;
      const diffs = shared.map((id) => vb.get(id)!.pass - va.get(id)!.pass);
      if (repeated.get(a) || repeated.get(b)) {
        const t = pairedBootstrap(diffs, opts);
        out.push({ a, b, metric: "passRate", test: "paired-bootstrap", n: shared.length, diff: r6(t.diff), ci: r6i(t.ci), pValue: t.pValue, significant: t.pValue < opts.alpha });
      } else {
        const m = mcnemarExact(shared.map((id) => ({ a: va.get(id)!.pass === 1, b: vb.get(id)!.pass === 1 })));
        out.push({
          a,
          b,
          metric: "passRate",
          test: "mcnemar-exact",
          n: shared.length,
          diff: r6((m.onlyB - m.onlyA) / shared.length),
          ci: r6i(bootstrapInterval(diffs, opts)),
          pValue: m.pValue,
          significant: m.pValue < opts.alpha,
          discordant: { onlyA: m.onlyA, onlyB: m.onlyB },
        });
      }
      const scored = shared.filter((id) => va.get(id)!.f1 !== undefined && vb.get(id)!.f1 !== undefined);
      if (scored.length > 0) {
        const t = pairedBootstrap(
          scored.map((id) => vb.get(id)!.f1! - va.get(id)!.f1!),
          opts,
        );
        out.push({ a, b, metric: "answer.f1", test: "paired-bootstrap", n: scored.length, diff: r6(t.diff), ci: r6i(t.ci), pValue: t.pValue, significant: t.pValue < opts.alpha });
      }
    }
  }
  return out;
}
