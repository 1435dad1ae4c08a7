import { test } from "node:test";
import assert from "node:assert/strict";
import { labelFailure, FAILURE_RULES, JUDGE_FAILURE_RULES, type FailureInput } from "../src/evaluate/failures.ts";
import { scoreCase, retrievalScores } from "../src/evaluate/scorers.ts";
import { FAILURE_CAUSES, type JudgeVerdict, type SuiteCase } from "../src/evaluate/types.ts";
import { verdictToScore } from "../src/evaluate/judges/index.ts";

const PRICING = { id: "docs/v2/pricing.md#0", path: "docs/v2/pricing.md", headingPath: ["Pricing", "Pro"], text: "The Pro plan costs $12 per user per month billed monthly, or $10 billed annually." };
const LIMITS = { id: "docs/v2/limits.md#0", path: "docs/v2/limits.md", headingPath: ["Limits"], text: "The API allows 300 requests per minute per token." };
const OLD = { id: "docs/v1/pricing.md#0", path: "docs/v1/pricing.md", headingPath: ["Pricing"], text: "The Pro plan costs $10 per user per month billed monthly." };
const CORPUS = new Set(["docs/v2/pricing.md", "docs/v2/limits.md", "docs/v1/pricing.md"]);

const RAG = { usesContext: true, usesRetrieval: true };
const PROMPT_ONLY = { usesContext: false, usesRetrieval: false };
const LONG = { usesContext: true, usesRetrieval: false };

const priceCase: SuiteCase = {
  id: "pro-price",
  task: "qa",
  input: "How much is Pro per user per month?",
  answer: ["$12"],
  stale_answers: ["$10"],
  sources: ["docs/v2/pricing.md#Pro"],
  file: "suite.yaml",
  line: 1,
};

interface Scenario {
  case?: SuiteCase;
  text: string;
  abstained?: boolean;
  label?: string;
  json?: unknown;
  citations?: string[];
  variant?: FailureInput["variant"];
  context?: FailureInput["contextChunks"];
  truncated?: boolean;
  labels?: string[];
  /** LLM judge verdicts; added to the scores as the runner does. */
  judges?: JudgeVerdict[];
}

/** Score the output with the real scorers, then label it — the same path the runner takes. */
function label(s: Scenario) {
  const c = s.case ?? priceCase;
  const output = { text: s.text, abstained: s.abstained ?? false, label: s.label, json: s.json, citations: (s.citations ?? []).map((chunkId) => ({ chunkId })) };
  const scores = [...scoreCase(c, output), ...(s.judges ?? []).map(verdictToScore)];
  const variant = s.variant ?? RAG;
  const context = s.context ?? [];
  return labelFailure({
    case: c,
    output,
    scores,
    passed: scores.every((x) => x.pass),
    variant,
    contextPaths: [...new Set(context.map((x) => x.path))],
    contextChunks: context,
    retrieval: variant.usesRetrieval && c.sources ? retrievalScores(c.sources, context, 5) : undefined,
    truncated: s.truncated ?? false,
    corpusPaths: CORPUS,
    labels: s.labels?.map((name) => ({ name })),
    judges: s.judges,
  });
}

test("rules are the eight causes, in the documented order", () => {
  assert.deepEqual(
    FAILURE_RULES.map((r) => r.name),
    ["policy_violation", "wrong_tone", "bad_format", "stale_knowledge", "hallucination", "missing_knowledge", "wrong_retrieval", "weak_reasoning"],
  );
  assert.deepEqual([...FAILURE_RULES.map((r) => r.name)].sort(), [...FAILURE_CAUSES].sort());
});

test("a passing case has no failure label", () => {
  assert.equal(label({ text: "Pro costs $12 per user per month [1].", citations: [PRICING.id], context: [PRICING] }), undefined);
});

test("1. policy_violation: a forbidden pattern matched — wins over a tone failure and a wrong answer", () => {
  const c: SuiteCase = { ...priceCase, forbidden: ["guarantee"], tone: { must_not_include: ["obviously"] } };
  const l = label({ case: c, text: "Obviously it is $10, guaranteed.", context: [PRICING] });
  assert.equal(l?.cause, "policy_violation");
  assert.equal(l?.signal, "forbidden_pattern");
  assert.match(l!.evidence, /forbidden pattern \/guarantee\/: "guarantee"/);
});

