/**
 * Generator ids → Generators. The id is what users write in `models.generator` (or pass on the
 * command line); adding a provider kind means one entry in GENERATOR_KINDS and one branch below.
 */
import type { RagtuneConfig } from "../config/schema.ts";
import type { Generator } from "./index.ts";
import { LlmGenerator } from "./llm-generator.ts";
import { ExtractiveReader } from "./offline-extractive.ts";
import { ollamaEndpoint, openaiEndpoint, resolveProviderRef } from "./provider-ref.ts";
import { OpenAICompatibleProvider } from "./openai-compatible.ts";

export interface GeneratorKind {
  /** The id form, e.g. `openai:<model>`. */
  form: string;
  description: string;
}

const GENERATOR_KINDS: GeneratorKind[] = [
  { form: "offline:extractive", description: "No model, no network: quotes and cites the best-matching context sentences." },
  {
    form: "openai-compatible:<provider>/<model>",
    description: "Any OpenAI-compatible endpoint configured under models.providers.<provider> (base URL, key env var, timeout).",
  },
  { form: "openai:<model>", description: "OpenAI API; key from OPENAI_API_KEY, base URL from OPENAI_BASE_URL (default https://api.openai.com/v1)." },
  { form: "ollama:<model>", description: "Local Ollama server at OLLAMA_HOST (default http://localhost:11434)." },
];

/** Supported generator id forms, for --help text and error messages. */
export function listGeneratorKinds(): GeneratorKind[] {
  return GENERATOR_KINDS.map((k) => ({ ...k }));
}

function unsupported(id: string, reason: string): Error {
  const forms = GENERATOR_KINDS.map((k) => `  ${k.form}`).join("\n");
  return new Error(`Unsupported generator "${id}": ${reason}. Supported forms:\n${forms}`);
}

export function createGenerator(
  id: string,
  models: RagtuneConfig["models"],
  answer: RagtuneConfig["answer"],
  env: NodeJS.ProcessEnv = process.env,
): Generator {
  const trimmed = id.trim();
  if (trimmed === "offline:extractive") {
    return new ExtractiveReader({
      minConfidence: answer.minConfidence,
      maxSentences: answer.maxSentences,
      fallbackMessage: answer.fallbackMessage,
    });
  }

  const colon = trimmed.indexOf(":");
  const prefix = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const rest = colon < 0 ? "" : trimmed.slice(colon + 1);
  const llm = (provider: OpenAICompatibleProvider) => new LlmGenerator(provider, { id: trimmed, fallbackMessage: answer.fallbackMessage });

  switch (prefix) {
    case "openai-compatible": {
      const ref = resolveProviderRef("Generator", id, rest, models, env);
      if (!ref) throw unsupported(id, "expected openai-compatible:<provider>/<model>");
      return llm(new OpenAICompatibleProvider({ name: ref.name, baseUrl: ref.baseUrl, model: ref.model, apiKey: ref.apiKey, timeoutMs: ref.timeoutMs }));
    }
    case "openai": {
      if (!rest) throw unsupported(id, "expected openai:<model>");
      return llm(new OpenAICompatibleProvider({ name: "openai", model: rest, ...openaiEndpoint("Generator", id, env) }));
    }
    case "ollama": {
      if (!rest) throw unsupported(id, "expected ollama:<model>");
      return llm(new OpenAICompatibleProvider({ name: "ollama", model: rest, ...ollamaEndpoint(env) }));
    }
    default:
      throw unsupported(id, colon < 0 ? "no kind prefix" : `unknown kind "${prefix}"`);
  }
}
