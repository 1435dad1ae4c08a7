import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigSchema } from "../src/config/schema.ts";
import { createChatProvider, createGenerator, listGeneratorKinds } from "../src/models/registry.ts";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResilientProvider, resetSharedLimits, type Clock } from "../src/models/resilience.ts";
import { CachedProvider, ResponseCache } from "../src/models/cache.ts";
import { ProviderError } from "../src/models/errors.ts";
import { startLlmServer } from "./helpers/llm-server.ts";

const config = ConfigSchema.parse({
  sources: [{ include: "docs/**/*.md" }],
  answer: { minConfidence: 0.5, maxSentences: 3, fallbackMessage: "Ask a human." },
  models: { providers: { local: { baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: "LOCAL_KEY", timeoutMs: 1234 } } },
});

test("offline:extractive uses the answer settings", async () => {
  const generator = createGenerator("offline:extractive", config.models, config.answer, {});
  assert.ok(generator instanceof ExtractiveReader);
  assert.equal(generator.id, "offline:extractive");
  const result = await generator.generate({ task: "qa", input: "anything?", context: [] });
  assert.equal(result.text, "Ask a human.");
});

test("openai-compatible:<provider>/<model> reads models.providers and the key env var", async () => {
  let auth: string | undefined;
  let model: string | undefined;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      auth = req.headers.authorization;
      model = JSON.parse(body).model;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: "I don't know" } }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const models = { ...config.models, providers: { local: { ...config.models.providers.local, baseUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 2000 } } };
    const generator = createGenerator("openai-compatible:local/meta-llama/Llama-3.1-8B", models, config.answer, { LOCAL_KEY: "secret" });
    assert.ok(generator instanceof LlmGenerator);
    assert.equal(generator.id, "openai-compatible:local/meta-llama/Llama-3.1-8B");
    const result = await generator.generate({ task: "qa", input: "?", context: [] });
    assert.equal(auth, "Bearer secret");
    assert.equal(model, "meta-llama/Llama-3.1-8B");
    assert.equal(result.abstained, true);
    assert.equal(result.text, "Ask a human.");
    assert.equal(result.generator, "openai-compatible:local/meta-llama/Llama-3.1-8B");
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("a missing provider names the config key to add", () => {
  assert.throws(() => createGenerator("openai-compatible:nope/m", config.models, config.answer, {}), /models\.providers\.nope.*configured providers: local/);
  assert.throws(() => createGenerator("openai-compatible:local", config.models, config.answer, {}), /openai-compatible:<provider>\/<model>/);
});

test("openai:<model> and ollama:<model> shortcuts", () => {
  const openai = createGenerator("openai:gpt-4.1-mini", config.models, config.answer, { OPENAI_API_KEY: "k" });
  assert.ok(openai instanceof LlmGenerator);
  // The configured id is kept, so pricing tables keyed by it still match.
  assert.equal(openai.id, "openai:gpt-4.1-mini");
  assert.throws(() => createGenerator("openai:gpt-4.1-mini", config.models, config.answer, {}), /OPENAI_API_KEY/);
  // A custom base URL may be a keyless local server.
  assert.ok(createGenerator("openai:m", config.models, config.answer, { OPENAI_BASE_URL: "http://127.0.0.1:9/v1" }));
  assert.equal(createGenerator("ollama:llama3.2", config.models, config.answer, {}).id, "ollama:llama3.2");
  assert.equal(createGenerator("ollama:llama3.2", config.models, config.answer, { OLLAMA_HOST: "10.0.0.5:11434" }).id, "ollama:llama3.2");
  assert.throws(() => createGenerator("ollama:", config.models, config.answer, {}), /ollama:<model>/);
});

test("unknown forms list the supported ones", () => {
  for (const id of ["gpt-4", "mistral:large", "offline:magic"]) {
    assert.throws(
      () => createGenerator(id, config.models, config.answer, {}),
      (e: unknown) => e instanceof Error && e.message.includes("offline:extractive") && e.message.includes("openai-compatible:<provider>/<model>") && e.message.includes("ollama:<model>"),
      id,
    );
  }
  const kinds = listGeneratorKinds();
  assert.deepEqual(kinds.map((k) => k.form), [
    "offline:extractive",
    "openai-compatible:<provider>/<model>",
    "openai:<model>",
    "anthropic:<model>",
    "ollama:<model>",
    "llamacpp:<model.gguf>[?lora=<adapter.gguf>]",
  ]);
  assert.ok(kinds.every((k) => k.description.length > 10));
});

test("ollama:/openai: shortcuts reach OLLAMA_HOST and OPENAI_BASE_URL", async () => {
  const seen: { url?: string; auth?: string; model?: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ url: req.url, auth: req.headers.authorization, model: JSON.parse(body).model });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ message: { content: "ok [1]" } }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    await createGenerator("ollama:llama3.2", config.models, config.answer, { OLLAMA_HOST: host }).generate({ task: "qa", input: "?", context: [] });
    await createGenerator("openai:gpt-x", config.models, config.answer, { OPENAI_BASE_URL: `http://${host}/v1/`, OPENAI_API_KEY: "k" }).generate({
      task: "qa",
      input: "?",
      context: [],
    });
    assert.deepEqual(seen, [
      { url: "/v1/chat/completions", auth: undefined, model: "llama3.2" },
      { url: "/v1/chat/completions", auth: "Bearer k", model: "gpt-x" },
    ]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// ---- Issue 4: anthropic, llamacpp, the resilience and cache wrappers ----

const fakeClock = (): Clock & { slept: number[] } => {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) };
};

