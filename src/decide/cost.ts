/**
 * The cost model behind recommendations (docs/decision.md §5). For each option:
 *
 *   monthly(q) = perQuery(q) × q × 30 + fixed
 *
 * - per query: the run's measured tokens × the generator's price (the reference model's for
 *   offline runs: a projection), + query embedding for dense retrieval; long-context reads its
 *   corpus prefix from the prompt cache where the provider has one, and pays the cache write when the
 *   cache has expired between queries (share exp(−q × ttl / 1440) under Poisson arrivals).
 * - fixed, rag: vector store + corpus embedding (amortised over 12 months) + re-embedding the
 *   changed share of the corpus at every knowledge change.
 * - fixed, fine-tuned: (training tokens × epochs × training price + data preparation) × retrains
 *   per year / 12; inference at the fine-tuned price. hybrid = rag's fixed costs + its training.
 *
 * Every figure says where it came from (cost-inputs.ts). Break-even volumes are found numerically,
 * since the prompt cache makes long-context's cost non-linear in volume.
 */
import type { CaseResult, RunSummary, VariantSummary } from "../evaluate/types.ts";
import type { CostItem, Decision, VariantCost } from "./types.ts";
import {
  CHANGES_PER_YEAR,
  FALLBACK_TRAINING_USD,
  cacheTtlMinutes,
  changesPerYear,
  corpusTokens,
  dataPreparationUsd,
  embedderPrice,
  figure,
  generationPrice,
  knowledgeChangeShare,
  packedContextTokens,
  queryTokens,
  retrainsPerYear,
  tokensPerExample,
  trainingEpochs,
  trainingExamples,
  usesEmbeddings,
  type CostConfig,
} from "./cost-inputs.ts";

export { type CostConfig } from "./cost-inputs.ts";
export const DAYS_PER_MONTH = 30;
/** One-off costs (the first full embedding of the corpus) are spread over a year. */
export const AMORTISATION_MONTHS = 12;

export type BreakEven = Decision["breakEven"][number];
/** Kept for callers that used the detailed type: every VariantCost now carries the detail. */
export type VariantCostDetail = VariantCost;

const RETRIEVAL_VARIANTS = new Set(["rag", "hybrid"]);
const TRAINED_VARIANTS = new Set(["fine-tuned", "hybrid"]);
const PER_M = 1_000_000;

const tok = (n: number) => `${fmtCount(n)} tokens`;
const perM = (x: number) => `${usd(x)}/MTok`;

/** Expected share of queries that find the prompt cache expired, at q queries/day. */
export function cacheMissShare(queriesPerDay: number, ttlMinutes: number): number {
  if (ttlMinutes <= 0) return 1;
  return Math.exp((-queriesPerDay * ttlMinutes) / 1440);
}

/** Per-query cost of an option at a volume (differs from perQueryUsd only with a prompt cache). */
export function perQueryAt(c: Pick<VariantCost, "perQueryUsd" | "promptCache">, queriesPerDay: number): number {
  const pc = c.promptCache;
  return pc ? pc.basePerQueryUsd + pc.missUsd * cacheMissShare(queriesPerDay, pc.ttlMinutes) : c.perQueryUsd;
}

/** Monthly cost of an option at a volume. */
export function monthlyAt(c: Pick<VariantCost, "perQueryUsd" | "promptCache" | "fixedMonthlyUsd">, queriesPerDay: number): number {
  return perQueryAt(c, queriesPerDay) * queriesPerDay * DAYS_PER_MONTH + c.fixedMonthlyUsd;
}

/** perQuery × volume × 30 + fixed, for a linear option. */
export function monthlyUsd(perQueryUsd: number, queriesPerDay: number, fixed: number): number {
  return perQueryUsd * queriesPerDay * DAYS_PER_MONTH + fixed;
}

