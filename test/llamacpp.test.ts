import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LLAMACPP_MISSING_PACKAGE, LlamaCppProvider, parseLlamaCppRef } from "../src/models/llamacpp.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";

function modelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-llamacpp-"));
  writeFileSync(join(dir, "model.gguf"), Buffer.from("GGUF\x03\x00\x00\x00rest-of-header"));
  writeFileSync(join(dir, "adapter.gguf"), Buffer.from("GGUF\x03\x00\x00\x00lora"));
  writeFileSync(join(dir, "old.bin"), Buffer.from("ggjt\x01\x00\x00\x00"));
  mkdirSync(join(dir, "folder.gguf"));
  return dir;
}

test("parseLlamaCppRef: path, ?lora=, unknown options and empty lora rejected", () => {
  assert.deepEqual(parseLlamaCppRef("models/m.gguf"), { file: "models/m.gguf" });
  assert.deepEqual(parseLlamaCppRef("models/m.gguf?lora=adapters/a.gguf"), { file: "models/m.gguf", lora: "adapters/a.gguf" });
  assert.throws(() => parseLlamaCppRef("m.gguf?adapter=a.gguf"), /unknown option "adapter".*\?lora=/);
  assert.throws(() => parseLlamaCppRef("m.gguf?lora="), /\?lora= needs the path/);
});

test("bad model or adapter paths fail at creation, naming the path", () => {
  const dir = modelDir();
  assert.throws(() => new LlamaCppProvider({ file: "missing.gguf", baseDir: dir }), (e: unknown) => e instanceof Error && e.message.includes(join(dir, "missing.gguf")) && /model file .* does not exist/.test(e.message));
  assert.throws(() => new LlamaCppProvider({ file: "folder.gguf", baseDir: dir }), /is not a file/);
  assert.throws(() => new LlamaCppProvider({ file: "old.bin", baseDir: dir }), /old\.bin is not a GGUF file/);
  assert.throws(
    () => new LlamaCppProvider({ file: "model.gguf", lora: "nope.gguf", baseDir: dir }),
    (e: unknown) => e instanceof Error && /LoRA adapter file/.test(e.message) && e.message.includes(join(dir, "nope.gguf")),
  );
  const ok = new LlamaCppProvider({ file: "model.gguf", lora: "adapter.gguf", baseDir: dir });
  assert.equal(ok.id, "llamacpp:model.gguf?lora=adapter.gguf");
  assert.equal(ok.path, join(dir, "model.gguf"));
  assert.equal(ok.loraPath, join(dir, "adapter.gguf"));
});

test("without node-llama-cpp installed, the first call says what to install", async () => {
  const provider = new LlamaCppProvider({ file: "model.gguf", baseDir: modelDir() });
  await assert.rejects(provider.chat([{ role: "user", content: "hi" }]), (e: unknown) => e instanceof Error && e.message === LLAMACPP_MISSING_PACKAGE);
  assert.match(LLAMACPP_MISSING_PACKAGE, /npm install node-llama-cpp/);
  // Not cached: a second call tries again (the user may have installed it meanwhile).
  let imports = 0;
  const retrying = new LlamaCppProvider({
    file: "model.gguf",
    baseDir: modelDir(),
    importModule: async (s) => {
      imports++;
      const error = new Error(`Cannot find package '${s}' imported from x`) as Error & { code: string };
      error.code = "ERR_MODULE_NOT_FOUND";
      throw error;
    },
  });
  for (let i = 0; i < 2; i++) await assert.rejects(retrying.chat([{ role: "user", content: "hi" }]), /npm install node-llama-cpp/);
  assert.equal(imports, 2);
});

