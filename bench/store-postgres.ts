/**
 * The Postgres store next to the SQLite one on a real corpus (pnpm-docs, 762 files, copied to a
 * temp project): full ingest through the CLI on each store, `store migrate` time, then in-process
 * the cost of what a serving replica does: open the store (worker start), load the BM25 index
 * from the persisted statistics (once per generation), a generation() call (per request), and the
 * bytes per chunk each store takes. Needs PostgreSQL binaries (test/helpers/postgres.ts).
 *
 *   node --import tsx bench/store-postgres.ts [--rounds 5]
 * Writes bench/results/store-postgres.json.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openStore, type Store } from "../src/store/index.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { project as pnpm } from "./corpora/pnpm-docs/project.ts";
import { startPostgres } from "../test/helpers/postgres.ts";

const roundsArg = process.argv.indexOf("--rounds");
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
const here = fileURLToPath(new URL(".", import.meta.url));
const datasets = join(here, "..", "..", "shared", "datasets");
const bin = join(here, "..", "bin", "ragtune.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const root = mkdtempSync(join(tmpdir(), "ragtune-bench-pg-"));
const server = await startPostgres();
try {
  for (const c of pnpm.copy) cpSync(join(datasets, pnpm.dataset, c), join(root, c), { recursive: true });
  const sources = pnpm.sources.map((s) => `  - include: "${s.include}"\n    version: "${s.version}"`).join("\n");
  const yaml = (extra: string) => `name: bench\nsources:\n${sources}\n${extra}`;
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const t0 = performance.now();
    execFileSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    return performance.now() - t0;
  };
  const pgUrl = server.createDatabase("bench_ingest");
  const migrateUrl = server.createDatabase("bench_migrate");
  // Full ingests, alternating stores (the machine is shared: pairs, not one-off timings).
  const ingest = { sqlite: [] as number[], postgres: [] as number[] };
  for (let i = 0; i < 2; i++) {
    rmSync(join(root, ".ragtune"), { recursive: true, force: true });
    writeFileSync(join(root, "ragtune.yaml"), yaml(""));
    ingest.sqlite.push(cli(["ingest"]));
    const c = new pg.Client(pgUrl);
    await c.connect();
    await c.query("DROP TABLE IF EXISTS chunk_terms, lexical_terms, chunks, documents, meta");
    await c.end();
    writeFileSync(join(root, "ragtune.yaml"), yaml(`store:\n  kind: postgres\n  urlEnv: BENCH_PG\n`));
    ingest.postgres.push(cli(["ingest"], { BENCH_PG: pgUrl }));
  }
  writeFileSync(join(root, "ragtune.yaml"), yaml(""));
  const migrateMs = cli(["store", "migrate", "--to", migrateUrl]);
  const file = join(root, ".ragtune", "index.db");

  const opts = { k1: 1.2, b: 0.75, headingBoost: 2, rerankTokens: true };
  const measure = (open: () => Store) => {
    const openMs: number[] = [];
    const loadMs: number[] = [];
    const genUs: number[] = [];
    let chunks = 0;
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      const s = open();
      openMs.push(performance.now() - t0);
      t0 = performance.now();
      chunks = Bm25Index.fromStore(s, opts).size;
      loadMs.push(performance.now() - t0);
      t0 = performance.now();
      for (let i = 0; i < 1000; i++) s.generation();
      genUs.push(((performance.now() - t0) / 1000) * 1000);
      s.close();
    }
    return { chunks, openMs: median(openMs), bm25LoadMs: median(loadMs), generationCallUs: median(genUs) };
  };
  const cpu0 = process.cpuUsage();
  const sqlite = measure(() => openStore(file));
  const postgres = measure(() => openPostgresStore(migrateUrl));
  const cpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;

  const c = new pg.Client(migrateUrl);
  await c.connect();
  const size = Number((await c.query("SELECT sum(pg_total_relation_size(t))::bigint AS n FROM unnest(ARRAY['documents','chunks','meta','lexical_terms','chunk_terms']) t")).rows[0].n);
  await c.end();
  const result = {
    corpus: "pnpm-docs",
    chunks: sqlite.chunks,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
    ingestMs: { sqlite: ingest.sqlite.map(Math.round), postgres: ingest.postgres.map(Math.round) },
    migrateMs: Math.round(migrateMs),
    sqlite: { ...sqlite, bytesPerChunk: Math.round(statSync(file).size / sqlite.chunks) },
    postgres: { ...postgres, bytesPerChunk: Math.round(size / postgres.chunks) },
    measureCpuMs: Math.round(cpuMs),
    rounds,
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(here, "results"), { recursive: true });
  writeFileSync(join(here, "results", "store-postgres.json"), JSON.stringify(result, null, 2) + "\n");
} finally {
  server.stop();
  rmSync(root, { recursive: true, force: true });
}