test("2. wrong_tone: tone rule failed — wins over stale knowledge", () => {
  const c: SuiteCase = { ...priceCase, tone: { must_include: ["thanks"] } };
  const l = label({ case: c, text: "Pro is $10 per user.", context: [PRICING] });
  assert.deepEqual([l?.cause, l?.signal], ["wrong_tone", "tone_rule"]);
  assert.match(l!.evidence, /missing required phrase "thanks"/);
});

test("3. bad_format: extract output not JSON / schema-invalid", () => {
  const c: SuiteCase = {
    id: "x",
    task: "extract",
    input: "Order 12 for ana@example.com",
    json_schema: { type: "object", properties: { email: { type: "string", format: "email" } }, required: ["email"] },
    expected_json: { email: "ana@example.com" },
    file: "s",
    line: 1,
  };
  const notJson = label({ case: c, text: "The email is ana@example.com", variant: PROMPT_ONLY });
  assert.deepEqual([notJson?.cause, notJson?.signal], ["bad_format", "not_json"]);
  assert.match(notJson!.evidence, /extract output is not JSON: "The email is ana@example.com"/);
  const invalid = label({ case: c, text: "", json: { email: "nope" }, variant: PROMPT_ONLY });
  assert.deepEqual([invalid?.cause, invalid?.signal], ["bad_format", "schema_invalid"]);
  assert.equal(invalid!.evidence, 'extract output violates the JSON Schema: /email must match format "email"');
  const missing = label({ case: c, text: "{}", variant: PROMPT_ONLY });
  assert.equal(missing!.evidence, "extract output violates the JSON Schema: (root) must have required property 'email'");
});

test("3. bad_format: classify output not one of the labels (or no label at all)", () => {
  const c: SuiteCase = { id: "r", task: "classify", input: "charged twice", label: "billing", file: "s", line: 1 };
  const labels = ["billing", "security"];
  const l = label({ case: c, text: "refunds", label: "refunds", labels, variant: PROMPT_ONLY });
  assert.deepEqual([l?.cause, l?.signal], ["bad_format", "invalid_label"]);
  assert.match(l!.evidence, /label "refunds" is not one of the suite labels \(billing, security\)/);
  const abstained = label({ case: c, text: "I don't know", abstained: true, labels, variant: PROMPT_ONLY });
  assert.deepEqual([abstained?.cause, abstained?.signal], ["bad_format", "invalid_label"]);
});

test("3. bad_format: only the regex check failed", () => {
  const c: SuiteCase = { ...priceCase, regex: "\\[\\d+\\]" };
  const l = label({ case: c, text: "Pro costs $12 per user.", context: [PRICING] });
  assert.deepEqual([l?.cause, l?.signal], ["bad_format", "regex_mismatch"]);
  // regex AND the answer failed: not a pure format problem
  const both = label({ case: c, text: "Pro costs $12 per user.".replace("$12", "$15"), context: [PRICING] });
  assert.notEqual(both?.cause, "bad_format");
});

test("4. stale_knowledge: matches a stale answer, not the current one — wins over wrong retrieval", () => {
  const l = label({
    text: "According to the pricing page, the Pro plan costs $10 per user per month when billed monthly [1].",
    citations: [OLD.id],
    context: [OLD],
  });
  assert.deepEqual([l?.cause, l?.signal], ["stale_knowledge", "stale_answer_match"]);
  assert.equal(
    l!.evidence,
    'answer "…page, the Pro plan costs $10 per user per month when…" matches stale answer "$10" from an older version (expected "$12")',
  );
  // mentioning the current answer too is not stale
  const both = label({ text: "Pro was $10 and is now $12 per user [1].", citations: [PRICING.id], context: [PRICING], case: { ...priceCase, contains: ["per month"] } });
  assert.equal(both?.cause, "weak_reasoning");
});

test("5. hallucination: answered a must_abstain question", () => {
  const c: SuiteCase = { id: "hipaa", task: "qa", input: "Is Acme HIPAA compliant?", must_abstain: true, file: "s", line: 1 };
  const l = label({ case: c, text: "Yes, Acme Boards is HIPAA compliant [1].", citations: [LIMITS.id], context: [LIMITS] });
  assert.deepEqual([l?.cause, l?.signal], ["hallucination", "answered_unanswerable"]);
  assert.match(l!.evidence, /must_abstain.*"Yes, Acme Boards is HIPAA compliant \[1\]\."/);
});

