/**
 * Rerankers behind HTTP APIs that share the Cohere shape (Jina's `/v1/rerank` speaks it too):
 *
 *   POST {baseUrl}/rerank  {model, query, documents: string[], top_n}
 *   → 200 {results: [{index, relevance_score}, …]}
 *
 * Only `fetch` is used, so tests run the same code against a local server.
 */
import type { Chunk } from "../../ingest/index.ts";
import { ProviderError } from "../../models/openai-compatible.ts";
import type { Hit, Reranker } from "../index.ts";
import { rankByScores } from "./offline.ts";

export type HttpRerankerKind = "cohere" | "jina";

/** Public endpoints and key variables used when `models.providers.<kind>` is not configured. */
export const HTTP_RERANK_DEFAULTS: Record<HttpRerankerKind, { baseUrl: string; apiKeyEnv: string }> = {
  cohere: { baseUrl: "https://api.cohere.com/v2", apiKeyEnv: "COHERE_API_KEY" },
  jina: { baseUrl: "https://api.jina.ai/v1", apiKeyEnv: "JINA_API_KEY" },
};

export interface HttpRerankerOptions {
  kind: HttpRerankerKind;
  model: string;
  /** e.g. https://api.cohere.com/v2 — `/rerank` is appended. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  timeoutMs: number;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

const BODY_EXCERPT_CHARS = 300;

/** The text a reranking model sees for a chunk: its title/heading path as a first line, then the body. */
export function rerankDocumentText(chunk: Chunk): string {
  const head = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  const line = head.filter((h) => h && h.trim()).join(" › ");
  return line ? `${line}\n${chunk.text}` : chunk.text;
}

export class HttpReranker implements Reranker {
  readonly id: string;
  private readonly options: HttpRerankerOptions;
  private readonly url: string;

  constructor(options: HttpRerankerOptions) {
    this.options = options;
    this.id = `${options.kind}:${options.model}`;
    this.url = `${options.baseUrl.replace(/\/+$/, "")}/rerank`;
  }

  async rerank(query: string, hits: Hit[], k: number): Promise<Hit[]> {
    if (hits.length === 0 || k <= 0) return [];
    const body = {
      model: this.options.model,
      query,
      documents: hits.map((h) => rerankDocumentText(h.chunk)),
      top_n: hits.length,
    };
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const fetchImpl = this.options.fetchImpl ?? fetch;

    let raw: string;
    try {
      const response = await fetchImpl(this.url, { method: "POST", headers, body: JSON.stringify(body), signal: timeout });
      raw = await response.text();
      if (!response.ok) {
        throw new ProviderError(this.id, `rerank failed: HTTP ${response.status} from ${this.url}: ${raw.slice(0, BODY_EXCERPT_CHARS)}`, {
          status: response.status,
        });
      }
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (timeout.aborted) throw new ProviderError(this.id, `rerank request timed out after ${this.options.timeoutMs} ms (${this.url})`, { cause: error });
      throw new ProviderError(this.id, `rerank request to ${this.url} failed: ${(error as Error).message}`, { cause: error });
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ProviderError(this.id, `rerank response from ${this.url} is not JSON: ${raw.slice(0, BODY_EXCERPT_CHARS)}`);
    }
    const results = (parsed as { results?: unknown }).results;
    if (!Array.isArray(results)) {
      throw new ProviderError(this.id, `rerank response from ${this.url} has no 'results' array: ${raw.slice(0, BODY_EXCERPT_CHARS)}`);
    }
    // Documents the API did not score (a smaller top_n than asked) rank after every scored one.
    const scores = hits.map(() => -Infinity);
    results.forEach((r: unknown, i) => {
      const { index, relevance_score: score } = (r ?? {}) as { index?: unknown; relevance_score?: unknown };
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= hits.length || typeof score !== "number") {
        throw new ProviderError(
          this.id,
          `rerank response from ${this.url}: results[${i}] needs an integer 'index' in 0..${hits.length - 1} and a numeric 'relevance_score', got ${JSON.stringify(r)}`,
        );
      }
      scores[index] = score;
    });
    const floor = Math.min(0, ...scores.filter((s) => s > -Infinity)) - 1;
    return rankByScores(hits, scores.map((s) => (s === -Infinity ? floor : s)), k);
  }
}
