/**
 * The retrieval benchmark: ragtune's retrieval measured side by side with the search libraries a
 * TypeScript team would otherwise use (BEIR datasets), and ragtune's own configurations measured
 * on a project's suite (gold `sources`), so a configuration is picked from evidence.
 *
 * How each number is measured (also recorded in every result under `method`):
 *
 * - Quality: every judged query is run for the top 100 documents; nDCG@10, recall@10,
 *   recall@100 and MRR@10 are the means of the per-query values (`beir.ts`, pytrec_eval style).
 * - Speed: the queries run one after another on this thread (single-threaded throughput). An
 *   untimed warm-up runs 50 *synthetic* queries (words drawn from corpus documents, never a judged
 *   query), so JIT compilation is not charged to whichever library happens to run first while every
 *   judged query is still seen for the first time when it is timed — as in real use, where any
 *   per-document work a library defers to the first query touching a document is paid then. By
 *   default (`repeat` 1) each judged query runs once. Each query's latency is `performance.now()`
 *   around `search(query, 100)` including the conversion to document ids; with `repeat` > 1 it is
 *   the fastest of that many timed passes — a *warm cache* figure (passes after the first see
 *   queries and documents already touched), labelled so in every output.
 *   `qps` = queries / summed latency; p50/p95 are nearest-rank percentiles; `cpuQps` = queries
 *   per CPU-second of the process over the timed passes (steadier on a shared machine).
 * - Build: `indexMs` is wall time of `index(docs)` (for ragtune: converting documents to chunks
 *   and building the index). `rssMb` is the change in resident set size across the build, after a
 *   full garbage collection before and after (with `--expose-gc`, or V8's flag set at runtime when
 *   the process was started without it); `heapMb` is the change in V8 heap used + external memory
 *   (typed arrays live outside the heap) and is the steadier figure: RSS can under-report for a
 *   library measured after another one whose freed pages the allocator reuses. Libraries run in
 *   the order given (ragtune first); the previous library's index is released before the next
 *   one is built.
 *
 * ragtune is reached through `RagtuneRetrieverFactory`, a small adapter from the retrieval config
 * to a searcher: `buildRagtuneRetriever` builds the answering pipeline (BM25/PRF, dense, hybrid,
 * rerank, version collapsing, small-to-big) over in-memory chunks, so every mode the config can
 * name is measured the way `ragtune ask` runs it; another factory can be passed in.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import type { Chunk } from "../ingest/index.ts";
import type { Hit, SearchOptions } from "../retrieve/index.ts";
import { Bm25Index } from "../retrieve/bm25.ts";
import { assembleRetrievalPipeline } from "../retrieve/pipeline.ts";
import { DenseRetriever } from "../retrieve/dense.ts";
import { chooseVectorIndex } from "../retrieve/ann.ts";
import { embeddingInput } from "../store/vectors.ts";
import { createEmbedder } from "../models/embedders/index.ts";
import type { Embedder } from "../models/index.ts";
import { ConfigSchema, type RagtuneConfig } from "../config/index.ts";
import { ingestProject } from "../ingest/index.ts";
import { openStore } from "../store/index.ts";
import { loadSuite } from "../evaluate/suite.ts";
import { retrievalScores } from "../evaluate/scorers.ts";
import { RAGTUNE_VERSION } from "../evaluate/runner.ts";
import { InputError } from "../util/errors.ts";
import { evaluateRun, loadBeir, type BeirDataset, type BeirDocument } from "./beir.ts";
import { createPeer, type PeerRetriever } from "./peers/index.ts";

export type RetrievalConfig = RagtuneConfig["retrieval"];
export type ChunkingStrategy = RagtuneConfig["chunking"]["strategy"];
export const CHUNKING_STRATEGIES: readonly ChunkingStrategy[] = ["headings", "paragraphs", "sentences", "fixed"];

/** Documents retrieved per query (the depth of recall@100). */
export const DEPTH = 100;
export const WARMUP_QUERIES = 50;

