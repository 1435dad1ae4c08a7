/**
 * Label one logged live failure with its one primary cause — the 8 causes of evaluate/ — and the
 * evidence for it. Online there is no gold, so the labeller infers one from the log:
 *
 *   1. a correction with the same facts as the answer, in another form → wrong_tone / bad_format
 *   2. a correction found in the current docs → that chunk is the gold source, and
 *      evaluate/failures.ts `labelFailure` decides as offline (older copy retrieved →
 *      stale_knowledge, unsupported answer → hallucination, gold not retrieved → wrong_retrieval,
 *      gold in context → weak_reasoning)
 *   3. a correction found only in an older version → stale_knowledge
 *   4. a correction found nowhere in the index → missing_knowledge
 *   without a correction:
 *   5. logged support < 1 (the unsupported-answer monitor) → hallucination
 *   6. nothing retrieved → missing_knowledge; a fallback on retrieved chunks → wrong_retrieval
 *   7. a thumbs down alone → weak_reasoning (signal thumbs_down_only: the weakest evidence)
 *
 * Offline order is kept: form (tone, format) before knowledge before reasoning.
 */
import type { Chunk } from "../core/chunk.ts";
import type { StoredRequest } from "../serve/log.ts";
import type { FailureLabel } from "../evaluate/types.ts";
import { labelFailure } from "../evaluate/failures.ts";
import { contentTokens, supportRatio } from "../evaluate/metrics.ts";
import { normalizeText, snippet } from "../evaluate/normalize.ts";
import type { LiveLabel } from "./index.ts";
import { hasCorrection, triggersOf } from "./triggers.ts";
import { locateCorrection } from "./locate.ts";

/** Bumped when a rule changes, so stored labels say which rules produced them. */
export const LABELLER_VERSION = "logs-label/1";

/** What the labeller needs from the index (a Project provides it; tests can give a fake). */
export interface LabelIndex {
  chunk(id: string): Chunk | undefined;
  /** Candidate chunks that may hold `text` (e.g. raw BM25 top 100): every version, no collapsing. */
  candidates(text: string): Chunk[];
  /** The current version label (newest), "" when the corpus is unversioned. */
  currentVersion: string | undefined;
  isOlder(version: string): boolean;
  corpusPaths: Set<string>;
}

/** Courtesy a correction adds when the complaint is the tone. */
const COURTESY = /\b(thanks?(?: you)?(?: for [a-z]+)?|sorry|apologi[sz]e|happy to help|glad to help|hope this helps)\b/i;

const q = (s: string, max = 80) => `"${snippet(s, max)}"`;

/** Words that say a complaint is about tone, not content (in the user's comment). */
const TONE_WORDS = /\b(tone|rude|polite|impolite|friendl\w*|formal|informal|curt|blunt|cold|warm\w*|apolog\w*|condescending|empath\w*|sarcas\w*|harsh)\b/i;

/** Numbers and amounts of a text (citation markers dropped): the facts most often corrected. */
const numbersIn = (s: string) => new Set(Array.from(s.replace(/\[\d+(?:\s*[,\u2013-]\s*\d+)*\]/g, "").matchAll(/\d+(?:[.,]\d+)*/g), (m) => m[0]));

/**
 * Same facts in another form: both state the same numbers, and one is backed by the other (the
 * support metric, claim by claim): the correction only restates the answer (a list, shorter), or
 * the answer is all in the correction, which adds words but no facts ("Thanks for asking! …").
 * Without numbers, at least half of the other text's content must be shared too.
 */
function sameFacts(answer: string, correction: string): boolean {
  const plain = answer.replace(/\[\d+(?:\s*[,\u2013-]\s*\d+)*\]/g, "");
  if (normalizeText(plain) === normalizeText(correction) || !hasContentWords(correction)) return false;
  const a = numbersIn(plain);
  const c = numbersIn(correction);
  if (a.size !== c.size || [...a].some((n) => !c.has(n))) return false;
  const correctionBacked = supportRatio(correction, [plain]);
  const answerBacked = supportRatio(plain, [correction]);
  const backed = correctionBacked.unsupportedSentences.length === 0 || (answerBacked.unsupportedSentences.length === 0 && correctionBacked.ratio >= 0.5);
  if (!backed) return false;
  if (c.size > 0) return true;
  return tokenShare(plain, correction) >= SAME_FACTS_SHARE || tokenShare(correction, plain) >= SAME_FACTS_SHARE;
}

