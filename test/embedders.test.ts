import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema } from "../src/config/schema.ts";
import {
  createEmbedder,
  listEmbedderKinds,
  HashingEmbedder,
  OpenAIEmbedder,
  OnnxEmbedder,
  GgufEmbedder,
  inspectOnnxFolder,
  checkGgufFile,
  ONNX_MISSING_PACKAGE,
  GGUF_MISSING_PACKAGE,
} from "../src/models/embedders/index.ts";
import { ProviderError } from "../src/models/openai-compatible.ts";
import { JsonTestServer, type ScriptedJsonReply } from "./helpers/json-server.ts";

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: Float32Array) => Math.sqrt(dot(a, a));
const models = (yaml: Record<string, unknown> = {}) => ConfigSchema.parse({ sources: [{ include: "**/*.md" }], models: yaml }).models;

// ---------------------------------------------------------------------------------------------
// hashing
// ---------------------------------------------------------------------------------------------

test("hashing: deterministic across instances, unit length, dims and id", async () => {
  const texts = ["Annual plans can be refunded within 30 days.", "auto-install-peers is on by default in v2.1"];
  const [a1, b1] = await new HashingEmbedder().embed(texts, "document");
  const [a2, b2] = await new HashingEmbedder().embed(texts, "query");
  assert.deepEqual(a1, a2);
  assert.deepEqual(b1, b2);
  assert.equal(a1.length, 384);
  assert.ok(Math.abs(norm(a1) - 1) < 1e-5 && Math.abs(norm(b1) - 1) < 1e-5);
  assert.ok(a1.some((x) => x < 0), "signed hashing puts negative values in");
  const small = new HashingEmbedder({ dims: 64 });
  assert.equal(small.id, "hashing:64");
  assert.equal(small.dimensions, 64);
  assert.equal((await small.embed(["refund"], "query"))[0].length, 64);
  // A text with no content tokens embeds as the zero vector (not NaN).
  const [empty] = await small.embed(["the of and"], "query");
  assert.ok(empty.every((x) => x === 0));
  assert.throws(() => new HashingEmbedder({ dims: 4 }), /dims must be an integer from 8/);
  // Custom weights change the vectors, so they must change the id (it keys stored vectors).
  assert.notEqual(new HashingEmbedder({ charWeight: 0 }).id, new HashingEmbedder().id);
});

test("hashing: similar texts are closer than unrelated ones; word order and spelling variants count", async () => {
  const e = new HashingEmbedder();
  const [q, near, far] = await e.embed(
    ["How do I get a refund for my annual plan?", "Annual plans can be refunded within 30 days of payment.", "Deleted cards stay in the trash for 60 days."],
    "document",
  );
  assert.ok(dot(q, near) > 0.3, `related ${dot(q, near)}`);
  assert.ok(dot(q, near) > dot(q, far) + 0.2, `related ${dot(q, near)} vs unrelated ${dot(q, far)}`);
  const [ab, ba] = await e.embed(["credit card payment", "payment card credit"], "query");
  assert.ok(dot(ab, ba) < 0.999, "bigrams make word order matter");
  assert.ok(dot(ab, ba) > 0.5, "same words still close");
  const [colour, color, other] = await e.embed(["colour", "color", "database"], "query");
  assert.ok(dot(colour, color) > dot(colour, other) + 0.2, "char 3-grams link spelling variants");
});

// ---------------------------------------------------------------------------------------------
// registry
// ---------------------------------------------------------------------------------------------

test("createEmbedder: none, hashing forms, and clear errors listing the supported forms", () => {
  assert.equal(createEmbedder("none", models()), undefined);
  assert.equal(createEmbedder("hashing", models())!.id, "hashing:384");
  assert.equal(createEmbedder("hashing:128", models())!.dimensions, 128);
  for (const bad of ["hashing:abc", "word2vec:glove", "openai", "onnx:", "openai-compatible:nomodel"]) {
    assert.throws(
      () => createEmbedder(bad, models()),
      (e: Error) => e.message.startsWith(`Unsupported embedder "${bad}"`) && listEmbedderKinds().every((k) => e.message.includes(k.form)),
      bad,
    );
  }
  assert.throws(() => createEmbedder("openai:text-embedding-3-small", models(), {}), /needs an API key: set OPENAI_API_KEY/);
  assert.throws(
    () => createEmbedder("openai-compatible:vllm/bge", models({ providers: { local: { baseUrl: "http://127.0.0.1:1/v1" } } }), {}),
    /needs a provider named "vllm": add models\.providers\.vllm .*configured providers: local/,
  );
});

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible /embeddings against a local server
// ---------------------------------------------------------------------------------------------

