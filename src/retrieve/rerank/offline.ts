/**
 * Offline feature reranker: no model, no network. It re-scores first-stage candidates with
 * features a bag-of-words ranker cannot see — whether the query terms occur *together*, in the
 * title or headings, and as the query's own phrases — and a linear combination of them:
 *
 *   score = Σ_f weight_f · feature_f          (every feature is in [0, 1])
 *
 * Features, over the stemmed, stop-word-free tokens of `contentTokens` (the BM25 tokenizer), with
 * Q the distinct query terms and idf(t) from the index when given, else from the candidate set:
 *
 * - `firstStage`  the first-stage score (BM25 in lexical mode, the fused score in hybrid mode),
 *                 min-max normalised over the candidates. Keeps the reranker anchored to recall.
 * - `coverage`    Σ idf(t) over query terms found anywhere in the chunk / Σ idf(t) over Q.
 * - `proximity`   tightness of the smallest body window holding every matched query term:
 *                 (idf share of the matched terms) · m / span, for m ≥ 2 matched distinct terms in a
 *                 window of `span` content tokens (1 when they are adjacent); 0 when m < 2.
 * - `heading`     Σ idf(t) over query terms found in the title + heading path / Σ idf(t) over Q.
 * - `titleInQuery` share of the title/heading tokens that the query mentions (a question naming an
 *                 article's subject, e.g. "… in the film Kiss and Tell?").
 * - `phrase`      share of the query's adjacent term pairs (bigrams) found adjacent in the chunk.
 *
 * The default weights are deliberately plain (see DEFAULT_OFFLINE_WEIGHTS), not fitted to one
 * benchmark. bench/rerank.ts measures them on HotpotQA, a ClapNQ passage pool and the demo suite,
 * with per-feature ablations (bench/results/rerank.json); title/heading match carries most of the
 * gain, and proximity adds little on top of the phrase feature.
 */
import type { Chunk } from "../../ingest/index.ts";
import type { Hit, Reranker } from "../index.ts";
import { contentTokens, tokenize } from "../tokenize.ts";

export interface OfflineFeatureWeights {
  firstStage: number;
  coverage: number;
  proximity: number;
  heading: number;
  titleInQuery: number;
  phrase: number;
}

export type OfflineFeatures = OfflineFeatureWeights;

/**
 * Default weights: the five query-match features weigh the same (no feature is favoured without
 * evidence), and the first-stage score weighs a little more than any one of them so it stays the
 * strongest single signal. A coarse check of firstStage ∈ {0, 0.25, 0.5, 0.75, 1} on HotpotQA, the
 * demo suite and a ClapNQ passage pool (bench/rerank.ts) found 0.25–0.5 best on all three and 1
 * (BM25 dominating) clearly worse; nothing was tuned per data set.
 */
export const DEFAULT_OFFLINE_WEIGHTS: Readonly<OfflineFeatureWeights> = Object.freeze({
  firstStage: 0.5,
  coverage: 0.3,
  proximity: 0.3,
  heading: 0.3,
  titleInQuery: 0.3,
  phrase: 0.3,
});

export interface OfflineRerankerOptions {
  /** Feature weights (missing ones take the default). */
  weights?: Partial<OfflineFeatureWeights>;
  /**
   * idf of an index term (e.g. `(t) => bm25Index.idf(t)`). Without it idf is estimated from the
   * candidate set, which is cruder but needs no index.
   */
  idf?: (term: string) => number;
}

interface ChunkTokens {
  body: string[];
  head: string[];
  headSet: Set<string>;
  /** Distinct body tokens, kept with the cached entry (building it per query cost half the query time). */
  bodySet: Set<string>;
  all: Set<string>;
  /** Adjacent token pairs in body and heading, "a b". */
  bigrams: Set<string>;
}

// Keyed by the chunk object (ids survive re-ingest while text changes), so entries die with the chunk.
const TOKEN_CACHE = new WeakMap<Chunk, ChunkTokens>();

function headingText(chunk: Chunk): string {
  const parts = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  return parts.join("\n");
}

function chunkTokens(chunk: Chunk): ChunkTokens {
  let t = TOKEN_CACHE.get(chunk);
  if (!t) {
    const body = contentTokens(chunk.text);
    const head = contentTokens(headingText(chunk));
    const bigrams = new Set<string>();
    for (const seq of [body, head]) for (let i = 1; i < seq.length; i++) bigrams.add(`${seq[i - 1]} ${seq[i]}`);
    const headSet = new Set(head);
    t = { body, head, headSet, bodySet: new Set(body), all: new Set([...body, ...head]), bigrams };
    TOKEN_CACHE.set(chunk, t);
  }
  return t;
}

/** Query terms: content tokens (all tokens for an all-stop-word query), in order. */
export function queryTerms(query: string): string[] {
  const terms = contentTokens(query);
  return terms.length > 0 ? terms : tokenize(query);
}

/**
 * Length of the smallest window of `tokens` containing at least one occurrence of every term in
 * `wanted` that occurs in `tokens`, and how many distinct terms that is. Classic two-pointer scan.
 */
