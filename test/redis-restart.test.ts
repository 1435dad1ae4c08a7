// "Redis restarted mid-eval", at the bullmq level: a Queue/Worker pair on a private redis-server
// (test/helpers/redis.ts) survives a crash of the server between jobs and during them. The eval
// queue is built on top of this; what it can rely on, and what it must add, is asserted here.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { Queue, Worker, type Job } from "bullmq";
import { loadIORedis, redisSkipReason, startRedis } from "./helpers/redis.ts";

const IORedis = loadIORedis();
const bullmqSkip = redisSkipReason()
  ?? (IORedis ? undefined : "ioredis not installed: bullmq 6 only names it as an optional peer dependency; add ioredis to package.json");

/** One raw RESP command (no client library), for the helper's own test. */
function rawCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let buf = "";
    sock.once("error", reject);
    sock.once("connect", () => sock.write(line + "\r\n"));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.endsWith("\r\n")) { sock.destroy(); resolve(buf); }
    });
  });
}

test("startRedis: private server on loopback; restart keeps port and, with appendOnly, the data; stop closes it", { skip: redisSkipReason() }, async (t) => {
  const redis = await startRedis({ appendOnly: true });
  t.after(() => redis.stop());
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await rawCommand(redis.port, "SET k v"), "+OK\r\n");
  await redis.restart(); // SIGKILL: only fsynced writes survive
  assert.equal(await rawCommand(redis.port, "GET k"), "$1\r\nv\r\n");
  await redis.stop();
  await assert.rejects(rawCommand(redis.port, "PING"), /ECONNREFUSED/);
});

test("startRedis without appendOnly: a restart starts empty (why production Redis needs AOF)", { skip: redisSkipReason() }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  assert.equal(await rawCommand(redis.port, "SET k v"), "+OK\r\n");
  await redis.restart();
  assert.equal(await rawCommand(redis.port, "GET k"), "$-1\r\n");
});

test("bullmq Queue/Worker: Redis killed mid-run, worker reconnects, every job completes exactly once", { skip: bullmqSkip, timeout: 120_000 }, async (t) => {
  const redis = await startRedis({ appendOnly: true });
  t.after(() => redis.stop());
  // bullmq needs maxRetriesPerRequest: null (commands wait for the reconnect instead of failing);
  // a short fixed retry delay keeps the test quick (bullmq's default backs off from 1 s).
  const connection = () => new IORedis!(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  const queueConn = connection();
  const workerConn = connection();
  const queue = new Queue("eval-restart", { connection: queueConn });
  const errors: string[] = [];
  queue.on("error", (e) => errors.push(`queue: ${e.message}`));

  const N = 40;
  await queue.addBulk(Array.from({ length: N }, (_, i) => ({
    name: "case", data: { i }, opts: { jobId: `case-${i}`, attempts: 3, removeOnComplete: false },
  })));

  const invocations = new Map<string, number>();
  const running = new Set<string>();
  const completedEvents = new Map<string, number>();
  let restartDone: Promise<void> | undefined;
  let activeAtKill: string[] = [];

  const worker = new Worker("eval-restart", async (job: Job) => {
    const id = job.id!;
    invocations.set(id, (invocations.get(id) ?? 0) + 1);
    running.add(id);
    // Kill the server once, a quarter into the run, from inside a job: this job and its
    // neighbour finish while the server is down, so their completions meet a dead connection.
    if (!restartDone && [...invocations.values()].reduce((a, b) => a + b, 0) > N / 4) {
      activeAtKill = [...running];
      restartDone = redis.restart({ downMs: 500 });
    }
    try {
      await new Promise((r) => setTimeout(r, 40));
      return { square: job.data.i * job.data.i };
    } finally {
      running.delete(id);
    }
  }, {
    connection: workerConn,
    concurrency: 2,
    // A job whose completion was lost with the server is picked up again by the stalled check:
    // short intervals so that happens within the test, not after bullmq's default 30 s.
    lockDuration: 2_000,
    stalledInterval: 1_000,
    maxStalledCount: 2,
  });
  worker.on("error", (e) => errors.push(`worker: ${e.message}`));
  worker.on("completed", (job) => {
    completedEvents.set(job.id!, (completedEvents.get(job.id!) ?? 0) + 1);
  });
  t.after(async () => {
    await worker.close(true).catch(() => {});
    await queue.close().catch(() => {});
    queueConn.disconnect();
    workerConn.disconnect();
  });

  const deadline = Date.now() + 90_000;
  for (;;) {
    const counts = await queue.getJobCounts("completed", "failed", "waiting", "active", "delayed");
    if (counts.completed + counts.failed === N) break;
    if (Date.now() > deadline) assert.fail(`run did not finish: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(restartDone, "the server was restarted mid-run");
  await restartDone;

  const counts = await queue.getJobCounts("completed", "failed");
  assert.deepEqual(counts, { completed: N, failed: 0 });
  // Exactly once in the queue's record: N distinct completed jobs, each with its own result.
  const done = await queue.getCompleted(0, -1);
  assert.equal(new Set(done.map((j) => j.id)).size, N);
  for (const job of done) assert.deepEqual(job.returnvalue, { square: job.data.i * job.data.i });
  for (let i = 0; i < N; i++) assert.ok(invocations.get(`case-${i}`)! >= 1, `case-${i} ran`);
  // At-least-once execution: a job may run twice only if it was in flight when the server died
  // (its completion was lost, the stalled check handed it out again). The eval queue must make
  // results idempotent per job id (and the shared response cache keeps the model call unpaid).
  const ranTwice = [...invocations].filter(([, n]) => n > 1).map(([id]) => id);
  for (const id of ranTwice) assert.ok(activeAtKill.includes(id), `${id} ran twice but was not in flight at the kill`);
  t.diagnostic(`in flight at the kill: ${activeAtKill.join(", ") || "none"}; ran twice: ${ranTwice.join(", ") || "none"}; completed events: ${[...completedEvents.values()].reduce((a, b) => a + b, 0)}; connection errors seen: ${errors.length}`);
  assert.ok(errors.length > 0, "the clients saw the server go away (else the restart tested nothing)");
  assert.ok(activeAtKill.length > 0, "a job was in flight at the kill");
});
