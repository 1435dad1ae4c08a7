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
 *
 * A second pass (links.ts) then lifts candidates that one of the best candidates names in its
 * body to just below it (multi-hop questions; `links` option).
 */
import type { Chunk } from "../../ingest/index.ts";
import type { Hit, Reranker } from "../index.ts";
import { contentTokens, tokenize } from "../tokenize.ts";
import type { ChunkTokens, RerankTokenSource } from "../rerank-tokens.ts";
import { liftNamedCandidates, DEFAULT_LINK_OPTIONS, type LinkOptions, type NameCache } from "./links.ts";

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
  /**
   * Chunk tokens computed at index time (`Bm25Index.rerankTokens()`); chunks it does not know are
   * tokenized on first touch and cached, as without it. Rankings are the same either way.
   */
  tokens?: RerankTokenSource<Chunk>;
  /** The "named by a top candidate" second pass (links.ts); missing fields take the default. */
  links?: Partial<LinkOptions>;
}

/**
 * Term ids shared by every cached chunk and query, so the per-candidate work is integer lookups
 * instead of string hashing (it halved the reranker's query time on HotpotQA, bench/retrieval).
 * Grows with the vocabulary of reranked text, not with the number of queries.
 */
const TERM_IDS = new Map<string, number>();

function termId(term: string): number {
  let id = TERM_IDS.get(term);
  if (id === undefined) TERM_IDS.set(term, (id = TERM_IDS.size));
  return id;
}

// A chunk's tokens are flat typed arrays (`ChunkTokens`, rerank-tokens.ts): distinct body term ids
// sorted ascending (found by binary search) with their positions in CSR form — a Map per chunk was
// measured 2× slower here, its lookups missing the cache on every candidate. The index computes
// them for its whole corpus at index time; this first-touch cache serves chunks it does not know.

// Keyed by the chunk object (ids survive re-ingest while text changes), so entries die with the chunk.
const TOKEN_CACHE = new WeakMap<Chunk, ChunkTokens>();

function headingText(chunk: Chunk): string {
  const parts = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  return parts.join("\n");
}

/** Flat term → positions arrays for a token sequence (see ChunkTokens). */
function positionIndex(ids: ArrayLike<number>): Pick<ChunkTokens, "terms" | "start" | "positions"> {
  // Sort positions by (term id, position); then runs of one id are its ascending positions.
  const order = Array.from({ length: ids.length }, (_, i) => i).sort((x, y) => ids[x] - ids[y] || x - y);
  const terms: number[] = [];
  const start: number[] = [];
  const positions = new Int32Array(order.length);
  order.forEach((p, i) => {
    if (i === 0 || ids[p] !== ids[order[i - 1]]) {
      terms.push(ids[p]);
      start.push(i);
    }
    positions[i] = p;
  });
  start.push(order.length);
  return { terms: Int32Array.from(terms), start: Int32Array.from(start), positions };
}

function chunkTokens(chunk: Chunk): ChunkTokens {
  let t = TOKEN_CACHE.get(chunk);
  if (!t) {
    const body = Int32Array.from(contentTokens(chunk.text), termId);
    const head = Int32Array.from(contentTokens(headingText(chunk)), termId);
    t = { ...positionIndex(body), head, headSet: Int32Array.from(new Set(head)) };
    TOKEN_CACHE.set(chunk, t);
  }
  return t;
}

/**
 * Index of `id` in the sorted `terms`, or -1. Branch-free bisection (the step taken is arithmetic,
 * not an if): the comparisons are data-dependent, so a branch per step was mispredicted half the
 * time; ids are non-negative int32, so `id - t` cannot overflow.
 */
function findTerm(terms: Int32Array, id: number): number {
  let n = terms.length;
  if (n === 0) return -1;
  let base = 0;
  while (n > 1) {
    const half = n >>> 1;
    base += half & ~((id - terms[base + half]) >> 31);
    n -= half;
  }
  return terms[base] === id ? base : -1;
}

