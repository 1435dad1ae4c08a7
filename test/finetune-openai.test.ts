import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAIFineTuneTrainer, openAITrainerFromRef, toChatJsonl } from "../src/finetune/trainers/openai.ts";
import type { TrainerEvent, TrainingExample } from "../src/finetune/index.ts";
import { ProviderError } from "../src/models/errors.ts";
import { InputError, JobFailure } from "../src/util/errors.ts";
import { startFineTuneServer } from "./helpers/finetune-server.ts";

const ex = (id: string, input: string, output: string, extra: Partial<TrainingExample> = {}): TrainingExample => ({ id, task: "classify", input, output, source: `train.csv:${id}`, ...extra });
const train = [ex("1", "I was charged twice", "billing"), ex("2", "The app crashes on start", "bug_report", { system: "Route the ticket." }), ex("3", "Refund please", "billing")];
const validation = [ex("4", "Invoice is wrong", "billing")];
const outDir = () => mkdtempSync(join(tmpdir(), "ragtune-ft-openai-"));

/** A sleep that records waits and resolves at once, rejecting when the signal is aborted. */
function fakeSleep() {
  const waits: number[] = [];
  const sleep = async (ms: number, signal?: AbortSignal) => {
    waits.push(ms);
    if (signal?.aborted) throw signal.reason;
  };
  return { waits, sleep };
}

test("chat JSONL: one line per example, system/user/assistant, an example's own system wins", () => {
  const lines = toChatJsonl(train).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0].messages.map((m: { role: string }) => m.role), ["system", "user", "assistant"]);
  assert.equal(lines[0].messages[1].content, "I was charged twice");
  assert.equal(lines[0].messages[2].content, "billing");
  assert.equal(lines[1].messages[0].content, "Route the ticket.");
});

test("uploads, creates the job, polls through the statuses, streams events in order, returns the model", async () => {
  const server = await startFineTuneServer({
    apiKey: "sk-test",
    states: [
      { status: "queued" },
      { status: "running" },
      { status: "running" },
      { status: "succeeded", fine_tuned_model: "ft:gpt-4.1-mini:acme::abc123", trained_tokens: 4242, hyperparameters: { n_epochs: 3 } },
    ],
    events: [
      [{ message: "Validating training file: file-1" }],
      [{ message: "Fine-tuning job started" }],
      [{ message: "Step 1/6: training loss=1.20", type: "metrics", data: { step: 1, train_loss: 1.2 } }, { message: "Step 2/6", type: "metrics", data: { step: 2, train_loss: 0.8, valid_loss: 0.9 } }],
      [{ message: "Checkpoint created at step 3", level: "warn" }],
      [{ message: "New fine-tuned model created" }, { message: "The job has successfully completed" }],
    ],
  });
  try {
    const { waits, sleep } = fakeSleep();
    const events: TrainerEvent[] = [];
    const trainer = new OpenAIFineTuneTrainer({
      model: "gpt-4.1-mini-2025-04-14",
      env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" },
      suffix: "acme",
      hyperparameters: { n_epochs: 3 },
      seed: 7,
      pollIntervalMs: 1000,
      maxPollIntervalMs: 2000,
      pollBackoff: 1.5,
      sleep,
    });
    const dir = outDir();
    const result = await trainer.train({ train, validation }, { outDir: dir, onEvent: (e) => events.push(e) });

    // Uploads: multipart, purpose fine-tune, the JSONL lines of each split.
    assert.equal(server.uploads.length, 2);
    for (const u of server.uploads) {
      assert.match(u.contentType, /^multipart\/form-data; boundary=/);
      assert.equal(u.purpose, "fine-tune");
    }
    assert.deepEqual(server.uploads.map((u) => u.filename), ["train.jsonl", "validation.jsonl"]);
    const trainLines = server.uploads[0].text.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(trainLines.map((l) => l.messages.at(-1).content), ["billing", "bug_report", "billing"]);
    assert.deepEqual(trainLines.map((l) => l.messages.at(-2).content), ["I was charged twice", "The app crashes on start", "Refund please"]);
    assert.equal(JSON.parse(server.uploads[1].text).messages[1].content, "Invoice is wrong");
    assert.equal(readFileSync(join(dir, "train.jsonl"), "utf8"), server.uploads[0].text, "the uploaded data is kept in outDir");
    assert.equal(server.requests[0].headers.authorization, "Bearer sk-test");

    // Job creation.
    assert.deepEqual(server.jobBodies[0], { model: "gpt-4.1-mini-2025-04-14", training_file: "file-1", validation_file: "file-2", suffix: "acme", hyperparameters: { n_epochs: 3 }, seed: 7 });

    // Statuses in order, each once.
    assert.deepEqual(events.filter((e) => e.type === "status").map((e) => (e as { status: string }).status), ["uploading", "validating_files", "queued", "running", "succeeded"]);
    // Server events: each once, oldest first, with their level.
    const logs = events.filter((e) => e.type === "log").map((e) => (e as { message: string }).message).filter((m) => !/^(uploaded|created)/.test(m));
    assert.deepEqual(logs, ["Validating training file: file-1", "Fine-tuning job started", "[warn] Checkpoint created at step 3", "New fine-tuned model created", "The job has successfully completed"]);
    const metrics = events.filter((e) => e.type === "metric");
    assert.deepEqual(metrics, [
      { type: "metric", name: "train_loss", value: 1.2, step: 1 },
      { type: "metric", name: "train_loss", value: 0.8, step: 2 },
      { type: "metric", name: "valid_loss", value: 0.9, step: 2 },
    ]);
    // Polling waits grow by the backoff and stop at the cap.
    assert.deepEqual(waits, [1000, 1500, 2000, 2000]);

    assert.equal(result.trainer, "openai");
    assert.equal(result.task, "classify");
    assert.equal(result.generatorId, "openai:ft:gpt-4.1-mini:acme::abc123");
    assert.equal(result.artifact, result.generatorId);
    assert.equal(result.baseModel, "gpt-4.1-mini-2025-04-14");
    assert.deepEqual(result.metrics, { train_loss: 0.8, valid_loss: 0.9, trained_tokens: 4242 });
    assert.equal(result.config.jobId, "ftjob-1");
    assert.equal(JSON.parse(readFileSync(join(dir, "job.json"), "utf8")).status, "succeeded");
    assert.ok(!JSON.stringify(result).includes("sk-test"), "the key is never recorded");
  } finally {
    await server.close();
  }
});

