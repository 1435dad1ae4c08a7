/**
 * evaluate/ — run a suite on variants, score every case, label every failure by cause.
 *
 * suite.ts (load + validate cases) → runner.ts (case × variant) → scorers.ts (deterministic
 * checks) → failures.ts (one primary cause per failure) → stats.ts (per-variant summary).
 * metrics.ts holds the metric definitions shared with the online monitors of serve/.
 */
export * from "./types.ts";
export { loadSuite, SuiteError } from "./suite.ts";
export { scoreCase, retrievalScores, sourceMatches, ndcgAtK } from "./scorers.ts";
export { labelFailure } from "./failures.ts";
export { summariseVariant, percentile } from "./stats.ts";
export { runEval, RAGTUNE_VERSION, type RunEvalOptions, type RunEvalResult } from "./runner.ts";
export * from "./runs.ts";
