/**
 * The coordinator of a queued ingest (`ragtune ingest --queue redis://…`). The ingest itself
 * (ingest.ts) stays here: it walks the sources, reads and hashes every file and decides what
 * changed exactly as a local ingest does; this class only parses the changed files on
 * `ragtune worker` processes (as `RemoteParser`) and embeds pending chunks there (`embedPending`).
 *
 * It is the only writer of the store: parse results come back as job return values and the ingest
 * applies them in ONE `applyIngest` batch, so nothing is written before that commit and a
 * coordinator killed mid-run leaves the previous index readable. Job ids are content hashes
 * (jobs.ts), so a rerun re-adds the same jobs (no-ops), collects the finished ones and waits for
 * the rest. Vectors are stored batch by batch as embed jobs finish, like a local `embedPending`.
 */
import type { DeferredFile, RemoteParser, RemoteParseResult } from "../ingest.ts";
import type { IngestOptions } from "../ingest.ts";
import { JobDispatcher } from "../../queue/dispatch.ts";
import type { Embedder } from "../../models/index.ts";
import { openVectorStore, type VectorStore } from "../../store/vectors.ts";
import type { EmbedPendingOptions, EmbedPendingResult } from "../../retrieve/dense.ts";
import {
  decodeVector, DEFAULT_INGEST_QUEUE_NAME, embedJobId, parseBatches, parseJobData, parseJobId,
  type EmbedJobData, type EmbedJobResult, type ParseJobResult,
} from "./jobs.ts";

export interface IngestQueueOptions {
  url: string;
  queueName?: string;
  /** Project folder (stored paths are relative to it) and config (embed jobs build the embedder from it). */
  root: string;
  configPath: string;
  inFlight?: number;
  /** Files parsed / chunks embedded so far, as jobs finish. */
  onProgress?: (kind: "parse" | "embed", done: number, total: number) => void;
}

/** What the queue did, for the report and the tests. */
export interface IngestQueueStats {
  parseJobs: number;
  embedJobs: number;
  /** Jobs already finished by an earlier run of the coordinator: collected, not redone. */
  collected: number;
  duplicateCompletions: number;
  /** Vectors that came from the Redis embedding cache. */
  cachedVectors: number;
}

/**
 * Promise.all whose other rejections are handled: after the first failure the ingest stops and
 * `close` rejects the jobs still awaited; those must not surface as unhandled rejections that
 * hide the real error.
 */
async function firstError(promises: Promise<unknown>[]): Promise<void> {
  for (const p of promises) p.catch(() => undefined);
  await Promise.all(promises);
}

export class IngestQueue implements RemoteParser {
  readonly stats: IngestQueueStats = { parseJobs: 0, embedJobs: 0, collected: 0, duplicateCompletions: 0, cachedVectors: 0 };

  private constructor(
    private readonly options: IngestQueueOptions,
    private readonly dispatcher: JobDispatcher,
  ) {}

  static async start(options: IngestQueueOptions): Promise<IngestQueue> {
    const dispatcher = await JobDispatcher.start({ url: options.url, queueName: options.queueName ?? DEFAULT_INGEST_QUEUE_NAME, inFlight: options.inFlight });
    return new IngestQueue(options, dispatcher);
  }

  async parseAll(files: DeferredFile[], chunking: IngestOptions["chunking"], onResult: (path: string, result: RemoteParseResult) => void): Promise<void> {
    const batches = parseBatches(files);
    this.stats.parseJobs += batches.length;
    let done = 0;
    await firstError(
      batches.map(async (batch) => {
        const data = parseJobData(this.options.root, chunking, batch);
        const out = await this.dispatcher.submit<ParseJobResult>("parse", parseJobId(data), data);
        if (!Array.isArray(out?.results)) throw new Error(`parse job ${parseJobId(data)} returned no results`);
        const expected = new Set(batch.map((f) => f.path));
        for (const { path, result } of out.results) {
          if (!expected.delete(path)) throw new Error(`parse job returned an unexpected file ${path}`);
          onResult(path, result);
        }
        if (expected.size > 0) throw new Error(`parse job returned no result for ${[...expected][0]}`);
        done += batch.length;
        this.options.onProgress?.("parse", done, files.length);
      }),
    );
    this.sync();
  }

  /** `retrieve/dense.ts` `embedPending` with the embedding done by workers: same pending rule, same rows stored. */
  async embedPending(storeFile: string | VectorStore, embedder: Embedder, options: EmbedPendingOptions = {}): Promise<EmbedPendingResult> {
    const started = performance.now();
    const vectors = typeof storeFile === "string" ? openVectorStore(storeFile) : storeFile;
    const batchSize = options.batchSize ?? 64;
    try {
      const pending = vectors.pending(embedder.id);
      const total = pending.length;
      let done = 0;
      const batches: (typeof pending)[] = [];
      for (let start = 0; start < total; start += batchSize) batches.push(pending.slice(start, start + batchSize));
      this.stats.embedJobs += batches.length;
      await firstError(
        batches.map(async (batch) => {
          const textHashes = batch.map((p) => p.textHash);
          const data: EmbedJobData = { configPath: this.options.configPath, root: this.options.root, embedder: embedder.id, texts: batch.map((p) => p.text), textHashes };
          const out = await this.dispatcher.submit<EmbedJobResult>("embed", embedJobId(embedder.id, textHashes), data);
          if (!Array.isArray(out?.vectors) || out.vectors.length !== batch.length) throw new Error(`embed job returned ${out?.vectors?.length ?? "no"} vectors for ${batch.length} texts`);
          this.stats.cachedVectors += out.cached;
          options.signal?.throwIfAborted();
          vectors.put(batch.map((p, i) => ({ chunkId: p.id, embedder: embedder.id, vector: decodeVector(out.vectors[i]), textHash: p.textHash })));
          done += batch.length;
          options.onProgress?.({ done, total, embedder: embedder.id, elapsedMs: performance.now() - started });
          this.options.onProgress?.("embed", done, total);
        }),
      );
      this.sync();
      return { embedder: embedder.id, embedded: done, upToDate: vectors.chunkCount() - total, ms: performance.now() - started };
    } finally {
      if (typeof storeFile === "string") vectors.close();
    }
  }

  /** `complete`: the results are applied, the jobs are not needed for a rerun any more. */
  async close(complete: boolean): Promise<void> {
    await this.dispatcher.close(complete);
    this.sync();
  }

  private sync(): void {
    this.stats.collected = this.dispatcher.collected;
    this.stats.duplicateCompletions = this.dispatcher.duplicateCompletions;
  }
}
