import { test } from "node:test";
import assert from "node:assert/strict";
import {
  binomialHalfCdf,
  bootstrapInterval,
  casesForSignificance,
  cohenKappa,
  compareVariants,
  mcnemarExact,
  mulberry32,
  normalQuantile,
  pairedBootstrap,
  passAtAll,
  perCasePass,
} from "../src/evaluate/significance.ts";
import type { CaseResult } from "../src/evaluate/types.ts";

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

/** Pairs with the given counts of (a, b) verdicts: both, only a, only b, neither. */
function pairs(both: number, onlyA: number, onlyB: number, neither: number): { a: boolean; b: boolean }[] {
  return [
    ...Array.from({ length: both }, () => ({ a: true, b: true })),
    ...Array.from({ length: onlyA }, () => ({ a: true, b: false })),
    ...Array.from({ length: onlyB }, () => ({ a: false, b: true })),
    ...Array.from({ length: neither }, () => ({ a: false, b: false })),
  ];
}

test("binomialHalfCdf: exact small values and the extremes", () => {
  close(binomialHalfCdf(1, 10), 11 / 1024);
  close(binomialHalfCdf(5, 10), 638 / 1024);
  assert.equal(binomialHalfCdf(-1, 10), 0);
  assert.equal(binomialHalfCdf(10, 10), 1);
  // Symmetry: P[X ≤ k] + P[X ≤ m − k − 1] = 1.
  close(binomialHalfCdf(1400, 3000) + binomialHalfCdf(1599, 3000), 1, 1e-9);
});

test("mcnemarExact: b=1, c=9 → p = 2 × 11/1024 ≈ 0.0215", () => {
  const m = mcnemarExact(pairs(30, 1, 9, 10));
  assert.deepEqual([m.n, m.onlyA, m.onlyB], [50, 1, 9]);
  close(m.pValue, 22 / 1024);
  assert.equal(m.pValue.toFixed(4), "0.0215");
});

test("mcnemarExact: symmetric, b = c → 1, no discordant pairs → 1", () => {
  assert.equal(mcnemarExact(pairs(30, 9, 1, 10)).pValue, mcnemarExact(pairs(30, 1, 9, 10)).pValue);
  assert.equal(mcnemarExact(pairs(10, 7, 7, 10)).pValue, 1);
  assert.equal(mcnemarExact(pairs(10, 0, 0, 10)).pValue, 1);
  assert.equal(mcnemarExact([]).pValue, 1);
  // A single discordant pair is no evidence at all.
  assert.equal(mcnemarExact(pairs(0, 0, 1, 0)).pValue, 1);
});

test("mcnemarExact: accurate for thousands of discordant pairs", () => {
  // 1,000 vs 1,100: the continuity-corrected normal approximation gives p ≈ 0.031.
  const p = mcnemarExact(pairs(0, 1000, 1100, 0)).pValue;
  assert.ok(Number.isFinite(p) && p > 0.025 && p < 0.04, `p = ${p}`);
  const tiny = mcnemarExact(pairs(0, 100, 500, 0)).pValue;
  assert.ok(tiny > 0 && tiny < 1e-30, `p = ${tiny}`);
  assert.equal(mcnemarExact(pairs(0, 2000, 2000, 0)).pValue, 1);
});

test("bootstrapInterval: constant data, degenerate inputs, seeded reproducibility, sensible width", () => {
  assert.deepEqual(bootstrapInterval([0.7, 0.7, 0.7]), { low: 0.7, high: 0.7 });
  assert.deepEqual(bootstrapInterval([0.3]), { low: 0.3, high: 0.3 });
  assert.deepEqual(bootstrapInterval([]), { low: 0, high: 0 });
  const values = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const a = bootstrapInterval(values, { samples: 2000, alpha: 0.05, seed: 7 });
  assert.deepEqual(bootstrapInterval(values, { samples: 2000, alpha: 0.05, seed: 7 }), a);
  const scores = Array.from({ length: 50 }, (_, i) => ((i * 7919) % 101) / 100);
  const s1 = bootstrapInterval(scores, { seed: 1 });
  assert.deepEqual(bootstrapInterval(scores, { seed: 1 }), s1);
  assert.notDeepEqual(bootstrapInterval(scores, { seed: 2 }), s1);
  // Mean 0.5, n = 100: the normal interval is 0.5 ± 0.098.
  assert.ok(a.low > 0.38 && a.low < 0.44 && a.high > 0.56 && a.high < 0.62, JSON.stringify(a));
  // A wider level gives a wider interval.
  const b = bootstrapInterval(values, { samples: 2000, alpha: 0.01, seed: 7 });
  assert.ok(b.low < a.low && b.high > a.high);
});

test("mulberry32: deterministic uniform draws in [0, 1)", () => {
  const r = mulberry32(1);
  const xs = Array.from({ length: 10000 }, r);
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, mulberry32(1)));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(m - 0.5) < 0.02);
});

