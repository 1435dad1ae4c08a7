import { test } from "node:test";
import assert from "node:assert/strict";
import {
  scoreAnswer,
  scoreContains,
  scoreRegex,
  scoreAbstention,
  scoreJsonSchema,
  scoreExpectedJson,
  scoreLabel,
  scoreForbidden,
  scoreTone,
  scoreCase,
  retrievalScores,
  sourceMatches,
  ndcgAtK,
  compileSchema,
} from "../src/evaluate/scorers.ts";
import { normalizeText, answerTokens, tokenF1 } from "../src/evaluate/normalize.ts";
import type { SuiteCase } from "../src/evaluate/types.ts";

const out = (text: string, extra: Partial<{ abstained: boolean; label: string; json: unknown }> = {}) => ({ text, abstained: false, ...extra });
const kase = (c: Partial<SuiteCase>): SuiteCase => ({ id: "c", task: "qa", input: "q", file: "s.yaml", line: 1, ...c });

test("normalizeText: case, NFKC, markdown, citations, $, thousands, punctuation, identifiers", () => {
  assert.equal(normalizeText("**Pro** costs $1,000,000 per *user* [1][2]."), "pro costs 1000000 per user");
  assert.equal(normalizeText("Uptime: 99.9%; header `X-Acme-Signature`, v2.5!"), "uptime 99.9 header x-acme-signature v2.5");
  assert.equal(normalizeText("Ｆｕｌｌ　width ＡＢＣ"), "full width abc");
  assert.equal(normalizeText("per_page,  cursor\n\tlimit"), "per_page cursor limit");
  assert.equal(normalizeText("see [the docs](https://x.example/a) now"), "see the docs now");
  assert.equal(normalizeText("1,5 and 12,34"), "1,5 and 12,34"); // not thousands groups: left alone
  assert.deepEqual(answerTokens("It's $12 [3]."), ["it's", "12"]);
  assert.deepEqual(answerTokens("  "), []);
});

test("answer: containment — '$12' matches '$12 per user' but not '$120'", () => {
  assert.equal(scoreAnswer(["$12"], out("Pro costs $12 per user per month [1].")).pass, true);
  const r = scoreAnswer(["$12"], out("Pro costs $120 per user."));
  assert.equal(r.pass, false);
  assert.equal(r.value, 0);
});

test("answer: numbers with thousands separators and markdown match", () => {
  assert.equal(scoreAnswer(["5,000 runs"], out("The Pro plan includes **5000 runs** per month.")).pass, true);
  assert.equal(scoreAnswer(["5000"], out("Up to 5,000 automation runs.")).pass, true);
  assert.equal(scoreAnswer(["5000"], out("Up to 50,000 automation runs.")).pass, false);
});

test("answer: normalised exact match, any of several answers", () => {
  const r = scoreAnswer(["nope", "**Thirty days.**"], out("thirty days"));
  assert.deepEqual([r.pass, r.value], [true, 1]);
});

test("answer: token-F1 threshold decides partial matches; value is the best F1", () => {
  const gold = "refundable within 30 days of payment";
  const text = "annual plans are refundable within 30 days";
  const f1 = tokenF1(answerTokens(text), answerTokens(gold));
  // overlap 4 (refundable within 30 days); P = 4/7, R = 4/6 → F1 = 8/13
  assert.ok(Math.abs(f1 - 8 / 13) < 1e-9);
  const loose = scoreAnswer([gold], out(text), { f1Threshold: 0.6 });
  assert.equal(loose.pass, true);
  assert.ok(Math.abs(loose.value - 8 / 13) < 1e-9);
  const strict = scoreAnswer([gold], out(text), { f1Threshold: 0.7 });
  assert.equal(strict.pass, false);
  assert.ok(Math.abs(strict.value - 8 / 13) < 1e-9);
});

test("answer: abstaining fails unless the case must abstain", () => {
  assert.equal(scoreAnswer(["$12"], out("I don't know.", { abstained: true })).pass, false);
  assert.equal(scoreAnswer(["$12"], out("I don't know.", { abstained: true }), { mustAbstain: true }).pass, true);
});

test("contains: all substrings, normalised, with number boundaries", () => {
  assert.equal(scoreContains(["X-Acme-Signature", "hmac sha-256"], out("Check the `x-acme-signature` header (HMAC SHA-256).")).pass, true);
  const r = scoreContains(["24 hours", "8 retries", "backoff"], out("We retry 8 times over 24 hours."));
  assert.equal(r.pass, false);
  assert.ok(Math.abs(r.value - 1 / 3) < 1e-9);
  assert.match(r.detail!, /"8 retries"/);
  assert.equal(scoreContains(["12"], out("costs $120")).pass, false);
  assert.equal(scoreContains(["1,000"], out("1000 requests")).pass, true);
  assert.equal(scoreContains(["refund"], out("Refunds are possible")).pass, true);
});

