/**
 * A ChatProvider for any server that speaks the OpenAI chat-completions API (OpenAI, Ollama,
 * vLLM, llama.cpp server, LM Studio, …). Only `fetch` is used — no SDK — so the same code runs
 * against a local test server.
 */
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "./index.ts";
import { countTokens } from "./tokens.ts";

export interface OpenAICompatibleOptions {
  /** Provider name from config (`models.providers.<name>`), used in ids and errors. */
  name: string;
  /** e.g. http://localhost:11434/v1 — `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer …` only when set (local servers usually need none). */
  apiKey?: string;
  timeoutMs: number;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

/** A failed provider call: HTTP error, timeout, network error or an unusable response. */
export class ProviderError extends Error {
  /** HTTP status, when the server answered. */
  readonly status?: number;
  /** Provider id, e.g. `openai-compatible:local/llama3.2`. */
  readonly provider: string;

  constructor(provider: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(`${provider}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProviderError";
    this.provider = provider;
    this.status = options.status;
  }
}

const BODY_EXCERPT_CHARS = 300;

export class OpenAICompatibleProvider implements ChatProvider {
  readonly id: string;
  private readonly options: OpenAICompatibleOptions;
  private readonly url: string;

  constructor(options: OpenAICompatibleOptions) {
    this.options = options;
    this.id = `openai-compatible:${options.name}/${options.model}`;
    this.url = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const body: Record<string, unknown> = {
      model: this.options.model,
      messages,
      temperature: options.temperature ?? 0,
    };
    if (options.maxTokens !== undefined) body.max_tokens = options.maxTokens;
    if (options.json) body.response_format = { type: "json_object" };

    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const fetchImpl = this.options.fetchImpl ?? fetch;

    let status: number;
    let raw: string;
    try {
      const response = await fetchImpl(this.url, { method: "POST", headers, body: JSON.stringify(body), signal });
      status = response.status;
      // Read the body under the same signal, so a server that stalls mid-body also times out.
      raw = await response.text();
      if (!response.ok) {
        throw new ProviderError(this.id, `HTTP ${status} from ${this.url}: ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status });
      }
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (timeout.aborted) {
        throw new ProviderError(this.id, `request timed out after ${this.options.timeoutMs} ms (${this.url})`, { cause: error });
      }
      if (options.signal?.aborted) throw new ProviderError(this.id, "request was aborted", { cause: error });
      throw new ProviderError(this.id, `request to ${this.url} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ProviderError(this.id, `malformed response (not JSON): ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status });
    }
    const content = (parsed as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message?.content;
    if (typeof content !== "string") {
      throw new ProviderError(this.id, `malformed response: no choices[0].message.content in ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status });
    }

    const usage = (parsed as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage;
    const promptTokens = usage?.prompt_tokens;
    const completionTokens = usage?.completion_tokens;
    const model = (parsed as { model?: unknown }).model;
    return {
      text: content,
      usage: {
        // Local servers often omit usage; count with our tokenizer so cost estimates still work.
        inputTokens: typeof promptTokens === "number" ? promptTokens : messages.reduce((sum, m) => sum + countTokens(m.content), 0),
        outputTokens: typeof completionTokens === "number" ? completionTokens : countTokens(content),
      },
      model: typeof model === "string" ? model : this.options.model,
    };
  }
}