test("pairedBootstrap: a large real difference is significant, a small one is not, p is never 0", () => {
  // b beats a by 0.3 on average with noise.
  const big = Array.from({ length: 60 }, (_, i) => 0.3 + ((i * 37) % 11) / 20 - 0.25);
  const t = pairedBootstrap(big, { samples: 2000, alpha: 0.05, seed: 1 });
  close(t.diff, big.reduce((a, b) => a + b, 0) / big.length);
  assert.ok(t.pValue < 0.05 && t.pValue > 0, `p = ${t.pValue}`);
  assert.ok(t.ci.low > 0 && t.ci.high > t.ci.low);
  // Constant positive differences: p is the smallest the resamples can show, 2/(B+1).
  close(pairedBootstrap([0.1, 0.1, 0.1], { samples: 999, seed: 1 }).pValue, 2 / 1000);
  // Noise around zero.
  const small = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 0.2 : -0.18));
  const s = pairedBootstrap(small, { samples: 2000, alpha: 0.05, seed: 1 });
  assert.ok(s.pValue > 0.05, `p = ${s.pValue}`);
  assert.ok(s.ci.low < 0 && s.ci.high > 0);
  assert.deepEqual(pairedBootstrap([0, 0, 0]), { diff: 0, ci: { low: 0, high: 0 }, pValue: 1 });
  assert.deepEqual(pairedBootstrap([]), { diff: 0, ci: { low: 0, high: 0 }, pValue: 1 });
  // Seeded: the same input and seed give the same answer.
  assert.deepEqual(pairedBootstrap(small, { seed: 3 }), pairedBootstrap(small, { seed: 3 }));
});

test("cohenKappa: textbook 20/5/10/15 → 0.4; constant raters never NaN", () => {
  const k = cohenKappa(pairs(20, 5, 10, 15));
  assert.equal(k.n, 50);
  close(k.kappa, 0.4);
  close(k.agreement, 0.7);
  assert.deepEqual(cohenKappa(pairs(10, 0, 0, 0)), { n: 10, kappa: 1, agreement: 1 });
  assert.deepEqual(cohenKappa(pairs(0, 0, 0, 10)), { n: 10, kappa: 1, agreement: 1 });
  // Constant but opposite: no agreement, kappa 0 (pe = 0).
  assert.deepEqual(cohenKappa(pairs(0, 10, 0, 0)), { n: 10, kappa: 0, agreement: 0 });
  assert.deepEqual(cohenKappa([]), { n: 0, kappa: 0, agreement: 0 });
  // Perfect disagreement on balanced raters: −1.
  close(cohenKappa(pairs(0, 5, 5, 0)).kappa, -1);
});

test("normalQuantile and casesForSignificance", () => {
  close(normalQuantile(0.975), 1.959963985, 1e-6);
  close(normalQuantile(0.5), 0, 1e-9);
  close(normalQuantile(0.001), -3.090232306, 1e-6);
  // p exactly alpha → the same n; a p-value whose z is half as large → 4× the cases.
  assert.equal(casesForSignificance(100, 0.05, 0.05), 100);
  const p = 2 * (1 - 0.8364568) /* z = 0.98 */;
  const need = casesForSignificance(100, p, 0.05)!;
  assert.ok(need >= 398 && need <= 402, String(need));
  assert.equal(casesForSignificance(100, 1), undefined);
});

let seq = 0;
function res(variant: string, caseId: string, passed: boolean, opts: { repeat?: number; f1?: number } = {}): CaseResult {
  seq++;
  return {
    runId: "r",
    caseId,
    variant,
    ...(opts.repeat !== undefined ? { repeat: opts.repeat } : {}),
    task: "qa",
    input: "q",
    output: "a",
    abstained: false,
    citations: [],
    retrieved: [],
    contextPaths: [],
    contextTokens: 0,
    truncated: false,
    scores: opts.f1 === undefined ? [] : [{ name: "answer", pass: passed, value: opts.f1 }],
    passed,
    usage: { inputTokens: 10, outputTokens: 1 },
    latencyMs: seq,
    costUsd: 0,
    projectedCostUsd: 0,
    generator: "offline:extractive",
    tags: [],
  };
}

test("passAtAll and perCasePass on hand-built repeats", () => {
  // 4 cases × 3 repeats: c1 passes all, c2 fails all, c3 passes 2 of 3, c4 passes 1 of 3.
  const verdicts: Record<string, boolean[]> = { c1: [true, true, true], c2: [false, false, false], c3: [true, false, true], c4: [false, false, true] };
  const results = Object.entries(verdicts).flatMap(([id, vs]) => vs.map((v, i) => res("rag", id, v, { repeat: i })));
  assert.deepEqual(passAtAll(results), { n: 3, passAll: 0.25, agreement: 0.5 });
  const per = perCasePass(results);
  assert.deepEqual([...per.keys()], ["c1", "c2", "c3", "c4"]);
  close(per.get("c3")!, 2 / 3);
  close(per.get("c4")!, 1 / 3);
  // Without repeat indexes every case ran once: pass^1 is the pass rate and agreement is 1.
  assert.deepEqual(passAtAll([res("rag", "a", true), res("rag", "b", false)]), { n: 1, passAll: 0.5, agreement: 1 });
  assert.deepEqual(passAtAll([]), { n: 0, passAll: 0, agreement: 0 });
  // A duplicated (case, repeat) keeps the last result.
  assert.deepEqual(passAtAll([res("rag", "a", false, { repeat: 0 }), res("rag", "a", true, { repeat: 0 })]), { n: 1, passAll: 1, agreement: 1 });
});

