/**
 * Approximate nearest-neighbour search for large corpora: an HNSW graph (hnswlib-node) over the
 * normalised chunk vectors, inner-product space, so its scores equal the exact index's dot products.
 *
 * Parameters (hnswlib's names):
 * - `M` (default 16): links per node per layer. Higher → better recall on hard data, more memory
 *   (≈ 2·M·4 bytes per vector at layer 0, on top of the 4·dims of the vector itself) and slower builds.
 * - `efConstruction` (default 200): candidate list while inserting. Higher → better graph, slower
 *   build; has no effect on query time.
 * - `efSearch` (default 128, never below k): candidate list per query — the recall/speed knob.
 *
 * Filters: a filtered query over-fetches k · (size / passing) · 1.5 neighbours (ef widened to
 * match) and keeps the passing ones. When too few pass — or far fewer than the filter's share,
 * which means the filter correlates with the query's neighbourhood and post-filtering would return
 * distant, poorly ranked chunks — it scans the passing rows exactly (up to `fallbackExactRows`),
 * or else searches again with the filter applied inside the graph (hnswlib's filtered search) at
 * twice that ef. Selective filters (≤ 5% of chunks, or ≤ 2,000 chunks) skip the graph and scan
 * the passing rows exactly, which is both faster and exact there.
 *
 * The graph lives in memory; `save`/`open` persist it next to the index (build once per ingest,
 * not per process).
 *
 * `chooseVectorIndex` picks exact search below `retrieval.annThreshold` chunks in 'auto' mode;
 * `measureAnnRecall` reports recall@k of an ANN index against exact search (bench and `ragtune bench`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type { Chunk } from "../ingest/index.ts";
import { checkMatrix, checkQuery, exactTopK, ExactVectorIndex, FilterMasks } from "./dense.ts";
import type { Hit, SearchOptions, VectorSearcher } from "./index.ts";

export interface HnswOptions {
  /** Links per node per layer (default 16). */
  M?: number;
  /** Candidate list size while building (default 200). */
  efConstruction?: number;
  /** Candidate list size per query (default 128; at least k). */
  efSearch?: number;
  /** Seed of the level generator, for reproducible graphs (default 100). */
  seed?: number;
  /** Filters passing at most this many chunks are searched exactly (default 2000). */
  exactFilterRows?: number;
  /** …or at most this fraction of the chunks (default 0.05). */
  exactFilterFraction?: number;
  /**
   * When post-filtering fails (the filter correlates with the query's neighbourhood), filters
   * passing at most this many chunks are scanned exactly; larger ones use hnswlib's in-graph
   * filtered search (default 50,000).
   */
  fallbackExactRows?: number;
}

interface HnswNative {
  initIndex(opts: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number }): void;
  addPoint(point: number[], label: number): void;
  searchKnn(query: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] };
  setEf(ef: number): void;
  writeIndexSync(file: string): void;
  readIndexSync(file: string): void;
  getCurrentCount(): number;
}

let hnswModule: { HierarchicalNSW: new (space: string, dims: number) => HnswNative } | undefined;
function loadHnswlib() {
  if (!hnswModule) {
    try {
      hnswModule = createRequire(import.meta.url)("hnswlib-node");
    } catch (error) {
      throw new Error(
        `the ANN index needs hnswlib-node (a dependency that compiles at install): ${(error as Error).message}. Reinstall with \`npm install\`, or set retrieval.ann: off to use exact search.`,
        { cause: error },
      );
    }
  }
  return hnswModule!;
}

export class HnswVectorIndex implements VectorSearcher {
  readonly size: number;
  readonly dims: number;
  /** Milliseconds spent building the graph. */
  readonly buildMs: number;
  /** Candidate list per query; may be changed between queries (recall/speed trade-off). */
  efSearch: number;
  private readonly chunks: readonly Chunk[];
  private readonly matrix: Float32Array;
  private readonly masks: FilterMasks;
  private readonly exactFilterRows: number;
  private readonly exactFilterFraction: number;
  private readonly fallbackExactRows: number;
  private readonly index?: HnswNative;
  private readonly options: { M: number; efConstruction: number; seed: number };