test("events listed oldest first, over several pages, are still emitted once each in order", async () => {
  const server = await startFineTuneServer({
    eventOrder: "oldest-first",
    pageSize: 2,
    states: [{ status: "running" }, { status: "succeeded", fine_tuned_model: "ft-x" }],
    events: [[{ message: "e1" }, { message: "e2" }, { message: "e3" }], [{ message: "e4" }, { message: "e5" }, { message: "e6" }, { message: "e7" }, { message: "e8" }], [{ message: "e9" }]],
  });
  const newestFirst = await startFineTuneServer({
    pageSize: 2,
    states: [{ status: "running" }, { status: "succeeded", fine_tuned_model: "ft-x" }],
    events: [[{ message: "e1" }, { message: "e2" }, { message: "e3" }], [{ message: "e4" }, { message: "e5" }, { message: "e6" }, { message: "e7" }, { message: "e8" }], [{ message: "e9" }]],
  });
  try {
    for (const s of [server, newestFirst]) {
      const logs: string[] = [];
      const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: s.url }, sleep: fakeSleep().sleep });
      await trainer.train({ train, validation: [] }, { outDir: outDir(), onEvent: (e) => e.type === "log" && /^e\d$/.test(e.message) && logs.push(e.message) });
      assert.deepEqual(logs, ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]);
      assert.equal(s.jobBodies[0].validation_file, undefined, "no validation split → no validation file");
      assert.equal(s.uploads.length, 1);
    }
  } finally {
    await server.close();
    await newestFirst.close();
  }
});

test("a failed job rejects with the API's error message", async () => {
  const server = await startFineTuneServer({
    states: [{ status: "running" }, { status: "failed", error: { code: "invalid_training_file", message: "The file has 3 examples; at least 10 are required.", param: "training_file" } }],
  });
  try {
    const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: server.url }, sleep: fakeSleep().sleep });
    const statuses: string[] = [];
    await assert.rejects(
      trainer.train({ train, validation }, { outDir: outDir(), onEvent: (e) => e.type === "status" && statuses.push(e.status) }),
      (e: unknown) => e instanceof JobFailure && /ftjob-1 failed: The file has 3 examples; at least 10 are required\. \(invalid_training_file, training_file\)/.test(e.message),
    );
    assert.equal(statuses.at(-1), "failed");
    assert.deepEqual(server.cancelled, []);
  } finally {
    await server.close();
  }
});

test("a job cancelled on the server rejects", async () => {
  const server = await startFineTuneServer({ states: [{ status: "cancelled" }] });
  try {
    const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: server.url }, sleep: fakeSleep().sleep });
    await assert.rejects(trainer.train({ train, validation }, { outDir: outDir() }), /ftjob-1 was cancelled/);
  } finally {
    await server.close();
  }
});

test("aborting cancels the job on the server", async () => {
  const server = await startFineTuneServer({ states: [{ status: "queued" }, { status: "running" }, { status: "running" }, { status: "succeeded", fine_tuned_model: "never" }] });
  try {
    const controller = new AbortController();
    const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: server.url }, sleep: fakeSleep().sleep });
    await assert.rejects(
      trainer.train({ train, validation }, { outDir: outDir(), signal: controller.signal, onEvent: (e) => e.type === "status" && e.status === "running" && controller.abort() }),
      (e: unknown) => e instanceof ProviderError && e.kind === "aborted" && /ftjob-1 was cancelled \(aborted\)/.test(e.message),
    );
    assert.deepEqual(server.cancelled, ["ftjob-1"]);
    assert.ok(server.requests.some((r) => r.method === "POST" && r.path === "/v1/fine_tuning/jobs/ftjob-1/cancel"));
    // cancel() is also public.
    const job = await trainer.cancel("ftjob-1");
    assert.equal(job.status, "cancelled");
  } finally {
    await server.close();
  }
});

