/**
 * In-memory BM25F index over chunks.
 *
 * Two fields per chunk: the body (`text`) and the heading field (`title` + `headingPath`). The
 * heading field's counts are weighted by `headingBoost`, added to the body's, length-normalised
 * and saturated once (BM25F, Robertson & Zaragoza 2009):
 *
 *   tf̃(t, d)   = tf_body / B_body(d) + headingBoost · tf_head / B_head(d)
 *   B_body(d)  = 1 − b + b · |d|_body / avg|d|_body
 *   score(q,d) = Σ_{t ∈ q} idf(t) · tf̃·(k1 + 1) / (tf̃ + k1)
 *   idf(t)     = ln(1 + (N − df + 0.5) / (df + 0.5))        (Lucene's non-negative variant)
 *
 * `headingB` picks B_head. Default "body": B_head = B_body, i.e. the classic boosted-tf form
 * tf = tf_body + headingBoost · tf_head over the body's length norm. A number gives the heading
 * field its own b over its own length (1 − b_h + b_h · |d|_head / avg|d|_head; 0 = no
 * normalisation). bench/lexical-tuning.ts measured both on three evaluation sets: a separate
 * heading b never beat "body" on average (bench/results/lexical-tuning.json).
 * df counts chunks having the term in either field; N is the number of chunks. Query terms are
 * de-duplicated; stop words are dropped from the query (but indexed, so an all-stop-word query
 * still matches something).
 *
 * Postings are compressed-sparse-row typed arrays: `postStart[term]..postStart[term+1]` indexes
 * `postDoc` (Int32, ascending doc ids), `postWeight` (Float32, the saturated tf̃ part of the
 * score, so a query is one multiply-add per posting) and `postCount` (Uint16, raw count in both
 * fields, for pseudo-relevance feedback). 10 bytes per posting.
 *
 * The index is built from per-chunk term statistics (`LexicalCorpus`): tokenized here from
 * chunks, or loaded from the store's persisted statistics without tokenizing (`fromStore`). Both
 * give identical scores.
 */
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter, Store } from "../store/index.ts";
import { chunkFilterPredicate, isEmptyFilter } from "../store/filter.ts";
import type { Bm25Options, Hit, Retriever, SearchOptions } from "./index.ts";
import { analyzeChunks, corpusFromRows, hasLexicalStats, type LexicalCorpus } from "./lexical-cache.ts";
import { isStopTerm, rm3Query, type FeedbackSource, type PrfOptions } from "./prf.ts";
import { contentTokens, tokenize } from "./tokenize.ts";
import { ChunkTokenTable, type RerankTokenSource } from "./rerank-tokens.ts";
import { maxScoreTopK } from "./maxscore.ts";

export type { PrfOptions } from "./prf.ts";

/** `Bm25Options` plus the less common knobs. */
export interface Bm25IndexOptions extends Bm25Options {
  /**
   * Length normalisation of the heading field: "body" (default) normalises heading counts by the
   * body length (tf_body + boost · tf_head over B_body); a number is the heading field's own b
   * over its own length (0 = none).
   */
  headingB?: number | "body";
  /**
   * Also build the offline reranker's per-chunk tokens (positions, heading ids) at index time, so
   * no query tokenizes a chunk (see rerank-tokens.ts; `rerankTokens()`). Counted in the build's
   * time and memory. Default false (the first stage alone does not need them).
   */
  rerankTokens?: boolean;
  /**
   * MaxScore dynamic pruning of the top-k search (maxscore.ts; exact: the same hits and scores as
   * scoring every posting). "auto" (default) prunes from `PRUNE_MIN_DOCS` chunks up, where the
   * skipped postings outweigh its bookkeeping; true/false force it.
   */
  pruning?: boolean | "auto";
}

/** Corpus size from which "auto" pruning is on (bench/scale.ts: below it exhaustive scoring is as fast). */
export const PRUNE_MIN_DOCS = 50_000;

export interface Bm25SearchOptions extends SearchOptions {
  /** RM3 pseudo-relevance feedback for this query (see prf.ts). Off when absent. */
  prf?: PrfOptions;
}

const MAX_MASKS = 64;

export class Bm25Index implements Retriever {
  readonly name: string;
  /** Number of indexed chunks. */
  readonly size: number;
  /** Mean body length in tokens. */
  readonly avgLength: number;

