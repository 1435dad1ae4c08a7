/**
 * The ingest side of `ragtune worker --queue redis://…`: parse and embed jobs of
 * `ragtune ingest --queue` (jobs.ts), for any project on a filesystem this machine sees.
 *
 * - parse: each file is read with the local ingest's own `readHashed` (same safety checks: a
 *   regular file, inside its allowed folders, within maxFileBytes) and parsed in this process's
 *   parser sandbox with the project's chunking: exactly what a local ingest does with the file.
 *   A file whose bytes are no longer the ones the coordinator hashed is reported as changed
 *   (transient: its previous version stays indexed; the next ingest picks it up), so a job's
 *   result is always the one its id names.
 * - embed: vectors come from the Redis embedding cache (`ragtune:embed:<embedder>:<text hash>`)
 *   when present; the rest are embedded and written there before the job returns, so a job
 *   retried after a kill -9 does not pay for them again.
 *
 * - rate limits: the worker installs the Redis rate gate (queue/rate-gate.ts), so an embedder's
 *   requestsPerMinute / tokensPerMinute (its provider's, models.providers.<name> or models.limits)
 *   are one budget across all workers, shared with eval jobs' chat calls to the same endpoint.
 *
 * The worker never writes a store; results go back as the job's return value.
 */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { readHashed, type RemoteParseResult } from "../ingest.ts";
import { parserSandbox } from "../sandbox.ts";
import type { FoundFile } from "../walk.ts";
import { loadConfig } from "../../config/index.ts";
import { createEmbedder } from "../../models/embedders/index.ts";
import type { Embedder } from "../../models/index.ts";
import { installDistributedRateGate } from "../../models/resilience.ts";
import { RedisRateGate } from "../../queue/rate-gate.ts";
import { connect, type RedisClient } from "../../queue/redis.ts";
import { DEFAULT_INGEST_QUEUE_NAME, encodeVector, type EmbedJobData, type EmbedJobResult, type ParseJobData, type ParseJobResult } from "./jobs.ts";

export const EMBED_CACHE_PREFIX = "ragtune:embed:";
/** Cached vectors expire after a week: the cache is for retries and reruns, not a second vector store. */
const EMBED_CACHE_TTL_S = 7 * 24 * 3600;

export interface IngestWorkerOptions {
  url: string;
  queueName?: string;
  /** Jobs at once (default 2): parsing is one file at a time per process (one sandbox), so more mainly overlaps reading and embedding calls. */
  concurrency?: number;
  lockMs?: number;
  onJob?: (event: { id: string; kind: "parse" | "embed"; items: number; ms: number; cached?: number }) => void;
  /** Called before each file of a parse job (tests kill the process here). */
  beforeFile?: (path: string) => void;
}

export class IngestWorker {
  private readonly embedders = new Map<string, Embedder>();

  private constructor(
    readonly worker: Worker,
    private readonly connection: RedisClient,
    private readonly cache: RedisClient,
    private readonly options: IngestWorkerOptions,
    private readonly removeRateGate: () => void,
  ) {}

  static async start(options: IngestWorkerOptions): Promise<IngestWorker> {
    const connection = await connect(options.url);
    const cache = await connect(options.url);
    const removeRateGate = installDistributedRateGate(new RedisRateGate(cache));
    const lockMs = options.lockMs ?? 30_000;
    let self: IngestWorker | undefined;
    const worker = new Worker(options.queueName ?? DEFAULT_INGEST_QUEUE_NAME, (job) => self!.process(job), {
      connection: connection as unknown as ConnectionOptions,
      concurrency: Math.max(1, options.concurrency ?? 2),
      lockDuration: lockMs,
      stalledInterval: Math.max(500, Math.floor(lockMs / 2)),
      maxStalledCount: 5,
      autorun: false,
    });
    self = new IngestWorker(worker, connection, cache, options, removeRateGate);
    worker.run().catch((err) => console.error(`ingest worker stopped: ${(err as Error).message}`));
    await worker.waitUntilReady();
    return self;
  }

