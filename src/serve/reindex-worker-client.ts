/**
 * Index changes while serving, off the serving thread: `POST /v1/ingest`, `DELETE /v1/documents`
 * and `ragtune serve --watch` hand their job to one long-lived worker thread (reindex-worker.ts)
 * that opens its own connection to the same SQLite index and runs `reindexProject`, the one
 * sequence `ragtune ingest` runs. The serving thread keeps answering from the committed index;
 * the commit bumps the store's generation, and the next request reads the new state (the
 * in-memory BM25 index follows the generation, pipeline/project.ts). One change at a time:
 * a second caller gets `IndexBusy` (the route's 409).
 *
 * A failed job changes nothing (one transaction). A crashed or killed worker is replaced by a
 * fresh one for the next job; whether its transaction had committed is read from the generation.
 */
import { Worker } from "node:worker_threads";
import type { IngestStats } from "../ingest/index.ts";
import type { Project } from "../pipeline/index.ts";
import type { ReindexFailure, ReindexFailureKind, ReindexJob, ReindexWorkerInit, ReindexWorkerMessage } from "./reindex-worker-protocol.ts";

export type { ReindexFailureKind } from "./reindex-worker-protocol.ts";

/** Another index change is running (the caller retries after it). */
export class IndexBusy extends Error {}

/** A job that failed in the worker, or a worker that stopped; `kind` says whose fault it is. */
export class ReindexFailed extends Error {
  constructor(
    readonly kind: ReindexFailureKind,
    message: string,
    readonly removals?: unknown,
  ) {
    super(message);
    this.name = "ReindexFailed";
  }
}

export interface IndexUpdaterOptions {
  /** The worker module (default reindex-worker.ts). Tests pass one that misbehaves on purpose. */
  module?: URL;
  /** An idle worker is stopped after this long, ms (the next job starts a new one). */
  idleMs?: number;
}

const ENTRY = new URL("../ingest/parse-worker-entry.mjs", import.meta.url);
const START_TIMEOUT_MS = 120_000;

function tsxLoader(): string | undefined {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    return undefined;
  }
}

type Outcome = Extract<ReindexWorkerMessage, { type: "reindexed" | "deleted" }>;

export class IndexUpdater {
  private worker?: Promise<Worker>;
  private current?: Worker;
  private seq = 0;
  private running = false;
  private idle?: NodeJS.Timeout;
  private readonly module: URL;
  private readonly idleMs: number;
  /** Workers started so far (a crash or kill means a new one for the next job). */
  started = 0;

  constructor(
    readonly project: Project,
    options: IndexUpdaterOptions = {},
  ) {
    this.module = options.module ?? new URL("./reindex-worker.ts", import.meta.url);
    this.idleMs = options.idleMs ?? 60_000;
  }

  get busy(): boolean {
    return this.running;
  }

  /** Re-index the project's sources in the worker; resolves after the commit (or when nothing changed). */
  async reindex(options: { prune?: boolean } = {}): Promise<IngestStats> {
    const out = await this.exclusive({ id: ++this.seq, kind: "reindex", prune: options.prune === true });
    if (out.type !== "reindexed") throw new ReindexFailed("internal", `the re-index worker answered '${out.type}' to a reindex`);
    return out.stats;
  }

  /** Remove one document in the worker (one transaction) and record a version; the version number or undefined. */
  async deleteDocument(path: string): Promise<number | undefined> {
    const out = await this.exclusive({ id: ++this.seq, kind: "delete", path });
    if (out.type !== "deleted") throw new ReindexFailed("internal", `the re-index worker answered '${out.type}' to a delete`);
    return out.indexVersion;
  }

  /** Time the serving thread spent on the last switch to a new generation, ms (the bench reports it). */
  lastSwitchMs: number | undefined;

  private async warm(): Promise<void> {
    this.lastSwitchMs = await warmServing(this.project);
  }

