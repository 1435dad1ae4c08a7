/**
 * Built-in model prices for cost estimates and projections.
 *
 * These are public list prices (standard tier, no batch/caching discounts) as published by the
 * vendors on PRICES_AS_OF. Prices change: users override or add models in `pricing.models` of
 * ragtune.yaml (keyed by generator id or bare model name), and that override always wins.
 */
import type { Usage } from "./index.ts";

export interface Price {
  /** USD per 1M input tokens. */
  inputPerMTok: number;
  /** USD per 1M output tokens. */
  outputPerMTok: number;
  /** USD per 1M input tokens read from the provider's prompt cache (absent: the provider has no prompt cache). */
  cachedInputPerMTok?: number;
  /** USD per 1M tokens written to the prompt cache (absent: a cache write costs the normal input price). */
  cacheWritePerMTok?: number;
  /** USD per 1M training tokens (tokens × epochs) when fine-tuning this model (absent: not offered or unknown). */
  trainingPerMTok?: number;
  /** USD per 1M input tokens for inference on a fine-tuned copy (absent: as the base model). */
  fineTunedInputPerMTok?: number;
  /** USD per 1M output tokens for inference on a fine-tuned copy (absent: as the base model). */
  fineTunedOutputPerMTok?: number;
}

/** Date the built-in table was checked against the vendors' public price pages. */
export const PRICES_AS_OF = "2025-06-01";

/**
 * Keyed by generator or embedder id (`<provider>:<model>`). OpenAI's prompt cache is automatic:
 * reads at a discount, writes at the normal input price. Anthropic's cache writes cost 1.25× input
 * and reads 0.1×. Fine-tuning prices are OpenAI's supervised fine-tuning list prices; Anthropic
 * offers no public fine-tuning API, so its entries have none.
 */
export const BUILTIN_PRICES: Readonly<Record<string, Price>> = {
  "openai:gpt-4.1": { inputPerMTok: 2.0, outputPerMTok: 8.0, cachedInputPerMTok: 0.5, trainingPerMTok: 25, fineTunedInputPerMTok: 3.0, fineTunedOutputPerMTok: 12.0 },
  "openai:gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6, cachedInputPerMTok: 0.1, trainingPerMTok: 5, fineTunedInputPerMTok: 0.8, fineTunedOutputPerMTok: 3.2 },
  "openai:gpt-4.1-nano": { inputPerMTok: 0.1, outputPerMTok: 0.4, cachedInputPerMTok: 0.025, trainingPerMTok: 1.5, fineTunedInputPerMTok: 0.2, fineTunedOutputPerMTok: 0.8 },
  "openai:gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10.0, cachedInputPerMTok: 1.25, trainingPerMTok: 25, fineTunedInputPerMTok: 3.75, fineTunedOutputPerMTok: 15.0 },
  "openai:gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6, cachedInputPerMTok: 0.075, trainingPerMTok: 3, fineTunedInputPerMTok: 0.3, fineTunedOutputPerMTok: 1.2 },
  "anthropic:claude-sonnet-4": { inputPerMTok: 3.0, outputPerMTok: 15.0, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 },
  "anthropic:claude-haiku-3.5": { inputPerMTok: 0.8, outputPerMTok: 4.0, cachedInputPerMTok: 0.08, cacheWritePerMTok: 1.0 },
  "openai:text-embedding-3-small": { inputPerMTok: 0.02, outputPerMTok: 0 },
  "openai:text-embedding-3-large": { inputPerMTok: 0.13, outputPerMTok: 0 },
  "openai:text-embedding-ada-002": { inputPerMTok: 0.1, outputPerMTok: 0 },
};

const FREE: Price = { inputPerMTok: 0, outputPerMTok: 0 };

/** Generators that run locally: no per-token bill (hardware is not modelled). */
const LOCAL_PREFIXES = ["offline:", "ollama:", "llamacpp:"];

/**
 * Vendor spellings that name the same model as a table key. Anthropic's API ids put the version
 * before the tier ("claude-3-5-haiku"), and both vendors append snapshot dates.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "claude-3-5-haiku": "claude-haiku-3.5",
  "claude-3.5-haiku": "claude-haiku-3.5",
  "claude-haiku-3-5": "claude-haiku-3.5",
  "claude-sonnet-4-0": "claude-sonnet-4",
  "claude-4-sonnet": "claude-sonnet-4",
};

/** The model name of a generator id: after the provider prefix and any `<endpoint>/` segment. */
export function modelName(modelId: string): string {
  const afterPrefix = modelId.includes(":") ? modelId.slice(modelId.indexOf(":") + 1) : modelId;
  const name = afterPrefix.slice(afterPrefix.lastIndexOf("/") + 1).toLowerCase();
  // Snapshot suffixes (gpt-4.1-mini-2025-04-14, claude-sonnet-4-20250514, …-latest) price like the base model.
  const base = name.replace(/-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/, "");
  return Object.hasOwn(ALIASES, base) ? ALIASES[base] : base;
}

/**
 * Price of a generator: override (exact id, then bare model name) > built-in exact id > built-in
 * by model name (so `openai-compatible:work/gpt-4.1-mini` prices as gpt-4.1-mini). Local
 * generators cost 0. Undefined when unknown — callers report cost as unknown rather than guess.
 */
export function priceFor(modelId: string, overrides: Record<string, Price> = {}): Price | undefined {
  if (Object.hasOwn(overrides, modelId)) return overrides[modelId];
  const name = modelName(modelId);
  for (const [key, price] of Object.entries(overrides)) {
    if (key.toLowerCase() === name || modelName(key) === name) return price;
  }
  if (LOCAL_PREFIXES.some((p) => modelId.startsWith(p))) return FREE;
  // An OpenAI-compatible endpoint the user named after a local server is local too.
  if (/^openai-compatible:(ollama|llamacpp|llama\.cpp)\//i.test(modelId)) return FREE;
  if (Object.hasOwn(BUILTIN_PRICES, modelId)) return BUILTIN_PRICES[modelId];
  for (const [key, price] of Object.entries(BUILTIN_PRICES)) {
    if (modelName(key) === name) return price;
  }
  return undefined;
}

/** USD for the given token usage at a price. */
export function costUsd(usage: Usage, price: Price): number {
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000;
}

/** Embedders that run in-process or locally: no per-token bill. */
const LOCAL_EMBEDDERS = /^(none|hashing(:\d+)?|use-lite|onnx:.*|gguf:.*|ollama:.*)$/;

/**
 * Price of an embedder id (the `models.embedder` value): local embedders cost 0, API embedders are
 * priced like generators (override, then built-in table). Undefined when unknown.
 */
export function embedderPriceFor(embedderId: string, overrides: Record<string, Price> = {}): Price | undefined {
  if (LOCAL_EMBEDDERS.test(embedderId.trim())) return FREE;
  return priceFor(embedderId, overrides);
}