/** A stand-in for node-llama-cpp's v3 API that records what the provider asks of it. */
function fakeLlama() {
  const log: unknown[] = [];
  const module = {
    async getLlama() {
      return {
        async loadModel(options: unknown) {
          log.push(["loadModel", options]);
          return {
            tokenize: (t: string) => t.split(" "),
            async createContext(options: unknown) {
              log.push(["createContext", options]);
              return { getSequence: () => ({ dispose: () => log.push(["sequence.dispose"]) }) };
            },
          };
        },
        async createGrammarForJsonSchema(schema: unknown) {
          log.push(["grammarForSchema", schema]);
          return { grammar: "schema" };
        },
        async getGrammarFor(type: string) {
          log.push(["grammarFor", type]);
          return { grammar: type };
        },
      };
    },
    LlamaChatSession: class {
      constructor(options: { systemPrompt?: string }) {
        log.push(["session", { systemPrompt: options.systemPrompt }]);
      }
      setChatHistory(history: unknown) {
        log.push(["history", history]);
      }
      async prompt(text: string, options: { onTextChunk?: (t: string) => void; grammar?: unknown; maxTokens?: number; temperature?: number }) {
        log.push(["prompt", text, { ...options, onTextChunk: options.onTextChunk ? "fn" : undefined }]);
        const reply = options.grammar ? '{"email":"a@b.c"}' : "Refunds take 5 days [1].";
        options.onTextChunk?.(reply);
        return reply;
      }
      dispose() {
        log.push(["session.dispose"]);
      }
    },
  };
  return { module, log };
}

test("with the package present: model + LoRA loaded once, prompt options, grammar for jsonSchema, history", async () => {
  const dir = modelDir();
  const fake = fakeLlama();
  let imports = 0;
  const provider = new LlamaCppProvider({
    file: "model.gguf",
    lora: "adapter.gguf",
    baseDir: dir,
    contextSize: 2048,
    importModule: async (s) => {
      imports++;
      assert.equal(s, "node-llama-cpp");
      return fake.module;
    },
  });
  const texts: string[] = [];
  const qa = await provider.chat(
    [
      { role: "system", content: "Cite." },
      { role: "user", content: "Earlier question" },
      { role: "assistant", content: "Earlier answer" },
      { role: "user", content: "How long do refunds take?" },
    ],
    { maxTokens: 64, temperature: 0.3, onText: (t) => texts.push(t) },
  );
  assert.equal(qa.text, "Refunds take 5 days [1].");
  assert.deepEqual(texts, ["Refunds take 5 days [1]."]);
  assert.ok(qa.usage.inputTokens > 0 && qa.usage.outputTokens > 0);
  assert.equal(qa.model, "model.gguf?lora=adapter.gguf");
  const schema = { type: "object", properties: { email: { type: "string" } } };
  const extracted = await new LlmGenerator(provider).generate({ task: "extract", input: "a@b.c", context: [], jsonSchema: schema });
  assert.deepEqual(extracted.json, { email: "a@b.c" });
  assert.equal(imports, 1, "the model is loaded once");
  const [load, context, session, history, prompt] = fake.log as [string, any][];
  assert.deepEqual(load, ["loadModel", { modelPath: join(dir, "model.gguf") }]);
  assert.deepEqual(context, ["createContext", { contextSize: 2048, lora: { adapters: [{ filePath: join(dir, "adapter.gguf") }] } }]);
  assert.deepEqual(session, ["session", { systemPrompt: "Cite." }]);
  assert.deepEqual(history, [
    "history",
    [
      { type: "system", text: "Cite." },
      { type: "user", text: "Earlier question" },
      { type: "model", response: ["Earlier answer"] },
    ],
  ]);
  assert.deepEqual(prompt, ["prompt", "How long do refunds take?", { temperature: 0.3, maxTokens: 64, onTextChunk: "fn" }]);
  assert.ok(fake.log.some((e) => JSON.stringify(e) === JSON.stringify(["grammarForSchema", schema])));
  const lastPrompt = fake.log.filter((e) => (e as unknown[])[0] === "prompt").at(-1) as [string, string, { grammar?: unknown; maxTokens?: number }];
  assert.deepEqual(lastPrompt[2].grammar, { grammar: "schema" });
  assert.equal(lastPrompt[2].maxTokens, 1024);
  assert.equal(fake.log.filter((e) => (e as unknown[])[0] === "session.dispose").length, 2, "sessions are disposed after each call");
});
