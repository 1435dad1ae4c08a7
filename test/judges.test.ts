import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  JUDGE_SCHEMAS,
  applicableJudges,
  assertNotSelfJudge,
  cohenKappa,
  judgeHumanAgreement,
  judgeMessages,
  judgeOnlyCases,
  loadJudgePrompt,
  readScore,
  runJudge,
  verdictToScore,
  type JudgeInput,
} from "../src/evaluate/judges/index.ts";
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult, ContextChunk } from "../src/models/index.ts";
import { JUDGE_NAMES, type JudgeName } from "../src/config/schema.ts";
import type { CaseResult, Suite, SuiteCase } from "../src/evaluate/types.ts";
import { InputError } from "../src/util/errors.ts";

// ---------------------------------------------------------------------------------------------
// A scripted in-process ChatProvider: each call takes the next reply (text, or an error to throw).

type Reply = string | Error;

function fakeProvider(replies: Reply[], id = "fake:judge-model") {
  const calls: { messages: ChatMessage[]; options?: ChatOptions }[] = [];
  const provider: ChatProvider & { calls: typeof calls } = {
    id,
    calls,
    async chat(messages: ChatMessage[], options?: ChatOptions): Promise<ChatResult> {
      calls.push({ messages, options });
      const next = replies[Math.min(calls.length - 1, replies.length - 1)];
      if (next instanceof Error) throw next;
      return { text: next, usage: { inputTokens: 100, outputTokens: 20 }, model: "judge-model-v1" };
    },
  };
  return provider;
}

/** An error shaped like ProviderError with the `retryable` flag. */
function providerError(message: string, retryable: boolean): Error {
  return Object.assign(new Error(message), { name: "ProviderError", retryable });
}

const CHUNK: ContextChunk = {
  id: "docs/v2/pricing.md#0",
  path: "docs/v2/pricing.md",
  headingPath: ["Pricing", "Pro"],
  lineStart: 1,
  lineEnd: 4,
  version: "v2",
  text: "The Pro plan costs $12 per user per month billed monthly.",
};

const priceCase: SuiteCase = {
  id: "pro-price",
  task: "qa",
  input: "How much is Pro per user per month?",
  answer: ["$12"],
  tone: { rubric: "Warm and concise; offers a next step." },
  policies: ["Never promise refunds."],
  file: "suite.yaml",
  line: 1,
};
const suite: Suite = { path: "suite.yaml", labels: [], policies: ["Do not mention competitors."], cases: [priceCase] };

const input = (over: Partial<JudgeInput> = {}): JudgeInput => ({
  case: priceCase,
  suite,
  output: { text: "Pro costs $12 per user per month [1].", abstained: false, citations: [{ chunkId: CHUNK.id }] },
  context: [CHUNK],
  ...over,
});

const GOOD = '{"reasoning": "States $12 as the reference does.", "verdict": "pass", "score": 1}';

// ---------------------------------------------------------------------------------------------
// Parsing

test("valid JSON: one schema-constrained call at temperature 0, verdict read", async () => {
  const p = fakeProvider([GOOD]);
  const v = await runJudge("correctness", input(), p, { sample: 2 });
  assert.equal(v.pass, true);
  assert.equal(v.score, 1);
  assert.equal(v.attempts, 1);
  assert.equal(v.model, "judge-model-v1");
  assert.equal(v.reasoning, "States $12 as the reference does.");
  assert.deepEqual(v.usage, { inputTokens: 100, outputTokens: 20 });
  assert.equal(v.cached, false);
  assert.equal(v.error, undefined);
  assert.equal(p.calls.length, 1);
  const opts = p.calls[0].options!;
  assert.equal(opts.temperature, 0);
  assert.equal(opts.sample, 2);
  assert.equal(opts.jsonSchema?.name, "judge_correctness");
  assert.deepEqual(opts.jsonSchema?.schema, JUDGE_SCHEMAS.correctness);
  assert.deepEqual(verdictToScore(v), { name: "judge.correctness", pass: true, value: 1, detail: "States $12 as the reference does." });
});

