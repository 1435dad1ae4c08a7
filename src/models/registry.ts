/**
 * Generator ids → Generators (and chat providers, for judges). The id is what users write in
 * `models.generator` (or pass on the command line); adding a provider kind means one entry in
 * GENERATOR_KINDS and one branch in `rawProvider`.
 *
 * Every LLM provider is wrapped the same way: raw provider (one HTTP request per call) →
 * ResilientProvider (retries, concurrency and rate limits, shared per endpoint) → CachedProvider
 * (when a response cache is given). See docs/providers.md.
 */
import { InputError } from "../util/errors.ts";
import type { RagtuneConfig } from "../config/schema.ts";
import type { ChatProvider, Generator } from "./index.ts";
import { AnthropicProvider } from "./anthropic.ts";
import { CachedProvider, type ResponseCacheBackend } from "./cache.ts";
import { LlamaCppProvider, parseLlamaCppRef } from "./llamacpp.ts";
import { LlmGenerator } from "./llm-generator.ts";
import { ExtractiveReader } from "./offline-extractive.ts";
import { UseLiteEmbedder } from "./embedders/use-lite.ts";
import { OpenAICompatibleProvider } from "./openai-compatible.ts";
import {
  anthropicEndpoint,
  endpointLimitKey,
  limitsOf,
  ollamaEndpoint,
  openaiEndpoint,
  providerLimitKey,
  resolveProviderRef,
  type ProviderLimitsConfig,
} from "./provider-ref.ts";
import { ResilientProvider, type ResilienceOptions } from "./resilience.ts";

export interface GeneratorKind {
  /** The id form, e.g. `openai:<model>`. */
  form: string;
  description: string;
}

const GENERATOR_KINDS: GeneratorKind[] = [
  { form: "offline:extractive", description: "No model, no network: quotes and cites the best-matching context sentences." },
  {
    form: "openai-compatible:<provider>/<model>",
    description:
      "An endpoint configured under models.providers.<provider> (kind openai or anthropic, base URL, key env var, timeout, retries and rate limits).",
  },
  { form: "openai:<model>", description: "OpenAI API; key from OPENAI_API_KEY, base URL from OPENAI_BASE_URL (default https://api.openai.com/v1)." },
  {
    form: "anthropic:<model>",
    description: "Anthropic Messages API; key from ANTHROPIC_API_KEY, base URL from ANTHROPIC_BASE_URL (default https://api.anthropic.com).",
  },
  { form: "ollama:<model>", description: "Local Ollama server at OLLAMA_HOST (default http://localhost:11434)." },
  {
    form: "llamacpp:<model.gguf>[?lora=<adapter.gguf>]",
    description: "Local GGUF model in-process via the optional node-llama-cpp package, optionally with a LoRA adapter (a fine-tuned variant).",
  },
];

/** Supported generator id forms, for --help text and error messages. */
export function listGeneratorKinds(): GeneratorKind[] {
  return GENERATOR_KINDS.map((k) => ({ ...k }));
}

export interface CreateGeneratorOptions {
  /** Response cache; when given, providers answer from it and record into it. */
  cache?: ResponseCacheBackend;
  /** Folder relative `llamacpp:` paths are resolved against (the project root; default: cwd). */
  baseDir?: string;
  /** Overrides of the retry layer (tests inject clock and random here). */
  resilience?: Pick<ResilienceOptions, "clock" | "random" | "baseDelayMs" | "maxDelayMs" | "maxRetryAfterMs" | "onRetry">;
}

function unsupported(what: string, id: string, reason: string): Error {
  const forms = GENERATOR_KINDS.filter((k) => what === "Generator" || k.form !== "offline:extractive")
    .map((k) => `  ${k.form}`)
    .join("\n");
  return new InputError(`Unsupported ${what.toLowerCase()} "${id}": ${reason}. Supported forms:\n${forms}`);
}

interface Raw {
  provider: ChatProvider;
  /** Which limits apply and who shares them. */
  limits: ProviderLimitsConfig;
  limitKey: string;
  model: string;
}

