/**
 * use-lite in worker threads: N workers, each with its own model (≈ 290 MB RSS each), fed one
 * batch at a time from a shared queue, results put back in input order. Only worth it with a
 * free core per worker (bench/semantic.ts measures 1 vs 2 workers).
 */
import { Worker } from "node:worker_threads";

const ENTRY = new URL("../../ingest/parse-worker-entry.mjs", import.meta.url);
const MODULE = new URL("./use-lite-worker.ts", import.meta.url);

function tsxLoader(): string | undefined {
  try {
    return import.meta.resolve("tsx/esm/api");
  } catch {
    return undefined;
  }
}

type Reply = { id: number; vectors?: Float32Array[]; error?: string; ready?: boolean };

class EmbedWorker {
  private readonly worker: Worker;
  readonly ready: Promise<void>;
  private waiting?: { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void };
  private seq = 0;

  constructor() {
    this.worker = new Worker(ENTRY, { workerData: { tsx: tsxLoader(), module: MODULE.href }, execArgv: [] });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.once("error", reject);
      this.worker.once("message", (m: Reply) => (m.ready ? resolve() : reject(new Error("use-lite worker: unexpected first message"))));
    });
    this.worker.on("message", (m: Reply) => {
      if (m.ready) return;
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.vectors!.map((v) => new Float32Array(v.buffer, v.byteOffset, v.length)));
    });
    this.worker.on("error", (err) => this.waiting?.reject(err));
    this.worker.on("exit", (code) => this.waiting?.reject(new Error(`use-lite worker exited with code ${code}`)));
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    await this.ready;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage({ id: ++this.seq, texts });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class UseLitePool {
  private readonly workers: EmbedWorker[];
  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => new EmbedWorker());
  }

  /** Embed `texts` in batches of `batchSize` spread over the workers; vectors in input order. */
  async embed(texts: string[], batchSize: number): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(texts.length);
    let next = 0;
    const drain = async (w: EmbedWorker) => {
      while (next < texts.length) {
        const start = next;
        next += batchSize;
        const vectors = await w.embed(texts.slice(start, start + batchSize));
        for (let i = 0; i < vectors.length; i++) out[start + i] = vectors[i];
      }
    };
    await Promise.all(this.workers.map(drain));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
