/**
 * Distributed ingest on Redis + bullmq (ingest/queue/): a real redis-server on a loopback port,
 * `ragtune worker` processes, `ragtune ingest --queue` as the coordinator. Asserts the index equals
 * a local ingest's field by field (documents, chunks, vectors, fingerprint), on a generated corpus
 * and on fastify-docs when ../shared/datasets has it; a worker SIGKILLed mid-job loses nothing; a
 * coordinator SIGKILLed mid-run leaves the previous index and, rerun, collects the finished jobs
 * instead of redoing them; a file that fails to parse is reported as a local ingest reports it;
 * a rerun with no changes queues no parse job. Skips (with the reason) without redis-server or ioredis.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, type ConnectionOptions } from "bullmq";
import { BIN, runCli, stopChildren } from "./helpers/cli.ts";
import { loadIORedis, redisQueueSkipReason, startRedis, type RedisServer } from "./helpers/redis.ts";
import { indexContent } from "./helpers/index-content.ts";

const skip = redisQueueSkipReason();
if (skip) console.error(`# ingest-queue tests skipped: ${skip}`);
let redis: RedisServer;
before(async () => {
  if (!skip) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

const HERE = dirname(fileURLToPath(import.meta.url));
const DIES = join(HERE, "helpers", "ingest-worker-dies.ts");
const FASTIFY = join(HERE, "..", "..", "shared", "datasets", "fastify-docs");
const CONFIG = `name: iq\nsources:\n  - include: "docs/**/*"\n    version: v1\nsuite: suite.yaml\nretrieval:\n  mode: hybrid\nmodels:\n  embedder: hashing:64\n`;

/** A project folder with `n` generated documents (several sections each), plus the given extra files. */
function generated(n: number, extra: Record<string, string | Buffer> = {}, from = 0): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-iq-"));
  mkdirSync(join(root, "docs", "guide"), { recursive: true });
  writeFileSync(join(root, "ragtune.yaml"), CONFIG);
  writeFileSync(join(root, "suite.yaml"), "cases: []\n");
  addDocs(root, from, n);
  for (const [path, body] of Object.entries(extra)) writeFileSync(join(root, path), body);
  return root;
}

function addDocs(root: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const sections = Array.from({ length: 1 + (i % 4) }, (_, s) => `## Part ${s} of topic ${i}\n\nTopic ${i} section ${s}: ${"the quick brown fox jumps over the lazy dog ".repeat(3 + ((i * 7 + s) % 40))}\n`);
    writeFileSync(join(root, "docs", i % 3 === 0 ? "guide" : "", `doc-${String(i).padStart(3, "0")}.md`), `---\ntitle: Doc ${i}\ntags: [t${i % 5}]\n---\n# Doc ${i}\n\nIntro of document ${i}.\n\n${sections.join("\n")}`);
  }
}

/** The same project files in a second folder (the local ingest to compare with). */
function twin(root: string): string {
  const copy = mkdtempSync(join(tmpdir(), "ragtune-iq-local-"));
  cpSync(root, copy, { recursive: true, filter: (src) => !src.includes(".ragtune") });
  return copy;
}

function startWorker(cwd: string, queueName: string, extra: string[] = []): ChildProcess & { log: () => string } {
  const w = spawn(process.execPath, [BIN, "worker", "--queue", redis.url, "--ingest-queue-name", queueName, "--lock-ms", "2000", ...extra], {
    cwd,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  }) as ChildProcess & { log: () => string };
  let log = "";
  w.stderr!.on("data", (d) => (log += d));
  w.log = () => log;
  return w;
}

function startDyingWorker(queueName: string, n: number): ChildProcess {
  // ingest-worker-dies.ts uses the default queue name; pass it through the environment-free argv.
  return spawn(process.execPath, ["--import", "tsx", DIES, redis.url, String(n), queueName], { stdio: ["ignore", "ignore", "pipe"] });
}

const skippedLines = (out: string) => out.split("\n").filter((l) => /^\s+(skipped|removed|kept) /.test(l)).sort();
const parseJobsRun = (log: string) => log.split("\n").filter((l) => /^parse \d+ file/.test(l)).length;

