/**
 * Parsers run in a worker thread with hard bounds, because a library's time and memory cannot be
 * bounded from outside it (mammoth's own docs say so; PDF.js and the DOM library are no
 * different): per file, a time limit, a heap limit (`resourceLimits`) and a watch on the
 * process's resident memory, which also sees what the heap limit does not (ArrayBuffers). A file
 * that exceeds one is skipped with a reason naming the limit; the worker is killed and a fresh
 * one parses the next file.
 *
 * Why both this and the direct limits of limits.ts: the direct limits are cheap, deterministic and
 * name the exact problem (100k nested spans are refused in 34 ms instead of a 10 s parse and a
 * stack overflow), but only for shapes foreseen; the worker bounds everything else. In process, a
 * 20 MB single line took 500 MB of RSS to chunk (the issue saw 1 GB for 50 MB); in the worker it is
 * stopped at the heap limit. bench/hostile.ts measures the whole (docs/ingest.md has the numbers).
 */
import { Worker } from "node:worker_threads";
import type { ParseRequest, ParseResult } from "./parse.ts";

export interface SandboxOptions {
  /** The worker module (default: parse-worker.ts). Tests pass one that misbehaves on purpose. */
  module?: URL;
  /** Old-generation heap of the worker, MB. */
  heapMb?: number;
  /** Growth of the process's resident memory allowed while one file is parsed, MB. */
  rssGrowthMb?: number;
  /**
   * Growth of the process's resident memory since the parser worker started that a parse may never
   * push past, MB (the 1 GB budget, with margin). Counted from the worker's start, not from zero:
   * the process may already hold a server, an embedding model or a benchmark's data, and an
   * absolute cap then skipped every file (measured: a process holding 1.3 GB indexed 14 of 97).
   */
  rssCapMb?: number;
  /** Time limit for one file of `bytes` bytes, ms. */
  timeoutMs?: (bytes: number) => number;
  /** After a file, a worker is replaced when the process's resident memory has grown by more than this since it started, MB. */
  recycleRssMb?: number;
}

/** The worker could not be started at all: not a bad file, so ingest stops instead of skipping. */
export class SandboxFailure extends Error {
  readonly exitCode = 1;
}

export const SANDBOX_DEFAULTS = {
  heapMb: 320,
  rssGrowthMb: 450,
  rssCapMb: 880,
  /** 30 s plus 10 s per MB: a 5 MB file (the default size limit) gets 80 s. */
  timeoutMs: (bytes: number) => 30_000 + Math.ceil((bytes / 1_000_000) * 10_000),
  recycleRssMb: 600,
};

const START_TIMEOUT_MS = 120_000;
const IDLE_MS = 5_000;
const ENTRY = new URL("./parse-worker-entry.mjs", import.meta.url);

function tsxLoader(): string | undefined {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    return undefined;
  }
}

const mb = (bytes: number) => bytes / (1024 * 1024);

export class ParserSandbox {
  private readonly opts: Required<SandboxOptions>;
  private worker?: Promise<Worker>;
  private current?: Worker;
  private chain: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private idle?: NodeJS.Timeout;
  /** Workers started so far (a restart follows every kill): reported by the hostile bench. */
  started = 0;
  /** The process's resident memory when the current worker was started (the memory limits count from it). */
  private baseRss = 0;

  constructor(options: SandboxOptions = {}) {
    this.opts = { module: new URL("./parse-worker.ts", import.meta.url), ...SANDBOX_DEFAULTS, ...options };
  }

  /** Parse one file in the worker (requests are queued: one file at a time). */
  parse(request: ParseRequest): Promise<ParseResult> {
    const run = this.chain.then(() => this.run(request));
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    clearTimeout(this.idle);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await (await worker.catch(() => undefined))?.terminate();
  }

  private start(): Promise<Worker> {
    this.started++;
    this.baseRss = process.memoryUsage.rss();
    const worker = new Worker(ENTRY, {
      workerData: { tsx: tsxLoader(), module: this.opts.module.href },
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb, maxYoungGenerationSizeMb: 16 },
    });
    return new Promise((resolve, reject) => {
      const fail = (message: string) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(new SandboxFailure(`the parser worker could not start: ${message}`));
      };
      const timer = setTimeout(() => fail(`no answer within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      worker.once("message", (m: { ready?: boolean }) => {
        if (!m.ready) return fail("unexpected first message");
        clearTimeout(timer);
        worker.removeAllListeners("error");
        worker.removeAllListeners("exit");
        // Jobs listen for a crash while they run; between jobs it only means "start a new one".
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

  private async run(request: ParseRequest): Promise<ParseResult> {
    clearTimeout(this.idle);
    this.worker ??= this.start();
    let worker: Worker;
    try {
      worker = await this.worker;
    } catch (err) {
      this.worker = undefined;
      throw err;
    }
    worker.ref();
    const { path } = request;
    const id = ++this.seq;
    const limitMs = this.opts.timeoutMs(request.bytes.length);
    const base = process.memoryUsage.rss();
    const result = await new Promise<{ result: ParseResult; kill: boolean }>((resolve) => {
      let settled = false;
      const finish = (result: ParseResult, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(watch);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        resolve({ result, kill });
      };
      // `transient`: the limit measured this run's conditions (time on a loaded machine, memory
      // the whole process holds), not only the file, so a previous version stays indexed.
      const skip = (reason: string, kill = true, transient = false) => finish({ ok: false, reason: `${path}: ${reason}`, ...(transient ? { transient } : {}) }, kill);
      const timer = setTimeout(() => skip(`parsing took longer than ${Math.round(limitMs / 1000)} s (the per-file time limit): not indexed`, true, true), limitMs);
      const watch = setInterval(() => {
        const rss = process.memoryUsage.rss();
        if (mb(rss - base) > this.opts.rssGrowthMb) skip(`parsing needed more than ${this.opts.rssGrowthMb} MB of memory (the per-file memory limit): not indexed`, true, true);
        else if (mb(rss - this.baseRss) > this.opts.rssCapMb) skip(`parsing grew the process by more than ${this.opts.rssCapMb} MB of memory (the ingest's memory limit): not indexed`, true, true);
      }, 20);
      const onMessage = (m: { id: number; result: ParseResult }) => {
        if (m.id === id) finish(m.result, false);
      };
      const onError = (err: Error & { code?: string }) =>
        skip(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? `parsing needed more than ${this.opts.heapMb} MB of heap (the per-file memory limit): not indexed`
            : `the parser failed: ${err.message.split("\n")[0]}`,
        );
      const onExit = (code: number) => skip(`the parser stopped (exit code ${code}): not indexed`, true, true);
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
      // Transfer the bytes when they own their buffer (readSelected makes sure they do).
      const { bytes } = request;
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      worker.postMessage({ id, request }, own ? [bytes.buffer as ArrayBuffer] : []);
    });
    if (result.kill || mb(process.memoryUsage.rss() - this.baseRss) > this.opts.recycleRssMb) {
      this.worker = undefined;
      await worker.terminate();
    } else {
      worker.unref();
      // An idle worker holds memory: let it go when no file follows soon.
      this.idle = setTimeout(() => void this.close(), IDLE_MS);
      this.idle.unref();
    }
    return result.result;
  }
}

let shared: ParserSandbox | undefined;

/** The process's parser sandbox (one worker, started on first use, stopped when idle). */
export function parserSandbox(): ParserSandbox {
  shared ??= new ParserSandbox();
  return shared;
}
