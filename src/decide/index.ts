/**
 * decide/ — turn a run's measurements and the project's constraints into a recommendation.
 *
 * rules.ts holds the policy (ordered rules, failure grouping, confidence); cost.ts the cost model
 * and break-even volumes. docs/decision.md explains both with worked examples.
 */
export * from "./types.ts";
export {
  decide,
  failureGroup,
  confidenceOf,
  bestMeasured,
  RULES,
  THRESHOLDS,
  Evidence,
  type DecideConfig,
  type Group,
  type Purpose,
  type Verdict,
  type VariantEvidence,
  type ConfidenceInputs,
} from "./rules.ts";
export {
  breakEven,
  breakEvens,
  variantCost,
  variantCosts,
  estimatedVariantCost,
  fixedMonthlyUsd,
  monthlyUsd,
  usd,
  DAYS_PER_MONTH,
  TRAINING_AMORTISATION_MONTHS,
  type VariantCostDetail,
  type CostConfig,
  type BreakEven,
} from "./cost.ts";
