/**
 * CLAP NQ dev for the reader benchmark (bench/reader.ts): items, the tune/held-out split, one pass
 * of a reader over items, the metrics of a pass, and the weight grid of the semantic signal.
 *
 * Split, declared: an item is in the *tune* half when the first byte of sha1(item id) is even,
 * otherwise *held out*. The semantic weights are chosen on tune only; held out only reports.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpuUsage } from "node:process";
import { ExtractiveReader } from "../../src/models/offline-extractive.ts";
import type { ReaderSemanticOptions } from "../../src/models/extractive/semantic.ts";
import type { ContextChunk, Embedder } from "../../src/models/index.ts";
import { tokenize } from "../../src/retrieve/tokenize.ts";
import { multisetOverlap } from "../../src/evaluate/normalize.ts";

export const THRESHOLDS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6];
export const DEFAULT_MIN_CONFIDENCE = 0.35;
const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

interface ClapRow {
  id: string;
  input: string;
  passages: { title: string; text: string; sentences: string[] }[];
  output: { answer: string; selected_sentences?: string[] }[];
}

export interface ClapItem {
  id: string;
  question: string;
  chunk: ContextChunk;
  /** Annotated answer sentences; undefined for an unanswerable item. */
  gold?: string[];
  /** The passage's first sentence (the lead-sentence reference point). */
  lead: string;
  half: "tune" | "heldout";
}

