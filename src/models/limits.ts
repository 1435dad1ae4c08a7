/**
 * Context windows of known models, for the long-context variant's `budgetTokens: auto`. Looked up
 * by the model name (after the provider prefix, snapshot dates removed — see prices.ts `modelName`).
 * Unknown models get DEFAULT_CONTEXT_TOKENS: a budget we can defend without knowing the model,
 * not a guess at its real window. Users with a bigger window set `longContext.budgetTokens`.
 */
import { modelName } from "./prices.ts";

/** Budget for models whose window we do not know, and for the offline reader. */
export const DEFAULT_CONTEXT_TOKENS = 32_000;

const CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  "gpt-4.1": 1_047_576,
  "gpt-4.1-mini": 1_047_576,
  "gpt-4.1-nano": 1_047_576,
  "gpt-4o": 128_000,
  "gpt-4o-mini": 128_000,
  "gpt-5": 400_000,
  "gpt-5-mini": 400_000,
  "gpt-5-nano": 400_000,
  "claude-sonnet-4": 200_000,
  "claude-sonnet-4.5": 200_000,
  "claude-opus-4": 200_000,
  "claude-opus-4.1": 200_000,
  "claude-haiku-3.5": 200_000,
  "claude-haiku-4.5": 200_000,
  "llama3.1": 128_000,
  "llama3.2": 128_000,
  "qwen2.5": 32_768,
  "mistral": 32_768,
};

/** Context window in tokens of a generator id, or undefined when unknown. */
export function contextWindow(generatorId: string): number | undefined {
  if (generatorId.startsWith("offline:")) return undefined;
  const name = modelName(generatorId).replace(/:.*$/, ""); // ollama tags: llama3.2:3b
  return Object.hasOwn(CONTEXT_WINDOWS, name) ? CONTEXT_WINDOWS[name] : undefined;
}

/**
 * The long-context packing budget: a number as configured, or for "auto" the generator's window
 * minus the reserve (DEFAULT_CONTEXT_TOKENS when the window is unknown).
 */
export function longContextBudget(budget: number | "auto", reserve: number, generatorId: string): { tokens: number; source: string } {
  if (budget !== "auto") return { tokens: budget, source: "longContext.budgetTokens" };
  const window = contextWindow(generatorId);
  if (window === undefined) return { tokens: DEFAULT_CONTEXT_TOKENS, source: `default (context window of ${generatorId} unknown)` };
  return { tokens: Math.max(256, window - reserve), source: `${generatorId} context window ${window} − ${reserve} reserved` };
}
