/**
 * Dense search on the Postgres store: answered by the server per query (`store.vectors.search:
 * server`) vs the vectors loaded into the process (`memory`), on pnpm-docs (../shared/datasets,
 * every version: the real chunk count) with a real project pipeline.
 *
 *   node --import tsx bench/pg-dense-search.ts [--embedder hashing:384] [--runs 3] [--ef 40,100,200]
 *
 * 1. Ingest pnpm-docs into a SQLite project and embed it (the embedder named; hashing:384 by
 *    default — use-lite costs ~30 ms a chunk here), then `store migrate` it into a private
 *    PostgreSQL 15 (test/helpers/postgres.ts; Debian's has no pgvector → the plain table).
 * 2. Per mode, in a fresh child process (so RSS is that mode's alone), alternating the modes
 *    `--runs` times: open the Postgres project, build the retrieval (timed: what a replica pays at
 *    start and after every ingest), then the dense searcher alone on the suite's questions
 *    (embedded once, not timed): p50/p95 per query, recall@10 against exact top-10 (SQLite,
 *    in memory), RSS and heap after.
 * 3. pgvector: the same vectors in PGlite with pgvector (in-process WASM PostgreSQL, HNSW,
 *    m 16 / ef_construction 64), recall@10 and p50/p95 per ef_search — the server-side HNSW a
 *    real server with pgvector would run (PGlite is single-threaded WASM: slower than a server).
 * Load average printed with every timing. Writes bench/results/pg-dense-search-<embedder>.json.
 */
import os from "node:os";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseConfig, type LoadedConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/project.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { migrateSqliteToPostgres } from "../src/store/migrate.ts";
import { openVectorStore } from "../src/store/vectors.ts";
import { ExactVectorIndex, chunksForIds } from "../src/retrieve/dense.ts";
import { project as pnpm } from "./corpora/pnpm-docs/project.ts";
import { openVectorStoreFor } from "../src/store/vectors-open.ts";
import type { SearchableVectorStore } from "../src/store/vectors.ts";
import { ServerVectorIndex } from "../src/retrieve/dense-server.ts";
import { chooseVectorIndex } from "../src/retrieve/ann.ts";
import type { VectorSearcher } from "../src/retrieve/index.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = resolve(ROOT, "../shared/datasets/pnpm-docs");
const RESULTS_FOR = (embedder: string) => join(ROOT, `bench/results/pg-dense-search-${embedder.replace(/[^a-z0-9.-]+/gi, "_")}.json`);
const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : dflt);
const EMBEDDER = arg("embedder", "hashing:384");
const RESULTS = RESULTS_FOR(EMBEDDER);
const RUNS = Number(arg("runs", "3"));
const EFS = arg("ef", "40,100,200").split(",").map(Number);
const K = 10;
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(" ");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

function loaded(storeDir: string, extra = ""): LoadedConfig {
  const yaml =
    `name: pnpm-bench\nstoreDir: ${storeDir}\nsources:\n` +
    pnpm.sources.map((s) => `  - include: "${s.include}"\n    version: "${s.version}"\n`).join("") +
    `models:\n  embedder: "${EMBEDDER}"\nretrieval:\n  mode: dense\n${extra}`;
  return { config: parseConfig(yaml), root: DATA, path: join(storeDir, "ragtune.yaml") };
}

function questions(): string[] {
  const dir = join(ROOT, "bench/corpora/pnpm-docs");
  return ["dev.yaml", "holdout.yaml"].flatMap((f) => ((parse(readFileSync(join(dir, f), "utf8")) as { cases: { input: string }[] }).cases ?? []).map((c) => c.input));
}

