/**
 * A ChatProvider for Anthropic's Messages API (POST {baseUrl}/v1/messages), with `fetch` only.
 *
 * - System messages go to the top-level `system` field; `max_tokens` is required (default 1024).
 * - Structured output (`jsonSchema`) is a single forced tool call: the tool's `input_schema` is the
 *   schema, `tool_choice` names it, and the reply text is `JSON.stringify(tool_use.input)`.
 * - Plain `json` has no API switch: the system prompt asks for one JSON object and the reply is
 *   reduced to that object when the model wraps it in prose or a fence.
 * - Streaming reads the SSE events (message_start … message_stop); a stream that ends without
 *   message_stop is a retryable "truncated stream" error, like a 529 "overloaded".
 */
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "./index.ts";
import { BODY_EXCERPT_CHARS, ProviderError, fetchFailure, httpError, type ProviderErrorKind } from "./errors.ts";
import { parseJsonObject } from "./llm-generator.ts";
import { sseEvents } from "./openai-compatible.ts";
import { countTokens } from "./tokens.ts";

export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";
export const ANTHROPIC_VERSION = "2023-06-01";
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

/** Appended to the system prompt when `json` is asked for without a schema. */
export const ANTHROPIC_JSON_INSTRUCTION = "Reply with a single JSON object only: no prose before or after it, no code fence.";

export interface AnthropicOptions {
  /** Provider id; default `anthropic:<model>`. */
  id?: string;
  /** e.g. https://api.anthropic.com — `/v1/messages` is appended. */
  baseUrl: string;
  model: string;
  /** Sent as `x-api-key` when set. */
  apiKey?: string;
  /** Environment variable the key came from, named in auth errors. Default ANTHROPIC_API_KEY. */
  apiKeyEnv?: string;
  timeoutMs: number;
  /** `max_tokens` when the call sets none (the API requires one). */
  defaultMaxTokens?: number;
  fetchImpl?: typeof fetch;
}

interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
}

/** Anthropic error types → our kinds (the HTTP status says the same; mid-stream errors have none). */
const ERROR_KINDS: Record<string, ProviderErrorKind> = {
  invalid_request_error: "validation",
  request_too_large: "validation",
  not_found_error: "validation",
  authentication_error: "auth",
  permission_error: "auth",
  rate_limit_error: "rate_limit",
  api_error: "server",
  overloaded_error: "server",
  timeout_error: "timeout",
};

export class AnthropicProvider implements ChatProvider {
  readonly id: string;
  readonly model: string;
  private readonly options: AnthropicOptions;
  private readonly url: string;

