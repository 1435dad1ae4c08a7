/**
 * The figures the cost model multiplies, each with where it came from: measured in the run,
 * declared in ragtune.yaml, or read from the price table (models/prices.ts). A figure that is
 * none of these (a fallback when nothing better is known) is marked estimated and says why, so a
 * reader can tell a measurement from an assumption in every cost line.
 */
import type { RagtuneConfig } from "../config/schema.ts";
import type { CaseResult, RunSummary, VariantSummary } from "../evaluate/types.ts";
import { PRICES_AS_OF, embedderPriceFor, priceFor, type Price } from "../models/prices.ts";
import { countTokens } from "../models/tokens.ts";
import type { CostFigure } from "./types.ts";

type Pricing = RagtuneConfig["pricing"];
type Constraints = RagtuneConfig["constraints"];

/** What the cost model reads from the config. Keys with a schema default may be absent (summaries built by hand, older configs). */
export interface CostConfig {
  constraints: Omit<Constraints, "knowledgeChangeShare"> & Partial<Pick<Constraints, "knowledgeChangeShare">>;
  pricing: Pick<Pricing, "asOf" | "models" | "referenceModel" | "vectorStoreMonthlyUsd"> &
    Partial<Pick<Pricing, "fineTuneTrainingUsd" | "trainingEpochs" | "dataPreparationUsd" | "retrainsPerYear" | "promptCacheTtlMinutes">>;
  retrieval?: { mode?: string };
  models?: { embedder?: string };
}

/** Schema defaults, for configs that do not carry them. */
export const COST_DEFAULTS = { trainingEpochs: 3, dataPreparationUsd: 0, promptCacheTtlMinutes: 5, knowledgeChangeShare: 0.1 } as const;

/** Changes per year for each `constraints.knowledgeChange` value: re-indexes, and retrains of a model that holds knowledge. */
export const CHANGES_PER_YEAR: Readonly<Record<Constraints["knowledgeChange"], number>> = { never: 0, yearly: 1, monthly: 12, weekly: 52, daily: 365 };

/** Used only when the run has no prompt-only tokens to measure a training example by. */
const FALLBACK_TOKENS_PER_EXAMPLE = 200;
/** Used only when no training price is known for the model and none is declared. */
export const FALLBACK_TRAINING_USD = 50;
/** Fine-tuning needs this many examples (decide/evidence.ts THRESHOLDS.minLabels); a projection never trains on fewer. */
export const MIN_TRAINING_EXAMPLES = 300;

export function figure(label: string, value: number, unit: string, source: CostFigure["source"], from: string): CostFigure {
  return { label, value, unit, source, from };
}

/** A price with where it came from: an override in pricing.models (declared) or the built-in table. */
export interface SourcedPrice {
  id: string;
  price: Price;
  source: "declared" | "price-table";
  from: string;
}

function sourced(id: string, config: CostConfig, lookup: (id: string, o: Record<string, Price>) => Price | undefined): SourcedPrice | undefined {
  const price = lookup(id, config.pricing.models);
  if (!price) return undefined;
  const builtIn = lookup(id, {});
  const declared = price !== builtIn;
  const from = declared ? `ragtune.yaml pricing.models (${id})` : isFree(price) ? `${id} runs locally (no per-token bill)` : `built-in price table of ${PRICES_AS_OF} (${id})`;
  return { id, price, source: declared ? "declared" : "price-table", from };
}

const isFree = (p: Price) => p.inputPerMTok === 0 && p.outputPerMTok === 0;

/**
 * The price a variant's tokens are billed at: its own generator's when that has a price (a real
 * LLM run), else the reference model's (a projection: the offline reader costs nothing, so its
 * tokens are priced as if a real model served them).
 */
export function generationPrice(v: VariantSummary, config: CostConfig): (SourcedPrice & { projected: boolean }) | undefined {
  const own = v.generator ? sourced(v.generator, config, priceFor) : undefined;
  if (own && !isFree(own.price)) return { ...own, projected: false };
  const ref = sourced(config.pricing.referenceModel, config, priceFor);
  return ref ? { ...ref, projected: true } : undefined;
}

export function embedderPrice(config: CostConfig): SourcedPrice | undefined {
  const id = config.models?.embedder;
  if (!id || id === "none") return undefined;
  return sourced(id, config, embedderPriceFor);
}

/** Whether rag/hybrid embed queries and documents (dense or hybrid retrieval with an embedder). */
export function usesEmbeddings(config: CostConfig): boolean {
  const mode = config.retrieval?.mode ?? "lexical";
  return mode !== "lexical" && !!config.models?.embedder && config.models.embedder !== "none";
}

/** Per cases array and variant: the sensitivity search decides the same run dozens of times. */
const queryTokenCache = new WeakMap<CaseResult[], Map<string, CostFigure>>();

/** Mean tokens of the questions a variant was asked (what a query embedding costs). */
export function queryTokens(cases: CaseResult[], variant: string): CostFigure {
  let byVariant = queryTokenCache.get(cases);
  if (!byVariant) queryTokenCache.set(cases, (byVariant = new Map()));
  const hit = byVariant.get(variant);
  if (hit) return hit;
  const f = measureQueryTokens(cases, variant);
  byVariant.set(variant, f);
  return f;
}