test("regex: on the raw text; /pattern/flags form", () => {
  assert.equal(scoreRegex("abp_[a-z0-9]+", out("Use token abp_12ab.")).pass, true);
  assert.equal(scoreRegex("^\\$\\d+", out("Costs $12")).pass, false); // raw text: not anchored at start
  assert.equal(scoreRegex("/^costs/i", out("Costs $12")).pass, true);
  assert.equal(scoreRegex("^costs", out("Costs $12")).pass, false);
});

test("abstention: passes iff abstained; only emitted for must_abstain cases", () => {
  assert.equal(scoreAbstention(true, out("I don't know", { abstained: true })).pass, true);
  assert.equal(scoreAbstention(true, out("Yes, HIPAA compliant.")).pass, false);
  const answerable = scoreCase(kase({ answer: ["$12"] }), out("I don't know", { abstained: true }));
  assert.deepEqual(answerable.map((s) => [s.name, s.pass]), [["answer", false]]);
  const unanswerable = scoreCase(kase({ must_abstain: true }), out("I don't know", { abstained: true }));
  assert.deepEqual(unanswerable.map((s) => [s.name, s.pass]), [["abstention", true]]);
});

test("json_schema: valid, invalid, not JSON, formats email and date, cached validators", () => {
  const schema = {
    type: "object",
    properties: { email: { type: "string", format: "email" }, due: { type: "string", format: "date" }, n: { type: "integer" } },
    required: ["email"],
  };
  assert.equal(scoreJsonSchema(schema, out("", { json: { email: "ana@example.com", due: "2025-06-01" } })).pass, true);
  assert.equal(scoreJsonSchema(schema, out('```json\n{"email":"ana@example.com"}\n```')).pass, true);
  const badEmail = scoreJsonSchema(schema, out('{"email":"not-an-email"}'));
  assert.equal(badEmail.pass, false);
  assert.match(badEmail.detail!, /\/email must match format "email"/);
  assert.equal(scoreJsonSchema(schema, out('{"email":"a@b.co","due":"2025-02-30"}')).pass, false);
  assert.equal(scoreJsonSchema(schema, out('{"due":"2025-02-28"}')).pass, false);
  const notJson = scoreJsonSchema(schema, out("Sure! The email is ana@example.com"));
  assert.deepEqual([notJson.pass, notJson.detail], [false, "output is not JSON"]);
  assert.equal(compileSchema({ ...schema }), compileSchema(schema));
});

test("expected_json: numbers numerically, strings normalised, value = share of fields right", () => {
  const expected = { plan: "Business", seats: 25, total: "$1,200", tags: ["b", "a"] };
  const good = scoreExpectedJson(expected, out("", { json: { plan: "business", seats: "25", total: 1200, tags: ["A", "B"], extra: 1 } }));
  assert.deepEqual([good.pass, good.value], [true, 1]);
  const half = scoreExpectedJson(expected, out("", { json: { plan: "Pro", seats: 25.0, total: "1200" } }));
  assert.equal(half.pass, false);
  assert.equal(half.value, 0.5);
  assert.match(half.detail!, /plan: expected "Business", got "Pro"/);
  assert.match(half.detail!, /tags: expected \["b","a"\], got nothing/);
  assert.deepEqual(scoreExpectedJson(expected, out("not json")).detail, "output is not JSON");
});

test("label: exact after normalisation", () => {
  assert.equal(scoreLabel("account_access", out("", { label: "Account_Access" })).pass, true);
  assert.equal(scoreLabel("billing", out("", { label: "bug_report" })).pass, false);
  assert.equal(scoreLabel("billing", out("billing")).pass, true); // no label field: the text is the label
});

test("forbidden: case-insensitive patterns; fails on any match", () => {
  const r = scoreForbidden(["guarantee(d)?", "\\bSSN\\b"], out("We GUARANTEED a refund."));
  assert.equal(r.pass, false);
  assert.match(r.detail!, /"GUARANTEED"/);
  assert.equal(scoreForbidden(["guarantee"], out("Refunds within 30 days.")).pass, true);
});

test("tone: must_include all, must_not_include none", () => {
  const rule = { must_include: ["sorry"], must_not_include: ["calm down", "obviously"] };
  assert.equal(scoreTone(rule, out("Sorry about that — here's how to fix it.")).pass, true);
  const r = scoreTone(rule, out("Obviously, calm down."));
  assert.equal(r.pass, false);
  assert.equal(r.value, 0);
  assert.match(r.detail!, /missing required phrase "sorry"; contains banned phrase "calm down", "obviously"/);
});

test("scoreCase runs exactly the scorers a case asks for", () => {
  const c = kase({
    task: "extract",
    json_schema: { type: "object" },
    expected_json: { a: 1 },
    forbidden: ["password"],
    tone: { must_not_include: ["lol"] },
    regex: "\\{",
  });
  const scores = scoreCase(c, out('{"a": 1}'));
  assert.deepEqual(scores.map((s) => s.name), ["regex", "json_schema", "expected_json", "forbidden", "tone"]);
  assert.ok(scores.every((s) => s.pass));
  const f1 = scoreCase(kase({ answer: ["refundable within 30 days of payment"] }), out("annual plans are refundable within 30 days"), { f1Threshold: 0.9 });
  assert.equal(f1[0].pass, false);
});