/** Generation: measured tokens × price, or the run's recorded cost when it has no token counts. */
function generationItems(v: VariantSummary, config: CostConfig, trained: boolean): { items: CostItem[]; pricedAs?: VariantCost["pricedAs"]; promptCache?: VariantCost["promptCache"] } {
  const sp = generationPrice(v, config);
  const inTok = v.perQuery.inputTokens;
  const outTok = v.perQuery.outputTokens;
  const tokens = [figure("input tokens", inTok, "tokens/query", "measured", `${v.name}, mean over ${v.cases} cases`), figure("output tokens", outTok, "tokens/query", "measured", `${v.name}, mean over ${v.cases} cases`)];
  if (!sp || inTok + outTok === 0) {
    const recorded = v.perQuery.projectedCostUsd > 0 ? v.perQuery.projectedCostUsd : v.perQuery.costUsd;
    const from = v.perQuery.projectedCostUsd > 0 ? "the run's projected cost per case" : "the run's own cost per case";
    return { items: [{ component: "generation", per: "query", usd: recorded, formula: `${usd(recorded)}/query (${from})`, figures: [figure("cost per query", recorded, "USD", "measured", `${v.name}: ${from}`)] }] };
  }
  const p = sp.price;
  const inPrice = trained ? p.fineTunedInputPerMTok ?? p.inputPerMTok : p.inputPerMTok;
  const outPrice = trained ? p.fineTunedOutputPerMTok ?? p.outputPerMTok : p.outputPerMTok;
  const priceFrom = `${sp.from}${trained ? (p.fineTunedInputPerMTok !== undefined ? ", fine-tuned inference" : ", no fine-tuned price known: base price") : ""}`;
  const prices = [figure("input price", inPrice, "USD/MTok", sp.source, priceFrom), figure("output price", outPrice, "USD/MTok", sp.source, priceFrom)];
  const pricedAs = { model: sp.id, projected: sp.projected };
  const packed = v.name === "long-context" ? packedContextTokens(v) : undefined;
  if (packed && p.cachedInputPerMTok !== undefined && !trained) {
    const cached = packed.value;
    const base = ((inTok - cached) * inPrice + cached * p.cachedInputPerMTok + outTok * outPrice) / PER_M;
    const write = p.cacheWritePerMTok ?? inPrice;
    const missUsd = (cached * (write - p.cachedInputPerMTok)) / PER_M;
    const ttl = cacheTtlMinutes(config);
    const share = cacheMissShare(config.constraints.queriesPerDay, ttl.value);
    const cachePrices = [
      figure("cached input price", p.cachedInputPerMTok, "USD/MTok", sp.source, sp.from),
      figure("cache write price", write, "USD/MTok", sp.source, p.cacheWritePerMTok === undefined ? `${sp.from}: writes at the input price` : sp.from),
    ];
    return {
      pricedAs,
      promptCache: { basePerQueryUsd: base, missUsd, ttlMinutes: ttl.value },
      items: [
        {
          component: "generation (corpus prefix read from the prompt cache)",
          per: "query",
          usd: base,
          formula: `(${tok(inTok - cached)} × ${perM(inPrice)} + ${tok(cached)} cached × ${perM(p.cachedInputPerMTok)} + ${tok(outTok)} × ${perM(outPrice)}) / 1M = ${usd(base)}`,
          figures: [...tokens, packed, ...prices, cachePrices[0]],
        },
        {
          component: "prompt-cache writes",
          per: "query",
          usd: missUsd * share,
          formula: `${tok(cached)} × (${perM(write)} − ${perM(p.cachedInputPerMTok)}) = ${usd(missUsd)} per expired cache × ${(share * 100).toFixed(share < 0.01 ? 2 : 1)}% of queries (exp(−${fmtCount(config.constraints.queriesPerDay)}/day × ${ttl.value} min / 1440))`,
          figures: [packed, cachePrices[1], ttl, figure("queries per day", config.constraints.queriesPerDay, "queries/day", "declared", "constraints.queriesPerDay")],
        },
      ],
    };
  }
  const u = (inTok * inPrice + outTok * outPrice) / PER_M;
  const noCache = v.name === "long-context" && packed && !trained ? `; ${sp.id} has no prompt-cache price, so the corpus is billed in full every query` : "";
  return {
    pricedAs,
    items: [{ component: "generation", per: "query", usd: u, formula: `(${tok(inTok)} × ${perM(inPrice)} + ${tok(outTok)} × ${perM(outPrice)}) / 1M = ${usd(u)}${noCache}`, figures: [...tokens, ...prices] }],
  };
}

