/**
 * A synchronous facade over an async implementation hosted in a worker thread (worker.ts).
 *
 * The `Store` contract is synchronous (like better-sqlite3) and the codebase relies on that, while
 * node `pg` is async. Each `call(method, args)` posts one message to the worker and blocks the
 * calling thread on a SharedArrayBuffer with `Atomics.wait` until the worker has posted the reply,
 * which is then taken off the port with `receiveMessageOnPort`, no event loop turn needed. Blocking
 * is acceptable because traffic is low: the index is read into memory once per generation, and a
 * whole ingest batch is one call (one transaction in the worker).
 *
 * Errors thrown in the worker are re-thrown here with their message. A call that gets no answer
 * within the timeout throws, and the bridge is closed (the worker is terminated): a late reply
 * would otherwise be mistaken for the next call's.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";

const ENTRY = new URL("../../ingest/parse-worker-entry.mjs", import.meta.url);
const HOST = new URL("./worker.ts", import.meta.url);

export interface BridgeOptions {
  /** Longest wait for one call's answer, ms (default 120 000: a large ingest batch is one call). */
  timeoutMs?: number;
  /** Longest wait for the worker to start and the implementation to open, ms (default 60 000). */
  startTimeoutMs?: number;
}

/** Messages on the bridge's port. */
export type BridgeRequest = { id: number; method: string; args: unknown[] };
export type BridgeReply = { id: number; result?: unknown; error?: string };

function tsxLoader(): string | undefined {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    return undefined;
  }
}

export class SyncWorkerBridge {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** signal[0]: 0 while waiting, set to 1 by the worker after it posts a reply. */
  private readonly signal: Int32Array;
  private readonly timeoutMs: number;
  private seq = 0;
  private closed: string | undefined;
  private stopped = false;

  /**
   * Start the worker, which imports `module` and calls its `open(init)` export; the object it
   * resolves to answers `call`s by method name. Blocks until `open` has resolved; its error is
   * thrown here.
   */
  constructor(module: URL, init: unknown, options: BridgeOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(ENTRY, {
      workerData: { tsx: tsxLoader(), module: HOST.href, host: module.href, init, port: port2, signal: this.signal },
      transferList: [port2],
      execArgv: [],
    });
    // The caller owns the lifetime (close()); a forgotten store must not keep the process alive.
    this.worker.unref();
    this.port.unref();
    try {
      this.call("__open", [], options.startTimeoutMs ?? 60_000);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Run `method(...args)` in the worker and return its result (structured-cloned). */
  call<T = unknown>(method: string, args: unknown[] = [], timeoutMs = this.timeoutMs): T {
    if (this.closed) throw new Error(`${this.closed} (call ${method})`);
    const id = ++this.seq;
    this.port.postMessage({ id, method, args } satisfies BridgeRequest);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Reset before looking, so a reply posted after the look still wakes the wait below.
      Atomics.store(this.signal, 0, 0);
      const got = receiveMessageOnPort(this.port);
      if (got) {
        const reply = got.message as BridgeReply;
        if (reply.id !== id) continue; // an answer to a call that timed out: never ours
        if (reply.error !== undefined) throw new Error(reply.error);
        return reply.result as T;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.signal, 0, 0, left) === "timed-out") {
        if (receiveMessageOnPort(this.port)) continue;
        this.closed = `the worker gave no answer to ${method} within ${Math.round(timeoutMs / 1000)} s and was stopped`;
        this.stopped = true;
        void this.worker.terminate();
        throw new Error(this.closed);
      }
    }
  }

  /** True once a call timed out and the worker was stopped (not closed by `close()`): a new bridge may replace it. */
  get failed(): boolean {
    return this.stopped;
  }

  /** Ask the implementation to close (its `close` method, if any), then stop the worker. */
  close(): void {
    if (this.closed) return;
    try {
      this.call("__close", [], 10_000);
    } catch {
      // Closing anyway.
    }
    this.closed = "the worker bridge is closed";
    this.port.close();
    void this.worker.terminate();
  }
}
