/**
 * Provider limits on the OpenAI-protocol embedder (embedders/openai.ts): requestsPerMinute,
 * tokensPerMinute and maxConcurrency of models.providers.<name> / models.limits apply to
 * embedding requests, from the same limit state as the chat providers of that endpoint (one
 * budget for completions and embeddings); and across two `ragtune worker` processes serving
 * `ragtune ingest --queue`, through the Redis rate gate. The queue test skips without redis-server.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigSchema } from "../src/config/schema.ts";
import { createEmbedder, OpenAIEmbedder } from "../src/models/embedders/index.ts";
import { createChatProvider } from "../src/models/registry.ts";
import { installDistributedRateGate, resetSharedLimits, sharedLimits, type Clock, type DistributedRateGate } from "../src/models/resilience.ts";
import { countTokens } from "../src/models/tokens.ts";
import { BIN, runCli } from "./helpers/cli.ts";
import { startLlmServer, type ScriptedReply } from "./helpers/llm-server.ts";
import { redisQueueSkipReason, startRedis, type RedisServer } from "./helpers/redis.ts";

/** A fake embeddings + chat endpoint: /embeddings answers [length, 1] per input, anything else a chat reply. Records arrival times. */
async function endpoint(delayMs = 0) {
  const arrivals: { at: number; path: string }[] = [];
  const server = await startLlmServer({
    protocol: "openai",
    script: (_i, body): ScriptedReply => {
      const path = Array.isArray(body?.input) ? "embeddings" : "chat";
      arrivals.push({ at: Date.now(), path });
      if (path === "chat") return { text: "ok", delayMs };
      return { status: 200, delayMs, body: { data: body.input.map((t: string, index: number) => ({ index, embedding: [t.length + 1, 1] })) } };
    },
  });
  return { server, arrivals };
}

const modelsWith = (provider: Record<string, unknown>) => ConfigSchema.parse({ sources: [{ include: "x" }], models: { providers: { emb: provider } } }).models;

/** Most arrivals in any window [t, t + 1 s) starting at an arrival. */
function maxPerSecond(times: number[]): number {
  return Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
}

test("requestsPerMinute 60: 4 embedding requests are spaced a second apart, never 3 in one second", { timeout: 30_000 }, async () => {
  resetSharedLimits();
  const { server, arrivals } = await endpoint();
  try {
    const embedder = createEmbedder("openai-compatible:emb/m", modelsWith({ baseUrl: server.url, requestsPerMinute: 60, maxConcurrency: 8 }), {})!;
    // Four calls at once: only the bucket (1 request/s, holding 1) holds them back.
    const vectors = await Promise.all(["a", "bb", "ccc", "dddd"].map((t) => embedder.embed([t], "document")));
    assert.equal(vectors.length, 4);
    const times = arrivals.map((a) => a.at);
    assert.equal(times.length, 4);
    const span = (times[3] - times[0]) / 1000;
    assert.ok(span >= 2.9, `4 requests at 1/s (bucket 1) took ${span.toFixed(2)} s; unlimited they take ~0 s`);
    // At most the bucket (1) plus one second of refill (1).
    assert.ok(maxPerSecond(times) <= 2, `${maxPerSecond(times)} requests in one second`);
  } finally {
    await server.close();
  }
});

test("chat and embeddings on one provider draw from one request budget", { timeout: 30_000 }, async () => {
  resetSharedLimits();
  const { server, arrivals } = await endpoint();
  try {
    const models = modelsWith({ baseUrl: server.url, requestsPerMinute: 60, maxConcurrency: 8 });
    const embedder = createEmbedder("openai-compatible:emb/embed-model", models, {})!;
    const chat = createChatProvider("openai-compatible:emb/chat-model", models, {});
    await Promise.all([embedder.embed(["x"], "query"), chat.chat([{ role: "user", content: "hi" }]), embedder.embed(["y"], "query"), chat.chat([{ role: "user", content: "ho" }])]);
    assert.deepEqual(arrivals.map((a) => a.path).sort(), ["chat", "chat", "embeddings", "embeddings"]);
    const times = arrivals.map((a) => a.at);
    const span = (times[3] - times[0]) / 1000;
    // Two separate budgets would let each kind send one at once and the second a second later (~1 s).
    assert.ok(span >= 2.9, `4 requests (2 chat, 2 embeddings) at 1/s took ${span.toFixed(2)} s`);
  } finally {
    await server.close();
  }
});

test("maxConcurrency bounds embedding requests in flight", async () => {
  resetSharedLimits();
  const { server } = await endpoint(40);
  try {
    const embedder = createEmbedder("openai-compatible:emb/m", modelsWith({ baseUrl: server.url, maxConcurrency: 2 }), {})!;
    await Promise.all(Array.from({ length: 6 }, (_, i) => embedder.embed([`t${i}`], "document")));
    assert.equal(server.requests.length, 6);
    assert.equal(server.maxInFlight, 2);
  } finally {
    await server.close();
  }
});

test("tokensPerMinute charges each request the batch's token count", async () => {
  resetSharedLimits();
  const { server } = await endpoint();
  const slept: number[] = [];
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
  try {
    // 6000/min = 0.1 token/ms, bucket 100 tokens; batches of two texts.
    const text = "lorem ipsum dolor sit amet ".repeat(5).trim();
    const perText = countTokens(text);
    const perBatch = 2 * perText;
    assert.ok(perBatch <= 100 && perBatch > 25, `a batch is ${perBatch} tokens (the arithmetic below needs 25 < n ≤ 100)`);
    const embedder = new OpenAIEmbedder({ id: "openai-compatible:tok/m", baseUrl: server.url, model: "m", batchSize: 2, clock, limits: { key: "providers.tok", maxConcurrency: 4, tokensPerMinute: 6000 } });
    await embedder.embed(Array.from({ length: 8 }, () => text), "document");
    assert.equal(server.requests.length, 4);
    // The bucket starts full (100): the batches that fit go at once, each later one waits for its tokens at 0.1/ms.
    const free = Math.floor(100 / perBatch);
    const waited = slept.reduce((a, b) => a + b, 0);
    const expected = (4 * perBatch - 100) / 0.1;
    assert.ok(Math.abs(waited - expected) <= 4, `waited ${waited} ms, expected ${expected} ms (${free} batch(es) free, ${perBatch} tokens each)`);
  } finally {
    await server.close();
  }
});