function rawProvider(what: string, id: string, models: RagtuneConfig["models"], env: NodeJS.ProcessEnv, options: CreateGeneratorOptions): Raw {
  const colon = id.indexOf(":");
  const prefix = colon < 0 ? id : id.slice(0, colon);
  const rest = colon < 0 ? "" : id.slice(colon + 1);
  // Configs built in code may lack `limits`; parsed configs always have it.
  const builtin = models.limits ?? { timeoutMs: 60_000, maxRetries: 4, maxConcurrency: 4 };

  switch (prefix) {
    case "openai-compatible": {
      const ref = resolveProviderRef(what, id, rest, models, env);
      if (!ref) throw unsupported(what, id, "expected openai-compatible:<provider>/<model>");
      const provider =
        ref.kind === "anthropic"
          ? new AnthropicProvider({
              id: `anthropic:${ref.name}/${ref.model}`,
              baseUrl: ref.baseUrl,
              model: ref.model,
              apiKey: ref.apiKey,
              apiKeyEnv: ref.apiKeyEnv,
              timeoutMs: ref.timeoutMs,
            })
          : new OpenAICompatibleProvider({ name: ref.name, baseUrl: ref.baseUrl, model: ref.model, apiKey: ref.apiKey, apiKeyEnv: ref.apiKeyEnv, timeoutMs: ref.timeoutMs });
      return { provider, limits: ref.limits, limitKey: providerLimitKey(ref.name), model: ref.model };
    }
    case "openai": {
      if (!rest) throw unsupported(what, id, "expected openai:<model>");
      const endpoint = openaiEndpoint(what, id, env);
      const provider = new OpenAICompatibleProvider({ name: "openai", model: rest, ...endpoint, apiKeyEnv: "OPENAI_API_KEY", timeoutMs: builtin.timeoutMs });
      return { provider, limits: limitsOf(builtin), limitKey: endpointLimitKey("openai", endpoint.baseUrl), model: rest };
    }
    case "anthropic": {
      if (!rest) throw unsupported(what, id, "expected anthropic:<model>");
      const endpoint = anthropicEndpoint(what, id, env);
      const provider = new AnthropicProvider({ model: rest, ...endpoint, apiKeyEnv: "ANTHROPIC_API_KEY", timeoutMs: builtin.timeoutMs });
      return { provider, limits: limitsOf(builtin), limitKey: endpointLimitKey("anthropic", endpoint.baseUrl), model: rest };
    }
    case "ollama": {
      if (!rest) throw unsupported(what, id, "expected ollama:<model>");
      const endpoint = ollamaEndpoint(env);
      const provider = new OpenAICompatibleProvider({ name: "ollama", model: rest, ...endpoint, timeoutMs: builtin.timeoutMs });
      return { provider, limits: limitsOf(builtin), limitKey: endpointLimitKey("ollama", endpoint.baseUrl), model: rest };
    }
    case "llamacpp": {
      if (!rest.trim()) throw unsupported(what, id, "expected llamacpp:<model.gguf>[?lora=<adapter.gguf>]");
      const ref = parseLlamaCppRef(rest);
      if (!ref.file) throw unsupported(what, id, "expected llamacpp:<model.gguf>[?lora=<adapter.gguf>]");
      const provider = new LlamaCppProvider({ ...ref, baseDir: options.baseDir });
      // In-process: calls take turns anyway; no retries (failures are not transient).
      return { provider, limits: { maxRetries: 0, maxConcurrency: 1 }, limitKey: provider.id, model: provider.model };
    }
    default:
      throw unsupported(what, id, colon < 0 ? "no kind prefix" : `unknown kind "${prefix}"`);
  }
}

function wrap(raw: Raw, options: CreateGeneratorOptions): ChatProvider {
  const resilient = new ResilientProvider(raw.provider, { ...raw.limits, ...options.resilience, key: raw.limitKey });
  return options.cache ? new CachedProvider(resilient, options.cache, { model: raw.model }) : resilient;
}

/**
 * The chat provider behind a model id (not `offline:extractive`), wrapped in retries and limits
 * and, when `options.cache` is set, the response cache. Judges use this.
 */
export function createChatProvider(
  id: string,
  models: RagtuneConfig["models"],
  env: NodeJS.ProcessEnv = process.env,
  options: CreateGeneratorOptions = {},
): ChatProvider {
  const trimmed = id.trim();
  if (trimmed.startsWith("offline:")) throw unsupported("Model", id, "offline generators are not chat models");
  return wrap(rawProvider("Model", trimmed, models, env, options), options);
}

export function createGenerator(
  id: string,
  models: RagtuneConfig["models"],
  answer: RagtuneConfig["answer"],
  env: NodeJS.ProcessEnv = process.env,
  options: CreateGeneratorOptions = {},
): Generator {
  const trimmed = id.trim();
  if (trimmed === "offline:extractive") {
    return new ExtractiveReader({
      minConfidence: answer.minConfidence,
      maxSentences: answer.maxSentences,
      fallbackMessage: answer.fallbackMessage,
      // The reader's own encoder instance: the model itself is loaded once per process and shared.
      ...(answer.semantic === "use-lite" ? { semantic: { encoder: new UseLiteEmbedder() } } : {}),
    });
  }
  const provider = wrap(rawProvider("Generator", trimmed, models, env, options), options);
  // The configured id is kept, so pricing tables keyed by it still match.
  return new LlmGenerator(provider, { id: trimmed, fallbackMessage: answer.fallbackMessage });
}