test("fenced JSON and prose-wrapped JSON are read", async () => {
  const fenced = await runJudge("relevance", input(), fakeProvider(['```json\n{"verdict": "fail", "score": 0.2, "reasoning": "Talks about limits."}\n```']));
  assert.deepEqual([fenced.pass, fenced.score, fenced.attempts], [false, 0.2, 1]);
  const prose = await runJudge(
    "relevance",
    input(),
    fakeProvider(['Sure! Here is my evaluation: {"verdict": "pass", "score": 0.9, "reasoning": "On topic {mostly}."} Let me know if you need more.']),
  );
  assert.deepEqual([prose.pass, prose.score, prose.reasoning], [true, 0.9, "On topic {mostly}."]);
  // a stray brace before the JSON
  const stray = await runJudge("relevance", input(), fakeProvider(['Scale {0-1}. Result: {"verdict": "fail", "score": 0.1, "reasoning": "Off topic."}']));
  assert.deepEqual([stray.pass, stray.score, stray.attempts], [false, 0.1, 1]);
});

test("common variants: verdict words, key case, score as a string", async () => {
  const a = await runJudge("tone", input(), fakeProvider(['{"Verdict": "PASS", "Score": "0.8", "Reason": "Warm."}']));
  assert.deepEqual([a.pass, a.score, a.reasoning], [true, 0.8, "Warm."]);
  const b = await runJudge("tone", input(), fakeProvider(['{"verdict": "No", "score": 0, "reasoning": "Curt."}']));
  assert.deepEqual([b.pass, b.score], [false, 0]);
  const c = await runJudge("correctness", input(), fakeProvider(['{"verdict": "Yes", "reasoning": "Same fact."}']));
  assert.deepEqual([c.pass, c.score], [true, 1]);
  assert.match(c.notes!.join(), /no score given; 1 taken from the verdict/);
});

test("score rescaling: 0–10 and 0–100 scales, percentages and fractions, with the reason recorded", async () => {
  const ten = await runJudge("correctness", input(), fakeProvider(['{"verdict": "pass", "score": 8, "reasoning": "ok"}']));
  assert.equal(ten.score, 0.8);
  assert.deepEqual(ten.notes, ["score 8 read on a 0–10 scale as 0.8"]);
  assert.match(verdictToScore(ten).detail!, /\(score 8 read on a 0–10 scale as 0\.8\)/);
  const hundred = await runJudge("correctness", input(), fakeProvider(['{"verdict": "fail", "score": "35", "reasoning": "no"}']));
  assert.equal(hundred.score, 0.35);
  assert.deepEqual(hundred.notes, ["score 35 read on a 0–100 scale as 0.35"]);
  const notes: string[] = [];
  assert.equal(readScore("80%", notes), 0.8);
  assert.equal(readScore("3/4", notes), 0.75);
  assert.equal(readScore(0.5, notes), 0.5);
  assert.equal(notes.length, 2);
  assert.equal(readScore(-1, notes), undefined);
  assert.equal(readScore(250, notes), undefined);
  assert.equal(readScore("high", notes), undefined);
});

