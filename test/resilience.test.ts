import { test } from "node:test";
import assert from "node:assert/strict";
import { OpenAICompatibleProvider } from "../src/models/openai-compatible.ts";
import { AnthropicProvider } from "../src/models/anthropic.ts";
import { ProviderError } from "../src/models/errors.ts";
import { ResilientProvider, backoffDelay, sharedLimits, type Clock, type ResilienceOptions } from "../src/models/resilience.ts";
import { countTokens, type ChatMessage, type ChatOptions, type ChatProvider, type ChatResult } from "../src/models/index.ts";
import { startLlmServer, type LlmServer, type LlmServerOptions } from "./helpers/llm-server.ts";

/** A clock whose sleeps return at once and advance time by the amount slept. */
function fakeClock(): Clock & { slept: number[]; time: () => number } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    time: () => now,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      slept.push(ms);
      now += ms;
    },
  };
}

let keys = 0;
const uniqueKey = () => `test-key-${++keys}`;
const user: ChatMessage[] = [{ role: "user", content: "hi" }];

async function withOpenAI(
  script: LlmServerOptions["script"],
  options: ResilienceOptions,
  run: (p: ResilientProvider, server: LlmServer) => Promise<void>,
  timeoutMs = 2000,
) {
  const server = await startLlmServer({ protocol: "openai", script });
  try {
    const raw = new OpenAICompatibleProvider({ name: "t", baseUrl: server.url, model: "m", timeoutMs, apiKeyEnv: "OPENAI_API_KEY" });
    await run(new ResilientProvider(raw, { key: uniqueKey(), ...options }), server);
  } finally {
    await server.close();
  }
}

test("429 with Retry-After: waits at least the header value, then succeeds", async () => {
  const clock = fakeClock();
  await withOpenAI([{ status: 429, headers: { "retry-after": "3" }, body: "slow down" }, { text: "ok" }], { clock, random: () => 0 }, async (p, server) => {
    const result = await p.chat(user);
    assert.equal(result.text, "ok");
    assert.equal(result.attempts, 2);
    assert.equal(server.requests.length, 2);
    assert.equal(clock.slept.length, 1);
    assert.ok(clock.slept[0] >= 3000, `slept ${clock.slept[0]} ms`);
  });
  // A jitter larger than Retry-After wins (never less than the header, never less than backoff).
  const clock2 = fakeClock();
  await withOpenAI([{ status: 429, headers: { "retry-after-ms": "10" }, body: "" }, { text: "ok" }], { clock: clock2, random: () => 0.5 }, async (p) => {
    await p.chat(user);
    assert.deepEqual(clock2.slept, [250]);
  });
});

test("Anthropic 529 overloaded then success is retried", async () => {
  const clock = fakeClock();
  const server = await startLlmServer({
    protocol: "anthropic",
    script: [{ status: 529, body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }, { text: "fine" }],
  });
  try {
    const p = new ResilientProvider(new AnthropicProvider({ baseUrl: server.url, model: "c", apiKey: "k", timeoutMs: 2000 }), { key: uniqueKey(), clock, random: () => 0.5 });
    const result = await p.chat(user);
    assert.deepEqual([result.text, result.attempts], ["fine", 2]);
  } finally {
    await server.close();
  }
});

test("500 then success: one backoff of random × base", async () => {
  const clock = fakeClock();
  await withOpenAI([{ status: 500, body: "boom" }, { text: "ok" }], { clock, random: () => 0.5, baseDelayMs: 400 }, async (p) => {
    const result = await p.chat(user);
    assert.deepEqual([result.text, result.attempts], ["ok", 2]);
    assert.deepEqual(clock.slept, [200]);
  });
});

test("timeout then success", async () => {
  const clock = fakeClock();
  await withOpenAI(
    [{ delayMs: 1000 }, { text: "in time" }],
    { clock, random: () => 0 },
    async (p, server) => {
      const result = await p.chat(user);
      assert.deepEqual([result.text, result.attempts], ["in time", 2]);
      assert.equal(server.requests.length, 2);
    },
    40,
  );
});