const http = new JsonTestServer();
const requests = http.requests;
const script = (...next: ScriptedJsonReply[]) => http.script(...next);
before(() => http.start());
after(() => http.close());

/** A fake embedding model: vector = [length of text, number of spaces, 1] (not normalised). */
const fakeVector = (text: string) => [text.length, text.split(" ").length - 1, 1];
const echo: ScriptedJsonReply = (req) => ({
  body: { object: "list", model: req.body.model, data: req.body.input.map((t: string, index: number) => ({ object: "embedding", index, embedding: fakeVector(t) })) },
});

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((x, i) => Math.abs(x - b[i]) < 1e-6);

test("openai embeddings: batches, asks for floats, sends auth, normalises, learns dimensions", async () => {
  script();
  http.fallback = echo;
  const e = new OpenAIEmbedder({ id: "openai-compatible:local/m", baseUrl: `http://127.0.0.1:${http.port}/v1/`, model: "m", apiKey: "sk-test", batchSize: 2 });
  assert.equal(e.dimensions, 0);
  const texts = ["a", "bb cc", "ddd", "e f g", "hello"];
  const vectors = await e.embed(texts, "document");
  assert.equal(e.dimensions, 3);
  assert.equal(requests.length, 3);
  assert.deepEqual(requests.map((r) => r.body.input), [["a", "bb cc"], ["ddd", "e f g"], ["hello"]]);
  for (const r of requests) {
    assert.equal(r.url, "/v1/embeddings");
    assert.equal(r.headers.authorization, "Bearer sk-test");
    assert.equal(r.body.encoding_format, "float");
    assert.equal(r.body.model, "m");
  }
  texts.forEach((t, i) => assert.ok(close(vectors[i], unit(fakeVector(t))), t));
  // Default batch size is 64.
  script();
  http.fallback = echo;
  await new OpenAIEmbedder({ id: "x", baseUrl: `http://127.0.0.1:${http.port}/v1`, model: "m" }).embed(Array.from({ length: 130 }, (_, i) => `t${i}`), "query");
  assert.deepEqual(requests.map((r) => r.body.input.length), [64, 64, 2]);
  assert.equal(requests[0].headers.authorization, undefined, "no key → no header");
});

test("openai embeddings: reordered data by index, base64 vectors, empty input, prefixes", async () => {
  const b64 = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString("base64");
  script({ body: { data: [{ index: 1, embedding: [0, 2] }, { index: 0, embedding: b64([3, 4]) }] } });
  const e = new OpenAIEmbedder({ id: "x", baseUrl: `http://127.0.0.1:${http.port}/v1`, model: "m", queryPrefix: "search_query: " });
  const [first, second] = await e.embed(["q1", ""], "query");
  assert.ok(close(first, [0.6, 0.8]));
  assert.ok(close(second, [0, 1]));
  assert.deepEqual(requests[0].body.input, ["search_query: q1", "search_query: "]);
  script({ body: { data: [{ index: 0, embedding: [1, 0] }] } });
  await e.embed([""], "document");
  assert.deepEqual(requests[0].body.input, [" "], "empty strings are sent as a space (OpenAI rejects empty input)");
  assert.deepEqual(await e.embed([], "document"), []);
});