/** Query terms: content tokens (all tokens for an all-stop-word query), in order. */
export function queryTerms(query: string): string[] {
  const terms = contentTokens(query);
  return terms.length > 0 ? terms : tokenize(query);
}

// Scratch buffers reused across calls: these run for every candidate of every query.
let mergedPos = new Int32Array(256);
let mergedWho = new Int32Array(256);
let listCursor = new Int32Array(16);
let listCount = new Int32Array(16);

/**
 * Length of the smallest window holding at least one position from each of `m` ascending lists,
 * list j being `positions[from[j]] .. positions[to[j] - 1]`: a k-way merge of the positions, then a
 * two-pointer sweep. 0 when m is 0.
 */
function minimumSpanOf(positions: ArrayLike<number>, from: ArrayLike<number>, to: ArrayLike<number>, m: number): number {
  if (m === 0) return 0;
  let total = 0;
  for (let j = 0; j < m; j++) total += to[j] - from[j];
  if (mergedPos.length < total) (mergedPos = new Int32Array(2 * total)), (mergedWho = new Int32Array(2 * total));
  if (listCursor.length < m) (listCursor = new Int32Array(2 * m)), (listCount = new Int32Array(2 * m));
  const pos = mergedPos;
  const who = mergedWho;
  const cursor = listCursor;
  const counts = listCount;
  for (let j = 0; j < m; j++) {
    cursor[j] = from[j];
    counts[j] = 0;
  }
  for (let out = 0; out < total; out++) {
    let best = -1;
    for (let j = 0; j < m; j++) if (cursor[j] < to[j] && (best < 0 || positions[cursor[j]] < positions[cursor[best]])) best = j;
    pos[out] = positions[cursor[best]++];
    who[out] = best;
  }
  let have = 0;
  let span = Infinity;
  let left = 0;
  for (let right = 0; right < total; right++) {
    if (counts[who[right]]++ === 0) have++;
    while (have === m) {
      span = Math.min(span, pos[right] - pos[left] + 1);
      if (--counts[who[left]] === 0) have--;
      left++;
    }
  }
  return span;
}

/**
 * Length of the smallest window of `tokens` containing at least one occurrence of every term in
 * `wanted` that occurs in `tokens`, and how many distinct terms that is.
 */
export function minimumWindow(tokens: readonly string[], wanted: ReadonlySet<string>): { matched: number; span: number } {
  const ids = new Map<string, number>();
  const seq = tokens.map((t) => (wanted.has(t) ? (ids.get(t) ?? ids.set(t, ids.size).get(t)!) : -1));
  const index = positionIndex(seq);
  const from: number[] = [];
  const to: number[] = [];
  index.terms.forEach((id, j) => {
    if (id < 0) return;
    from.push(index.start[j]);
    to.push(index.start[j + 1]);
  });
  return { matched: from.length, span: minimumSpanOf(index.positions, from, to, from.length) };
}

/** Whether some position p in list a has p + 1 in list b (ranges of `positions`, each ascending). */
function adjacentIn(positions: Int32Array, aFrom: number, aTo: number, bFrom: number, bTo: number): boolean {
  let j = bFrom;
  for (let i = aFrom; i < aTo; i++) {
    const want = positions[i] + 1;
    while (j < bTo && positions[j] < want) j++;
    if (j === bTo) return false;
    if (positions[j] === want) return true;
  }
  return false;
}

function adjacentInSequence(seq: Int32Array, x: number, y: number): boolean {
  for (let i = 1; i < seq.length; i++) if (seq[i - 1] === x && seq[i] === y) return true;
  return false;
}

/** A query prepared once for all candidates: term ids, their idf, and adjacent pairs. */
interface PreparedQuery {
  /** Distinct term ids (-1 for a term no cached chunk has: it matches nothing). */
  ids: Int32Array;
  idf: Float64Array;
  totalIdf: number;
  /** Adjacent query term pairs as ids, [a0, b0, a1, b1, …]. */
  pairs: Int32Array;
  /** The same pairs as indexes into `ids` (so a pair reuses its terms' lookups). */
  pairSlots: Int32Array;
}