test("5. hallucination: unsupported claims w.r.t. the cited chunk — wins over weak reasoning (gold was in context)", () => {
  const l = label({ text: "Pro costs $15 per seat with a free onboarding workshop [1].", citations: [PRICING.id], context: [PRICING, LIMITS] });
  assert.deepEqual([l?.cause, l?.signal], ["hallucination", "unsupported_claims"]);
  assert.match(l!.evidence, /^sentence "Pro costs \$15 per seat with a free onboarding workshop\." is not supported by the cited chunks/);
});

test("5. hallucination: answered with no context at all and was wrong", () => {
  const l = label({ text: "Pro is $15 per user.", variant: PROMPT_ONLY });
  assert.deepEqual([l?.cause, l?.signal], ["hallucination", "unsupported_claims"]);
  assert.match(l!.evidence, /no context at all and was wrong: "Pro is \$15 per user\." \(expected "\$12"\)/);
});

test("6. missing_knowledge: prompt-only abstained", () => {
  const l = label({ text: "I don't know.", abstained: true, variant: PROMPT_ONLY });
  assert.deepEqual([l?.cause, l?.signal], ["missing_knowledge", "no_context"]);
});

test("6. missing_knowledge: gold source not in the corpus — wins over wrong retrieval", () => {
  const c: SuiteCase = { ...priceCase, stale_answers: undefined, sources: ["docs/v3/pricing.md"] };
  const l = label({ case: c, text: "I don't know.", abstained: true, context: [LIMITS] });
  assert.deepEqual([l?.cause, l?.signal], ["missing_knowledge", "gold_not_in_corpus"]);
  assert.match(l!.evidence, /"docs\/v3\/pricing.md" is not in the indexed corpus/);
});

test("6. missing_knowledge: gold truncated out of the long context", () => {
  const l = label({ text: "I don't know.", abstained: true, variant: LONG, context: [LIMITS, OLD], truncated: true });
  assert.deepEqual([l?.cause, l?.signal], ["missing_knowledge", "gold_truncated"]);
  // not truncated, gold present, abstained: the model's fault, not the budget's
  const notTruncated = label({ text: "I don't know.", abstained: true, variant: LONG, context: [LIMITS, PRICING] });
  assert.deepEqual([notTruncated?.cause, notTruncated?.signal], ["weak_reasoning", "gold_in_context_wrong_answer"]);
});

test("7. wrong_retrieval: gold exists but was not retrieved", () => {
  const l = label({ text: "The API allows 300 requests per minute per token [1].", citations: [LIMITS.id], context: [LIMITS] });
  assert.deepEqual([l?.cause, l?.signal], ["wrong_retrieval", "gold_not_retrieved"]);
  assert.equal(l!.evidence, "none of the gold sources (docs/v2/pricing.md#Pro) is among the top 5 retrieved chunks (docs/v2/limits.md#0)");
  // the same answer with the gold chunk retrieved is a reasoning failure instead
  const withGold = label({ text: "The API allows 300 requests per minute per token [1].", citations: [LIMITS.id], context: [LIMITS, PRICING] });
  assert.deepEqual([withGold?.cause, withGold?.signal], ["weak_reasoning", "gold_in_context_wrong_answer"]);
});

test("8. weak_reasoning: gold in context but abstained", () => {
  const l = label({ text: "I don't know.", abstained: true, context: [PRICING] });
  assert.deepEqual([l?.cause, l?.signal], ["weak_reasoning", "gold_in_context_wrong_answer"]);
  assert.match(l!.evidence, /gold source "docs\/v2\/pricing.md#Pro" was in the context but the model abstained/);
});

test("8. weak_reasoning: classify with a valid but wrong label", () => {
  const c: SuiteCase = { id: "r", task: "classify", input: "charged twice", label: "billing", file: "s", line: 1 };
  const l = label({ case: c, text: "security", label: "security", labels: ["billing", "security"], variant: PROMPT_ONLY });
  assert.deepEqual([l?.cause, l?.signal], ["weak_reasoning", "wrong_label"]);
  assert.equal(l!.evidence, 'valid label "security" but expected "billing"');
});

