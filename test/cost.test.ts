import { test } from "node:test";
import assert from "node:assert/strict";
import {
  breakEven,
  breakEvens,
  estimatedVariantCost,
  monthlyAt,
  monthlyUsd,
  usd,
  variantCost,
  variantCosts,
  type CostConfig,
} from "../src/decide/cost.ts";
import { priceFor, costUsd, PRICES_AS_OF, BUILTIN_PRICES } from "../src/models/prices.ts";
import type { CaseResult, RunSummary, VariantSummary } from "../src/evaluate/types.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

function config(c: Partial<CostConfig["constraints"]> = {}, p: Partial<CostConfig["pricing"]> = {}): CostConfig {
  return {
    constraints: { knowledgeChange: "monthly", citationsRequired: false, queriesPerDay: 1000, labelledExamples: 0, externalDataStoreAllowed: true, ...c },
    pricing: { asOf: "2026-01-01", models: {}, referenceModel: "openai:gpt-4.1-mini", fineTuneTrainingUsd: 60, vectorStoreMonthlyUsd: 25, ...p },
  };
}

function variant(name: string, perQuery: number, p95 = 800, own = 0): VariantSummary {
  return {
    name,
    generator: "offline:extractive",
    cases: 10,
    passed: 10,
    passRate: 1,
    metrics: {},
    failures: {},
    failuresByTask: {},
    latencyMs: { p50: p95 / 2, p95 },
    costUsd: own * 10,
    projectedCostUsd: perQuery * 10,
    tokens: { input: 0, output: 0 },
    perQuery: { inputTokens: 0, outputTokens: 0, costUsd: own, projectedCostUsd: perQuery },
  };
}

test("fixed monthly costs: store for rag/hybrid, declared training × retrains per year for fine-tuned/hybrid", () => {
  const cfg = config();
  const summary = { variants: [variant("prompt-only", 0.001), variant("rag", 0.001)], notConfigured: [], corpus: { tokens: 0, chunks: 0 }, runId: "r" } as unknown as RunSummary;
  const fixed = (name: string) => variantCost({ ...variant(name, 0.001) }, cfg, summary).fixedMonthlyUsd;
  assert.equal(fixed("prompt-only"), 0);
  assert.equal(fixed("long-context"), 0);
  assert.equal(fixed("rag"), 25); // lexical retrieval: the store alone
  // knowledgeChange monthly: a fine-tuned model holding the facts retrains 12×/year → $60 × 12 / 12.
  assert.equal(fixed("fine-tuned"), 60);
  // hybrid's model learns behaviour: retrained yearly → $60 / 12, plus the store.
  assert.equal(fixed("hybrid"), 30);
});

test("monthly cost = perQuery × queriesPerDay × 30 + fixed", () => {
  close(monthlyUsd(0.002, 1000, 25), 0.002 * 1000 * 30 + 25); // $85
  const rag = variantCost(variant("rag", 0.002), config({ queriesPerDay: 1000 }));
  close(rag.monthlyUsd, 85);
  assert.equal(rag.perQueryUsd, 0.002);
  assert.equal(rag.fixedMonthlyUsd, 25);
  assert.equal(rag.withinBudget, null);
  assert.equal(rag.withinLatency, null);
  const lc = variantCost(variant("long-context", 0.01), config({ queriesPerDay: 200 }));
  close(lc.monthlyUsd, 60); // 0.01 × 200 × 30
});

test("budget and latency checks", () => {
  const cfg = config({ queriesPerDay: 1000, monthlyBudgetUsd: 80, p95LatencyMs: 1000 });
  const rag = variantCost(variant("rag", 0.002, 1200), cfg); // $85 > $80; 1200 ms > 1000 ms
  assert.equal(rag.withinBudget, false);
  assert.equal(rag.withinLatency, false);
  const po = variantCost(variant("prompt-only", 0.001, 600), cfg); // $30
  assert.equal(po.withinBudget, true);
  assert.equal(po.withinLatency, true);
});

test("falls back to the run's own cost when nothing was projected", () => {
  const v = variantCost(variant("rag", 0, 800, 0.003), config({ queriesPerDay: 100 }));
  close(v.monthlyUsd, 0.003 * 100 * 30 + 25);
});