async function ingestBoth(root: string, queueName: string): Promise<{ queued: any; local: any; localRoot: string }> {
  const localRoot = twin(root);
  const local = await runCli(["ingest", "--json"], localRoot);
  const queued = await runCli(["ingest", "--queue", redis.url, "--queue-name", queueName, "--json"], root);
  assert.equal(queued.code, local.code, `exit codes differ: ${queued.stderr}`);
  assert.equal(local.code, 0, local.stderr);
  return { queued: JSON.parse(queued.stdout), local: JSON.parse(local.stdout), localRoot };
}

test("two workers: the index equals a local ingest's; failing files reported the same; a rerun queues no parse job", { skip, timeout: 240_000 }, async () => {
  const root = generated(70, { "docs/broken.md": Buffer.from([0x23, 0x20, 0x00, 0x01, 0x02, 0x00, 0x41]), "docs/empty.md": "", "docs/notes.xyz": "x" });
  const workers = [startWorker(root, "iq-two"), startWorker(root, "iq-two")];
  try {
    const { queued, local, localRoot } = await ingestBoth(root, "iq-two");
    assert.deepEqual(indexContent(root), indexContent(localRoot));
    assert.equal(indexContent(root).vectorCount, local.chunks);
    assert.deepEqual(queued.skipped, local.skipped);
    assert.equal(queued.skipped.length, 3);
    assert.match(JSON.stringify(queued.skipped), /binary file/);
    assert.deepEqual([queued.added, queued.documents, queued.chunks], [local.added, local.documents, local.chunks]);
    assert.equal(queued.queue.parseJobs, 5, "72 files to parse in batches of 16");
    assert.ok(queued.queue.embedJobs > 0);
    // Both workers took part.
    assert.ok(workers.every((w) => parseJobsRun(w.log()) + (w.log().match(/^embed /gm)?.length ?? 0) > 0), workers.map((w) => w.log()).join("\n---\n"));

    // The human report: the same skipped lines, the same exit code.
    const [q, l] = [await runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-two"], root), await runCli(["ingest"], localRoot)];
    assert.equal(q.code, l.code);
    assert.deepEqual(skippedLines(q.stdout), skippedLines(l.stdout));
    assert.equal(skippedLines(q.stdout).length, 3);

    // Nothing changed: the 70 indexed files are not parsed again, no embed job. The two files that
    // failed are tried again (one job), as a local ingest tries them again: they are not in the index.
    const again = JSON.parse((await runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-two", "--json"], root)).stdout);
    assert.deepEqual([again.queue.parseJobs, again.queue.embedJobs, again.unchanged, again.skipped.length], [1, 0, 70, 3]);
  } finally {
    await stopChildren(workers);
  }
});

test("fastify-docs on two workers equals a local ingest", { skip: skip ?? (existsSync(FASTIFY) ? undefined : `${FASTIFY} not present`), timeout: 240_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-iq-fastify-"));
  cpSync(FASTIFY, join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "ragtune.yaml"), CONFIG);
  writeFileSync(join(root, "suite.yaml"), "cases: []\n");
  const workers = [startWorker(root, "iq-fastify"), startWorker(root, "iq-fastify")];
  try {
    const { queued, local, localRoot } = await ingestBoth(root, "iq-fastify");
    assert.ok(local.documents > 50);
    assert.deepEqual(queued.skipped, local.skipped);
    assert.deepEqual(indexContent(root), indexContent(localRoot));
  } finally {
    await stopChildren(workers);
  }
});

test("a worker SIGKILLed mid-job: its job is taken over, nothing lost, every document once", { skip, timeout: 240_000 }, async () => {
  const root = generated(40);
  const dying = startDyingWorker("iq-kill", 5);
  await new Promise<void>((resolve) => dying.stderr!.on("data", (d) => String(d).includes("ready") && resolve()));
  const died = new Promise((r) => dying.once("exit", (_c, signal) => r(signal)));
  const run = runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-kill", "--json"], root);
  assert.equal(await died, "SIGKILL");
  const rescuer = startWorker(root, "iq-kill");
  try {
    const out = await run;
    assert.equal(out.code, 0, out.stderr);
    const queued = JSON.parse(out.stdout);
    const localRoot = twin(root);
    assert.equal((await runCli(["ingest"], localRoot)).code, 0);
    const content = indexContent(root);
    assert.deepEqual(content, indexContent(localRoot));
    assert.equal(content.documents.length, 40);
    assert.equal(new Set(content.chunks.map((c: any) => c.id)).size, content.chunks.length);
    // The rescuer ran every parse job, the killed one included.
    assert.equal(parseJobsRun(rescuer.log()), queued.queue.parseJobs);
    // A rerun with no changes queues no parse job at all.
    const again = JSON.parse((await runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-kill", "--json"], root)).stdout);
    assert.deepEqual([again.queue.parseJobs, again.queue.embedJobs, again.unchanged], [0, 0, 40]);
    assert.equal(parseJobsRun(rescuer.log()), queued.queue.parseJobs);
  } finally {
    await stopChildren([rescuer, dying]);
  }
});

test("a coordinator SIGKILLed mid-run: the previous index stays; rerun collects the finished jobs and gives the local index", { skip, timeout: 240_000 }, async () => {
  const root = generated(20);
  assert.equal((await runCli(["ingest"], root)).code, 0);
  const before = indexContent(root);
  addDocs(root, 20, 100);
  const IORedis = loadIORedis()!;
  const connection = new IORedis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue("iq-coord", { connection: connection as ConnectionOptions });
  const coordinator = spawn(process.execPath, [BIN, "ingest", "--queue", redis.url, "--queue-name", "iq-coord"], { cwd: root, stdio: "ignore" });
  let worker: (ChildProcess & { log: () => string }) | undefined;
  try {
    const until = async (ok: (c: Record<string, number>) => boolean) => {
      for (let i = 0; i < 600; i++) {
        const counts = await queue.getJobCounts("waiting", "active", "completed");
        if (ok(counts)) return counts;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("timed out waiting for the queue");
    };
    await until((c) => c.waiting === 5); // 80 changed files
    worker = startWorker(root, "iq-coord", ["--ingest-concurrency", "1"]);
    await until((c) => c.completed >= 2);
    coordinator.kill("SIGKILL");
    await new Promise((r) => coordinator.once("exit", r));
    await until((c) => c.completed === 5);
    // Nothing was written before the single commit: the previous index is intact and readable.
    assert.deepEqual(indexContent(root), before);

    const out = await runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-coord", "--json"], root);
    assert.equal(out.code, 0, out.stderr);
    const rerun = JSON.parse(out.stdout);
    assert.equal(rerun.queue.parseJobs, 5);
    assert.equal(rerun.queue.collected, 5, "every parse job collected (the embed jobs are new: nothing was committed)");
    assert.equal(parseJobsRun(worker.log()), 5, "no parse job was done twice");
    const localRoot = twin(root);
    assert.equal((await runCli(["ingest"], localRoot)).code, 0);
    assert.deepEqual(indexContent(root), indexContent(localRoot));
    // The finished run removed its jobs from Redis.
    assert.deepEqual(await queue.getJobCounts("waiting", "active", "completed", "failed"), { waiting: 0, active: 0, completed: 0, failed: 0 });
  } finally {
    if (coordinator.exitCode === null && coordinator.signalCode === null) coordinator.kill("SIGKILL");
    if (worker) await stopChildren([worker]);
    await queue.close();
    connection.disconnect();
  }
});

test("every file fails to parse: the queued ingest exits as the local one does, with the same message", { skip, timeout: 120_000 }, async () => {
  const root = generated(0, { "docs/a.md": "", "docs/b.md": Buffer.from([0, 1, 2, 0, 3]) });
  const workers = [startWorker(root, "iq-fail")];
  try {
    const localRoot = twin(root);
    const [q, l] = [await runCli(["ingest", "--queue", redis.url, "--queue-name", "iq-fail"], root), await runCli(["ingest"], localRoot)];
    assert.equal(l.code, 2);
    assert.equal(q.code, l.code);
    assert.deepEqual(skippedLines(q.stdout), skippedLines(l.stdout));
    const message = (s: string) => s.split("\n").filter((x) => x.startsWith("error:"));
    assert.deepEqual(message(q.stderr), message(l.stderr));
    assert.equal(message(q.stderr).length, 1);
  } finally {
    await stopChildren(workers);
  }
});