test("distributed gates stack: removing one (a closing worker) leaves the other in use", async () => {
  resetSharedLimits();
  const used: string[] = [];
  const gate = (name: string): DistributedRateGate => ({ take: async (key, bucket) => void used.push(`${name} ${key} ${bucket}`) });
  const state = sharedLimits("stack", { maxRetries: 0, maxConcurrency: 1, requestsPerMinute: 60 });
  const call = () => state.run({ id: "x", tokens: () => 0 }, async () => undefined);
  const [a, b] = [gate("eval"), gate("ingest")];
  const removeA = installDistributedRateGate(a);
  const removeB = installDistributedRateGate(b);
  await call();
  removeA(); // the eval worker closes first: the ingest worker's gate stays
  await call();
  removeB();
  await call(); // none left: the local bucket (1 request, full) serves it
  assert.deepEqual(used, ["ingest stack requests", "ingest stack requests"]);
  const removeA2 = installDistributedRateGate(a);
  const removeB2 = installDistributedRateGate(b);
  removeB2(); // the newest closes first: the older one is used again
  await call();
  removeA2();
  assert.deepEqual(used.at(-1), "eval stack requests");
});

// Across queue workers: `ragtune ingest --queue` with two `ragtune worker` processes.

const skip = redisQueueSkipReason();
if (skip) console.error(`# embedder rate limit across workers skipped: ${skip}`);
let redis: RedisServer;
before(async () => {
  if (!skip) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

/** The ingest worker alone (IngestWorker.start, no eval worker); "dies" at a file number it never reaches. */
const INGEST_ONLY = join(dirname(fileURLToPath(import.meta.url)), "helpers", "ingest-worker-dies.ts");

function startWorker(cwd: string, queueName: string): ChildProcess {
  return spawn(process.execPath, [BIN, "worker", "--queue", redis.url, "--ingest-queue-name", queueName, "--ingest-concurrency", "4", "--quiet"], {
    cwd,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
}

async function stop(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map((w) => {
      if (w.exitCode !== null || w.signalCode !== null) return;
      const exited = new Promise((r) => w.once("exit", r));
      w.kill("SIGTERM");
      return exited;
    }),
  );
}

test("ingest --queue on two workers: the embedder's requestsPerMinute is one budget (Redis token bucket)", { skip, timeout: 120_000 }, async () => {
  const { server, arrivals } = await endpoint();
  const root = mkdtempSync(join(tmpdir(), "ragtune-embrate-"));
  mkdirSync(join(root, "docs"));
  // One short chunk per file: 480 chunks = 8 embed jobs of 64 = 8 requests.
  for (let i = 0; i < 480; i++) writeFileSync(join(root, "docs", `d${i}.md`), `# Doc ${i}\n\nDocument ${i} is about topic ${i % 17}.\n`);
  writeFileSync(
    join(root, "ragtune.yaml"),
    `name: embrate\nsources:\n  - include: "docs/**/*"\nsuite: suite.yaml\nretrieval:\n  mode: hybrid\nmodels:\n  embedder: openai-compatible:emb/m\n  providers:\n    emb:\n      baseUrl: ${server.url}\n      requestsPerMinute: 120\n      maxConcurrency: 8\n`,
  );
  writeFileSync(join(root, "suite.yaml"), "cases: []\n");
  // One full `ragtune worker` (eval + ingest) and one process running only the ingest worker: each
  // path must install the shared gate itself.
  const ingestOnly = spawn(process.execPath, ["--import", "tsx", INGEST_ONLY, redis.url, "1000000000", "embrate"], { stdio: ["ignore", "ignore", "pipe"] });
  const workers = [startWorker(root, "embrate"), ingestOnly];
  await new Promise<void>((resolve, reject) => {
    ingestOnly.stderr!.on("data", (d) => String(d).includes("ready") && resolve());
    ingestOnly.once("exit", (code) => reject(new Error(`the ingest-only worker exited (${code})`)));
  });
  try {
    const out = await runCli(["ingest", "--queue", redis.url, "--queue-name", "embrate", "--json"], root);
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout);
    const times = arrivals.filter((a) => a.path === "embeddings").map((a) => a.at);
    assert.equal(times.length, report.queue.embedJobs);
    assert.ok(times.length >= 8, `${times.length} embedding requests`);
    // 120/min = 2/s with a bucket of 2: n requests take ≥ (n − 2) / 2 s; two private buckets would take about half that.
    const expected = (times.length - 2) / 2;
    const span = (times.at(-1)! - times[0]) / 1000;
    assert.ok(span >= expected * 0.9, `${times.length} requests at 2/s (bucket 2) took ${span.toFixed(2)} s, expected ≥ ${expected} s`);
    // Any one second: the bucket (2) plus one second of refill (2), +1 for timer slack; two private buckets allow 8.
    assert.ok(maxPerSecond(times) <= 5, `${maxPerSecond(times)} requests in one second`);
  } finally {
    await stop(workers);
    await server.close();
  }
});