test("break-even: long-context (no fixed, high per-query) vs rag (store + low per-query)", () => {
  // q* = (25 − 0) / (30 × (0.01 − 0.001)) = 25 / 0.27 = 92.59… → 92.6 queries/day
  const be = breakEven(
    { variant: "long-context", perQueryUsd: 0.01, fixedMonthlyUsd: 0 },
    { variant: "rag", perQueryUsd: 0.001, fixedMonthlyUsd: 25 },
  );
  assert.ok(be);
  assert.deepEqual(be.between, ["long-context", "rag"]);
  assert.equal(be.queriesPerDay, 92.6);
  assert.match(be.note, /Below ~92\.6 queries\/day long-context is cheaper \(no fixed cost, \$0\.010\/query\)/);
  assert.match(be.note, /above it rag is cheaper \(\$0\.0010\/query \+ \$25\.00\/month fixed\)/);
  // Check the definition: both cost the same at q*.
  const q = 25 / (30 * 0.009);
  close(monthlyUsd(0.01, q, 0), monthlyUsd(0.001, q, 25));
  // Order of arguments does not matter for the volume.
  assert.equal(breakEven({ variant: "rag", perQueryUsd: 0.001, fixedMonthlyUsd: 25 }, { variant: "long-context", perQueryUsd: 0.01, fixedMonthlyUsd: 0 })?.queriesPerDay, 92.6);
});

test("break-even: fine-tuned (training/12, cheap prompt) vs long-context", () => {
  // q* = 5 / (30 × (0.012 − 0.0002)) = 5 / 0.354 = 14.12… → 14.1
  const be = breakEven(
    { variant: "fine-tuned", perQueryUsd: 0.0002, fixedMonthlyUsd: 5 },
    { variant: "long-context", perQueryUsd: 0.012, fixedMonthlyUsd: 0 },
  );
  assert.equal(be?.queriesPerDay, 14.1);
});

test("no break-even when one option is cheaper at every volume", () => {
  // prompt-only: no fixed cost and cheaper per query than rag.
  assert.equal(breakEven({ variant: "prompt-only", perQueryUsd: 0.0002, fixedMonthlyUsd: 0 }, { variant: "rag", perQueryUsd: 0.001, fixedMonthlyUsd: 25 }), undefined);
  // Same per-query cost: the fixed cost decides everywhere.
  assert.equal(breakEven({ variant: "rag", perQueryUsd: 0.001, fixedMonthlyUsd: 25 }, { variant: "hybrid", perQueryUsd: 0.001, fixedMonthlyUsd: 30 }), undefined);
  // Same fixed cost.
  assert.equal(breakEven({ variant: "a", perQueryUsd: 0.001, fixedMonthlyUsd: 0 }, { variant: "b", perQueryUsd: 0.002, fixedMonthlyUsd: 0 }), undefined);
});

