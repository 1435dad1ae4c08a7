/**
 * Stale answers: does an output *answer* with a value that was true in an older version of the
 * docs (a case's `stale_answers`)? One definition, used by the failure labeller and anything that
 * monitors answers.
 *
 * A stale value is evidence only where the output asserts it as its answer. Long outputs (a
 * long-context reply, an extractive reader quoting two passages) mention many values in passing: a
 * reply that answers "which option takes a custom logger?" with a sentence about an unrelated
 * plugin "…to access the Fastify instance, logger, request…" does not state the stale answer
 * "logger". So:
 *
 * 1. The output is split into answer units: sentences, with the citation markers that follow
 *    them ("… timeout. [1] Next …" and "… timeout [1]. Next …" both give "[1]" to the first).
 * 2. The answering units are the ones that share the most content words with the question
 *    (at least half as many as the best unit); when none shares any, the first unit with content
 *    words (answers lead with the answer).
 * 3. A stale answer matches an answering unit by the `answer` scorer's rules (normalised exact,
 *    token-sequence containment, token F1 ≥ threshold). When every content word of the stale
 *    answer is also in the question ("logger" for "…custom logger…?"), containment proves nothing
 *    — any on-topic sentence repeats the question — so only exact or F1 matches count.
 * 4. Not stale when the output also gives a current answer (by the same scorer rules, anywhere in
 *    the output: "was $10, now $12"), or when every chunk the matching unit cites is from the
 *    current version: the value was quoted from the current docs (a misread, not old knowledge).
 */
import type { Citation } from "../models/index.ts";
import { contentTokens } from "../retrieve/tokenize.ts";
import { matchAnswer, parseSource, sourceMatches, DEFAULT_F1_THRESHOLD } from "./scorers.ts";

export interface StalenessOptions {
  /** The case's question: picks the answering sentences. Without it every sentence counts. */
  question?: string;
  /** The output's citations ([n] marker → chunk). */
  citations?: (Pick<Citation, "chunkId"> & Partial<Pick<Citation, "marker">>)[];
  /** The chunks the generator saw, with their version labels. */
  contextChunks?: { id: string; version?: string }[];
  /** The current version label; with it, a unit citing only current chunks is not stale. */
  currentVersion?: string;
  f1Threshold?: number;
}

export interface StalenessResult {
  stale: boolean;
  /** The stale answer the output states. */
  staleAnswer?: string;
  /** The answering sentence that states it (markers included). */
  sentence?: string;
  /** Why a stale-looking value was not counted (for evidence and tests). */
  notStaleBecause?: "current_answer_given" | "quoted_from_current_version";
}

export interface AnswerUnit {
  text: string;
  /** Citation markers the unit carries, e.g. [1, 2]. */
  markers: number[];
}

const MARKER = /\[(\d+(?:\s*[,\u2013-]\s*\d+)*)\]/g;
const ABBREVIATIONS = /\b(e\.g|i\.e|etc|vs|approx|incl|no)\.(?=\s)/gi;

function markersOf(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(MARKER)) {
    for (const part of m[1].split(",")) {
      const [a, b] = part.split(/[\u2013-]/).map((s) => Number(s.trim()));
      if (b === undefined) out.push(a);
      else for (let i = a; i <= b && i - a < 50; i++) out.push(i);
    }
  }
  return [...new Set(out)];
}

/**
 * Sentences of an output, each with the citation markers that belong to it. Splits at line breaks
 * and list bullets, after sentence-ending punctuation (keeping a marker group that follows it with
 * the sentence), and after a marker group followed by more text (the offline reader writes
 * "quote [1] quote [2]").
 */
export function answerUnits(text: string): AnswerUnit[] {
  const protectedText = text.replace(ABBREVIATIONS, (m) => m.replace(/\./g, "\u0000"));
  const units: AnswerUnit[] = [];
  for (const rawLine of protectedText.split(/\n+/)) {
    const line = rawLine.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, "");
    const parts = line.split(/(?<=[.!?](?:\s*\[\d+(?:\s*[,\u2013-]\s*\d+)*\])*|\[\d+(?:\s*[,\u2013-]\s*\d+)*\])\s+(?!\[\d)/);
    for (const p of parts) {
      const unit = p.replace(/\u0000/g, ".").trim();
      if (unit) units.push({ text: unit, markers: markersOf(unit) });
    }
  }
  return units;
}

/** The units that answer the question: the most question words, or within half of the best. */
export function answeringUnits(units: AnswerUnit[], question: string | undefined): AnswerUnit[] {
  if (!question || units.length <= 1) return units;
  const q = new Set(contentTokens(question));
  const words = (u: AnswerUnit) => contentTokens(u.text.replace(MARKER, " "));
  const overlap = units.map((u) => new Set(words(u).filter((t) => q.has(t))).size);
  const best = Math.max(...overlap);
  // No sentence shares a word with the question: answers lead with the answer.
  if (best === 0) return [units.find((u) => words(u).length > 0) ?? units[0]];
  const bar = Math.max(1, best / 2);
  return units.filter((_, i) => overlap[i] >= bar);
}

