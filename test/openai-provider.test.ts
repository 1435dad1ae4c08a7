import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OpenAICompatibleProvider, ProviderError } from "../src/models/openai-compatible.ts";
import { LlmGenerator, PROMPTS } from "../src/models/llm-generator.ts";
import { FALLBACK_MESSAGE, countTokens, type ChatProvider, type ContextChunk } from "../src/models/index.ts";
import { isStrictCompatible, sseEvents } from "../src/models/openai-compatible.ts";
import { parseRetryAfter } from "../src/models/errors.ts";
import { startLlmServer, type LlmServerOptions } from "./helpers/llm-server.ts";
import { JsonTestServer, type ScriptedJsonReply } from "./helpers/json-server.ts";

// One local server for the file; each test scripts the next reply(ies) and inspects the requests.
const http = new JsonTestServer();
const requests = http.requests;
const script = (...next: ScriptedJsonReply[]) => http.script(...next);
let baseUrl: string;
before(async () => {
  await http.start();
  baseUrl = `http://127.0.0.1:${http.port}/v1`;
});
after(() => http.close());

const completion = (content: string, usage?: { prompt_tokens: number; completion_tokens: number }) => ({
  id: "cmpl-1",
  model: "test-model-2025",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  ...(usage ? { usage } : {}),
});

const provider = (extra: Partial<ConstructorParameters<typeof OpenAICompatibleProvider>[0]> = {}) =>
  new OpenAICompatibleProvider({ name: "local", baseUrl, model: "test-model", timeoutMs: 2000, ...extra });

test("posts an OpenAI chat-completions request with auth and parses usage", async () => {
  script({ body: completion("Hello!", { prompt_tokens: 12, completion_tokens: 3 }) });
  const p = provider({ apiKey: "sk-test", baseUrl: `${baseUrl}/` });
  assert.equal(p.id, "openai-compatible:local/test-model");
  const result = await p.chat([{ role: "user", content: "Hi" }], { maxTokens: 50 });
  assert.deepEqual(result, { text: "Hello!", usage: { inputTokens: 12, outputTokens: 3 }, model: "test-model-2025", finishReason: "stop" });
  const [req] = requests;
  assert.equal(req.method, "POST");
  assert.equal(req.url, "/v1/chat/completions");
  assert.equal(req.headers.authorization, "Bearer sk-test");
  assert.match(String(req.headers["content-type"]), /application\/json/);
  assert.deepEqual(req.body, { model: "test-model", messages: [{ role: "user", content: "Hi" }], temperature: 0, max_tokens: 50 });
});

test("no key → no Authorization header; missing usage is counted locally; JSON mode", async () => {
  script({ body: completion('{"a":1}') });
  const messages = [
    { role: "system" as const, content: "Reply in JSON." },
    { role: "user" as const, content: "Give me a." },
  ];
  const result = await provider().chat(messages, { json: true, temperature: 0.7 });
  assert.equal(requests[0].headers.authorization, undefined);
  assert.deepEqual(requests[0].body.response_format, { type: "json_object" });
  assert.equal(requests[0].body.temperature, 0.7);
  assert.equal("max_tokens" in requests[0].body, false);
  assert.deepEqual(result.usage, { inputTokens: countTokens("Reply in JSON.") + countTokens("Give me a."), outputTokens: countTokens('{"a":1}') });
});

test("HTTP 500 → ProviderError with status, provider id and the start of the body", async () => {
  script({ status: 500, body: `{"error":"boom ${"x".repeat(1000)}"}` });
  const error = await provider()
    .chat([{ role: "user", content: "Hi" }])
    .catch((e: unknown) => e);
  assert.ok(error instanceof ProviderError);
  assert.equal(error.status, 500);
  assert.equal(error.provider, "openai-compatible:local/test-model");
  assert.match(error.message, /HTTP 500/);
  assert.match(error.message, /boom x/);
  assert.ok(!error.message.includes("x".repeat(400)), "body excerpt is capped at 300 chars");
});

test("malformed responses → ProviderError", async () => {
  script({ body: { choices: [] } }, { body: "<html>not json</html>" }, { body: { choices: [{ message: { content: null } }] } });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(provider().chat([{ role: "user", content: "Hi" }]), (e: unknown) => e instanceof ProviderError && /malformed/.test(e.message));
  }
});