  /**
   * Build the graph. `matrix` row i is the (normalised) vector of `chunks[i]`; it is kept for
   * exact fallbacks. (`prebuilt` is internal: a graph read by `HnswVectorIndex.open`.)
   */
  constructor(chunks: readonly Chunk[], matrix: Float32Array, dims: number, options: HnswOptions = {}, prebuilt?: HnswNative) {
    checkMatrix("HnswVectorIndex", chunks, matrix, dims);
    const M = options.M ?? 16;
    const efConstruction = options.efConstruction ?? 200;
    this.efSearch = options.efSearch ?? 128;
    this.exactFilterRows = options.exactFilterRows ?? 2000;
    this.exactFilterFraction = options.exactFilterFraction ?? 0.05;
    this.fallbackExactRows = options.fallbackExactRows ?? 50_000;
    this.chunks = chunks;
    this.matrix = matrix;
    this.dims = dims;
    this.size = chunks.length;
    this.masks = new FilterMasks(chunks);
    this.options = { M, efConstruction, seed: options.seed ?? 100 };
    const started = performance.now();
    if (prebuilt) {
      this.index = prebuilt;
    } else if (this.size > 0) {
      const { HierarchicalNSW } = loadHnswlib();
      const index = new HierarchicalNSW("ip", dims);
      index.initIndex({ maxElements: this.size, m: M, efConstruction, randomSeed: options.seed ?? 100 });
      for (let i = 0; i < this.size; i++) index.addPoint(Array.from(matrix.subarray(i * dims, (i + 1) * dims)), i);
      this.index = index;
    }
    this.buildMs = performance.now() - started;
  }

  get name(): string {
    return `hnsw(ip,M=${this.options.M},efConstruction=${this.options.efConstruction},efSearch=${this.efSearch})`;
  }