function measureQueryTokens(cases: CaseResult[], variant: string): CostFigure {
  const inputs = cases.filter((c) => c.variant === variant).map((c) => c.input);
  if (!inputs.length) return figure("query tokens", 30, "tokens/query", "estimated", "no per-case results; a typical short question");
  const mean = inputs.reduce((a, s) => a + countTokens(s), 0) / inputs.length;
  return figure("query tokens", Math.round(mean * 10) / 10, "tokens/query", "measured", `mean over ${inputs.length} ${variant} questions`);
}

export function corpusTokens(summary: RunSummary): CostFigure {
  const c = summary.corpus;
  if (!c) return figure("corpus tokens", 0, "tokens", "estimated", "the run records no corpus size");
  return figure("corpus tokens", c.tokens, "tokens", "measured", `index of run ${summary.runId} (${fmt(c.chunks)} chunks)`);
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** `declared` when the value differs from the schema default, else "config default". */
function declaredFrom(key: string, value: number | undefined, fallback: number): { value: number; from: string } {
  return value === undefined ? { value: fallback, from: `${key} not set (default ${fallback})` } : { value, from: `ragtune.yaml ${key}` };
}

export function knowledgeChangeShare(config: CostConfig): CostFigure {
  const d = declaredFrom("constraints.knowledgeChangeShare", config.constraints.knowledgeChangeShare, COST_DEFAULTS.knowledgeChangeShare);
  return figure("share of the corpus re-embedded per change", d.value, "share", "declared", d.from);
}

export function changesPerYear(config: CostConfig): CostFigure {
  const k = config.constraints.knowledgeChange;
  return figure("knowledge changes per year", CHANGES_PER_YEAR[k], "per year", "declared", `constraints.knowledgeChange: ${k}`);
}

/**
 * Retrains per year: declared, or from the knowledge cadence for fine-tuned (its weights hold the
 * facts, so every change needs a new run) and yearly for hybrid (its model learns behaviour; the
 * facts come from retrieval).
 */
export function retrainsPerYear(variant: string, config: CostConfig): CostFigure {
  const declared = config.pricing.retrainsPerYear;
  if (declared !== undefined) return figure("retrains per year", declared, "per year", "declared", "ragtune.yaml pricing.retrainsPerYear");
  if (variant === "hybrid") return figure("retrains per year", 1, "per year", "declared", "pricing.retrainsPerYear not set: hybrid's model learns behaviour, retrained yearly");
  const k = config.constraints.knowledgeChange;
  return figure("retrains per year", Math.max(1, CHANGES_PER_YEAR[k]), "per year", "declared", `constraints.knowledgeChange: ${k} (a fine-tuned model holding the facts is retrained at every change)`);
}

export function trainingEpochs(config: CostConfig): CostFigure {
  const d = declaredFrom("pricing.trainingEpochs", config.pricing.trainingEpochs, COST_DEFAULTS.trainingEpochs);
  return figure("epochs", d.value, "epochs", "declared", d.from);
}

export function dataPreparationUsd(config: CostConfig): CostFigure {
  const d = declaredFrom("pricing.dataPreparationUsd", config.pricing.dataPreparationUsd, COST_DEFAULTS.dataPreparationUsd);
  return figure("data preparation per run", d.value, "USD", "declared", d.from);
}

export function cacheTtlMinutes(config: CostConfig): CostFigure {
  const d = declaredFrom("pricing.promptCacheTtlMinutes", config.pricing.promptCacheTtlMinutes, COST_DEFAULTS.promptCacheTtlMinutes);
  return figure("prompt-cache lifetime", d.value, "minutes", "declared", d.from);
}

/** Examples one training run learns from: the promoted models' (registry), else the declared count (at least the minimum). */
export function trainingExamples(summary: RunSummary, config: CostConfig): CostFigure {
  const models = summary.finetunedModels?.filter((m) => typeof m.examples === "number") ?? [];
  if (models.length) {
    const n = models.reduce((a, m) => a + (m.examples ?? 0), 0);
    return figure("training examples", n, "examples", "measured", `model registry: ${models.map((m) => `${m.id} (${m.examples})`).join(", ")}`);
  }
  const declared = config.constraints.labelledExamples;
  if (declared >= MIN_TRAINING_EXAMPLES) return figure("training examples", declared, "examples", "declared", "constraints.labelledExamples");
  return figure("training examples", MIN_TRAINING_EXAMPLES, "examples", "estimated", `constraints.labelledExamples is ${declared}; priced at the ${MIN_TRAINING_EXAMPLES} fine-tuning needs`);
}

/** Tokens of one training example: a prompt-only call is the same shape (instructions + question + answer). */
export function tokensPerExample(summary: RunSummary): CostFigure {
  const po = summary.variants.find((v) => v.name === "prompt-only");
  const t = po ? po.perQuery.inputTokens + po.perQuery.outputTokens : 0;
  if (t > 0) return figure("tokens per example", Math.round(t), "tokens", "measured", "prompt-only input + output tokens per case");
  return figure("tokens per example", FALLBACK_TOKENS_PER_EXAMPLE, "tokens", "estimated", "no prompt-only tokens measured");
}

/** The packed corpus prefix long-context repeats in every prompt (what a prompt cache can hold). */
export function packedContextTokens(v: VariantSummary): CostFigure | undefined {
  const packed = v.context?.packedTokens;
  if (!packed) return undefined;
  return figure("corpus tokens packed per prompt", Math.min(packed, v.perQuery.inputTokens || packed), "tokens/query", "measured", "long-context packing of this run");
}