/** rag's retrieval costs: query embedding (per query), vector store, corpus embedding, re-indexing (per month). */
function retrievalItems(summary: RunSummary, cases: CaseResult[], config: CostConfig, variant: string): CostItem[] {
  const store = figure("vector store", config.pricing.vectorStoreMonthlyUsd, "USD/month", "declared", "ragtune.yaml pricing.vectorStoreMonthlyUsd");
  const items: CostItem[] = [{ component: "vector store", per: "month", usd: store.value, formula: `${usd(store.value)}/month`, figures: [store] }];
  const ep = usesEmbeddings(config) ? embedderPrice(config) : undefined;
  if (!usesEmbeddings(config)) {
    items.push({ component: "embedding", per: "month", usd: 0, formula: `$0: retrieval.mode is ${config.retrieval?.mode ?? "lexical"} (BM25 needs no embeddings)`, figures: [] });
    return items;
  }
  if (!ep) {
    items.push({ component: "embedding", per: "month", usd: 0, formula: `unknown: no price for embedder ${config.models?.embedder}; add it to pricing.models`, figures: [] });
    return items;
  }
  const corpus = corpusTokens(summary);
  const price = figure("embedding price", ep.price.inputPerMTok, "USD/MTok", ep.source, ep.from);
  const q = queryTokens(cases, variant);
  const perQuery = (q.value * price.value) / PER_M;
  const ingest = (corpus.value * price.value) / PER_M / AMORTISATION_MONTHS;
  const changes = changesPerYear(config);
  const share = knowledgeChangeShare(config);
  const reindex = ((changes.value / 12) * share.value * corpus.value * price.value) / PER_M;
  items.push(
    { component: "query embedding", per: "query", usd: perQuery, formula: `${tok(q.value)} × ${perM(price.value)} = ${usd(perQuery)}`, figures: [q, price] },
    { component: "corpus embedding (one-off, over 12 months)", per: "month", usd: ingest, formula: `${tok(corpus.value)} × ${perM(price.value)} / 12 = ${usd(ingest)}/month`, figures: [corpus, price] },
    {
      component: "re-indexing",
      per: "month",
      usd: reindex,
      formula: `${fmtCount(changes.value)} changes/year / 12 × ${Math.round(share.value * 100)}% of ${tok(corpus.value)} × ${perM(price.value)} = ${usd(reindex)}/month`,
      figures: [changes, share, corpus, price],
    },
  );
  return items;
}

/** Training: (examples × tokens × epochs × training price + data preparation) × retrains per year / 12. */
function trainingItems(summary: RunSummary, config: CostConfig, variant: string, sp: ReturnType<typeof generationPrice>): CostItem[] {
  const retrains = retrainsPerYear(variant, config);
  const prep = dataPreparationUsd(config);
  let perRun: number;
  let formula: string;
  const figures = [retrains];
  if (config.pricing.fineTuneTrainingUsd !== undefined) {
    perRun = config.pricing.fineTuneTrainingUsd;
    figures.push(figure("training run", perRun, "USD", "declared", "ragtune.yaml pricing.fineTuneTrainingUsd"));
    formula = `${usd(perRun)} per run (declared)`;
  } else if (sp?.price.trainingPerMTok !== undefined) {
    const n = trainingExamples(summary, config);
    const t = tokensPerExample(summary);
    const epochs = trainingEpochs(config);
    const price = figure("training price", sp.price.trainingPerMTok, "USD/MTok", sp.source, sp.from);
    perRun = (n.value * t.value * epochs.value * price.value) / PER_M;
    figures.push(n, t, epochs, price);
    formula = `${fmtCount(n.value)} examples × ${tok(t.value)} × ${epochs.value} epochs × ${perM(price.value)} = ${usd(perRun)} per run`;
  } else {
    perRun = FALLBACK_TRAINING_USD;
    figures.push(figure("training run", perRun, "USD", "estimated", `no training price known for ${sp?.id ?? "the reference model"}: set pricing.fineTuneTrainingUsd or pricing.models[…].trainingPerMTok`));
    formula = `${usd(perRun)} per run (estimated: no training price known)`;
  }
  figures.push(prep);
  const monthly = ((perRun + prep.value) * retrains.value) / 12;
  return [
    {
      component: "training",
      per: "month",
      usd: monthly,
      formula: `(${formula} + ${usd(prep.value)} data preparation) × ${fmtCount(retrains.value)} runs/year / 12 = ${usd(monthly)}/month`,
      figures,
    },
  ];
}

