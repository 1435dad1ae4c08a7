/**
 * Distributed eval on Redis + bullmq (evaluate/queue/): a real redis-server started here on a
 * loopback port, worker processes, and the local OpenAI-compatible server with a delay. Asserts
 * the queued run equals a local run with every case recorded exactly once, survives a worker
 * SIGKILLed mid-job without paying a model call twice, and keeps a provider rate limit across two
 * workers. Skips (with the reason) without redis-server or the ioredis package.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTinyProject } from "./helpers/project.ts";
import { BIN, runCli, stopChildren } from "./helpers/cli.ts";
import { startLlmServer, type LlmServer, type ScriptedReply } from "./helpers/llm-server.ts";
import { redisQueueSkipReason, startRedis, type RedisServer } from "./helpers/redis.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults } from "../src/evaluate/runs.ts";
import type { CaseResult } from "../src/evaluate/types.ts";

const skip = redisQueueSkipReason();
if (skip) console.error(`# eval-queue tests skipped: ${skip}`);
let redis: RedisServer;
before(async () => {
  if (!skip) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const DIES = fileURLToPath(new URL("./helpers/queue-worker-dies.ts", import.meta.url));

/** A model that answers by question, slowly. */
const reply = (delayMs: number) => (_i: number, body: any): ScriptedReply => {
  const user: string = body.messages[body.messages.length - 1].content;
  if (/trash/i.test(user)) return { text: "Deleted cards stay in the trash for 60 days [1].", usage: { input: 300, output: 12 }, delayMs };
  if (/refund/i.test(user)) return { text: "Annual plans can be refunded within 30 days of payment [1].", usage: { input: 300, output: 14 }, delayMs };
  return { text: "I don't know", usage: { input: 250, output: 4 }, delayMs };
};

/** A tiny project whose suite has `n` distinct questions (so every prompt is distinct). */
async function project(server: LlmServer, n: number, tag: string, limits = ""): Promise<string> {
  const root = makeTinyProject(`models:\n  generator: openai-compatible:local/gpt-4.1-mini\n  providers:\n    local:\n      baseUrl: ${server.url}\n      maxRetries: 1\n${limits}`);
  const cases = Array.from({ length: n }, (_, i) =>
    // Questions whose rag prompt carries retrieved context, so no two jobs send the same prompt.
    i % 2 === 0
      ? `  - id: trash-${i}\n    task: qa\n    input: "${tag} question ${i}: how long are deleted cards kept in the trash?"\n    answer: "60 days"\n    sources: [docs/v2/trash.md]\n`
      : `  - id: refund-${i}\n    task: qa\n    input: "${tag} question ${i}: within how many days can an annual plan be refunded?"\n    answer: "30 days"\n    sources: [docs/v2/billing.md]\n`,
  );
  writeFileSync(join(root, "suite.yaml"), `cases:\n${cases.join("")}`);
  const p = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: p.config.sources, chunking: p.config.chunking, store: p.store });
  p.close();
  return root;
}

