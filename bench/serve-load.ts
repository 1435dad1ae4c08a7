/**
 * Load benchmark of `ragtune serve`: the example project (examples/acme-support, offline reader),
 * served in-process on a random loopback port, driven at a fixed rate on `/v1/ask`.
 *
 *   node --import tsx bench/serve-load.ts [--seconds 60] [--rate 100] [--reingest-every S [--ingest-in-process]] [--skip-abuse] [--traces]
 *
 * `--traces` turns on trace export (serve.traces) to a local OTLP/HTTP sink in this process that
 * answers 200 without parsing, to measure what tracing costs an answer; results then go to
 * bench/results/serve-load-traces.json.
 *
 * Open loop: request i is sent at start + i/rate whatever earlier requests are doing, and its
 * latency is measured from that scheduled time (so a stalled server shows up as latency instead of
 * silently lowering the rate — no coordinated omission). The load generator shares the process
 * (and its event loop) with the server, so the numbers include the client's own overhead.
 *
 * With `--reingest-every S`, a document is edited and `POST /v1/ingest` sent every S seconds: the
 * re-index runs in the server's worker thread (serve/reindex-worker-client.ts); the bench checks
 * every answer names a committed index state and reports the serving thread's switch time.
 *
 * Then an abuse phase: malformed JSON, huge bodies (declared and chunked), slow clients holding
 * half-sent requests; every abusive request must get a 4xx and a normal /v1/ask must still be
 * answered meanwhile. Prints p50/p95/p99 and errors by status; writes bench/results/serve-load.json.
 */
import { createServer } from "node:http";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { listIndexVersions } from "../src/store/versions.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { startServe } from "../src/serve/index.ts";
import { indexUpdaterFor } from "../src/serve/reindex-worker-client.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const withTraces = args.includes("--traces");
const RESULTS = join(ROOT, `bench/results/serve-load${withTraces ? "-traces" : ""}${args.includes("--reingest-every") ? (args.includes("--ingest-in-process") ? "-reingest-inline" : "-reingest") : ""}.json`);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  // Only a given value is checked: a default may be 0 (= off, --reingest-every).
  if (i >= 0 && (!Number.isFinite(v) || v <= 0)) throw new Error(`${name} must be a positive number`);
  return v;
};
const seconds = option("--seconds", 60);
const rate = option("--rate", 100);
const skipAbuse = args.includes("--skip-abuse");
/** Re-ingest (POST /v1/ingest after editing a document) every this many seconds while the load runs; 0 = off. */
const reingestEvery = option("--reingest-every", 0);
/** A/B: re-ingest on the serving thread (reindexProject in-process, the behaviour before the worker) instead of POST /v1/ingest. */
const ingestInProcess = args.includes("--ingest-in-process");

const agent = new Agent({ keepAlive: true, maxSockets: 512 });
const guarded = new WeakSet<Socket>();

interface Reply {
  status: number;
  body: string;
}

function send(port: number, path: string, body: string | Buffer, headers: Record<string, string> = {}, fresh = false): Promise<Reply> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", agent: fresh ? false : agent, headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
      res.on("error", () => done({ status: -1, body: "" }));
    });
    req.on("error", (err) => done({ status: -1, body: err.message }));
    // The server answers 413 and closes while a huge body is still being written: that EPIPE is
    // the client's, expected, and must not crash the bench (once per socket).
    req.on("socket", (sock) => {
      if (!guarded.has(sock)) {
        guarded.add(sock);
        sock.on("error", () => {});
      }
    });
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (x: number) => Math.round(x * 100) / 100;

interface LoadResult {
  latencies: number[];
  byStatus: Map<number, number>;
  elapsed: number;
  maxLag: number;
  total: number;
  /** Index fingerprints the answers named (served.index.fingerprint). */
  fingerprints: string[];
}