/**
 * Warm-up queries that are not judged queries: `count` queries of 3–6 words drawn from the text
 * of evenly spaced corpus documents (deterministic, so every library warms up on the same ones).
 */
export function warmupQueries(corpus: readonly BeirDocument[], count = WARMUP_QUERIES): string[] {
  const out: string[] = [];
  if (corpus.length === 0) return out;
  let seed = 0x9e3779b9;
  const next = () => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const doc = corpus[Math.floor((i * corpus.length) / count)];
    const words = `${doc.title} ${doc.text}`.split(/\s+/).filter((w) => /[\p{L}\p{N}]{3,}/u.test(w));
    if (words.length === 0) continue;
    const n = Math.min(words.length, 3 + Math.floor(next() * 4));
    const picked: string[] = [];
    for (let j = 0; j < n; j++) picked.push(words[Math.floor(next() * words.length)]);
    out.push(picked.join(" "));
  }
  return out;
}

/** How latency was taken, in words, for every output: single pass over unseen queries, or warm. */
export function timingLabel(repeat: number): string {
  return repeat > 1 ? `warm cache, fastest of ${repeat}` : "single pass, queries unseen (warm-up on 50 synthetic queries)";
}

// ---------------------------------------------------------------------------------------------
// ragtune's retrieval behind one adapter

/**
 * What the benchmark needs from ragtune's retrieval: the top `k` hits for a query exactly as
 * `ragtune ask/eval` would retrieve them (the config's filter when none is given, near-duplicate
 * versions collapsed when configured, and whatever fusion/rerank stages the config turns on).
 */
export interface RagtuneSearcher {
  /** The configuration in words, e.g. "bm25(k1=1.2,b=0.75,headingBoost=0.5) → collapse-versions". */
  readonly name: string;
  search(query: string, options: SearchOptions): Hit[] | Promise<Hit[]>;
}

export interface RagtuneRetrievalSettings {
  retrieval: RetrievalConfig;
  /** Needed by dense/hybrid modes (the embedder id) and API rerankers. */
  models?: RagtuneConfig["models"];
  /** Project root, for model folders given as relative paths. */
  root?: string;
}

/** Build a searcher over `chunks` from the retrieval settings. */
export type RagtuneRetrieverFactory = (chunks: Chunk[], settings: RagtuneRetrievalSettings) => Promise<RagtuneSearcher>;

/** The chunk filter the answering pipeline applies from `retrieval.versions/paths/tags`. */
export { configFilter } from "../retrieve/pipeline.ts";

/**
 * Vectors already computed in this process, by embedder id and embedding input: the suite grid
 * builds several dense/hybrid rows over the same chunks, and a local model such as use-lite costs
 * ~60 ms a chunk, so each text is embedded once per process.
 */
const EMBEDDED = new Map<string, Float32Array>();

/** Embed every chunk (title + headings + body, as ingest does) into one row-major matrix. */
async function embedChunks(embedder: Embedder, chunks: readonly Chunk[], batchSize = 64): Promise<{ matrix: Float32Array; dims: number }> {
  let matrix = new Float32Array(0);
  let dims = 0;
  for (let start = 0; start < chunks.length; start += batchSize) {
    const batch = chunks.slice(start, start + batchSize);
    const inputs = batch.map(embeddingInput);
    const keys = inputs.map((t) => `${embedder.id}\u0000${t}`);
    const missing = inputs.filter((_, i) => !EMBEDDED.has(keys[i]));
    const fresh = missing.length ? await embedder.embed(missing, "document") : [];
    if (fresh.length !== missing.length) throw new Error(`${embedder.id} returned ${fresh.length} vectors for ${missing.length} texts`);
    let f = 0;
    const vectors = keys.map((key) => {
      let v = EMBEDDED.get(key);
      if (!v) EMBEDDED.set(key, (v = fresh[f++]));
      return v;
    });
    if (vectors.length !== batch.length) throw new Error(`${embedder.id} returned ${vectors.length} vectors for ${batch.length} texts`);
    if (start === 0) {
      dims = vectors[0]?.length ?? 0;
      matrix = new Float32Array(chunks.length * dims);
    }
    vectors.forEach((v, i) => matrix.set(v, (start + i) * dims));
  }
  return { matrix, dims };
}