test("401: the error names the status, the API's message and the key variable; not retried", async () => {
  const server = await startFineTuneServer({ apiKey: "sk-right", states: [{ status: "succeeded" }] });
  try {
    const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-wrong" }, sleep: fakeSleep().sleep });
    await assert.rejects(trainer.train({ train, validation }, { outDir: outDir() }), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.status, 401);
      assert.match(e.message, /HTTP 401 from POST .*\/v1\/files: invalid_request_error: Incorrect API key provided/);
      assert.match(e.message, /check OPENAI_API_KEY/);
      return true;
    });
    assert.equal(server.requests.length, 1);
    // A named provider's key variable is the one named.
    const named = openAITrainerFromRef("openai-compatible:acme/llama-3.1-8b", { providers: { acme: { kind: "openai", baseUrl: server.url, apiKeyEnv: "ACME_KEY", timeoutMs: 1000, maxRetries: 0, maxConcurrency: 1 } } }, {
      env: { ACME_KEY: "nope" },
      sleep: fakeSleep().sleep,
    });
    await assert.rejects(named.train({ train, validation }, { outDir: outDir() }), /openai-compatible:acme: HTTP 401.*check ACME_KEY/);
  } finally {
    await server.close();
  }
});

test("a named provider: its base URL and key, and an openai-compatible generator id", async () => {
  const server = await startFineTuneServer({ apiKey: "acme-key", states: [{ status: "succeeded", fine_tuned_model: "llama-3.1-8b-ft-001" }] });
  try {
    const trainer = openAITrainerFromRef("openai-compatible:acme/meta-llama/Llama-3.1-8B", { providers: { acme: { kind: "openai", baseUrl: server.url, apiKeyEnv: "ACME_KEY", timeoutMs: 1000, maxRetries: 0, maxConcurrency: 1 } } }, {
      env: { ACME_KEY: "acme-key" },
      sleep: fakeSleep().sleep,
    });
    const result = await trainer.train({ train, validation }, { outDir: outDir() });
    assert.equal(server.jobBodies[0].model, "meta-llama/Llama-3.1-8B");
    assert.equal(result.generatorId, "openai-compatible:acme/llama-3.1-8b-ft-001");
    assert.throws(() => openAITrainerFromRef("openai-compatible:nobody/x", { providers: {} }), /needs a provider named "nobody"/);
    assert.throws(() => openAITrainerFromRef("anthropic:claude", { providers: {} }), InputError);
  } finally {
    await server.close();
  }
});

test("transient errors while polling are retried with backoff; the job is not lost", async () => {
  let reads = 0;
  let failures = 0;
  const server = await startFineTuneServer({
    states: [{ status: "running" }, { status: "succeeded", fine_tuned_model: "ft-ok" }],
    inject: (req) => {
      if (req.method !== "GET" || !/jobs\/ftjob-1$/.test(req.path) || reads++ >= 2) return undefined;
      failures++;
      return { status: 503, body: { error: { message: "overloaded" } } };
    },
  });
  try {
    const { waits, sleep } = fakeSleep();
    const trainer = new OpenAIFineTuneTrainer({ model: "base", env: { OPENAI_BASE_URL: server.url }, sleep, random: () => 0.5, pollIntervalMs: 10 });
    const result = await trainer.train({ train, validation }, { outDir: outDir() });
    assert.equal(result.generatorId, "openai:ft-ok");
    assert.equal(failures, 2);
    assert.deepEqual(waits, [10, 500, 1000, 15], "poll wait, then two retry backoffs (full jitter at 0.5), then the grown poll wait");
  } finally {
    await server.close();
  }
});

test("bad input fails before any request: no key for api.openai.com, mixed tasks, empty split", async () => {
  assert.throws(() => new OpenAIFineTuneTrainer({ model: "gpt-4.1-mini", env: {} }), /set OPENAI_API_KEY/);
  const trainer = new OpenAIFineTuneTrainer({ model: "m", env: { OPENAI_BASE_URL: "http://127.0.0.1:9/v1" } });
  await Promise.all([
    assert.rejects(trainer.train({ train: [...train, ex("q", "What?", "42", { task: "qa" })], validation: [] }, { outDir: outDir() }), /one model learns one task.*train\.csv:q/),
    assert.rejects(trainer.train({ train: [], validation: [] }, { outDir: outDir() }), /training split is empty/),
  ]);
});
