/**
 * Sizes for docs/deploy.md, measured with today's SQLite store on the real corpora (pnpm and
 * fastify docs from ../shared/datasets): bytes of index.db per chunk (and per table), the whole
 * <storeDir> with its index-version copies, then one `ragtune serve` process (offline reader):
 * RSS idle and under load, server CPU per answered /v1/ask (→ answers/s per core), and the
 * closed-loop throughput of that one process on this (shared, 2-core) machine.
 *
 *   node --import tsx bench/deploy-sizes.ts [--seconds 15] [--concurrency 4] [--corpus pnpm-docs] [--store postgres] [--replicas 2]
 *
 * `--store postgres` puts the project on a private PostgreSQL 15 cluster (test/helpers/postgres.ts)
 * and also reports the database's bytes per chunk and the Postgres server's CPU per answer.
 * `--replicas N` starts N serve processes on the one store and spreads the client's requests over
 * them round-robin (what a load balancer does); throughput is their sum.
 *
 * Prints a table and writes bench/results/deploy-sizes[-postgres][-rN].json with the load average.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { parse, stringify } from "yaml";
import type { CorpusProject } from "./corpora/project-types.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = join(ROOT, "..", "shared", "datasets");
const BIN = join(ROOT, "bin", "ragtune.js");
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const SECONDS = Number(arg("seconds", "15"));
const CONCURRENCY = Number(arg("concurrency", "4"));
const ONLY = arg("corpus", "");
const STORE = arg("store", "sqlite");
const REPLICAS = Number(arg("replicas", "1"));
if (STORE !== "sqlite" && STORE !== "postgres") throw new Error(`--store must be sqlite or postgres, got ${STORE}`);
if (!Number.isInteger(REPLICAS) || REPLICAS < 1) throw new Error(`--replicas must be a positive integer, got ${REPLICAS}`);
const pgServer = STORE === "postgres" ? await (await import("../test/helpers/postgres.ts")).startPostgres({ durable: true }) : undefined;
let dbCount = 0;

/** CPU ms of the Postgres server: the postmaster and its backends (children). */
function pgCpuMs(): number {
  if (!pgServer) return 0;
  const pid = Number(readFileSync(join(pgServer.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const kids = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).stdout.split("\n").map(Number).filter((n) => n > 0);
  let total = 0;
  for (const k of [pid, ...kids]) {
    try {
      total += cpuMs(k);
    } catch {
      // a backend that exited meanwhile
    }
  }
  return total;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : e.isFile() ? statSync(p).size : 0;
  }
  return n;
}

function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/** utime + stime of a process, in ms (clock ticks are 100 Hz on Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function measure(p: CorpusProject) {
  const dir = mkdtempSync(join(tmpdir(), `ragtune-deploy-${p.name}-`));
  try {
    for (const item of p.copy) cpSync(join(DATASETS, p.dataset, item), join(dir, item), { recursive: true });
    const url = pgServer?.createDatabase(`deploy_${dbCount++}`);
    writeFileSync(join(dir, "ragtune.yaml"), stringify({ name: p.name, sources: p.sources, ...(url ? { store: { kind: "postgres", url } } : {}) }));
    const t0 = Date.now();
    const ing = spawnSync(process.execPath, [BIN, "ingest", "--json"], { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
    if (ing.status !== 0) throw new Error(`ingest failed: ${ing.stderr.slice(-500)}`);
    const ingestMs = Date.now() - t0;

    const dbFile = join(dir, ".ragtune", "index.db");
    let chunks: number, documents: number, textBytes: number, indexBytes: number;
    let tables: Record<string, number> = {};
    if (url) {
      const pg = (await import("pg")).default;
      const c = new pg.Client(url);
      await c.connect();
      const one = async (sql: string) => Number((await c.query(sql)).rows[0].n);
      chunks = await one("SELECT count(*) AS n FROM chunks");
      documents = await one("SELECT count(*) AS n FROM documents");
      textBytes = await one("SELECT sum(octet_length(text)) AS n FROM chunks");
      indexBytes = await one("SELECT sum(pg_total_relation_size(c.oid)) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'");
      const rows = (await c.query("SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY bytes DESC LIMIT 8")).rows;
      tables = Object.fromEntries(rows.map((r: { name: string; bytes: string }) => [r.name, Number(r.bytes)]));
      await c.end();
    } else {
    const db = new Database(dbFile);
    db.pragma("wal_checkpoint(TRUNCATE)");
    chunks = (db.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number }).n;
    documents = (db.prepare("SELECT count(*) AS n FROM documents").get() as { n: number }).n;
    textBytes = (db.prepare("SELECT sum(length(CAST(text AS BLOB))) AS n FROM chunks").get() as { n: number }).n;
    try {
      const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC").all() as { name: string; bytes: number }[];
      tables = Object.fromEntries(rows.slice(0, 8).map((r) => [r.name, r.bytes]));
    } catch { /* dbstat not compiled in */ }
    db.close();
    indexBytes = statSync(dbFile).size;
    }
    const storeDirBytes = existsSync(join(dir, ".ragtune")) ? dirBytes(join(dir, ".ragtune")) : 0;

    // REPLICAS serve processes, offline reader, no auth (loopback), request log on (as deployed).
    const replicas: { pid: number; base: string; proc: ReturnType<typeof spawn>; stderr: () => string }[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freePort();
      const proc = spawn(process.execPath, [BIN, "serve", "--port", String(port), "--no-auth"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      proc.stderr!.on("data", (d) => { stderr += d; });
      replicas.push({ pid: proc.pid!, base: `http://127.0.0.1:${port}`, proc, stderr: () => stderr });
    }
    for (const r of replicas) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (r.proc.exitCode !== null) throw new Error(`serve exited: ${r.stderr().slice(-500)}`);
        const ok = await fetch(`${r.base}/readyz`).then((x) => x.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error("serve not ready in 60 s");
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    const idle = procStatus(replicas[0].pid);
    const suite = parse(readFileSync(join(ROOT, "bench", "corpora", p.name, "dev.yaml"), "utf8"));
    const questions: string[] = (suite.cases ?? suite).map((c: { input: string }) => c.input).filter(Boolean);
    const ask = (base: string, q: string) => fetch(`${base}/v1/ask`, { method: "POST", body: JSON.stringify({ question: q }), headers: { "content-type": "application/json", "x-ragtune-traffic": "synthetic" } });
    // Warm-up: the first answers build each replica's in-memory index.
    for (const r of replicas) for (const q of questions.slice(0, 5)) await (await ask(r.base, q)).arrayBuffer();
    const cpu0 = replicas.map((r) => cpuMs(r.pid));
    const pgCpu0 = pgCpuMs();
    const stopAt = Date.now() + SECONDS * 1000;
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY * REPLICAS }, async () => {
      while (Date.now() < stopAt) {
        const n = next++;
        const q = questions[n % questions.length];
        const t = performance.now();
        const r = await ask(replicas[n % REPLICAS].base, q);
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    const wallS = (Date.now() - started) / 1000;
    const serverCpuMs = replicas.reduce((sum, r, i) => sum + cpuMs(r.pid) - cpu0[i], 0);
    const postgresCpuMs = pgCpuMs() - pgCpu0;
    const loaded = procStatus(replicas[0].pid);
    for (const r of replicas) {
      r.proc.kill("SIGTERM");
      await new Promise((res) => r.proc.once("exit", res));
    }
    latencies.sort((a, b) => a - b);
    const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    const answered = statuses.get(200) ?? 0;
    return {
      corpus: p.name, documents, chunks, ingestMs,
      store: STORE, indexBytes, bytesPerChunk: indexBytes / chunks, chunkTextBytes: textBytes, storeDirBytes, tables,
      serve: {
        replicas: REPLICAS, seconds: wallS, concurrency: CONCURRENCY * REPLICAS, answered, statuses: Object.fromEntries(statuses),
        postgresCpuMsPerAnswer: pgServer ? postgresCpuMs / Math.max(1, answered) : null,
        qps: answered / wallS, p50Ms: pct(0.5), p95Ms: pct(0.95),
        serverCpuMsPerAnswer: serverCpuMs / Math.max(1, answered),
        answersPerCpuSecond: answered / (serverCpuMs / 1000),
        rssIdleMb: idle.rssMb, rssLoadedMb: loaded.rssMb, rssPeakMb: loaded.hwmMb,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const corpora: CorpusProject[] = [];
for (const name of ["pnpm-docs", "fastify-docs"]) {
  if (ONLY && ONLY !== name) continue;
  if (!existsSync(join(DATASETS, name))) { console.log(`skip ${name}: ${join(DATASETS, name)} absent`); continue; }
  corpora.push((await import(`./corpora/${name}/project.ts`)).project);
}
const loadBefore = loadavg();
const results = [];
for (const p of corpora) {
  const r = await measure(p);
  results.push(r);
  const s = r.serve;
  console.log(`${r.corpus} (${r.store}, ${s.replicas} replica${s.replicas > 1 ? "s" : ""}): ${r.documents} documents, ${r.chunks} chunks; index ${(r.indexBytes / 1e6).toFixed(1)} MB = ${Math.round(r.bytesPerChunk)} B/chunk (chunk text ${Math.round(r.chunkTextBytes / r.chunks)} B/chunk); .ragtune ${(r.storeDirBytes / 1e6).toFixed(1)} MB; ingest ${(r.ingestMs / 1000).toFixed(1)} s`);
  console.log(`  tables: ${Object.entries(r.tables).map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)} MB`).join(", ")}`);
  console.log(`  serve: ${s.answered} answered in ${s.seconds.toFixed(1)} s at concurrency ${s.concurrency} = ${s.qps.toFixed(1)} answers/s; p50 ${s.p50Ms.toFixed(1)} / p95 ${s.p95Ms.toFixed(1)} ms; server CPU ${s.serverCpuMsPerAnswer.toFixed(2)} ms/answer (${s.answersPerCpuSecond.toFixed(0)} answers per CPU-second); RSS idle ${s.rssIdleMb.toFixed(0)} MB, loaded ${s.rssLoadedMb.toFixed(0)} MB, peak ${s.rssPeakMb.toFixed(0)} MB; statuses ${JSON.stringify(s.statuses)}${s.postgresCpuMsPerAnswer !== null ? `; Postgres CPU ${s.postgresCpuMsPerAnswer.toFixed(2)} ms/answer` : ""}`);
}
const out = { date: new Date().toISOString(), command: `node --import tsx bench/deploy-sizes.ts ${process.argv.slice(2).join(" ")}`.trim(), loadAverageBefore: loadBefore, loadAverageAfter: loadavg(), results };
console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${out.loadAverageAfter.map((x) => x.toFixed(2)).join(" ")}`);
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
const suffix = `${STORE === "postgres" ? "-postgres" : ""}${REPLICAS > 1 ? `-r${REPLICAS}` : ""}`;
writeFileSync(join(ROOT, "bench", "results", `deploy-sizes${suffix}.json`), JSON.stringify(out, null, 2) + "\n");
pgServer?.stop();