test("truncated stream then success: onText does not repeat what the caller already got", async () => {
  const clock = fakeClock();
  await withOpenAI([{ stream: ["Hel", "lo"], truncate: true }, { stream: ["Hel", "lo", " there"] }], { clock, random: () => 0 }, async (p) => {
    const deltas: string[] = [];
    const result = await p.chat(user, { stream: true, onText: (d) => deltas.push(d) });
    assert.equal(result.text, "Hello there");
    assert.equal(result.attempts, 2);
    assert.deepEqual(deltas, ["Hel", "lo", " there"]);
  });
});

test("401 is not retried and says which key to check", async () => {
  const clock = fakeClock();
  await withOpenAI([{ status: 401, body: { error: { message: "Incorrect API key provided" } } }, { text: "never" }], { clock }, async (p, server) => {
    const error = await p.chat(user).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "auth");
    assert.match(error.message, /HTTP 401.*Incorrect API key provided.*check OPENAI_API_KEY/);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(clock.slept, []);
  });
});

test("400 validation errors and non-provider errors are rethrown at once", async () => {
  const clock = fakeClock();
  await withOpenAI([{ status: 400, body: { error: { message: "bad param" } } }], { clock }, async (p, server) => {
    await assert.rejects(p.chat(user), (e: unknown) => e instanceof ProviderError && e.kind === "validation");
    assert.equal(server.requests.length, 1);
  });
  let calls = 0;
  const buggy: ChatProvider = {
    id: "buggy",
    chat: async () => {
      calls++;
      throw new TypeError("bug");
    },
  };
  await assert.rejects(new ResilientProvider(buggy, { key: uniqueKey(), clock }).chat(user), TypeError);
  assert.equal(calls, 1);
  assert.deepEqual(clock.slept, []);
});

test("max retries exhausted: the error names the attempts and the last failure", async () => {
  const clock = fakeClock();
  await withOpenAI(() => ({ status: 503, body: "unavailable" }), { clock, random: () => 0.999, maxRetries: 3 }, async (p, server) => {
    const error = await p.chat(user).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.match(error.message, /gave up after 4 attempts \(maxRetries 3\).*HTTP 503.*unavailable/);
    assert.equal(error.attempts, 4);
    assert.equal(error.status, 503);
    assert.equal(server.requests.length, 4);
    // Full jitter over 500, 1000, 2000 ms windows.
    assert.deepEqual(clock.slept, [499, 999, 1998]);
  });
});

test("backoffDelay grows exponentially and is capped", () => {
  const one = () => 0.9999999;
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, one)), [499, 999, 1999, 3999]);
  assert.equal(backoffDelay(20, one), 29_999);
  assert.equal(backoffDelay(20, one, 500, 1000), 999);
  assert.equal(backoffDelay(3, () => 0), 0);
});

test("a Retry-After beyond maxRetryAfterMs fails now with the server's message", async () => {
  const clock = fakeClock();
  await withOpenAI([{ status: 429, headers: { "retry-after": "3600" }, body: "daily quota" }], { clock, maxRetryAfterMs: 60_000 }, async (p, server) => {
    const error = await p.chat(user).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.match(error.message, /asked to wait 3600 s.*daily quota/);
    assert.equal(server.requests.length, 1);
    assert.deepEqual(clock.slept, []);
  });
});

test("abort while waiting to retry → aborted, no more attempts", async () => {
  const controller = new AbortController();
  const clock: Clock = {
    now: () => 0,
    sleep: async (_ms, signal) => {
      controller.abort();
      if (signal?.aborted) throw signal.reason;
    },
  };
  await withOpenAI([{ status: 500, body: "x" }, { text: "never" }], { clock }, async (p, server) => {
    const error = await p.chat(user, { signal: controller.signal }).catch((e: unknown) => e);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "aborted");
    assert.equal(server.requests.length, 1);
  });
});

