import type { FailureCause } from "../evaluate/types.ts";

export const ARCHITECTURES = ["prompt-only", "long-context", "rag", "fine-tune", "hybrid", "stronger-model"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

export interface VariantCost {
  variant: string;
  /** Mean cost per query at reference-model prices (projected for offline generators). */
  perQueryUsd: number;
  /** perQueryUsd × queriesPerDay × 30 + fixed monthly costs (vector store, amortised training). */
  monthlyUsd: number;
  withinBudget: boolean | null;
  p95LatencyMs: number;
  withinLatency: boolean | null;
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
  /** Which rule fired (for tests and for the report's "why"). */
  rule: string;
  /** How to roll the recommendation out, step by step, with separate rollback paths (rollout.ts). */
  rollout: RolloutStep[];
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
