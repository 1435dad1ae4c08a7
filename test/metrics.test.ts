import { test } from "node:test";
import assert from "node:assert/strict";
import {
  supportRatio,
  isUnsupportedAnswer,
  isRetrievalMiss,
  isFallback,
  staleness,
  splitClaims,
  contentTokens,
  supportingTexts,
  answerSupport,
  SUPPORT_THRESHOLD,
} from "../src/evaluate/metrics.ts";

const chunk =
  "Webhooks are retried 8 times with exponential backoff over 24 hours. Every delivery carries an HMAC SHA-256 signature in the X-Acme-Signature header.";

test("splitClaims: sentences and bullets, not decimals or e.g., [n] markers dropped", () => {
  assert.deepEqual(splitClaims("Pro costs $12.50 per user [1]. Annual billing is cheaper, e.g. $10 [2].\n- Business: $24\n1. Enterprise: quote"), [
    "Pro costs $12.50 per user.",
    "Annual billing is cheaper, e.g. $10.",
    "Business: $24",
    "Enterprise: quote",
  ]);
});

test("contentTokens: stop words removed, words stemmed (the retrieval tokenizer)", () => {
  assert.deepEqual(contentTokens("The refunds are available for all of the plans"), ["refund", "avail", "plan"]);
  assert.deepEqual(contentTokens("deliveries carries boxes"), contentTokens("delivery carry box"));
  assert.deepEqual(contentTokens("$12 per user via the API"), ["12", "user", "api"]);
});

test("supportRatio: a sentence is supported when ≥ 70% of its content tokens are in the texts", () => {
  assert.equal(SUPPORT_THRESHOLD, 0.7);
  const r = supportRatio("Webhooks are retried 8 times over 24 hours [1]. The signature is in the X-Acme-Signature header [1].", [chunk]);
  assert.deepEqual(r, { ratio: 1, unsupportedSentences: [] });

  // "retried 3 times within 1 hour": content tokens webhook, retried, 3, time, within, 1, hour → 3/7 found
  const bad = supportRatio("Webhooks are retried 8 times [1]. Webhooks are retried 3 times within 1 hour.", [chunk]);
  assert.equal(bad.ratio, 0.5);
  assert.deepEqual(bad.unsupportedSentences, ["Webhooks are retried 3 times within 1 hour."]);
});

test("supportRatio: threshold boundary — 7 of 10 content tokens supported passes, 6 of 10 fails", () => {
  const support = ["alpha bravo charlie delta echo foxtrot golf"];
  assert.equal(supportRatio("alpha bravo charlie delta echo foxtrot golf hotel india juliet", support).ratio, 1);
  assert.equal(supportRatio("alpha bravo charlie delta echo foxtrot hotel india juliet kilo", support).ratio, 0);
});

test("supportRatio: nothing to check counts as supported", () => {
  assert.deepEqual(supportRatio("", []), { ratio: 1, unsupportedSentences: [] });
  assert.deepEqual(supportRatio("It is. [1]", []), { ratio: 1, unsupportedSentences: [] });
});

test("isUnsupportedAnswer: any unsupported sentence", () => {
  assert.equal(isUnsupportedAnswer("Deliveries carry an HMAC SHA-256 signature.", [chunk]), false);
  assert.equal(isUnsupportedAnswer("Deliveries carry an HMAC SHA-256 signature. Retries stop after one hour.", [chunk]), true);
});

test("supportingTexts / answerSupport: cited chunks when citations resolve, else the whole context", () => {
  const ctx = [
    { id: "a#0", text: "Pro costs $12 per user per month." },
    { id: "b#0", text: "Business costs $24 per user per month." },
  ];
  assert.deepEqual(supportingTexts([{ chunkId: "b#0" }], ctx), ["Business costs $24 per user per month."]);
  assert.deepEqual(supportingTexts([{ chunkId: "zzz" }], ctx), ctx.map((c) => c.text));
  const answer = { text: "Pro costs $12 per user per month [1].", abstained: false, citations: [{ chunkId: "b#0" }] };
  // cited the wrong chunk: the claim is checked against what it cited
  assert.equal(answerSupport("qa", answer, ctx)!.unsupportedSentences.length, 1);
  assert.equal(answerSupport("qa", { ...answer, citations: [] }, ctx)!.ratio, 1);
  assert.equal(answerSupport("qa", { ...answer, abstained: true }, ctx), undefined);
  assert.equal(answerSupport("classify", answer, ctx), undefined);
  assert.equal(answerSupport("qa", answer, []), undefined);
});

test("isRetrievalMiss: only when retrieval ran and hit@k is 0", () => {
  assert.equal(isRetrievalMiss({ k: 5, hitAtK: 0, recallAtK: 0, mrr: 0.1 }), true);
  assert.equal(isRetrievalMiss({ k: 5, hitAtK: 1, recallAtK: 0.5, mrr: 1 }), false);
  assert.equal(isRetrievalMiss(undefined), false);
});

test("isFallback mirrors the abstention flag", () => {
  assert.equal(isFallback(true), true);
  assert.equal(isFallback(false), false);
});

test("staleness: stale answer present and no current one", () => {
  const verdict = (...args: Parameters<typeof staleness>) => {
    const s = staleness(...args);
    return s.stale ? { stale: true, staleAnswer: s.staleAnswer } : { stale: false };
  };
  assert.deepEqual(verdict("The Pro plan is $10 per user per month.", ["$10"], ["$12"]), { stale: true, staleAnswer: "$10" });
  assert.deepEqual(verdict("Pro was $10 and is now $12 per user.", ["$10"], ["$12"]), { stale: false });
  assert.deepEqual(verdict("Pro is $100 per user.", ["$10"], ["$12"]), { stale: false });
  assert.deepEqual(verdict("Within 14 days.", ["14 days"], undefined), { stale: true, staleAnswer: "14 days" });
  assert.deepEqual(verdict("Within 14 days.", undefined, ["30 days"]), { stale: false });
});