function runLoadInWorker(port: number, questions: string[]): Promise<LoadResult> {
  return new Promise((done, fail) => {
    // A worker starts without tsx: the ingest sandbox's bootstrap registers it, then imports this file.
    const entry = new URL("../src/ingest/parse-worker-entry.mjs", import.meta.url);
    const worker = new Worker(entry, { workerData: { tsx: import.meta.resolve("tsx/esm/api"), module: import.meta.url, port, questions }, argv: args });
    worker.once("message", (m: { latencies: number[]; byStatus: [number, number][]; elapsed: number; maxLag: number; total: number; fingerprints: string[] }) =>
      done({ ...m, byStatus: new Map(m.byStatus) }),
    );
    worker.once("error", fail);
  });
}

/** The open-loop generator (worker side). */
async function generateLoad(port: number, questions: string[]): Promise<void> {
  const total = Math.round(seconds * rate);
  const latencies: number[] = [];
  const byStatus = new Map<number, number>();
  const fingerprints = new Set<string>();
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  let maxLag = 0;
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    maxLag = Math.max(maxLag, performance.now() - due);
    const body = JSON.stringify({ question: questions[i % questions.length] });
    inflight.push(
      send(port, "/v1/ask", body).then((r) => {
        latencies.push(performance.now() - due);
        byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
        if (r.status === 200) {
          try {
            fingerprints.add((JSON.parse(r.body) as { served: { index: { fingerprint: string } } }).served.index.fingerprint);
          } catch {
            fingerprints.add("unparseable");
          }
        }
      }),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  agent.destroy();
  parentPort!.postMessage({ latencies, byStatus: [...byStatus], elapsed, maxLag, total, fingerprints: [...fingerprints] });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-serve-load-"));
  cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true });
  const loaded = loadConfig(join(dir, "ragtune.yaml"));
  const project = openProject(loaded);
  await reindexProject(project);
  const questions = loadSuite(join(dir, loaded.config.suite)).cases.filter((c) => c.task === "qa").map((c) => c.input);
  // The trace sink: reads each export and answers 200 (counts bytes; spans are counted by the exporter's metric).
  let sinkBytes = 0;
  let sinkRequests = 0;
  const sink = withTraces
    ? createServer((req, res) => {
        req.on("data", (d: Buffer) => (sinkBytes += d.length));
        req.on("end", () => {
          sinkRequests++;
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        });
      })
    : undefined;
  if (sink) await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  const sinkPort = sink ? (sink.address() as { port: number }).port : 0;
  const server = await startServe({
    project,
    port: 0,
    ...(withTraces ? { limits: { traces: { ...project.config.serve.traces, enabled: true, endpoint: `http://127.0.0.1:${sinkPort}/v1/traces` } } } : {}),
  });
  const { port } = server;
  console.log(`serve-load: ${server.url}, ${questions.length} questions from the example suite, generator ${server.app.engine.generatorId()}`);

  // Warm-up (lazy BM25 / pipeline build, JIT), not measured.
  for (const q of questions.slice(0, 20)) await send(port, "/v1/ask", JSON.stringify({ question: q }));
  // With --reingest-every, one ingest before measuring starts the re-index worker (its thread and
  // loader cost ~5 s of CPU once per server, like the JIT warm-up above), unmeasured too.
  if (reingestEvery > 0 && !ingestInProcess) await send(port, "/v1/ingest", "{}");

  // The load generator runs in a worker thread: its own event loop, so the server's loop serves
  // only the requests (the server is still in this process, as the brief of the bench says).
  // The server thread's event-loop delay says whether slow requests waited on the server's own work
  // (a blocked loop) or on the machine (other processes on the cores).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuBefore = process.cpuUsage();
  let peakRssMb = 0;
  const rssTimer = setInterval(() => (peakRssMb = Math.max(peakRssMb, process.memoryUsage.rss() / 1e6)), 200);
  // Ingest while serving: edit a document and POST /v1/ingest on a timer; every answer must name
  // an index state some ingest committed (a recorded version), never a half-built one.
  let reingests = 0;
  const reingestErrors: string[] = [];
  // Serving-thread time to switch to each new generation (BM25 index + pipeline rebuilt from the store).
  const switchMs: number[] = [];
  let inProcessBusy = false;
  let timer: NodeJS.Timeout | undefined;
  if (reingestEvery > 0) {
    const target = join(dir, project.store.documents()[0].path);
    timer = setInterval(() => {
      appendFileSync(target, `\n\nRevision ${reingests + 1} of this page.\n`);
      // In-process keeps the route's rule: one at a time, a tick during a running ingest is a 409.
      const ingest = ingestInProcess
        ? inProcessBusy
          ? Promise.resolve({ status: 409, body: "" })
          : ((inProcessBusy = true),
            reindexProject(project)
              .then(
                () => ({ status: 200, body: "" }),
                (err: Error) => ({ status: 500, body: err.message }),
              )
              .finally(() => (inProcessBusy = false)))
        : send(port, "/v1/ingest", "{}");
      void ingest.then((r) => {
        if (r.status === 200) {
          reingests++;
          const ms = indexUpdaterFor(project).lastSwitchMs;
          if (ms !== undefined && !ingestInProcess) switchMs.push(ms);
        }
        else if (r.status !== 409) reingestErrors.push(`${r.status} ${r.body.slice(0, 200)}`);
      });
    }, reingestEvery * 1000);
  }
  const { latencies, byStatus, elapsed, maxLag, total, fingerprints } = await runLoadInWorker(port, questions);
  if (timer) clearInterval(timer);
  clearInterval(rssTimer);
  const committed = new Set(listIndexVersions(project.indexFile).map((v) => v.identity.fingerprint));
  const uncommitted = fingerprints.filter((f) => !committed.has(f));
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const load = {
    seconds,
    targetRate: rate,
    requests: total,
    achievedRate: round(total / elapsed),
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1]),
    maxSchedulerLagMs: round(maxLag),
    serverLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
    processCpuSeconds: round((cpu.user + cpu.system) / 1e6),
    peakRssMb: Math.round(peakRssMb),
    loadAverage1m: round(loadavg()[0]),
    byStatus: Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])),
    errors5xx: [...byStatus].filter(([s]) => s >= 500 || s < 0).reduce((n, [, c]) => n + c, 0),
    ...(reingestEvery > 0 ? { reingest: { every: reingestEvery, where: ingestInProcess ? "serving thread (--ingest-in-process)" : "worker thread (POST /v1/ingest)", completed: reingests, errors: reingestErrors, indexStatesServed: fingerprints.length, servedFromUncommittedState: uncommitted.length, switchMs: { median: round(percentile([...switchMs].sort((a, b) => a - b), 50)), max: round(Math.max(0, ...switchMs)) } } } : {}),
  };
  console.log(`load: ${total} requests at ${rate}/s for ${seconds}s (achieved ${load.achievedRate}/s)`);
  console.log(`  p50 ${load.p50Ms} ms   p95 ${load.p95Ms} ms   p99 ${load.p99Ms} ms   max ${load.maxMs} ms`);
  console.log(`  server event-loop delay p99 ${load.serverLoopDelayMs.p99} ms, max ${load.serverLoopDelayMs.max} ms; peak RSS ${load.peakRssMb} MB; process CPU ${load.processCpuSeconds} s in ${round(elapsed)} s; load average ${load.loadAverage1m}`);
  console.log(`  by status: ${JSON.stringify(load.byStatus)}   5xx/transport errors: ${load.errors5xx}`);
  if (reingestEvery > 0) {
    console.log(`  re-ingest every ${reingestEvery}s: ${reingests} ingests committed, ${reingestErrors.length} failed; answers named ${fingerprints.length} index states, ${uncommitted.length} not a committed version`);
    console.log(`  serving-thread switch to a new generation: median ${load.reingest!.switchMs.median} ms, max ${load.reingest!.switchMs.max} ms`);
    for (const e of reingestErrors.slice(0, 5)) console.log(`    ingest error: ${e}`);
  }

  let traces: Record<string, unknown> | undefined;
  if (withTraces) {
    await server.app.tracer!.exporter.flush();
    const m = await server.app.metrics.traceSpans.get();
    const by = Object.fromEntries(m.values.map((v) => [String(v.labels.outcome), v.value]));
    traces = { spans: by, exportRequests: sinkRequests, exportedMB: round(sinkBytes / 1e6) };
    console.log(`  traces: spans ${JSON.stringify(by)}, ${sinkRequests} export requests, ${traces.exportedMB} MB`);
  }

  let abuse: Record<string, unknown> | undefined;
  if (!skipAbuse) abuse = await abusePhase(port, questions[0]);

  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    generator: server.app.engine.generatorId(),
    project: "examples/acme-support",
    command: `node --import tsx bench/serve-load.ts --seconds ${seconds} --rate ${rate}${reingestEvery ? ` --reingest-every ${reingestEvery}` : ""}${ingestInProcess ? " --ingest-in-process" : ""}${skipAbuse ? " --skip-abuse" : ""}${withTraces ? " --traces" : ""}`,
    load,
    ...(traces ? { traces } : {}),
    ...(abuse ? { abuse } : {}),
    requestLogRows: server.app.requestLog?.count(),
  };
  await server.close();
  sink?.close();
  await indexUpdaterFor(project).close();
  project.close();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(RESULTS), { recursive: true });
  const tmp = `${RESULTS}.tmp`;
  writeFileSync(tmp, JSON.stringify(results, null, 2) + "\n");
  renameSync(tmp, RESULTS);
  console.log(`wrote ${RESULTS}`);
  agent.destroy();
}