/** Share of `from`'s content tokens that occur in `to`. */
function tokenShare(from: string, to: string): number {
  const f = contentTokens(from);
  const t = new Set(contentTokens(to));
  return f.length ? f.filter((x) => t.has(x)).length / f.length : 0;
}

const SAME_FACTS_SHARE = 0.5;
const hasContentWords = (s: string) => contentTokens(s).length > 0;

const structure = (s: string) => ({
  list: /^\s*(?:[-*•]|\d+[.)])\s+/m.test(s),
  code: /```|`[^`]+`/.test(s),
  json: /^\s*[{[]/.test(s),
  lines: s.trim().split(/\n+/).length,
});

function formLabel(r: StoredRequest, answer: string, correction: string): Omit<FailureLabel, "source"> {
  const comment = r.feedback?.text ?? "";
  if (TONE_WORDS.test(comment)) {
    return { cause: "wrong_tone", signal: "correction_same_facts_tone", evidence: `the correction ${q(correction)} states the same facts as the answer; the user's comment ${q(comment)} is about tone` };
  }
  const courtesy = COURTESY.exec(correction);
  if (courtesy && !COURTESY.test(answer)) {
    return { cause: "wrong_tone", signal: "correction_same_facts_tone", evidence: `the correction ${q(correction)} states the same facts as the answer and adds "${courtesy[0]}": the difference is tone` };
  }
  const a = structure(answer);
  const c = structure(correction);
  const what: string[] = [];
  if (a.list !== c.list) what.push(c.list ? "a list" : "no list");
  if (a.code !== c.code) what.push(c.code ? "code formatting" : "no code formatting");
  if (a.json !== c.json) what.push(c.json ? "JSON" : "no JSON");
  if (!what.length && Math.abs(a.lines - c.lines) > 1) what.push(`${c.lines} lines instead of ${a.lines}`);
  const lengthRatio = correction.length / Math.max(1, answer.length);
  if (!what.length && (lengthRatio < 0.5 || lengthRatio > 2)) what.push(lengthRatio < 0.5 ? `${Math.round((1 - lengthRatio) * 100)}% shorter` : `${lengthRatio.toFixed(1)}× longer`);
  return {
    cause: "bad_format",
    signal: "correction_same_facts_format",
    evidence: `the correction ${q(correction)} states the same facts as the answer ${q(answer)} in another form${what.length ? ` (${what.join(", ")})` : ""}`,
  };
}

function correctionLabel(r: StoredRequest, retrieved: Chunk[], index: LabelIndex): { label: Omit<FailureLabel, "source">; rule: LiveLabel["rule"] } {
  const correction = r.feedback!.correctedAnswer!.trim();
  const answer = r.answer ?? "";
  if (!r.fallback && answer && sameFacts(answer, correction)) return { label: formLabel(r, answer, correction), rule: "online" };
  const candidates = new Map<string, Chunk>();
  for (const c of [...retrieved, ...index.candidates(correction)]) candidates.set(c.id, c);
  const where = locateCorrection(correction, retrieved, candidates.values(), index.isOlder);
  if (where.current.length > 0) {
    // The correction's current chunks are the gold sources: the offline rules decide.
    const gold = where.current.map((c) => c.id);
    const label = labelFailure({
      case: { id: r.id, task: "qa", input: r.query, answer: [correction], sources: gold, file: "requests.db", line: 0 },
      output: { text: r.fallback ? "" : answer, abstained: r.fallback === true, citations: [] },
      scores: [{ name: "answer", pass: false, value: 0, detail: `the user corrected the answer to ${q(correction)}` }],
      passed: false,
      variant: { usesContext: true, usesRetrieval: true },
      contextPaths: [...new Set(retrieved.map((c) => c.path))],
      contextChunks: retrieved,
      currentVersion: index.currentVersion,
      truncated: false,
      corpusPaths: index.corpusPaths,
    })!;
    return { label: { cause: label.cause, signal: label.signal, evidence: `${label.evidence}; the correction is in ${gold.slice(0, 3).join(", ")}${gold.length > 3 ? ", …" : ""}` }, rule: "failures.ts" };
  }
  if (where.older.length > 0) {
    const o = where.older[0];
    return {
      label: {
        cause: "stale_knowledge",
        signal: "correction_only_in_older_version",
        evidence: `the correction ${q(correction)} is only in an older version of the docs (${o.id}, version ${o.version || "unversioned"}${where.older.length > 1 ? ` and ${where.older.length - 1} more` : ""}); the current docs (${index.currentVersion || "unversioned"}) do not say it`,
      },
      rule: "online",
    };
  }
  return {
    label: { cause: "missing_knowledge", signal: "correction_not_in_index", evidence: `the correction ${q(correction)} is in no indexed chunk of any version: the docs do not hold this knowledge` },
    rule: "online",
  };
}

function uncorrectedLabel(r: StoredRequest, retrieved: Chunk[]): Omit<FailureLabel, "source"> {
  if (r.support !== null && r.support < 1 && !r.fallback) {
    const recheck = retrieved.length ? supportRatio(r.answer ?? "", retrieved.map((c) => c.text)) : undefined;
    const sentence = recheck?.unsupportedSentences[0];
    return {
      cause: "hallucination",
      signal: "unsupported_answer",
      evidence: `support ${r.support.toFixed(2)} < 1 (the unsupported-answer monitor)${sentence ? `: sentence ${q(sentence)} is not supported by the retrieved chunks` : `: answer ${q(r.answer ?? "")}`}`,
    };
  }
  if (r.retrieved.length === 0) {
    return { cause: "missing_knowledge", signal: "nothing_retrieved", evidence: `nothing was retrieved for ${q(r.query)}: no indexed chunk shares its words, so the docs likely do not cover it` };
  }
  if (r.fallback) {
    const ids = r.retrieved.slice(0, 5).map((h) => h.id);
    return {
      cause: "wrong_retrieval",
      signal: "fallback_on_retrieved",
      evidence: `the reader fell back (confidence ${r.confidence?.toFixed(2) ?? "–"}) on the ${r.retrieved.length} retrieved chunks (${ids.join(", ")}${r.retrieved.length > 5 ? ", …" : ""}): none answered the question (retrieval-miss proxy; no correction to confirm)`,
    };
  }
  const comment = r.feedback?.text ? ` with the comment ${q(r.feedback.text)}` : "";
  return {
    cause: "weak_reasoning",
    signal: "thumbs_down_only",
    evidence: `thumbs down${comment} on an answer backed by its chunks (support ${r.support?.toFixed(2) ?? "–"}); no correction says what was wrong`,
  };
}

/** The label of one request, or undefined when it is not a live failure (no trigger). */
export function labelRequest(r: StoredRequest, index: LabelIndex, labelledAt = new Date().toISOString()): LiveLabel | undefined {
  const triggers = triggersOf(r);
  if (!triggers.length) return undefined;
  const retrieved = r.retrieved.map((h) => index.chunk(h.id)).filter((c): c is Chunk => c !== undefined);
  const gone = r.retrieved.length - retrieved.length;
  const { label, rule } = hasCorrection(r) ? correctionLabel(r, retrieved, index) : { label: uncorrectedLabel(r, retrieved), rule: "online" as const };
  // Chunks re-ingested since the request are not in the index any more: say so, the label used what is left.
  const note = gone > 0 ? ` (${gone} of the ${r.retrieved.length} retrieved chunks are no longer in the index)` : "";
  return { requestId: r.id, cause: label.cause, signal: label.signal, evidence: label.evidence + note, triggers, rule, labelledAt, labellerVersion: LABELLER_VERSION };
}

export function labelRequests(rows: StoredRequest[], index: LabelIndex, labelledAt = new Date().toISOString()): LiveLabel[] {
  const out: LiveLabel[] = [];
  for (const r of rows) {
    const l = labelRequest(r, index, labelledAt);
    if (l) out.push(l);
  }
  return out;
}

