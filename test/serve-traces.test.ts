/**
 * OpenTelemetry trace export of `ragtune serve` against a local OTLP/HTTP collector started by the
 * test (no network): span kinds, parent/child links, OpenInference attributes, document ids, the
 * incoming traceparent, eval tagging; a dead or silent collector never fails or holds a request.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp, type ServeApp, type ServeAppOptions } from "../src/serve/index.ts";
import { parseTraceParent, tracesEndpoint } from "../src/serve/trace/index.ts";
import { JsonTestServer } from "./helpers/json-server.ts";
import { makeTinyProject } from "./helpers/project.ts";

interface Attr {
  key: string;
  value: { stringValue?: string; intValue?: string; doubleValue?: number; boolValue?: boolean };
}
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attr[];
  status: { code: number; message?: string };
}

const roots: string[] = [];
const projects: Project[] = [];
after(() => {
  for (const p of projects) p.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

async function project(): Promise<Project> {
  const root = makeTinyProject();
  roots.push(root);
  const p = openProject(loadConfig(join(root, "ragtune.yaml")));
  projects.push(p);
  await reindexProject(p);
  return p;
}

function app(p: Project, traces: Record<string, unknown>, extra: Partial<ServeAppOptions> = {}): ServeApp {
  const base = p.config.serve.traces;
  return createServeApp({ project: p, logError: () => {}, limits: { traces: { ...base, enabled: true, flushIntervalMs: 600_000, ...traces } }, ...extra });
}

const post = (a: ServeApp, path: string, body: unknown, headers: Record<string, string> = {}) =>
  a.request(path, { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

const value = (span: Span, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));
};
const kindOf = (s: Span) => value(s, "openinference.span.kind");

async function metric(a: ServeApp, line: string): Promise<number | undefined> {
  const text = await (await a.request("/metrics")).text();
  const l = text.split("\n").find((x) => x.slice(0, x.lastIndexOf(" ")) === line);
  return l === undefined ? undefined : Number(l.slice(l.lastIndexOf(" ") + 1));
}

test("traces: CHAIN → RETRIEVER + LLM spans per answer over OTLP/HTTP JSON, with OpenInference attributes, traceparent and eval tagging", async () => {
  const collector = new JsonTestServer();
  await collector.start();
  const p = await project();
  const a = app(p, { endpoint: `http://127.0.0.1:${collector.port}/v1/traces`, serviceName: "acme-support-bot", headers: { "x-collector-key": "k1" } });
  try {
    collector.script();
    collector.fallback = { status: 200, body: {} };
    const incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const incomingSpan = "00f067aa0ba902b7";
    const ask = (await (await post(a, "/v1/ask", { question: "Within how many days can I get a refund on an annual plan?" }, { traceparent: `00-${incomingTrace}-${incomingSpan}-01` })).json()) as { requestId: string; answer: string };
    const chatRes = await post(a, "/v1/chat/completions", { messages: [{ role: "user", content: "How long do deleted cards stay in the trash?" }] }, { "X-Ragtune-Traffic": "eval" });
    const chat = (await chatRes.json()) as { usage: { prompt_tokens: number; completion_tokens: number }; ragtune: { requestId: string } };
    // Not sampled by the caller: not exported (parent-based sampling).
    await post(a, "/v1/ask", { question: "How long do deleted cards stay in the trash?" }, { traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-00` });
    assert.equal(collector.requests.length, 0, "nothing is sent on the request path");
    await a.tracer!.exporter.flush();

    assert.equal(collector.requests.length, 1, "one batch");
    const req = collector.requests[0];
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/v1/traces");
    assert.equal(req.headers["content-type"], "application/json");
    assert.equal(req.headers["x-collector-key"], "k1");
    const rs = req.body.resourceSpans[0];
    assert.deepEqual(rs.resource.attributes, [{ key: "service.name", value: { stringValue: "acme-support-bot" } }]);
    const spans = rs.scopeSpans.flatMap((s: { spans: Span[] }) => s.spans) as Span[];
    assert.equal(spans.length, 8, "two traced answers × (CHAIN, RETRIEVER, RERANKER, LLM); the unsampled one is not exported");
    for (const s of spans) {
      assert.match(s.traceId, /^[0-9a-f]{32}$/);
      assert.match(s.spanId, /^[0-9a-f]{16}$/);
      assert.match(s.startTimeUnixNano, /^\d{19}$/, "unix nanos");
      assert.ok(BigInt(s.startTimeUnixNano) <= BigInt(s.endTimeUnixNano));
      assert.ok(kindOf(s), "openinference.span.kind on every span");
    }

    const byTrace = (id: string) => spans.filter((s) => s.traceId === id);
    // The /v1/ask trace joined the caller's trace.
    const askSpans = byTrace(incomingTrace);
    assert.deepEqual(askSpans.map(kindOf).sort(), ["CHAIN", "LLM", "RERANKER", "RETRIEVER"], "the default offline reranker ran");
    const root = askSpans.find((s) => kindOf(s) === "CHAIN")!;
    assert.equal(root.parentSpanId, incomingSpan, "the request span's parent is the caller's span");
    assert.equal(root.kind, 2, "SERVER");
    for (const c of askSpans.filter((s) => s !== root)) {
      assert.equal(c.parentSpanId, root.spanId, `${kindOf(c)} is a child of the request span`);
      assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(root.startTimeUnixNano) && BigInt(c.endTimeUnixNano) <= BigInt(root.endTimeUnixNano), "children lie inside the request");
    }
    assert.equal(value(root, "input.value"), "Within how many days can I get a refund on an annual plan?");
    assert.equal(value(root, "output.value"), ask.answer);
    assert.equal(value(root, "ragtune.traffic"), "live");
    assert.equal(value(root, "ragtune.request_id"), ask.requestId);
    assert.equal(value(root, "ragtune.index.fingerprint"), a.engine.served().index.fingerprint);

    const retriever = askSpans.find((s) => kindOf(s) === "RETRIEVER")!;
    const logged = a.requestLog!.get(ask.requestId)!.retrieved;
    assert.ok(logged.length > 0);
    const docIds = logged.map((_, i) => value(retriever, `retrieval.documents.${i}.document.id`));
    assert.deepEqual(docIds, logged.map((r) => r.id), "document ids are the answer's retrieved chunks, in rank order");
    assert.equal(value(retriever, `retrieval.documents.${logged.length}.document.id`), undefined, "no extra documents");
    assert.equal(value(retriever, "retrieval.documents.0.document.score"), logged[0].score);
    const top = p.store.chunks().find((c) => c.id === logged[0].id)!;
    assert.equal(value(retriever, "retrieval.documents.0.document.content"), top.text);
    assert.equal(JSON.parse(value(retriever, "retrieval.documents.0.document.metadata") as string).path, top.path);

    // The reranker's candidates in, the same candidates reordered out; the answer's top chunk is among them.
    const reranker = askSpans.find((s) => kindOf(s) === "RERANKER")!;
    assert.equal(value(reranker, "reranker.model_name"), "offline");
    const docs = (prefix: string) => {
      const ids: string[] = [];
      for (let i = 0; value(reranker, `${prefix}.${i}.document.id`) !== undefined; i++) ids.push(value(reranker, `${prefix}.${i}.document.id`) as string);
      return ids;
    };
    const rin = docs("reranker.input_documents");
    const rout = docs("reranker.output_documents");
    assert.ok(rin.length >= logged.length);
    assert.deepEqual([...rout].sort(), [...rin].sort());
    assert.ok(rout.includes(logged[0].id));
    assert.equal(value(reranker, "reranker.top_k"), rout.length);
    assert.ok(BigInt(reranker.startTimeUnixNano) >= BigInt(retriever.startTimeUnixNano) && BigInt(reranker.endTimeUnixNano) <= BigInt(retriever.endTimeUnixNano), "reranking is part of retrieval");

    const llm = askSpans.find((s) => kindOf(s) === "LLM")!;
    assert.equal(value(llm, "llm.model_name"), "offline:extractive");
    assert.equal(value(llm, "llm.output_messages.0.message.role"), "assistant");
    assert.equal(value(llm, "llm.output_messages.0.message.content"), ask.answer);
    assert.equal(value(llm, "llm.input_messages.0.message.role"), "user");
    assert.ok(BigInt(llm.startTimeUnixNano) >= BigInt(retriever.endTimeUnixNano), "generation follows retrieval");

    // The eval chat request: a new trace, tagged on every span, token counts = the reply's usage.
    const chatRoot = spans.find((s) => kindOf(s) === "CHAIN" && value(s, "ragtune.request_id") === chat.ragtune.requestId)!;
    assert.equal(chatRoot.parentSpanId, undefined);
    assert.notEqual(chatRoot.traceId, incomingTrace);
    const chatSpans = byTrace(chatRoot.traceId);
    assert.equal(chatSpans.length, 4);
    for (const s of chatSpans) assert.equal(value(s, "ragtune.traffic"), "eval");
    const chatLlm = chatSpans.find((s) => kindOf(s) === "LLM")!;
    assert.equal(value(chatLlm, "llm.token_count.prompt"), chat.usage.prompt_tokens);
    assert.equal(value(chatLlm, "llm.token_count.completion"), chat.usage.completion_tokens);
    assert.equal(value(chatLlm, "llm.token_count.total"), chat.usage.prompt_tokens + chat.usage.completion_tokens);
    assert.equal(value(chatRoot, "http.route"), "/v1/chat/completions");

    assert.equal(await metric(a, 'ragtune_trace_spans_total{outcome="exported"}'), 8);
    assert.equal(await metric(a, "ragtune_trace_export_errors_total"), 0);
  } finally {
    await a.shutdown();
    await collector.close();
  }
});

/** A port nothing listens on: a server bound and closed again. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test("traces: a dead collector fails no request; export errors are counted in /metrics and logged once", async () => {
  const p = await project();
  const logged: string[] = [];
  const a = app(p, { endpoint: `http://127.0.0.1:${await deadPort()}/v1/traces`, maxBatchSpans: 3 }, { logError: (m) => logged.push(m) });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await post(a, "/v1/ask", { question: "How long do deleted cards stay in the trash?" });
      assert.equal(r.status, 200);
      await a.tracer!.exporter.flush();
    }
    assert.equal(await metric(a, "ragtune_trace_export_errors_total"), 5);
    assert.equal(await metric(a, 'ragtune_trace_spans_total{outcome="failed"}'), 20);
    const traceLogs = logged.filter((m) => /trace export/.test(m));
    assert.equal(traceLogs.length, 1, traceLogs.join("\n"));
    assert.match(traceLogs[0], /trace export to http:\/\/127\.0\.0\.1:\d+\/v1\/traces failed: .*counted in ragtune_trace_export_errors_total/);
  } finally {
    await a.shutdown();
  }
});

test("traces: a collector that never answers does not hold requests; the export is abandoned after timeoutMs; a full queue drops and counts", async () => {
  const sockets = new Set<import("node:net").Socket>();
  const silent: Server = createServer(() => {
    /* never answers */
  });
  silent.on("connection", (s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const port = (silent.address() as AddressInfo).port;
  const p = await project();
  const a = app(p, { endpoint: `http://127.0.0.1:${port}/v1/traces`, timeoutMs: 300, maxQueueSpans: 9, maxBatchSpans: 3 });
  try {
    assert.equal((await post(a, "/v1/ask", { question: "How long do deleted cards stay in the trash?" })).status, 200);
    const exporting = a.tracer!.exporter.flush();
    let settled = false;
    void exporting.then(() => (settled = true));
    // While the export hangs, requests are answered and their traces queue (4 spans each, bound 9).
    for (let i = 0; i < 3; i++) assert.equal((await post(a, "/v1/ask", { question: "Which cards do you accept?" })).status, 200);
    assert.equal(settled, false, "the export is still waiting for the silent collector");
    assert.equal(a.tracer!.exporter.pending, 8, "two traces queued…");
    assert.equal(await metric(a, 'ragtune_trace_spans_total{outcome="dropped"}'), 4, "…and the third dropped, not waited for");
    await exporting;
    assert.ok((await metric(a, "ragtune_trace_export_errors_total"))! >= 1, "the silent export timed out and was counted");
  } finally {
    await a.shutdown();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test("traces: shutdown exports what is queued; off by default; traceparent parsing; endpoint from config or OTEL_* variables", async () => {
  const collector = new JsonTestServer();
  await collector.start();
  const p = await project();
  collector.script();
  collector.fallback = { status: 200, body: {} };
  const a = app(p, { endpoint: `http://127.0.0.1:${collector.port}/v1/traces` });
  await post(a, "/v1/ask", { question: "How long do deleted cards stay in the trash?" });
  assert.equal(collector.requests.length, 0);
  await a.shutdown();
  assert.equal(collector.requests.length, 1, "queued spans were exported on shutdown");
  assert.equal(collector.requests[0].body.resourceSpans[0].scopeSpans[0].spans.length, 4);

  // Without a reranker there is no RERANKER span.
  collector.script();
  collector.fallback = { status: 200, body: {} };
  const root2 = makeTinyProject("retrieval:\n  rerank: none\n");
  roots.push(root2);
  const p2 = openProject(loadConfig(join(root2, "ragtune.yaml")));
  projects.push(p2);
  await reindexProject(p2);
  const b = app(p2, { endpoint: `http://127.0.0.1:${collector.port}/v1/traces` });
  await post(b, "/v1/ask", { question: "How long do deleted cards stay in the trash?" });
  await b.shutdown();
  const kinds = (collector.requests[0].body.resourceSpans[0].scopeSpans[0].spans as Span[]).map(kindOf).sort();
  assert.deepEqual(kinds, ["CHAIN", "LLM", "RETRIEVER"]);
  await collector.close();

  const plain = createServeApp({ project: p, requestLogFile: null });
  assert.equal(plain.tracer, undefined, "serve.traces is off by default");
  assert.equal(await metric(plain, "ragtune_trace_export_errors_total"), 0);
  plain.close();

  assert.deepEqual(parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanId: "00f067aa0ba902b7", sampled: true });
  assert.equal(parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")!.sampled, false);
  for (const bad of ["", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"]) {
    assert.equal(parseTraceParent(bad), undefined, bad);
  }
  assert.ok(parseTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"), "a future version may add fields");

  assert.equal(tracesEndpoint("http://c:4318/v1/traces", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" }), "http://c:4318/v1/traces");
  assert.equal(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318/" }), "http://otel:4318/v1/traces");
  assert.equal(tracesEndpoint(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x", OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318" }), "http://t/x");
  assert.equal(tracesEndpoint(undefined, {}), "http://localhost:4318/v1/traces");
});