test("openai embeddings: non-2xx → ProviderError with status; retryable statuses retried; malformed answers", async () => {
  script({ status: 401, body: { error: { message: "Incorrect API key provided" } } });
  const e = new OpenAIEmbedder({ id: "openai:text-embedding-3-small", baseUrl: `http://127.0.0.1:${http.port}/v1`, model: "m", retryDelayMs: 1 });
  const error = await e.embed(["x"], "query").catch((x: unknown) => x);
  assert.ok(error instanceof ProviderError);
  assert.equal(error.status, 401);
  assert.match(error.message, /^openai:text-embedding-3-small: HTTP 401 from http:\/\/127\.0\.0\.1:\d+\/v1\/embeddings: .*Incorrect API key/);
  assert.equal(requests.length, 1, "4xx other than 408/429 is not retried");

  script({ status: 503, body: "overloaded" }, { status: 429, body: "slow down", headers: { "retry-after": "0" } }, echo);
  assert.equal((await e.embed(["ok"], "query")).length, 1);
  assert.equal(requests.length, 3, "503 and 429 retried, then success");

  script({ status: 500, body: "down" }, { status: 500, body: "down" }, { status: 500, body: "still down" });
  await assert.rejects(e.embed(["x"], "query"), (x: unknown) => x instanceof ProviderError && x.status === 500 && /still down/.test(x.message));
  assert.equal(requests.length, 3, "1 try + maxRetries (2)");

  script({ body: { data: [] } }, { body: "<html>" }, { body: { data: [{ embedding: ["a"] }] } });
  const fresh = new OpenAIEmbedder({ id: "x", baseUrl: `http://127.0.0.1:${http.port}/v1`, model: "m", maxRetries: 0 });
  await assert.rejects(fresh.embed(["x"], "query"), /0 embeddings for 1 inputs/);
  await assert.rejects(fresh.embed(["x"], "query"), /not JSON/);
  await assert.rejects(fresh.embed(["x"], "query"), /embedding is not a list of numbers/);
  script({ body: { data: [{ embedding: [1, 2] }] } });
  await fresh.embed(["x"], "query"); // the first good answer sets the dimensions (2)
  script({ body: { data: [{ embedding: [1, 2, 3] }] } });
  await assert.rejects(fresh.embed(["x"], "query"), /embedding length changed from 2 to 3/);
});

test("openai embeddings: timeout", async () => {
  script({ body: { data: [{ embedding: [1] }] }, delayMs: 1000 });
  const e = new OpenAIEmbedder({ id: "x", baseUrl: `http://127.0.0.1:${http.port}/v1`, model: "m", timeoutMs: 100, maxRetries: 0 });
  await assert.rejects(e.embed(["x"], "query"), (x: unknown) => x instanceof ProviderError && /timed out after 100 ms/.test(x.message));
});

