import type { FailureCause } from "../evaluate/types.ts";

export const ARCHITECTURES = ["prompt-only", "long-context", "rag", "fine-tune", "hybrid", "stronger-model"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** One number the cost model used, and where it came from. */
export interface CostFigure {
  label: string;
  value: number;
  unit: string;
  /** measured in the run, declared in ragtune.yaml (or its default), the built-in price table, or an estimate (fallback; `from` says why). */
  source: "measured" | "declared" | "price-table" | "estimated";
  /** The run, config key or price-table entry the value came from. */
  from: string;
}

/** One part of an option's cost: per query (scales with volume) or per month (does not). */
export interface CostItem {
  component: string;
  per: "query" | "month";
  usd: number;
  /** The arithmetic, in words and numbers. */
  formula: string;
  figures: CostFigure[];
}

export interface VariantCost {
  variant: string;
  /** Cost per query at the declared volume (generation, query embedding, expected prompt-cache misses). */
  perQueryUsd: number;
  /** perQueryUsd × queriesPerDay × 30 + fixedMonthlyUsd. */
  monthlyUsd: number;
  /** Monthly cost that does not depend on volume (vector store, embedding, re-indexing, training). */
  fixedMonthlyUsd: number;
  withinBudget: boolean | null;
  p95LatencyMs: number;
  withinLatency: boolean | null;
  /** False when the variant was not run and its costs are estimated from a measured sibling. */
  measured: boolean;
  /** How an estimate was derived (only when measured is false). */
  basis?: string;
  /** The model whose prices bill the tokens, and whether that is a projection (offline run priced as the reference model). */
  pricedAs?: { model: string; projected: boolean };
  /**
   * Prompt cache (long-context): a query that finds the cache expired pays `missUsd` more. With
   * Poisson arrivals at q/day the share of such queries is exp(−q × ttlMinutes / 1440), so per
   * query = basePerQueryUsd + missUsd × that share.
   */
  promptCache?: { basePerQueryUsd: number; missUsd: number; ttlMinutes: number };
  /** The parts, each with its figures' sources. */
  items: CostItem[];
}

export interface Decision {
  architecture: Architecture;
  confidence: "high" | "medium" | "low";
  /** Lines that quote measured numbers. */
  rationale: string[];
  /** Conditions under which the recommendation would flip, each naming the alternative. */
  whatWouldChange: string[];
  /** Failure distribution per variant (share of that variant's failures by cause). */
  failureShares: Record<string, Partial<Record<FailureCause, number>>>;
  costs: VariantCost[];
  /** Queries/day at which two options cost the same, where meaningful. */
  breakEven: { between: [string, string]; queriesPerDay: number; note: string }[];
  /** At what volume, freshness, latency target, budget or labelled-data count the recommendation changes (sensitivity.ts). */
  sensitivity: SensitivityLine[];
  /** Which rule fired (for tests and for the report's "why"). */
  rule: string;
  /** How to roll the recommendation out, step by step, with separate rollback paths (rollout.ts). */
  rollout: RolloutStep[];
  /** Present only with production evidence (`decide --from-logs`): the evidence and what it did to the measured recommendation. */
  production?: ProductionEvidence & { effect: "confirmed" | "changed" | "kept"; measuredArchitecture: Architecture; lines: string[] };
}

/** One step of the rollout plan. */
export interface RolloutStep {
  step: number;
  title: string;
  what: string;
  /** Metrics to watch, with this run's value where it has one. */
  watch: string[];
  /** When to move to the next step. */
  advanceWhen: string;
  /**
   * How to undo the step: retrieval changes (config + index) and model changes (registry) roll back
   * on separate paths; `config` is a ragtune.yaml setting alone; `none` changes nothing that answers.
   */
  rollback: { kind: "none" | "config" | "retrieval" | "model"; how: string };
}

/** One lever of the decision and where moving it changes the recommendation. */
export interface SensitivityLine {
  lever: "queriesPerDay" | "knowledgeChange" | "p95LatencyMs" | "monthlyBudgetUsd" | "labelledExamples" | "citationsRequired" | "externalDataStoreAllowed";
  /** The constraint's value now (null when unset). */
  now: number | string | boolean | null;
  /** The value at which the recommendation becomes `to`. */
  at: number | string | boolean | null;
  to: Architecture;
  text: string;
}

/**
 * Labelled live failures of a window of the request log (`ragtune logs label`), the input of
 * `decide --from-logs` (production.ts). Groups as in evidence.ts.
 */
export interface ProductionEvidence {
  /** ISO window. */
  from: string;
  to: string;
  /** Answered requests in the window. */
  requests: number;
  /** Requests with a live-failure label. */
  labelled: number;
  /** … of which the user corrected / gave a thumbs down / only a monitor tripped. */
  corrections: number;
  thumbsDown: number;
  monitorOnly: number;
  byCause: Partial<Record<FailureCause, number>>;
  groups: Record<"knowledge" | "behaviour" | "reasoning", number>;
  /** The group each counted cause was put in (weak_reasoning depends on the signal). */
  causeGroups: Partial<Record<FailureCause, "knowledge" | "behaviour" | "reasoning">>;
}
