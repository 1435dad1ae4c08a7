/**
 * The cost model behind recommendations.
 *
 *   monthly = perQuery × queriesPerDay × 30 + fixed
 *   fixed   = vectorStoreMonthlyUsd (rag, hybrid) + fineTuneTrainingUsd / 12 (fine-tuned, hybrid)
 *
 * perQuery is the measured mean cost per case at `pricing.referenceModel` prices (projected), so
 * variants are compared at one price even when the run used the free offline reader.
 *
 * Two options with costs (pA, FA) and (pB, FB) cost the same at
 *   q* = (FB − FA) / (30 × (pA − pB))   queries/day,
 * which is meaningful only when one option has the lower fixed cost and the other the lower
 * per-query cost (q* > 0); otherwise one option is cheaper at every volume.
 */
import type { RagtuneConfig } from "../config/schema.ts";
import type { RunSummary, VariantSummary } from "../evaluate/types.ts";
import type { Decision, VariantCost } from "./types.ts";

export const DAYS_PER_MONTH = 30;
export const TRAINING_AMORTISATION_MONTHS = 12;

export type CostConfig = Pick<RagtuneConfig, "constraints" | "pricing">;
export type BreakEven = Decision["breakEven"][number];

/** A VariantCost plus what the break-even and the report need to explain it. */
export interface VariantCostDetail extends VariantCost {
  /** Monthly cost that does not depend on volume (vector store, amortised training). */
  fixedMonthlyUsd: number;
  /** False for fine-tuned/hybrid when they were not run: costs estimated from a measured sibling. */
  measured: boolean;
  /** How an estimate was derived (only when measured is false). */
  basis?: string;
}

const RETRIEVAL_VARIANTS = new Set(["rag", "hybrid"]);
const TRAINED_VARIANTS = new Set(["fine-tuned", "hybrid"]);

export function fixedMonthlyUsd(variant: string, pricing: CostConfig["pricing"]): number {
  let fixed = 0;
  if (RETRIEVAL_VARIANTS.has(variant)) fixed += pricing.vectorStoreMonthlyUsd;
  if (TRAINED_VARIANTS.has(variant)) fixed += pricing.fineTuneTrainingUsd / TRAINING_AMORTISATION_MONTHS;
  return fixed;
}

export function monthlyUsd(perQueryUsd: number, queriesPerDay: number, fixed: number): number {
  return perQueryUsd * queriesPerDay * DAYS_PER_MONTH + fixed;
}

/** Projected per-query cost; the run's own cost when no projection exists (unpriced reference model). */
function perQueryUsd(v: VariantSummary): number {
  return v.perQuery.projectedCostUsd > 0 ? v.perQuery.projectedCostUsd : v.perQuery.costUsd;
}

function withChecks(
  variant: string,
  perQuery: number,
  fixed: number,
  p95: number,
  config: CostConfig,
): Omit<VariantCostDetail, "measured" | "basis"> {
  const { queriesPerDay, monthlyBudgetUsd, p95LatencyMs } = config.constraints;
  const monthly = monthlyUsd(perQuery, queriesPerDay, fixed);
  return {
    variant,
    perQueryUsd: perQuery,
    monthlyUsd: monthly,
    fixedMonthlyUsd: fixed,
    withinBudget: monthlyBudgetUsd === undefined ? null : monthly <= monthlyBudgetUsd,
    p95LatencyMs: p95,
    withinLatency: p95LatencyMs === undefined ? null : p95 <= p95LatencyMs,
  };
}

export function variantCost(v: VariantSummary, config: CostConfig): VariantCostDetail {
  return { ...withChecks(v.name, perQueryUsd(v), fixedMonthlyUsd(v.name, config.pricing), v.latencyMs.p95, config), measured: true };
}

/**
 * Estimate an unmeasured trained variant from the measured variant that sees the same context:
 * fine-tuned ≈ prompt-only tokens, hybrid ≈ rag tokens (a fine-tuned model reads the same prompt).
 * Fine-tuned inference is often priced above the base model; override `pricing.models` to model it.
 */