test("createEmbedder wires openai / ollama / openai-compatible to the right URL and key", async () => {
  const cases: [string, ReturnType<typeof models>, NodeJS.ProcessEnv, string, string | undefined][] = [
    ["openai:emb-small", models(), { OPENAI_BASE_URL: `http://127.0.0.1:${http.port}/v1`, OPENAI_API_KEY: "sk-o" }, "/v1/embeddings", "Bearer sk-o"],
    ["ollama:nomic-embed-text", models(), { OLLAMA_HOST: `127.0.0.1:${http.port}` }, "/v1/embeddings", undefined],
    [
      "openai-compatible:vllm/BAAI/bge-m3",
      models({ providers: { vllm: { baseUrl: `http://127.0.0.1:${http.port}/api/v1`, apiKeyEnv: "VLLM_KEY" } } }),
      { VLLM_KEY: "k-v" },
      "/api/v1/embeddings",
      "Bearer k-v",
    ],
  ];
  for (const [id, m, env, path, auth] of cases) {
    script(echo);
    const e = createEmbedder(id, m, env)!;
    assert.equal(e.id, id);
    await e.embed(["hi"], "query");
    assert.equal(requests[0].url, path, id);
    assert.equal(requests[0].headers.authorization, auth, id);
    assert.equal(requests[0].body.model, id.replace(/^[^:]+:/, "").replace(/^vllm\//, ""), id);
  }
});

// ---------------------------------------------------------------------------------------------
// onnx: folder validation, the missing package, and the call into transformers.js (faked)
// ---------------------------------------------------------------------------------------------

/** A model folder with these files (an `undefined` value leaves that file out). */
function onnxFolder(files: Record<string, string | undefined>, name = "model"): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-onnx-"));
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    if (content === undefined) continue;
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}
const complete = {
  "config.json": JSON.stringify({ model_type: "bert", hidden_size: 4 }),
  "tokenizer.json": "{}",
  "tokenizer_config.json": "{}",
  "onnx/model.onnx": "x",
};

test("onnx: folder validation names what is missing", () => {
  assert.throws(() => inspectOnnxFolder("/nonexistent/ragtune-model"), /model folder \/nonexistent\/ragtune-model does not exist/);
  const some = onnxFolder({ "tokenizer.json": "{}" });
  assert.throws(() => inspectOnnxFolder(join(some, "tokenizer.json")), /is a file; onnx:<folder> needs the model folder/);
  assert.throws(() => inspectOnnxFolder(onnxFolder({})), /not a transformers\.js model folder: missing config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/\*\.onnx/);
  assert.throws(() => inspectOnnxFolder(some), /missing config\.json, tokenizer_config\.json, onnx\/\*\.onnx \(e\.g\. onnx\/model\.onnx\)\./);
  assert.throws(() => inspectOnnxFolder(onnxFolder({ ...complete, "onnx/model.onnx": undefined, "onnx/readme.txt": "" })), /missing onnx\/\*\.onnx/);
  assert.throws(
    () => inspectOnnxFolder(onnxFolder({ ...complete, "onnx/model.onnx": undefined, "onnx/encoder.onnx": "x" })),
    /no model file with a name transformers\.js loads .*found: encoder\.onnx; expected one of model\.onnx, model_quantized\.onnx/,
  );
  assert.throws(() => inspectOnnxFolder(onnxFolder({ ...complete, "config.json": "{not json" })), /config\.json is not a JSON object/);
  assert.throws(() => inspectOnnxFolder(onnxFolder(complete), { dtype: "fp16" }), /dtype "fp16" needs .*model_fp16\.onnx, which is missing \(found: model\.onnx\)/);
  // Relative folders resolve against baseDir (the project root).
  const ok = onnxFolder(complete);
  assert.equal(inspectOnnxFolder("model", { baseDir: join(ok, "..") }).folder, ok);
});

test("onnx: dtype, prefixes and pooling are detected from the folder", () => {
  const plain = inspectOnnxFolder(onnxFolder(complete, "all-MiniLM-L6-v2"));
  assert.deepEqual([plain.dimensions, plain.dtype, plain.queryPrefix, plain.documentPrefix, plain.pooling], [4, "fp32", "", "", "mean"]);
  const quant = inspectOnnxFolder(onnxFolder({ ...complete, "onnx/model.onnx": undefined, "onnx/model_quantized.onnx": "x" }));
  assert.equal(quant.dtype, "q8");
  const e5 = inspectOnnxFolder(onnxFolder({ ...complete, "config.json": JSON.stringify({ _name_or_path: "intfloat/e5-small-v2", hidden_size: 384 }) }));
  assert.deepEqual([e5.queryPrefix, e5.documentPrefix, e5.pooling], ["query: ", "passage: ", "mean"]);
  const bge = inspectOnnxFolder(onnxFolder(complete, "bge-small-en-v1.5"));
  assert.deepEqual([bge.queryPrefix, bge.documentPrefix, bge.pooling], ["Represent this sentence for searching relevant passages: ", "", "cls"]);
  const st = inspectOnnxFolder(
    onnxFolder({
      ...complete,
      "config_sentence_transformers.json": JSON.stringify({ prompts: { query: "Q: ", document: "D: " } }),
      "1_Pooling/config.json": JSON.stringify({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }),
    }),
  );
  assert.deepEqual([st.queryPrefix, st.documentPrefix, st.pooling], ["Q: ", "D: ", "cls"]);
  const overridden = inspectOnnxFolder(onnxFolder(complete, "e5-base"), { queryPrefix: "", pooling: "cls" });
  assert.deepEqual([overridden.queryPrefix, overridden.documentPrefix, overridden.pooling], ["", "passage: ", "cls"]);
});

test("onnx: a valid folder without @huggingface/transformers installed → says what to install", async (t) => {
  const installed = await import("@huggingface/transformers" as string).then(
    () => true,
    () => false,
  );
  if (installed) return t.skip("@huggingface/transformers is installed here");
  const dir = onnxFolder(complete);
  const e = createEmbedder(`onnx:${dir}`, models())!;
  assert.equal(e.id, `onnx:${dir}`);
  assert.equal(e.dimensions, 4, "known from config.json before loading");
  await assert.rejects(e.embed(["x"], "document"), (x: Error) => x.message === ONNX_MISSING_PACKAGE);
  assert.match(ONNX_MISSING_PACKAGE, /npm i @huggingface\/transformers .*ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.deepEqual(await e.embed([], "document"), [], "nothing to embed needs no runtime");
});

test("onnx: loads offline from the parent folder and pools with the detected settings (transformers.js faked)", async () => {
  const dir = onnxFolder({ ...complete, "config.json": JSON.stringify({ _name_or_path: "intfloat/e5-small-v2", hidden_size: 2 }) }, "e5-small");
  const calls: { task?: string; model?: string; opts?: any; texts: string[][]; options: any[] } = { texts: [], options: [] };
  const env: Record<string, unknown> = { allowRemoteModels: true };
  const fake = {
    env,
    pipeline: async (task: string, model: string, opts: unknown) => {
      Object.assign(calls, { task, model, opts });
      return async (texts: string[], options: unknown) => {
        calls.texts.push(texts);
        calls.options.push(options);
        return { dims: [texts.length, 2], data: new Float32Array(texts.flatMap((t) => [t.length, 1])) };
      };
    },
  };
  let imported = "";
  const e = new OnnxEmbedder({ folder: dir, batchSize: 2, importModule: async (s) => ((imported = s), fake) });
  const out = await e.embed(["abc", "de", "f"], "query");
  assert.equal(imported, "@huggingface/transformers");
  assert.equal(env.allowRemoteModels, false);
  assert.equal(env.localModelPath, join(dir, "..") + "/");
  assert.deepEqual([calls.task, calls.model, calls.opts], ["feature-extraction", "e5-small", { dtype: "fp32", local_files_only: true }]);
  assert.deepEqual(calls.texts, [["query: abc", "query: de"], ["query: f"]]);
  assert.deepEqual(calls.options[0], { pooling: "mean", normalize: true });
  assert.ok(close(out[0], unit([10, 1])) && close(out[2], unit([8, 1])));
  await e.embed(["p"], "document");
  assert.deepEqual(calls.texts.at(-1), ["passage: p"]);
});

// ---------------------------------------------------------------------------------------------
// gguf
// ---------------------------------------------------------------------------------------------

function file(name: string, bytes: Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-gguf-"));
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
}
const ggufBytes = Buffer.concat([Buffer.from("GGUF"), Buffer.from([3, 0, 0, 0])]);

test("gguf: file checks before importing anything", () => {
  assert.throws(() => checkGgufFile("/nonexistent/model.gguf"), /model file \/nonexistent\/model\.gguf does not exist/);
  const dir = mkdtempSync(join(tmpdir(), "ragtune-gguf-"));
  assert.throws(() => checkGgufFile(dir), /is not a file; it must be the path of a \.gguf model file/);
  assert.throws(() => checkGgufFile(file("m.gguf", Buffer.from("PK\x03\x04rest"))), /is not a GGUF file \(starts with 50 4b 03 04, expected the magic bytes 47 47 55 46 "GGUF"\)$/);
  assert.throws(() => checkGgufFile(file("old.bin", Buffer.from("ggjtxxxx"))), /old GGML-format model; convert it to GGUF/);
  assert.throws(() => checkGgufFile(file("empty.gguf", Buffer.alloc(0))), /starts with nothing \(empty file\)/);
  const ok = file("nomic-embed-text-v1.5.Q8_0.gguf", ggufBytes);
  assert.equal(checkGgufFile("nomic-embed-text-v1.5.Q8_0.gguf", join(ok, "..")), ok);
});

test("gguf: a valid file without node-llama-cpp installed → says what to install", async (t) => {
  const installed = await import("node-llama-cpp" as string).then(
    () => true,
    () => false,
  );
  if (installed) return t.skip("node-llama-cpp is installed here");
  const path = file("model.gguf", ggufBytes);
  const e = createEmbedder(`gguf:${path}`, models())!;
  assert.equal(e.dimensions, 0);
  await assert.rejects(e.embed(["x"], "document"), (x: Error) => x.message === GGUF_MISSING_PACKAGE);
  assert.equal(GGUF_MISSING_PACKAGE, "gguf embedders need node-llama-cpp: npm i node-llama-cpp");
});

test("gguf: getLlama → loadModel → embedding context; prefixes by family, truncation, normalised (node-llama-cpp faked)", async () => {
  const path = file("nomic-embed-text-v1.5.Q8_0.gguf", ggufBytes);
  const log: unknown[] = [];
  const fake = {
    getLlama: async () => ({
      loadModel: async (o: unknown) => {
        log.push(["loadModel", o]);
        return {
          tokenize: (s: string) => s.split(" "),
          createEmbeddingContext: async (o2: unknown) => {
            log.push(["context", o2]);
            return { getEmbeddingFor: async (input: string | string[]) => (log.push(["embed", input]), { vector: [3, 4] }) };
          },
        };
      },
    }),
  };
  const e = new GgufEmbedder({ file: path, contextSize: 8, importModule: async () => fake });
  const [v] = await e.embed(["hello"], "query");
  assert.ok(close(v, [0.6, 0.8]));
  assert.equal(e.dimensions, 2);
  await e.embed(["one two three four five six seven"], "document");
  assert.deepEqual(log, [
    ["loadModel", { modelPath: path }],
    ["context", { contextSize: 8 }],
    ["embed", "search_query: hello"],
    ["embed", ["search_document:", "one", "two", "three"]],
  ]);
});
