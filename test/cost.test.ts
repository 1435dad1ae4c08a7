import { test } from "node:test";
import assert from "node:assert/strict";
import {
  breakEven,
  breakEvens,
  estimatedVariantCost,
  fixedMonthlyUsd,
  monthlyUsd,
  usd,
  variantCost,
  variantCosts,
  type CostConfig,
} from "../src/decide/cost.ts";
import { priceFor, costUsd, PRICES_AS_OF, BUILTIN_PRICES } from "../src/models/prices.ts";
import type { RunSummary, VariantSummary } from "../src/evaluate/types.ts";

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

test("fixed monthly costs: store for rag/hybrid, training/12 for fine-tuned/hybrid", () => {
  const { pricing } = config();
  assert.equal(fixedMonthlyUsd("prompt-only", pricing), 0);
  assert.equal(fixedMonthlyUsd("long-context", pricing), 0);
  assert.equal(fixedMonthlyUsd("rag", pricing), 25);
  assert.equal(fixedMonthlyUsd("fine-tuned", pricing), 5);
  assert.equal(fixedMonthlyUsd("hybrid", pricing), 30);
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
  close(ft.monthlyUsd, 0.0002 * 100 * 30 + 60 / 12); // $5.60
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
  assert.deepEqual(priceFor("openai:gpt-4.1-mini"), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(priceFor("openai-compatible:work/gpt-4.1-mini"), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(priceFor("openai-compatible:openai/gpt-4.1"), { inputPerMTok: 2, outputPerMTok: 8 });
  assert.deepEqual(priceFor("openai:gpt-4.1-mini-2025-04-14"), { inputPerMTok: 0.4, outputPerMTok: 1.6 });
  assert.deepEqual(priceFor("anthropic:claude-sonnet-4-20250514"), { inputPerMTok: 3, outputPerMTok: 15 });
  assert.deepEqual(priceFor("anthropic:claude-3-5-haiku-latest"), { inputPerMTok: 0.8, outputPerMTok: 4 });
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