/** Child: one mode on the Postgres project; prints one JSON line. */
async function child(mode: "server" | "memory", url: string, storeDir: string, exactFile: string): Promise<void> {
  process.env.RAGTUNE_BENCH_PG = url;
  const p: Project = openProject(loaded(storeDir, `store:\n  kind: postgres\n  urlEnv: RAGTUNE_BENCH_PG\n  vectors:\n    search: ${mode}\n`));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pipeline = await p.retrieval();
  const buildMs = performance.now() - t0;
  const buildCpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;
  void pipeline;
  const embedder = p.embedder()!;
  // the searcher buildRetrieval made for this mode, made the same way (the pipeline does not expose it)
  const vstore = openVectorStoreFor(p);
  const byIdAll = new Map(p.store.chunks().map((c) => [c.id, c]));
  let searcher: VectorSearcher;
  if (mode === "server") searcher = new ServerVectorIndex(vstore as SearchableVectorStore, embedder.id, byIdAll);
  else {
    const l = vstore.load(embedder.id);
    searcher = chooseVectorIndex(p.config.retrieval.ann, p.config.retrieval.annThreshold, chunksForIds(l.ids, byIdAll), l.matrix, l.dims);
  }
  const dense = { searcher };
  const qs = questions();
  const vectors = await embedder.embed(qs, "query");
  // exact reference from the SQLite copy
  const lite = openVectorStore(exactFile);
  const ref = lite.load(embedder.id);
  lite.close();
  const byId = new Map(p.store.chunks().map((c) => [c.id, c]));
  const exact = new ExactVectorIndex(chunksForIds(ref.ids, byId), ref.matrix, ref.dims);
  const times: number[] = [];
  let agree = 0;
  let agreeTies = 0;
  for (let round = 0; round < 3; round++) {
    vectors.forEach((q) => {
      const s = performance.now();
      const hits = dense.searcher.search(q, { k: K }) as { chunk: { id: string } }[];
      times.push(performance.now() - s);
      if (round === 0) {
        const r = agreement(exact.search(q, { k: K }), hits.map((h) => ({ id: h.chunk.id, score: (h as unknown as { score: number }).score })));
        agree += r.ids;
        agreeTies += r.scores;
      }
    });
  }
  const mem = process.memoryUsage();
  console.log(
    JSON.stringify({
      mode,
      searcher: dense.searcher.name,
      chunks: byId.size,
      queries: qs.length,
      buildMs,
      buildCpuMs,
      p50: pct(times, 50),
      p95: pct(times, 95),
      recallAt10: agree / (K * qs.length),
      recallAt10TiesOk: agreeTies / (K * qs.length),
      rssMB: mem.rss / 2 ** 20,
      heapMB: mem.heapUsed / 2 ** 20,
      arrayBuffersMB: mem.arrayBuffers / 2 ** 20,
      load: load(),
    }),
  );
  p.close();
}

/**
 * Hits of the exact top-k found (`ids`), and hits scoring at least the exact k-th score (`scores`):
 * pnpm-docs repeats a section verbatim across its ten versions, so equal vectors tie at the cut and
 * which of them is "the" top 10 is arbitrary — the second count forgives exactly those swaps.
 */
function agreement(exact: { chunk: { id: string }; score: number }[], got: { id: string; score: number }[]): { ids: number; scores: number } {
  const truth = new Set(exact.map((h) => h.chunk.id));
  const kth = exact.length ? exact[exact.length - 1].score : -Infinity;
  return { ids: got.filter((h) => truth.has(h.id)).length, scores: got.filter((h) => truth.has(h.id) || h.score >= kth - 1e-5).length };
}