  /** Stop the worker (after a running job: call when the server stops). */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const worker = this.worker;
    this.worker = undefined;
    this.current = undefined;
    if (worker) await (await worker.catch(() => undefined))?.terminate();
  }

  private async exclusive(job: ReindexJob): Promise<Outcome> {
    if (this.running) throw new IndexBusy("an ingest or delete is already running; retry when it finishes");
    this.running = true;
    clearTimeout(this.idle);
    try {
      const generation = this.project.store.generation();
      const out = await this.run(job);
      // Build the new in-memory BM25 index and pipeline now, once, instead of inside the next
      // request's latency (~7 ms at 258 chunks, bench/serve-load.ts measures it as switchMs).
      if (this.project.store.generation() !== generation) await this.warm();
      return out;
    } finally {
      this.running = false;
      this.idle = setTimeout(() => void this.close(), this.idleMs);
      this.idle.unref();
    }
  }

  private start(): Promise<Worker> {
    this.started++;
    const { project } = this;
    const init: ReindexWorkerInit = {
      config: project.config,
      configPath: project.configPath,
      root: project.root,
      indexFile: project.indexFile,
      module: this.module.href,
      tsx: tsxLoader(),
    };
    const worker = new Worker(ENTRY, { workerData: init, execArgv: [] });
    return new Promise((resolve, reject) => {
      const fail = (message: string) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(new ReindexFailed("internal", `the re-index worker could not start: ${message}; the index is unchanged`));
      };
      const timer = setTimeout(() => fail(`no answer within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      worker.once("message", (m: ReindexWorkerMessage) => {
        if (m.type !== "ready") return fail(`unexpected first message '${m.type}'`);
        clearTimeout(timer);
        worker.removeAllListeners("error");
        worker.removeAllListeners("exit");
        // Between jobs a crash only means "start a new one next time".
        worker.on("error", () => undefined);
        worker.on("exit", () => {
          if (this.current === worker) {
            this.current = undefined;
            this.worker = undefined;
          }
        });
        this.current = worker;
        resolve(worker);
      });
      worker.once("error", (err) => fail(err.message));
      worker.once("exit", (code) => fail(`it exited with code ${code}`));
    });
  }

  private async run(job: ReindexJob): Promise<Outcome> {
    this.worker ??= this.start();
    let worker: Worker;
    try {
      worker = await this.worker;
    } catch (err) {
      this.worker = undefined;
      throw err;
    }
    worker.ref();
    const generationBefore = this.project.store.generation();
    try {
      return await new Promise<Outcome>((resolve, reject) => {
        const done = () => {
          worker.off("message", onMessage);
          worker.off("error", onError);
          worker.off("exit", onExit);
        };
        const stopped = (why: string) => {
          done();
          if (this.current === worker) {
            this.current = undefined;
            this.worker = undefined;
          }
          void worker.terminate();
          // The worker's transaction committed in full or not at all: the generation says which.
          const committed = this.project.store.generation() !== generationBefore;
          reject(new ReindexFailed("internal", `the re-index worker ${why} before reporting; ${committed ? "its transaction had committed (the index changed)" : "nothing was committed, the index is unchanged"}`));
        };
        const onMessage = (m: ReindexWorkerMessage) => {
          if (m.type === "ready" || m.id !== job.id) return;
          done();
          if (m.type === "failed") reject(new ReindexFailed(m.failure.kind, m.failure.message, m.failure.removals));
          else resolve(m);
        };
        const onError = (err: Error) => stopped(`failed (${err.message.split("\n")[0]})`);
        const onExit = (code: number) => stopped(`stopped (exit code ${code})`);
        worker.on("message", onMessage);
        worker.once("error", onError);
        worker.once("exit", onExit);
        worker.postMessage(job);
      });
    } finally {
      worker.unref();
    }
  }
}

/**
 * The serving thread's part of a switch to a new generation, done once: the BM25 index and the
 * retrieval pipeline rebuilt from the store, the version order, and one throwaway retrieval so
 * structures built on first use are built here. Returns the time it took, ms.
 */
export async function warmServing(project: Project): Promise<number> {
  const t = performance.now();
  try {
    const retrieval = await project.retrieval();
    project.versions();
    await retrieval.retrieve("index warm up", { k: 1 });
  } catch {
    // A request will build it (and report the error) itself.
  }
  return performance.now() - t;
}

const updaters = new WeakMap<Project, IndexUpdater>();

/** The project's one updater: the admin routes and `serve --watch` share it, so "one at a time" holds across both. */
export function indexUpdaterFor(project: Project, options?: IndexUpdaterOptions): IndexUpdater {
  let u = updaters.get(project);
  if (!u) {
    u = new IndexUpdater(project, options);
    updaters.set(project, u);
  }
  return u;
}
