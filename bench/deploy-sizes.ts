/**
 * Sizes for docs/deploy.md, measured with today's SQLite store on the real corpora (pnpm and
 * fastify docs from ../shared/datasets): bytes of index.db per chunk (and per table), the whole
 * <storeDir> with its index-version copies, then one `ragtune serve` process (offline reader):
 * RSS idle and under load, server CPU per answered /v1/ask (→ answers/s per core), and the
 * closed-loop throughput of that one process on this (shared, 2-core) machine.
 *
 *   node --import tsx bench/deploy-sizes.ts [--seconds 15] [--concurrency 4] [--corpus pnpm-docs]
 *
 * Prints a table and writes bench/results/deploy-sizes.json with the load average.
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
    writeFileSync(join(dir, "ragtune.yaml"), stringify({ name: p.name, sources: p.sources }));
    const t0 = Date.now();
    const ing = spawnSync(process.execPath, [BIN, "ingest", "--json"], { cwd: dir, encoding: "utf8", maxBuffer: 64 << 20 });
    if (ing.status !== 0) throw new Error(`ingest failed: ${ing.stderr.slice(-500)}`);
    const ingestMs = Date.now() - t0;

    const dbFile = join(dir, ".ragtune", "index.db");
    const db = new Database(dbFile);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const chunks = (db.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number }).n;
    const documents = (db.prepare("SELECT count(*) AS n FROM documents").get() as { n: number }).n;
    const textBytes = (db.prepare("SELECT sum(length(CAST(text AS BLOB))) AS n FROM chunks").get() as { n: number }).n;
    let tables: Record<string, number> = {};
    try {
      const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC").all() as { name: string; bytes: number }[];
      tables = Object.fromEntries(rows.slice(0, 8).map((r) => [r.name, r.bytes]));
    } catch { /* dbstat not compiled in */ }
    db.close();
    const indexBytes = statSync(dbFile).size;
    const storeDirBytes = dirBytes(join(dir, ".ragtune"));

    // One serve process, offline reader, no auth (loopback), request log on (as deployed).
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, "serve", "--port", String(port), "--no-auth"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    server.stderr.on("data", (d) => { stderr += d; });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`serve exited: ${stderr.slice(-500)}`);
      const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error("serve not ready in 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const idle = procStatus(server.pid!);
    const suite = parse(readFileSync(join(ROOT, "bench", "corpora", p.name, "dev.yaml"), "utf8"));
    const questions: string[] = (suite.cases ?? suite).map((c: { input: string }) => c.input).filter(Boolean);
    // Warm-up: the first answers build the in-memory index.
    for (const q of questions.slice(0, 5)) await fetch(`${base}/v1/ask`, { method: "POST", body: JSON.stringify({ question: q }), headers: { "content-type": "application/json", "x-ragtune-traffic": "synthetic" } });
    const cpu0 = cpuMs(server.pid!);
    const stopAt = Date.now() + SECONDS * 1000;
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < stopAt) {
        const q = questions[next++ % questions.length];
        const t = performance.now();
        const r = await fetch(`${base}/v1/ask`, { method: "POST", body: JSON.stringify({ question: q }), headers: { "content-type": "application/json", "x-ragtune-traffic": "synthetic" } });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    const wallS = (Date.now() - started) / 1000;
    const serverCpuMs = cpuMs(server.pid!) - cpu0;
    const loaded = procStatus(server.pid!);
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    latencies.sort((a, b) => a - b);
    const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    const answered = statuses.get(200) ?? 0;
    return {
      corpus: p.name, documents, chunks, ingestMs,
      indexBytes, bytesPerChunk: indexBytes / chunks, chunkTextBytes: textBytes, storeDirBytes, tables,
      serve: {
        seconds: wallS, concurrency: CONCURRENCY, answered, statuses: Object.fromEntries(statuses),
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
  console.log(`${r.corpus}: ${r.documents} documents, ${r.chunks} chunks; index.db ${(r.indexBytes / 1e6).toFixed(1)} MB = ${Math.round(r.bytesPerChunk)} B/chunk (chunk text ${Math.round(r.chunkTextBytes / r.chunks)} B/chunk); .ragtune ${(r.storeDirBytes / 1e6).toFixed(1)} MB; ingest ${(r.ingestMs / 1000).toFixed(1)} s`);
  console.log(`  tables: ${Object.entries(r.tables).map(([k, v]) => `${k} ${(v / 1e6).toFixed(2)} MB`).join(", ")}`);
  console.log(`  serve: ${s.answered} answered in ${s.seconds.toFixed(1)} s at concurrency ${s.concurrency} = ${s.qps.toFixed(1)} answers/s; p50 ${s.p50Ms.toFixed(1)} / p95 ${s.p95Ms.toFixed(1)} ms; server CPU ${s.serverCpuMsPerAnswer.toFixed(2)} ms/answer (${s.answersPerCpuSecond.toFixed(0)} answers per CPU-second); RSS idle ${s.rssIdleMb.toFixed(0)} MB, loaded ${s.rssLoadedMb.toFixed(0)} MB, peak ${s.rssPeakMb.toFixed(0)} MB; statuses ${JSON.stringify(s.statuses)}`);
}
const out = { date: new Date().toISOString(), command: `node --import tsx bench/deploy-sizes.ts ${process.argv.slice(2).join(" ")}`.trim(), loadAverageBefore: loadBefore, loadAverageAfter: loadavg(), results };
console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${out.loadAverageAfter.map((x) => x.toFixed(2)).join(" ")}`);
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "deploy-sizes.json"), JSON.stringify(out, null, 2) + "\n");