async function pgvectorOnPglite(exactFile: string, storeDir: string) {
  const { PGlite } = await import("@electric-sql/pglite");
  const { vector } = await import("@electric-sql/pglite-pgvector");
  const { AsyncPostgresStore } = await import("../src/store/postgres/store.ts");
  const { pgliteDatabase } = await import("../src/store/postgres/executor.ts");
  const { openPgVectorStore } = await import("../src/store/postgres/vectors.ts");
  const { readSqliteState, readSqliteVectors } = await import("../src/store/postgres/snapshots.ts");
  const db = pgliteDatabase(new PGlite({ extensions: { vector } }));
  const store = await AsyncPostgresStore.open({ ...db, close: async () => undefined });
  const state = readSqliteState(exactFile);
  await store.applyIngest({ upserts: state.upserts, removals: [], meta: state.meta, perDocumentErrors: false });
  const vs = await openPgVectorStore(db, { server: "pglite" });
  const rows = readSqliteVectors(exactFile);
  let t = performance.now();
  await vs.put(rows);
  const putMs = performance.now() - t;
  const p = openProject(loaded(storeDir));
  const embedder = p.embedder()!;
  const qs = await embedder.embed(questions(), "query");
  const lite = openVectorStore(exactFile);
  const ref = lite.load(embedder.id);
  lite.close();
  const exact = new ExactVectorIndex(chunksForIds(ref.ids, new Map(p.store.chunks().map((c) => [c.id, c]))), ref.matrix, ref.dims);
  const out = [];
  for (const ef of EFS) {
    const s = await openPgVectorStore(db, { server: "pglite", efSearch: ef });
    const times: number[] = [];
    let agree = 0;
    let agreeTies = 0;
    for (const q of qs) {
      t = performance.now();
      const hits = await s.search(embedder.id, q, K);
      times.push(performance.now() - t);
      const r = agreement(exact.search(q, { k: K }), hits.map((h) => ({ id: h.chunkId, score: h.score })));
      agree += r.ids;
      agreeTies += r.scores;
    }
    out.push({ efSearch: ef, p50: pct(times, 50), p95: pct(times, 95), recallAt10: agree / (K * qs.length), recallAt10TiesOk: agreeTies / (K * qs.length), load: load() });
  }
  p.close();
  await db.close();
  return { putMs, vectors: rows.length, search: out };
}

async function main() {
  if (process.argv[2] === "--child") return child(process.argv[3] as "server" | "memory", process.argv[4], process.argv[5], process.argv[6]);
  const { startPostgres } = await import("../test/helpers/postgres.ts");
  const work = mkdtempSync(join(os.tmpdir(), "ragtune-pgdense-"));
  const storeDir = join(work, "store");
  const server = await startPostgres();
  try {
    let t = performance.now();
    const lite = openProject(loaded(storeDir));
    const stats = await reindexProject(lite);
    lite.close();
    console.log(`ingest + embed (${EMBEDDER}): ${stats.chunks} chunks, ${((performance.now() - t) / 1000).toFixed(1)} s, load ${load()}`);
    const exactFile = join(storeDir, "index.db");
    const url = server.createDatabase("pgdense");
    t = performance.now();
    const m = migrateSqliteToPostgres(exactFile, url);
    console.log(`migrate: ${m.source.chunks} chunks, ${m.vectors?.source.vectors} vectors (${m.vectors?.target.mode}), ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const runs: Record<string, unknown>[] = [];
    for (let r = 0; r < RUNS; r++) {
      for (const mode of r % 2 ? ["memory", "server"] : ["server", "memory"]) {
        const line = execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", mode, url, storeDir, exactFile, "--embedder", EMBEDDER], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
          maxBuffer: 1 << 26,
        });
        const res = JSON.parse(line.trim().split("\n").pop()!);
        runs.push(res);
        console.log(
          `${mode.padEnd(6)} ${res.searcher}: build ${res.buildMs.toFixed(0)} ms (cpu ${res.buildCpuMs.toFixed(0)}), p50 ${res.p50.toFixed(2)} / p95 ${res.p95.toFixed(2)} ms, recall@10 ${res.recallAt10.toFixed(3)} (ties ok ${res.recallAt10TiesOk.toFixed(3)}), RSS ${res.rssMB.toFixed(0)} MB (heap ${res.heapMB.toFixed(0)}, buffers ${res.arrayBuffersMB.toFixed(0)}), load ${res.load}`,
        );
      }
    }
    const pgvector = await pgvectorOnPglite(exactFile, storeDir);
    console.log(`pgvector on PGlite: put ${pgvector.vectors} in ${(pgvector.putMs / 1000).toFixed(1)} s`);
    for (const s of pgvector.search) console.log(`  ef_search ${s.efSearch}: p50 ${s.p50.toFixed(2)} / p95 ${s.p95.toFixed(2)} ms, recall@10 ${s.recallAt10.toFixed(3)} (ties ok ${s.recallAt10TiesOk.toFixed(3)}), load ${s.load}`);
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(`${RESULTS}.tmp`, JSON.stringify({ embedder: EMBEDDER, chunks: stats.chunks, cpus: os.cpus().length, runs, pgvector }, null, 2) + "\n");
    renameSync(`${RESULTS}.tmp`, RESULTS);
    console.log(`wrote ${RESULTS}`);
  } finally {
    server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