/** The dataset is space-tokenised ("Valladolid ." / "( 1 )"); restore ordinary prose spacing. */
export function detokenize(s: string): string {
  return s
    .replace(/``\s*|\s*''/g, '"')
    .replace(/\s+([.,;:!?%)\]])/g, "$1")
    .replace(/([([])\s+/g, "$1")
    .replace(/\s+(['’](?:s|re|ve|d|ll|m|t)\b)/gi, "$1")
    .replace(/\s+n't\b/g, "n't")
    .replace(/\s+-\s+/g, (m) => (m.length === 3 ? "-" : " - "))
    .replace(/\s+/g, " ")
    .trim();
}

export function halfOf(id: string): "tune" | "heldout" {
  return createHash("sha1").update(id).digest()[0] % 2 === 0 ? "tune" : "heldout";
}

/** Answerable items with annotated sentences, then every unanswerable item. */
export function loadClapItems(answerablePath: string, unanswerablePath: string): ClapItem[] {
  const rows = (path: string) =>
    readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ClapRow);
  const item = (row: ClapRow, gold: string[] | undefined): ClapItem => {
    const p = row.passages[0];
    return {
      id: row.id,
      question: row.input,
      chunk: { id: `${row.id}#0`, path: `${p.title}.md`, headingPath: [p.title], lineStart: 1, lineEnd: 1, version: "dev", text: detokenize(p.text) },
      gold,
      lead: detokenize(p.sentences[0] ?? ""),
      half: halfOf(row.id),
    };
  };
  const answerable = rows(answerablePath)
    .map((r) => item(r, r.output.flatMap((o) => (o.selected_sentences ?? []).map((s) => detokenize(s.replace(/&$/, ""))))))
    .filter((i) => (i.gold?.length ?? 0) > 0);
  return [...answerable, ...rows(unanswerablePath).map((r) => item(r, undefined))];
}

function tokenOverlapMatch(a: string, b: string): boolean {
  const ta = tokenize(a);
  const tb = tokenize(b);
  if (ta.length === 0 || tb.length === 0) return false;
  return multisetOverlap(ta, tb) >= 0.5 * Math.max(ta.length, tb.length);
}

/** First quoted sentence of an answer "Sentence one. [1] Sentence two. [1]". */
function firstQuote(text: string): string {
  return text.split(/\s\[\d+\]/)[0]?.trim() ?? "";
}

export interface ItemResult {
  answerable: boolean;
  /** Answerable only: the first quoted sentence is an annotated one. */
  correct: boolean;
  leadCorrect: boolean;
  confidence: number;
  abstained: boolean;
  sentences: number;
  ms: number;
  cpuMs: number;
}

/** One pass of a reader (minConfidence 0: thresholds are applied to the reported confidence). */
export async function runReader(reader: ExtractiveReader, items: ClapItem[]): Promise<ItemResult[]> {
  const out: ItemResult[] = [];
  for (const item of items) {
    const t0 = performance.now();
    const c0 = cpuUsage();
    const r = await reader.generate({ task: "qa", input: item.question, context: [item.chunk], minConfidence: 0 });
    const c = cpuUsage(c0);
    const ms = performance.now() - t0;
    const chosen = firstQuote(r.text);
    out.push({
      answerable: item.gold !== undefined,
      correct: !r.abstained && (item.gold ?? []).some((g) => tokenOverlapMatch(chosen, g)),
      leadCorrect: (item.gold ?? []).some((g) => tokenOverlapMatch(item.lead, g)),
      confidence: r.confidence ?? 0,
      abstained: r.abstained,
      sentences: r.abstained ? 0 : (r.text.match(/\s\[\d+\](?=\s|$)/g) ?? []).length,
      ms,
      cpuMs: (c.user + c.system) / 1000,
    });
  }
  return out;
}

export function clapMetrics(results: ItemResult[]) {
  const answerable = results.filter((r) => r.answerable);
  const unanswerable = results.filter((r) => !r.answerable);
  const at = (t: number) => {
    const abstains = (r: ItemResult) => r.abstained || r.confidence < t;
    const abstainA = answerable.filter(abstains).length;
    const correctA = answerable.filter((r) => !abstains(r) && r.correct).length;
    const abstainU = unanswerable.filter(abstains).length;
    return {
      minConfidence: t,
      sentenceAccuracy: ratio(correctA, answerable.length),
      answeredRate: ratio(answerable.length - abstainA, answerable.length),
      abstentionPrecision: ratio(abstainU, abstainU + abstainA),
      abstentionRecall: ratio(abstainU, unanswerable.length),
      overallAccuracy: ratio(correctA + abstainU, answerable.length + unanswerable.length),
    };
  };
  // Ranking quality of confidence alone: P(conf(answerable) > conf(unanswerable)).
  let wins = 0;
  for (const a of answerable) for (const u of unanswerable) wins += a.confidence > u.confidence ? 1 : a.confidence === u.confidence ? 0.5 : 0;
  const mean = (xs: number[]) => ratio(xs.reduce((s, x) => s + x, 0), xs.length);
  const answered = results.filter((r) => !r.abstained);
  return {
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    selectionAccuracy: ratio(answerable.filter((r) => r.correct).length, answerable.length),
    leadSentenceAccuracy: ratio(answerable.filter((r) => r.leadCorrect).length, answerable.length),
    sentencesPerAnswer: ratio(answered.reduce((n, r) => n + r.sentences, 0), answered.length),
    atDefault: at(DEFAULT_MIN_CONFIDENCE),
    confidenceAuc: ratio(wins, answerable.length * unanswerable.length),
    meanConfidence: { answerable: mean(answerable.map((r) => r.confidence)), unanswerable: mean(unanswerable.map((r) => r.confidence)) },
    sweep: THRESHOLDS.map(at),
  };
}

export type ClapMetrics = ReturnType<typeof clapMetrics>;

/** Per-answer latency of a pass, wall and CPU milliseconds. */
export function latency(results: ItemResult[]) {
  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
  };
  const ms = results.map((r) => r.ms);
  const cpu = results.map((r) => r.cpuMs);
  return { answers: results.length, meanMs: ratio(ms.reduce((a, b) => a + b, 0), ms.length), p50Ms: q(ms, 0.5), p95Ms: q(ms, 0.95), meanCpuMs: ratio(cpu.reduce((a, b) => a + b, 0), cpu.length) };
}

/** An encoder whose vectors are kept across readers, so a grid of weights embeds each text once. */
export function cachingEncoder(inner: Embedder): Embedder {
  const cache = new Map<string, Float32Array>();
  return {
    id: inner.id,
    dimensions: inner.dimensions,
    async embed(texts, kind) {
      const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
      if (missing.length > 0) (await inner.embed(missing, kind)).forEach((v, i) => cache.set(missing[i], v));
      return texts.map((t) => cache.get(t)!);
    },
  };
}

export const SELECTION_WEIGHTS = [0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2];
export const CONFIDENCE_WEIGHTS = [0, 0.15, 0.3, 0.5];
export const SIM_RANGES: [number, number][] = [
  [0, 0.5],
  [0.1, 0.6],
  [0.2, 0.7],
  [0.3, 0.8],
];

export type SemanticWeights = Omit<ReaderSemanticOptions, "encoder">;

/**
 * Chooses the weights on `tune`: the selection weight by sentence accuracy (confidence untouched),
 * then the confidence weight and similarity range by overall accuracy at the default threshold
 * (ties: higher AUC, then the smaller weight). Returns the grid too.
 */
export async function tuneSemantic(encoder: Embedder, tune: ClapItem[]) {
  const reader = (w: SemanticWeights) => new ExtractiveReader({ minConfidence: 0, maxSentences: 2, semantic: { encoder, ...w } });
  const selection: { selectionWeight: number; selectionAccuracy: number }[] = [];
  for (const selectionWeight of SELECTION_WEIGHTS) {
    const m = clapMetrics(await runReader(reader({ selectionWeight, confidenceWeight: 0 }), tune));
    selection.push({ selectionWeight, selectionAccuracy: m.selectionAccuracy });
  }
  const bestSel = selection.reduce((a, b) => (b.selectionAccuracy > a.selectionAccuracy ? b : a));
  const confidence: { confidenceWeight: number; simFloor: number; simFull: number; overallAccuracy: number; auc: number }[] = [];
  for (const confidenceWeight of CONFIDENCE_WEIGHTS) {
    for (const [simFloor, simFull] of confidenceWeight === 0 ? [SIM_RANGES[0]] : SIM_RANGES) {
      const m = clapMetrics(await runReader(reader({ selectionWeight: bestSel.selectionWeight, confidenceWeight, simFloor, simFull }), tune));
      confidence.push({ confidenceWeight, simFloor, simFull, overallAccuracy: m.atDefault.overallAccuracy, auc: m.confidenceAuc });
    }
  }
  const bestConf = confidence.reduce((a, b) => (b.overallAccuracy > a.overallAccuracy || (b.overallAccuracy === a.overallAccuracy && b.auc > a.auc) ? b : a));
  const chosen: SemanticWeights = { selectionWeight: bestSel.selectionWeight, confidenceWeight: bestConf.confidenceWeight, simFloor: bestConf.simFloor, simFull: bestConf.simFull };
  return { chosen, selection, confidence };
}
