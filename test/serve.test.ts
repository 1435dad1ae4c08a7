/**
 * `ragtune serve` (src/serve/): every route in-process through `app.request` and over a real
 * server on a random loopback port; validation errors name the field; limits (413/422/400/504);
 * feedback updates the logged row; /metrics counters move; /readyz is 503 on an empty index;
 * the served and checked-in OpenAPI documents are equal.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { createServeApp, openApiDocument, startServe, type ServeApp } from "../src/serve/index.ts";
import { supportRatio, supportingTexts } from "../src/evaluate/metrics.ts";

async function ingested(extra = ""): Promise<{ root: string; project: Project }> {
  const root = makeTinyProject(extra);
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  return { root, project };
}

const { root, project } = await ingested();
const app = createServeApp({ project, logError: () => {} });
const opened: { close(): void }[] = [app, project];
after(() => {
  for (const o of opened) o.close();
});

const post = (a: ServeApp, path: string, body: unknown, headers: Record<string, string> = {}) =>
  a.request(path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

async function metricValue(a: ServeApp, line: RegExp): Promise<number> {
  const text = await (await a.request("/metrics")).text();
  const m = text.split("\n").find((l) => line.test(l));
  return m ? Number(m.split(" ").pop()) : 0;
}

test("/v1/ask answers with citations, confidence, support from evaluate/metrics, versions and a logged row", async () => {
  const res = await post(app, "/v1/ask", { question: "Within how many days can an annual plan be refunded?" });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.answer, /30 days/);
  assert.equal(res.headers.get("x-request-id"), body.requestId);
  assert.equal(body.fallback, false);
  assert.equal(body.escalation, null);
  assert.ok(body.citations.length > 0);
  const c = body.citations[0];
  assert.equal(c.path, "docs/v2/billing.md");
  assert.equal(c.version, "v2");
  assert.match(c.label, /^docs\/v2\/billing\.md › Billing › Refunds › (line \d+|lines \d+–\d+)$/);
  assert.ok(typeof body.confidence === "number" && body.confidence > 0 && body.confidence <= 1);
  assert.equal(body.generator, "offline:extractive");
  assert.equal(body.served.model.variant, "rag");
  assert.equal(body.served.model.generator, "offline:extractive");
  assert.equal(body.served.index.generation, project.store.generation());
  assert.match(body.served.index.fingerprint, /^[0-9a-f]{16,}$/);
  assert.equal(body.served.index.documents, 3);
  // The support number is the offline metric's, on the cited chunks.
  const chunks = body.citations.map((x: { chunkId: string }) => project.store.chunk(x.chunkId)!);
  const expected = supportRatio(body.answer, supportingTexts(body.citations, chunks.map((ch: { id: string; text: string }) => ({ id: ch.id, text: ch.text })))).ratio;
  assert.equal(body.support, expected);

  const row = app.requestLog!.get(body.requestId)!;
  assert.equal(row.route, "/v1/ask");
  assert.equal(row.status, 200);
  assert.equal(row.query, "Within how many days can an annual plan be refunded?");
  assert.equal(row.answer, body.answer);
  assert.equal(row.fallback, false);
  assert.equal(row.model, "offline:extractive");
  assert.equal(row.indexFingerprint, body.served.index.fingerprint);
  assert.ok(row.retrieved.length > 0 && row.retrieved.every((r) => typeof r.score === "number" && project.store.chunk(r.id)));
  assert.equal(row.costUsd, 0);
  assert.equal(row.feedback, null);
});

test("/v1/ask falls back with an escalation message on an off-topic question, and counts it", async () => {
  const before = await metricValue(app, /^ragtune_answer_fallbacks_total /);
  const res = await post(app, "/v1/ask", { question: "What is the capital of Mongolia?" });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.fallback, true);
  assert.equal(typeof body.escalation, "string");
  assert.ok(body.escalation.length > 0);
  assert.equal(await metricValue(app, /^ragtune_answer_fallbacks_total /), before + 1);
});

test("/v1/ask filters and k narrow retrieval", async () => {
  const res = await post(app, "/v1/ask", { question: "Within how many days can an annual plan be refunded?", filters: { versions: ["v1"] }, k: 1 });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.match(body.answer, /14 days/);
  assert.equal(app.requestLog!.get(body.requestId)!.retrieved.length, 1);
});

test("another variant is served through pipeline/ buildVariants; it refuses per-request k and filters", async () => {
  const { project: p } = await ingested();
  const lc = createServeApp({ project: p, variant: "long-context", requestLogFile: null });
  opened.push(lc, p);
  const res = await post(lc, "/v1/ask", { question: "How long do deleted cards stay in the trash?" });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.served.model.variant, "long-context");
  assert.match(body.answer, /60 days/);
  const withK = await post(lc, "/v1/ask", { question: "refund", k: 2 });
  assert.equal(withK.status, 400);
  assert.equal((await withK.json()).error.field, "k");
  assert.throws(() => createServeApp({ project: p, variant: "fine-tuned", requestLogFile: null }), /cannot be served: no trained model is promoted/);
});

test("/v1/search returns ranked chunks with scores, the same retrieval as ask", async () => {
  const res = await post(app, "/v1/search", { query: "trash retention", k: 2 });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.ok(body.hits.length >= 1 && body.hits.length <= 2);
  assert.equal(body.hits[0].path, "docs/v2/trash.md");
  assert.equal(body.hits[0].rank, 1);
  for (let i = 1; i < body.hits.length; i++) assert.ok(body.hits[i - 1].score >= body.hits[i].score);
  assert.match(body.retriever, /bm25/);
  assert.equal(app.requestLog!.get(body.requestId)!.route, "/v1/search");
});

test("validation errors are 400 and name the field", async () => {
  const cases: [unknown, string][] = [
    [{}, "question"],
    [{ question: 42 }, "question"],
    [{ question: "" }, "question"],
    [{ question: "refund", k: 0 }, "k"],
    [{ question: "refund", k: 2.5 }, "k"],
    [{ question: "refund", filters: { versions: "v2" } }, "filters.versions"],
    [{ question: "refund", colour: "red" }, "colour"],
  ];
  for (const [body, field] of cases) {
    const res = await post(app, "/v1/ask", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const err = await res.json();
    assert.equal(err.error.code, "invalid_request");
    assert.equal(err.error.field, field, JSON.stringify(body));
    assert.match(err.error.message, new RegExp(field.split(".")[0]));
  }
  const search = await (await post(app, "/v1/search", { q: "x" })).json();
  assert.equal(search.error.field, "query");
  const chat = await post(app, "/v1/chat/completions", { messages: [{ role: "system", content: "be nice" }] });
  assert.equal(chat.status, 400);
  assert.equal((await chat.json()).error.field, "messages");
  const fb = await (await post(app, "/v1/feedback", { requestId: "x", thumbs: "sideways" })).json();
  assert.equal(fb.error.field, "thumbs");
});

test("limits: malformed JSON 400, long question 422, k above maxK 422, big body 413", async () => {
  const bad = await post(app, "/v1/ask", "{question: 'no quotes'");
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "malformed_json");
  const empty = await post(app, "/v1/ask", "");
  assert.equal(empty.status, 400);

  const long = await post(app, "/v1/ask", { question: "refund ".repeat(500) });
  assert.equal(long.status, 422);
  const longErr = await long.json();
  assert.deepEqual([longErr.error.code, longErr.error.field], ["too_long", "question"]);
  assert.match(longErr.error.message, /serve\.maxQueryChars = 2000/);
  const longChat = await post(app, "/v1/chat/completions", { messages: [{ role: "user", content: "x".repeat(2001) }] });
  assert.equal(longChat.status, 422);
  assert.equal((await longChat.json()).error.field, "messages.0.content");
  const bigK = await post(app, "/v1/search", { query: "refund", k: 51 });
  assert.equal(bigK.status, 422);
  assert.equal((await bigK.json()).error.field, "k");

  const huge = await post(app, "/v1/ask", { question: "refund", pad: "x".repeat(70_000) });
  assert.equal(huge.status, 413);
  assert.equal((await huge.json()).error.code, "body_too_large");
});

test("a request slower than serve.timeoutMs is answered 504 and logged", async () => {
  const { project: p } = await ingested();
  const slow = createServeApp({ project: p, limits: { timeoutMs: 50 }, logError: () => {} });
  opened.push(slow, p);
  const real = slow.engine.answer.bind(slow.engine);
  slow.engine.answer = async (q, o) => {
    await new Promise((r) => setTimeout(r, 200));
    return real(q, o);
  };
  const res = await post(slow, "/v1/ask", { question: "refund" });
  assert.equal(res.status, 504);
  assert.equal((await res.json()).error.code, "timeout");
  assert.equal(slow.requestLog!.count(), 1);
});

test("/v1/feedback updates the logged row; an unknown id is 404", async () => {
  const asked = await (await post(app, "/v1/ask", { question: "How long do deleted cards stay in the trash?" })).json();
  const res = await post(app, "/v1/feedback", { requestId: asked.requestId, thumbs: "down", correctedAnswer: "60 days, then gone.", text: "too long" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { requestId: asked.requestId, recorded: true });
  const fb = app.requestLog!.get(asked.requestId)!.feedback!;
  assert.equal(fb.thumbs, "down");
  assert.equal(fb.correctedAnswer, "60 days, then gone.");
  assert.equal(fb.text, "too long");
  const unknown = await post(app, "/v1/feedback", { requestId: "no-such-request", thumbs: "up" });
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.field, "requestId");
});

test("/healthz, /readyz, /metrics; counters move by route and status", async () => {
  assert.deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  const ready = await app.request("/readyz");
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).status, "ready");
  const okLine = /^ragtune_http_requests_total\{route="\/v1\/search",status="200",traffic="live"\} /;
  const badLine = /^ragtune_http_requests_total\{route="\/v1\/search",status="400",traffic="live"\} /;
  const [ok0, bad0] = [await metricValue(app, okLine), await metricValue(app, badLine)];
  await post(app, "/v1/search", { query: "refund" });
  await post(app, "/v1/search", { query: 1 });
  assert.equal(await metricValue(app, okLine), ok0 + 1);
  assert.equal(await metricValue(app, badLine), bad0 + 1);
  const text = await (await app.request("/metrics")).text();
  assert.match(text, /ragtune_http_request_duration_seconds_bucket\{le="0\.05",route="\/v1\/search"\} \d+/);
  assert.match(text, new RegExp(`^ragtune_index_generation ${project.store.generation()}$`, "m"));
  assert.match(text, /^ragtune_request_log_errors_total 0$/m);
  // One registry per app: a second app starts from zero.
  const { project: p } = await ingested();
  const other = createServeApp({ project: p, requestLogFile: null });
  opened.push(other, p);
  assert.equal(await metricValue(other, okLine), 0);
});

test("/readyz and /v1/ask are 503 on an empty index", async () => {
  const empty = openProject(loadConfig(join(makeTinyProject(), "ragtune.yaml")));
  const a = createServeApp({ project: empty, requestLogFile: null });
  opened.push(a, empty);
  const ready = await a.request("/readyz");
  assert.equal(ready.status, 503);
  assert.match((await ready.json()).reason, /empty/);
  const ask = await post(a, "/v1/ask", { question: "refund" });
  assert.equal(ask.status, 503);
  assert.equal((await ask.json()).error.code, "not_ready");
});

test("a failing request-log write never fails the request; it is counted", async () => {
  const { project: p } = await ingested();
  const errors: string[] = [];
  const a = createServeApp({ project: p, logError: (m) => errors.push(m) });
  opened.push(p);
  a.requestLog!.close(); // every write now throws
  const res = await post(a, "/v1/ask", { question: "refund annual plan" });
  assert.equal(res.status, 200);
  assert.match((await res.json()).answer, /30 days/);
  assert.equal(await metricValue(a, /^ragtune_request_log_errors_total /), 1);
  assert.match(errors[0], /could not write request/);
});

test("the auth hook is called with scope 'query' and its Response rejects", async () => {
  const { project: p } = await ingested();
  const scopes: string[] = [];
  const a = createServeApp({
    project: p,
    requestLogFile: null,
    authorize: async (c, scope) => {
      scopes.push(scope);
      return c.req.header("authorization") === "Bearer good" ? undefined : c.json({ error: { code: "unauthorized", message: "no key" } }, 401);
    },
  });
  opened.push(a, p);
  assert.equal((await post(a, "/v1/ask", { question: "refund" })).status, 401);
  assert.equal((await post(a, "/v1/search", { query: "refund" }, { authorization: "Bearer good" })).status, 200);
  assert.equal((await a.request("/healthz")).status, 200);
  assert.deepEqual(scopes, ["query", "query"]);
});

test("requests addressed to another host are refused on loopback; CORS only for allowed origins", async () => {
  const refused = await app.request("/healthz", { headers: { host: "evil.example" } });
  assert.equal(refused.status, 400);
  assert.equal((await refused.json()).error.code, "forbidden_host");
  const local = await app.request("/healthz", { headers: { host: "127.0.0.1:8787" } });
  assert.equal(local.status, 200);
  const noCors = await app.request("/v1/search", { method: "OPTIONS", headers: { origin: "https://a.example", "access-control-request-method": "POST" } });
  assert.equal(noCors.headers.get("access-control-allow-origin"), null);
  const { project: p } = await ingested();
  const a = createServeApp({ project: p, requestLogFile: null, limits: { corsOrigins: ["https://a.example"] } });
  opened.push(a, p);
  const allowed = await post(a, "/v1/search", { query: "refund" }, { origin: "https://a.example" });
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://a.example");
  const other = await post(a, "/v1/search", { query: "refund" }, { origin: "https://b.example" });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

test("the served OpenAPI document equals schema/openapi.json (regenerate: npm run schema)", async () => {
  const served = await (await app.request("/openapi.json")).json();
  const checkedIn = JSON.parse(readFileSync(new URL("../schema/openapi.json", import.meta.url), "utf8"));
  assert.deepEqual(served, checkedIn);
  assert.equal(served.openapi, "3.1.0");
  for (const p of ["/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/feedback", "/healthz", "/readyz", "/metrics"]) assert.ok(served.paths[p], p);
  assert.deepEqual(openApiDocument(), served);
  assert.ok(served.components.schemas.AskRequest.properties.question);
});

/** Raw HTTP so the test controls the bytes (fetch would refuse some of these). */
function rawRequest(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

test("over a real server on a random port: answers, refuses huge chunked bodies with 413, survives a stalled client", async () => {
  const { project: p } = await ingested();
  const server = await startServe({ project: p, port: 0, requestLogFile: null });
  opened.push(p);
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ok = await rawRequest(server.port, "/v1/ask", JSON.stringify({ question: "refund annual plan" }));
    assert.equal(ok.status, 200);
    assert.match(JSON.parse(ok.body).answer, /30 days/);
    // No Content-Length: the limit is enforced while reading.
    const chunked = await rawRequest(server.port, "/v1/ask", JSON.stringify({ question: "x", pad: "y".repeat(200_000) }), { "transfer-encoding": "chunked" });
    assert.equal(chunked.status, 413);
    // A client that sends half a request and stalls does not block others.
    const stalled = connect(server.port, "127.0.0.1");
    await new Promise((r) => stalled.once("connect", r));
    stalled.write("POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"quest");
    const meanwhile = await rawRequest(server.port, "/v1/search", JSON.stringify({ query: "trash" }));
    assert.equal(meanwhile.status, 200);
    stalled.destroy();
  } finally {
    await server.close();
  }
});
