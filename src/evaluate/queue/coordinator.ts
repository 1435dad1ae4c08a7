/**
 * The coordinator side of a queued run (`ragtune eval --queue redis://…`): the runner
 * (evaluate/runner.ts) decides which tasks run and writes every result; this dispatcher turns each
 * task into a bullmq job and resolves with the job's return value.
 *
 * Exactly once: the runner asks for each (case, variant, repeat) once and appends its result once;
 * results arrive only as job return values; a second completion of a job (a stalled job that was
 * re-run while its first worker was still alive) finds no waiter and is ignored, counted in
 * `duplicateCompletions`. Jobs are kept in Redis until the run completes, so a coordinator that
 * dies and is resumed (`--resume`) re-adds the same ids (no-ops), collects results that finished
 * meanwhile, and waits for the rest. Jobs that failed for good are retried on resume.
 */
import { Job, Queue, QueueEvents, type ConnectionOptions } from "bullmq";
import type { CaseDispatcher, CaseTask } from "../runner.ts";
import type { CaseResult } from "../types.ts";
import type { RunSnapshot } from "../runs.ts";
import { caseJobId, DEFAULT_QUEUE_NAME, type CaseJobData } from "./jobs.ts";
import { connect, type RedisClient } from "../../queue/redis.ts";

export interface QueueDispatcherOptions {
  url: string;
  queueName?: string;
  /** Jobs in the queue at once (default 1000): bounds Redis memory, not worker parallelism. */
  inFlight?: number;
  /** Attempts per job before the run stops (default 3; a worker killed mid-job does not use one up). */
  attempts?: number;
  noCache?: boolean;
  /** Look a waiting job up directly when no event came for this long (missed events, default 3 s). */
  sweepMs?: number;
}

interface Waiter {
  resolve: (r: CaseResult) => void;
  reject: (e: Error) => void;
}

/** The run stops on a job that failed all its attempts; resuming retries it. */
class JobFailedError extends Error {
  readonly retryable = false;
}

export class QueueDispatcher implements CaseDispatcher {
  readonly inFlight: number;
  duplicateCompletions = 0;
  private readonly options: QueueDispatcherOptions;
  private connection?: RedisClient;
  private eventsConnection?: RedisClient;
  private queue?: Queue;
  private events?: QueueEvents;
  private run_?: { runDir: string; snapshot: RunSnapshot; root: string; allowSelfJudge: boolean };
  private readonly waiting = new Map<string, Waiter>();
  private readonly finished = new Set<string>();
  private readonly ids: string[] = [];
  private sweepTimer?: NodeJS.Timeout;
  private lastEvent = Date.now();

  constructor(options: QueueDispatcherOptions) {
    this.options = options;
    this.inFlight = Math.max(1, options.inFlight ?? 1000);
  }

  async start(run: { runDir: string; snapshot: RunSnapshot; root: string; allowSelfJudge: boolean }): Promise<void> {
    this.run_ = run;
    const name = this.options.queueName ?? DEFAULT_QUEUE_NAME;
    this.connection = await connect(this.options.url);
    this.queue = new Queue(name, { connection: this.connection as unknown as ConnectionOptions });
    this.eventsConnection = await connect(this.options.url);
    this.events = new QueueEvents(name, { connection: this.eventsConnection as unknown as ConnectionOptions });
    this.events.on("completed", ({ jobId, returnvalue }) => this.settle(jobId, { result: returnvalue as unknown as CaseResult }));
    this.events.on("failed", ({ jobId, failedReason }) => this.settle(jobId, { error: failedReason }));
    // Subscribed before the first add: no completion can slip between adding and listening.
    await this.events.waitUntilReady();
    await this.queue.waitUntilReady();
    const sweepMs = this.options.sweepMs ?? 3000;
    this.sweepTimer = setInterval(() => void this.sweep(sweepMs), sweepMs);
    this.sweepTimer.unref();
  }

  async run(task: CaseTask): Promise<CaseResult> {
    const run = this.run_!;
    const id = caseJobId(run.snapshot.runId, task);
    const data: CaseJobData = {
      ...task,
      runId: run.snapshot.runId,
      runDir: run.runDir,
      root: run.root,
      allowSelfJudge: run.allowSelfJudge,
      noCache: this.options.noCache ?? false,
    };
    const done = new Promise<CaseResult>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.ids.push(id);
    await this.queue!.add("case", data, {
      jobId: id,
      attempts: this.options.attempts ?? 3,
      backoff: { type: "exponential", delay: 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
    // The id existed (a resumed coordinator): the job may have finished before anyone listened.
    await this.check(id, true);
    return done;
  }

  async finish(complete: boolean): Promise<void> {
    clearInterval(this.sweepTimer);
    // A finished run's jobs are not needed for a resume any more.
    if (complete && this.queue) for (const id of this.ids) await this.queue.remove(id).catch(() => 0);
    for (const [id, w] of this.waiting) w.reject(new Error(`job ${id}: the coordinator stopped waiting`));
    this.waiting.clear();
    await this.events?.close();
    await this.queue?.close();
    // bullmq leaves connections it was given open.
    this.connection?.disconnect();
    this.eventsConnection?.disconnect();
  }

  private settle(jobId: string, outcome: { result?: CaseResult; error?: string }): void {
    this.lastEvent = Date.now();
    const waiter = this.waiting.get(jobId);
    if (!waiter) {
      if (this.finished.has(jobId)) this.duplicateCompletions++;
      return;
    }
    this.waiting.delete(jobId);
    this.finished.add(jobId);
    if (outcome.error !== undefined) waiter.reject(new JobFailedError(`job ${jobId} failed: ${outcome.error}`));
    else waiter.resolve(outcome.result!);
  }

  /** The job's state straight from Redis: settle it when finished; on resume, retry a failed one. */
  private async check(id: string, retryFailed: boolean): Promise<void> {
    // State first, then the job: a job read while active and found completed a moment later
    // still carries returnvalue null (bullmq sets state and return value in one script).
    const state = await this.queue!.getJobState(id);
    if (state === "unknown") return;
    const job = await Job.fromId(this.queue!, id);
    if (!job) return;
    if (state === "completed") this.settle(id, { result: job.returnvalue as CaseResult });
    else if (state === "failed") {
      if (retryFailed) await job.retry("failed");
      else this.settle(id, { error: job.failedReason });
    }
  }

  /** Events can be missed (a Redis restart, a trimmed stream): look up waiting jobs when it is quiet. */
  private async sweep(quietMs: number): Promise<void> {
    if (Date.now() - this.lastEvent < quietMs || !this.queue) return;
    for (const id of [...this.waiting.keys()].slice(0, 500)) await this.check(id, false).catch(() => undefined);
  }
}
