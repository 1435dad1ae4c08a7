/**
 * The typed messages between the serving thread and the re-index worker (reindex-worker.ts).
 * Everything crossing the thread boundary is structured-clone data: the config as loaded (no
 * functions), the index file, and the results/errors as plain objects.
 */
import type { RagtuneConfig } from "../config/index.ts";
import type { IngestStats } from "../ingest/index.ts";

/** What the worker needs to open the same project on its own SQLite connection. */
export interface ReindexWorkerInit {
  config: RagtuneConfig;
  configPath: string;
  root: string;
  indexFile: string;
  /** Module the bootstrap imports (reindex-worker.ts; tests pass one that misbehaves). */
  module: string;
  tsx: string | undefined;
}

export type ReindexJob =
  | { id: number; kind: "reindex"; prune: boolean }
  | { id: number; kind: "delete"; path: string };

/** Why a job failed, sorted by whose fault it is (the route maps these to 404/422/500). */
export type ReindexFailureKind = "refused" | "input" | "not_found" | "internal";

export interface ReindexFailure {
  kind: ReindexFailureKind;
  message: string;
  /** Removals a refused ingest would have made (IngestRefused.removals). */
  removals?: unknown;
}

export type ReindexWorkerMessage =
  | { type: "ready" }
  | { type: "reindexed"; id: number; stats: IngestStats }
  | { type: "deleted"; id: number; indexVersion: number | undefined }
  | { type: "failed"; id: number; failure: ReindexFailure };