  async close(): Promise<void> {
    await this.worker.close();
    this.removeRateGate();
    this.connection.disconnect();
    this.cache.disconnect();
  }

  private async process(job: Job): Promise<ParseJobResult | EmbedJobResult> {
    const started = performance.now();
    if (job.name === "parse") {
      const result = await this.parse(job.data as ParseJobData);
      this.options.onJob?.({ id: job.id!, kind: "parse", items: result.results.length, ms: performance.now() - started });
      return result;
    }
    if (job.name === "embed") {
      const result = await this.embed(job.data as EmbedJobData);
      this.options.onJob?.({ id: job.id!, kind: "embed", items: result.vectors.length, ms: performance.now() - started, cached: result.cached });
      return result;
    }
    throw new UnrecoverableError(`unknown ingest job kind '${job.name}'`);
  }

  private async parse(data: ParseJobData): Promise<ParseJobResult> {
    const sandbox = parserSandbox();
    const results: ParseJobResult["results"] = [];
    for (const f of data.files) {
      this.options.beforeFile?.(f.path);
      const file: FoundFile = { path: f.path, open: Buffer.from(f.open, "base64"), real: "", version: f.version, allowed: f.allowed };
      const read = await readHashed(file, data.chunking.maxFileBytes);
      let result: RemoteParseResult;
      if ("reason" in read) result = { ok: false, reason: read.reason, ...(read.transient ? { transient: true } : {}) };
      else if (read.digest !== f.digest) result = { ok: false, reason: "changed while the ingest ran: not indexed this time (the next ingest picks it up)", transient: true };
      else {
        // Read before parsing: the bytes are transferred to the parser thread (detached here).
        const size = read.bytes.length;
        const parsed = await sandbox.parse({ path: f.path, version: f.version, bytes: read.bytes, chunking: data.chunking });
        result = parsed.ok ? { ...parsed, digest: read.digest, size } : parsed;
      }
      results.push({ path: f.path, result });
    }
    return { results };
  }

  private embedderFor(data: EmbedJobData): Embedder {
    const key = `${data.configPath}\u0000${data.embedder}`;
    let embedder = this.embedders.get(key);
    if (!embedder) {
      let loaded;
      try {
        loaded = loadConfig(data.configPath);
      } catch (err) {
        throw new UnrecoverableError(`cannot read ${data.configPath} (${(err as Error).message}); a worker needs the project folder on a shared filesystem`);
      }
      embedder = createEmbedder(loaded.config.models.embedder, loaded.config.models, process.env, { baseDir: data.root });
      // Vectors of another embedder would be stored under this one's id: refuse.
      if (embedder?.id !== data.embedder) {
        throw new UnrecoverableError(`${data.configPath} now names embedder '${embedder?.id ?? "none"}', the job asks for '${data.embedder}'`);
      }
      this.embedders.set(key, embedder);
    }
    return embedder;
  }

  private async embed(data: EmbedJobData): Promise<EmbedJobResult> {
    const embedder = this.embedderFor(data);
    const keys = data.textHashes.map((h) => `${EMBED_CACHE_PREFIX}${data.embedder}:${h}`);
    const hits = keys.length > 0 ? await this.cache.mget(...keys).catch(() => keys.map(() => null)) : [];
    const missing = data.texts.map((_, i) => i).filter((i) => !hits[i]);
    const vectors: string[] = hits.map((h) => h ?? "");
    if (missing.length > 0) {
      const embedded = await embedder.embed(missing.map((i) => data.texts[i]), "document");
      if (embedded.length !== missing.length) throw new Error(`${embedder.id} returned ${embedded.length} vectors for ${missing.length} texts`);
      for (let j = 0; j < missing.length; j++) {
        const encoded = encodeVector(embedded[j]);
        vectors[missing[j]] = encoded;
        // Written before the job completes: a retry after a kill reads it instead of paying again.
        await this.cache.set(keys[missing[j]], encoded, "EX", EMBED_CACHE_TTL_S);
      }
    }
    return { vectors, cached: data.texts.length - missing.length };
  }
}