/** Statuses of each kind of abusive request, and whether normal requests were answered meanwhile. */
async function abusePhase(port: number, question: string): Promise<Record<string, unknown>> {
  const tally = async (name: string, n: number, make: () => Promise<Reply>) => {
    const counts = new Map<number, number>();
    for (const r of await Promise.all(Array.from({ length: n }, make))) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    const out = Object.fromEntries(counts);
    console.log(`abuse ${name}: ${JSON.stringify(out)}`);
    return out;
  };
  const malformed = await tally("malformed JSON", 200, () => send(port, "/v1/ask", '{"question": "refund', {}));
  const hugeDeclared = await tally("5 MB body (Content-Length)", 20, () => send(port, "/v1/ask", Buffer.alloc(5_000_000, 0x61)));
  const hugeChunked = await tally("5 MB body (chunked)", 20, () => send(port, "/v1/ask", Buffer.alloc(5_000_000, 0x61), { "transfer-encoding": "chunked" }));
  const longQuestion = await tally("long question", 100, () => send(port, "/v1/ask", JSON.stringify({ question: "refund ".repeat(5_000) })));

  // Slow clients: 100 sockets that send half a request and stall.
  const slow: Socket[] = [];
  for (let i = 0; i < 100; i++) {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => {});
    s.write(`POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"quest`);
    slow.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  const during = await tally("normal /v1/ask while 100 slow clients stall", 50, () => send(port, "/v1/ask", JSON.stringify({ question })));
  for (const s of slow) s.destroy();
  const after = await tally("normal /v1/ask after the abuse", 20, () => send(port, "/v1/ask", JSON.stringify({ question })));
  const okAfter = (after[200] ?? 0) === 20 && (during[200] ?? 0) === 50;
  console.log(`abuse: server ${okAfter ? "still answered every normal request" : "FAILED normal requests"}`);
  return { malformed, hugeDeclared, hugeChunked, longQuestion, during, after, serverStillAnswers: okAfter };
}

if (isMainThread) await main();
else await generateLoad((workerData as { port: number }).port, (workerData as { questions: string[] }).questions);