  private readonly chunks: Chunk[];
  private readonly termIds = new Map<string, number>();
  private readonly termText: string[];
  private readonly termIdf: Float64Array;
  private readonly postStart: Int32Array;
  private readonly postDoc: Int32Array;
  private readonly postWeight: Float32Array;
  private readonly postCount: Uint16Array;
  /** Largest posting weight per term (MaxScore's upper bounds). */
  private readonly termMax: Float32Array;
  /** Whether top-k searches use MaxScore pruning; may be switched at any time (results are the same). */
  pruning: boolean;
  /** Score accumulator reused across searches (only touched slots are reset). */
  private readonly scratch: Float64Array;
  /**
   * Reused by every search (one runs at a time): the docs a query touched, and the top k of the
   * last `rank`, best first. A fresh array per query was most of a query's garbage (4 bytes a doc).
   */
  private readonly touched: Int32Array;
  private topDoc = new Int32Array(0);
  private topScore = new Float64Array(0);
  /** Admission masks by filter JSON; a project uses a handful of filters over many queries. */
  private readonly masks = new Map<string, Uint8Array>();
  /** Doc-major copy of the postings, built on the first feedback query. */
  private forward?: { start: Int32Array; term: Int32Array; count: Uint16Array };
  /** The reranker's per-chunk tokens (with `rerankTokens`), and the doc of each chunk object. */
  private readonly tokenTable?: ChunkTokenTable;
  private readonly docOf?: Map<Chunk, number>;
  private readonly otherTermIds = new Map<string, number>();
  private docById?: Map<string, number>;

  /** Tokenizes `chunks` (or takes their already computed statistics, `corpus`, in chunk order). */
  constructor(chunks: Chunk[], options: Bm25IndexOptions, corpus?: LexicalCorpus) {
    const withTokens = options.rerankTokens === true;
    const stats = corpus?.content || !withTokens ? (corpus ?? analyzeChunks(chunks)) : analyzeChunks(chunks, true);
    const n = chunks.length;
    if (stats.bodyLen.length !== n) throw new Error(`term statistics cover ${stats.bodyLen.length} chunks, expected ${n}`);
    const { k1, b, headingBoost } = options;
    const headingB = options.headingB ?? "body";
    if (headingB !== "body" && !(headingB >= 0 && headingB <= 1)) throw new Error(`headingB must be "body" or a number in [0, 1], got ${headingB}`);
    this.chunks = chunks;
    this.size = n;
    this.name = `bm25(k1=${k1},b=${b},headingBoost=${headingBoost}${headingB === "body" ? "" : `,headingB=${headingB}`})`;

    const termCount = stats.terms.length;
    const { docStart, entryTerm, entryBody, entryHead, bodyLen, headLen } = stats;
    let totalBody = 0;
    let totalHead = 0;
    for (let d = 0; d < n; d++) {
      totalBody += bodyLen[d];
      totalHead += headLen[d];
    }
    this.avgLength = n > 0 ? totalBody / n : 0;
    const avgHead = n > 0 ? totalHead / n : 0;

    // CSR by counting sort: df per term, prefix sums, then fill in doc order so each posting
    // list is ascending by doc.
    const df = new Int32Array(termCount);
    for (let i = 0; i < entryTerm.length; i++) df[entryTerm[i]]++;
    this.postStart = new Int32Array(termCount + 1);
    for (let t = 0; t < termCount; t++) this.postStart[t + 1] = this.postStart[t] + df[t];
    const total = this.postStart[termCount];
    this.postDoc = new Int32Array(total);
    this.postWeight = new Float32Array(total);
    this.postCount = new Uint16Array(total);
    const cursor = this.postStart.slice(0, termCount);
    const k1p1 = k1 + 1;
    for (let d = 0; d < n; d++) {
      const normBody = 1 - b + (this.avgLength > 0 ? (b * bodyLen[d]) / this.avgLength : 0);
      const normHead = headingB === "body" ? normBody : 1 - headingB + (avgHead > 0 ? (headingB * headLen[d]) / avgHead : 0);
      for (let e = docStart[d], end = docStart[d + 1]; e < end; e++) {
        const tfB = entryBody[e];
        const tfH = entryHead[e];
        let weight = 0;
        if (headingB === "body") {
          // Classic boosted-tf form; also right when normBody is 0 (b = 1, empty body).
          const tf = tfB + headingBoost * tfH;
          if (tf > 0) weight = (tf * k1p1) / (tf + k1 * normBody);
        } else {
          const tf = (tfB > 0 ? tfB / normBody : 0) + (tfH > 0 && headingBoost > 0 ? (headingBoost * tfH) / normHead : 0);
          if (tf > 0) weight = (tf * k1p1) / (tf + k1);
        }
        const slot = cursor[entryTerm[e]]++;
        this.postDoc[slot] = d;
        this.postWeight[slot] = weight;
        this.postCount[slot] = Math.min(tfB + tfH, 0xffff);
      }
    }

    this.termMax = new Float32Array(termCount);
    for (let t = 0; t < termCount; t++) {
      let max = 0;
      for (let p = this.postStart[t], end = this.postStart[t + 1]; p < end; p++) if (this.postWeight[p] > max) max = this.postWeight[p];
      this.termMax[t] = max;
    }
    const pruning = options.pruning ?? "auto";
    this.pruning = pruning === "auto" ? n >= PRUNE_MIN_DOCS : pruning;

    this.termText = stats.terms;
    this.termIdf = new Float64Array(termCount);
    for (let t = 0; t < termCount; t++) {
      if (df[t] === 0 || stats.terms[t] === undefined) continue;
      this.termIds.set(stats.terms[t], t);
      this.termIdf[t] = Math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
    }
    this.scratch = new Float64Array(n);
    this.touched = new Int32Array(n);
    if (withTokens && stats.content) {
      this.tokenTable = new ChunkTokenTable(stats.content);
      // A content token is one of the chunk's BM25 tokens, so it has df > 0; should one ever not
      // be, the reranker still finds it by the dictionary id its sequence was written with.
      for (let t = 0; t < termCount; t++) if (df[t] === 0 && stats.terms[t] !== undefined) this.otherTermIds.set(stats.terms[t], t);
      this.docOf = new Map();
      for (let d = 0; d < n; d++) this.docOf.set(chunks[d], d);
    }
  }

