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
}

/** Date the built-in table was checked against the vendors' public price pages. */
export const PRICES_AS_OF = "2025-06-01";

/** Keyed by generator id (`<provider>:<model>`). */
export const BUILTIN_PRICES: Readonly<Record<string, Price>> = {
  "openai:gpt-4.1": { inputPerMTok: 2.0, outputPerMTok: 8.0 },
  "openai:gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  "openai:gpt-4.1-nano": { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  "openai:gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10.0 },
  "openai:gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  "anthropic:claude-sonnet-4": { inputPerMTok: 3.0, outputPerMTok: 15.0 },
  "anthropic:claude-haiku-3.5": { inputPerMTok: 0.8, outputPerMTok: 4.0 },
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