function prepareQuery(terms: string[], idf: (term: string) => number, termIdOf: (term: string) => number = globalTermId): PreparedQuery {
  // Index loops rather than Set spreads and `from(iterable, fn)`: no iterator objects per query,
  // and cheap before the JIT has optimised this (a single timed pass runs much of it unoptimised).
  const distinct: string[] = [];
  for (let i = 0; i < terms.length; i++) if (!distinct.includes(terms[i])) distinct.push(terms[i]);
  const ids = new Int32Array(distinct.length);
  const weights = new Float64Array(distinct.length);
  let totalIdf = 0;
  for (let i = 0; i < distinct.length; i++) {
    ids[i] = termIdOf(distinct[i]);
    weights[i] = idf(distinct[i]);
    totalIdf += weights[i];
  }
  const pairs = new Int32Array(2 * Math.max(0, terms.length - 1));
  const pairSlots = new Int32Array(pairs.length);
  for (let i = 1; i < terms.length; i++) {
    pairs[2 * (i - 1)] = termIdOf(terms[i - 1]);
    pairs[2 * (i - 1) + 1] = termIdOf(terms[i]);
    pairSlots[2 * (i - 1)] = distinct.indexOf(terms[i - 1]);
    pairSlots[2 * (i - 1) + 1] = distinct.indexOf(terms[i]);
  }
  return { ids, idf: weights, totalIdf, pairs, pairSlots };
}

/** Linear membership test: these arrays hold a handful of ids, and a plain loop stays in optimised code. */
function contains(ids: Int32Array, id: number): boolean {
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) return true;
  return false;
}

let matchedFrom = new Int32Array(16);
let matchedTo = new Int32Array(16);
/** Per query term: its index in the chunk's sorted body terms, or -1 (scratch, reused). */
let slotOf = new Int32Array(16);