/**
 * ragtune's retrieval from its config, over chunks held in memory: the same pipeline
 * `ragtune ask/eval` build from the store (src/pipeline/project.ts) — BM25 (+ PRF), dense or
 * hybrid with the configured embedder (every chunk embedded here, exact or ANN search as
 * `retrieval.ann` says), the configured reranker, version collapsing and small-to-big. A setting
 * that cannot run (dense without `models.embedder`, a missing model folder) throws its usual
 * error.
 */
export const buildRagtuneRetriever: RagtuneRetrieverFactory = async (chunks, settings) => {
  const { retrieval, root } = settings;
  const models = settings.models ?? ConfigSchema.shape.models.parse(undefined);
  // The offline reranker's chunk tokens are built here, with the index (counted in its time and memory).
  const lexical = new Bm25Index(chunks, { k1: retrieval.k1, b: retrieval.b, headingBoost: retrieval.headingBoost, rerankTokens: retrieval.rerank === "offline" });
  let dense: DenseRetriever | undefined;
  if (retrieval.mode !== "lexical") {
    const embedder = createEmbedder(models.embedder, models, process.env, { baseDir: root });
    if (embedder) {
      const { matrix, dims } = await embedChunks(embedder, chunks);
      dense = new DenseRetriever(embedder, chooseVectorIndex(retrieval.ann, retrieval.annThreshold, chunks, matrix, dims));
    }
  }
  const pipeline = assembleRetrievalPipeline({ lexical, dense, chunks, retrieval, models, root });
  return { name: pipeline.name, search: (query, options) => pipeline.retrieve(query, options) };
};

/** The retrieval section of the config with every default filled in (what `ragtune.yaml` gives when it says nothing). */
export function defaultRetrievalConfig(): RetrievalConfig {
  return ConfigSchema.shape.retrieval.parse(undefined);
}

/** A BEIR document as a ragtune chunk: the title goes to the heading (boosted) field. */
export function beirChunk(d: BeirDocument): Chunk {
  return {
    id: d.id,
    path: d.id,
    ordinal: 0,
    title: d.title,
    headingPath: [],
    text: d.text,
    lineStart: 1,
    lineEnd: 1,
    version: "",
    tokens: 0,
    meta: {},
  };
}

