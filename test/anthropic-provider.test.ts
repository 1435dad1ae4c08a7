import { test } from "node:test";
import assert from "node:assert/strict";
import { AnthropicProvider, ANTHROPIC_JSON_INSTRUCTION } from "../src/models/anthropic.ts";
import { ProviderError } from "../src/models/errors.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";
import { countTokens } from "../src/models/index.ts";
import { startLlmServer, type LlmServer, type LlmServerOptions } from "./helpers/llm-server.ts";

async function withServer(script: LlmServerOptions["script"], run: (p: AnthropicProvider, server: LlmServer) => Promise<void>, timeoutMs = 2000) {
  const server = await startLlmServer({ protocol: "anthropic", script });
  try {
    await run(new AnthropicProvider({ baseUrl: server.url, model: "claude-test", apiKey: "sk-ant-test", timeoutMs }), server);
  } finally {
    await server.close();
  }
}

const convo = [
  { role: "system" as const, content: "Be brief." },
  { role: "user" as const, content: "Hi" },
  { role: "assistant" as const, content: "Hello." },
  { role: "user" as const, content: "Capital of France?" },
];

test("Messages API request: headers, system at top level, max_tokens default, usage and stop_reason", async () => {
  await withServer([{ text: "Paris.", usage: { input: 21, output: 3 } }, { text: "x" }], async (p, server) => {
    assert.equal(p.id, "anthropic:claude-test");
    const result = await p.chat(convo, { temperature: 0.2 });
    assert.deepEqual(result, { text: "Paris.", usage: { inputTokens: 21, outputTokens: 3 }, model: "claude-test", finishReason: "end_turn" });
    const [req] = server.requests;
    assert.equal(req.path, "/v1/messages");
    assert.equal(req.headers["x-api-key"], "sk-ant-test");
    assert.equal(req.headers["anthropic-version"], "2023-06-01");
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(req.body, {
      model: "claude-test",
      max_tokens: 1024,
      system: "Be brief.",
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "Capital of France?" },
      ],
      temperature: 0.2,
    });
    await p.chat([{ role: "user", content: "x" }], { maxTokens: 77, seed: 3, sample: 2 });
    assert.equal(server.requests[1].body.max_tokens, 77);
    assert.equal("system" in server.requests[1].body, false);
    assert.equal("seed" in server.requests[1].body, false, "the Messages API has no seed");
    assert.equal("sample" in server.requests[1].body, false);
  });
});

test("jsonSchema → one forced tool; the reply text is the tool input as JSON (plain and streamed)", async () => {
  const schema = { type: "object", properties: { email: { type: "string" } }, required: ["email"] };
  await withServer([{ toolInput: { email: "dana@example.com" } }, { toolInput: { email: "x@y.z", n: [1, 2] } }], async (p, server) => {
    const result = await p.chat(convo, { jsonSchema: { name: "extraction", schema } });
    assert.equal(result.text, '{"email":"dana@example.com"}');
    assert.equal(result.finishReason, "tool_use");
    const body = server.requests[0].body;
    assert.equal(body.tools.length, 1);
    assert.equal(body.tools[0].name, "extraction");
    assert.deepEqual(body.tools[0].input_schema, schema);
    assert.ok(body.tools[0].description.length > 0);
    assert.deepEqual(body.tool_choice, { type: "tool", name: "extraction" });
    const chunks: string[] = [];
    const streamed = await p.chat(convo, { jsonSchema: { name: "extraction", schema }, stream: true, onText: (d) => chunks.push(d) });
    assert.deepEqual(JSON.parse(streamed.text), { email: "x@y.z", n: [1, 2] });
    assert.ok(chunks.length > 1, "input_json_delta parts are passed on");
    assert.equal(chunks.join(""), JSON.stringify({ email: "x@y.z", n: [1, 2] }));
  });
});

test("a jsonSchema reply without tool_use is a retryable malformed error", async () => {
  await withServer([{ text: "I'd rather chat." }], async (p) => {
    const error = await p.chat(convo, { jsonSchema: { name: "extraction", schema: { type: "object" } } }).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.deepEqual([error.kind, error.retryable], ["malformed", true]);
    assert.match(error.message, /no tool_use block for "extraction"/);
  });
});

