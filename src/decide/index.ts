/**
 * decide/ — turn a run's measurements and the project's constraints into a recommendation.
 *
 * evidence.ts groups a run's failures and checks constraints; rules.ts holds the policy (ordered
 * rules); decide.ts runs it; confidence.ts and changes.ts word the confidence and the flips;
 * cost.ts is the cost model and break-even volumes, cost-inputs.ts the figures it uses with their sources; sensitivity.ts finds where each constraint would flip the recommendation. docs/decision.md explains them with examples.
 */
export * from "./types.ts";
export { decide } from "./decide.ts";
export { rolloutPlan } from "./rollout.ts";
export { withProduction, PRODUCTION_THRESHOLDS } from "./production.ts";
export { RULES, bestMeasured } from "./rules.ts";
export {
  failureGroup,
  THRESHOLDS,
  Evidence,
  VARIANT_OF,
  type DecideConfig,
  type Group,
  type Purpose,
  type Verdict,
  type VariantEvidence,
} from "./evidence.ts";
export { confidenceOf, type ConfidenceInputs } from "./confidence.ts";
export {
  breakEven,
  breakEvens,
  variantCost,
  variantCosts,
  estimatedVariantCost,
  monthlyUsd,
  monthlyAt,
  perQueryAt,
  cacheMissShare,
  trainingItem,
  usd,
  DAYS_PER_MONTH,
  AMORTISATION_MONTHS,
  type VariantCostDetail,
  type CostConfig,
  type BreakEven,
} from "./cost.ts";