test("wrong types then a valid reply: retried with the problem stated, attempts 2, usage summed", async () => {
  const p = fakeProvider(['{"verdict": 1234, "score": "high", "reasoning": 5}', GOOD]);
  const v = await runJudge("correctness", input(), p);
  assert.deepEqual([v.pass, v.score, v.attempts, v.error], [true, 1, 2, undefined]);
  assert.deepEqual(v.usage, { inputTokens: 200, outputTokens: 40 });
  // the retry shows the judge its reply and what was wrong (which also changes the cache key)
  const retry = p.calls[1].messages;
  assert.equal(retry.length, 4);
  assert.equal(retry[2].role, "assistant");
  assert.match(retry[3].content, /could not be used \(reply does not match the schema: verdict: .*score: /);
});

test("always garbage → judge_error after 3 attempts: pass false, value 0, never NaN", async () => {
  const p = fakeProvider(["I think the answer is pretty good overall!"]);
  const v = await runJudge("correctness", input(), p);
  assert.equal(p.calls.length, 3);
  assert.equal(v.error, "judge_error");
  assert.equal(v.attempts, 3);
  assert.equal(v.pass, undefined);
  assert.equal(v.score, undefined);
  assert.match(v.errorDetail!, /no usable verdict after 3 attempts; last: reply is not a JSON object: "I think the answer/);
  const s = verdictToScore(v);
  assert.deepEqual([s.name, s.pass, s.value, s.error], ["judge.correctness", false, 0, "judge_error"]);
  assert.ok(!Number.isNaN(s.value));
  // ambiguous verdicts are not guessed either
  const partial = await runJudge("tone", input(), fakeProvider(['{"verdict": "partially", "score": 0.5, "reasoning": "meh"}']), { maxAttempts: 2 });
  assert.deepEqual([partial.error, partial.attempts], ["judge_error", 2]);
});

test("a retryable provider error is one failed attempt; a non-retryable one is rethrown", async () => {
  const flaky = fakeProvider([providerError("HTTP 503 after 3 retries", true), GOOD]);
  const v = await runJudge("correctness", input(), flaky);
  assert.deepEqual([v.pass, v.attempts], [true, 2]);
  assert.equal(flaky.calls[1].messages.length, 2, "same messages again after a provider error");

  const down = await runJudge("correctness", input(), fakeProvider([providerError("HTTP 503", true)]));
  assert.equal(down.error, "judge_error");
  assert.match(down.errorDetail!, /provider error: HTTP 503/);

  const auth = fakeProvider([providerError("HTTP 401: invalid API key", false)]);
  await assert.rejects(runJudge("correctness", input(), auth), /invalid API key/);
  assert.equal(auth.calls.length, 1);
});

test("faithfulness: score = supported share, pass = no unsupported claim; verdictToScore quotes the unsupported claims", async () => {
  const reply = JSON.stringify({
    reasoning: "One claim is not in the context.",
    claims: [
      { claim: "Pro costs $12 per user per month.", supported: true, evidence: "[1] The Pro plan costs $12" },
      { claim: "Pro includes a free onboarding workshop.", supported: "no", evidence: "" },
      { claim: "It is billed monthly.", supported: "Yes" },
    ],
  });
  const v = await runJudge("faithfulness", input(), fakeProvider([reply]));
  assert.equal(v.pass, false);
  assert.ok(Math.abs(v.score! - 2 / 3) < 1e-12);
  assert.deepEqual(
    v.claims?.map((c) => c.supported),
    [true, false, true],
  );
  const s = verdictToScore(v);
  assert.equal(s.detail, '2/3 claims supported; unsupported: "Pro includes a free onboarding workshop."');
  const none = await runJudge("faithfulness", input(), fakeProvider(['{"reasoning": "Only a greeting.", "claims": []}']));
  assert.deepEqual([none.pass, none.score], [true, 1]);
});

test("policy: violations recorded; a 'pass' that lists violations counts as a fail", async () => {
  const v = await runJudge("policy", input(), fakeProvider(['{"reasoning": "Promises a refund.", "violations": ["Never promise refunds: \\"we will refund you\\""], "verdict": "fail"}']));
  assert.deepEqual([v.pass, v.score, v.violations], [false, 0, ['Never promise refunds: "we will refund you"']]);
  assert.match(verdictToScore(v).detail!, /^violations: "Never promise refunds/);
  const odd = await runJudge("policy", input(), fakeProvider(['{"reasoning": "", "violations": "mentions a competitor", "verdict": "pass"}']));
  assert.equal(odd.pass, false);
  assert.deepEqual(odd.violations, ["mentions a competitor"]);
  const clean = await runJudge("policy", input(), fakeProvider(['{"reasoning": "Fine.", "violations": [], "verdict": "pass"}']));
  assert.deepEqual([clean.pass, clean.score], [true, 1]);
});

test("verdictToScore: a verdict without pass and without error is still a judge_error, not a pass", () => {
  const s = verdictToScore({ judge: "tone", model: "m", attempts: 1, usage: { inputTokens: 0, outputTokens: 0 }, cached: false });
  assert.deepEqual([s.pass, s.value, s.error], [false, 0, "judge_error"]);
});

// ---------------------------------------------------------------------------------------------
// Prompts

test("prompt files hold the case's question, answer, reference, context, rubric and policies", () => {
  const user = (name: JudgeName) => judgeMessages(name, input())[1].content;
  for (const name of JUDGE_NAMES) {
    const text = user(name);
    assert.ok(text.includes(priceCase.input), `${name}: question`);
    assert.ok(text.includes("Pro costs $12 per user per month [1]."), `${name}: answer`);
    assert.match(text, /JSON object/, `${name}: asks for JSON`);
    assert.doesNotMatch(text, /\{\{|<!--/, `${name}: no placeholder or header comment left`);
  }
  assert.match(user("correctness"), /<reference>\n\$12\n<\/reference>/);
  assert.match(user("faithfulness"), /\[1\] \(docs\/v2\/pricing\.md › Pricing › Pro\)\nThe Pro plan costs \$12 per user per month billed monthly\./);
  assert.match(user("tone"), /Warm and concise; offers a next step\./);
  assert.match(user("policy"), /- Do not mention competitors\.\n- Never promise refunds\./);
  // several accepted answers, and text that looks like a placeholder is not expanded
  const multi = judgeMessages("correctness", input({ case: { ...priceCase, answer: ["$12", "12 dollars"] }, output: { text: "It is {{reference}}", abstained: false, citations: [] } }))[1].content;
  assert.match(multi, /Any one of these is a correct answer:\n- \$12\n- 12 dollars/);
  assert.match(multi, /It is \{\{reference\}\}/);
});

test("a missing or broken prompt file fails clearly", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-prompts-"));
  assert.throws(() => loadJudgePrompt("tone", dir), /judge prompt file for 'tone' is missing: .*tone\.md/);
  writeFileSync(join(dir, "tone.md"), "Rubric: {{rubrik}}\nAnswer: {{answer}}");
  assert.throws(() => loadJudgePrompt("tone", dir), /unknown placeholder \{\{rubrik\}\}/);
  writeFileSync(join(dir, "policy.md"), "<!-- notes -->\nAnswer: {{answer}}");
  assert.throws(() => loadJudgePrompt("policy", dir), /the policy judge needs \{\{policies\}\}/);
  writeFileSync(join(dir, "relevance.md"), "<!-- notes {{question}} -->\nQ: {{question}}\nA: {{answer}}\nReply with a JSON object.");
  assert.equal(loadJudgePrompt("relevance", dir), "Q: {{question}}\nA: {{answer}}\nReply with a JSON object.");
});

// ---------------------------------------------------------------------------------------------
// Which judges apply

test("applicableJudges matrix", () => {
  const all = [...JUDGE_NAMES];
  const bare: SuiteCase = { id: "b", task: "qa", input: "q", answer: ["a"], file: "s", line: 1 };
  const noPolicies: Suite = { path: "s", labels: [], cases: [] };
  const answeredWithContext = { answered: true, hasContext: true };
  assert.deepEqual(applicableJudges(bare, noPolicies, all, answeredWithContext), ["correctness", "faithfulness", "relevance"]);
  assert.deepEqual(applicableJudges(bare, noPolicies, all, { answered: true, hasContext: false }), ["correctness", "relevance"]);
  // abstained: nothing to judge for content (abstention is scored deterministically)
  assert.deepEqual(applicableJudges(bare, noPolicies, all, { answered: false, hasContext: true }), []);
  // tone rubric and policies apply even to an abstention's wording
  assert.deepEqual(applicableJudges(priceCase, noPolicies, all, { answered: false, hasContext: true }), ["tone", "policy"]);
  assert.deepEqual(applicableJudges(bare, suite, all, { answered: false, hasContext: false }), ["policy"]);
  assert.deepEqual(applicableJudges(priceCase, suite, all, answeredWithContext), [...JUDGE_NAMES]);
  // contains is a reference too; no answer/contains → no correctness; must_abstain → no correctness
  assert.deepEqual(applicableJudges({ ...bare, answer: undefined, contains: ["x"] }, noPolicies, ["correctness"], answeredWithContext), ["correctness"]);
  assert.deepEqual(applicableJudges({ ...bare, answer: undefined, regex: "x" }, noPolicies, all, answeredWithContext), ["faithfulness", "relevance"]);
  assert.deepEqual(applicableJudges({ ...bare, answer: undefined, must_abstain: true }, noPolicies, all, answeredWithContext), ["faithfulness", "relevance"]);
  // only the enabled judges, in the standard order
  assert.deepEqual(applicableJudges(priceCase, suite, ["policy", "correctness"], answeredWithContext), ["correctness", "policy"]);
  // tone without a rubric is deterministic only
  assert.deepEqual(applicableJudges({ ...bare, tone: { must_include: ["thanks"] } }, noPolicies, ["tone"], answeredWithContext), []);
  // classify and extract are never LLM-judged
  const cls: SuiteCase = { ...priceCase, task: "classify", label: "billing" };
  const ext: SuiteCase = { ...priceCase, task: "extract", json_schema: { type: "object" } };
  assert.deepEqual(applicableJudges(cls, suite, all, answeredWithContext), []);
  assert.deepEqual(applicableJudges(ext, suite, all, answeredWithContext), []);
});

test("judgeOnlyCases: cases whose only expectation is a tone rubric", () => {
  const rubricOnly: SuiteCase = { id: "r", task: "qa", input: "q", tone: { rubric: "warm" }, file: "s", line: 1 };
  assert.deepEqual(
    judgeOnlyCases({ cases: [rubricOnly, priceCase, { ...rubricOnly, id: "r2", tone: { rubric: "warm", must_include: ["thanks"] } }] }).map((c) => c.id),
    ["r"],
  );
});

// ---------------------------------------------------------------------------------------------
// Self-judging

test("judging with the model under test is refused unless --allow-self-judge", () => {
  assert.throws(
    () => assertNotSelfJudge("openai:gpt-4.1-mini", ["openai:gpt-4.1-mini"], false),
    (e: unknown) => e instanceof InputError && /refusing to judge with the model under test/.test(e.message) && /--allow-self-judge/.test(e.message) && /self-preference/.test(e.message),
  );
  // the same model through another endpoint, or a fine-tune of it, is still the same model
  assert.throws(() => assertNotSelfJudge("openai-compatible:azure/gpt-4.1-mini", ["offline:extractive", "openai:gpt-4.1-mini"], false), InputError);
  assert.throws(() => assertNotSelfJudge("openai:gpt-4o-mini", ["openai:ft:gpt-4o-mini:acme::abc123"], false), InputError);
  assert.throws(() => assertNotSelfJudge("ollama:llama3.2:latest", ["ollama:llama3.2"], false), InputError);
  assert.doesNotThrow(() => assertNotSelfJudge("openai:gpt-4.1", ["openai:gpt-4.1-mini", "offline:extractive"], false));
  assert.doesNotThrow(() => assertNotSelfJudge("openai:gpt-4.1-mini", ["openai:gpt-4.1-mini"], true));
});

// ---------------------------------------------------------------------------------------------
// Agreement

const pairsOf = (counts: { tt: number; tf: number; ft: number; ff: number }) => [
  ...Array.from({ length: counts.tt }, () => ({ a: true, b: true })),
  ...Array.from({ length: counts.tf }, () => ({ a: true, b: false })),
  ...Array.from({ length: counts.ft }, () => ({ a: false, b: true })),
  ...Array.from({ length: counts.ff }, () => ({ a: false, b: false })),
];
const close = (x: number, y: number) => assert.ok(Math.abs(x - y) < 1e-12, `${x} ≉ ${y}`);

test("cohenKappa: hand-computed fixtures", () => {
  // textbook 2×2: pₒ = 35/50 = 0.7; pₑ = 0.5·0.6 + 0.5·0.4 = 0.5; κ = 0.2/0.5 = 0.4
  const textbook = cohenKappa(pairsOf({ tt: 20, tf: 5, ft: 10, ff: 15 }));
  assert.equal(textbook.n, 50);
  close(textbook.agreement, 0.7);
  close(textbook.kappa, 0.4);
  // perfect agreement with both categories: κ = 1
  close(cohenKappa(pairsOf({ tt: 3, tf: 0, ft: 0, ff: 2 })).kappa, 1);
  // perfect disagreement, balanced: pₒ = 0, pₑ = 0.5 → κ = −1
  close(cohenKappa(pairsOf({ tt: 0, tf: 2, ft: 2, ff: 0 })).kappa, -1);
  // pₒ = 0.6, pₑ = 0.6·0.6 + 0.4·0.4 = 0.52 → κ = 0.08/0.48 = 1/6
  close(cohenKappa(pairsOf({ tt: 4, tf: 2, ft: 2, ff: 2 })).kappa, 1 / 6);
  // both raters constant and equal: pₑ = 1, convention κ = 1 (no NaN)
  assert.deepEqual(cohenKappa(pairsOf({ tt: 4, tf: 0, ft: 0, ff: 0 })), { n: 4, kappa: 1, agreement: 1 });
  // one rater constant, the other not: pₑ = pₒ → κ = 0
  close(cohenKappa(pairsOf({ tt: 3, tf: 1, ft: 0, ff: 0 })).kappa, 0);
  assert.deepEqual(cohenKappa([]), { n: 0, kappa: 0, agreement: 0 });
});

test("judgeHumanAgreement: human label vs the case verdict, judge errors left out", () => {
  const result = (passed: boolean, human?: "pass" | "fail", judgeError = false): CaseResult =>
    ({
      caseId: "c",
      passed,
      human,
      judges: judgeError ? [{ judge: "correctness", model: "m", error: "judge_error", attempts: 3, usage: { inputTokens: 0, outputTokens: 0 }, cached: false }] : [],
    }) as unknown as CaseResult;
  const results = [
    result(true, "pass"),
    result(true, "pass"),
    result(false, "fail"),
    result(true, "fail"),
    result(false, "pass", true), // unknown verdict: left out
    result(true), // no human label
  ];
  const a = judgeHumanAgreement(results);
  assert.equal(a.n, 4);
  close(a.agreement, 0.75);
  // human pass 2/4, case pass 3/4: pₑ = 0.5·0.75 + 0.5·0.25 = 0.5 → κ = 0.25/0.5 = 0.5
  close(a.kappa, 0.5);
});
