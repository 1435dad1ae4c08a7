import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachedProvider, ResponseCache, cacheKey, canonicalJson, type CacheKeyInput } from "../src/models/cache.ts";
import { OpenAICompatibleProvider } from "../src/models/openai-compatible.ts";
import { ResilientProvider } from "../src/models/resilience.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "../src/models/index.ts";
import { startLlmServer } from "./helpers/llm-server.ts";

const tempDir = () => mkdtempSync(join(tmpdir(), "ragtune-cache-"));
const messages: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Capital of France?" },
];

/** A provider that answers with a counter, so a cache hit is distinguishable from a new call. */
function countingProvider(id = "fake:model-a") {
  const calls: ChatOptions[] = [];
  const provider: ChatProvider & { model: string } = {
    id,
    model: "model-a",
    async chat(_messages, options = {}) {
      calls.push(options);
      options.onText?.(`answer `);
      options.onText?.(`${calls.length}`);
      return { text: `answer ${calls.length}`, usage: { inputTokens: 40, outputTokens: 2 }, model: "model-a-2025", finishReason: "stop", attempts: 1 };
    },
  };
  return { provider, calls };
}

test("miss then hit: the stored result comes back marked cached, usage as recorded; stats count it", async () => {
  const dir = tempDir();
  const cache = new ResponseCache(dir);
  const { provider, calls } = countingProvider();
  const cached = new CachedProvider(provider, cache);
  assert.equal(cached.id, "fake:model-a");
  const first = await cached.chat(messages, { maxTokens: 50 });
  assert.equal(first.cached, false);
  assert.equal(first.text, "answer 1");
  const second = await cached.chat(messages, { maxTokens: 50 });
  assert.deepEqual(second, { text: "answer 1", usage: { inputTokens: 40, outputTokens: 2 }, model: "model-a-2025", finishReason: "stop", cached: true });
  assert.equal(calls.length, 1);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 1, writes: 1 });
  // A new ResponseCache over the same folder (a rerun) hits too.
  const rerun = new CachedProvider(countingProvider().provider, new ResponseCache(dir));
  assert.equal((await rerun.chat(messages, { maxTokens: 50 })).text, "answer 1");
});

test("a hit with onText set delivers the whole text once", async () => {
  const cache = new ResponseCache(tempDir());
  const cached = new CachedProvider(countingProvider().provider, cache);
  const live: string[] = [];
  await cached.chat(messages, { stream: true, onText: (d) => live.push(d) });
  assert.deepEqual(live, ["answer ", "1"]);
  const replay: string[] = [];
  const hit = await cached.chat(messages, { stream: true, onText: (d) => replay.push(d) });
  assert.equal(hit.cached, true);
  assert.deepEqual(replay, ["answer 1"]);
  // Streaming is not part of the key: a non-streaming call hits the same entry.
  assert.equal((await cached.chat(messages)).cached, true);
});