test("compareVariants: McNemar on pass/fail, paired bootstrap on F1, pairs by caseId, order a→b", () => {
  const results: CaseResult[] = [];
  // 40 shared cases: both pass 20, only prompt-only 1, only rag 9, neither 10; plus a rag-only case.
  const layout = [...Array(20).fill([true, true]), [true, false], ...Array(9).fill([false, true]), ...Array(10).fill([false, false])] as [boolean, boolean][];
  layout.forEach(([a, b], i) => {
    results.push(res("prompt-only", `c${i}`, a, { f1: a ? 0.9 : 0.1 }));
    results.push(res("rag", `c${i}`, b, { f1: b ? 0.95 : 0.2 }));
  });
  results.push(res("rag", "extra", true, { f1: 1 }));
  const cmp = compareVariants(results, ["prompt-only", "rag"], { bootstrapSamples: 1000, alpha: 0.05, seed: 1 });
  assert.equal(cmp.length, 2);
  const pass = cmp.find((c) => c.metric === "passRate")!;
  assert.equal(pass.test, "mcnemar-exact");
  assert.deepEqual([pass.a, pass.b, pass.n], ["prompt-only", "rag", 40]);
  assert.deepEqual(pass.discordant, { onlyA: 1, onlyB: 9 });
  close(pass.diff, 0.2);
  close(pass.pValue, 22 / 1024);
  assert.equal(pass.significant, true);
  assert.ok(pass.ci && pass.ci.low > 0 && pass.ci.high > pass.diff);
  const f1 = cmp.find((c) => c.metric === "answer.f1")!;
  assert.equal(f1.test, "paired-bootstrap");
  assert.equal(f1.n, 40);
  assert.ok(f1.diff > 0);
  // The same data at a stricter alpha is not significant; reversed order flips the sign.
  const strict = compareVariants(results, ["prompt-only", "rag"], { alpha: 0.01 }).find((c) => c.metric === "passRate")!;
  assert.equal(strict.significant, false);
  const rev = compareVariants(results, ["rag", "prompt-only"]).find((c) => c.metric === "passRate")!;
  close(rev.diff, -0.2);
  assert.deepEqual(rev.discordant, { onlyA: 9, onlyB: 1 });
  assert.equal(rev.pValue, pass.pValue);
  // Reproducible.
  assert.deepEqual(compareVariants(results, ["prompt-only", "rag"], { seed: 5 }), compareVariants(results, ["prompt-only", "rag"], { seed: 5 }));
});

test("compareVariants: three variants give three pairs; no shared cases, no comparison; no F1, no F1 row", () => {
  const results = ["a", "b", "c"].flatMap((v) => [res(v, "x", v !== "a"), res(v, "y", true)]);
  results.push(res("d", "z", true));
  const cmp = compareVariants(results, ["a", "b", "c", "d"]);
  assert.deepEqual(
    cmp.map((c) => `${c.a}-${c.b}:${c.metric}`),
    ["a-b:passRate", "a-c:passRate", "b-c:passRate"],
  );
  // One discordant case: p = 1, not significant.
  assert.equal(cmp[0].pValue, 1);
  assert.equal(cmp[0].significant, false);
});

test("compareVariants: with repeats, a paired bootstrap on per-case pass shares", () => {
  const results: CaseResult[] = [];
  for (let i = 0; i < 30; i++) {
    for (let r = 0; r < 3; r++) {
      results.push(res("prompt-only", `c${i}`, r === 0 && i % 3 === 0, { repeat: r }));
      results.push(res("rag", `c${i}`, i % 5 !== 0 || r === 2, { repeat: r }));
    }
  }
  const [c] = compareVariants(results, ["prompt-only", "rag"], { bootstrapSamples: 1000, seed: 2 });
  assert.equal(c.test, "paired-bootstrap");
  assert.equal(c.metric, "passRate");
  assert.equal(c.n, 30);
  assert.equal(c.discordant, undefined);
  // rag: 24 cases × 1 + 6 × 1/3; prompt-only: 10 × 1/3.
  close(c.diff, Math.round(((24 + 2 - 10 / 3) / 30) * 1e6) / 1e6);
  assert.ok(c.significant && c.pValue < 0.01);
});

test("binomialHalfCdf: the direct and log-space sums agree where they meet", () => {
  // m = 1,000 is summed directly, m = 1,001 in log space; P[X ≤ m/2 − 20] changes only slightly.
  const a = binomialHalfCdf(480, 1000);
  const b = binomialHalfCdf(480, 1001);
  assert.ok(a > 0.1 && a < 0.12 && b > 0.09 && b < a, `${a} ${b}`);
  close(binomialHalfCdf(500, 1001), 0.5, 1e-9);
});