export function minimumWindow(tokens: string[], wanted: ReadonlySet<string>): { matched: number; span: number } {
  const present = new Set<string>();
  for (const t of tokens) if (wanted.has(t)) present.add(t);
  const m = present.size;
  if (m === 0) return { matched: 0, span: 0 };
  const counts = new Map<string, number>();
  let have = 0;
  let best = Infinity;
  let left = 0;
  for (let right = 0; right < tokens.length; right++) {
    const t = tokens[right];
    if (!present.has(t)) continue;
    const c = (counts.get(t) ?? 0) + 1;
    counts.set(t, c);
    if (c === 1) have++;
    while (have === m) {
      const l = tokens[left];
      if (present.has(l)) {
        best = Math.min(best, right - left + 1);
        const lc = counts.get(l)! - 1;
        counts.set(l, lc);
        if (lc === 0) have--;
      }
      left++;
    }
  }
  return { matched: m, span: best };
}

/** Features of one chunk for a query (see the module comment). `firstStage` is filled by the caller. */
export function offlineFeatures(terms: string[], chunk: Chunk, idf: (term: string) => number): OfflineFeatures {
  const tok = chunkTokens(chunk);
  const q = [...new Set(terms)];
  let total = 0;
  let covered = 0;
  let inHead = 0;
  const matchedBody = new Set<string>();
  const bodySet = tok.bodySet;
  for (const t of q) {
    const w = idf(t);
    total += w;
    if (tok.all.has(t)) covered += w;
    if (tok.headSet.has(t)) inHead += w;
    if (bodySet.has(t)) matchedBody.add(t);
  }
  let proximity = 0;
  if (matchedBody.size >= 2 && total > 0) {
    const { matched, span } = minimumWindow(tok.body, matchedBody);
    let share = 0;
    for (const t of matchedBody) share += idf(t);
    proximity = (share / total) * (matched / span);
  }
  let titleInQuery = 0;
  if (tok.headSet.size > 0) {
    const qs = new Set(q);
    let n = 0;
    for (const t of tok.headSet) if (qs.has(t)) n++;
    titleInQuery = n / tok.headSet.size;
  }
  let phrase = 0;
  if (terms.length >= 2) {
    let found = 0;
    for (let i = 1; i < terms.length; i++) if (tok.bigrams.has(`${terms[i - 1]} ${terms[i]}`)) found++;
    phrase = found / (terms.length - 1);
  }
  return {
    firstStage: 0,
    coverage: total > 0 ? covered / total : 0,
    proximity,
    heading: total > 0 ? inHead / total : 0,
    titleInQuery,
    phrase,
  };
}

/** idf estimated from the candidates themselves (df counted over the candidate set). */
function candidateIdf(hits: Hit[]): (term: string) => number {
  const df = new Map<string, number>();
  for (const h of hits) for (const t of chunkTokens(h.chunk).all) df.set(t, (df.get(t) ?? 0) + 1);
  const n = hits.length;
  return (t) => {
    const d = df.get(t) ?? 0;
    return Math.log(1 + (n - d + 0.5) / (d + 0.5));
  };
}

/** Feature vectors of all candidates, with `firstStage` min-max normalised over them. */
export function candidateFeatures(query: string, hits: Hit[], idf?: (term: string) => number): OfflineFeatures[] {
  const terms = queryTerms(query);
  const idfOf = idf ?? candidateIdf(hits);
  const memo = new Map<string, number>();
  const cachedIdf = (t: string): number => {
    let v = memo.get(t);
    if (v === undefined) memo.set(t, (v = idfOf(t)));
    return v;
  };
  let min = Infinity;
  let max = -Infinity;
  for (const h of hits) {
    if (h.score < min) min = h.score;
    if (h.score > max) max = h.score;
  }
  return hits.map((h) => {
    const f = offlineFeatures(terms, h.chunk, cachedIdf);
    f.firstStage = max > min ? (h.score - min) / (max - min) : 1;
    return f;
  });
}

export function combineFeatures(f: OfflineFeatures, w: OfflineFeatureWeights): number {
  return (
    w.firstStage * f.firstStage +
    w.coverage * f.coverage +
    w.proximity * f.proximity +
    w.heading * f.heading +
    w.titleInQuery * f.titleInQuery +
    w.phrase * f.phrase
  );
}

/** Order hits by new scores (ties keep the incoming order) and return the best k ranked 1..k. */
export function rankByScores(hits: Hit[], scores: number[], k: number): Hit[] {
  return hits
    .map((hit, i) => ({ hit, score: scores[i], i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, Math.max(0, Math.floor(k)))
    .map((e, r) => ({ chunk: e.hit.chunk, score: e.score, rank: r + 1 }));
}

export class OfflineReranker implements Reranker {
  readonly id = "offline";
  readonly weights: Readonly<OfflineFeatureWeights>;
  private readonly idf?: (term: string) => number;

  constructor(options: OfflineRerankerOptions = {}) {
    const weights = { ...DEFAULT_OFFLINE_WEIGHTS, ...options.weights };
    for (const [name, w] of Object.entries(weights)) {
      if (!Number.isFinite(w)) throw new Error(`offline reranker: weight '${name}' must be a finite number, got ${w}`);
    }
    this.weights = Object.freeze(weights);
    this.idf = options.idf;
  }

  async rerank(query: string, hits: Hit[], k: number): Promise<Hit[]> {
    return this.rerankSync(query, hits, k);
  }

  /** The same as `rerank`, synchronously (the offline reranker does no I/O). */
  rerankSync(query: string, hits: Hit[], k: number): Hit[] {
    if (hits.length === 0) return [];
    const features = candidateFeatures(query, hits, this.idf);
    return rankByScores(
      hits,
      features.map((f) => combineFeatures(f, this.weights)),
      k,
    );
  }
}
