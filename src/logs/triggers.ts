/**
 * Which logged requests are live failures worth labelling: negative feedback (thumbs down, a
 * corrected answer) or a tripped monitor (fallback, unsupported answer, retrieval miss), with the
 * monitor definitions of serve/monitor.ts (answered = an answering route that returned 200).
 */
import type { StoredRequest } from "../serve/log.ts";

export type Trigger = "corrected" | "thumbs_down" | "unsupported" | "fallback" | "retrieval_miss";

const ANSWER_ROUTES = new Set(["/v1/ask", "/v1/chat/completions"]);

export function isAnswered(r: StoredRequest): boolean {
  return ANSWER_ROUTES.has(r.route) && r.status === 200;
}

export const hasCorrection = (r: StoredRequest): boolean => typeof r.feedback?.correctedAnswer === "string" && r.feedback.correctedAnswer.trim() !== "";

/** The reasons a request counts as a live failure, strongest first; empty when it does not. */
export function triggersOf(r: StoredRequest): Trigger[] {
  if (!isAnswered(r)) return [];
  const out: Trigger[] = [];
  if (hasCorrection(r)) out.push("corrected");
  if (r.feedback?.thumbs === "down") out.push("thumbs_down");
  // The same test as the unsupported-answer monitor: support < 1 on an answer that did not fall back.
  if (r.support !== null && r.support < 1 && !r.fallback) out.push("unsupported");
  if (r.fallback) out.push("fallback");
  if (r.retrieved.length === 0) out.push("retrieval_miss");
  // Thumbs up with no correction: the user said it was right, whatever the monitors say.
  if (r.feedback?.thumbs === "up" && !hasCorrection(r)) return [];
  return out;
}

/** Feedback filter of `logs list --feedback`. */
export function matchesFeedback(r: StoredRequest, which: "down" | "corrected" | "any" | undefined): boolean {
  if (which === undefined) return true;
  if (which === "any") return r.feedback !== null;
  if (which === "corrected") return hasCorrection(r);
  return r.feedback?.thumbs === "down";
}
