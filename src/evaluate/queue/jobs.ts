/**
 * What travels through the queue: one bullmq job per (case, variant, repeat) of a run, with a
 * deterministic id, so adding it again (a resumed coordinator) is a no-op that finds the job as
 * it is (waiting, running, or finished with its result kept in Redis). The Redis connection and
 * URL check shared with the ingest queue are in queue/redis.ts.
 */
import type { CaseTask } from "../runner.ts";

export const DEFAULT_QUEUE_NAME = "ragtune-eval";

/** The job's data: where the run lives (a filesystem every worker sees) and which task. */
export interface CaseJobData extends CaseTask {
  runId: string;
  runDir: string;
  /** Project root: relative paths of the run's config resolve from it. */
  root: string;
  allowSelfJudge: boolean;
  /** `--no-cache` on the coordinator: workers bypass the shared cache too. */
  noCache: boolean;
}

/** `<runId>|<variant>|<repeat>|<caseId, URI-encoded>` — bullmq refuses ':' in ids, encoding removes it. */
export function caseJobId(runId: string, task: CaseTask): string {
  return `${encodeURIComponent(runId)}|${task.variant}|${task.repeat}|${encodeURIComponent(task.caseId)}`;
}