function preparedFeatures(q: PreparedQuery, tok: ChunkTokens): OfflineFeatures {
  const total = q.totalIdf;
  let covered = 0;
  let inHead = 0;
  let bodyShare = 0;
  if (matchedFrom.length < q.ids.length) (matchedFrom = new Int32Array(q.ids.length)), (matchedTo = new Int32Array(q.ids.length)), (slotOf = new Int32Array(q.ids.length));
  const slots = slotOf;
  let m = 0;
  for (let i = 0; i < q.ids.length; i++) {
    const id = q.ids[i];
    slots[i] = -1;
    if (id < 0) continue;
    const w = q.idf[i];
    const j = findTerm(tok.terms, id);
    slots[i] = j;
    const head = contains(tok.headSet, id);
    if (j >= 0 || head) covered += w;
    if (head) inHead += w;
    if (j >= 0) {
      matchedFrom[m] = tok.start[j];
      matchedTo[m++] = tok.start[j + 1];
      bodyShare += w;
    }
  }
  let proximity = 0;
  if (m >= 2 && total > 0) proximity = (bodyShare / total) * (m / minimumSpanOf(tok.positions, matchedFrom, matchedTo, m));
  let titleInQuery = 0;
  if (tok.headSet.length > 0) {
    let n = 0;
    for (let i = 0; i < tok.headSet.length; i++) if (contains(q.ids, tok.headSet[i])) n++;
    titleInQuery = (n * 1.5) / (tok.headSet.length * 1.5); // = n / length exactly; see `phrase`
  }
  let phrase = 0;
  const pairCount = q.pairs.length / 2;
  if (pairCount > 0) {
    let found = 0;
    for (let i = 0; i < pairCount; i++) {
      const a = q.pairs[2 * i];
      const b = q.pairs[2 * i + 1];
      if (a < 0 || b < 0) continue;
      const ja = slots[q.pairSlots[2 * i]];
      const jb = ja < 0 ? -1 : slots[q.pairSlots[2 * i + 1]];
      if ((jb >= 0 && adjacentIn(tok.positions, tok.start[ja], tok.start[ja + 1], tok.start[jb], tok.start[jb + 1])) || adjacentInSequence(tok.head, a, b)) found++;
    }
    // Bit-identical to found / pairCount (both products of small integers by 1.5 are exact), but
    // the division sees non-integer operands: when warm-up queries only ever produced whole
    // ratios (0 or 1), V8 compiled an integer division here and deoptimised this function on the
    // first judged query with a fraction ("lost precision"), running it unoptimised until recompiled.
    phrase = (found * 1.5) / (pairCount * 1.5);
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

/** Features of one chunk for a query (see the module comment). `firstStage` is filled by the caller. */
export function offlineFeatures(terms: string[], chunk: Chunk, idf: (term: string) => number): OfflineFeatures {
  const tok = chunkTokens(chunk); // interns the chunk's terms before the query looks them up
  return preparedFeatures(prepareQuery(terms, idf), tok);
}

/** idf estimated from the candidates themselves (df counted over the candidate set). */
function candidateIdf(toks: ChunkTokens[], termIdOf: (term: string) => number): (term: string) => number {
  const df = new Map<number, number>();
  for (const tok of toks) {
    for (const t of new Set([...tok.terms, ...tok.headSet])) df.set(t, (df.get(t) ?? 0) + 1);
  }
  const n = toks.length;
  return (t) => {
    const d = df.get(termIdOf(t)) ?? 0;
    return Math.log(1 + (n - d + 0.5) / (d + 0.5));
  };
}

const globalTermId = (t: string): number => TERM_IDS.get(t) ?? -1;

/** Every candidate's precomputed tokens from `source`, or undefined when one is missing. */
function sourcedTokens(hits: Hit[], source: RerankTokenSource<Chunk> | undefined): ChunkTokens[] | undefined {
  if (!source) return undefined;
  const out = new Array<ChunkTokens>(hits.length);
  for (let i = 0; i < hits.length; i++) {
    const tok = source.tokensOf(hits[i].chunk);
    if (!tok) return undefined;
    out[i] = tok;
  }
  return out;
}

/** Every candidate's tokens, and the term-id space they use (the index's table, else the first-touch cache). */
export function candidateTokens(hits: Hit[], source?: RerankTokenSource<Chunk>): { toks: ChunkTokens[]; termIdOf: (term: string) => number } {
  const sourced = sourcedTokens(hits, source);
  // Without precomputed tokens, tokenize (and intern) every candidate first: query terms absent
  // from the id table match nothing.
  if (sourced) return { toks: sourced, termIdOf: (t: string) => source!.termId(t) };
  return { toks: hits.map((h) => chunkTokens(h.chunk)), termIdOf: globalTermId };
}

/**
 * Feature vectors of all candidates, with `firstStage` min-max normalised over them. With `source`
 * (tokens computed at index time) no candidate is tokenized here; the features are identical.
 */
export function candidateFeatures(query: string, hits: Hit[], idf?: (term: string) => number, source?: RerankTokenSource<Chunk>): OfflineFeatures[] {
  const { toks, termIdOf } = candidateTokens(hits, source);
  return featuresOfTokens(query, hits, toks, termIdOf, idf);
}

/** `candidateFeatures` over tokens already fetched (the reranker reuses them for the link pass). */
function featuresOfTokens(query: string, hits: Hit[], toks: ChunkTokens[], termIdOf: (term: string) => number, idf?: (term: string) => number): OfflineFeatures[] {
  const terms = queryTerms(query);
  const q = prepareQuery(terms, idf ?? candidateIdf(toks, termIdOf), termIdOf);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < hits.length; i++) {
    const score = hits[i].score;
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const out = new Array<OfflineFeatures>(hits.length);
  for (let i = 0; i < hits.length; i++) {
    const f = preparedFeatures(q, toks[i]);
    f.firstStage = max > min ? (hits[i].score - min) / (max - min) : 1;
    out[i] = f;
  }
  return out;
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

/** Up to this many hits are ordered by insertion sort (no comparator closure, no entry objects). */
const INSERTION_SORT_MAX = 64;
// Scratch reused across calls: a typed array over 64 bytes gets an off-heap store, costly to make per query.
const rankOrder = new Int32Array(INSERTION_SORT_MAX);
let combinedScores = new Float64Array(INSERTION_SORT_MAX);

/** Order hits by new scores (ties keep the incoming order) and return the best k ranked 1..k. */
export function rankByScores(hits: Hit[], scores: ArrayLike<number>, k: number): Hit[] {
  const n = hits.length;
  const top = Math.min(n, Math.max(0, Math.floor(k)) || 0); // as slice(0, k): NaN → none
  let insertion = n <= INSERTION_SORT_MAX; // and no NaN score (NaN makes the comparator sort's order its own)
  for (let i = 0; insertion && i < n; i++) if (scores[i] !== scores[i]) insertion = false;
  if (insertion) {
    // Stable insertion sort of indexes by score, descending: the order of the sort below.
    const order = rankOrder;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      let j = i;
      while (j > 0 && scores[order[j - 1]] < s) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
    }
    const out = new Array<Hit>(top);
    for (let r = 0; r < top; r++) out[r] = { chunk: hits[order[r]].chunk, score: scores[order[r]], rank: r + 1 };
    return out;
  }
  return rankBySort(hits, scores, k);
}

/** `rankByScores` for many hits or NaN scores: a stable comparator sort. */
function rankBySort(hits: Hit[], scores: ArrayLike<number>, k: number): Hit[] {
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
  private readonly tokens?: RerankTokenSource<Chunk>;
  readonly links: Readonly<LinkOptions>;
  /** Candidates' names as ids of the index's token table (stable ids and idf, so cacheable). */
  private readonly names?: NameCache;

  constructor(options: OfflineRerankerOptions = {}) {
    const weights = { ...DEFAULT_OFFLINE_WEIGHTS, ...options.weights };
    for (const [name, w] of Object.entries(weights)) {
      if (!Number.isFinite(w)) throw new Error(`offline reranker: weight '${name}' must be a finite number, got ${w}`);
    }
    this.weights = Object.freeze(weights);
    this.idf = options.idf;
    this.tokens = options.tokens;
    const links = { ...DEFAULT_LINK_OPTIONS, ...options.links };
    for (const [name, v] of Object.entries(links)) {
      if (!Number.isFinite(v)) throw new Error(`offline reranker: links.${name} must be a finite number, got ${v}`);
    }
    this.links = Object.freeze(links);
    if (options.tokens) this.names = new WeakMap();
  }

  async rerank(query: string, hits: Hit[], k: number): Promise<Hit[]> {
    return this.rerankSync(query, hits, k);
  }

  /** The same as `rerank`, synchronously (the offline reranker does no I/O). */
  rerankSync(query: string, hits: Hit[], k: number): Hit[] {
    if (hits.length === 0) return [];
    // One token fetch serves both the features and the link pass.
    const { toks, termIdOf } = candidateTokens(hits, this.tokens);
    const features = featuresOfTokens(query, hits, toks, termIdOf, this.idf);
    const n = features.length;
    if (combinedScores.length < n) combinedScores = new Float64Array(2 * n);
    const scores = combinedScores;
    for (let i = 0; i < n; i++) scores[i] = combineFeatures(features[i], this.weights);
    if (this.links.lift > 0 && this.links.anchors >= 1) {
      // Without the index's idf the specificity guard has nothing to measure (idf 0 skips it).
      const idf = this.idf ?? (() => 0);
      // The first-touch id table grows as chunks are seen, so names are cached only with a source.
      liftNamedCandidates(hits.map((h) => h.chunk), toks, scores.subarray(0, n), termIdOf, idf, this.links, this.names);
    }
    return rankByScores(hits, scores, k);
  }
}
