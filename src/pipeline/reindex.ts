/**
 * Bring a project's index up to date — ingest (transactional: readers see the old index or the
 * new one, and a failed ingest changes nothing), embed what changed for dense/hybrid retrieval,
 * record an index version — the one sequence `ragtune ingest`, the demo and `POST /v1/ingest` run.
 */
import { ingestProject, type IngestStats } from "../ingest/index.ts";
import { embedPending, type EmbedEstimate, type EmbedPendingOptions, type EmbedPendingResult, type EmbedProgress } from "../retrieve/dense.ts";
import type { RemoteParser } from "../ingest/ingest.ts";
import type { Embedder } from "../models/index.ts";
import { hasSnapshots } from "../store/index.ts";
import { openVectorStoreFor } from "../store/vectors-open.ts";
import type { VectorStore } from "../store/vectors.ts";
import { configHashOf } from "../store/versions.ts";
import type { Project } from "./project.ts";
import type { ParserSandbox } from "../ingest/sandbox.ts";

export interface ReindexOptions {
  prune?: boolean;
  /** Names `sources[i].include` as file:line in errors (the CLI's config locator). */
  locate?: (source: number, include: number) => string;
  onIngestProgress?: (done: number, total: number, path: string) => void;
  onEmbedProgress?: (p: EmbedProgress) => void;
  /** The embedding job's measured time estimate, before the rest of a job longer than one batch. */
  onEmbedEstimate?: (e: EmbedEstimate) => void;
  /** Chunks per embedding batch and transaction (default 64). */
  embedBatchSize?: number;
  /** Where files are parsed (default: the process's shared parser worker; the server's re-index worker passes its own limits). */
  sandbox?: ParserSandbox;
  /** `ragtune ingest --queue`: changed files are parsed and pending chunks embedded on queue workers (ingest/queue/). */
  queue?: {
    remoteParser: RemoteParser;
    embedPending: (storeFile: string | VectorStore, embedder: Embedder, options: EmbedPendingOptions) => Promise<EmbedPendingResult>;
  };
}

/** The hash an index version records of the settings it was built with. */
export function indexConfigHash(project: Project): string {
  return configHashOf({ sources: project.config.sources, chunking: project.config.chunking });
}

export async function reindexProject(project: Project, options: ReindexOptions = {}): Promise<IngestStats> {
  const { config } = project;
  const stats = await ingestProject({
    root: project.root,
    sources: config.sources,
    chunking: config.chunking,
    store: project.store,
    prune: options.prune,
    ...(options.locate ? { locate: options.locate } : {}),
    ...(options.onIngestProgress ? { onProgress: options.onIngestProgress } : {}),
    ...(options.sandbox ? { sandbox: options.sandbox } : {}),
    ...(options.queue ? { remoteParser: options.queue.remoteParser } : {}),
  });
  // Dense/hybrid retrieval: embed only the chunks that are new or changed (vectors persist per embedder).
  const embedder = config.retrieval.mode === "lexical" ? undefined : project.embedder();
  if (embedder) {
    const vectors = openVectorStoreFor(project);
    const embed = options.queue?.embedPending ?? embedPending;
    const result = await embed(vectors, embedder, {
      ...(options.embedBatchSize ? { batchSize: options.embedBatchSize } : {}),
      ...(options.onEmbedProgress ? { onProgress: options.onEmbedProgress } : {}),
      ...(options.onEmbedEstimate ? { onEstimate: options.onEmbedEstimate } : {}),
    }).finally(() => vectors.close());
    stats.embedded = { embedder: result.embedder, embedded: result.embedded, upToDate: result.upToDate, ms: result.ms };
  }
  // Every ingest that changes the index records a version `ragtune index rollback` can restore.
  if (hasSnapshots(project.store)) {
    const v = project.indexVersions().record(project.store, { note: "ingest", configHash: indexConfigHash(project) });
    if (v) stats.indexVersion = v.version;
  }
  return stats;
}
