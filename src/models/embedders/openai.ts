/**
 * Embeddings from any server that speaks the OpenAI `/embeddings` API: OpenAI, Ollama (`/v1`),
 * vLLM, LM Studio, llama.cpp server, TEI's OpenAI route… Only `fetch` is used, so the same code
 * runs against a local test server.
 *
 * Texts are sent in batches of `batchSize` (default 64) with `encoding_format: "float"`; the
 * vector length is learnt from the first response and every later vector must match it. Vectors
 * are L2-normalised here, whatever the server does, so dot product = cosine downstream.
 * 429 and 5xx answers and network errors are retried with exponential backoff (honouring
 * `Retry-After`); other non-2xx answers fail at once with the status and the start of the body.
 *
 * With `limits`, every request (each retry too: the server counts it) runs through the shared
 * limit state of `limits.key` (resilience.ts `LimitState.run`) — the same key the chat providers
 * of that endpoint use, so completions and embeddings to one provider share one concurrency limit
 * and one requests/tokens budget, across queue workers when a distributed gate is installed. A
 * request is charged 1 request and the batch's token count (`countTokens` of each input).
 */
import type { Embedder } from "../index.ts";
import { ProviderError } from "../openai-compatible.ts";
import { sharedLimits, type Clock, type LimitState, type ProviderLimits } from "../resilience.ts";
import { countTokens } from "../tokens.ts";
import { l2Normalize } from "./hashing.ts";

export const OPENAI_EMBEDDING_BATCH_SIZE = 64;

export interface OpenAIEmbedderOptions {
  /** The id as configured, e.g. `openai:text-embedding-3-small` or `openai-compatible:local/bge-m3`. */
  id: string;
  /** e.g. http://localhost:11434/v1 — `/embeddings` is appended. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer …` only when set. */
  apiKey?: string;
  /** Per-request timeout (default 60 000). */
  timeoutMs?: number;
  /** Texts per request (default 64). OpenAI accepts up to 2048; local servers often prefer fewer. */
  batchSize?: number;
  /** Retries of 429 / 5xx / network errors (default 2). */
  maxRetries?: number;
  /** First backoff delay in ms, doubled per retry (default 1000). */
  retryDelayMs?: number;
  /** Prepended to queries / documents, for asymmetric models served without templates (e.g. "search_query: "). */
  queryPrefix?: string;
  documentPrefix?: string;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** The endpoint's concurrency and rate limits, shared under `key` with its chat providers; unset = none. */
  limits?: { key: string } & Pick<ProviderLimits, "maxConcurrency" | "requestsPerMinute" | "tokensPerMinute">;
  /** Injected for tests: time and rate-limit waits. */
  clock?: Clock;
}

const BODY_EXCERPT_CHARS = 300;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 30_000;

class RetryableError extends Error {
  constructor(
    readonly inner: ProviderError,
    readonly retryAfterMs?: number,
  ) {
    super(inner.message);
  }
}

export class OpenAIEmbedder implements Embedder {
  readonly id: string;
  private dims = 0;
  private readonly options: OpenAIEmbedderOptions;
  private readonly url: string;
  private readonly batchSize: number;
  private readonly limits: LimitState | undefined;

