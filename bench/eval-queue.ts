/**
 * Distributed eval throughput (evaluate/queue/): one run of N cases × 3 variants (prompt-only,
 * rag, long-context) per worker count, against the local OpenAI-compatible test server answering
 * after a fixed simulated latency, through a private redis-server.
 *
 *   node --import tsx bench/eval-queue.ts [--cases 2000] [--workers 1,2,4] [--latency 50] [--concurrency 8]
 *
 * The cases are generated (templates over the tiny test project's three documents, each question
 * numbered so every prompt is distinct: no run is helped by the response cache). The coordinator
 * runs in this process (the runner + QueueDispatcher), workers are `ragtune worker` processes.
 * For each worker count: wall time, jobs/s, speed-up over 1 worker, and from runs/<id>/cases.jsonl
 * the lost (expected key absent) and duplicated (key twice) results, plus the server's request
 * count (one per job). Prints a table and writes bench/results/eval-queue.json.
 *
 * CPU per job, by process (workers from /proc, Redis from /proc, the coordinator and the fake
 * server together as this process): on a machine with fewer cores than processes, throughput is
 * bounded by CPU, not by the simulated latency, and these figures say what each worker count
 * would reach with a core per process (printed as a projection, labelled as one).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { loadavg, cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTinyProject } from "../test/helpers/project.ts";
import { startLlmServer } from "../test/helpers/llm-server.ts";
import { redisQueueSkipReason, startRedis } from "../test/helpers/redis.ts";
import { BIN } from "../test/helpers/cli.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults } from "../src/evaluate/runs.ts";
import { QueueDispatcher } from "../src/evaluate/queue/coordinator.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name: string, d: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : d;
};
const CASES = Number(flag("--cases", "2000"));
const WORKERS = flag("--workers", "1,2,4").split(",").map(Number);
const LATENCY = Number(flag("--latency", "50"));
const CONCURRENCY = Number(flag("--concurrency", "8"));
const VARIANTS = ["prompt-only", "rag", "long-context"] as const;

/** utime + stime of a process in ms (100 Hz clock ticks), or NaN when it is gone. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** The redis-server listening on this port (the helper does not expose its pid). */
function redisPid(port: number): number | undefined {
  try {
    const out = execFileSync("pgrep", ["-f", `redis-server .*:${port}`], { encoding: "utf8" }).trim().split("\n")[0];
    return out ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

const skip = redisQueueSkipReason();
if (skip) {
  console.error(`bench/eval-queue: skipped — ${skip}`);
  process.exit(0);
}
const redis = await startRedis();
const server = await startLlmServer({
  protocol: "openai",
  script: (_i, body) => {
    const user: string = body.messages[body.messages.length - 1].content;
    const text = /trash/i.test(user) ? "Deleted cards stay in the trash for 60 days [1]." : /refund/i.test(user) ? "Annual plans can be refunded within 30 days of payment [1]." : "I don't know";
    return { text, usage: { input: 300, output: 12 }, delayMs: LATENCY };
  },
});

const rows: Record<string, unknown>[] = [];
const loadAvgBefore = loadavg().map((x) => Math.round(x * 100) / 100);
try {
  for (const n of WORKERS) {
    const root = makeTinyProject(
      `models:\n  generator: openai-compatible:local/gpt-4.1-mini\n  providers:\n    local:\n      baseUrl: ${server.url}\n      maxConcurrency: ${CONCURRENCY}\n`,
    );
    const templates = [
      (i: number) => `  - id: trash-${i}\n    task: qa\n    input: "w${n} q${i}: how long are deleted cards kept in the trash?"\n    answer: "60 days"\n    sources: [docs/v2/trash.md]\n`,
      (i: number) => `  - id: refund-${i}\n    task: qa\n    input: "w${n} q${i}: within how many days can an annual plan be refunded?"\n    answer: "30 days"\n    sources: [docs/v2/billing.md]\n`,
      (i: number) => `  - id: c64-${i}\n    task: qa\n    input: "w${n} q${i}: does the product run on a Commodore 64?"\n    must_abstain: true\n`,
    ];
    writeFileSync(join(root, "suite.yaml"), `cases:\n${Array.from({ length: CASES }, (_, i) => templates[i % 3](i)).join("")}`);
    const project = openProject(loadConfig(join(root, "ragtune.yaml")));
    await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
    const workers: ChildProcess[] = Array.from({ length: n }, () =>
      spawn(process.execPath, [BIN, "worker", "--queue", redis.url, "--quiet", "--concurrency", String(CONCURRENCY)], { cwd: root, stdio: "ignore" }),
    );
    await new Promise((r) => setTimeout(r, 1500)); // let the workers connect (not timed)
    const requestsBefore = server.requests.length;
    const dispatch = new QueueDispatcher({ url: redis.url, inFlight: 1000 });
    const cpuBefore = process.cpuUsage();
    const rpid = redisPid(redis.port);
    const redisCpu0 = cpuMsOf(rpid);
    const workerCpu0 = workers.map((w) => cpuMsOf(w.pid));
    const started = performance.now();
    const { runDir, summary } = await runEval({ project, suite: loadSuite(join(root, "suite.yaml")), variants: [...VARIANTS], dispatch });
    const wallS = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const workerCpuMs = workers.reduce((sum, w, i) => sum + cpuMsOf(w.pid) - workerCpu0[i], 0);
    const redisCpuMs = cpuMsOf(rpid) - redisCpu0;
    project.close();
    await Promise.all(workers.map((w) => new Promise((r) => (w.once("exit", r), w.kill("SIGTERM")))));
    const results = readCaseResults(runDir);
    const expected = CASES * VARIANTS.length;
    const keys = results.map((r) => `${r.variant}|${r.caseId}|${r.repeat ?? 0}`);
    const unique = new Set(keys);
    const row = {
      workers: n,
      jobs: expected,
      wallS: Math.round(wallS * 100) / 100,
      jobsPerS: Math.round((expected / wallS) * 10) / 10,
      recorded: results.length,
      lost: expected - unique.size,
      duplicates: keys.length - unique.size,
      duplicateCompletionsIgnored: dispatch.duplicateCompletions,
      modelCalls: server.requests.length - requestsBefore,
      complete: summary.complete,
      coordinatorCpuS: Math.round(((cpu.user + cpu.system) / 1e6) * 10) / 10,
      cpuMsPerJob: {
        workers: Math.round((workerCpuMs / expected) * 100) / 100,
        coordinatorAndFakeServer: Math.round((((cpu.user + cpu.system) / 1e3) / expected) * 100) / 100,
        redis: Number.isFinite(redisCpuMs) ? Math.round((redisCpuMs / expected) * 100) / 100 : null,
      },
      loadAvgAfter: loadavg().map((x) => Math.round(x * 100) / 100),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await server.close();
  await redis.stop();
}
const base = rows.find((r) => r.workers === 1)?.jobsPerS as number | undefined;
for (const r of rows) r.speedup = base ? Math.round(((r.jobsPerS as number) / base) * 100) / 100 : null;
console.log("\nworkers  jobs  wall s  jobs/s  speed-up  lost  dup  model calls");
for (const r of rows) console.log([r.workers, r.jobs, r.wallS, r.jobsPerS, r.speedup, r.lost, r.duplicates, r.modelCalls].map(String).map((s) => s.padStart(6)).join("  "));
// With a core per process: each worker is bound by min(latency: CONCURRENCY / LATENCY, CPU: 1000 / its ms per job);
// the coordinator (+ the fake server, here one process) and Redis by their own ms per job.
for (const r of rows) {
  const c = r.cpuMsPerJob as { workers: number; coordinatorAndFakeServer: number; redis: number | null };
  const perWorker = Math.min((CONCURRENCY * 1000) / LATENCY, 1000 / c.workers);
  const bounds = [(r.workers as number) * perWorker, 1000 / c.coordinatorAndFakeServer, c.redis ? 1000 / c.redis : Infinity];
  r.projectedJobsPerSWithCorePerProcess = Math.round(Math.min(...bounds));
}
console.log("\nCPU ms per job (workers / coordinator + fake server / redis) and the projection with a core per process:");
for (const r of rows) console.log(`  ${r.workers} worker(s): ${JSON.stringify(r.cpuMsPerJob)} → projected ${r.projectedJobsPerSWithCorePerProcess} jobs/s (measured ${r.jobsPerS})`);
const idealS = (CASES * VARIANTS.length * LATENCY) / 1000 / CONCURRENCY;
console.log(`\nideal per worker (latency-bound, ${CONCURRENCY} in flight): ${idealS.toFixed(1)} s; ${cpus().length} cores; note: the fake server and the coordinator share this machine with the workers`);
const out = join(ROOT, "bench/results/eval-queue.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, cases: CASES, variants: VARIANTS, latencyMs: LATENCY, concurrencyPerWorker: CONCURRENCY, generatedCases: true, loadAvgBefore, rows }, null, 2) + "\n");
console.log(`wrote ${out}`);
