/**
 * A local JSON HTTP server for tests that script replies one request at a time (no network):
 * `script(...)` queues the next replies, `fallback` answers when the queue is empty, and every
 * request is recorded (method, url, headers, parsed body). For full LLM protocols (SSE, Anthropic)
 * see llm-server.ts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface ReplySpec {
  status?: number;
  body: string | object;
  headers?: Record<string, string>;
  delayMs?: number;
}

export type ScriptedJsonReply = ReplySpec | ((req: RecordedRequest) => ReplySpec);

export class JsonTestServer {
  /** Requests since the last `script` (cleared in place, so a reference stays valid). */
  readonly requests: RecordedRequest[] = [];
  /** Answers when no scripted reply is left (default: HTTP 500 "no scripted reply"). */
  fallback: ScriptedJsonReply | undefined;
  private replies: ScriptedJsonReply[] = [];
  private server?: Server;
  port = 0;

  /** Queue the next replies; forget earlier requests and the fallback. */
  script(...next: ScriptedJsonReply[]): void {
    this.requests.length = 0;
    this.replies = next;
    this.fallback = undefined;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        const recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: data ? JSON.parse(data) : undefined };
        this.requests.push(recorded);
        const next = this.replies.shift() ?? this.fallback ?? { status: 500, body: "no scripted reply" };
        const reply = typeof next === "function" ? next(recorded) : next;
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
          res.end(typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body));
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
