/**
 * The model-id grammar checked at config load (src/config/ids.ts) agrees with the registries that
 * create the models: the same kinds, and an id the config accepts is never one the registry calls
 * unsupported (files and keys may still be missing — those are checked at use).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ID_FORMS, modelIdProblem } from "../src/config/ids.ts";
import { listGeneratorKinds, createGenerator, createChatProvider } from "../src/models/registry.ts";
import { createEmbedder, listEmbedderKinds } from "../src/models/embedders/index.ts";
import { createReranker, RERANKER_FORMS } from "../src/retrieve/rerank/index.ts";
import { parseConfig } from "../src/config/index.ts";

const kinds = (forms: readonly string[]) => [...new Set(forms.map((f) => f.replace(/[[:].*$/, "")))].sort();

test("the id forms name the same kinds as the generator, embedder and reranker registries", () => {
  assert.deepEqual(kinds(ID_FORMS.generator), kinds(listGeneratorKinds().map((k) => k.form)));
  assert.deepEqual(kinds(ID_FORMS.judge), kinds(listGeneratorKinds().map((k) => k.form)).filter((k) => k !== "offline"));
  assert.deepEqual(kinds(ID_FORMS.embedder), kinds(listEmbedderKinds().map((k) => k.form)));
  assert.deepEqual(kinds(ID_FORMS.reranker), kinds(RERANKER_FORMS));
});

const config = parseConfig("sources:\n  - include: a\nmodels:\n  providers:\n    local:\n      baseUrl: http://127.0.0.1:1/v1\n");
const providers = new Set(Object.keys(config.models.providers));
const env = { OPENAI_API_KEY: "k", ANTHROPIC_API_KEY: "k", COHERE_API_KEY: "k", JINA_API_KEY: "k" };
/** Errors that mean "the registry does not know this form" (as opposed to a missing file or package). */
const UNSUPPORTED = /unsupported|unknown kind|no kind prefix|expected [a-z-]+:</i;

function registryError(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

test("ids the config accepts are supported by the registries; ids it refuses are refused there too", () => {
  const generators = ["offline:extractive", "openai:gpt-4.1-mini", "anthropic:claude-sonnet-4", "ollama:llama3.2", "openai-compatible:local/meta/llama-3", "llamacpp:m.gguf", "llamacpp:m.gguf?lora=a.gguf"];
  for (const id of generators) {
    assert.equal(modelIdProblem("generator", id, providers), undefined, id);
    const e = registryError(() => createGenerator(id, config.models, config.answer, env));
    assert.ok(!e || !UNSUPPORTED.test(e), `${id}: ${e}`);
  }
  for (const id of generators.slice(1)) {
    assert.equal(modelIdProblem("judge", id, providers), undefined, id);
    const e = registryError(() => createChatProvider(id, config.models, env));
    assert.ok(!e || !UNSUPPORTED.test(e), `${id}: ${e}`);
  }
  for (const id of ["none", "hashing", "hashing:256", "use-lite", "onnx:models/bge", "gguf:e.gguf", "openai:text-embedding-3-small", "ollama:nomic-embed-text", "openai-compatible:local/bge"]) {
    assert.equal(modelIdProblem("embedder", id, providers), undefined, id);
    const e = registryError(() => createEmbedder(id, config.models, env));
    assert.ok(!e || !UNSUPPORTED.test(e), `${id}: ${e}`);
  }
  for (const id of ["none", "offline", "onnx:models/ce", "cohere:rerank-v3.5", "jina:jina-reranker-v2"]) {
    assert.equal(modelIdProblem("reranker", id, providers), undefined, id);
    const e = registryError(() => createReranker(id, config.models, env));
    assert.ok(!e || !/unknown|unsupported|expected/i.test(e), `${id}: ${e}`);
  }
  for (const id of ["gpt-4", "opnai:gpt-4", "openai:", "openai-compatible:local", "offline:other", "llamacpp:"]) {
    assert.ok(modelIdProblem("generator", id, providers), id);
    assert.ok(registryError(() => createGenerator(id, config.models, config.answer, env)), `the registry accepts ${id}`);
  }
  for (const id of ["hashing:abc", "bert", "onnx:"]) {
    assert.ok(modelIdProblem("embedder", id, providers), id);
    assert.ok(registryError(() => createEmbedder(id, config.models, env)), `the registry accepts ${id}`);
  }
});

test("provider names are looked up as own names only: Object.prototype members are unknown providers", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString"]) {
    for (const role of ["generator", "judge", "embedder"] as const) {
      assert.match(modelIdProblem(role, `openai-compatible:${name}/m`, providers) ?? "", new RegExp(`unknown provider '${name.replace(/_/g, "_")}'`), `${role} ${name}`);
    }
  }
});

test("price and context-window tables keyed by model ids find nothing for Object.prototype names", async () => {
  const { contextWindow, longContextBudget } = await import("../src/models/limits.ts");
  const { modelName, priceFor } = await import("../src/models/prices.ts");
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    for (const id of [`openai:${name}`, `ollama:${name}`, `openai-compatible:local/${name}`, name]) {
      assert.equal(typeof modelName(id), "string", id);
      assert.equal(contextWindow(id), undefined, id);
      assert.equal(longContextBudget("auto", 4096, id).tokens, 32_000, id);
      if (!id.startsWith("ollama:")) assert.equal(priceFor(id, Object.create(null)), undefined, id);
      assert.equal(priceFor(id, {}), id.startsWith("ollama:") ? priceFor("ollama:x") : undefined, `${id} with a plain {} of overrides`);
    }
  }
  const real = priceFor("openai:gpt-4.1-mini");
  assert.deepEqual(real && [real.inputPerMTok, real.outputPerMTok], [0.4, 1.6], "real ids still priced");
});