test("sourceMatches: path, path#Heading (case-insensitive, anchor form), path#n chunk id", () => {
  const chunk = { id: "docs/v2/billing.md#3", path: "docs/v2/billing.md", headingPath: ["Billing", "Refund policy"] };
  assert.equal(sourceMatches("docs/v2/billing.md", chunk), true);
  assert.equal(sourceMatches("./docs/v2/billing.md", chunk), true);
  assert.equal(sourceMatches("docs/v1/billing.md", chunk), false);
  assert.equal(sourceMatches("docs/v2/billing.md#refund POLICY", chunk), true);
  assert.equal(sourceMatches("docs/v2/billing.md#refund-policy", chunk), true);
  assert.equal(sourceMatches("docs/v2/billing.md#Invoices", chunk), false);
  assert.equal(sourceMatches("docs/v2/billing.md#3", chunk), true);
  assert.equal(sourceMatches("docs/v2/billing.md#4", chunk), false);
  assert.equal(sourceMatches("docs/v2/other.md#Refund policy", chunk), false);
});

test("retrievalScores on a hand-computed fixture", () => {
  const retrieved = [
    { id: "x.md#0", path: "x.md", headingPath: ["X"] },
    { id: "a.md#1", path: "a.md", headingPath: ["A", "Limits"] },
    { id: "y.md#0", path: "y.md", headingPath: [] },
    { id: "b.md#2", path: "b.md", headingPath: ["B"] },
  ];
  // gold: a.md#Limits (rank 2), b.md (rank 4), c.md (absent)
  const gold = ["a.md#Limits", "b.md", "c.md"];
  assert.deepEqual(retrievalScores(gold, retrieved, 3), { k: 3, hitAtK: 1, recallAtK: 1 / 3, mrr: 0.5 });
  assert.deepEqual(retrievalScores(gold, retrieved, 4), { k: 4, hitAtK: 1, recallAtK: 2 / 3, mrr: 0.5 });
  assert.deepEqual(retrievalScores(gold, retrieved, 1), { k: 1, hitAtK: 0, recallAtK: 0, mrr: 0.5 }); // MRR looks at the full list
  assert.deepEqual(retrievalScores(["b.md#2"], retrieved, 5), { k: 5, hitAtK: 1, recallAtK: 1, mrr: 0.25 });
  assert.deepEqual(retrievalScores(["z.md"], retrieved, 5), { k: 5, hitAtK: 0, recallAtK: 0, mrr: 0 });
});

test("ndcgAtK: graded relevance with log2 discount", () => {
  assert.equal(ndcgAtK([3, 2, 0], 3), 1);
  // DCG = 0/1 + 3/log2(3) + 2/log2(4) ; IDCG = 3/1 + 2/log2(3) + 0
  const dcg = 3 / Math.log2(3) + 2 / 2;
  const idcg = 3 + 2 / Math.log2(3);
  assert.ok(Math.abs(ndcgAtK([0, 3, 2], 3) - dcg / idcg) < 1e-12);
  // k cuts the ranked list, but the ideal is built from all judged items
  assert.ok(Math.abs(ndcgAtK([0, 3, 2], 1) - 0) < 1e-12);
  assert.equal(ndcgAtK([0, 0], 2), 0);
  assert.equal(ndcgAtK([], 5), 0);
});

test("sourceMatches: a section that starts inside a chunk (named by its spans, not its headingPath) is retrieved", () => {
  // The chunker merges short sections: headingPath names the first, spans name every one the text covers.
  const merged = {
    id: "docs/settings.md#4",
    path: "docs/settings.md",
    headingPath: ["Settings", "nodeOptions"],
    spans: [{ headingPath: ["Settings", "nodeOptions"] }, { headingPath: ["Settings", "verifyDepsBeforeRun"] }],
  };
  assert.equal(sourceMatches("docs/settings.md#verifyDepsBeforeRun", merged), true);
  assert.equal(sourceMatches("docs/settings.md#verify-deps-before-run", merged), false, "slug forms compare against the heading's own slug");
  assert.equal(sourceMatches("docs/settings.md#verifydepsbeforerun", merged), true);
  assert.equal(sourceMatches("docs/settings.md#strictDepBuilds", merged), false);
  // Without spans only headingPath counts (chunks from before PIPELINE_VERSION 4).
  assert.equal(sourceMatches("docs/settings.md#verifyDepsBeforeRun", { ...merged, spans: undefined }), false);
  const r = retrievalScores(["docs/settings.md#verifyDepsBeforeRun"], [merged], 5);
  assert.deepEqual([r.hitAtK, r.recallAtK, r.mrr], [1, 1, 1]);
});