export function estimatedVariantCost(name: "fine-tuned" | "hybrid", summary: RunSummary, config: CostConfig): VariantCostDetail | undefined {
  const siblingName = name === "fine-tuned" ? "prompt-only" : "rag";
  const sibling = summary.variants.find((v) => v.name === siblingName);
  if (!sibling) return undefined;
  return {
    ...withChecks(name, perQueryUsd(sibling), fixedMonthlyUsd(name, config.pricing), sibling.latencyMs.p95, config),
    measured: false,
    basis: `estimated from ${siblingName}'s tokens and latency + $${config.pricing.fineTuneTrainingUsd} training amortised over ${TRAINING_AMORTISATION_MONTHS} months`,
  };
}

/** Costs of every measured variant, then estimates for fine-tuned/hybrid when they were not run. */
export function variantCosts(summary: RunSummary, config: CostConfig): VariantCostDetail[] {
  const costs = summary.variants.map((v) => variantCost(v, config));
  for (const name of ["fine-tuned", "hybrid"] as const) {
    if (costs.some((c) => c.variant === name)) continue;
    if (!summary.notConfigured.some((n) => n.name === name)) continue;
    const est = estimatedVariantCost(name, summary, config);
    if (est) costs.push(est);
  }
  return costs;
}

type CostPoint = Pick<VariantCostDetail, "variant" | "perQueryUsd" | "fixedMonthlyUsd"> & { measured?: boolean };

/** Queries/day at which a and b cost the same, or undefined when one is cheaper at every volume. */
export function breakEven(a: CostPoint, b: CostPoint): BreakEven | undefined {
  const dPerQuery = a.perQueryUsd - b.perQueryUsd;
  const dFixed = b.fixedMonthlyUsd - a.fixedMonthlyUsd;
  if (dPerQuery === 0 || dFixed === 0) return undefined;
  const q = dFixed / (DAYS_PER_MONTH * dPerQuery);
  if (!(q > 0) || !Number.isFinite(q)) return undefined;
  // low = cheaper at low volume (lower fixed cost), high = cheaper above q.
  const [low, high] = a.fixedMonthlyUsd < b.fixedMonthlyUsd ? [a, b] : [b, a];
  const est = [low, high].filter((x) => x.measured === false).map((x) => x.variant);
  const queriesPerDay = Math.round(q * 10) / 10;
  const note =
    `Below ~${fmtCount(queriesPerDay)} queries/day ${low.variant} is cheaper (${fixedPhrase(low)}, ${usd(low.perQueryUsd)}/query); ` +
    `above it ${high.variant} is cheaper (${usd(high.perQueryUsd)}/query + ${usd(high.fixedMonthlyUsd)}/month fixed).` +
    (est.length ? ` Costs of ${est.join(" and ")} are estimated (not measured).` : "");
  return { between: [a.variant, b.variant], queriesPerDay, note };
}

function fixedPhrase(c: CostPoint): string {
  return c.fixedMonthlyUsd === 0 ? "no fixed cost" : `${usd(c.fixedMonthlyUsd)}/month fixed`;
}

/** Every meaningful break-even between pairs of options, in the order given. */
export function breakEvens(costs: CostPoint[]): BreakEven[] {
  const out: BreakEven[] = [];
  for (let i = 0; i < costs.length; i++) {
    for (let j = i + 1; j < costs.length; j++) {
      const be = breakEven(costs[i], costs[j]);
      if (be) out.push(be);
    }
  }
  return out;
}

/** Dollars with enough precision for per-query amounts (fractions of a cent). */
export function usd(x: number): string {
  if (x === 0) return "$0";
  if (Math.abs(x) >= 1000) return `$${Math.round(x).toLocaleString("en-US")}`;
  if (Math.abs(x) >= 1) return `$${x.toFixed(2)}`;
  if (Math.abs(x) >= 0.01) return `$${x.toFixed(3)}`;
  // Two significant digits for fractions of a cent, without exponent notation.
  return `$${x.toFixed(Math.min(10, 1 - Math.floor(Math.log10(Math.abs(x)))))}`;
}

export function fmtCount(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : String(Math.round(x * 10) / 10);
}
