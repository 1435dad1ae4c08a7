/**
 * Index versions on Postgres on a real corpus (pnpm-docs, 762 files, copied to a temp project,
 * stored in Postgres): the size of one version's copy (the SQLite snapshot) raw and gzip'd as the
 * "versions" service stores it, and the wall and CPU time of recording a version and of a
 * rollback, alternating with the same on the SQLite store + files. Needs PostgreSQL binaries.
 *
 *   node --import tsx bench/index-versions-postgres.ts [--rounds 3]
 * Writes bench/results/index-versions-postgres.json.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { openStore, type SnapshotSource, type Store } from "../src/store/index.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { FileIndexVersions, type IndexVersions } from "../src/store/versions.ts";
import { PostgresIndexVersions } from "../src/store/versions-postgres.ts";
import { project as pnpm } from "./corpora/pnpm-docs/project.ts";
import { startPostgres } from "../test/helpers/postgres.ts";

const roundsArg = process.argv.indexOf("--rounds");
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const here = fileURLToPath(new URL(".", import.meta.url));
const datasets = join(here, "..", "..", "shared", "datasets");
const bin = join(here, "..", "bin", "ragtune.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const root = mkdtempSync(join(tmpdir(), "ragtune-bench-versions-"));
const server = await startPostgres();
try {
  for (const c of pnpm.copy) cpSync(join(datasets, pnpm.dataset, c), join(root, c), { recursive: true });
  const sources = pnpm.sources.map((s) => `  - include: "${s.include}"\n    version: "${s.version}"`).join("\n");
  writeFileSync(join(root, "ragtune.yaml"), `name: bench\nsources:\n${sources}\n`);
  execFileSync(process.execPath, [bin, "ingest"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  const file = join(root, ".ragtune", "index.db");
  const lite = openStore(file);
  const pgUrl = server.createDatabase("bench_versions");
  const pgStore = openPostgresStore(pgUrl, { timeoutMs: 10 * 60_000 });
  pgStore.applyIngest({ upserts: lite.documents().map((doc) => ({ doc, chunks: lite.chunks({ pathPrefix: doc.path }).filter((c) => c.path === doc.path) })), removals: [] });
  const chunks = lite.chunks().length;

  // One copy as the service stores it.
  const probe = join(root, "probe.db");
  pgStore.snapshotTo(probe);
  const raw = readFileSync(probe);
  const cpu0 = process.cpuUsage();
  const gz = gzipSync(raw);
  const gzipCpuMs = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000;
  rmSync(probe);

  const backends: { name: string; store: Store & SnapshotSource; versions: IndexVersions }[] = [
    { name: "sqlite+files", store: lite, versions: new FileIndexVersions(file) },
    { name: "postgres", store: pgStore, versions: new PostgresIndexVersions(pgStore.connection) },
  ];
  const timed = (fn: () => void) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  };
  const results: Record<string, { record: { wallMs: number; cpuMs: number }[]; rollback: { wallMs: number; cpuMs: number }[] }> = {};
  for (const b of backends) results[b.name] = { record: [], rollback: [] };
  for (let r = 0; r < rounds; r++) {
    for (const b of backends) {
      results[b.name].record.push(timed(() => b.versions.record(b.store, { note: "bench", configHash: "x", force: true })));
      const first = b.versions.list().filter((v) => v.snapshot)[0].version;
      results[b.name].rollback.push(timed(() => b.versions.rollback(b.store, first, "x")));
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, v]) => [
      k,
      {
        recordWallMs: Math.round(median(v.record.map((x) => x.wallMs))),
        recordMainCpuMs: Math.round(median(v.record.map((x) => x.cpuMs))),
        rollbackWallMs: Math.round(median(v.rollback.map((x) => x.wallMs))),
        rollbackMainCpuMs: Math.round(median(v.rollback.map((x) => x.cpuMs))),
      },
    ]),
  );
  const out = {
    corpus: "pnpm-docs",
    documents: lite.documents().length,
    chunks,
    copyBytes: raw.length,
    copyGzipBytes: gz.length,
    gzipRatio: Number((raw.length / gz.length).toFixed(2)),
    gzipCpuMs: Math.round(gzipCpuMs),
    rounds,
    summary,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(join(here, "results", "index-versions-postgres.json"), JSON.stringify(out, null, 2) + "\n");
  for (const b of backends) b.versions.close();
  lite.close();
  pgStore.close();
} finally {
  server.stop();
  rmSync(root, { recursive: true, force: true });
}