test("json without schema: instruction appended to system, reply reduced to the JSON object", async () => {
  await withServer([{ text: 'Here you go:\n```json\n{"a": 1}\n```' }, { text: "no json at all" }], async (p, server) => {
    const result = await p.chat(convo, { json: true });
    assert.equal(result.text, '{"a":1}');
    assert.equal(server.requests[0].body.system, `Be brief.\n\n${ANTHROPIC_JSON_INSTRUCTION}`);
    const raw = await p.chat([{ role: "user", content: "x" }], { json: true });
    assert.equal(raw.text, "no json at all", "unparsable replies are left for the caller to judge");
    assert.equal(server.requests[1].body.system, ANTHROPIC_JSON_INSTRUCTION);
  });
});

test("streaming: text deltas to onText, usage from message_start/message_delta, same result as plain", async () => {
  await withServer(
    [
      { stream: ["Par", "is", "."], usage: { input: 9, output: 4 } },
      { text: "Paris.", usage: { input: 9, output: 4 } },
    ],
    async (p, server) => {
      const deltas: string[] = [];
      const streamed = await p.chat(convo, { stream: true, onText: (d) => deltas.push(d) });
      assert.deepEqual(deltas, ["Par", "is", "."]);
      assert.equal(server.requests[0].body.stream, true);
      assert.equal(server.requests[0].headers.accept, "text/event-stream");
      const plain = await p.chat(convo);
      assert.deepEqual(streamed, plain);
      assert.deepEqual(streamed.usage, { inputTokens: 9, outputTokens: 4 });
    },
  );
});

test("a stream without message_stop is a retryable truncated-stream error", async () => {
  await withServer([{ stream: ["Par"], truncate: true }], async (p) => {
    const error = await p.chat(convo, { stream: true }).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.match(error.message, /truncated stream.*message_stop/);
    assert.equal(error.retryable, true);
  });
});

test("error bodies are surfaced; 529 overloaded and 429 retryable, 401 names ANTHROPIC_API_KEY, 400 final", async () => {
  const err = (status: number, type: string, message: string, headers?: Record<string, string>) => ({ status, headers, body: { type: "error", error: { type, message } } });
  await withServer(
    [
      err(529, "overloaded_error", "Overloaded"),
      err(429, "rate_limit_error", "Number of requests has exceeded your rate limit", { "retry-after": "12" }),
      err(401, "authentication_error", "invalid x-api-key"),
      err(400, "invalid_request_error", "max_tokens: Field required"),
      { raw: "not json" },
    ],
    async (p) => {
      const fail = async () => (await p.chat(convo).catch((e: unknown) => e)) as ProviderError;
      const overloaded = await fail();
      assert.deepEqual([overloaded.status, overloaded.kind, overloaded.retryable], [529, "server", true]);
      assert.match(overloaded.message, /HTTP 529 .*overloaded_error: Overloaded/);
      const limited = await fail();
      assert.deepEqual([limited.kind, limited.retryable, limited.retryAfterMs], ["rate_limit", true, 12_000]);
      const auth = await fail();
      assert.deepEqual([auth.kind, auth.retryable], ["auth", false]);
      assert.match(auth.message, /authentication_error: invalid x-api-key.*check ANTHROPIC_API_KEY/);
      const invalid = await fail();
      assert.deepEqual([invalid.kind, invalid.retryable], ["validation", false]);
      assert.match(invalid.message, /max_tokens: Field required/);
      const malformed = await fail();
      assert.deepEqual([malformed.kind, malformed.retryable], ["malformed", true]);
    },
  );
});

test("missing usage is counted locally; timeouts are retryable", async () => {
  await withServer(
    (i) => (i === 0 ? { raw: JSON.stringify({ type: "message", content: [{ type: "text", text: "ok then" }], model: "claude-test", stop_reason: "end_turn" }) } : { delayMs: 1000 }),
    async (p) => {
      const result = await p.chat(convo);
      assert.deepEqual(result.usage, { inputTokens: convo.reduce((n, m) => n + countTokens(m.content), 0), outputTokens: countTokens("ok then") });
      const error = (await p.chat(convo).catch((e: unknown) => e)) as ProviderError;
      assert.deepEqual([error.kind, error.retryable], ["timeout", true]);
      assert.match(error.message, /timed out after 50 ms/);
    },
    50,
  );
});

test("LlmGenerator extract over Anthropic uses the forced tool and parses its input", async () => {
  await withServer([{ toolInput: { email: "dana@example.com" } }], async (p, server) => {
    const result = await new LlmGenerator(p).generate({ task: "extract", input: "From dana@example.com", context: [], jsonSchema: { type: "object" } });
    assert.deepEqual(result.json, { email: "dana@example.com" });
    assert.deepEqual(server.requests[0].body.tool_choice, { type: "tool", name: "extraction" });
    assert.equal(server.requests[0].body.max_tokens, 1024);
  });
});
