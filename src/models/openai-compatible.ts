/**
 * A ChatProvider for any server that speaks the OpenAI chat-completions API (OpenAI, Ollama,
 * vLLM, llama.cpp server, LM Studio, …). Only `fetch` is used — no SDK — so the same code runs
 * against a local test server.
 *
 * One call = one HTTP request; retries, concurrency and rate limits live in `resilience.ts`.
 * Every failure is a classified `ProviderError` (see `errors.ts`) so that layer knows what to retry.
 */
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult, JsonSchemaSpec } from "./index.ts";
import { BODY_EXCERPT_CHARS, ProviderError, fetchFailure, httpError } from "./errors.ts";
import { countTokens } from "./tokens.ts";

// Existing imports of ProviderError from this module keep working.
export { ProviderError } from "./errors.ts";

export interface OpenAICompatibleOptions {
  /** Provider name from config (`models.providers.<name>`), used in ids and errors. */
  name: string;
  /** e.g. http://localhost:11434/v1 — `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer …` only when set (local servers usually need none). */
  apiKey?: string;
  /** Environment variable the key came from, named in auth errors ("check OPENAI_API_KEY"). */
  apiKeyEnv?: string;
  timeoutMs: number;
  /** Injected for tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

export class OpenAICompatibleProvider implements ChatProvider {
  readonly id: string;
  readonly model: string;
  private readonly options: OpenAICompatibleOptions;
  private readonly url: string;

  constructor(options: OpenAICompatibleOptions) {
    this.options = options;
    this.model = options.model;
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
    if (options.jsonSchema) body.response_format = jsonSchemaFormat(options.jsonSchema);
    else if (options.json) body.response_format = { type: "json_object" };
    if (options.seed !== undefined) body.seed = options.seed;
    // `sample` is deliberately not sent: it only separates repeats in the response cache.
    if (options.stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }

    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: options.stream ? "text/event-stream" : "application/json",
    };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const failure = (error: unknown) => fetchFailure(this.id, this.url, error, { timeout, timeoutMs: this.options.timeoutMs, signal: options.signal });
    const fetchImpl = this.options.fetchImpl ?? fetch;

    let response: Response;
    try {
      response = await fetchImpl(this.url, { method: "POST", headers, body: JSON.stringify(body), signal });
      if (!response.ok) {
        // Read the body under the same signal, so a server that stalls mid-body also times out.
        const raw = await response.text();
        throw httpError(this.id, this.url, response.status, raw, response.headers, { apiKeyEnv: this.options.apiKeyEnv });
      }
      if (options.stream && isEventStream(response)) return await this.readStream(response, messages, options);
    } catch (error) {
      throw failure(error);
    }

    let raw: string;
    try {
      raw = await response.text();
    } catch (error) {
      throw failure(error);
    }
    const status = response.status;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ProviderError(this.id, `malformed response (not JSON): ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status, kind: "malformed" });
    }
    const choice = (parsed as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] })?.choices?.[0];
    const content = choice?.message?.content;
    if (typeof content !== "string") {
      throw new ProviderError(this.id, `malformed response: no choices[0].message.content in ${raw.slice(0, BODY_EXCERPT_CHARS)}`, {
        status,
        kind: "malformed",
      });
    }
    // A server that ignored `stream: true` still answers; the caller still sees the text.
    if (options.stream) options.onText?.(content);
    const usage = (parsed as { usage?: unknown }).usage;
    const model = (parsed as { model?: unknown }).model;
    return this.result(messages, content, usage, model, choice?.finish_reason);
  }

  /** Parse an SSE chat-completion stream: `data: {chunk}` lines, ending with `data: [DONE]`. */
  private async readStream(response: Response, messages: ChatMessage[], options: ChatOptions): Promise<ChatResult> {
    let text = "";
    let usage: unknown;
    let model: unknown;
    let finishReason: unknown;
    let done = false;
    if (!response.body) throw new ProviderError(this.id, "malformed response: empty stream", { status: response.status, kind: "malformed" });
    for await (const event of sseEvents(response.body)) {
      if (event.data === "[DONE]") {
        done = true;
        break;
      }
      let chunk: {
        choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[];
        usage?: unknown;
        model?: unknown;
        error?: unknown;
      };
      try {
        chunk = JSON.parse(event.data);
      } catch {
        throw new ProviderError(this.id, `malformed stream chunk (not JSON): ${event.data.slice(0, BODY_EXCERPT_CHARS)}`, { kind: "malformed" });
      }
      if (chunk.error) {
        throw new ProviderError(this.id, `error in stream from ${this.url}: ${JSON.stringify(chunk.error).slice(0, BODY_EXCERPT_CHARS)}`, { kind: "server" });
      }
      if (typeof chunk.model === "string") model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const delta = choice?.delta?.content;
      if (typeof delta === "string" && delta) {
        text += delta;
        options.onText?.(delta);
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason;
    }
    if (!done && !finishReason) {
      throw new ProviderError(this.id, `truncated stream from ${this.url}: ended after ${text.length} chars without [DONE] or a finish_reason`, {
        kind: "malformed",
      });
    }
    return this.result(messages, text, usage, model, finishReason);
  }

  private result(messages: ChatMessage[], text: string, usage: unknown, model: unknown, finishReason: unknown): ChatResult {
    const { prompt_tokens: promptTokens, completion_tokens: completionTokens } = (usage ?? {}) as { prompt_tokens?: unknown; completion_tokens?: unknown };
    const result: ChatResult = {
      text,
      usage: {
        // Local servers often omit usage; count with our tokenizer so cost estimates still work.
        inputTokens: typeof promptTokens === "number" ? promptTokens : messages.reduce((sum, m) => sum + countTokens(m.content), 0),
        outputTokens: typeof completionTokens === "number" ? completionTokens : countTokens(text),
      },
      model: typeof model === "string" ? model : this.options.model,
    };
    if (typeof finishReason === "string") result.finishReason = finishReason;
    return result;
  }
}

function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").includes("text/event-stream");
}