  constructor(options: AnthropicOptions) {
    this.options = options;
    this.model = options.model;
    this.id = options.id ?? `anthropic:${options.model}`;
    this.url = `${options.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1/messages`;
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const system = messages.filter((m) => m.role === "system").map((m) => m.content);
    if (options.json && !options.jsonSchema) system.push(ANTHROPIC_JSON_INSTRUCTION);
    const body: Record<string, unknown> = {
      model: this.options.model,
      max_tokens: options.maxTokens ?? this.options.defaultMaxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role, content: m.content })),
      temperature: options.temperature ?? 0,
    };
    if (system.length > 0) body.system = system.join("\n\n");
    const tool = options.jsonSchema;
    if (tool) {
      body.tools = [{ name: tool.name, description: `Record the answer as a ${tool.name} object matching the schema.`, input_schema: tool.schema }];
      body.tool_choice = { type: "tool", name: tool.name };
    }
    // The Messages API has no seed; `seed` and `sample` only separate entries in the response cache.
    if (options.stream) body.stream = true;

    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: options.stream ? "text/event-stream" : "application/json",
      "anthropic-version": ANTHROPIC_VERSION,
    };
    if (this.options.apiKey) headers["x-api-key"] = this.options.apiKey;

    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const fetchImpl = this.options.fetchImpl ?? fetch;

    let content: ContentBlock[];
    let usage: { input?: number; output?: number };
    let model: string;
    let stopReason: string | undefined;
    try {
      const response = await fetchImpl(this.url, { method: "POST", headers, body: JSON.stringify(body), signal });
      if (!response.ok) {
        const raw = await response.text();
        throw httpError(this.id, this.url, response.status, raw, response.headers, { apiKeyEnv: this.options.apiKeyEnv ?? "ANTHROPIC_API_KEY" });
      }
      const streamed = options.stream && (response.headers.get("content-type") ?? "").includes("text/event-stream");
      ({ content, usage, model, stopReason } = streamed ? await this.readStream(response, options) : this.parseMessage(await response.text(), response.status));
      if (options.stream && !streamed) for (const block of content) if (block.type === "text" && block.text) options.onText?.(block.text);
    } catch (error) {
      throw fetchFailure(this.id, this.url, error, { timeout, timeoutMs: this.options.timeoutMs, signal: options.signal });
    }

    let text: string;
    if (tool) {
      const call = content.find((b) => b.type === "tool_use" && b.name === tool.name) ?? content.find((b) => b.type === "tool_use");
      if (!call || call.input === undefined) {
        throw new ProviderError(this.id, `malformed response: no tool_use block for "${tool.name}" (stop_reason ${stopReason ?? "unknown"})`, { kind: "malformed" });
      }
      text = JSON.stringify(call.input);
    } else {
      text = content
        .filter((b) => b.type === "text")
        .map((b) => b.text ?? "")
        .join("");
      if (options.json) {
        const object = parseJsonObject(text);
        if (object) text = JSON.stringify(object);
      }
    }

    const result: ChatResult = {
      text,
      usage: {
        inputTokens: usage.input ?? messages.reduce((sum, m) => sum + countTokens(m.content), 0),
        outputTokens: usage.output ?? countTokens(text),
      },
      model: model || this.options.model,
    };
    if (stopReason) result.finishReason = stopReason;
    return result;
  }

  private parseMessage(raw: string, status: number): { content: ContentBlock[]; usage: { input?: number; output?: number }; model: string; stopReason?: string } {
    let parsed: { content?: unknown; usage?: { input_tokens?: unknown; output_tokens?: unknown }; model?: unknown; stop_reason?: unknown };
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ProviderError(this.id, `malformed response (not JSON): ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status, kind: "malformed" });
    }
    if (!Array.isArray(parsed?.content)) {
      throw new ProviderError(this.id, `malformed response: no content array in ${raw.slice(0, BODY_EXCERPT_CHARS)}`, { status, kind: "malformed" });
    }
    return {
      content: parsed.content as ContentBlock[],
      usage: { input: numberOrUndefined(parsed.usage?.input_tokens), output: numberOrUndefined(parsed.usage?.output_tokens) },
      model: typeof parsed.model === "string" ? parsed.model : "",
      stopReason: typeof parsed.stop_reason === "string" ? parsed.stop_reason : undefined,
    };
  }

  /** Rebuild the message from its SSE events; text deltas go to onText as they arrive. */
  private async readStream(
    response: Response,
    options: ChatOptions,
  ): Promise<{ content: ContentBlock[]; usage: { input?: number; output?: number }; model: string; stopReason?: string }> {
    const blocks: (ContentBlock & { json?: string })[] = [];
    const usage: { input?: number; output?: number } = {};
    let model = "";
    let stopReason: string | undefined;
    let stopped = false;
    if (!response.body) throw new ProviderError(this.id, "malformed response: empty stream", { kind: "malformed" });
    for await (const sse of sseEvents(response.body)) {
      let event: Record<string, any>;
      try {
        event = JSON.parse(sse.data);
      } catch {
        throw new ProviderError(this.id, `malformed stream event (not JSON): ${sse.data.slice(0, BODY_EXCERPT_CHARS)}`, { kind: "malformed" });
      }
      switch (event.type) {
        case "message_start": {
          const message = event.message ?? {};
          if (typeof message.model === "string") model = message.model;
          usage.input = numberOrUndefined(message.usage?.input_tokens);
          const early = numberOrUndefined(message.usage?.output_tokens);
          if (early !== undefined) usage.output = early;
          break;
        }
        case "content_block_start":
          blocks[event.index ?? blocks.length] = { ...(event.content_block ?? { type: "text" }) };
          break;
        case "content_block_delta": {
          const block = (blocks[event.index ?? blocks.length - 1] ??= { type: event.delta?.type === "input_json_delta" ? "tool_use" : "text" });
          if (event.delta?.type === "text_delta" && typeof event.delta.text === "string") {
            block.text = (block.text ?? "") + event.delta.text;
            options.onText?.(event.delta.text);
          } else if (event.delta?.type === "input_json_delta" && typeof event.delta.partial_json === "string") {
            block.json = (block.json ?? "") + event.delta.partial_json;
            options.onText?.(event.delta.partial_json);
          }
          break;
        }
        case "content_block_stop": {
          const block = blocks[event.index ?? blocks.length - 1];
          if (block?.json !== undefined) block.input = this.parseToolJson(block.json);
          break;
        }
        case "message_delta":
          if (typeof event.delta?.stop_reason === "string") stopReason = event.delta.stop_reason;
          if (typeof event.usage?.output_tokens === "number") usage.output = event.usage.output_tokens;
          if (typeof event.usage?.input_tokens === "number") usage.input = event.usage.input_tokens;
          break;
        case "message_stop":
          stopped = true;
          break;
        case "error": {
          const type = String(event.error?.type ?? "error");
          const kind = ERROR_KINDS[type] ?? "server";
          throw new ProviderError(this.id, `error in stream from ${this.url}: ${type}: ${String(event.error?.message ?? "").slice(0, BODY_EXCERPT_CHARS)}`, { kind });
        }
        default:
          break; // ping and future event types
      }
      if (stopped) break;
    }
    if (!stopped) {
      throw new ProviderError(this.id, `truncated stream from ${this.url}: ended without message_stop`, { kind: "malformed" });
    }
    for (const block of blocks) if (block && block.json !== undefined && block.input === undefined) block.input = this.parseToolJson(block.json);
    return { content: blocks.filter(Boolean), usage, model, stopReason };
  }

  private parseToolJson(json: string): unknown {
    try {
      return json.trim() === "" ? {} : JSON.parse(json);
    } catch {
      throw new ProviderError(this.id, `malformed tool input in stream (not JSON): ${json.slice(0, BODY_EXCERPT_CHARS)}`, { kind: "malformed" });
    }
  }
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}