  /** The offline reranker's tokens of this index's chunks (built with `rerankTokens: true`), else undefined. */
  rerankTokens(): RerankTokenSource<Chunk> | undefined {
    const table = this.tokenTable;
    const docOf = this.docOf;
    if (!table || !docOf) return undefined;
    return {
      tokensOf: (chunk) => {
        let d = docOf.get(chunk);
        if (d === undefined) {
          // Another copy of one of our chunks (e.g. a dense retriever's): same id and same text.
          const byId = (this.docById ??= new Map(this.chunks.map((c, i) => [c.id, i]))).get(chunk.id);
          const ours = byId === undefined ? undefined : this.chunks[byId];
          if (ours && ours.text === chunk.text && ours.title === chunk.title && ours.headingPath.join("\n") === chunk.headingPath.join("\n")) d = byId;
        }
        return d === undefined ? undefined : table.tokensOf(d);
      },
      termId: (term) => this.termIds.get(term) ?? this.otherTermIds.get(term) ?? -1,
    };
  }

  /** Bytes of the reranker token table (0 without `rerankTokens`). */
  get rerankTokenBytes(): number {
    return this.tokenTable?.bytes ?? 0;
  }

  /**
   * The index of a store's chunks from the term statistics persisted with them (no tokenizing;
   * rows missing or written by another tokenizer version are refreshed first). Identical to
   * `new Bm25Index(store.chunks(), options)`. A store without persisted statistics is tokenized.
   */
  static fromStore(store: Store, options: Bm25IndexOptions): Bm25Index {
    if (!hasLexicalStats(store)) return new Bm25Index(store.chunks(), options);
    const { rows, terms } = store.lexicalRows();
    const { chunks, corpus } = corpusFromRows(rows, terms);
    return new Bm25Index(chunks, options, corpus);
  }

  /** Number of chunks containing `term` (an already-normalised index term) in either field. */
  df(term: string): number {
    const id = this.termIds.get(term);
    return id === undefined ? 0 : this.postStart[id + 1] - this.postStart[id];
  }

  /** BM25 idf of an index term (a term absent from the index gets the df = 0 value). */
  idf(term: string): number {
    const id = this.termIds.get(term);
    return id === undefined ? Math.log(1 + (this.size + 0.5) / 0.5) : this.termIdf[id];
  }

