/**
 * Distributed ingest (ingest/queue/) against a local ingest of the same corpus: pnpm-docs (or
 * fastify-docs) from ../shared/datasets, copied into a temp project, ingested from scratch by
 * `ragtune ingest` and by `ragtune ingest --queue` on 1, 2 and 4 `ragtune worker` processes
 * through a private redis-server.
 *
 *   node --import tsx bench/ingest-queue.ts [--corpus pnpm-docs|fastify-docs] [--workers 1,2,4] [--runs 2] [--mode hybrid|lexical]
 *
 * Per configuration and run: wall time of the coordinator command (workers are started and ready
 * before the clock starts), documents/s, whether the index equals the local one field by field
 * (test/helpers/index-content.ts: fingerprint, documents, chunks, vectors), lost documents
 * (in the local index, not in the queued one), duplicated chunk ids, duplicate job completions, and
 * the load average around it. Runs alternate local / 1 / 2 / 4 workers, so background load hits
 * every configuration alike. Writes bench/results/ingest-queue.json.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { redisQueueSkipReason, startRedis } from "../test/helpers/redis.ts";
import { BIN, runCli } from "../test/helpers/cli.ts";
import { indexContent, type IndexContent } from "../test/helpers/index-content.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : d;
};
const CORPUS = flag("--corpus", "pnpm-docs");
const WORKERS = flag("--workers", "1,2,4").split(",").map(Number);
const RUNS = Number(flag("--runs", "2"));
const MODE = flag("--mode", "hybrid");
const DATA = join(ROOT, "..", "shared", "datasets", CORPUS);

const skip = redisQueueSkipReason() ?? (existsSync(DATA) ? undefined : `${DATA} not present`);
if (skip) {
  console.error(`bench/ingest-queue: skipped — ${skip}`);
  process.exit(0);
}

const config = `name: bench\nsources:\n  - include: "docs/**/*.md"\n    version: current\nsuite: suite.yaml\nretrieval:\n  mode: ${MODE}\nmodels:\n  embedder: ${MODE === "lexical" ? "none" : "hashing:256"}\n`;

function project(): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-bench-iq-"));
  cpSync(DATA, join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "ragtune.yaml"), config);
  writeFileSync(join(root, "suite.yaml"), "cases: []\n");
  return root;
}

const redis = await startRedis();
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

function startWorker(cwd: string, queueName: string): Promise<ChildProcess> {
  const w = spawn(process.execPath, [BIN, "worker", "--queue", redis.url, "--ingest-queue-name", queueName, "--quiet"], { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  return new Promise((ok, fail) => {
    w.stderr!.on("data", (d) => String(d).includes("waiting for jobs") && ok(w));
    w.once("exit", (code) => fail(new Error(`worker exited ${code}`)));
  });
}

async function stop(workers: ChildProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => new Promise((r) => (w.once("exit", r), w.kill("SIGTERM")))));
}

interface Row {
  config: string;
  workers: number;
  run: number;
  wallMs: number;
  documents: number;
  chunks: number;
  docsPerSecond: number;
  identical: boolean | null;
  lost: number;
  duplicatedChunks: number;
  duplicateCompletions: number;
  parseJobs?: number;
  embedJobs?: number;
  loadBefore: number[];
  loadAfter: number[];
}

let reference: IndexContent | undefined;
const rows: Row[] = [];
let n = 0;
for (let run = 1; run <= RUNS; run++) {
  for (const workers of [0, ...WORKERS]) {
    const root = project();
    const queueName = `bench-iq-${++n}`;
    const pool = await Promise.all(Array.from({ length: workers }, () => startWorker(root, queueName)));
    const loadBefore = load();
    const started = performance.now();
    const out = await runCli(workers === 0 ? ["ingest", "--json"] : ["ingest", "--queue", redis.url, "--queue-name", queueName, "--json"], root);
    const wallMs = performance.now() - started;
    const loadAfter = load();
    await stop(pool);
    if (out.code !== 0) throw new Error(`ingest failed (${out.code}): ${out.stderr}`);
    const stats = JSON.parse(out.stdout);
    const content = indexContent(root);
    if (workers === 0 && !reference) reference = content;
    const ids = content.chunks.map((c) => (c as { id: string }).id);
    const have = new Set(content.documents.map((d) => (d as { path: string }).path));
    const row: Row = {
      config: workers === 0 ? "local" : `${workers} worker${workers > 1 ? "s" : ""}`,
      workers,
      run,
      wallMs: Math.round(wallMs),
      documents: stats.documents,
      chunks: stats.chunks,
      docsPerSecond: Math.round((stats.documents / wallMs) * 1000 * 10) / 10,
      identical: reference ? isDeepStrictEqual(content, reference) : null,
      lost: reference!.documents.filter((d) => !have.has((d as { path: string }).path)).length,
      duplicatedChunks: ids.length - new Set(ids).size,
      duplicateCompletions: stats.queue?.duplicateCompletions ?? 0,
      ...(stats.queue ? { parseJobs: stats.queue.parseJobs, embedJobs: stats.queue.embedJobs } : {}),
      loadBefore,
      loadAfter,
    };
    rows.push(row);
    console.error(`${row.config.padEnd(10)} run ${run}: ${(wallMs / 1000).toFixed(1)} s, ${row.docsPerSecond} docs/s, identical=${row.identical}, lost ${row.lost}, dup ${row.duplicatedChunks}, load ${loadBefore[0]}→${loadAfter[0]}`);
    rmSync(root, { recursive: true, force: true });
  }
}
await redis.stop();

console.log(`\n${CORPUS}, mode ${MODE}, ${reference!.documents.length} documents, ${reference!.chunks.length} chunks; ${cpus().length} cores\n`);
console.log("| config | run | wall s | docs/s | identical to local | lost | duplicated | load before → after |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.config} | ${r.run} | ${(r.wallMs / 1000).toFixed(1)} | ${r.docsPerSecond} | ${r.identical ? "yes" : "NO"} | ${r.lost} | ${r.duplicatedChunks} | ${r.loadBefore[0]} → ${r.loadAfter[0]} |`);
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench", "results", "ingest-queue.json"),
  JSON.stringify({ corpus: CORPUS, mode: MODE, cores: cpus().length, documents: reference!.documents.length, chunks: reference!.chunks.length, at: new Date().toISOString(), rows }, null, 2) + "\n",
);
