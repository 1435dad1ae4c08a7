/**
 * Hand-built run summaries for decision tests: per-query token counts that cost exactly the
 * fixture's per-query dollars at PLAIN_PRICES, so the cost model (tokens × price) reproduces
 * the figures the tests state. PLAIN_PRICES declares gpt-4.1-mini without prompt-cache,
 * fine-tuned or training prices, so those parts of the model stay out of rule tests.
 */
export const PLAIN_PRICES = { "openai:gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 } };

const OUTPUT_TOKENS = 20;

/** Mean input/output tokens per query that cost `usd` at PLAIN_PRICES. */
export function tokensFor(usd: number): { inputTokens: number; outputTokens: number } {
  const out = Math.min(OUTPUT_TOKENS, (usd * 1e6) / 1.6);
  return { inputTokens: Math.max(0, (usd * 1e6 - out * 1.6) / 0.4), outputTokens: out };
}
