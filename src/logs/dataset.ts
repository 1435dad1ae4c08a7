/**
 * Corrected answers as training data: each logged request a user corrected becomes one qa example
 * (query → corrected answer), then goes through `dataset build`'s own cleaning, dedupe, PII scrub,
 * decontamination and split (finetune/dataset). A request without a correction is not training
 * data: its answer is what the model already says, and a thumbs down alone does not say what is right.
 */
import type { TrainingExample } from "../finetune/index.ts";
import type { StoredRequest } from "../serve/log.ts";
import { hasCorrection, isAnswered } from "./triggers.ts";

export interface RequestExamples {
  examples: TrainingExample[];
  /** Requests of the window that were not turned into examples, counted by why. */
  skipped: { reason: string; count: number }[];
}

export function examplesFromRequests(rows: StoredRequest[], source = "requests.db"): RequestExamples {
  const examples: TrainingExample[] = [];
  const skipped = new Map<string, number>();
  const skip = (reason: string) => skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
  for (const r of rows) {
    if (!isAnswered(r)) skip("not an answered request (search, error or other route)");
    else if (!hasCorrection(r)) skip(r.feedback?.thumbs === "down" ? "thumbs down without a corrected answer" : "no corrected answer");
    else if (!r.query.trim()) skip("empty query");
    else examples.push({ id: `${source}#${r.id}`, task: "qa", input: r.query, output: r.feedback!.correctedAnswer!.trim(), source: `${source}#${r.id}` });
  }
  return { examples, skipped: [...skipped].map(([reason, count]) => ({ reason, count })) };
}