/** ragtune as a `PeerRetriever`, so the benchmark drives every library through one interface. */
export function ragtuneBeirRetriever(given: RagtuneRetrievalSettings, factory: RagtuneRetrieverFactory = buildRagtuneRetriever): PeerRetriever {
  // BEIR documents carry no version label, so version collapsing could only cost time.
  const settings = { ...given, retrieval: { ...given.retrieval, collapseVersions: false } };
  let searcher: RagtuneSearcher | undefined;
  const describe = () =>
    `${searcher?.name ?? "(not built)"}; title → heading field (BM25F boost); tokenizer: Unicode, case folding, Porter2 stemming, compound identifiers kept, stop words dropped from queries`;
  return {
    name: "ragtune",
    version: RAGTUNE_VERSION,
    get settings() {
      return describe();
    },
    async index(docs) {
      searcher = await factory(docs.map(beirChunk), settings);
    },
    search(query, k) {
      if (!searcher) throw new Error("ragtune: index() must be called before search()");
      const toIds = (hits: Hit[]) => hits.map((h) => h.chunk.id);
      const hits = searcher.search(query, { k });
      return hits instanceof Promise ? hits.then(toIds) : toIds(hits);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

interface MemorySample {
  rss: number;
  heap: number;
}

let gcFunction: (() => void) | undefined | null = null;
/** How a full GC is triggered: `--expose-gc`, V8's flag set at runtime, or not at all. */
export type GcSource = "expose-gc" | "runtime-flag" | "unavailable";
export let gcSource: GcSource = "unavailable";

/** Full GC (twice, so finalised objects go too). `global.gc` when exposed; otherwise V8's flag is set at runtime and gc taken from a fresh context. */
export function collectGarbage(): boolean {
  if (gcFunction === null) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === "function") {
      gcFunction = exposed;
      gcSource = "expose-gc";
    } else {
      try {
        setFlagsFromString("--expose-gc");
        gcFunction = runInNewContext("gc") as () => void;
        gcSource = "runtime-flag";
      } catch {
        gcFunction = undefined;
      }
    }
  }
  if (!gcFunction) return false;
  gcFunction();
  gcFunction();
  return true;
}

function sampleMemory(): MemorySample {
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

const MB = 1024 * 1024;
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/** Nearest-rank percentile of ascending-sorted values. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

// ---------------------------------------------------------------------------------------------
// BEIR benchmark

export interface RetrieverBenchResult {
  name: string;
  version: string;
  /** The settings used, in words (fields, weights, BM25 parameters, tokenizer). */
  settings: string;
  ndcg10: number;
  recall10: number;
  recall100: number;
  mrr10: number;
  /** Single-threaded queries per second over all judged queries. */
  qps: number;
  /** Queries per CPU-second of this process over all timed passes (steadier when other processes share the cores). */
  cpuQps: number;
  latencyMs: { p50: number; p95: number; mean: number };
  indexMs: number;
  /** RSS delta of building the index, MB (after GC). */
  rssMb: number;
  /** V8 heap used + external memory delta of building the index, MB (after GC). */
  heapMb: number;
}

export interface BeirBenchResult {
  dataset: string;
  split: string;
  documents: number;
  queries: number;
  depth: number;
  /** Timed passes; each query's latency is its fastest pass (1 = single pass over unseen queries). */
  repeat: number;
  /** `timingLabel(repeat)`: "single pass, …" or "warm cache, fastest of N". */
  timing: string;
  ragtune: RetrieverBenchResult;
  peers: RetrieverBenchResult[];
  env: { node: string; platform: string; gc: GcSource };
  method: string;
}

export interface BenchBeirOptions {
  dir: string;
  split?: string;
  /** Peer names (see PEER_NAMES). */
  compare?: string[];
  /** A parsed project config; only `retrieval` (and `models`) are used. Default: the config defaults. */
  config?: RagtuneConfig;
  /** How ragtune's retrieval is built (default `buildRagtuneRetriever`). */
  factory?: RagtuneRetrieverFactory;
  /** Timed passes over the queries; each query's latency is its fastest pass (default 1: single pass; > 1 is a warm-cache figure). */
  repeat?: number;
  /** Called before each library is measured (progress). */
  onProgress?: (name: string) => void;
}

export const BEIR_METHOD =
  "same process and corpus for every library, in order (ragtune first); indexMs = wall time of index(docs); rssMb / heapMb = RSS and V8 heap+external delta across the build with a full GC before and after; untimed warm-up over 50 synthetic queries drawn from corpus documents (never a judged query), then every judged query once per timed pass (repeat; default 1 = every query unseen, > 1 = warm cache, each query's latency its fastest pass), single-threaded, top 100; qps = queries / summed per-query latency; p50/p95 nearest-rank";

/** Benchmark ragtune and the named peers on one BEIR dataset. */
export async function benchRetrievalBeir(options: BenchBeirOptions): Promise<BeirBenchResult> {
  const split = options.split ?? "test";
  const dataset = loadBeir(options.dir, split);
  const settings: RagtuneRetrievalSettings = {
    retrieval: options.config?.retrieval ?? defaultRetrievalConfig(),
    models: options.config?.models,
  };
  // Create every peer first: a missing library fails before minutes of measuring.
  const compare = [...new Set(options.compare ?? [])];
  const peers: PeerRetriever[] = [];
  for (const name of compare) peers.push(await createPeer(name));

  collectGarbage();
  options.onProgress?.("ragtune");
  const repeat = options.repeat ?? 1;
  const ragtune = await benchOne(ragtuneBeirRetriever(settings, options.factory), dataset, repeat);
  const peerResults: RetrieverBenchResult[] = [];
  for (const peer of peers) {
    options.onProgress?.(peer.name);
    peerResults.push(await benchOne(peer, dataset, repeat));
  }
  return {
    dataset: dataset.name,
    split,
    documents: dataset.corpus.length,
    queries: dataset.queries.length,
    depth: DEPTH,
    repeat,
    timing: timingLabel(repeat),
    ragtune,
    peers: peerResults,
    env: { node: process.version, platform: `${process.platform}-${process.arch}`, gc: gcSource },
    method: BEIR_METHOD,
  };
}

/** Index, then run every judged query; the retriever is dropped when this returns. */
export async function benchOne(retriever: PeerRetriever, dataset: BeirDataset, repeat = 1): Promise<RetrieverBenchResult> {
  const before = sampleMemory();
  const t0 = performance.now();
  await retriever.index(dataset.corpus);
  const indexMs = performance.now() - t0;
  const after = sampleMemory();

  const searchIds = async (q: string): Promise<string[]> => {
    const out = retriever.search(q, DEPTH);
    return out instanceof Promise ? await out : out;
  };
  for (const q of warmupQueries(dataset.corpus)) await searchIds(q);

  const run = new Map<string, string[]>();
  // Per-query latency: the fastest of `repeat` timed passes (a pass can only be slowed down by
  // other work on the machine, never sped up), so a busy neighbour does not decide the ranking.
  const best = new Array<number>(dataset.queries.length).fill(Infinity);
  const passes = Math.max(1, repeat);
  const cpu = process.cpuUsage();
  for (let pass = 0; pass < passes; pass++) {
    for (let i = 0; i < dataset.queries.length; i++) {
      const q = dataset.queries[i];
      const start = performance.now();
      const out = retriever.search(q.text, DEPTH);
      const ids = out instanceof Promise ? await out : out;
      const ms = performance.now() - start;
      if (ms < best[i]) best[i] = ms;
      if (pass === 0) run.set(q.id, ids);
    }
  }
  const cpuUsed = process.cpuUsage(cpu);
  const cpuMs = (cpuUsed.user + cpuUsed.system) / 1000;
  const latencies = best;
  const total = latencies.reduce((a, b) => a + b, 0);
  latencies.sort((a, b) => a - b);
  const metrics = evaluateRun(dataset, run);
  return {
    name: retriever.name,
    version: retriever.version,
    settings: retriever.settings,
    ndcg10: round(metrics.ndcg10, 4),
    recall10: round(metrics.recall10, 4),
    recall100: round(metrics.recall100, 4),
    mrr10: round(metrics.mrr10, 4),
    qps: round(total > 0 ? (dataset.queries.length * 1000) / total : 0, 1),
    cpuQps: round(cpuMs > 0 ? (dataset.queries.length * passes * 1000) / cpuMs : 0, 1),
    latencyMs: {
      p50: round(percentile(latencies, 0.5)),
      p95: round(percentile(latencies, 0.95)),
      mean: round(latencies.length ? total / latencies.length : 0),
    },
    indexMs: round(indexMs, 1),
    rssMb: round((after.rss - before.rss) / MB, 1),
    heapMb: round((after.heap - before.heap) / MB, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// Suite benchmark: retrieval configurations × chunking strategies on a project

/** Partial retrieval settings laid over the project's (nested objects merge key by key). */
export type RetrievalOverrides = { [K in keyof RetrievalConfig]?: RetrievalConfig[K] extends object ? Partial<RetrievalConfig[K]> : RetrievalConfig[K] };

export interface SuiteGridEntry {
  /** Row label, e.g. "k1=0.9 b=0.4". */
  name: string;
  retrieval?: RetrievalOverrides;
  /** `models.embedder` for this row (default: the project's). */
  embedder?: string;
  /**
   * Measure this row under one chunking strategy only: the project's (or the first one measured).
   * For rows that embed every chunk with a local model, which costs time per strategy.
   */
  configuredStrategyOnly?: boolean;
}

/** The semantic row of the default grid: use-lite vectors, weighted fusion, then the offline reranker. */
export const SEMANTIC_ROW = "use-lite hybrid";
/** The lexical row it is compared with (today's default: BM25 + the offline reranker). */
export const LEXICAL_ROW = "bm25+rerank";

/**
 * The configurations measured by default, each laid over the project's own retrieval settings:
 * the project as configured; plain BM25, BM25 + PRF, BM25 + the offline reranker; two BM25
 * parameter points, no and a strong heading boost, small-to-big (each on top of the project's
 * settings); dense and hybrid (these need `models.embedder`; without one the row says so).
 */
export const DEFAULT_SUITE_GRID: SuiteGridEntry[] = [
  { name: "config" },
  { name: "bm25", retrieval: { mode: "lexical", prf: { enabled: false }, rerank: "none" } },
  { name: "bm25+prf", retrieval: { mode: "lexical", prf: { enabled: true }, rerank: "none" } },
  { name: "bm25+rerank", retrieval: { mode: "lexical", prf: { enabled: false }, rerank: "offline" } },
  { name: "k1=0.9 b=0.4", retrieval: { k1: 0.9, b: 0.4 } },
  { name: "k1=1.6 b=0.9", retrieval: { k1: 1.6, b: 0.9 } },
  { name: "headingBoost=0", retrieval: { headingBoost: 0 } },
  { name: "headingBoost=2", retrieval: { headingBoost: 2 } },
  { name: "small-to-big", retrieval: { smallToBig: true } },
  { name: "dense", retrieval: { mode: "dense" } },
  { name: "hybrid", retrieval: { mode: "hybrid" } },
  // Weighted fusion with lexical weight 0.7 was chosen on ClapNQ and the pnpm/fastify dev suites
  // (bench/semantic.ts); it is not a global default because its gain depends on the corpus.
  {
    name: SEMANTIC_ROW,
    retrieval: { mode: "hybrid", fusion: { method: "weighted", lexicalWeight: 0.7 }, rerank: "offline" },
    embedder: "use-lite",
    configuredStrategyOnly: true,
  },
];

/** use-lite hybrid vs lexical on the project's own suite, and what to do about it. */
export interface SemanticVerdict {
  strategy: ChunkingStrategy;
  cases: number;
  k: number;
  lexical: { config: string; recallAtK: number; mrr: number; searchMs: number };
  semantic: { config: string; recallAtK: number; mrr: number; searchMs: number };
  /** semantic − lexical. */
  recallGain: number;
  mrrGain: number;
  recommended: boolean;
  /** One sentence with the numbers, e.g. for the decision's evidence. */
  advice: string;
}

/** Recommend semantic retrieval when it finds more gold sources in the top k and ranks them no worse. */
export function semanticVerdict(result: Pick<SuiteBenchResult, "rows" | "cases" | "k">): SemanticVerdict | undefined {
  const sem = result.rows.find((r) => r.config === SEMANTIC_ROW && r.recallAtK !== null);
  if (!sem) return undefined;
  const ran = (r: SuiteBenchRow) => r.strategy === sem.strategy && r.recallAtK !== null;
  // A lexical project's "config" row is bm25+rerank already (identical settings run once, under the first name).
  const lex =
    result.rows.find((r) => ran(r) && r.config === LEXICAL_ROW) ??
    result.rows.find((r) => ran(r) && r.config === "config" && /^bm25\(.*rerank\(offline/.test(r.retriever) && !r.retriever.includes("hybrid"));
  if (!lex) return undefined;
  const recallGain = round(sem.recallAtK! - lex.recallAtK!, 4);
  const mrrGain = round(sem.mrr! - lex.mrr!, 4);
  const recommended = recallGain > 0 && mrrGain >= 0;
  const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;
  const measured = `semantic retrieval (use-lite hybrid) measured ${signed(recallGain)} recall@${result.k} and ${signed(mrrGain)} MRR vs lexical on your suite (${result.cases} cases, chunking ${sem.strategy})`;
  const advice = recommended
    ? `${measured}: recommended — set models.embedder: use-lite, retrieval.mode: hybrid, retrieval.fusion: {method: weighted, lexicalWeight: 0.7}`
    : `${measured}: not recommended — lexical retrieval is as good here without the embedding pass (~60 ms a chunk at ingest, ~290 MB)`;
  return {
    strategy: sem.strategy,
    cases: result.cases,
    k: result.k,
    lexical: { config: lex.config, recallAtK: lex.recallAtK!, mrr: lex.mrr!, searchMs: lex.searchMs! },
    semantic: { config: sem.config, recallAtK: sem.recallAtK!, mrr: sem.mrr!, searchMs: sem.searchMs! },
    recallGain,
    mrrGain,
    recommended,
    advice,
  };
}

export interface SuiteBenchRow {
  strategy: ChunkingStrategy;
  config: string;
  /** The retriever that ran (its own name, e.g. "bm25(k1=1.2,b=0.75,headingBoost=0.5)"), or "" when unavailable. */
  retriever: string;
  /** The retrieval overrides of this row, as given. */
  overrides: RetrievalOverrides;
  chunks: number;
  /** Cases scored (those with gold `sources`, extraction cases excluded, as in `ragtune eval`). */
  cases: number;
  k: number;
  /** Mean recall@k / hit@k / MRR over the k retrieved chunks, computed exactly as `ragtune eval` does. */
  recallAtK: number | null;
  hitAtK: number | null;
  mrr: number | null;
  /** Mean recall@20: headroom a reranker over 20 candidates could use. */
  recall20: number | null;
  /** Mean per-query search latency, ms. */
  searchMs: number | null;
  /** Why the row could not run (e.g. dense without `models.embedder`, or a chunking error). */
  error?: string;
}

export interface SuiteBenchResult {
  project: string;
  suite: string;
  cases: number;
  k: number;
  strategies: { strategy: ChunkingStrategy; chunks: number; ingestMs: number; error?: string }[];
  rows: SuiteBenchRow[];
  /** The row with the best recall@k (ties: MRR, then the earlier row). */
  best?: { strategy: ChunkingStrategy; config: string };
  /** use-lite hybrid vs bm25+rerank, when both rows ran. */
  semantic?: SemanticVerdict;
}

export interface BenchSuiteOptions {
  /** The project: its parsed config and root folder (`loadConfig()` gives both). */
  project: { config: RagtuneConfig; root: string };
  /** Suite file (YAML or JSONL) with gold `sources`. */
  suite: string;
  /** Retrieval configurations (default `DEFAULT_SUITE_GRID`). */
  grid?: SuiteGridEntry[];
  /** Chunking strategies (default: all four). */
  strategies?: ChunkingStrategy[];
  factory?: RagtuneRetrieverFactory;
  onProgress?: (text: string) => void;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = v === undefined ? out[k] : deepMerge(out[k], v);
  return out as T;
}

/** The project's retrieval settings with a grid entry laid over them, validated like the config file. */
export function applyOverrides(base: RetrievalConfig, entry: SuiteGridEntry): RetrievalConfig {
  const parsed = ConfigSchema.shape.retrieval.safeParse(deepMerge(base, entry.retrieval ?? {}));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `retrieval.${i.path.join(".")}: ${i.message}`).join("; ");
    throw new InputError(`grid entry '${entry.name}': ${issues}`);
  }
  return parsed.data;
}

/** recall@k / MRR of a project's suite for each chunking strategy × retrieval configuration. */
export async function benchRetrievalSuite(options: BenchSuiteOptions): Promise<SuiteBenchResult> {
  const { config, root } = options.project;
  const factory = options.factory ?? buildRagtuneRetriever;
  const suite = loadSuite(options.suite);
  const cases = suite.cases.filter((c) => c.sources?.length && c.task !== "extract");
  if (cases.length === 0) {
    throw new InputError(`${options.suite}: no case has gold \`sources\` (retrieval is scored against them); add sources to qa/classify cases`);
  }
  const strategies = options.strategies ?? [...CHUNKING_STRATEGIES];
  const singleStrategy = strategies.includes(config.chunking.strategy) ? config.chunking.strategy : strategies[0];
  // Identical settings are measured once, under the first name that produced them.
  const seen = new Set<string>();
  const grid: { entry: SuiteGridEntry; retrieval: RetrievalConfig }[] = [];
  for (const entry of options.grid ?? DEFAULT_SUITE_GRID) {
    const retrieval = applyOverrides(config.retrieval, entry);
    const key = JSON.stringify([retrieval, entry.embedder ?? config.models.embedder]);
    if (seen.has(key)) continue;
    seen.add(key);
    grid.push({ entry, retrieval });
  }

  const result: SuiteBenchResult = { project: config.name, suite: options.suite, cases: cases.length, k: config.retrieval.k, strategies: [], rows: [] };
  for (const strategy of strategies) {
    options.onProgress?.(`ingest (${strategy})`);
    const store = openStore(":memory:");
    let chunks: Chunk[] = [];
    let error: string | undefined;
    const t0 = performance.now();
    try {
      const chunking = { ...config.chunking, strategy };
      await ingestProject({ root, sources: config.sources, chunking, store });
      chunks = store.chunks();
    } catch (err) {
      error = `chunking '${strategy}' failed: ${(err as Error).message}`;
    } finally {
      store.close();
    }
    result.strategies.push({ strategy, chunks: chunks.length, ingestMs: round(performance.now() - t0, 1), ...(error ? { error } : {}) });

    for (const { entry, retrieval } of grid) {
      if (entry.configuredStrategyOnly && strategy !== singleStrategy) continue;
      options.onProgress?.(`${strategy} × ${entry.name}`);
      const row: SuiteBenchRow = {
        strategy,
        config: entry.name,
        retriever: "",
        overrides: entry.retrieval ?? {},
        chunks: chunks.length,
        cases: cases.length,
        k: retrieval.k,
        recallAtK: null,
        hitAtK: null,
        mrr: null,
        recall20: null,
        searchMs: null,
      };
      result.rows.push(row);
      if (error) {
        row.error = error;
        continue;
      }
      let searcher: RagtuneSearcher;
      try {
        const models = entry.embedder ? { ...config.models, embedder: entry.embedder } : config.models;
        searcher = await factory(chunks, { retrieval, models, root });
      } catch (err) {
        // A setting this project cannot run (dense without an embedder, a missing model folder)
        // is one row's finding, not the end of the grid.
        row.error = (err as Error).message.split("\n")[0];
        continue;
      }
      row.retriever = searcher.name;
      let recall = 0;
      let hit = 0;
      let mrr = 0;
      let recall20 = 0;
      let searchMs = 0;
      for (const c of cases) {
        const started = performance.now();
        const hits = await searcher.search(c.input, { k: retrieval.k });
        searchMs += performance.now() - started;
        const asSources = (hs: Hit[]) => hs.map((h) => ({ id: h.chunk.id, path: h.chunk.path, headingPath: h.chunk.headingPath, spans: h.chunk.spans }));
        const s = retrievalScores(c.sources!, asSources(hits), retrieval.k);
        recall += s.recallAtK;
        hit += s.hitAtK;
        mrr += s.mrr;
        const deep = await searcher.search(c.input, { k: 20 });
        recall20 += retrievalScores(c.sources!, asSources(deep), 20).recallAtK;
      }
      const n = cases.length;
      row.recallAtK = round(recall / n, 4);
      row.hitAtK = round(hit / n, 4);
      row.mrr = round(mrr / n, 4);
      row.recall20 = round(recall20 / n, 4);
      row.searchMs = round(searchMs / n);
    }
  }
  let best: SuiteBenchRow | undefined;
  for (const row of result.rows) {
    if (row.recallAtK === null) continue;
    if (!best || row.recallAtK > best.recallAtK! || (row.recallAtK === best.recallAtK && row.mrr! > best.mrr!)) best = row;
  }
  if (best) result.best = { strategy: best.strategy, config: best.config };
  const semantic = semanticVerdict(result);
  if (semantic) result.semantic = semantic;
  return result;
}
