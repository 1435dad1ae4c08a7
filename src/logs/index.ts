/**
 * logs/ — the loop back from production: the request log of `ragtune serve` (serve/log.ts) read
 * back into evaluation, the decision, training data and the regression suite.
 *
 *   requests.db ──label.ts──▶ request_labels (labels-db.ts) ──production.ts──▶ decide(…, production)
 *               ──dataset.ts──▶ training examples (finetune/dataset cleaning)
 *               ──suite-cases.ts──▶ suite YAML cases (evaluate/suite.ts loads them)
 *
 * Online there is no gold: a label rests on what the log has (the user's corrected answer, the
 * logged support, fallback, what was retrieved) located in the index. The failure rules are
 * evaluate/failures.ts's own `labelFailure` wherever a gold source can be inferred (locate.ts).
 * docs/logs.md explains each rule.
 */
import type { FailureCause } from "../evaluate/types.ts";

export { LABELLER_VERSION, labelRequest, labelRequests, type LabelIndex } from "./label.ts";
export { triggersOf, isAnswered, type Trigger } from "./triggers.ts";
export { locateCorrection, type CorrectionLocation } from "./locate.ts";
export { LabelStore, openLabelStore, type LabelStoreLike } from "./labels-db.ts";
export { openRequestLog, requestsSince, requestLogFile, labelIndexOf, type LogWindow } from "./window.ts";
export { productionEvidence } from "./production.ts";
export { labelWindow, productionFromLogs, type LabelledWindow } from "./run.ts";
export { examplesFromRequests, type RequestExamples } from "./dataset.ts";
export { casesFromRequests, appendCasesToSuite, type CasesFromRequests } from "./suite-cases.ts";

/** One labelled live failure: the online counterpart of a CaseResult's `failure`. */
export interface LiveLabel {
  requestId: string;
  cause: FailureCause;
  /** Which signal produced the label (offline signals keep their names, e.g. "gold_not_retrieved"). */
  signal: string;
  /** Human-readable evidence quoting what was observed. */
  evidence: string;
  /** What made the request a candidate: negative feedback or a tripped monitor. */
  triggers: string[];
  /** "failures.ts" when evaluate/failures.ts's labelFailure produced it, "online" for the log-only rules. */
  rule: "failures.ts" | "online";
  labelledAt: string;
  labellerVersion: string;
}