function assemble(
  variant: string,
  items: CostItem[],
  p95: number,
  config: CostConfig,
  extra: Pick<VariantCost, "measured" | "basis" | "pricedAs" | "promptCache">,
): VariantCost {
  const { queriesPerDay, monthlyBudgetUsd, p95LatencyMs } = config.constraints;
  const perQuery = items.filter((i) => i.per === "query").reduce((a, i) => a + i.usd, 0);
  const fixed = items.filter((i) => i.per === "month").reduce((a, i) => a + i.usd, 0);
  const promptCache = extra.promptCache && { ...extra.promptCache, basePerQueryUsd: perQuery - extra.promptCache.missUsd * cacheMissShare(queriesPerDay, extra.promptCache.ttlMinutes) };
  const monthly = monthlyUsd(perQuery, queriesPerDay, fixed);
  const out: VariantCost = {
    variant,
    perQueryUsd: perQuery,
    monthlyUsd: monthly,
    fixedMonthlyUsd: fixed,
    withinBudget: monthlyBudgetUsd === undefined ? null : monthly <= monthlyBudgetUsd,
    p95LatencyMs: p95,
    withinLatency: p95LatencyMs === undefined ? null : p95 <= p95LatencyMs,
    measured: extra.measured,
    items,
  };
  if (extra.basis) out.basis = extra.basis;
  if (extra.pricedAs) out.pricedAs = extra.pricedAs;
  if (promptCache) out.promptCache = promptCache;
  return out;
}

/**
 * The cost of one variant: `like` is the measured variant whose tokens and latency it is priced
 * by (itself when measured; prompt-only for an unmeasured fine-tuned, rag for hybrid).
 */
function costOf(name: string, like: VariantSummary, summary: RunSummary, cases: CaseResult[], config: CostConfig, measured: boolean): VariantCost {
  const trained = TRAINED_VARIANTS.has(name);
  const gen = generationItems(like, config, trained);
  const items = [...gen.items];
  if (RETRIEVAL_VARIANTS.has(name)) items.push(...retrievalItems(summary, cases, config, like.name));
  if (trained) items.push(...trainingItems(summary, config, name, generationPrice(like, config)));
  const basis = measured ? undefined : `estimated from ${like.name}'s measured tokens and latency, priced as a fine-tuned model, plus training`;
  return assemble(name, items, like.latencyMs.p95, config, { measured, ...(basis ? { basis } : {}), ...(gen.pricedAs ? { pricedAs: gen.pricedAs } : {}), ...(gen.promptCache ? { promptCache: gen.promptCache } : {}) });
}

export function variantCost(v: VariantSummary, config: CostConfig, summary?: RunSummary, cases: CaseResult[] = []): VariantCost {
  return costOf(v.name, v, summary ?? soloSummary(v), cases, config, true);
}

/** Estimate an unmeasured trained variant from the measured variant that sees the same context. */
export function estimatedVariantCost(name: "fine-tuned" | "hybrid", summary: RunSummary, config: CostConfig, cases: CaseResult[] = []): VariantCost | undefined {
  const sibling = summary.variants.find((v) => v.name === (name === "fine-tuned" ? "prompt-only" : "rag"));
  return sibling ? costOf(name, sibling, summary, cases, config, false) : undefined;
}

/** Costs of every measured variant, then estimates for fine-tuned/hybrid when they were not run. */
export function variantCosts(summary: RunSummary, config: CostConfig, cases: CaseResult[] = []): VariantCost[] {
  const costs = summary.variants.map((v) => costOf(v.name, v, summary, cases, config, true));
  for (const name of ["fine-tuned", "hybrid"] as const) {
    if (costs.some((c) => c.variant === name)) continue;
    if (!summary.notConfigured.some((n) => n.name === name)) continue;
    const est = estimatedVariantCost(name, summary, config, cases);
    if (est) costs.push(est);
  }
  return costs;
}

function soloSummary(v: VariantSummary): RunSummary {
  return { runId: "-", createdAt: "", project: "", generator: v.generator, suite: { path: "", cases: v.cases, byTask: {} }, corpus: { documents: 0, chunks: 0, tokens: 0, versions: [] }, retrievalK: 0, variants: [v], notConfigured: [], complete: true };
}

/**
 * The training part of a trained option's cost, for rationale lines ("… per run × N runs/year"):
 * from the option's cost when it has one, else computed for it from the run.
 */
