/**
 * Confidence of a recommendation, and whether the winner's lead over simpler options is real
 * (margin, significance of the paired comparison). docs/decision.md §5.
 */
import type { PairedComparison, RunSummary } from "../evaluate/types.ts";
import type { Architecture, Decision } from "./types.ts";
import { ARCH_OF, COMPLEXITY, THRESHOLDS, VARIANT_OF, type Evidence, type VariantEvidence } from "./evidence.ts";

export interface ConfidenceInputs {
  n: number;
  measured: boolean;
  /** Pass-rate points over the best simpler measured option (Infinity when none is simpler). */
  margin: number;
  fallback: boolean;
  complete: boolean;
  /**
   * Whether the winner's lead over the best simpler option is statistically significant (the
   * run's paired comparison); false lowers confidence one level. Undefined = not known (runs
   * without comparisons, no lead, or no simpler option) and changes nothing.
   */
  significant?: boolean;
}

/**
 * Confidence starts from sample size (≥ 50 cases per variant high, ≥ 20 medium, else low), then
 * drops one level for each of: a margin under 5 points over the best simpler option, a winner
 * that was not measured (also capped at medium), the fallback rule, an incomplete run, and a lead
 * over the best simpler option that the paired comparison finds not significant.
 */
export function confidenceOf(x: ConfidenceInputs): Decision["confidence"] {
  let level = x.n >= THRESHOLDS.sampleHigh ? 2 : x.n >= THRESHOLDS.sampleMedium ? 1 : 0;
  if (x.measured && x.margin < THRESHOLDS.clearMargin) level--;
  if (!x.measured) level = Math.min(level - 1, 1);
  if (x.fallback) level--;
  if (!x.complete) level--;
  if (x.significant === false) level--;
  return (["low", "medium", "high"] as const)[Math.max(0, level)];
}

/** Measured options simpler than arch that the constraints allow: the real alternatives. */
export function simplerOptions(ev: Evidence, arch: Architecture): VariantEvidence[] {
  const rank = COMPLEXITY.indexOf(arch);
  return [...ev.variants.values()].filter((v) => {
    const a = ARCH_OF[v.name];
    return a && COMPLEXITY.indexOf(a) < rank && ev.blockers(a, "none").length === 0;
  });
}

export function marginOf(ev: Evidence, arch: Architecture): number {
  const name = VARIANT_OF[arch];
  const winner = name ? ev.get(name) : undefined;
  if (!winner) return NaN;
  const simpler = simplerOptions(ev, arch);
  if (!simpler.length) return Infinity;
  return winner.summary.passRate - Math.max(...simpler.map((v) => v.summary.passRate));
}

/** A measured winner's lead over the best simpler option that the run's paired comparison does not support. */
export interface UnresolvedLead {
  winner: string;
  other: string;
  comparison: PairedComparison;
  /** winner − other on the paired cases (share of cases). */
  lead: number;
}

/**
 * The recommendation rests on the winner passing more than the best simpler option; when the
 * run's pass-rate comparison of those two is not significant, that lead may be chance.
 * Undefined when the run has no comparisons, nothing simpler is allowed, or the winner does not lead.
 */
export function unresolvedLead(summary: RunSummary, ev: Evidence, arch: Architecture): UnresolvedLead | undefined {
  if (!summary.comparisons?.length) return undefined;
  const name = VARIANT_OF[arch];
  const winner = name ? ev.get(name) : undefined;
  if (!winner) return undefined;
  const simpler = simplerOptions(ev, arch).sort((a, b) => b.summary.passRate - a.summary.passRate);
  const other = simpler[0];
  if (!other || winner.summary.passRate <= other.summary.passRate) return undefined;
  const comparison = summary.comparisons.find(
    (c) => c.metric === "passRate" && ((c.a === winner.name && c.b === other.name) || (c.a === other.name && c.b === winner.name)),
  );
  if (!comparison || comparison.significant) return undefined;
  const lead = comparison.b === winner.name ? comparison.diff : -comparison.diff;
  if (lead <= 0) return undefined;
  return { winner: winner.name, other: other.name, comparison, lead };
}

export function pValueText(p: number): string {
  return p < 0.001 ? "< 0.001" : `= ${p.toFixed(p < 0.1 ? 3 : 2)}`;
}

/** "rag vs long-context: +2.8 points, not significant (McNemar p = 0.41, n = 142)". */
export function unresolvedLeadLine(u: UnresolvedLead): string {
  const test = u.comparison.test === "mcnemar-exact" ? "McNemar" : "paired bootstrap";
  return `${u.winner} vs ${u.other}: +${(Math.round(u.lead * 1000) / 10).toFixed(1)} points, not significant (${test} p ${pValueText(u.comparison.pValue)}, n = ${u.comparison.n})`;
}