  constructor(options: OpenAIEmbedderOptions) {
    if (!options.model) throw new Error(`${options.id}: no model given`);
    const batchSize = options.batchSize ?? OPENAI_EMBEDDING_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${options.id}: batchSize must be a positive integer, got ${batchSize}`);
    this.options = options;
    this.id = options.id;
    this.batchSize = batchSize;
    this.url = `${options.baseUrl.replace(/\/+$/, "")}/embeddings`;
    if (options.limits) {
      const { key, maxConcurrency, requestsPerMinute, tokensPerMinute } = options.limits;
      // Retries are not shared state (the limit state ignores maxRetries; this class retries on its own).
      this.limits = sharedLimits(key, { maxRetries: 0, maxConcurrency, requestsPerMinute, tokensPerMinute });
    }
  }

  get dimensions(): number {
    return this.dims;
  }

  async embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]> {
    const prefix = (kind === "query" ? this.options.queryPrefix : this.options.documentPrefix) ?? "";
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      // OpenAI rejects empty strings in `input`; a space embeds as "nothing" on every server.
      const batch = texts.slice(start, start + this.batchSize).map((t) => prefix + t || " ");
      out.push(...(await this.withRetries(() => this.limited(batch))));
    }
    return out;
  }

  private async withRetries(call: () => Promise<Float32Array[]>): Promise<Float32Array[]> {
    const maxRetries = this.options.maxRetries ?? 2;
    const baseDelay = this.options.retryDelayMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        if (attempt >= maxRetries) throw error.inner;
        const delay = Math.min(MAX_RETRY_AFTER_MS, error.retryAfterMs ?? baseDelay * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** One request, inside the endpoint's shared limits when configured. */
  private limited(input: string[]): Promise<Float32Array[]> {
    if (!this.limits) return this.request(input);
    let tokens: number | undefined;
    const count = () => (tokens ??= input.reduce((sum, text) => sum + countTokens(text), 0));
    return this.limits.run({ id: this.id, tokens: count, clock: this.options.clock }, () => this.request(input));
  }

  private async request(input: string[]): Promise<Float32Array[]> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    const signal = AbortSignal.timeout(timeoutMs);
    const fetchImpl = this.options.fetchImpl ?? fetch;
    const body = JSON.stringify({ model: this.options.model, input, encoding_format: "float" });

    let status: number;
    let raw: string;
    try {
      const response = await fetchImpl(this.url, { method: "POST", headers, body, signal });
      status = response.status;
      raw = await response.text();
      if (!response.ok) {
        const error = new ProviderError(this.id, `HTTP ${status} from ${this.url}: ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status });
        if (RETRYABLE.has(status)) throw new RetryableError(error, retryAfter(response.headers.get("retry-after")));
        throw error;
      }
    } catch (error) {
      if (error instanceof ProviderError || error instanceof RetryableError) throw error;
      if (signal.aborted) {
        throw new RetryableError(new ProviderError(this.id, `request timed out after ${timeoutMs} ms (${this.url})`, { cause: error }));
      }
      throw new RetryableError(
        new ProviderError(this.id, `request to ${this.url} failed: ${(error as Error).message ?? String(error)}`, { cause: error }),
      );
    }
    return this.parse(raw, input.length, status);
  }

  private parse(raw: string, expected: number, status: number): Float32Array[] {
    const malformed = (why: string) => new ProviderError(this.id, `malformed embeddings response: ${why}: ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status });
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw malformed("not JSON");
    }
    const data = (parsed as { data?: unknown })?.data;
    if (!Array.isArray(data)) throw malformed("no data array");
    if (data.length !== expected) throw malformed(`${data.length} embeddings for ${expected} inputs`);
    const vectors: Float32Array[] = new Array(expected);
    data.forEach((item: { index?: unknown; embedding?: unknown }, position) => {
      // Servers may reorder; `index` is authoritative when present.
      const index = typeof item?.index === "number" ? item.index : position;
      if (!Number.isInteger(index) || index < 0 || index >= expected || vectors[index]) throw malformed(`bad or repeated index ${String(item?.index)}`);
      const vector = toVector(item?.embedding);
      if (!vector || vector.length === 0) throw malformed(`data[${position}].embedding is not a list of numbers`);
      if (this.dims === 0) this.dims = vector.length;
      if (vector.length !== this.dims) {
        throw new ProviderError(this.id, `embedding length changed from ${this.dims} to ${vector.length}; is the model behind ${this.url} still ${this.options.model}?`, { status });
      }
      vectors[index] = l2Normalize(vector);
    });
    return vectors;
  }
}

/** A float list, or base64 little-endian float32 (what servers send when they ignore encoding_format). */
function toVector(embedding: unknown): Float32Array | undefined {
  if (Array.isArray(embedding)) {
    const v = new Float32Array(embedding.length);
    for (let i = 0; i < embedding.length; i++) {
      const x = embedding[i];
      if (typeof x !== "number" || !Number.isFinite(x)) return undefined;
      v[i] = x;
    }
    return v;
  }
  if (typeof embedding === "string") {
    const bytes = Buffer.from(embedding, "base64");
    if (bytes.length % 4 !== 0) return undefined;
    const v = new Float32Array(bytes.length / 4);
    for (let i = 0; i < v.length; i++) v[i] = bytes.readFloatLE(i * 4);
    return v;
  }
  return undefined;
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
