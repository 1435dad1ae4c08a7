/**
 * Vectors on Postgres (src/store/postgres/vectors.ts) on PGlite (in-process WASM PostgreSQL 18,
 * pgvector 0.8.7): what a deployment without the SQLite file pays and gets.
 *
 *   node --import tsx bench/pg-vectors.ts [--shape random|clustered] [--n 20000] [--dims 384] [--queries 200]
 *     [--noise 0.6] [--ef 40,100,200,400] [--m 16] [--ef-construction 64] [--skip-plain] [--skip-incremental]
 *
 * Seeded unit vectors: `random` (isotropic: the hardest case for a graph index, where the nearest
 * neighbours are barely nearer than the rest) or `clustered` (a 200-Gaussian mixture, queries from
 * the same mixture: the shape bench/dense.ts uses as the stand-in for real embeddings; `--noise`
 * widens the clusters, 0.6 as there by default). For each mode:
 * - pgvector: one `put` of all n rows (rows, then the HNSW index built over them in the same
 *   transaction) and, on a second database, n/1000 puts of 1000 (index built on the first
 *   batch, later rows inserted into the graph one by one: the incremental-ingest case);
 *   search p50/p95 latency and recall@10 against exact top-10 per ef_search; bytes per vector
 *   (table + TOAST) and of the index.
 * - plain (no pgvector): put time, first search (loads the matrix), warm search p50/p95, bytes.
 * Wall and process CPU time (PGlite runs in this process). Prints, writes bench/results/pg-vectors-<shape>.json.
 */
import os from "node:os";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { openPgVectorStore } from "../src/store/postgres/vectors.ts";
import { clusteredUnitVectors, createChunksTable, exactTopIds, insertChunks, randomUnitVectors, syntheticChunks, textHashOf } from "./lib/pg-chunks.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SHAPE = process.argv.includes("--shape") ? process.argv[process.argv.indexOf("--shape") + 1] : "random";
if (SHAPE !== "random" && SHAPE !== "clustered") throw new Error("--shape is random or clustered");
const HNSW_SUFFIX = process.argv.includes("--ef-construction") || process.argv.includes("--m") ? "-custom-hnsw" : "";
const NOISE = Number(process.argv.includes("--noise") ? process.argv[process.argv.indexOf("--noise") + 1] : "0.6");
const RESULTS = join(ROOT, `bench/results/pg-vectors-${SHAPE}${SHAPE === "clustered" && NOISE !== 0.6 ? `-noise${NOISE}` : ""}${HNSW_SUFFIX}.json`);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg("n", "20000"));
const DIMS = Number(arg("dims", "384"));
const QUERIES = Number(arg("queries", "200"));
const EFS = arg("ef", "40,100,200,400").split(",").map(Number);
const HNSW = { m: Number(arg("m", "16")), efConstruction: Number(arg("ef-construction", "64")) };
const SKIP_PLAIN = process.argv.includes("--skip-plain");
const SKIP_INCREMENTAL = process.argv.includes("--skip-incremental");

const chunks = syntheticChunks(N, 200);
const drawn = SHAPE === "clustered" ? clusteredUnitVectors(N + QUERIES, DIMS, 42, NOISE) : undefined;
const vectors = drawn ? drawn.slice(0, N) : randomUnitVectors(N, DIMS, 1);
const queries = drawn ? drawn.slice(N) : randomUnitVectors(QUERIES, DIMS, 2);
const ids = chunks.map((c) => c.id);
const rows = chunks.map((c, i) => ({ chunkId: c.id, embedder: "bench", vector: vectors[i], textHash: textHashOf(c) }));
console.log(`computing exact top-10 for ${QUERIES} queries over ${N}×${DIMS}…`);
const exact = queries.map((q) => new Set(exactTopIds(ids, vectors, q, 10)));