test("8. weak_reasoning: extract with valid JSON but wrong field values", () => {
  const c: SuiteCase = {
    id: "x",
    task: "extract",
    input: "Order 12",
    json_schema: { type: "object" },
    expected_json: { order: 12, plan: "Pro" },
    file: "s",
    line: 1,
  };
  const l = label({ case: c, text: "", json: { order: 13, plan: "pro" }, variant: PROMPT_ONLY });
  assert.deepEqual([l?.cause, l?.signal], ["weak_reasoning", "wrong_fields"]);
  assert.match(l!.evidence, /order: expected 12, got 13/);
});

test("fallback: weak_reasoning / unclassified names the failing scorers", () => {
  // no sources, answer supported by the context but wrong: nothing more specific can be said
  const c: SuiteCase = { id: "q", task: "qa", input: "Rate limit?", contains: ["1,000 requests"], file: "s", line: 1 };
  const l = label({ case: c, text: "The API allows 300 requests per minute per token [1].", citations: [LIMITS.id], context: [LIMITS] });
  assert.deepEqual([l?.cause, l?.signal], ["weak_reasoning", "unclassified"]);
  assert.match(l!.evidence, /^failed contains: missing "1,000 requests"/);
});

// ---------------------------------------------------------------------------------------------
// v2: judge evidence

const USAGE = { inputTokens: 0, outputTokens: 0 };
const verdict = (judge: JudgeVerdict["judge"], pass: boolean, extra: Partial<JudgeVerdict> & { violations?: string[] } = {}): JudgeVerdict => ({
  judge,
  model: "judge-model",
  pass,
  score: pass ? 1 : 0,
  attempts: 1,
  usage: USAGE,
  cached: false,
  ...extra,
});
const judgeError = (judge: JudgeVerdict["judge"]): JudgeVerdict => ({ judge, model: "judge-model", error: "judge_error", errorDetail: "garbage", attempts: 3, usage: USAGE, cached: false });
const RIGHT = { text: "Pro costs $12 per user per month [1].", citations: [PRICING.id], context: [PRICING] };

test("v2: judge evidence rules, in the documented order", () => {
  assert.deepEqual(
    JUDGE_FAILURE_RULES.map((r) => r.name),
    ["judge.policy", "judge.tone", "judge.faithfulness", "judge.correctness", "judge.relevance"],
  );
});