test("concurrency limit is never exceeded (counted in flight on the server)", async () => {
  await withOpenAI(() => ({ text: "ok", delayMs: 15 }), { maxConcurrency: 3 }, async (p, server) => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => p.chat([{ role: "user", content: `q${i}` }])));
    assert.equal(results.length, 10);
    assert.equal(server.requests.length, 10);
    assert.equal(server.maxInFlight, 3);
  });
});

/** A provider that records the (fake) time of each call and can be held open. */
function recordingProvider(clock: Clock, id = "rec") {
  const times: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const provider: ChatProvider = {
    id,
    async chat(_messages: ChatMessage[], _options?: ChatOptions): Promise<ChatResult> {
      times.push(clock.now());
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { text: "ok", usage: { inputTokens: 1, outputTokens: 1 }, model: "m" };
    },
  };
  return { provider, times, maxInFlight: () => maxInFlight };
}

test("requestsPerMinute spaces calls evenly (injected clock and sleep)", async () => {
  const clock = fakeClock();
  const rec = recordingProvider(clock);
  const p = new ResilientProvider(rec.provider, { key: uniqueKey(), clock, requestsPerMinute: 60, maxConcurrency: 10 });
  for (let i = 0; i < 4; i++) await p.chat(user);
  assert.deepEqual(rec.times, [0, 1000, 2000, 3000]);
  // Concurrent callers queue for the bucket in order: one second apart again.
  const clock2 = fakeClock();
  const q = new ResilientProvider(recordingProvider(clock2).provider, { key: uniqueKey(), clock: clock2, requestsPerMinute: 30, maxConcurrency: 10 });
  await Promise.all([1, 2, 3, 4].map(() => q.chat(user)));
  assert.deepEqual(clock2.slept, [2000, 2000, 2000]);
});

test("tokensPerMinute charges input tokens + maxTokens and spaces big calls", async () => {
  const clock = fakeClock();
  const rec = recordingProvider(clock);
  const p = new ResilientProvider(rec.provider, { key: uniqueKey(), clock, tokensPerMinute: 6000, maxConcurrency: 10 });
  const estimate = countTokens("hi") + 200;
  await p.chat(user, { maxTokens: 200 });
  await p.chat(user, { maxTokens: 200 });
  // Bucket holds 100 tokens (one second's worth); a 20x-token call leaves it in debt, refilled at 100/s.
  assert.equal(rec.times[0], 0);
  assert.equal(rec.times[1], Math.ceil((estimate * 60_000) / 6000));
});

test("limits are shared by providers with the same key", async () => {
  const clock = fakeClock();
  const key = uniqueKey();
  const a = recordingProvider(clock, "a");
  const shared = { count: 0, max: 0 };
  const wrap = (id: string): ChatProvider => ({
    id,
    async chat() {
      shared.count++;
      shared.max = Math.max(shared.max, shared.count);
      await new Promise((resolve) => setImmediate(resolve));
      shared.count--;
      return { text: id, usage: { inputTokens: 1, outputTokens: 1 }, model: id };
    },
  });
  const one = new ResilientProvider(wrap("one"), { key, clock, maxConcurrency: 2 });
  const two = new ResilientProvider(wrap("two"), { key, clock, maxConcurrency: 2 });
  await Promise.all([one, two, one, two, one, two].map((p) => p.chat(user)));
  assert.equal(shared.max, 2);
  assert.equal(sharedLimits(key, { maxRetries: 0, maxConcurrency: 2 }).inFlight, 0);
  // A different key has its own limit.
  const other = new ResilientProvider(a.provider, { key: uniqueKey(), clock, maxConcurrency: 5 });
  await Promise.all([1, 2, 3, 4, 5].map(() => other.chat(user)));
  assert.equal(a.maxInFlight(), 5);
});