function timed<T>(fn: () => Promise<T>): Promise<{ out: T; wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then((out) => {
    const c = process.cpuUsage(c0);
    return { out, wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  });
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const r1 = (x: number) => Math.round(x * 10) / 10;

async function freshDb(withPgvector: boolean): Promise<PGlite> {
  const db = withPgvector ? new PGlite({ extensions: { vector } }) : new PGlite();
  await createChunksTable(db);
  await insertChunks(db, chunks);
  return db;
}

async function sizes(db: PGlite): Promise<{ tableBytesPerVector: number; indexBytesPerVector: number }> {
  const t = await db.query<{ table: number; hnsw: number }>(
    `SELECT pg_table_size('chunk_vectors')::float8 AS table,
            coalesce((SELECT sum(pg_relation_size(indexname::regclass)) FROM pg_indexes WHERE tablename = 'chunk_vectors' AND indexdef ILIKE '%hnsw%'), 0)::float8 AS hnsw`,
  );
  return { tableBytesPerVector: r1(t.rows[0].table / N), indexBytesPerVector: r1(t.rows[0].hnsw / N) };
}

async function searchRun(search: (q: Float32Array) => Promise<{ chunkId: string }[]>) {
  const lat: number[] = [];
  let found = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < queries.length; i++) {
    const t0 = performance.now();
    const hits = await search(queries[i]);
    lat.push(performance.now() - t0);
    found += hits.filter((h) => exact[i].has(h.chunkId)).length;
  }
  const c = process.cpuUsage(c0);
  return { p50Ms: r1(pct(lat, 0.5)), p95Ms: r1(pct(lat, 0.95)), cpuMsPerQuery: r1((c.user + c.system) / 1000 / queries.length), recallAt10: found / (10 * queries.length) };
}

const results: Record<string, unknown> = { shape: SHAPE, noise: SHAPE === "clustered" ? NOISE : undefined, hnsw: HNSW, n: N, dims: DIMS, queries: QUERIES, loadavgStart: os.loadavg().map(r1), cpus: os.cpus().length, node: process.version };

{
  const db = await freshDb(true);
  const store = await openPgVectorStore(db, { server: "pglite", hnsw: HNSW });
  const bulk = await timed(() => store.put(rows));
  console.log(`pgvector: one put of ${N}: ${r1(bulk.wallMs / 1000)} s wall, ${r1(bulk.cpuMs / 1000)} s CPU (rows + HNSW build), load ${os.loadavg().map(r1)}`);
  const size = await sizes(db);
  console.log(`pgvector: ${size.tableBytesPerVector} B/vector in the table, ${size.indexBytesPerVector} B/vector in the HNSW index`);
  const search: Record<string, unknown> = {};
  for (const ef of EFS) {
    const s = await openPgVectorStore(db, { server: "pglite", hnsw: HNSW, efSearch: ef });
    const r = await searchRun((q) => s.search("bench", q, 10));
    search[`ef${ef}`] = r;
    console.log(`pgvector: ef_search ${ef}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, CPU ${r.cpuMsPerQuery} ms/query, recall@10 ${r.recallAt10.toFixed(3)}`);
  }
  const [index] = await store.indexes();
  const rebuild = await timed(() => db.query(`REINDEX INDEX ${index}`));
  console.log(`pgvector: HNSW build alone (REINDEX): ${r1(rebuild.wallMs / 1000)} s wall, ${r1(rebuild.cpuMs / 1000)} s CPU`);
  const load = await timed(() => store.load("bench"));
  console.log(`pgvector: load() of all vectors as a matrix: ${r1(load.wallMs)} ms`);
  results.pgvector = { bulkPut: { wallMs: r1(bulk.wallMs), cpuMs: r1(bulk.cpuMs) }, ...size, search, indexBuild: { wallMs: r1(rebuild.wallMs), cpuMs: r1(rebuild.cpuMs) }, loadMs: r1(load.wallMs) };
  await db.close();
}

if (!SKIP_INCREMENTAL) {
  const db = await freshDb(true);
  const store = await openPgVectorStore(db, { server: "pglite", hnsw: HNSW });
  const batches = await timed(async () => {
    for (let at = 0; at < rows.length; at += 1000) await store.put(rows.slice(at, at + 1000));
  });
  const r = await searchRun((q) => store.search("bench", q, 10));
  console.log(
    `pgvector: ${Math.ceil(N / 1000)} puts of 1000: ${r1(batches.wallMs / 1000)} s wall, ${r1(batches.cpuMs / 1000)} s CPU; ef 40 recall@10 ${r.recallAt10.toFixed(3)}, load ${os.loadavg().map(r1)}`,
  );
  results.pgvectorIncremental = { puts: Math.ceil(N / 1000), wallMs: r1(batches.wallMs), cpuMs: r1(batches.cpuMs), searchEf40: r };
  await db.close();
}

if (!SKIP_PLAIN) {
  const db = await freshDb(false);
  const store = await openPgVectorStore(db, { server: "pglite", notice: () => undefined });
  const put = await timed(() => store.put(rows));
  const size = await sizes(db);
  const first = await timed(() => store.search("bench", queries[0], 10));
  const r = await searchRun((q) => store.search("bench", q, 10));
  console.log(
    `plain: one put of ${N}: ${r1(put.wallMs / 1000)} s; ${size.tableBytesPerVector} B/vector; first search (loads the matrix) ${r1(first.wallMs)} ms; ` +
      `warm p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, recall@10 ${r.recallAt10.toFixed(3)}`,
  );
  results.plain = { put: { wallMs: r1(put.wallMs), cpuMs: r1(put.cpuMs) }, ...size, firstSearchMs: r1(first.wallMs), search: r };
  await db.close();
}

results.loadavgEnd = os.loadavg().map(r1);
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, JSON.stringify(results, null, 2) + "\n");
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`wrote ${RESULTS}`);