/**
 * Does `output` answer with a value from an older version (`staleAnswers`) rather than the current
 * one (`currentAnswers`)? See the file comment for the rules.
 */
export function staleness(
  output: string,
  staleAnswers: string[] | undefined,
  currentAnswers: string[] | undefined,
  options: StalenessOptions = {},
): StalenessResult {
  if (!staleAnswers || staleAnswers.length === 0) return { stale: false };
  const threshold = options.f1Threshold ?? DEFAULT_F1_THRESHOLD;
  const answering = answeringUnits(answerUnits(output), options.question);
  const questionTokens = new Set(options.question ? contentTokens(options.question) : []);
  let found: { answer: string; unit: AnswerUnit } | undefined;
  for (const answer of staleAnswers) {
    const tokens = contentTokens(answer);
    const echoesQuestion = tokens.length > 0 && tokens.every((t) => questionTokens.has(t));
    const unit = answering.find((u) => {
      const m = matchAnswer([answer], u.text, threshold);
      return m !== undefined && (!echoesQuestion || m.kind !== "contains");
    });
    if (unit) {
      found = { answer, unit };
      break;
    }
  }
  if (!found) return { stale: false };
  const base = { staleAnswer: found.answer, sentence: found.unit.text };
  if (currentAnswers?.length && matchAnswer(currentAnswers, output, threshold)) return { stale: false, ...base, notStaleBecause: "current_answer_given" };
  if (quotesOnlyCurrent(found.unit, options)) return { stale: false, ...base, notStaleBecause: "quoted_from_current_version" };
  return { stale: true, ...base };
}

/** True when the unit cites chunks and every one of them carries the current version label. */
function quotesOnlyCurrent(unit: AnswerUnit, o: StalenessOptions): boolean {
  if (o.currentVersion === undefined || unit.markers.length === 0 || !o.citations?.length || !o.contextChunks?.length) return false;
  const versions: (string | undefined)[] = [];
  for (const marker of unit.markers) {
    const citation = o.citations.find((c) => c.marker === marker);
    const chunk = citation ? o.contextChunks.find((ch) => ch.id === citation.chunkId) : undefined;
    if (!chunk || chunk.version === undefined) return false;
    versions.push(chunk.version);
  }
  return versions.every((v) => v === o.currentVersion);
}

/** The ATX markdown headings ("## Title") inside a chunk's text, outside code fences. */
export function headingsIn(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) {
      const m = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
      if (m) out.push(m[1].replace(/`/g, "").trim());
    }
  }
  return out;
}

/**
 * Is `older` (a chunk's path and version) an older version's copy of the page at `goldPath`?
 * Versioned docs keep a page's relative path under a version folder ("docs/v1/boards/export.md"
 * for "docs/v2/boards/export.md"; "versioned_docs/version-10.x/cli/add.md" for "docs/cli/add.md"):
 * the older path's tail after its version segment must end the gold path, and the gold path may
 * not be nested deeper before that tail than the older one is (so "docs/v1/index.md" is not a
 * copy of "docs/v2/api/index.md"). A gold source naming a section (`path#Heading`) also matches an
 * older chunk under that heading in any file: pages get split and renamed between versions
 * ("settings.md#strictDepBuilds" became "settings/build.md#strictDepBuilds"), and under that
 * heading inside the chunk's text when the chunk spans several short sections.
 */
export function isOlderCopyOf(gold: string, older: { id: string; path: string; headingPath?: string[]; spans?: { headingPath: string[] }[]; version?: string; text?: string }, currentVersion: string | undefined): boolean {
  const { path: goldPath, fragment } = parseSource(gold);
  if (currentVersion === undefined || !older.version || older.version === currentVersion || older.path === goldPath) return false;
  if (fragment && !/^\d+$/.test(fragment)) {
    if (sourceMatches(`${older.path}#${fragment}`, older)) return true;
    // A chunk can span several short sections; its headingPath names only the first, so the gold
    // section may start inside the chunk's text ("### nodeOptions … ### verifyDepsBeforeRun …").
    const inner = older.text ? headingsIn(older.text) : [];
    if (inner.length > 0 && sourceMatches(`${older.path}#${fragment}`, { ...older, headingPath: inner })) return true;
  }
  const segs = older.path.split("/");
  let v = -1;
  for (let i = segs.length - 2; i >= 0; i--) {
    if (segs[i].includes(older.version)) {
      v = i;
      break;
    }
  }
  if (v < 0) return false;
  const tail = segs.slice(v + 1);
  const goldSegs = goldPath.split("/");
  if (goldSegs.length < tail.length) return false;
  if (goldSegs.slice(goldSegs.length - tail.length).join("/") !== tail.join("/")) return false;
  return goldSegs.length - tail.length <= v + 1;
}