test("anthropic:<model> needs ANTHROPIC_API_KEY unless ANTHROPIC_BASE_URL is set, and reaches /v1/messages", async () => {
  assert.throws(() => createGenerator("anthropic:claude-sonnet-4", config.models, config.answer, {}), /set ANTHROPIC_API_KEY/);
  assert.throws(() => createGenerator("anthropic:", config.models, config.answer, {}), /anthropic:<model>/);
  assert.equal(createGenerator("anthropic:claude-sonnet-4", config.models, config.answer, { ANTHROPIC_API_KEY: "k" }).id, "anthropic:claude-sonnet-4");
  const server = await startLlmServer({ protocol: "anthropic", script: [{ text: "Paris." }] });
  try {
    const generator = createGenerator("anthropic:claude-x", config.models, config.answer, { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: "sk-ant" });
    const result = await generator.generate({ task: "qa", input: "Capital of France?", context: [] });
    assert.equal(result.text, "Paris.");
    assert.equal(server.requests[0].path, "/v1/messages");
    assert.equal(server.requests[0].headers["x-api-key"], "sk-ant");
    assert.equal(server.requests[0].body.model, "claude-x");
  } finally {
    await server.close();
  }
});

test("a named provider with kind anthropic speaks the Messages API with its own key variable", async () => {
  const server = await startLlmServer({ protocol: "anthropic", script: [{ text: "ok" }, { status: 401, body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } } }] });
  try {
    const models = ConfigSchema.parse({
      sources: [{ include: "x" }],
      models: { providers: { claude: { kind: "anthropic", baseUrl: server.url, apiKeyEnv: "CLAUDE_KEY" } } },
    }).models;
    const provider = createChatProvider("openai-compatible:claude/claude-haiku-4.5", models, { CLAUDE_KEY: "secret" });
    assert.ok(provider instanceof ResilientProvider);
    assert.equal((await provider.chat([{ role: "user", content: "hi" }])).text, "ok");
    assert.equal(server.requests[0].path, "/v1/messages");
    assert.equal(server.requests[0].headers["x-api-key"], "secret");
    const error = await provider.chat([{ role: "user", content: "hi" }]).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError && error.kind === "auth");
    assert.match(error.message, /check CLAUDE_KEY/);
    assert.equal(server.requests.length, 2, "auth errors are not retried");
  } finally {
    await server.close();
  }
});

test("createChatProvider: limits from models.limits / the named provider, retries with the injected clock, cache wrapper", async () => {
  resetSharedLimits();
  const server = await startLlmServer({ protocol: "openai", script: [{ status: 503 }, { status: 503 }, { text: "fine" }, { status: 503 }, { status: 503 }] });
  const cacheDir = mkdtempSync(join(tmpdir(), "ragtune-registry-cache-"));
  try {
    const models = ConfigSchema.parse({ sources: [{ include: "x" }], models: { limits: { maxRetries: 2, timeoutMs: 5000 } } }).models;
    const clock = fakeClock();
    const cache = new ResponseCache(cacheDir);
    const provider = createChatProvider("openai:gpt-x", models, { OPENAI_BASE_URL: server.url }, { cache, resilience: { clock, random: () => 0.5 } });
    assert.ok(provider instanceof CachedProvider);
    const first = await provider.chat([{ role: "user", content: "hi" }]);
    assert.equal(first.text, "fine");
    assert.equal(first.attempts, 3);
    assert.equal(first.cached, false);
    assert.equal(clock.slept.length, 2);
    const again = await provider.chat([{ role: "user", content: "hi" }]);
    assert.equal(again.cached, true);
    assert.equal(server.requests.length, 3, "the cache answered");
    // maxRetries 2 = 3 attempts, then a clear error.
    await assert.rejects(provider.chat([{ role: "user", content: "other" }]), /gave up after 3 attempts/);
    assert.throws(() => createChatProvider("offline:extractive", models, {}), /not chat models/);
  } finally {
    await server.close();
  }
});

test("two generators on one named endpoint share its concurrency limit", async () => {
  resetSharedLimits();
  const server = await startLlmServer({ protocol: "openai", script: () => ({ text: "ok", delayMs: 15 }) });
  try {
    const models = ConfigSchema.parse({
      sources: [{ include: "x" }],
      models: { providers: { local: { baseUrl: server.url, maxConcurrency: 2 } } },
    }).models;
    const a = createGenerator("openai-compatible:local/model-a", models, config.answer, {});
    const b = createGenerator("openai-compatible:local/model-b", models, config.answer, {});
    await Promise.all([a, b, a, b, a, b].map((g) => g.generate({ task: "qa", input: "?", context: [] })));
    assert.equal(server.requests.length, 6);
    assert.equal(server.maxInFlight, 2);
  } finally {
    await server.close();
  }
});

test("llamacpp:<file> checks the model and adapter paths at creation", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-registry-gguf-"));
  writeFileSync(join(dir, "m.gguf"), Buffer.from("GGUF\x03\x00\x00\x00"));
  assert.throws(() => createGenerator(`llamacpp:${join(dir, "missing.gguf")}`, config.models, config.answer, {}), /model file .*missing\.gguf does not exist/);
  assert.throws(() => createGenerator(`llamacpp:m.gguf?lora=nope.gguf`, config.models, config.answer, {}, { baseDir: dir }), /LoRA adapter file .*nope\.gguf does not exist/);
  const generator = createGenerator("llamacpp:m.gguf", config.models, config.answer, {}, { baseDir: dir });
  assert.equal(generator.id, "llamacpp:m.gguf");
  assert.throws(() => createGenerator("llamacpp:", config.models, config.answer, {}), /llamacpp:<model\.gguf>/);
});
