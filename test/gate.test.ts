import { test } from "node:test";
import assert from "node:assert/strict";
import { formatP, normaliseAnswer, promotionGate } from "../src/finetune/gate.ts";
import { InputError } from "../src/util/errors.ts";

/** Predictions right (= truth) at the given indices, wrong ("WRONG") elsewhere. */
function preds(truth: string[], right: Iterable<number>): string[] {
  const set = new Set(right);
  return truth.map((t, i) => (set.has(i) ? t : "WRONG"));
}
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const truth = Array.from({ length: 20 }, (_, i) => (i % 2 ? "billing" : "bug_report"));

test("better and significant against the baseline and the promoted model → passes", () => {
  // candidate right on 0..17; baseline on 0..9 → 8 candidate-only, 0 baseline-only: p = 2·(1/2^8) = 0.0078125
  // promoted right on 0..9 as well → same numbers.
  const report = promotionGate({
    candidate: preds(truth, range(0, 18)),
    references: [
      { name: "baseline", predictions: preds(truth, range(0, 10)) },
      { name: "m-20260101-000000-aaaa", predictions: preds(truth, range(0, 10)) },
    ],
    truth,
  });
  assert.equal(report.passed, true);
  assert.equal(report.n, 20);
  assert.equal(report.comparisons.length, 2);
  const c = report.comparisons[0];
  assert.equal(c.against, "baseline");
  assert.equal(c.candidateAccuracy, 0.9);
  assert.equal(c.referenceAccuracy, 0.5);
  assert.equal(c.onlyCandidate, 8);
  assert.equal(c.onlyReference, 0);
  assert.ok(Math.abs(c.pValue - 2 / 256) < 1e-12);
  assert.equal(c.better, true);
  assert.match(report.reason, /^passed: candidate 90\.0% vs baseline 50\.0% on 20 held-out examples, McNemar p = 0\.0078/);
});

test("better but not significant → refused, and the reason states the numbers", () => {
  // vs promoted: candidate-only {15,16,17} = 3, promoted-only {18} = 1 → p = 2·P(X ≤ 1 | m=4) = 2·5/16 = 0.625
  const report = promotionGate({
    candidate: preds(truth, range(0, 18)),
    references: [
      { name: "baseline", predictions: preds(truth, range(0, 10)) },
      { name: "m-prom", predictions: preds(truth, [...range(0, 15), 18]) },
    ],
    truth,
  });
  assert.equal(report.passed, false);
  const [base, prom] = report.comparisons;
  assert.equal(base.better, true);
  assert.equal(prom.better, false);
  assert.equal(prom.onlyCandidate, 3);
  assert.equal(prom.onlyReference, 1);
  assert.equal(prom.pValue, 0.625);
  assert.equal(prom.referenceAccuracy, 0.8);
  assert.ok(report.reason.startsWith("refused: candidate 90.0% vs m-prom 80.0% on 20 held-out examples, McNemar p = " + formatP(0.625)), report.reason);
  assert.match(report.reason, /not significantly better \(needs p < 0\.05\)/);
  // Only the failing comparison is named in a refusal.
  assert.doesNotMatch(report.reason, /vs baseline/);
});

test("worse than the promoted model → refused as worse", () => {
  // candidate right 0..9 (50%), promoted right 0..14 (75%): 0 candidate-only, 5 promoted-only → p = 2/32 = 0.0625
  const report = promotionGate({
    candidate: preds(truth, range(0, 10)),
    references: [{ name: "promoted", predictions: preds(truth, range(0, 15)) }],
    truth,
  });
  assert.equal(report.passed, false);
  assert.equal(report.comparisons[0].pValue, 0.0625);
  assert.match(report.reason, /candidate 50\.0% vs promoted 75\.0% on 20 held-out examples, McNemar p = 0\.063 .*: worse/);
});

test("no promoted model → only the baseline is compared; a significant alpha matters", () => {
  const input = {
    candidate: preds(truth, range(0, 18)),
    references: [{ name: "baseline", predictions: preds(truth, range(0, 10)) }],
    truth,
  };
  const report = promotionGate(input);
  assert.equal(report.passed, true);
  assert.deepEqual(report.comparisons.map((c) => c.against), ["baseline"]);
  // p = 0.0078 is not below a stricter alpha.
  const strict = promotionGate({ ...input, alpha: 0.005 });
  assert.equal(strict.passed, false);
  assert.match(strict.reason, /needs p < 0\.005/);
});

test("equal accuracy is not better even with discordant pairs", () => {
  // candidate right 0..9, baseline right 5..14: 5 vs 5 discordant → p = 1
  const report = promotionGate({ candidate: preds(truth, range(0, 10)), references: [{ name: "baseline", predictions: preds(truth, range(5, 15)) }], truth });
  assert.equal(report.passed, false);
  assert.equal(report.comparisons[0].pValue, 1);
  assert.match(report.reason, /: not better$/);
});

test("normalised exact match by default; a custom correct() is used when given", () => {
  assert.equal(normaliseAnswer('  "Billing." '), "billing");
  const t = ["billing", "bug_report", "billing", "billing", "billing", "billing"];
  const cand = [" Billing", "BUG_REPORT.", "billing", "billing", "billing", "billing"];
  const base = ["x", "x", "x", "x", "x", "x"];
  const r = promotionGate({ candidate: cand, references: [{ name: "baseline", predictions: base }], truth: t });
  assert.equal(r.comparisons[0].candidateAccuracy, 1);
  assert.equal(r.comparisons[0].onlyCandidate, 6);
  // 6 vs 0 → p = 2/64 = 0.03125 < 0.05
  assert.equal(r.comparisons[0].pValue, 2 / 64);
  assert.equal(r.passed, true);
  // A custom judgement: everything containing "bill" counts as right, so the baseline never is, the candidate 5/6.
  const custom = promotionGate({ candidate: cand, references: [{ name: "baseline", predictions: base }], truth: t, correct: (p) => /bill/i.test(p) });
  assert.equal(custom.comparisons[0].onlyCandidate, 5);
});

test("bad input: misaligned predictions, no references, no cases", () => {
  assert.throws(() => promotionGate({ candidate: ["a"], references: [{ name: "baseline", predictions: ["a"] }], truth: ["a", "b"] }), InputError);
  assert.throws(() => promotionGate({ candidate: ["a"], references: [{ name: "baseline", predictions: [] }], truth: ["a"] }), /reference "baseline" has 0 predictions/);
  assert.throws(() => promotionGate({ candidate: ["a"], references: [], truth: ["a"] }), /at least one reference/);
  const empty = promotionGate({ candidate: [], references: [{ name: "baseline", predictions: [] }], truth: [] });
  assert.equal(empty.passed, false);
  assert.equal(empty.n, 0);
});
