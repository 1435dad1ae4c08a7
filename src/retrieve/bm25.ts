/**
 * In-memory BM25F index over chunks.
 *
 * Two fields per chunk: the body (`text`) and the heading field (`title` + `headingPath`).
 * A term's combined frequency is `tf = tf_body + headingBoost · tf_heading`; length normalisation
 * uses the body length only, so a long heading path does not penalise a chunk:
 *
 *   score(q, d) = Σ_{t ∈ q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d|/avgdl))
 *   idf(t)      = ln(1 + (N − df + 0.5) / (df + 0.5))        (Lucene's non-negative variant)
 *
 * where |d| is the body token count, avgdl its mean over the index and df counts chunks having
 * the term in either field. Query terms are de-duplicated; stop words are dropped from the query
 * (but indexed, so an all-stop-word query still matches something).
 *
 * Postings are compressed-sparse-row typed arrays: `postStart[term]..postStart[term+1]` indexes
 * `postDoc` (Int32, ascending doc ids) and `postTf` (Float32, the combined tf).
 */
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter } from "../store/index.ts";
import type { Bm25Options, Hit, Retriever, SearchOptions } from "./index.ts";
import { contentTokens, tokenize } from "./tokenize.ts";

/** Append-only typed array with amortised doubling; avoids one JS object per posting. */
class GrowableInt32 {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

class GrowableFloat32 {
  data = new Float32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export class Bm25Index implements Retriever {
  readonly name: string;
  /** Number of indexed chunks. */
  readonly size: number;
  /** Mean body length in tokens. */
  readonly avgLength: number;

  private readonly chunks: Chunk[];
  private readonly k1: number;
  private readonly b: number;
  private readonly termIds = new Map<string, number>();
  private readonly postStart: Int32Array;
  private readonly postDoc: Int32Array;
  private readonly postTf: Float32Array;
  /** Per-doc BM25 length term `k1·(1 − b + b·|d|/avgdl)`, precomputed once. */
  private readonly lengthNorm: Float32Array;
  /** Score accumulator reused across searches (only touched slots are reset). */
  private readonly scratch: Float64Array;
  /** Filter masks by filter key; a project uses a handful of filters over many queries. */
  private readonly masks = new Map<string, Uint8Array>();

  constructor(chunks: Chunk[], options: Bm25Options) {
    this.chunks = chunks;
    this.k1 = options.k1;
    this.b = options.b;
    this.size = chunks.length;
    this.name = `bm25(k1=${options.k1},b=${options.b},headingBoost=${options.headingBoost})`;

    // One pass over the corpus: tokenize each chunk once, count its terms in scratch arrays
    // indexed by term id, and append (term, doc, tf) triples in doc order.
    const bodyLen = new Int32Array(chunks.length);
    const tripleTerm = new GrowableInt32();
    const tripleTf = new GrowableFloat32();
    const docOfTriple = new GrowableInt32();
    const df: number[] = [];
    const tfBody: number[] = [];
    const tfHead: number[] = [];
    const seenIn: number[] = [];
    const touched: number[] = [];
    let totalLen = 0;

    const idFor = (term: string): number => {
      let id = this.termIds.get(term);
      if (id === undefined) {
        id = this.termIds.size;
        this.termIds.set(term, id);
        df.push(0);
        tfBody.push(0);
        tfHead.push(0);
        seenIn.push(-1);
      }
      return id;
    };

    for (let d = 0; d < chunks.length; d++) {
      const chunk = chunks[d];
      touched.length = 0;
      const body = tokenize(chunk.text);
      bodyLen[d] = body.length;
      totalLen += body.length;
      for (const term of body) {
        const id = idFor(term);
        if (seenIn[id] !== d) {
          seenIn[id] = d;
          touched.push(id);
        }
        tfBody[id]++;
      }
      for (const term of tokenize(headingFieldText(chunk))) {
        const id = idFor(term);
        if (seenIn[id] !== d) {
          seenIn[id] = d;
          touched.push(id);
        }
        tfHead[id]++;
      }
      for (const id of touched) {
        tripleTerm.push(id);
        docOfTriple.push(d);
        tripleTf.push(tfBody[id] + options.headingBoost * tfHead[id]);
        df[id]++;
        tfBody[id] = 0;
        tfHead[id] = 0;
      }
    }

    // Counting sort of the triples by term into CSR arrays; doc ids stay ascending per term
    // because triples were appended in doc order.
    const termCount = this.termIds.size;
    this.postStart = new Int32Array(termCount + 1);
    for (let t = 0; t < termCount; t++) this.postStart[t + 1] = this.postStart[t] + df[t];
    const cursor = this.postStart.slice(0, termCount);
    this.postDoc = new Int32Array(tripleTerm.length);
    this.postTf = new Float32Array(tripleTerm.length);
    for (let i = 0; i < tripleTerm.length; i++) {
      const slot = cursor[tripleTerm.data[i]]++;
      this.postDoc[slot] = docOfTriple.data[i];
      this.postTf[slot] = tripleTf.data[i];
    }

    this.avgLength = chunks.length > 0 ? totalLen / chunks.length : 0;
    this.scratch = new Float64Array(chunks.length);
    this.lengthNorm = new Float32Array(chunks.length);
    for (let d = 0; d < chunks.length; d++) {
      const rel = this.avgLength > 0 ? bodyLen[d] / this.avgLength : 0;
      this.lengthNorm[d] = this.k1 * (1 - this.b + this.b * rel);
    }
  }

  /** Number of chunks containing `term` (an already-normalised index term) in either field. */
  df(term: string): number {
    const id = this.termIds.get(term);
    return id === undefined ? 0 : this.postStart[id + 1] - this.postStart[id];
  }

  /** BM25 idf of an index term (a term absent from the index gets the df = 0 value). */
  idf(term: string): number {
    const df = this.df(term);
    return Math.log(1 + (this.size - df + 0.5) / (df + 0.5));
  }

  search(query: string, options: SearchOptions): Hit[] {
    const k = Math.floor(options.k);
    if (k <= 0 || this.size === 0) return [];
    let terms = contentTokens(query);
    if (terms.length === 0) terms = tokenize(query);
    const unique = [...new Set(terms)];
    const allowed = this.allowedDocs(options.filter);

    const scores = this.scratch;
    const touched: number[] = [];
    for (const term of unique) {
      const id = this.termIds.get(term);
      if (id === undefined) continue;
      const idf = this.idf(term);
      const k1p1 = this.k1 + 1;
      for (let p = this.postStart[id], end = this.postStart[id + 1]; p < end; p++) {
        const d = this.postDoc[p];
        if (allowed && !allowed[d]) continue;
        const tf = this.postTf[p];
        if (tf <= 0) continue;
        if (scores[d] === 0) touched.push(d);
        scores[d] += (idf * tf * k1p1) / (tf + this.lengthNorm[d]);
      }
    }

    const top = selectTopK(touched, scores, k);
    const hits = top.map((d, i) => ({ chunk: this.chunks[d], score: scores[d], rank: i + 1 }));
    for (const d of touched) scores[d] = 0;
    return hits;
  }

  /** Per-doc admission mask for a filter, or undefined when everything is allowed. */
  private allowedDocs(filter: ChunkFilter | undefined): Uint8Array | undefined {
    if (!filter) return undefined;
    const versions = filter.versions ? new Set(filter.versions) : undefined;
    const prefix = filter.pathPrefix;
    if (!versions && !prefix) return undefined;
    const key = JSON.stringify([filter.versions ?? null, prefix ?? null]);
    const cached = this.masks.get(key);
    if (cached) return cached;
    const mask = new Uint8Array(this.size);
    for (let d = 0; d < this.size; d++) {
      const c = this.chunks[d];
      mask[d] = (!versions || versions.has(c.version)) && (!prefix || c.path.startsWith(prefix)) ? 1 : 0;
    }
    if (this.masks.size >= 64) this.masks.clear();
    this.masks.set(key, mask);
    return mask;
  }
}

/** Title and heading path as one field; the title is skipped when it repeats the top heading. */
function headingFieldText(chunk: Chunk): string {
  const parts = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  return parts.join("\n");
}

/**
 * The k best docs by score (ties → lower doc id first), via a size-k min-heap over the candidates:
 * O(n log k) instead of sorting every match.
 */
function selectTopK(candidates: number[], scores: Float64Array, k: number): number[] {
  // `worse(a, b)`: a ranks below b.
  const worse = (a: number, b: number): boolean => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const heap: number[] = [];
  const siftUp = (i: number): void => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (const d of candidates) {
    if (heap.length < k) {
      heap.push(d);
      siftUp(heap.length - 1);
    } else if (worse(heap[0], d)) {
      heap[0] = d;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}