/**
 * `response_format` for a JSON Schema. `strict: true` only when the schema meets OpenAI's strict
 * rules (every object closed with `additionalProperties: false` and all its properties required):
 * strict mode rejects any other schema with HTTP 400, which would stop a run over a user's
 * perfectly valid extraction schema. Non-strict still steers the model to the schema.
 */
export function jsonSchemaFormat(spec: JsonSchemaSpec): Record<string, unknown> {
  return { type: "json_schema", json_schema: { name: spec.name, schema: spec.schema, strict: isStrictCompatible(spec.schema) } };
}

/** True when every object node of the schema is closed and requires all of its properties. */
export function isStrictCompatible(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(isStrictCompatible);
  if (!schema || typeof schema !== "object") return true;
  const node = schema as Record<string, unknown>;
  const properties = node.properties as Record<string, unknown> | undefined;
  const isObject = node.type === "object" || (Array.isArray(node.type) && node.type.includes("object")) || properties !== undefined;
  if (isObject) {
    if (node.additionalProperties !== false) return false;
    const required = Array.isArray(node.required) ? (node.required as unknown[]) : [];
    if (properties && !Object.keys(properties).every((k) => required.includes(k))) return false;
  }
  for (const key of ["properties", "$defs", "definitions"]) {
    const children = node[key];
    if (children && typeof children === "object" && !Object.values(children).every(isStrictCompatible)) return false;
  }
  for (const key of ["items", "anyOf", "oneOf", "allOf", "prefixItems"]) {
    if (node[key] !== undefined && !isStrictCompatible(node[key])) return false;
  }
  return true;
}

export interface SseEvent {
  /** The `event:` field, when the server sent one (Anthropic does, OpenAI does not). */
  event?: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** Server-sent events from a response body (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event: string | undefined;
  let data: string[] = [];
  const line = function* (raw: string): Generator<SseEvent> {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (text === "") {
      if (data.length > 0) yield { event, data: data.join("\n") };
      event = undefined;
      data = [];
      return;
    }
    if (text.startsWith(":")) return; // comment / keep-alive
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
  };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const raw = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      yield* line(raw);
    }
  }
  buffer += decoder.decode();
  if (buffer) yield* line(buffer);
  // A final event without its blank line is still delivered (the stream checks decide if it is complete).
  if (data.length > 0) yield { event, data: data.join("\n") };
}