  /**
   * Write the graph to `file` (temp file + rename) with a `<file>.json` sidecar that fingerprints
   * the chunk ids, vectors and build parameters, so `open` never pairs a graph with other vectors.
   * Building 100k vectors takes minutes; reading the graph back takes well under a second.
   */
  save(file: string): void {
    if (!this.index) throw new Error("HnswVectorIndex.save: the index is empty");
    mkdirSync(dirname(file), { recursive: true });
    // Sidecar first out, last in: a crash in between leaves a graph without a sidecar (rebuilt
    // on open), never a sidecar describing another graph.
    rmSync(`${file}.json`, { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    this.index.writeIndexSync(tmp);
    renameSync(tmp, file);
    const meta = { fingerprint: fingerprint(this.chunks, this.matrix), count: this.size, dims: this.dims, ...this.options };
    writeFileSync(`${file}.json.tmp`, JSON.stringify(meta));
    renameSync(`${file}.json.tmp`, `${file}.json`);
  }

  /**
   * Read a graph written by `save` for exactly these chunks and vectors; undefined when the file is
   * missing or was built for something else (the caller then builds, and saves, a new one).
   */
  static open(file: string, chunks: readonly Chunk[], matrix: Float32Array, dims: number, options: HnswOptions = {}): HnswVectorIndex | undefined {
    checkMatrix("HnswVectorIndex", chunks, matrix, dims);
    if (chunks.length === 0 || !existsSync(file) || !existsSync(`${file}.json`)) return undefined;
    let meta: Record<string, unknown>;
    try {
      meta = JSON.parse(readFileSync(`${file}.json`, "utf8"));
    } catch {
      return undefined;
    }
    const M = options.M ?? 16;
    const efConstruction = options.efConstruction ?? 200;
    if (meta.count !== chunks.length || meta.dims !== dims || meta.M !== M || meta.efConstruction !== efConstruction) return undefined;
    if (meta.fingerprint !== fingerprint(chunks, matrix)) return undefined;
    const { HierarchicalNSW } = loadHnswlib();
    const index = new HierarchicalNSW("ip", dims);
    try {
      index.readIndexSync(file);
    } catch {
      return undefined;
    }
    if (index.getCurrentCount() !== chunks.length) return undefined;
    return new HnswVectorIndex(chunks, matrix, dims, options, index);
  }

  search(query: Float32Array, options: SearchOptions): Hit[] {
    if (this.size === 0 || options.k <= 0 || !this.index) return [];
    checkQuery(this.name, query, this.dims);
    const filter = this.masks.get(options.filter);
    const allowed = filter ? filter.allowed : this.size;
    const k = Math.min(options.k, allowed);
    if (k === 0) return [];
    const q = Array.from(query);

    if (!filter) return this.toHits(this.knn(q, k), k);

    if (allowed <= this.exactFilterRows || allowed <= this.exactFilterFraction * this.size) return this.exact(query, k, filter.rows());
    // Over-fetch so that, if the filter is independent of the query, ~1.5 k of the fetched pass.
    const selectivity = allowed / this.size;
    const fetch = Math.min(this.size, Math.ceil((k / selectivity) * 1.5) + 10);
    const found = this.knn(q, fetch);
    const kept = { rows: [] as number[], scores: [] as number[] };
    let passing = 0;
    for (let i = 0; i < found.rows.length; i++) {
      if (!filter.mask[found.rows[i]]) continue;
      passing++;
      if (kept.rows.length < k) {
        kept.rows.push(found.rows[i]);
        kept.scores.push(found.scores[i]);
      }
    }
    // Accept unless too few passed, or far fewer than the filter's share: then the filter is
    // correlated with the query's neighbourhood (e.g. the query sits among v2 chunks and asks for
    // v1), the matching chunks are far away, and a post-filtered top list would miss them. Search
    // again with the filter inside the graph, at the wider ef.
    if (kept.rows.length >= k && passing >= (found.rows.length * selectivity) / 3) return this.toHits(kept, k);
    // Correlated filter: scan the passing rows exactly while that is affordable (measured: as fast
    // as hnswlib's filtered search at 10k passing rows, and exact), else filter inside the graph.
    if (allowed <= this.fallbackExactRows) return this.exact(query, k, filter.rows());
    return this.toHits(this.knn(q, k, 2 * fetch, (label) => filter.mask[label] === 1), k);
  }

  private knn(q: number[], k: number, ef = k, allow?: (label: number) => boolean): { rows: number[]; scores: number[] } {
    this.index!.setEf(Math.max(this.efSearch, ef));
    const { distances, neighbors } = this.index!.searchKnn(q, k, allow);
    // 'ip' distance is 1 − dot.
    return { rows: neighbors, scores: distances.map((d) => 1 - d) };
  }

  private exact(query: Float32Array, k: number, rows: Int32Array): Hit[] {
    const top = exactTopK(this.matrix, this.dims, query, k, undefined, rows);
    return this.toHits({ rows: Array.from(top.rows), scores: Array.from(top.scores) }, k);
  }

  private toHits(found: { rows: number[]; scores: number[] }, k: number): Hit[] {
    const n = Math.min(k, found.rows.length);
    const hits: Hit[] = new Array(n);
    for (let i = 0; i < n; i++) hits[i] = { chunk: this.chunks[found.rows[i]], score: found.scores[i], rank: i + 1 };
    return hits;
  }
}

/** sha1 over the chunk ids and the vector bytes: identifies what a saved graph was built from. */
function fingerprint(chunks: readonly Chunk[], matrix: Float32Array): string {
  const hash = createHash("sha1");
  for (const c of chunks) hash.update(c.id).update("\0");
  hash.update(new Uint8Array(matrix.buffer, matrix.byteOffset, matrix.byteLength));
  return hash.digest("hex");
}

export type AnnMode = "auto" | "on" | "off";

/**
 * Exact search unless the mode asks for ANN: 'on' always (non-empty corpus), 'auto' when the
 * corpus has more than `threshold` chunks, 'off' never.
 */
export function chooseVectorIndex(
  mode: AnnMode,
  threshold: number,
  chunks: readonly Chunk[],
  matrix: Float32Array,
  dims: number,
  options: HnswOptions = {},
): VectorSearcher {
  const useAnn = chunks.length > 0 && (mode === "on" || (mode === "auto" && chunks.length > threshold));
  return useAnn ? new HnswVectorIndex(chunks, matrix, dims, options) : new ExactVectorIndex(chunks, matrix, dims);
}

/**
 * Mean recall@k of `ann` against `exact` over the query vectors: the fraction of the exact top k
 * that the ANN index also returns (1 = identical sets). Pass `filter` to measure filtered search.
 */
export function measureAnnRecall(
  ann: VectorSearcher,
  exact: VectorSearcher,
  queries: readonly Float32Array[],
  k: number,
  filter?: SearchOptions["filter"],
): number {
  let sum = 0;
  let counted = 0;
  for (const q of queries) {
    const truth = exact.search(q, { k, filter });
    if (truth.length === 0) continue;
    const got = new Set(ann.search(q, { k, filter }).map((h) => h.chunk.id));
    sum += truth.filter((h) => got.has(h.chunk.id)).length / truth.length;
    counted++;
  }
  return counted ? sum / counted : 1;
}