test("times out via AbortSignal", async () => {
  script({ body: completion("late"), delayMs: 1000 });
  const started = Date.now();
  await assert.rejects(
    provider({ timeoutMs: 100 }).chat([{ role: "user", content: "Hi" }]),
    (e: unknown) => e instanceof ProviderError && /timed out after 100 ms/.test(e.message),
  );
  assert.ok(Date.now() - started < 900);
});

test("unreachable server → ProviderError", async () => {
  await assert.rejects(
    new OpenAICompatibleProvider({ name: "down", baseUrl: "http://127.0.0.1:1/v1", model: "m", timeoutMs: 2000 }).chat([{ role: "user", content: "Hi" }]),
    ProviderError,
  );
});

const context: ContextChunk[] = [
  { id: "docs/billing.md#0", path: "docs/billing.md", headingPath: ["Billing", "Refunds"], lineStart: 3, lineEnd: 9, version: "", text: "Refunds take 5 days." },
  { id: "docs/contact.md#1", path: "docs/contact.md", headingPath: ["Contact"], lineStart: 20, lineEnd: 24, version: "", text: "Email billing@acme.test." },
];

test("LlmGenerator qa: numbered context prompt and [n] citations", async () => {
  script({ body: completion("Refunds take 5 days [1]. Email billing [2][1], or see [7].", { prompt_tokens: 100, completion_tokens: 12 }) });
  const generator = new LlmGenerator(provider());
  assert.equal(generator.id, "openai-compatible:local/test-model");
  const result = await generator.generate({ task: "qa", input: "How long do refunds take?", context });
  const [system, user] = requests[0].body.messages;
  assert.equal(system.role, "system");
  assert.equal(system.content, `${PROMPTS.qaSystem}\n${PROMPTS.dataRule}`);
  assert.match(system.content, /I don't know/);
  assert.match(user.content, /\[1\] \(docs\/billing\.md › Billing › Refunds\)\nRefunds take 5 days\./);
  assert.match(user.content, /\[2\] \(docs\/contact\.md › Contact\)\nEmail billing@acme\.test\./);
  assert.match(user.content, /Question: How long do refunds take\?/);
  assert.equal(result.text, "Refunds take 5 days [1]. Email billing [2][1], or see [7].");
  assert.deepEqual(result.citations, [
    { marker: 1, chunkId: "docs/billing.md#0", path: "docs/billing.md", headingPath: ["Billing", "Refunds"], lineStart: 3, lineEnd: 9, version: "" },
    { marker: 2, chunkId: "docs/contact.md#1", path: "docs/contact.md", headingPath: ["Contact"], lineStart: 20, lineEnd: 24, version: "" },
  ]);
  assert.equal(result.abstained, false);
  assert.deepEqual(result.usage, { inputTokens: 100, outputTokens: 12 });
  assert.equal(result.generator, "openai-compatible:local/test-model");
});

test("LlmGenerator qa: \"I don't know\" abstains with the fallback message", async () => {
  for (const reply of ["I don't know", "I don’t know.", '"I do not know" — the context does not say.', "i DON'T KNOW"]) {
    script({ body: completion(reply) });
    const result = await new LlmGenerator(provider()).generate({ task: "qa", input: "Capital of France?", context });
    assert.equal(result.abstained, true, reply);
    assert.equal(result.text, FALLBACK_MESSAGE);
    assert.deepEqual(result.citations, []);
  }
  script({ body: completion("I don't know") });
  const custom = await new LlmGenerator(provider(), { fallbackMessage: "Escalated." }).generate({ task: "qa", input: "?", context });
  assert.equal(custom.text, "Escalated.");
});

test("LlmGenerator qa prompt-only: own-knowledge prompt, request.system wins", async () => {
  script({ body: completion("Paris.") }, { body: completion("Paris!") });
  const generator = new LlmGenerator(provider());
  const plain = await generator.generate({ task: "qa", input: "Capital of France?", context: [] });
  assert.equal(requests[0].body.messages[0].content, PROMPTS.qaPromptOnlySystem);
  assert.match(requests[0].body.messages[0].content, /own knowledge/);
  assert.equal(plain.text, "Paris.");
  assert.equal(plain.abstained, false);
  await generator.generate({ task: "qa", input: "Capital of France?", context: [], system: "You are Acme's support bot." });
  assert.equal(requests[1].body.messages[0].content, "You are Acme's support bot.");
});

test("LlmGenerator classify maps replies to labels", async () => {
  const labels = [
    { name: "billing", description: "Charges and invoices" },
    { name: "billing_refund", description: "Refund requests" },
    { name: "technical_issue" },
  ];
  const cases: [string, string | undefined][] = [
    ["billing_refund", "billing_refund"],
    ["Label: Technical_Issue.", "technical_issue"],
    ["technical issue", "technical_issue"],
    ["This is a billing_refund request.", "billing_refund"],
    ["banana", undefined],
  ];
  script(...cases.map(([reply]) => ({ body: completion(reply) })));
  const generator = new LlmGenerator(provider());
  for (const [reply, expected] of cases) {
    const result = await generator.generate({ task: "classify", input: "Please refund me", context: [], labels });
    assert.equal(result.label, expected, reply);
    assert.equal(result.text, expected ?? reply);
  }
  const prompt = requests[0].body.messages[1].content as string;
  assert.match(prompt, /- billing: Charges and invoices\n- billing_refund: Refund requests\n- technical_issue/);
  assert.match(prompt, /Please refund me/);
});

test("LlmGenerator extract: structured output, schema in prompt, fenced JSON parsed, junk kept as text", async () => {
  const schema = { type: "object", properties: { email: { type: "string", format: "email" } } };
  script(
    { body: completion('Sure! Here it is:\n```json\n{"email": "dana@example.com", "note": "a } brace"}\n```') },
    { body: completion('Result -> {"email": "x@y.z"} done') },
    { body: completion("I could not find anything.") },
  );
  const generator = new LlmGenerator(provider());
  const fenced = await generator.generate({ task: "extract", input: "From dana@example.com", context: [], jsonSchema: schema });
  assert.deepEqual(fenced.json, { email: "dana@example.com", note: "a } brace" });
  assert.equal(fenced.text, JSON.stringify(fenced.json));
  // Not closed with additionalProperties:false → strict would be rejected by OpenAI, so non-strict.
  assert.deepEqual(requests[0].body.response_format, { type: "json_schema", json_schema: { name: "extraction", schema, strict: false } });
  assert.match(requests[0].body.messages[1].content, /"format": "email"/);
  const embedded = await generator.generate({ task: "extract", input: "x", context: [], jsonSchema: schema });
  assert.deepEqual(embedded.json, { email: "x@y.z" });
  const junk = await generator.generate({ task: "extract", input: "x", context: [], jsonSchema: schema });
  assert.equal(junk.json, undefined);
  assert.equal(junk.text, "I could not find anything.");
});

// ---- structured output, seed, streaming, error classification (against the shared test server) ----

async function withServer(script: LlmServerOptions["script"], run: (p: OpenAICompatibleProvider, server: Awaited<ReturnType<typeof startLlmServer>>) => Promise<void>, extra: { timeoutMs?: number; apiKeyEnv?: string } = {}) {
  const server = await startLlmServer({ protocol: "openai", script });
  try {
    await run(new OpenAICompatibleProvider({ name: "t", baseUrl: server.url, model: "m", timeoutMs: extra.timeoutMs ?? 2000, apiKeyEnv: extra.apiKeyEnv }), server);
  } finally {
    await server.close();
  }
}

const user = [{ role: "user" as const, content: "Hi" }];

test("jsonSchema → response_format json_schema (strict only for closed schemas); seed sent, sample never sent", async () => {
  const closed = { type: "object", properties: { a: { type: "string" }, b: { type: "array", items: { type: "object", properties: { c: { type: "number" } }, required: ["c"], additionalProperties: false } } }, required: ["a", "b"], additionalProperties: false };
  const open = { type: "object", properties: { a: { type: "string" } } };
  await withServer([{ text: '{"a":"x","b":[]}' }, { text: "{}" }], async (p, server) => {
    const result = await p.chat(user, { jsonSchema: { name: "thing", schema: closed }, seed: 7, sample: 3, json: true });
    assert.equal(result.text, '{"a":"x","b":[]}');
    assert.deepEqual(server.requests[0].body.response_format, { type: "json_schema", json_schema: { name: "thing", schema: closed, strict: true } });
    assert.equal(server.requests[0].body.seed, 7);
    assert.equal("sample" in server.requests[0].body, false);
    await p.chat(user, { jsonSchema: { name: "thing", schema: open } });
    assert.equal(server.requests[1].body.response_format.json_schema.strict, false);
    assert.equal("seed" in server.requests[1].body, false);
  });
  assert.equal(isStrictCompatible(closed), true);
  assert.equal(isStrictCompatible(open), false);
  assert.equal(isStrictCompatible({ ...closed, required: ["a"] }), false, "every property must be required");
  assert.equal(isStrictCompatible({ type: "object", properties: { x: { type: "object", properties: {} } }, required: ["x"], additionalProperties: false }), false, "nested objects too");
});

test("streaming: stream + include_usage sent, onText per delta, same result as non-streaming", async () => {
  await withServer([{ stream: ["Hel", "lo ", "world"], usage: { input: 5, output: 3 } }, { text: "Hello world", usage: { input: 5, output: 3 } }, { stream: ["ab", "c"], usage: null }], async (p, server) => {
    const deltas: string[] = [];
    const streamed = await p.chat(user, { stream: true, onText: (d) => deltas.push(d) });
    assert.deepEqual(deltas, ["Hel", "lo ", "world"]);
    assert.equal(server.requests[0].body.stream, true);
    assert.deepEqual(server.requests[0].body.stream_options, { include_usage: true });
    const plain = await p.chat(user);
    assert.deepEqual(streamed, plain);
    assert.deepEqual(plain, { text: "Hello world", usage: { inputTokens: 5, outputTokens: 3 }, model: "m", finishReason: "stop" });
    // No usage chunk: counted locally.
    const counted = await p.chat(user, { stream: true });
    assert.deepEqual(counted.usage, { inputTokens: countTokens("Hi"), outputTokens: countTokens("abc") });
  });
});

test("a stream that ends without [DONE] or finish_reason is a retryable truncated-stream error", async () => {
  await withServer([{ stream: ["partial"], truncate: true }], async (p) => {
    const seen: string[] = [];
    const error = await p.chat(user, { stream: true, onText: (d) => seen.push(d) }).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.match(error.message, /truncated stream/);
    assert.equal(error.retryable, true);
    assert.equal(error.kind, "malformed");
    assert.deepEqual(seen, ["partial"]);
  });
});

test("error classification: auth names the key variable, validation is final, 429/5xx/malformed/timeout retryable", async () => {
  await withServer(
    [
      { status: 401, body: { error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" } } },
      { status: 403, body: { error: { message: "no access" } } },
      { status: 400, body: { error: { message: "Unsupported parameter: seed", type: "invalid_request_error" } } },
      { status: 404, body: { error: { message: "The model m does not exist" } } },
      { status: 422, body: "unprocessable" },
      { status: 429, headers: { "retry-after": "7" }, body: { error: { message: "Rate limit reached" } } },
      { status: 429, headers: { "retry-after-ms": "250" }, body: "slow down" },
      { status: 408, body: "" },
      { status: 409, body: "" },
      { status: 503, body: "unavailable" },
      { raw: "<html>oops</html>" },
      { delayMs: 1000 },
    ],
    async (p) => {
      const fail = async () => (await p.chat(user).catch((e: unknown) => e)) as ProviderError;
      const auth = await fail();
      assert.equal(auth.kind, "auth");
      assert.equal(auth.retryable, false);
      assert.match(auth.message, /HTTP 401 .*Incorrect API key provided.*check MY_OPENAI_KEY/);
      const forbidden = await fail();
      assert.deepEqual([forbidden.kind, forbidden.retryable], ["auth", false]);
      assert.match(forbidden.message, /HTTP 403.*check MY_OPENAI_KEY/);
      const bad = await fail();
      assert.deepEqual([bad.kind, bad.retryable, bad.status], ["validation", false, 400]);
      assert.match(bad.message, /Unsupported parameter: seed.*check the model name and options/);
      const missing = await fail();
      assert.match(missing.message, /HTTP 404.*does not exist.*check the model name and the base URL/);
      const unprocessable = await fail();
      assert.deepEqual([unprocessable.kind, unprocessable.retryable], ["validation", false]);
      const limited = await fail();
      assert.deepEqual([limited.kind, limited.retryable, limited.retryAfterMs], ["rate_limit", true, 7000]);
      assert.match(limited.message, /HTTP 429.*Rate limit reached/);
      const ms = await fail();
      assert.deepEqual([ms.kind, ms.retryable, ms.retryAfterMs], ["rate_limit", true, 250]);
      const timeout408 = await fail();
      assert.deepEqual([timeout408.kind, timeout408.retryable], ["timeout", true]);
      const conflict = await fail();
      assert.deepEqual([conflict.kind, conflict.retryable], ["server", true]);
      const server = await fail();
      assert.deepEqual([server.kind, server.retryable, server.status], ["server", true, 503]);
      const malformed = await fail();
      assert.deepEqual([malformed.kind, malformed.retryable], ["malformed", true]);
      const late = await fail();
      assert.deepEqual([late.kind, late.retryable], ["timeout", true]);
      assert.match(late.message, /timed out after 50 ms/);
    },
    { timeoutMs: 50, apiKeyEnv: "MY_OPENAI_KEY" },
  );
});

test("429 Retry-After seconds is parsed onto the error", async () => {
  await withServer([{ status: 429, headers: { "retry-after": "7" }, body: "x" }], async (p) => {
    const error = (await p.chat(user).catch((e: unknown) => e)) as ProviderError;
    assert.equal(error.retryAfterMs, 7000);
  });
});

test("parseRetryAfter: seconds, HTTP date, retry-after-ms wins, junk ignored", () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(parseRetryAfter(h({ "retry-after": "2" })), 2000);
  assert.equal(parseRetryAfter(h({ "retry-after": "1.5" })), 1500);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter(h({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now), 30_000);
  assert.equal(parseRetryAfter(h({ "retry-after": "Wed, 31 Dec 2025 00:00:00 GMT" }), now), 0, "a past date means now");
  assert.equal(parseRetryAfter(h({ "retry-after": "2", "retry-after-ms": "120" })), 120);
  assert.equal(parseRetryAfter(h({ "retry-after": "soon" })), undefined);
  assert.equal(parseRetryAfter(h({})), undefined);
});

test("network errors are retryable, caller aborts are not", async () => {
  const down = await new OpenAICompatibleProvider({ name: "down", baseUrl: "http://127.0.0.1:1/v1", model: "m", timeoutMs: 2000 }).chat(user).catch((e: unknown) => e);
  assert.ok(down instanceof ProviderError);
  assert.deepEqual([down.kind, down.retryable], ["network", true]);
  await withServer([{ delayMs: 1000 }], async (p) => {
    const controller = new AbortController();
    const pending = p.chat(user, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 10);
    const aborted = (await pending) as ProviderError;
    assert.deepEqual([aborted.kind, aborted.retryable], ["aborted", false]);
  });
});

test("sseEvents: event/data fields, multi-line data, CRLF, comments, split chunks", async () => {
  const encoder = new TextEncoder();
  const parts = ["event: a\r\ndata: 1\r\n", "\r\n: keep-alive\n\ndata: x\ndata: y\n", "\ndata:no-space\n\n", "data: last"];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
  const events = [];
  for await (const e of sseEvents(body)) events.push(e);
  assert.deepEqual(events, [
    { event: "a", data: "1" },
    { event: undefined, data: "x\ny" },
    { event: undefined, data: "no-space" },
    { event: undefined, data: "last" },
  ]);
});

test("LlmGenerator passes request.sample, asks extract for structured output, reports cached", async () => {
  const calls: { options: unknown }[] = [];
  const fake: ChatProvider = {
    id: "fake:m",
    async chat(_messages, options) {
      calls.push({ options });
      return { text: '{"a":1}', usage: { inputTokens: 1, outputTokens: 1 }, model: "m", cached: calls.length === 2 };
    },
  };
  const generator = new LlmGenerator(fake);
  const one = await generator.generate({ task: "qa", input: "?", context: [], sample: 2 });
  const two = await generator.generate({ task: "extract", input: "?", context: [], jsonSchema: { type: "object" }, sample: 1 });
  assert.deepEqual(calls[0].options, { maxTokens: 512, sample: 2 });
  assert.deepEqual(calls[1].options, { maxTokens: 1024, jsonSchema: { name: "extraction", schema: { type: "object" } }, sample: 1 });
  assert.equal(one.cached, false);
  assert.equal(two.cached, true);
  assert.deepEqual(two.json, { a: 1 });
});
