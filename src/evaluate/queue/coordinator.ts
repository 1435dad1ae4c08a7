/**
 * The coordinator side of a queued run (`ragtune eval --queue redis://…`): the runner
 * (evaluate/runner.ts) decides which tasks run and writes every result; this dispatcher turns each
 * task into a bullmq job and resolves with the job's return value. Submitting, collecting,
 * retrying, the in-flight limit and the missed-event sweep are the shared queue/dispatch.ts.
 *
 * Exactly once: the runner asks for each (case, variant, repeat) once and appends its result once;
 * results arrive only as job return values; a second completion of a job (a stalled job that was
 * re-run while its first worker was still alive) finds no waiter and is ignored, counted in
 * `duplicateCompletions`. Jobs are kept in Redis until the run completes, so a coordinator that
 * dies and is resumed (`--resume`) re-adds the same ids (no-ops), collects results that finished
 * meanwhile, and waits for the rest. Jobs that failed for good are retried on resume.
 */
import type { CaseDispatcher, CaseTask } from "../runner.ts";
import type { CaseResult } from "../types.ts";
import { caseJobId, DEFAULT_QUEUE_NAME, type CaseJobData } from "./jobs.ts";
import { JobDispatcher } from "../../queue/dispatch.ts";

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

type RunContext = Parameters<CaseDispatcher["start"]>[0];

export class QueueDispatcher implements CaseDispatcher {
  /** The runner hands out this many tasks at once, so the dispatcher's own limit never waits. */
  readonly inFlight: number;
  private dispatcher?: JobDispatcher;
  private run_?: RunContext;

  constructor(private readonly options: QueueDispatcherOptions) {
    this.inFlight = Math.max(1, options.inFlight ?? 1000);
  }

  /** Completions of jobs already settled (a stalled job re-run while its first worker lived). */
  get duplicateCompletions(): number {
    return this.dispatcher?.duplicateCompletions ?? 0;
  }

  async start(run: RunContext): Promise<void> {
    this.run_ = run;
    const { url, attempts, sweepMs } = this.options;
    this.dispatcher = await JobDispatcher.start({ url, queueName: this.options.queueName ?? DEFAULT_QUEUE_NAME, inFlight: this.inFlight, attempts, sweepMs });
  }

  async run(task: CaseTask): Promise<CaseResult> {
    const run = this.run_!;
    const data: CaseJobData = {
      ...task,
      runId: run.snapshot.runId,
      runDir: run.runDir,
      root: run.root,
      allowSelfJudge: run.allowSelfJudge,
      noCache: this.options.noCache ?? false,
    };
    return this.dispatcher!.submit<CaseResult>("case", caseJobId(run.snapshot.runId, task), data);
  }

  /** `complete`: every result is recorded, so a finished run's jobs are not needed for a resume. */
  async finish(complete: boolean): Promise<void> {
    await this.dispatcher?.close(complete);
  }
}