function startWorker(root: string, args: string[] = [], url = redis.url): ChildProcess {
  const w = spawn(process.execPath, [BIN, "worker", "--queue", url, "--lock-ms", "2000", ...(process.env.DEBUG_QUEUE ? [] : ["--quiet"]), ...args], { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  if (process.env.DEBUG_QUEUE) w.stderr!.pipe(process.stderr);
  return w;
}

const key = (r: CaseResult) => `${r.variant}|${r.caseId}|${r.repeat ?? 0}`;
/** What a case's result is, without what legitimately differs between runs. */
const essence = (r: CaseResult) => ({ output: r.output, passed: r.passed, failure: r.failure, scores: r.scores, retrieved: r.retrieved, abstained: r.abstained, usage: r.usage, costUsd: r.costUsd });

async function queuedEval(root: string, variants = "prompt-only,rag"): Promise<{ code: number; stderr: string; runDir: string; cases: CaseResult[] }> {
  const out = await runCli(["eval", "--queue", redis.url, "--variants", variants, "--json"], root);
  const runDir = out.code === 0 ? JSON.parse(out.stdout).runDir : "";
  return { code: out.code, stderr: out.stderr, runDir, cases: runDir ? readCaseResults(runDir) : [] };
}

test("a queued eval on two workers records the same results as a local eval, each case exactly once", { skip }, async () => {
  const server = await startLlmServer({ protocol: "openai", script: reply(20) });
  const root = await project(server, 12, "same");
  const workers = [startWorker(root), startWorker(root)];
  try {
    const p = openProject(loadConfig(join(root, "ragtune.yaml")), { noCache: true });
    const local = await runEval({ project: p, suite: loadSuite(join(root, "suite.yaml")), variants: ["prompt-only", "rag"] });
    p.close();
    const before = server.requests.length;
    const queued = await queuedEval(root);
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal(queued.cases.length, 24);
    assert.equal(new Set(queued.cases.map(key)).size, 24, "no (case, variant) recorded twice");
    const localByKey = new Map(local.cases.map((r) => [key(r), r]));
    for (const r of queued.cases) assert.deepEqual(essence(r), essence(localByKey.get(key(r))!), key(r));
    // Distinct prompts, shared cache: every prompt was sent once by the two workers together.
    const prompts = server.requests.slice(before).map((q) => JSON.stringify(q.body.messages));
    assert.equal(prompts.length, new Set(prompts).size);
    assert.equal(prompts.length, 24);
  } finally {
    await stopChildren(workers);
    await server.close();
  }
});

test("a worker SIGKILLed mid-job loses nothing and the retried job does not pay the model call again", { skip }, async () => {
  const server = await startLlmServer({ protocol: "openai", script: reply(50) });
  const root = await project(server, 15, "kill");
  // Dies right after its 3rd answer is cached, before that job completes.
  const dying = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), DIES, redis.url, "3"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  if (process.env.DEBUG_QUEUE) dying.stderr!.pipe(process.stderr);
  await new Promise<void>((resolve, reject) => {
    dying.stderr!.on("data", (d) => String(d).includes("ready") && resolve());
    dying.once("exit", (code) => reject(new Error(`the dying worker exited before it was ready (${code})`)));
  });
  const died = new Promise<string | null>((r) => dying.once("exit", (_code, signal) => r(signal)));
  // The survivor starts a moment later, so the dying worker surely takes jobs first.
  const run = queuedEval(root);
  await new Promise((r) => setTimeout(r, 300));
  const survivor = startWorker(root);
  try {
    const queued = await run;
    assert.equal(await died, "SIGKILL");
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal(queued.cases.length, 30);
    assert.equal(new Set(queued.cases.map(key)).size, 30, "nothing lost, nothing twice");
    const prompts = server.requests.map((q) => JSON.stringify(q.body.messages));
    assert.equal(prompts.length, new Set(prompts).size, "no prompt was sent to the model twice");
    // 30 calls for 30 jobs: the killed worker paid for its last job's call, and the retry of that
    // job on the survivor was answered from the shared cache.
    assert.equal(prompts.length, 30);
    assert.equal(queued.cases.filter((c) => c.cached).length, 1, "the retried job was a cache hit");
  } finally {
    await stopChildren([survivor, dying]);
    await server.close();
  }
});

test("a provider's rate limit holds across two workers (one Redis token bucket)", { skip }, async () => {
  const server = await startLlmServer({ protocol: "openai", script: reply(10) });
  // 1,200/min = 20/s with a bucket of 20: 60 requests take ≥ 2 s together; two private buckets would allow ~0.5 s.
  const root = await project(server, 60, "rate", "      requestsPerMinute: 1200\n      maxConcurrency: 8\n");
  const times: number[] = [];
  const record = setInterval(() => {
    while (times.length < server.requests.length) times.push(Date.now());
  }, 2);
  const workers = [startWorker(root, ["--concurrency", "8"]), startWorker(root, ["--concurrency", "8"])];
  try {
    const queued = await queuedEval(root, "prompt-only");
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal(server.requests.length, 60);
    const span = (times[59] - times[0]) / 1000;
    assert.ok(span >= 1.8, `60 requests at 20/s (burst 20) took ${span.toFixed(2)} s; two unshared buckets would take ~0.5 s`);
    // Any one-second window: at most the bucket (20) plus one second of refill (20), +1 for timer slack.
    for (let i = 0; i < times.length; i++) {
      const inWindow = times.filter((t) => t >= times[i] && t < times[i] + 1000).length;
      assert.ok(inWindow <= 41, `${inWindow} requests in the second after request ${i}`);
    }
  } finally {
    clearInterval(record);
    await stopChildren(workers);
    await server.close();
  }
});

test("a coordinator SIGKILLed mid-run is resumed: finished jobs are collected from Redis, each case once", { skip }, async () => {
  const server = await startLlmServer({ protocol: "openai", script: reply(40) });
  const root = await project(server, 20, "resume");
  const workers = [startWorker(root)];
  try {
    const coordinator = spawn(process.execPath, [BIN, "eval", "--queue", redis.url, "--variants", "prompt-only,rag"], { cwd: root, stdio: "ignore" });
    const runs = join(root, "runs");
    let runDir = "";
    for (let i = 0; i < 400 && (!runDir || readCaseResults(runDir).length < 5); i++) {
      await new Promise((r) => setTimeout(r, 25));
      if (!runDir && existsSync(runs)) runDir = readdirSync(runs).map((d) => join(runs, d))[0] ?? "";
    }
    coordinator.kill("SIGKILL");
    await new Promise((r) => coordinator.once("exit", r));
    const before = readCaseResults(runDir).length;
    assert.ok(before >= 5 && before < 40, `killed after ${before} results`);
    const out = await runCli(["eval", "--queue", redis.url, "--resume", "latest", "--json"], root);
    assert.equal(out.code, 0, out.stderr);
    const cases = readCaseResults(runDir);
    assert.equal(cases.length, 40);
    assert.equal(new Set(cases.map(key)).size, 40, "nothing lost, nothing twice");
    // Jobs in flight when the coordinator died were not re-run: one model call per prompt.
    const prompts = server.requests.map((q) => JSON.stringify(q.body.messages));
    assert.equal(prompts.length, new Set(prompts).size);
  } finally {
    await stopChildren(workers);
    await server.close();
  }
});

test("Redis restarted mid-eval (kill -9, append-only file): workers and the coordinator reconnect, the run completes, each case once", { skip, timeout: 180_000 }, async () => {
  const durable = await startRedis({ appendOnly: true });
  const server = await startLlmServer({ protocol: "openai", script: reply(40) });
  const root = await project(server, 20, "restart");
  const workers = [startWorker(root, [], durable.url), startWorker(root, [], durable.url)];
  try {
    const run = runCli(["eval", "--queue", durable.url, "--variants", "prompt-only,rag", "--json"], root);
    // Restart once the run is under way: some answers served, most jobs still queued.
    const deadline = Date.now() + 60_000;
    while (server.requests.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.ok(server.requests.length >= 6, "the run started before the restart");
    await durable.restart({ downMs: 500 });
    const out = await run;
    assert.equal(out.code, 0, out.stderr);
    const cases = readCaseResults(JSON.parse(out.stdout).runDir);
    assert.equal(cases.length, 40, "every case × variant recorded");
    assert.equal(new Set(cases.map(key)).size, 40, "none recorded twice");
  } finally {
    await stopChildren(workers);
    await server.close();
    await durable.stop();
  }
});
