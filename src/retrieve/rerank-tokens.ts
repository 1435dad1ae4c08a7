/**
 * What the offline reranker reads of a chunk, computed for the whole corpus at index time: per
 * chunk, its distinct body content-term ids (ascending, found by binary search) with their
 * positions, and its heading-field term ids. Before this table existed the reranker tokenized each
 * chunk the first time a query touched it, so a query over unseen chunks paid for tokenizing up to
 * 30 of them (measured on HotpotQA: most of a single pass's reranking time).
 *
 * Layout: flat typed arrays for the corpus, one slice per chunk (`tokensOf` returns views, no copy):
 *
 *   terms      [termOff[d] .. termOff[d+1])              distinct body term ids of doc d, ascending
 *   start      [termOff[d] + d .. termOff[d+1] + d + 1)   CSR offsets into doc d's positions
 *   positions  [posOff[d] .. posOff[d+1])                body positions grouped by term, ascending
 *   head       [headOff[d] .. headOff[d+1])              heading-field ids in order
 *   headSet    [headSetOff[d] .. headSetOff[d+1])        distinct heading ids, first-occurrence order
 *
 * 4 bytes per body content token + 8 per distinct body term + 4–8 per heading token.
 */
import type { ContentSequences } from "./lexical-cache.ts";

/** One chunk's tokens as the reranker reads them (views into the table). */
export interface ChunkTokens {
  /** Distinct body term ids, ascending. */
  terms: Int32Array;
  /** Positions of `terms[j]` are `positions[start[j]] .. positions[start[j + 1] - 1]`, ascending. */
  start: Int32Array;
  positions: Int32Array;
  /** Heading/title term ids in order (for heading bigrams). */
  head: Int32Array;
  /** Distinct heading/title term ids (a handful: a linear scan is fastest). */
  headSet: Int32Array;
}

/** Where the reranker gets precomputed tokens: per chunk, and term ids of the same dictionary for queries. */
export interface RerankTokenSource<C = unknown> {
  /** The chunk's tokens, or undefined when the chunk is not in this index. */
  tokensOf(chunk: C): ChunkTokens | undefined;
  /** Id of a (normalised) term in the table's dictionary, -1 when no chunk has it. */
  termId(term: string): number;
}

/**
 * Positions of one token sequence grouped by term: sorts (id, position) keys packed in a float64
 * (id · 2^22 + position; exact below 2^53), the comparator-free numeric sort of a typed array.
 */
function groupPositions(ids: Int32Array, terms: number[], start: number[], positions: Int32Array, posBase: number): void {
  const n = ids.length;
  if (n === 0) {
    start.push(0);
    return;
  }
  if (n < 1 << 22) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = ids[i] * 4194304 + i;
    keys.sort();
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const id = Math.floor(keys[i] / 4194304);
      const pos = keys[i] - id * 4194304;
      if (id !== prev) {
        terms.push(id);
        start.push(i);
        prev = id;
      }
      positions[posBase + i] = pos;
    }
  } else {
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => ids[x] - ids[y] || x - y);
    let prev = -1;
    order.forEach((p, i) => {
      if (ids[p] !== prev) {
        terms.push(ids[p]);
        start.push(i);
        prev = ids[p];
      }
      positions[posBase + i] = p;
    });
  }
  start.push(n);
}

/** Corpus size up to which a doc's views are kept after first use (bounded memory above it). */
export const VIEW_CACHE_MAX_DOCS = 200_000;

export class ChunkTokenTable {
  readonly size: number;
  private readonly termOff: Int32Array;
  private readonly terms: Int32Array;
  private readonly start: Int32Array;
  private readonly posOff: Int32Array;
  private readonly positions: Int32Array;
  private readonly headOff: Int32Array;
  private readonly head: Int32Array;
  private readonly headSetOff: Int32Array;
  private readonly headSet: Int32Array;
  private readonly views?: (ChunkTokens | undefined)[];

  /** Build from every doc's content-token sequences (lexical-cache `ContentSequences`). */
  constructor(seq: ContentSequences) {
    const n = seq.bodyStart.length - 1;
    this.size = n;
    this.posOff = seq.bodyStart;
    this.positions = new Int32Array(seq.bodyIds.length);
    this.termOff = new Int32Array(n + 1);
    const terms: number[] = [];
    const start: number[] = [];
    for (let d = 0; d < n; d++) {
      const from = seq.bodyStart[d];
      groupPositions(seq.bodyIds.subarray(from, seq.bodyStart[d + 1]), terms, start, this.positions, from);
      this.termOff[d + 1] = terms.length;
    }
    this.terms = Int32Array.from(terms);
    this.start = Int32Array.from(start);
    this.headOff = seq.headStart;
    this.head = seq.headIds;
    this.headSetOff = new Int32Array(n + 1);
    const headSet: number[] = [];
    for (let d = 0; d < n; d++) {
      const seen = new Set<number>();
      for (let i = seq.headStart[d]; i < seq.headStart[d + 1]; i++) seen.add(seq.headIds[i]);
      for (const id of seen) headSet.push(id);
      this.headSetOff[d + 1] = headSet.length;
    }
    this.headSet = Int32Array.from(headSet);
    if (n <= VIEW_CACHE_MAX_DOCS) this.views = new Array<ChunkTokens | undefined>(n);
  }

  /**
   * Views of doc `d`'s tokens, kept once made (five small view objects per touched doc, no
   * tokenizing) when the corpus is at most `VIEW_CACHE_MAX_DOCS`; made per call above that.
   */
  tokensOf(d: number): ChunkTokens {
    const cached = this.views?.[d];
    if (cached) return cached;
    const made = this.makeView(d);
    if (this.views) this.views[d] = made;
    return made;
  }

  private makeView(d: number): ChunkTokens {
    const t0 = this.termOff[d];
    const t1 = this.termOff[d + 1];
    return {
      terms: this.terms.subarray(t0, t1),
      start: this.start.subarray(t0 + d, t1 + d + 1),
      positions: this.positions.subarray(this.posOff[d], this.posOff[d + 1]),
      head: this.head.subarray(this.headOff[d], this.headOff[d + 1]),
      headSet: this.headSet.subarray(this.headSetOff[d], this.headSetOff[d + 1]),
    };
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return [this.termOff, this.terms, this.start, this.posOff, this.positions, this.headOff, this.head, this.headSetOff, this.headSet].reduce((a, x) => a + x.byteLength, 0);
  }
}