test("the key changes with provider, model, parameters, messages and sample — and not with stream/signal", () => {
  const base: CacheKeyInput = { provider: "p", model: "m", messages, options: { maxTokens: 50 } };
  const key = cacheKey(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  const variants: CacheKeyInput[] = [
    { ...base, provider: "q" },
    { ...base, model: "m2" },
    { ...base, options: { maxTokens: 51 } },
    { ...base, options: { maxTokens: 50, temperature: 0.7 } },
    { ...base, options: { maxTokens: 50, json: true } },
    { ...base, options: { maxTokens: 50, jsonSchema: { name: "x", schema: { type: "object" } } } },
    { ...base, options: { maxTokens: 50, jsonSchema: { name: "x", schema: { type: "array" } } } },
    { ...base, options: { maxTokens: 50, seed: 1 } },
    { ...base, options: { maxTokens: 50, sample: 1 } },
    { ...base, messages: [messages[0], { role: "user", content: "Capital of Spain?" }] },
    { ...base, messages: [{ role: "user", content: "Be brief." }, messages[1]] },
  ];
  const keys = new Set([key, ...variants.map(cacheKey)]);
  assert.equal(keys.size, variants.length + 1, "every variant has its own key");
  // Defaults and non-reply options do not change it.
  assert.equal(cacheKey({ ...base, options: { maxTokens: 50, temperature: 0, json: false, sample: 0 } }), key);
  assert.equal(cacheKey({ ...base, options: { maxTokens: 50, stream: true, onText: () => {}, signal: new AbortController().signal } }), key);
  // Key order inside a schema does not matter.
  assert.equal(
    cacheKey({ ...base, options: { jsonSchema: { name: "x", schema: { type: "object", properties: {} } } } }),
    cacheKey({ ...base, options: { jsonSchema: { name: "x", schema: { properties: {}, type: "object" } } } }),
  );
  assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
});

test("repeats (sample) get separate entries; a rerun's repeat i hits repeat i", async () => {
  const dir = tempDir();
  const { provider } = countingProvider();
  const cached = new CachedProvider(provider, new ResponseCache(dir));
  const texts = [];
  for (const sample of [0, 1, 2]) texts.push((await cached.chat(messages, { sample })).text);
  assert.deepEqual(texts, ["answer 1", "answer 2", "answer 3"]);
  const again = new CachedProvider(countingProvider().provider, new ResponseCache(dir));
  assert.equal((await again.chat(messages, { sample: 1 })).text, "answer 2");
});

test("entries live at <dir>/<2 hex>/<hash>.json; a corrupt entry is a miss and is overwritten", async () => {
  const dir = tempDir();
  const cache = new ResponseCache(dir);
  const { provider, calls } = countingProvider();
  const cached = new CachedProvider(provider, cache);
  await cached.chat(messages);
  const key = cacheKey({ provider: "fake:model-a", model: "model-a", messages });
  const path = join(dir, key.slice(0, 2), `${key}.json`);
  assert.equal(cache.pathOf(key), path);
  assert.ok(existsSync(path));
  const entry = JSON.parse(readFileSync(path, "utf8"));
  assert.equal(entry.result.text, "answer 1");
  assert.deepEqual(entry.request.messages, messages);

  for (const corrupt of ["{ truncated", "", JSON.stringify({ version: 1, key, result: { text: 3 } }), JSON.stringify({ ...entry, key: "0".repeat(64) })]) {
    writeFileSync(path, corrupt);
    const result = await cached.chat(messages);
    assert.equal(result.cached, false, `corrupt entry ${JSON.stringify(corrupt).slice(0, 40)} is a miss`);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).result.text, result.text, "and is overwritten");
  }
  assert.equal(calls.length, 5);
  assert.equal((await cached.chat(messages)).cached, true);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 5, writes: 5 });
  // No temp files left behind.
  assert.deepEqual(readdirSync(join(dir, key.slice(0, 2))), [`${key}.json`]);
});

test("errors are not cached", async () => {
  let n = 0;
  const flaky: ChatProvider = {
    id: "flaky",
    async chat(): Promise<ChatResult> {
      if (++n === 1) throw new Error("boom");
      return { text: "ok", usage: { inputTokens: 1, outputTokens: 1 }, model: "m" };
    },
  };
  const cache = new ResponseCache(tempDir());
  const cached = new CachedProvider(flaky, cache);
  await assert.rejects(cached.chat(messages), /boom/);
  assert.equal((await cached.chat(messages)).cached, false);
  assert.equal((await cached.chat(messages)).cached, true);
  assert.equal(cache.stats().writes, 1);
});

test("size and clear", async () => {
  const dir = tempDir();
  assert.deepEqual(ResponseCache.size(join(dir, "nothing-here")), { entries: 0, bytes: 0 });
  const cached = new CachedProvider(countingProvider().provider, new ResponseCache(dir));
  for (const content of ["a", "b", "c"]) await cached.chat([{ role: "user", content }]);
  writeFileSync(join(dir, "README.txt"), "not an entry");
  const size = ResponseCache.size(dir);
  assert.equal(size.entries, 3);
  assert.ok(size.bytes > 100);
  assert.deepEqual(ResponseCache.clear(dir), size);
  assert.deepEqual(ResponseCache.size(dir), { entries: 0, bytes: 0 });
  assert.equal(existsSync(dir), false);
  // Usable again after clearing.
  assert.equal((await cached.chat([{ role: "user", content: "a" }])).cached, false);
});

test("end to end: generator over HTTP → cached rerun makes no request and reports cached", async () => {
  const server = await startLlmServer({ protocol: "openai", script: [{ text: "Paris.", usage: { input: 30, output: 2 } }] });
  try {
    const dir = tempDir();
    const build = () =>
      new LlmGenerator(
        new CachedProvider(new ResilientProvider(new OpenAICompatibleProvider({ name: "t", baseUrl: server.url, model: "m", timeoutMs: 2000 }), { maxRetries: 0 }), new ResponseCache(dir), {
          model: "m",
        }),
        { id: "openai-compatible:t/m" },
      );
    const first = await build().generate({ task: "qa", input: "Capital of France?", context: [], sample: 0 });
    const second = await build().generate({ task: "qa", input: "Capital of France?", context: [], sample: 0 });
    assert.equal(server.requests.length, 1);
    assert.deepEqual([first.cached, second.cached], [false, true]);
    assert.equal(second.text, "Paris.");
    assert.deepEqual(second.usage, { inputTokens: 30, outputTokens: 2 });
  } finally {
    await server.close();
  }
});
