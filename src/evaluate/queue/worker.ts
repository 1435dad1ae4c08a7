/**
 * `ragtune worker --queue redis://…`: takes case jobs (evaluate/queue/jobs.ts) of any run and
 * computes each with the runner's own `runCase`, reading the run's pinned index copy
 * (`runs/<id>/index.db`, evaluate/snapshot.ts) with the run's recorded config, generator and
 * judge, so a case gives the same result on any worker as in a local run. The result goes back as
 * the job's return value; the worker never writes the run folder.
 *
 * Kill -9 safety: bullmq's lock on an active job expires `lockMs` after the worker stops renewing
 * it, the stalled-job check moves the job back to waiting and another worker runs it. The model
 * call is not paid twice: the response cache is the Redis one (models/cache-redis.ts), written as
 * soon as the provider answers. Rate limits per provider key are one Redis token bucket shared by
 * every worker (rate-gate.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { openProject, buildVariants, type Project, type Variant } from "../../pipeline/index.ts";
import type { VariantName } from "../../config/index.ts";
import { caseContext, fingerprint, runCase, type CaseContext } from "../runner.ts";
import { readSnapshot } from "../runs.ts";
import { loadSuite } from "../suite.ts";
import type { CaseResult, SuiteCase } from "../types.ts";
import { RedisResponseCache } from "../../models/cache-redis.ts";
import type { ResponseCacheBackend } from "../../models/cache.ts";
import { installDistributedRateGate } from "../../models/resilience.ts";
import { RedisRateGate } from "../../queue/rate-gate.ts";
import { DEFAULT_QUEUE_NAME, type CaseJobData } from "./jobs.ts";
import { connect, type RedisClient } from "../../queue/redis.ts";

export interface EvalWorkerOptions {
  url: string;
  queueName?: string;
  /** Jobs processed at once by this worker (default 4). */
  concurrency?: number;
  /** Lock on an active job: a killed worker's job is taken over within about this long (default 30 s). */
  lockMs?: number;
  /** Wrap the shared cache (tests inject faults here). */
  wrapCache?: (cache: ResponseCacheBackend) => ResponseCacheBackend;
  onJob?: (event: { id: string; caseId: string; variant: string; ms: number; cached?: boolean }) => void;
}

/** One run as a worker sees it: opened once, reused for all its jobs. */
interface OpenRun {
  project: Project;
  ctx: CaseContext;
  variants: Map<string, Variant>;
  cases: Map<string, SuiteCase>;
}

/** A job that cannot succeed on retry (the run folder is gone, the suite changed, an auth error). */
function fatal(message: string): never {
  throw new UnrecoverableError(message);
}

export class EvalWorker {
  private readonly runs = new Map<string, OpenRun>();

  private constructor(
    readonly worker: Worker<CaseJobData, CaseResult>,
    private readonly cacheConnection: RedisClient,
    private readonly workerConnection: RedisClient,
    private readonly cache: ResponseCacheBackend,
    private readonly options: EvalWorkerOptions,
    private readonly removeRateGate: () => void,
  ) {}

  static async start(options: EvalWorkerOptions): Promise<EvalWorker> {
    const cacheConnection = await connect(options.url);
    const shared = new RedisResponseCache(cacheConnection);
    const cache = options.wrapCache ? options.wrapCache(shared) : shared;
    const removeRateGate = installDistributedRateGate(new RedisRateGate(cacheConnection));
    const lockMs = options.lockMs ?? 30_000;
    let self: EvalWorker | undefined;
    const workerConnection = await connect(options.url);
    const worker = new Worker<CaseJobData, CaseResult>(options.queueName ?? DEFAULT_QUEUE_NAME, (job) => self!.process(job), {
      connection: workerConnection as unknown as ConnectionOptions,
      concurrency: Math.max(1, options.concurrency ?? 4),
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
      // A job whose workers keep dying (OOM on one case) fails after this many takeovers instead of looping.
      maxStalledCount: 5,
      autorun: false,
    });
    self = new EvalWorker(worker, cacheConnection, workerConnection, cache, options, removeRateGate);
    worker.run().catch((err) => console.error(`worker stopped: ${(err as Error).message}`));
    await worker.waitUntilReady();
    return self;
  }

  async close(): Promise<void> {
    await this.worker.close();
    for (const run of this.runs.values()) run.project.close();
    this.runs.clear();
    this.cacheConnection.disconnect();
    this.workerConnection.disconnect();
    this.removeRateGate();
  }

  private async process(job: Job<CaseJobData, CaseResult>): Promise<CaseResult> {
    const d = job.data;
    const run = this.open(d);
    const variant = run.variants.get(d.variant) ?? fatal(`run ${d.runId}: variant '${d.variant}' is not runnable on this worker`);
    const c = run.cases.get(d.caseId) ?? fatal(`run ${d.runId}: case '${d.caseId}' is not in the suite`);
    const started = performance.now();
    try {
      const result = await runCase(run.ctx, variant, c, d.repeat);
      this.options.onJob?.({ id: job.id!, caseId: d.caseId, variant: d.variant, ms: performance.now() - started, cached: result.cached });
      return result;
    } catch (error) {
      // Auth or validation errors will not go away on another attempt.
      if ((error as { retryable?: unknown })?.retryable === false) fatal((error as Error).message);
      throw error;
    }
  }

  private open(d: CaseJobData): OpenRun {
    const key = `${d.runDir}\u0000${d.noCache}`;
    const known = this.runs.get(key);
    if (known) return known;
    let snapshot;
    try {
      snapshot = readSnapshot(d.runDir);
    } catch (err) {
      fatal(`run ${d.runId}: cannot read ${join(d.runDir, "config.json")} (${(err as Error).message}); a worker needs the run folder on a shared filesystem`);
    }
    if (!snapshot.index) fatal(`run ${d.runId} has no pinned index (made before index snapshots)`);
    const suite = loadSuite(snapshot.suitePath);
    const suiteHash = fingerprint(readFileSync(suite.path, "utf8") + JSON.stringify(suite.cases.map((c) => c.id)));
    if (suiteHash !== snapshot.suiteHash) fatal(`run ${d.runId}: the suite ${suite.path} changed since the run started`);
    const project = openProject(
      { config: snapshot.config, path: snapshot.configPath, root: d.root },
      { model: snapshot.generator, judge: snapshot.judge, indexFile: join(d.runDir, snapshot.index.file), noCache: d.noCache, cacheBackend: this.cache },
    );
    try {
      const { variants } = buildVariants(project, snapshot.variants as VariantName[]);
      const ctx = caseContext(project, suite, snapshot, snapshot.generator, d.allowSelfJudge);
      const run: OpenRun = { project, ctx, variants: new Map(variants.map((v) => [v.name, v])), cases: new Map(suite.cases.map((c) => [c.id, c])) };
      // Keep a few runs open; the oldest is closed (its jobs are done or will reopen it).
      if (this.runs.size >= 4) {
        const [oldKey, old] = this.runs.entries().next().value!;
        old.project.close();
        this.runs.delete(oldKey);
      }
      this.runs.set(key, run);
      return run;
    } catch (err) {
      project.close();
      throw err;
    }
  }
}
