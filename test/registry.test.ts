import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigSchema } from "../src/config/schema.ts";
import { createGenerator, listGeneratorKinds } from "../src/models/registry.ts";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";

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
    const models = { ...config.models, providers: { local: { baseUrl: `http://127.0.0.1:${port}/v1`, apiKeyEnv: "LOCAL_KEY", timeoutMs: 2000 } } };
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
  for (const id of ["gpt-4", "anthropic:claude", "offline:magic"]) {
    assert.throws(
      () => createGenerator(id, config.models, config.answer, {}),
      (e: unknown) => e instanceof Error && e.message.includes("offline:extractive") && e.message.includes("openai-compatible:<provider>/<model>") && e.message.includes("ollama:<model>"),
      id,
    );
  }
  const kinds = listGeneratorKinds();
  assert.deepEqual(kinds.map((k) => k.form), ["offline:extractive", "openai-compatible:<provider>/<model>", "openai:<model>", "ollama:<model>"]);
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
