/**
 * The coordinator's side of a bullmq queue, for jobs whose result travels back as the job's
 * return value (the ingest queue's parse and embed jobs): add a job under a deterministic id and
 * wait for its result.
 *
 * - Adding an id that exists is a no-op (bullmq), so a coordinator that died and is run again
 *   re-adds the same jobs and collects the ones that finished meanwhile: `submit` looks the job up
 *   right after adding it, and a completed one resolves at once, without a worker doing it again.
 * - A job that failed all its attempts is retried when it is submitted again (a rerun).
 * - Events can be missed (a Redis restart, a trimmed stream): when no event came for `sweepMs`,
 *   waiting jobs are looked up directly.
 * - At most `inFlight` jobs are in the queue at once (bounds Redis memory, not worker parallelism).
 * - `close(true)` removes the jobs this coordinator waited for: once their results are applied, a
 *   rerun does not need them.
 */
import { Job, Queue, QueueEvents, type ConnectionOptions } from "bullmq";
import { connect, type RedisClient } from "./redis.ts";

export interface JobDispatcherOptions {
  url: string;
  queueName: string;
  /** Jobs in the queue at once (default 1000). */
  inFlight?: number;
  /** Attempts per job (default 3; a worker killed mid-job does not use one up: bullmq's stalled check moves it back). */
  attempts?: number;
  sweepMs?: number;
}

/**
 * A job that failed all its attempts: the run stops; running it again retries the job.
 * `retryable = false` makes the eval runner stop with its resume hint instead of rethrowing.
 */
export class QueueJobFailed extends Error {
  readonly exitCode = 1;
  readonly retryable = false;
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class JobDispatcher {
  /** Completions of jobs already settled (a stalled job re-run while its first worker lived). */
  duplicateCompletions = 0;
  /** Jobs found already completed when submitted (a rerun collecting earlier work). */
  collected = 0;
  private readonly waiting = new Map<string, Waiter>();
  private readonly settled = new Set<string>();
  private readonly ids: string[] = [];
  private readonly slots: (() => void)[] = [];
  private active = 0;
  private lastEvent = Date.now();
  private sweepTimer?: NodeJS.Timeout;

  private constructor(
    private readonly options: JobDispatcherOptions,
    private readonly connection: RedisClient,
    private readonly eventsConnection: RedisClient,
    readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {}

  static async start(options: JobDispatcherOptions): Promise<JobDispatcher> {
    const connection = await connect(options.url);
    const eventsConnection = await connect(options.url);
    const queue = new Queue(options.queueName, { connection: connection as unknown as ConnectionOptions });
    const events = new QueueEvents(options.queueName, { connection: eventsConnection as unknown as ConnectionOptions });
    const self = new JobDispatcher(options, connection, eventsConnection, queue, events);
    events.on("completed", ({ jobId, returnvalue }) => self.settle(jobId, { value: returnvalue }));
    events.on("failed", ({ jobId, failedReason }) => self.settle(jobId, { error: failedReason }));
    // Subscribed before the first add: no completion can slip between adding and listening.
    await events.waitUntilReady();
    await queue.waitUntilReady();
    const sweepMs = options.sweepMs ?? 3000;
    self.sweepTimer = setInterval(() => void self.sweep(sweepMs), sweepMs);
    self.sweepTimer.unref();
    return self;
  }

  /** Add the job (a no-op when the id exists) and resolve with its return value. */
  async submit<T>(name: string, id: string, data: object): Promise<T> {
    await this.slot();
    try {
      const done = new Promise<unknown>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
      // Rejected by close() when submitting itself failed first: that error is the one to report.
      done.catch(() => undefined);
      this.ids.push(id);
      // A job of an earlier run of this coordinator: collect it (completed), retry it (failed),
      // or wait for it (waiting, active, delayed).
      const existing = await Job.fromId(this.queue, id);
      const state = existing ? await existing.getState() : "unknown";
      if (state === "completed") this.collected++;
      if (state === "completed" || state === "failed") await this.check(id, true);
      else if (state === "unknown") {
        await this.queue.add(name, data, {
          jobId: id,
          attempts: this.options.attempts ?? 3,
          backoff: { type: "exponential", delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        });
        // Events are the normal path; this catches a completion that raced the subscription.
        await this.check(id, false);
      }
      return (await done) as T;
    } finally {
      this.active--;
      this.slots.shift()?.();
    }
  }

  async close(removeJobs: boolean): Promise<void> {
    clearInterval(this.sweepTimer);
    if (removeJobs) for (const id of this.ids) await this.queue.remove(id).catch(() => 0);
    for (const [id, w] of this.waiting) w.reject(new Error(`job ${id}: the coordinator stopped waiting`));
    this.waiting.clear();
    await this.events.close();
    await this.queue.close();
    // bullmq leaves connections it was given open.
    this.connection.disconnect();
    this.eventsConnection.disconnect();
  }

  private slot(): Promise<void> {
    const limit = Math.max(1, this.options.inFlight ?? 1000);
    if (this.active < limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slots.push(() => (this.active++, resolve())));
  }

  private settle(id: string, outcome: { value?: unknown; error?: string }): void {
    this.lastEvent = Date.now();
    const waiter = this.waiting.get(id);
    if (!waiter) {
      if (this.settled.has(id)) this.duplicateCompletions++;
      return;
    }
    this.waiting.delete(id);
    this.settled.add(id);
    if (outcome.error !== undefined) waiter.reject(new QueueJobFailed(`job ${id} failed: ${outcome.error}`));
    else waiter.resolve(outcome.value);
  }

  /** The job's state straight from Redis: settle it when finished; when submitting, retry a failed one. */
  private async check(id: string, submitting: boolean): Promise<void> {
    // State first, then the job: a job read while active and found completed a moment later
    // still carries returnvalue null (bullmq sets state and return value in one script).
    const state = await this.queue.getJobState(id);
    if (state === "unknown") return;
    const job = await Job.fromId(this.queue, id);
    if (!job) return;
    if (state === "completed") this.settle(id, { value: job.returnvalue });
    else if (state === "failed") {
      if (submitting) await job.retry("failed");
      else this.settle(id, { error: job.failedReason });
    }
  }

  private async sweep(quietMs: number): Promise<void> {
    if (Date.now() - this.lastEvent < quietMs) return;
    for (const id of [...this.waiting.keys()].slice(0, 500)) await this.check(id, false).catch(() => undefined);
  }
}