export function trainingItem(c: VariantCost | undefined, from?: { summary: RunSummary; config: CostConfig; variant: "fine-tuned" | "hybrid" }): CostItem | undefined {
  const item = c?.items.find((i) => i.component === "training");
  if (item || !from) return item;
  const like = from.summary.variants.find((v) => v.name === (from.variant === "fine-tuned" ? "prompt-only" : "rag")) ?? from.summary.variants[0];
  return like ? trainingItems(from.summary, from.config, from.variant, generationPrice(like, from.config))[0] : undefined;
}

/** How many knowledge changes a year each cadence means (re-exported for wording). */
export { CHANGES_PER_YEAR };

type CostPoint = Pick<VariantCost, "variant" | "perQueryUsd" | "fixedMonthlyUsd" | "promptCache"> & { measured?: boolean };

const Q_MIN = 0.1;
const Q_MAX = 1e9;

/** Volumes where a − b changes sign, found on a log grid and refined by bisection. */
function crossings(a: CostPoint, b: CostPoint): number[] {
  const f = (q: number) => monthlyAt(a, q) - monthlyAt(b, q);
  const out: number[] = [];
  const steps = 360;
  let q0 = Q_MIN;
  let f0 = f(q0);
  for (let i = 1; i <= steps; i++) {
    const q1 = Q_MIN * Math.pow(Q_MAX / Q_MIN, i / steps);
    const f1 = f(q1);
    if (f0 !== 0 && f1 !== 0 && Math.sign(f0) !== Math.sign(f1)) {
      let lo = q0;
      let hi = q1;
      for (let k = 0; k < 60; k++) {
        const mid = Math.sqrt(lo * hi);
        if (Math.sign(f(mid)) === Math.sign(f0)) lo = mid;
        else hi = mid;
      }
      out.push(Math.sqrt(lo * hi));
    }
    q0 = q1;
    f0 = f1;
  }
  return out;
}

/** Queries/day at which a and b cost the same (the lowest such volume), or undefined when one is cheaper at every volume. */
export function breakEven(a: CostPoint, b: CostPoint): BreakEven | undefined {
  const q = crossings(a, b)[0];
  if (q === undefined) return undefined;
  // low = cheaper just below q, high = cheaper just above.
  const below = q * 0.999;
  const [low, high] = monthlyAt(a, below) <= monthlyAt(b, below) ? [a, b] : [b, a];
  const est = [low, high].filter((x) => x.measured === false).map((x) => x.variant);
  const queriesPerDay = Math.round(q * 10) / 10;
  const note =
    `Below ~${fmtCount(queriesPerDay)} queries/day ${low.variant} is cheaper (${fixedPhrase(low)}, ${usd(perQueryAt(low, q))}/query); ` +
    `above it ${high.variant} is cheaper (${usd(perQueryAt(high, q))}/query + ${usd(high.fixedMonthlyUsd)}/month fixed).` +
    (est.length ? ` Costs of ${est.join(" and ")} are estimated (not measured).` : "");
  return { between: [a.variant, b.variant], queriesPerDay, note };
}

function fixedPhrase(c: CostPoint): string {
  return c.fixedMonthlyUsd === 0 ? "no fixed cost" : `${usd(c.fixedMonthlyUsd)}/month fixed`;
}

/** Every meaningful break-even between pairs of options, in the order given. */
export function breakEvens(costs: CostPoint[]): BreakEven[] {
  const out: BreakEven[] = [];
  for (let i = 0; i < costs.length; i++) {
    for (let j = i + 1; j < costs.length; j++) {
      const be = breakEven(costs[i], costs[j]);
      if (be) out.push(be);
    }
  }
  return out;
}

/** Dollars with enough precision for per-query amounts (fractions of a cent). */
export function usd(x: number): string {
  if (x === 0) return "$0";
  if (Math.abs(x) >= 1000) return `$${Math.round(x).toLocaleString("en-US")}`;
  if (Math.abs(x) >= 1) return `$${x.toFixed(2)}`;
  if (Math.abs(x) >= 0.01) return `$${x.toFixed(3)}`;
  // Two significant digits for fractions of a cent, without exponent notation.
  return `$${x.toFixed(Math.min(10, 1 - Math.floor(Math.log10(Math.abs(x)))))}`;
}

export function fmtCount(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : String(Math.round(x * 10) / 10);
}
