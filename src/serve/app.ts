/**
 * `createServeApp(options)`: the hono app of `ragtune serve`. Every request body is parsed and
 * validated (zod, schemas.ts), every response validated before it is sent; an error body always
 * says which field is at fault. Limits (body size, query length, k, time) come from `serve:` in
 * the config. Like `ragtune view`, when bound to loopback a request whose Host header names
 * another host is refused (DNS rebinding).
 */
import { scrubPii } from "../finetune/dataset/clean.ts";
import { hitJson } from "../retrieve/index.ts";
import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { streamSSE } from "hono/streaming";
import type { z } from "zod";
import type { Project } from "../pipeline/index.ts";
import type { RagtuneConfig, VariantName } from "../config/index.ts";
import type { ChunkFilter } from "../store/index.ts";
import { isLoopback } from "../view/server.ts";
import { AnswerEngine, epochMs, type Answered } from "./answer.ts";
import { answerTrace, createTracer, type Tracer } from "./trace/index.ts";
import type { RequestLogStore, RequestRow, Traffic } from "./log.ts";
import { openRequestLogStore } from "./log-open.ts";
import { trafficLabel, trafficOf } from "./traffic.ts";
import { supersededInIndex } from "./monitor.ts";
import { createServeMetrics, registerMonitorGauges, type ServeMetrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { ApiError, checked, errorJson, parseBody, readJson } from "./http.ts";
import { ADMIN_ROUTES, registerAdminRoutes } from "./admin.ts";
import {
  AskRequest,
  AskResponse,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  FeedbackRequest,
  FeedbackResponse,
  HealthResponse,
  ReadyResponse,
  SearchRequest,
  SearchResponse,
  type Authorize,
  type ErrorBody,
} from "./schemas.ts";

export type ServeLimits = RagtuneConfig["serve"];

export interface ServeAppOptions {
  project: Project;
  /** The pipeline to serve (default rag). */
  variant?: VariantName;
  /** Auth hook (src/serve/auth.ts); without it every request is allowed. */
  authorize?: Authorize;
  /** Refuse requests whose Host header is not a loopback name (default true). */
  loopbackOnly?: boolean;
  /** Override `serve:` config values (tests, the load bench). */
  limits?: Partial<ServeLimits>;
  /** Request-log file (default `<storeDir>/requests.db`); null = no log (also when `serve.requestLog` is false). */
  requestLogFile?: string | null;
  /** Where failed log writes and internal errors are reported (default console.error). */
  logError?: (message: string) => void;
  /** How long /metrics reuses the monitor window it computed (default 2000 ms; tests use 0). */
  monitorCacheMs?: number;
}

export type ServeApp = Hono & {
  engine: AnswerEngine;
  metrics: ServeMetrics;
  requestLog: RequestLogStore | undefined;
  limits: ServeLimits;
  /** The trace exporter when `serve.traces.enabled`. */
  tracer: Tracer | undefined;
  /** Close the request log (the project is the caller's); queued trace spans are exported in the background. */
  close(): void;
  /** Export the queued trace spans (each batch bounded by serve.traces.timeoutMs), then close. */
  shutdown(): Promise<void>;
};

const ROUTES = new Set<string>(["/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/feedback", ...ADMIN_ROUTES, "/healthz", "/readyz", "/metrics", "/openapi.json"]);

function hostOf(header: string): string {
  return header.startsWith("[") ? header.slice(0, header.indexOf("]") + 1) : header.split(":")[0];
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError(504, "timeout", undefined, `the request took longer than serve.timeoutMs (${ms} ms)`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function citationsOut(a: Answered) {
  return a.result.citations.map((c) => {
    const heading = c.headingPath.length ? ` › ${c.headingPath.join(" › ")}` : "";
    return {
      marker: c.marker,
      chunkId: c.chunkId,
      path: c.path,
      headingPath: c.headingPath,
      lines: [c.lineStart, c.lineEnd] as [number, number],
      version: c.version ?? "",
      label: `${c.path}${heading} › ${c.lineStart === c.lineEnd ? `line ${c.lineStart}` : `lines ${c.lineStart}–${c.lineEnd}`}`,
      ...(c.quote !== undefined ? { quote: c.quote } : {}),
    };
  });
}

export function createServeApp(options: ServeAppOptions): ServeApp {
  const { project } = options;
  const limits: ServeLimits = { ...project.config.serve, ...options.limits };
  const engine = new AnswerEngine(project, options.variant ?? "rag");
  const metrics = createServeMetrics();
  const logError = options.logError ?? ((m: string) => console.error(m));
  // SQLite (`<storeDir>/requests.db`) or the project's Postgres database, as config.store says.
  const requestLog =
    options.requestLogFile === null || !limits.requestLog
      ? undefined
      : openRequestLogStore(project, {
          create: true,
          ...(options.requestLogFile !== undefined ? { file: options.requestLogFile } : {}),
          ...(limits.redactPii ? { redact: (t: string) => scrubPii(t).text } : {}),
        });
  const monitorGauges = registerMonitorGauges(metrics, {
    project,
    requestLog,
    windowMinutes: limits.monitors.windowMinutes,
    served: () => engine.served(),
    ...(options.monitorCacheMs !== undefined ? { cacheMs: options.monitorCacheMs } : {}),
  });
  const tracer = limits.traces.enabled ? createTracer(limits.traces, metrics, logError) : undefined;
  const loopbackOnly = options.loopbackOnly ?? true;
  const authorize = options.authorize;

  const app = new Hono();

  // Counts and times every request, whatever answered it (route, onError, notFound).
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    const route = ROUTES.has(c.req.path) ? c.req.path : c.req.path.startsWith("/v1/documents/") ? "/v1/documents/:path" : "other";
    metrics.requests.inc({ route, status: String(c.res.status), traffic: trafficLabel(c) });
    metrics.latency.observe({ route }, (performance.now() - started) / 1000);
  });

  app.use("*", async (c, next) => {
    if (loopbackOnly && !isLoopback(hostOf(c.req.header("host") ?? "localhost"))) {
      return c.json({ error: { code: "forbidden_host", message: "this server answers only requests addressed to localhost (start it with --host to serve others)" } }, 400);
    }
    await next();
  });

  if (limits.corsOrigins.length > 0) {
    const allowed = new Set(limits.corsOrigins);
    app.use("/v1/*", cors({ origin: (origin) => (allowed.has(origin) ? origin : null), allowMethods: ["POST", "OPTIONS"], allowHeaders: ["Content-Type", "Authorization", "X-Ragtune-Traffic", "traceparent"] }));
  }

  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: limits.bodyLimitBytes,
      onError: (c) => errorJson(c, new ApiError(413, "body_too_large", undefined, `the request body is larger than serve.bodyLimitBytes (${limits.bodyLimitBytes} bytes)`)),
    }),
  );

  const guard = async (c: Context): Promise<Response | undefined> => (authorize ? authorize(c, "query") : undefined);

  const checkText = (field: string, value: string) => {
    if (value.length > limits.maxQueryChars) {
      throw new ApiError(422, "too_long", field, `${field} is ${value.length} characters; the limit is serve.maxQueryChars = ${limits.maxQueryChars}`);
    }
  };
  const checkK = (k: number | undefined) => {
    if (k !== undefined && k > limits.maxK) throw new ApiError(422, "too_long", "k", `k is ${k}; the limit is serve.maxK = ${limits.maxK}`);
  };
  const requireReady = () => {
    const ready = engine.ready();
    if (!ready.ok) throw new ApiError(503, "not_ready", undefined, ready.reason);
  };

  /** Best effort: a failed write is reported and counted, never turned into a failed request. */
  const record = (row: RequestRow) => {
    if (!requestLog) return;
    try {
      requestLog.record(row);
      monitorGauges.window?.add(row);
    } catch (err) {
      metrics.logErrors.inc();
      logError(`ragtune serve: could not write request ${row.id} to ${requestLog.location}: ${(err as Error).message}`);
    }
  };

  const answered = async (route: string, question: string, traffic: Traffic, opts: { k?: number; filter?: ChunkFilter; onText?: (d: string) => void; traceparent?: string }) => {
    const id = randomUUID();
    const time = new Date().toISOString();
    const started = performance.now();
    const startedAt = epochMs();
    const served = engine.served();
    const base = { id, time, route, query: question, model: served.model.generator, indexGeneration: served.index.generation, indexFingerprint: served.index.fingerprint, traffic };
    const span = tracer?.begin(opts.traceparent);
    const trace = (status: number, a?: Answered, error?: string) => {
      if (!tracer || !span?.sampled) return;
      tracer.record({
        ...span,
        route,
        requestId: id,
        traffic,
        question,
        start: startedAt,
        end: epochMs(),
        status,
        ...(error !== undefined ? { error } : {}),
        ...(a ? { answer: answerTrace(a, project.config.models.systemPrompt) } : {}),
        served: { indexFingerprint: served.index.fingerprint, indexVersion: served.index.version, indexGeneration: served.index.generation, variant: served.model.variant },
      });
    };
    let a: Answered;
    try {
      a = await withTimeout(engine.answer(question, opts), limits.timeoutMs);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 500;
      record({ ...base, status, retrieved: [], answer: null, confidence: null, fallback: null, support: null, latencyMs: performance.now() - started, inputTokens: 0, outputTokens: 0, costUsd: null });
      trace(status, undefined, (err as Error).message);
      throw err;
    }
    const latencyMs = performance.now() - started;
    if (a.result.abstained) metrics.fallbacks.inc();
    if (a.unsupported) metrics.unsupported.inc();
    const superseded = supersededInIndex(project);
    record({
      ...base,
      status: 200,
      retrieved: a.hits.map((h) => ({ id: h.chunk.id, score: h.score })),
      answer: a.result.text,
      confidence: a.result.confidence ?? null,
      fallback: a.result.abstained,
      support: a.support ?? null,
      latencyMs,
      inputTokens: a.result.usage.inputTokens,
      outputTokens: a.result.usage.outputTokens,
      costUsd: a.costUsd,
      citations: a.result.citations.length,
      staleCitation: a.result.citations.some((c) => superseded.has(c.path)),
    });
    trace(200, a);
    const body: z.input<typeof AskResponse> = {
      requestId: id,
      answer: a.result.text,
      citations: citationsOut(a),
      confidence: a.result.confidence ?? null,
      fallback: a.result.abstained,
      escalation: a.result.abstained ? (project.config.answer.fallbackMessage ?? a.result.text) : null,
      support: a.support ?? null,
      generator: a.result.generator,
      served,
      latencyMs: Math.round(latencyMs * 10) / 10,
    };
    return { body, answered: a };
  };

  app.post("/v1/ask", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const traffic = trafficOf(c);
    const req = parseBody(AskRequest, await readJson(c));
    checkText("question", req.question);
    checkK(req.k);
    if (!engine.takesRetrievalOptions) {
      const field = req.k !== undefined ? "k" : req.filters ? "filters" : undefined;
      if (field) throw new ApiError(400, "invalid_request", field, `${field} applies to the rag variant; the ${engine.variant} variant retrieves with the configured retrieval settings`);
    }
    requireReady();
    const { body } = await answered("/v1/ask", req.question, traffic, { k: req.k, filter: req.filters, traceparent: c.req.header("traceparent") });
    c.header("x-request-id", body.requestId);
    return c.json(checked(AskResponse, body));
  });

  app.post("/v1/search", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const traffic = trafficOf(c);
    const req = parseBody(SearchRequest, await readJson(c));
    checkText("query", req.query);
    checkK(req.k);
    requireReady();
    const id = randomUUID();
    const started = performance.now();
    const served = engine.served();
    const { retriever, hits } = await withTimeout(engine.search(req.query, req.k), limits.timeoutMs);
    record({
      id,
      time: new Date().toISOString(),
      route: "/v1/search",
      status: 200,
      query: req.query,
      retrieved: hits.map((h) => ({ id: h.chunk.id, score: h.score })),
      answer: null,
      confidence: null,
      fallback: null,
      support: null,
      latencyMs: performance.now() - started,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      model: served.model.generator,
      indexGeneration: served.index.generation,
      indexFingerprint: served.index.fingerprint,
      traffic,
    });
    c.header("x-request-id", id);
    return c.json(
      checked(SearchResponse, {
        requestId: id,
        query: req.query,
        retriever,
        hits: hits.map(hitJson),
        served,
      }),
    );
  });

  app.post("/v1/chat/completions", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const traffic = trafficOf(c);
    const req = parseBody(ChatRequest, await readJson(c));
    let at = req.messages.length - 1;
    while (at >= 0 && req.messages[at].role !== "user") at--;
    if (at < 0) throw new ApiError(400, "invalid_request", "messages", "messages has no user message: the last user message is the question");
    const content = req.messages[at].content;
    const question = (typeof content === "string" ? content : (content ?? []).map((p) => (p.type === "text" ? p.text ?? "" : "")).join("\n")).trim();
    if (!question) throw new ApiError(400, "invalid_request", `messages.${at}.content`, `messages.${at}.content has no text`);
    checkText(`messages.${at}.content`, question);
    requireReady();
    const created = Math.floor(Date.now() / 1000);
    const model = `ragtune:${engine.variant}:${engine.generatorId()}`;
    const usageOf = (a: Answered) => ({
      prompt_tokens: a.result.usage.inputTokens,
      completion_tokens: a.result.usage.outputTokens,
      total_tokens: a.result.usage.inputTokens + a.result.usage.outputTokens,
    });
    if (!req.stream) {
      const { body, answered: a } = await answered("/v1/chat/completions", question, traffic, { traceparent: c.req.header("traceparent") });
      c.header("x-request-id", body.requestId);
      return c.json(
        checked(ChatResponse, {
          id: `chatcmpl-${body.requestId}`,
          object: "chat.completion",
          created,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: body.answer }, finish_reason: "stop" }],
          usage: usageOf(a),
          ragtune: body,
        }),
      );
    }
    return streamSSE(c, async (stream) => {
      let streamId = `chatcmpl-${randomUUID()}`;
      const chunk = (delta: { role?: "assistant"; content?: string }, finish: "stop" | null, extra: Pick<z.input<typeof ChatChunk>, "usage" | "ragtune"> = {}) =>
        stream.writeSSE({
          data: JSON.stringify(checked(ChatChunk, { id: streamId, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })),
        });
      await chunk({ role: "assistant", content: "" }, null);
      // Text is forwarded as the generator produces it; writes are chained so they stay in order.
      let pending: Promise<void> = Promise.resolve();
      let streamed = false;
      try {
        const { body, answered: a } = await answered("/v1/chat/completions", question, traffic, {
          traceparent: c.req.header("traceparent"),
          onText: (delta) => {
            streamed = true;
            pending = pending.then(() => chunk({ content: delta }, null));
          },
        });
        await pending;
        streamId = `chatcmpl-${body.requestId}`;
        // A generator that does not stream (the offline reader) answers at once: send it in word-sized pieces.
        if (!streamed || a.result.abstained) for (const piece of body.answer.match(/\S+\s*/g) ?? []) await chunk({ content: piece }, null);
        await chunk({}, "stop", { usage: usageOf(a), ragtune: body });
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, "internal", undefined, (err as Error).message);
        await stream.writeSSE({ data: JSON.stringify({ error: { code: e.code, message: e.message, type: e.code } }) });
      }
      await stream.writeSSE({ data: "[DONE]" });
    });
  });

  app.post("/v1/feedback", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const req = parseBody(FeedbackRequest, await readJson(c));
    if (!requestLog) throw new ApiError(404, "not_found", "requestId", "the request log is off (serve.requestLog: false), so no request can be found");
    let found: boolean;
    try {
      found = requestLog.setFeedback(req.requestId, {
        thumbs: req.thumbs,
        ...(req.correctedAnswer !== undefined ? { correctedAnswer: req.correctedAnswer } : {}),
        ...(req.text !== undefined ? { text: req.text } : {}),
        at: new Date().toISOString(),
      });
    } catch (err) {
      metrics.logErrors.inc();
      throw new ApiError(500, "internal", undefined, `could not record feedback: ${(err as Error).message}`);
    }
    if (!found) throw new ApiError(404, "not_found", "requestId", `no logged request has id '${req.requestId}'`);
    monitorGauges.window?.feedback(req.requestId, { thumbs: req.thumbs, ...(req.correctedAnswer !== undefined ? { correctedAnswer: req.correctedAnswer } : {}), at: "" });
    return c.json(checked(FeedbackResponse, { requestId: req.requestId, recorded: true }));
  });

  registerAdminRoutes(app, { project, engine, ...(authorize ? { authorize } : {}) });

  app.get("/healthz", (c) => c.json(checked(HealthResponse, { status: "ok" })));

  app.get("/readyz", (c) => {
    try {
      const ready = engine.ready();
      if (!ready.ok) return c.json(checked(ReadyResponse, { status: "not_ready", reason: ready.reason }), 503);
      return c.json(checked(ReadyResponse, { status: "ready", served: engine.served() }));
    } catch (err) {
      return c.json(checked(ReadyResponse, { status: "not_ready", reason: `the index cannot be read: ${(err as Error).message}` }), 503);
    }
  });

  app.get("/metrics", async (c) => {
    metrics.indexGeneration.set(project.store.generation());
    try {
      monitorGauges.refresh();
    } catch (err) {
      // The counters are still worth serving when the log cannot be read.
      logError(`ragtune serve: /metrics could not compute the monitors: ${(err as Error).message}`);
    }
    return c.body(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType });
  });

  const document = openApiDocument();
  app.get("/openapi.json", (c) => c.json(document));

  app.notFound((c) => errorJson(c, new ApiError(404, "not_found", undefined, `no route ${c.req.method} ${c.req.path}; see /openapi.json`)));

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorJson(c, err);
    // The client went away mid-body: nobody reads the answer, and it is not a server fault.
    if (c.req.raw.signal.aborted) return errorJson(c, new ApiError(400, "malformed_json", undefined, "the client closed the connection before the body was complete"));
    logError(`ragtune serve: ${c.req.method} ${c.req.path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return errorJson(c, new ApiError(500, "internal", undefined, "internal error (the server log has the details)"));
  });

  return Object.assign(app, {
    engine,
    metrics,
    requestLog,
    limits,
    tracer,
    close: () => {
      if (tracer) void tracer.exporter.shutdown();
      requestLog?.close();
    },
    shutdown: async () => {
      await tracer?.exporter.shutdown();
      requestLog?.close();
    },
  });
}
