/**
 * The ONE definition of the answer-quality metrics, shared by offline evaluation (failure labels,
 * run summaries) and the online monitor. If a threshold changes here it changes everywhere, so an
 * "unsupported answer" in a report means the same thing as one flagged in production.
 */
import type { Citation } from "../models/index.ts";
import type { RetrievalScores } from "./types.ts";
import { contentTokens } from "../retrieve/tokenize.ts";

/** Share of a sentence's content tokens that must occur in the supporting texts. */
export const SUPPORT_THRESHOLD = 0.7;

/**
 * Content tokens come from the retrieval tokenizer (stop words removed, Porter2 stems, compound
 * identifiers kept with their parts), so "refunds" is supported by "refund" exactly when retrieval
 * would match them too: one notion of "the same word" across the product.
 */
export { contentTokens, STOP_WORDS } from "../retrieve/tokenize.ts";

/**
 * Split an answer into sentence-level claims. [n] markers are dropped; splits on sentence-ending
 * punctuation followed by whitespace and on line breaks / list bullets, but not inside numbers
 * ("2.5") or common abbreviations ("e.g.").
 */
export function splitClaims(answer: string): string[] {
  const text = answer
    .replace(/\s*\[\d+(?:\s*[,\u2013-]\s*\d+)*\]/g, "")
    .replace(/\b(e\.g|i\.e|etc|vs|approx|incl|no)\.(?=\s)/gi, (m) => m.replace(/\./g, "\u0000"));
  const claims: string[] = [];
  for (const rawLine of text.split(/\n+/)) {
    // List markers first, so "1. Enterprise" is not read as the sentence "1.".
    const line = rawLine.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, "");
    for (const s of line.split(/(?<=[.!?])\s+/)) {
      const claim = s.replace(/\u0000/g, ".").trim();
      if (claim) claims.push(claim);
    }
  }
  return claims;
}

export interface SupportResult {
  /** Supported claims / claims with content (1 when there is nothing to check). */
  ratio: number;
  /** Claims whose content tokens are < SUPPORT_THRESHOLD present in the supporting texts. */
  unsupportedSentences: string[];
}

/**
 * How much of `answer` is backed by `supportingTexts`: a claim is supported when at least 70% of
 * its content tokens occur somewhere in the texts. Lexical on purpose — deterministic and cheap
 * enough to run on every production answer.
 */
export function supportRatio(answer: string, supportingTexts: string[]): SupportResult {
  const support = new Set<string>();
  for (const text of supportingTexts) {
    // The tokenizer already emits compound identifiers with their parts ("x-acme-signature" → "acme").
    for (const t of contentTokens(text)) support.add(t);
  }
  let checked = 0;
  const unsupportedSentences: string[] = [];
  for (const sentence of splitClaims(answer)) {
    const tokens = contentTokens(sentence);
    if (tokens.length === 0) continue;
    checked++;
    const found = tokens.filter((t) => support.has(t)).length;
    if (found / tokens.length < SUPPORT_THRESHOLD) unsupportedSentences.push(sentence);
  }
  return { ratio: checked === 0 ? 1 : (checked - unsupportedSentences.length) / checked, unsupportedSentences };
}

/** True when any claim of the answer is unsupported by the texts (see `supportRatio`). */
export function isUnsupportedAnswer(answer: string, supportingTexts: string[]): boolean {
  return supportRatio(answer, supportingTexts).unsupportedSentences.length > 0;
}

/**
 * The texts an answer should be checked against: the chunks it cited when any citation resolves
 * to a context chunk (a cited answer claims *those* chunks back it), else the whole context.
 */
export function supportingTexts(citations: Pick<Citation, "chunkId">[], contextChunks: { id: string; text: string }[]): string[] {
  const cited = new Set(citations.map((c) => c.chunkId));
  const citedChunks = contextChunks.filter((c) => cited.has(c.id));
  return (citedChunks.length > 0 ? citedChunks : contextChunks).map((c) => c.text);
}

/** Retrieval missed when it ran and no gold source was in the top k. Undefined scores (no retrieval / no gold) are not a miss. */
export function isRetrievalMiss(scores: RetrievalScores | undefined): boolean {
  return scores !== undefined && scores.hitAtK === 0;
}

/** A fallback is an abstention: the user got the "I don't know" message instead of an answer. */
export function isFallback(abstained: boolean): boolean {
  return abstained;
}

/** Stale answers are checked as answers, not as words anywhere in the output: see stale.ts. */
export { staleness, type StalenessResult, type StalenessOptions } from "./stale.ts";

/**
 * The support check of one answer, as both the failure labeller and the run record use it:
 * against the cited chunks, else the whole context. Undefined when there is nothing to check —
 * the output abstained, the task is not qa (labels and JSON are not claims), or there was no context.
 */
export function answerSupport(
  task: string,
  output: { text: string; abstained: boolean; citations: Pick<Citation, "chunkId">[] },
  contextChunks: { id: string; text: string }[],
): SupportResult | undefined {
  if (task !== "qa" || output.abstained || contextChunks.length === 0) return undefined;
  return supportRatio(output.text, supportingTexts(output.citations, contextChunks));
}