  search(query: string, options: Bm25SearchOptions): Hit[] {
    const k = Math.floor(options.k);
    if (k <= 0 || this.size === 0) return [];
    let terms = contentTokens(query);
    if (terms.length === 0) terms = tokenize(query);
    // Distinct terms in first-occurrence order (the order scores are summed in); distinct terms
    // have distinct ids, so de-duplicating ids is de-duplicating terms.
    const ids: number[] = [];
    for (let i = 0; i < terms.length; i++) {
      const id = this.termIds.get(terms[i]);
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
    if (ids.length === 0) return [];
    const allowed = this.allowedDocs(options.filter);
    if (allowed === EMPTY) return [];

    let weights: Map<number, number> | undefined;
    const prf = options.prf;
    if (prf && prf.docs > 0 && prf.terms > 0 && prf.weight < 1) {
      const n = this.rank(ids, undefined, allowed, Math.floor(prf.docs));
      const first = Array.from({ length: n }, (_, i) => ({ doc: this.topDoc[i], score: this.topScore[i] }));
      weights = rm3Query(ids, first, this.feedbackSource(), prf);
    }
    const termList = weights ? [...weights.keys()] : ids;
    const weightList = weights ? [...weights.values()] : undefined;
    const count = this.rank(termList, weightList, allowed, k);
    const hits = new Array<Hit>(count);
    for (let i = 0; i < count; i++) hits[i] = { chunk: this.chunks[this.topDoc[i]], score: this.topScore[i], rank: i + 1 };
    return hits;
  }

  /**
   * Top-k docs for weighted terms (weight 1 each when `weights` is absent), best first (ties: lower
   * doc id first), into `topDoc`/`topScore`; returns how many.
   */
  private rank(terms: readonly number[], weights: readonly number[] | undefined, allowed: Uint8Array | undefined, k: number): number {
    if (this.pruning) return this.rankPruned(terms, weights, allowed, k);
    const scores = this.scratch;
    const touched = this.touched;
    let count = 0;
    for (let i = 0; i < terms.length; i++) {
      const id = terms[i];
      const w = this.termIdf[id] * (weights ? weights[i] : 1);
      if (w === 0) continue;
      for (let p = this.postStart[id], end = this.postStart[id + 1]; p < end; p++) {
        const d = this.postDoc[p];
        if (allowed && allowed[d] === 0) continue;
        const add = w * this.postWeight[p];
        if (add <= 0) continue;
        if (scores[d] === 0) touched[count++] = d;
        scores[d] += add;
      }
    }
    const size = Math.max(0, Math.min(k, count));
    this.reserveTop(size);
    const top = this.topDoc;
    selectTopK(touched, count, scores, size, top);
    for (let i = 0; i < size; i++) this.topScore[i] = scores[top[i]];
    for (let i = 0; i < count; i++) scores[touched[i]] = 0;
    return size;
  }

  /** `rank` by MaxScore (a separate method, so the exhaustive path compiles small and early). */
  private rankPruned(terms: readonly number[], weights: readonly number[] | undefined, allowed: Uint8Array | undefined, k: number): number {
    const w = terms.map((id, i) => this.termIdf[id] * (weights ? weights[i] : 1));
    const top = maxScoreTopK({ postStart: this.postStart, postDoc: this.postDoc, postWeight: this.postWeight, termMax: this.termMax }, terms, w, allowed, k);
    this.reserveTop(top.length);
    for (let i = 0; i < top.length; i++) {
      this.topDoc[i] = top[i].doc;
      this.topScore[i] = top[i].score;
    }
    return top.length;
  }

  private reserveTop(size: number): void {
    if (this.topDoc.length >= size) return;
    const capacity = Math.min(this.size, Math.max(size, 2 * this.topDoc.length, 128));
    this.topDoc = new Int32Array(capacity);
    this.topScore = new Float64Array(capacity);
  }

  private feedbackSource(): FeedbackSource {
    const fwd = (this.forward ??= this.buildForward());
    const half = this.size / 2;
    return {
      docTerms: (d, each) => {
        let len = 0;
        for (let e = fwd.start[d], end = fwd.start[d + 1]; e < end; e++) {
          each(fwd.term[e], fwd.count[e]);
          len += fwd.count[e];
        }
        return len;
      },
      expandable: (t) => {
        const text = this.termText[t];
        return text.length > 1 && this.postStart[t + 1] - this.postStart[t] <= half && !isStopTerm(text);
      },
      termText: (t) => this.termText[t],
    };
  }

  /** Transpose the postings: doc → (term, raw count), terms ascending per doc. */
  private buildForward(): { start: Int32Array; term: Int32Array; count: Uint16Array } {
    const start = new Int32Array(this.size + 1);
    for (let p = 0; p < this.postDoc.length; p++) start[this.postDoc[p] + 1]++;
    for (let d = 0; d < this.size; d++) start[d + 1] += start[d];
    const cursor = start.slice(0, this.size);
    const term = new Int32Array(this.postDoc.length);
    const count = new Uint16Array(this.postDoc.length);
    const termCount = this.postStart.length - 1;
    for (let t = 0; t < termCount; t++) {
      for (let p = this.postStart[t], end = this.postStart[t + 1]; p < end; p++) {
        const slot = cursor[this.postDoc[p]]++;
        term[slot] = t;
        count[slot] = this.postCount[p];
      }
    }
    return { start, term, count };
  }

  /** Per-doc admission mask for a filter: undefined = everything, EMPTY = nothing. */
  private allowedDocs(filter: ChunkFilter | undefined): Uint8Array | undefined {
    if (isEmptyFilter(filter)) return undefined;
    const key = JSON.stringify(filter);
    const cached = this.masks.get(key);
    if (cached) return cached;
    const admit = chunkFilterPredicate(filter);
    let mask = new Uint8Array(this.size);
    let any = false;
    for (let d = 0; d < this.size; d++) {
      if (admit(this.chunks[d])) {
        mask[d] = 1;
        any = true;
      }
    }
    if (!any) mask = EMPTY;
    if (this.masks.size >= MAX_MASKS) this.masks.delete(this.masks.keys().next().value!);
    this.masks.set(key, mask);
    return mask;
  }
}

/** The mask of a filter that admits nothing (shared, so the search can stop early). */
const EMPTY = new Uint8Array(0);

/**
 * The `size` best of `candidates[0..count)` by score (ties → lower doc id first) into
 * `out[0..size)`, best first: a size-k min-heap over the candidates (O(n log k) instead of sorting
 * every match), then heapsort in place, so no array or comparator call is made per query.
 */
function selectTopK(candidates: Int32Array, count: number, scores: Float64Array, size: number, out: Int32Array): void {
  // Min-heap of doc ids, the worst of the k at the root; comparisons inlined (this runs for every
  // matching doc of every query). a ranks below b ⇔ lower score, or the same score and a higher
  // doc id — a total order, so the k selected and their order are the same as a full sort's.
  if (size <= 0) return;
  const heap = out;
  let n = 0;
  for (let c = 0; c < count; c++) {
    const d = candidates[c];
    const sd = scores[d];
    if (n < size) {
      // sift up
      let i = n++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const p = heap[parent];
        const sp = scores[p];
        if (!(sd < sp || (sd === sp && d > p))) break;
        heap[i] = p;
        i = parent;
      }
      heap[i] = d;
      continue;
    }
    const root = heap[0];
    const sr = scores[root];
    if (!(sr < sd || (sr === sd && root > d))) continue;
    siftDown(heap, n, d, sd, scores);
  }
  // Heapsort: the root (worst left) goes to the end of the shrinking heap, leaving best first.
  for (let end = n - 1; end > 0; end--) {
    const worst = heap[0];
    const d = heap[end];
    heap[end] = worst;
    siftDown(heap, end, d, scores[d], scores);
  }
}

/** Put doc `d` (score `sd`) at the root of `heap[0..n)` and sift it down. */
function siftDown(heap: Int32Array, n: number, d: number, sd: number, scores: Float64Array): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    let m = l;
    const r = l + 1;
    if (r < n) {
      const a = heap[r];
      const b = heap[l];
      if (scores[a] < scores[b] || (scores[a] === scores[b] && a > b)) m = r;
    }
    const x = heap[m];
    const sx = scores[x];
    if (!(sx < sd || (sx === sd && x > d))) break;
    heap[i] = x;
    i = m;
  }
  heap[i] = d;
}