test("variantCosts estimates unmeasured fine-tuned/hybrid from their siblings, and breakEvens lists meaningful pairs", () => {
  const summary = {
    variants: [variant("prompt-only", 0.0002, 500), variant("long-context", 0.01, 2000), variant("rag", 0.001, 900)],
    notConfigured: [
      { name: "fine-tuned", reason: "no model" },
      { name: "hybrid", reason: "no model" },
    ],
  } as unknown as RunSummary;
  const cfg = config({ queriesPerDay: 100 });
  const costs = variantCosts(summary, cfg);
  assert.deepEqual(costs.map((c) => c.variant), ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"]);
  const ft = costs.find((c) => c.variant === "fine-tuned")!;
  assert.equal(ft.measured, false);
  close(ft.monthlyUsd, 0.0002 * 100 * 30 + 60); // $60.60: retrained monthly with the knowledge
  assert.equal(ft.p95LatencyMs, 500);
  const hy = estimatedVariantCost("hybrid", summary, cfg)!;
  close(hy.monthlyUsd, 0.001 * 100 * 30 + 25 + 5); // $33
  assert.match(hy.basis!, /estimated from rag/);

  const pairs = breakEvens(costs).map((b) => b.between.join("/"));
  assert.ok(pairs.includes("long-context/rag"));
  assert.ok(!pairs.includes("prompt-only/rag"));
  assert.ok(breakEvens(costs).find((b) => b.between.includes("hybrid"))?.note.includes("estimated"));
});

test("usd formatting keeps fractions of a cent readable", () => {
  assert.equal(usd(0), "$0");
  assert.equal(usd(0.00042), "$0.00042");
  assert.equal(usd(0.0008), "$0.00080");
  assert.equal(usd(0.05), "$0.050");
  assert.equal(usd(25.6), "$25.60");
  assert.equal(usd(145), "$145.00");
  assert.equal(usd(1500), "$1,500");
});

test("price table: exact ids, model names after a prefix, overrides, local = 0", () => {
  assert.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
  for (const id of ["openai:gpt-4.1", "openai:gpt-4.1-mini", "openai:gpt-4.1-nano", "openai:gpt-4o", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4", "anthropic:claude-haiku-3.5"]) {
    assert.ok(BUILTIN_PRICES[id], id);
  }
  const io = (p: ReturnType<typeof priceFor>) => p && { inputPerMTok: p.inputPerMTok, outputPerMTok: p.outputPerMTok };
  assert.deepEqual(io(priceFor("openai:gpt-4.1-mini")), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(io(priceFor("openai-compatible:work/gpt-4.1-mini")), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(io(priceFor("openai-compatible:openai/gpt-4.1")), { inputPerMTok: 2, outputPerMTok: 8 });
  assert.deepEqual(io(priceFor("openai:gpt-4.1-mini-2025-04-14")), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(io(priceFor("anthropic:claude-sonnet-4-20250514")), { inputPerMTok: 3, outputPerMTok: 15 });
  assert.deepEqual(io(priceFor("anthropic:claude-3-5-haiku-latest")), { inputPerMTok: 0.8, outputPerMTok: 4 });
  for (const id of ["offline:extractive", "ollama:llama3.2", "llamacpp:qwen2.5-7b", "openai-compatible:ollama/llama3.2"]) {
    assert.deepEqual(priceFor(id), { inputPerMTok: 0, outputPerMTok: 0 }, id);
  }
  assert.equal(priceFor("openai-compatible:work/some-unknown-model"), undefined);
  const overrides = { "openai:gpt-4.1-mini": { inputPerMTok: 1, outputPerMTok: 2 }, "my-model": { inputPerMTok: 5, outputPerMTok: 6 } };
  assert.deepEqual(priceFor("openai:gpt-4.1-mini", overrides), { inputPerMTok: 1, outputPerMTok: 2 });
  assert.deepEqual(priceFor("openai-compatible:x/gpt-4.1-mini", overrides), { inputPerMTok: 1, outputPerMTok: 2 });
  assert.deepEqual(priceFor("openai-compatible:x/my-model", overrides), { inputPerMTok: 5, outputPerMTok: 6 });
  assert.deepEqual(priceFor("openai:gpt-4.1-mini-2025-04-14", overrides), { inputPerMTok: 1, outputPerMTok: 2 });
  // 1,000 input + 500 output tokens on gpt-4.1-mini: (1000 × 0.4 + 500 × 1.6) / 1e6 = $0.0012
  close(costUsd({ inputTokens: 1000, outputTokens: 500 }, priceFor("openai:gpt-4.1-mini")!), 0.0012);
});

// ---------------------------------------------------------------------------------------------
// Cost model v2: tokens × price, provenance of every figure, embedding, re-indexing, training,
// prompt cache.
// ---------------------------------------------------------------------------------------------

function tokVariant(name: string, inputTokens: number, outputTokens: number, extra: Partial<VariantSummary> = {}): VariantSummary {
  return { ...variant(name, 0), perQuery: { inputTokens, outputTokens, costUsd: 0, projectedCostUsd: 0 }, ...extra };
}

function runOf(variants: VariantSummary[], extra: Partial<RunSummary> = {}): RunSummary {
  return {
    runId: "r1", createdAt: "", project: "p", generator: "offline:extractive", suite: { path: "s", cases: 10, byTask: {} },
    corpus: { documents: 10, chunks: 100, tokens: 1_000_000, versions: [] }, retrievalK: 5, variants, notConfigured: [], complete: true, ...extra,
  };
}

const item = (c: { items: { component: string }[] }, name: string) => c.items.find((i) => i.component.startsWith(name)) as (typeof c.items)[number] & { usd: number; figures: { label: string; source: string; from: string }[]; formula: string };

test("measured tokens × the reference model's price, each figure with its source", () => {
  const rag = tokVariant("rag", 1000, 200);
  const c = variantCost(rag, config(), runOf([rag]));
  close(c.perQueryUsd, (1000 * 0.4 + 200 * 1.6) / 1e6);
  assert.deepEqual(c.pricedAs, { model: "openai:gpt-4.1-mini", projected: true });
  const gen = item(c, "generation");
  assert.equal(gen.figures.find((f) => f.label === "input tokens")?.source, "measured");
  assert.equal(gen.figures.find((f) => f.label === "input price")?.source, "price-table");
  assert.equal(item(c, "vector store").figures[0].source, "declared");
  assert.match(item(c, "embedding").formula, /lexical/);
});

test("a real generator is billed at its own price; an override is declared", () => {
  const v = tokVariant("rag", 1000, 200, { generator: "openai:gpt-4.1" });
  const own = variantCost(v, config(), runOf([v]));
  close(own.perQueryUsd, (1000 * 2 + 200 * 8) / 1e6);
  assert.deepEqual(own.pricedAs, { model: "openai:gpt-4.1", projected: false });
  const declared = variantCost(v, config({}, { models: { "openai:gpt-4.1": { inputPerMTok: 1, outputPerMTok: 1 } } }), runOf([v]));
  close(declared.perQueryUsd, 1200 / 1e6);
  assert.equal(item(declared, "generation").figures.find((f) => f.label === "input price")?.source, "declared");
});

test("dense retrieval: query embedding per query, corpus embedding over 12 months, re-indexing at the knowledge cadence", () => {
  const rag = tokVariant("rag", 0, 0);
  const cases = [{ variant: "rag", input: "How do I reset my password?" }, { variant: "rag", input: "What does the Pro plan cost per seat?" }] as unknown as CaseResult[];
  const cfg = { ...config({ knowledgeChange: "weekly", knowledgeChangeShare: 0.1 }), retrieval: { mode: "hybrid" }, models: { embedder: "openai:text-embedding-3-small" } };
  const c = variantCost(rag, cfg, runOf([rag]), cases);
  const ingest = item(c, "corpus embedding");
  close(ingest.usd, (1_000_000 * 0.02) / 1e6 / 12);
  const reindex = item(c, "re-indexing");
  close(reindex.usd, ((52 / 12) * 0.1 * 1_000_000 * 0.02) / 1e6);
  assert.deepEqual(reindex.figures.map((f) => f.source), ["declared", "declared", "measured", "price-table"]);
  const q = item(c, "query embedding");
  assert.equal(q.figures[0].source, "measured");
  assert.ok(q.usd > 0 && q.usd < 1e-6);
  close(c.fixedMonthlyUsd, 25 + ingest.usd + reindex.usd);
  // A local embedder costs nothing per token.
  const local = variantCost(rag, { ...cfg, models: { embedder: "hashing:256" } }, runOf([rag]), cases);
  close(local.fixedMonthlyUsd, 25);
});

test("training: examples × tokens × epochs × training price, retrained with the knowledge; hybrid yearly", () => {
  const po = tokVariant("prompt-only", 150, 50);
  const rag = tokVariant("rag", 1000, 50);
  const summary = runOf([po, rag], { notConfigured: [{ name: "fine-tuned", reason: "no model" }, { name: "hybrid", reason: "no model" }] });
  const cfg = config({ labelledExamples: 1000 }, { fineTuneTrainingUsd: undefined });
  const costs = variantCosts(summary, cfg);
  const ft = costs.find((c) => c.variant === "fine-tuned")!;
  const training = item(ft, "training");
  // 1,000 examples × 200 tokens × 3 epochs × $5/MTok = $3 per run; monthly knowledge → 12 runs/year → $3/month.
  close(training.usd, 3);
  assert.deepEqual(
    training.figures.map((f) => `${f.label}:${f.source}`),
    ["retrains per year:declared", "training examples:declared", "tokens per example:measured", "epochs:declared", "training price:price-table", "data preparation per run:declared"],
  );
  // Inference on the fine-tuned copy at its own price ($0.80 / $3.20 for gpt-4.1-mini).
  close(ft.perQueryUsd, (150 * 0.8 + 50 * 3.2) / 1e6);
  const hy = costs.find((c) => c.variant === "hybrid")!;
  close(item(hy, "training").usd, 3 / 12);
  // Daily knowledge: 365 runs a year. Data preparation is paid at every run.
  const daily = variantCosts(summary, config({ labelledExamples: 1000, knowledgeChange: "daily" }, { fineTuneTrainingUsd: undefined, dataPreparationUsd: 20 }));
  close(item(daily.find((c) => c.variant === "fine-tuned")!, "training").usd, ((3 + 20) * 365) / 12);
  // Too few labels: priced at the 300 fine-tuning needs, marked estimated.
  const few = variantCosts(summary, config({ labelledExamples: 10 }, { fineTuneTrainingUsd: undefined }));
  const t = item(few.find((c) => c.variant === "fine-tuned")!, "training");
  assert.equal(t.figures.find((f) => f.label === "training examples")?.source, "estimated");
  close(t.usd, (300 * 200 * 3 * 5) / 1e6);
  // The promoted models' example count is measured.
  const trained = runOf([po, rag], { notConfigured: [{ name: "fine-tuned", reason: "x" }], finetunedModels: [{ id: "m1", task: "classify", trainer: "classifier", baseModel: "b", datasetHash: "h", examples: 500 }] });
  const m = item(variantCosts(trained, cfg).find((c) => c.variant === "fine-tuned")!, "training");
  assert.equal(m.figures.find((f) => f.label === "training examples")?.source, "measured");
  close(m.usd, (500 * 200 * 3 * 5) / 1e6);
});

test("long-context: the corpus prefix is read from the prompt cache once volume keeps it warm", () => {
  const lc = tokVariant("long-context", 50_000, 100, { context: { budgetTokens: 100_000, corpusTokens: 49_000, packedTokens: 49_000, truncated: false } });
  const at = (q: number) => variantCost(lc, config({ queriesPerDay: q }), runOf([lc]));
  const full = (50_000 * 0.4 + 100 * 1.6) / 1e6;
  const warm = (1_000 * 0.4 + 49_000 * 0.1 + 100 * 1.6) / 1e6;
  const miss = (49_000 * (0.4 - 0.1)) / 1e6;
  const busy = at(10_000);
  close(busy.perQueryUsd, warm + miss * Math.exp((-10_000 * 5) / 1440));
  assert.ok(busy.perQueryUsd < full * 0.3, "cache reads at a quarter of the price");
  const quiet = at(1);
  assert.ok(quiet.perQueryUsd > full * 0.99, "one query a day finds the cache expired");
  // monthlyAt follows the same curve at any volume.
  close(monthlyAt(busy, 1), quiet.monthlyUsd);
  assert.equal(item(busy, "prompt-cache writes").figures.find((f) => f.label === "prompt-cache lifetime")?.source, "declared");
  // Anthropic writes cost 1.25× input.
  const sonnet = variantCost({ ...lc, generator: "anthropic:claude-sonnet-4" }, config({ queriesPerDay: 1 }), runOf([lc]));
  assert.ok(sonnet.perQueryUsd > (50_000 * 3 + 100 * 15) / 1e6, "a cold cache costs more than no cache on Anthropic");
  // No cache price known: billed in full, and said.
  const plain = variantCost(lc, config({ queriesPerDay: 10_000 }, { models: { "openai:gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 } } }), runOf([lc]));
  close(plain.perQueryUsd, full);
  assert.match(item(plain, "generation").formula, /no prompt-cache price/);
});

test("break-even with a prompt cache is where the curves really cross", () => {
  const lc = { variant: "long-context", perQueryUsd: 0.01, fixedMonthlyUsd: 0, promptCache: { basePerQueryUsd: 0.004, missUsd: 0.006, ttlMinutes: 5 } };
  const rag = { variant: "rag", perQueryUsd: 0.001, fixedMonthlyUsd: 25, promptCache: undefined };
  const be = breakEven(lc, rag)!;
  assert.ok(be);
  assert.ok(Math.abs(monthlyAt(lc, be.queriesPerDay) - monthlyAt(rag, be.queriesPerDay)) < 0.05, be.note);
  assert.match(be.note, /long-context is cheaper/);
});
