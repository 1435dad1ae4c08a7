/**
 * A local HTTP server that speaks an LLM provider's wire format, for tests (no network). Each
 * request takes the next entry of `script` (or calls `script(index, body)`):
 *
 * - `{ text, usage?, finishReason?, model? }` a normal reply; streamed (SSE) when the request says
 *   `stream: true`, split into a few deltas;
 * - `{ stream: ["Hel", "lo"], truncate?: true, usage? }` an explicit SSE stream; `truncate` ends it
 *   without `[DONE]`/finish_reason (OpenAI) or message_stop (Anthropic);
 * - `{ toolInput: {...} }` (Anthropic) a tool_use reply for the request's forced tool;
 * - `{ status, headers?, body? }` an error (or any) status, e.g. 429 with Retry-After;
 * - `{ raw: "not json" }` a 200 with that body;
 * - `delayMs` on any entry (alone: a reply that comes too late) delays the answer.
 *
 * Requests are recorded (path, headers, parsed body); `maxInFlight` counts concurrent requests.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface TextReply {
  text: string;
  usage?: { input: number; output: number } | null;
  finishReason?: string;
  model?: string;
  delayMs?: number;
}
export interface StreamReply {
  stream: string[];
  truncate?: boolean;
  usage?: { input: number; output: number } | null;
  finishReason?: string;
  delayMs?: number;
}
export interface ToolReply {
  toolInput: Record<string, unknown>;
  usage?: { input: number; output: number } | null;
  delayMs?: number;
}
export interface StatusReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | object;
  delayMs?: number;
}
export interface RawReply {
  raw: string;
  delayMs?: number;
}
export interface DelayReply {
  delayMs: number;
}
export type ScriptedReply = TextReply | StreamReply | ToolReply | StatusReply | RawReply | DelayReply;

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface LlmServer {
  /** Base URL to configure: `http://127.0.0.1:<port>/v1` (openai) or `http://127.0.0.1:<port>` (anthropic). */
  url: string;
  requests: RecordedRequest[];
  /** Highest number of requests being answered at once. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export interface LlmServerOptions {
  protocol: "openai" | "anthropic";
  script: ScriptedReply[] | ((index: number, body: any) => ScriptedReply);
}

const DEFAULT_USAGE = { input: 11, output: 7 };

export async function startLlmServer(options: LlmServerOptions): Promise<LlmServer> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      let body: any = data;
      try {
        body = data ? JSON.parse(data) : undefined;
      } catch {
        // keep the raw text
      }
      const index = requests.length;
      requests.push({ path: req.url ?? "", headers: req.headers, body });
      const reply: ScriptedReply =
        typeof options.script === "function"
          ? options.script(index, body)
          : (options.script[index] ?? { status: 500, body: { error: { message: `no scripted reply for request ${index}` } } });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const send = () => {
        inFlight--;
        if (res.destroyed) return;
        if (options.protocol === "openai") sendOpenAI(res, reply, body);
        else sendAnthropic(res, reply, body);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: options.protocol === "openai" ? `http://127.0.0.1:${port}/v1` : `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

/** Split a text into ~3 deltas (for `{text}` replies to streaming requests). */
function deltas(text: string): string[] {
  if (text.length < 3) return [text];
  const third = Math.ceil(text.length / 3);
  return [text.slice(0, third), text.slice(third, 2 * third), text.slice(2 * third)].filter(Boolean);
}

function common(res: ServerResponse, reply: ScriptedReply): boolean {
  if ("status" in reply) {
    json(res, reply.status, reply.body ?? "", reply.headers);
    return true;
  }
  if ("raw" in reply) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(reply.raw);
    return true;
  }
  return false;
}

function sendOpenAI(res: ServerResponse, reply: ScriptedReply, request: any): void {
  if (common(res, reply)) return;
  const model = ("model" in reply && reply.model) || request?.model || "test-model";
  const usageOf = (u: { input: number; output: number } | null | undefined) =>
    u === null ? undefined : { prompt_tokens: (u ?? DEFAULT_USAGE).input, completion_tokens: (u ?? DEFAULT_USAGE).output, total_tokens: (u ?? DEFAULT_USAGE).input + (u ?? DEFAULT_USAGE).output };
  const text = "text" in reply ? reply.text : "toolInput" in reply ? JSON.stringify(reply.toolInput) : "stream" in reply ? reply.stream.join("") : "late";
  const usage = "usage" in reply ? reply.usage : undefined;
  const finishReason = ("finishReason" in reply && reply.finishReason) || "stop";
  const streaming = "stream" in reply || request?.stream === true;
  if (!streaming) {
    const body: Record<string, unknown> = {
      id: "chatcmpl-test",
      object: "chat.completion",
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }],
    };
    const u = usageOf(usage);
    if (u) body.usage = u;
    json(res, 200, body);
    return;
  }
  sse(res);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ id: "chatcmpl-test", object: "chat.completion.chunk", created: 1_700_000_000, model, choices, ...extra })}\n\n`);
  chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
  for (const d of "stream" in reply ? reply.stream : deltas(text)) chunk([{ index: 0, delta: { content: d }, finish_reason: null }]);
  if ("truncate" in reply && reply.truncate) {
    res.end();
    return;
  }
  chunk([{ index: 0, delta: {}, finish_reason: finishReason }]);
  const u = request?.stream_options?.include_usage ? usageOf(usage) : undefined;
  if (u) chunk([], { usage: u });
  res.end("data: [DONE]\n\n");
}

function sendAnthropic(res: ServerResponse, reply: ScriptedReply, request: any): void {
  if (common(res, reply)) return;
  const model = request?.model || "claude-test";
  const u = ("usage" in reply ? reply.usage : undefined) ?? DEFAULT_USAGE;
  const stopReason = ("finishReason" in reply && reply.finishReason) || ("toolInput" in reply ? "tool_use" : "end_turn");
  const toolName = request?.tool_choice?.name ?? request?.tools?.[0]?.name ?? "tool";
  const text = "text" in reply ? reply.text : "stream" in reply ? reply.stream.join("") : "late";
  const content =
    "toolInput" in reply ? [{ type: "tool_use", id: "toolu_test", name: toolName, input: reply.toolInput }] : [{ type: "text", text }];
  const streaming = "stream" in reply || request?.stream === true;
  if (!streaming) {
    json(res, 200, {
      id: "msg_test",
      type: "message",
      role: "assistant",
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: u.input, output_tokens: u.output },
    });
    return;
  }
  sse(res);
  const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event("message_start", {
    message: { id: "msg_test", type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { input_tokens: u.input, output_tokens: 1 } },
  });
  event("ping", {});
  if ("toolInput" in reply) {
    event("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_test", name: toolName, input: {} } });
    for (const part of deltas(JSON.stringify(reply.toolInput))) event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: part } });
  } else {
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    for (const d of "stream" in reply ? reply.stream : deltas(text)) event("content_block_delta", { index: 0, delta: { type: "text_delta", text: d } });
  }
  if ("truncate" in reply && reply.truncate) {
    res.end();
    return;
  }
  event("content_block_stop", { index: 0 });
  event("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: u.output } });
  event("message_stop", {});
  res.end();
}