test("v2: without judges every label is deterministic and the rules behave as before", () => {
  const l = label({ text: "I don't know.", abstained: true, context: [PRICING] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["weak_reasoning", "gold_in_context_wrong_answer", "deterministic"]);
  assert.equal(label({ text: "Pro is $15 per user.", variant: PROMPT_ONLY })?.source, "deterministic");
});

test("v2: deterministic signals come first — a matched forbidden pattern wins over the policy judge", () => {
  const c: SuiteCase = { ...priceCase, forbidden: ["guarantee"] };
  const l = label({ case: c, text: "Guaranteed: Pro costs $12 per user per month [1].", citations: [PRICING.id], context: [PRICING], judges: [verdict("policy", false, { violations: ["promises an outcome"] })] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["policy_violation", "forbidden_pattern", "deterministic"]);
  // and a stale answer wins over the faithfulness judge
  const stale = label({ text: "Pro costs $10 per user per month [1].", citations: [OLD.id], context: [OLD], judges: [verdict("faithfulness", false, { claims: [{ claim: "Pro costs $10", supported: false }] })] });
  assert.deepEqual([stale?.cause, stale?.source], ["stale_knowledge", "deterministic"]);
});

test("v2: faithfulness judge — unsupported claims label a hallucination, quoting them", () => {
  const claims = [
    { claim: "Pro costs $12 per user per month.", supported: true },
    { claim: "Pro includes a free onboarding workshop.", supported: false },
  ];
  const l = label({ ...RIGHT, judges: [verdict("correctness", true), verdict("faithfulness", false, { claims })] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["hallucination", "judge.faithfulness", "judge"]);
  assert.equal(l!.evidence, '1 of 2 claims not supported by the context: "Pro includes a free onboarding workshop."');
});

test("v2: tone and policy judges label wrong_tone / policy_violation — even for a variant whose v1 rules would blame missing knowledge", () => {
  const c: SuiteCase = { ...priceCase, tone: { rubric: "Warm; offers a next step." }, policies: ["Never promise refunds."] };
  const tone = label({ case: c, text: "Pro costs $12 per user per month.", variant: PROMPT_ONLY, judges: [verdict("tone", false, { reasoning: "Curt, no next step." })] });
  assert.deepEqual([tone?.cause, tone?.signal], ["wrong_tone", "judge.tone"], "the answer was right: no_context/hallucination would be false");
  assert.equal(tone?.source, "judge");
  assert.equal(tone!.evidence, 'tone judge: the reply misses the rubric "Warm; offers a next step."; judge: "Curt, no next step."');
  const policy = label({
    case: c,
    ...RIGHT,
    judges: [verdict("tone", false), verdict("policy", false, { violations: ['Never promise refunds: "we will refund you"'] } as Partial<JudgeVerdict>)],
  });
  assert.deepEqual([policy?.cause, policy?.signal, policy?.source], ["policy_violation", "judge.policy", "judge"]);
  assert.equal(policy!.evidence, 'policy judge found 1 violation: "Never promise refunds: \"we will refund you\""');
});

test("v2: correctness judge — weak_reasoning when the context holds the expected answer, else a knowledge cause", () => {
  const noSources: SuiteCase = { id: "p", task: "qa", input: "How much is Pro per user per month?", answer: ["$12"], file: "s", line: 1 };
  const wrong = { case: noSources, text: "The Pro plan costs $10 per user per month billed annually [1].", citations: [PRICING.id] };
  // v1 could only say "unclassified" here (no sources, answer built from the context)
  assert.equal(label({ ...wrong, context: [PRICING] })?.signal, "unclassified");
  const l = label({ ...wrong, context: [PRICING], judges: [verdict("correctness", false, { reasoning: "Gives the annual price." })] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["weak_reasoning", "judge.correctness", "judge"]);
  assert.match(l!.evidence, /^the context contains the expected answer "\$12" but the answer was judged wrong: .*; judge: "Gives the annual price\."$/);
  // the retrieved chunks do not hold "$12": retrieval, not reasoning
  const rag = label({ ...wrong, context: [OLD], judges: [verdict("correctness", false)] });
  assert.deepEqual([rag?.cause, rag?.signal, rag?.source], ["wrong_retrieval", "judge.correctness", "judge"]);
  // long context without it: the knowledge is missing
  const long = label({ ...wrong, variant: LONG, context: [OLD], judges: [verdict("correctness", false)] });
  assert.deepEqual([long?.cause, long?.source], ["missing_knowledge", "judge"]);
  // the correctness judge alone (deterministic scorers passed) opens the "why was it wrong" rules: gold in context → deterministic weak_reasoning
  const det = label({ ...RIGHT, judges: [verdict("correctness", false)] });
  assert.deepEqual([det?.cause, det?.signal, det?.source], ["weak_reasoning", "gold_in_context_wrong_answer", "deterministic"]);
});

test("v2: relevance judge — an off-topic answer is weak_reasoning", () => {
  const l = label({ ...RIGHT, judges: [verdict("relevance", false, { reasoning: "Does not answer." })] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["weak_reasoning", "judge.relevance", "judge"]);
});

test("v2: a judge_error never produces a label by itself", () => {
  // everything else passed: the case failed only because the judge errored → no cause is claimed
  assert.equal(label({ ...RIGHT, judges: [judgeError("faithfulness"), verdict("correctness", true)] }), undefined);
  // with a deterministic failure the deterministic label stands, and the error is no evidence
  const l = label({ text: "I don't know.", abstained: true, context: [PRICING], judges: [judgeError("tone")] });
  assert.deepEqual([l?.cause, l?.signal, l?.source], ["weak_reasoning", "gold_in_context_wrong_answer", "deterministic"]);
  // judge scores do not change the deterministic rules: regex is still the only failing *deterministic* scorer
  const c: SuiteCase = { ...priceCase, regex: "\\[\\d+\\]" };
  const rx = label({ case: c, text: "Pro costs $12 per user.", context: [PRICING], judges: [judgeError("relevance")] });
  assert.deepEqual([rx?.cause, rx?.signal], ["bad_format", "regex_mismatch"]);
});
