/**
 * Failure labelling: every failed case gets EXACTLY ONE primary cause, chosen by ordered rules
 * (first match wins). The order goes from the most specific, most visible evidence (a policy
 * pattern matched) to the most inferential (the gold chunk was there but the answer was wrong), so
 * a label is always the cheapest true explanation. docs/failures.md explains each rule.
 *
 * v2: deterministic rules come first; where none decides, LLM judge evidence (`judges`) labels the
 * failure (JUDGE_FAILURE_RULES). Every label says which kind of evidence produced it (`source`). A
 * judge_error is never evidence: a case that failed only because a judge errored gets no label.
 */
import type { Citation, LabelSpec } from "../models/index.ts";
import type { FailureLabel, JudgeVerdict, RetrievalScores, ScoreResult, SuiteCase } from "./types.ts";
import type { JudgeName } from "../config/schema.ts";
import { answerSupport, isRetrievalMiss, staleness } from "./metrics.ts";
import { isOlderCopyOf } from "./stale.ts";
import { normalizeText, snippet } from "./normalize.ts";
import { containsNormalized, isJsonOutput, parseSource, sourceMatches } from "./scorers.ts";

export interface FailureInput {
  case: SuiteCase;
  output: { text: string; abstained: boolean; label?: string; json?: unknown; citations: (Pick<Citation, "chunkId"> & Partial<Pick<Citation, "marker">>)[] };
  scores: ScoreResult[];
  passed: boolean;
  variant: { usesContext: boolean; usesRetrieval: boolean };
  /** Source paths present in the context the generator saw. */
  contextPaths: string[];
  /** The chunks the generator saw (retrieved or packed); empty for prompt-only / fine-tuned. */
  contextChunks: { id: string; path: string; headingPath: string[]; spans?: { headingPath: string[] }[]; text: string; version?: string }[];
  /**
   * The corpus's current version label. A stale-looking value quoted from a chunk of this version
   * is a misread of the current docs, not stale knowledge (see stale.ts).
   */
  currentVersion?: string;
  retrieval?: RetrievalScores;
  /** The long-context variant had to drop part of the corpus. */
  truncated: boolean;
  /** Paths of every document in the index. */
  corpusPaths: Set<string>;
  /** The suite's allowed labels (classify); without them only a missing label counts as bad format. */
  labels?: LabelSpec[];
  /** LLM judge verdicts of this case (absent or empty when no judge ran). */
  judges?: JudgeVerdict[];
}

type Rule = (x: FailureInput, ctx: RuleContext) => FailureLabel | undefined;

interface RuleContext {
  /** Failing deterministic scores (judge scores, `judge.*`, are left out: judges speak through `judges`). */
  failed: ScoreResult[];
  /** Failing deterministic score by name. */
  score: (name: string) => ScoreResult | undefined;
  /** A judge's verdict when it ran and said fail (a judge_error is not a fail). */
  judgeFailed: (name: JudgeName) => (JudgeVerdict & { violations?: string[] }) | undefined;
}

const q = (s: string, max = 80) => `"${snippet(s, max)}"`;

/** Quote the output around `needle` (case-insensitive) so evidence shows the offending words in place. */
function quoteAround(text: string, needle: string, radius = 30): string {
  const lower = text.toLowerCase();
  // The stale answer may be written differently in the output ("$10" vs "10"): try the bare form too.
  const forms = [needle.toLowerCase(), needle.toLowerCase().replace(/^\$/, "")].filter((f) => f !== "");
  const form = forms.find((f) => lower.includes(f));
  if (form === undefined) return q(text);
  const i = lower.indexOf(form);
  let start = Math.max(0, i - radius);
  let end = Math.min(text.length, i + form.length + radius);
  // Cut at word boundaries so the quote reads as words, not fragments.
  if (start > 0) {
    const sp = text.indexOf(" ", start);
    if (sp >= 0 && sp < i) start = sp + 1;
  }
  if (end < text.length) {
    const sp = text.lastIndexOf(" ", end);
    if (sp > i + form.length) end = sp;
  }
  return `"${start > 0 ? "…" : ""}${text.slice(start, end).replace(/\s+/g, " ").trim()}${end < text.length ? "…" : ""}"`;
}

/** The case checks its content by something other than a regex (answer, phrases, label, JSON values). */
const hasContentCheck = (c: SuiteCase) => (c.answer?.length ?? 0) > 0 || (c.contains?.length ?? 0) > 0 || c.label !== undefined || c.expected_json !== undefined || c.must_abstain === true;
const expectedOf = (c: SuiteCase) => (c.answer?.length ? ` (expected ${c.answer.map((a) => q(a, 40)).join(" or ")})` : "");
const hasNoContext = (x: FailureInput) => !x.variant.usesContext || x.contextChunks.length === 0;
const goldSources = (c: SuiteCase) => c.sources ?? [];

/** Gold sources among the chunks the generator saw (falls back to whole-file paths when chunks are not given). */
function goldInContext(x: FailureInput): string[] {
  return goldSources(x.case).filter(
    (s) => x.contextChunks.some((ch) => sourceMatches(s, ch)) || (x.contextChunks.length === 0 && x.contextPaths.includes(parseSource(s).path)),
  );
}

// 1. ----------------------------------------------------------------------------------------------
/** policy_violation: the output matched a `forbidden` pattern. Worst outcome whatever else happened. */
const policyViolation: Rule = (_x, { score }) => {
  const s = score("forbidden");
  return s && { cause: "policy_violation", signal: "forbidden_pattern", evidence: s.detail ?? "output matches a forbidden pattern" };
};

// 2. ----------------------------------------------------------------------------------------------
/** wrong_tone: a tone rule failed (missing required phrase or banned phrase present). */
const wrongTone: Rule = (_x, { score }) => {
  const s = score("tone");
  return s && { cause: "wrong_tone", signal: "tone_rule", evidence: s.detail ?? "tone rule failed" };
};

// 3. ----------------------------------------------------------------------------------------------
/**
 * bad_format: the shape is wrong, so correctness cannot even be judged — extract output not JSON
 * or schema-invalid; classify output not one of the labels; or only the `regex` check failed.
 */
const badFormat: Rule = (x, { score, failed }) => {
  const c = x.case;
  if (c.task === "extract") {
    const schema = score("json_schema");
    if (!isJsonOutput(x.output)) {
      const what = x.output.abstained ? "abstained instead of producing JSON" : "extract output is not JSON";
      return { cause: "bad_format", signal: "not_json", evidence: `${what}: ${q(x.output.text)}` };
    }
    if (schema) {
      const why = (schema.detail ?? "").replace(/^schema violations: /, "");
      return { cause: "bad_format", signal: "schema_invalid", evidence: `extract output violates the JSON Schema: ${why}` };
    }
  }
  if (c.task === "classify") {
    const got = x.output.abstained ? "" : (x.output.label ?? "").trim();
    const allowed = (x.labels ?? []).map((l) => l.name);
    if (got === "") {
      const what = x.output.abstained ? "abstained instead of choosing a label" : "no label chosen";
      return { cause: "bad_format", signal: "invalid_label", evidence: `${what}; output was ${q(x.output.text)}` };
    }
    if (allowed.length > 0 && !allowed.some((l) => normalizeText(l) === normalizeText(got))) {
      return {
        cause: "bad_format",
        signal: "invalid_label",
        evidence: `label "${snippet(got, 40)}" is not one of the suite labels (${allowed.slice(0, 12).join(", ")}${allowed.length > 12 ? ", …" : ""})`,
      };
    }
  }
  // The regex is a format check only beside a content check that passed; a case whose only
  // expectation is the regex uses it as the answer check, so a mismatch is a wrong answer.
  const regex = score("regex");
  if (regex && failed.length === 1 && hasContentCheck(c)) return { cause: "bad_format", signal: "regex_mismatch", evidence: regex.detail ?? "output does not match the regex" };
  return undefined;
};

// 4. ----------------------------------------------------------------------------------------------
/**
 * stale_knowledge: the output *answers* with a value from an older version of the docs — in the
 * sentence that answers the question, not in passing — without also giving the current one, and
 * not quoted from a current-version chunk (rules in stale.ts).
 */
const staleKnowledge: Rule = (x) => {
  if (x.output.abstained) return undefined;
  const s = staleness(x.output.text, x.case.stale_answers, x.case.answer, {
    question: x.case.input,
    citations: x.output.citations,
    contextChunks: x.contextChunks,
    currentVersion: x.currentVersion,
  });
  if (!s.stale || s.staleAnswer === undefined) return undefined;
  const sentence = s.sentence ?? x.output.text;
  return {
    cause: "stale_knowledge",
    signal: "stale_answer_match",
    evidence: `answer ${quoteAround(sentence, s.staleAnswer)} matches stale answer "${s.staleAnswer}" from an older version${expectedOf(x.case)}`,
  };
};

// 5. ----------------------------------------------------------------------------------------------
/**
 * hallucination: answered what must be abstained on; or (qa) stated claims the context does not
 * support — checked against the cited chunks, else the whole context — or answered wrongly with
 * no context at all (nothing could have backed it).
 */
const hallucination: Rule = (x) => {
  const c = x.case;
  if (c.must_abstain && !x.output.abstained) {
    return {
      cause: "hallucination",
      signal: "answered_unanswerable",
      evidence: `the docs do not answer this (must_abstain) but the output answered: ${q(x.output.text)}`,
    };
  }
  if (c.task !== "qa" || x.output.abstained) return undefined;
  if (hasNoContext(x)) {
    return {
      cause: "hallucination",
      signal: "unsupported_claims",
      evidence: `answered with no context at all and was wrong: ${q(x.output.text)}${expectedOf(c)}`,
    };
  }
  const support = answerSupport(c.task, x.output, x.contextChunks);
  if (!support || support.unsupportedSentences.length === 0) return undefined;
  const cited = x.output.citations.some((ci) => x.contextChunks.some((ch) => ch.id === ci.chunkId));
  return {
    cause: "hallucination",
    signal: "unsupported_claims",
    evidence:
      `sentence ${q(support.unsupportedSentences[0])} is not supported by the ${cited ? "cited chunks" : "context"}` +
      ` (${support.unsupportedSentences.length} unsupported, support ratio ${support.ratio.toFixed(2)})`,
  };
};

// 6. ----------------------------------------------------------------------------------------------
/**
 * missing_knowledge: the knowledge never reached the model — no context was given (prompt-only,
 * fine-tuned) and it could not answer; the gold source is not in the corpus; or the gold source was
 * cut from the long context by the token budget.
 */
const missingKnowledge: Rule = (x) => {
  const c = x.case;
  if (c.task !== "qa") return undefined;
  if (!x.variant.usesContext) {
    return {
      cause: "missing_knowledge",
      signal: "no_context",
      evidence: x.output.abstained
        ? `no context was given and the model abstained${expectedOf(c)}`
        : `no context was given and the answer was wrong: ${q(x.output.text)}${expectedOf(c)}`,
    };
  }
  const gold = goldSources(c);
  if (gold.length === 0) return undefined;
  const inCorpus = gold.filter((s) => x.corpusPaths.has(parseSource(s).path));
  if (inCorpus.length === 0) {
    return {
      cause: "missing_knowledge",
      signal: "gold_not_in_corpus",
      evidence: `gold source ${gold.map((s) => `"${s}"`).join(", ")} is not in the indexed corpus`,
    };
  }
  if (x.truncated && goldInContext(x).length === 0) {
    return {
      cause: "missing_knowledge",
      signal: "gold_truncated",
      evidence: `gold source ${inCorpus.map((s) => `"${s}"`).join(", ")} was cut from the long context by the token budget`,
    };
  }
  return undefined;
};

// 7. ----------------------------------------------------------------------------------------------
/**
 * wrong_retrieval: the variant retrieves, the gold source exists, and none of it was retrieved.
 * When what was retrieved instead is an older version's copy of a gold page (same relative path
 * under a version folder, or the gold section's heading), the retriever found the right page in
 * the wrong version: stale_knowledge (the fix is version handling — collapse, filters, re-index —
 * not finding the page). Merely old-version context is not enough: unrelated chunks of a
 * many-version corpus are mostly archived (measured by bench/labels.ts).
 */
const wrongRetrieval: Rule = (x) => {
  const c = x.case;
  const gold = goldSources(c);
  if (c.task !== "qa" || !x.variant.usesRetrieval || gold.length === 0) return undefined;
  const miss = x.retrieval ? isRetrievalMiss(x.retrieval) : goldInContext(x).length === 0;
  if (!miss) return undefined;
  const older = x.contextChunks.find((ch) => gold.some((s) => isOlderCopyOf(s, ch, x.currentVersion)));
  if (older) {
    return {
      cause: "stale_knowledge",
      signal: "gold_only_older_version",
      evidence: `retrieval returned "${older.path}" (version ${older.version}) but not the current gold source ${gold.map((s) => `"${s}"`).join(", ")}${expectedOf(c)}`,
    };
  }
  const got = [...new Set(x.contextChunks.map((ch) => ch.id))];
  const shown = got.slice(0, 5).join(", ") + (got.length > 5 ? ", …" : "");
  return {
    cause: "wrong_retrieval",
    signal: "gold_not_retrieved",
    evidence: `none of the gold sources (${gold.join(", ")}) is among the ${x.retrieval ? `top ${x.retrieval.k}` : got.length} retrieved chunks${got.length ? ` (${shown})` : ""}`,
  };
};

// 8. ----------------------------------------------------------------------------------------------
/**
 * weak_reasoning: the model had what it needed and still got it wrong — the gold chunk was in
 * context (qa); a valid but wrong label (classify); valid JSON with wrong values (extract).
 */
const weakReasoning: Rule = (x, { score }) => {
  const c = x.case;
  if (c.task === "qa") {
    const found = goldInContext(x);
    if (found.length === 0) return undefined;
    return {
      cause: "weak_reasoning",
      signal: "gold_in_context_wrong_answer",
      evidence: x.output.abstained
        ? `gold source "${found[0]}" was in the context but the model abstained${expectedOf(c)}`
        : `gold source "${found[0]}" was in the context but the answer was wrong: ${q(x.output.text)}${expectedOf(c)}`,
    };
  }
  if (c.task === "classify" && score("label")) {
    return { cause: "weak_reasoning", signal: "wrong_label", evidence: `valid label "${x.output.label ?? ""}" but expected "${c.label ?? ""}"` };
  }
  if (c.task === "extract" && score("expected_json")) {
    return { cause: "weak_reasoning", signal: "wrong_fields", evidence: `valid JSON with ${score("expected_json")!.detail ?? "wrong fields"}` };
  }
  return undefined;
};

/**
 * The deterministic rules in priority order. `explainsWrongAnswer` marks the rules (4–8) that say
 * why an answer was wrong: when judges ran, they apply only if the answer is known to be wrong (a
 * deterministic scorer failed, or the correctness judge said so) — a case that failed only on the
 * tone judge says nothing about retrieval. Without judges they apply to every failed case, as in v1.
 */
export const FAILURE_RULES: { name: string; rule: Rule; explainsWrongAnswer: boolean }[] = [
  { name: "policy_violation", rule: policyViolation, explainsWrongAnswer: false },
  { name: "wrong_tone", rule: wrongTone, explainsWrongAnswer: false },
  { name: "bad_format", rule: badFormat, explainsWrongAnswer: false },
  { name: "stale_knowledge", rule: staleKnowledge, explainsWrongAnswer: true },
  { name: "hallucination", rule: hallucination, explainsWrongAnswer: true },
  { name: "missing_knowledge", rule: missingKnowledge, explainsWrongAnswer: true },
  { name: "wrong_retrieval", rule: wrongRetrieval, explainsWrongAnswer: true },
  { name: "weak_reasoning", rule: weakReasoning, explainsWrongAnswer: true },
];

// Judge evidence ---------------------------------------------------------------------------------

const judgeNote = (v: JudgeVerdict) => (v.reasoning ? `; judge: ${q(v.reasoning, 160)}` : "");

/** J1. policy_violation: the policy judge found violations (quoted). */
const judgePolicy: Rule = (_x, { judgeFailed }) => {
  const v = judgeFailed("policy");
  if (!v) return undefined;
  const violations = (v.violations ?? []).filter((s) => s.trim() !== "");
  return {
    cause: "policy_violation",
    signal: "judge.policy",
    evidence: violations.length
      ? `policy judge found ${violations.length} violation${violations.length === 1 ? "" : "s"}: ${violations.slice(0, 3).map((s) => q(s, 100)).join("; ")}${violations.length > 3 ? "; …" : ""}`
      : `policy judge found a violation${judgeNote(v)}`,
  };
};

/** J2. wrong_tone: the tone judge says the reply misses the rubric. */
const judgeTone: Rule = (x, { judgeFailed }) => {
  const v = judgeFailed("tone");
  if (!v) return undefined;
  const rubric = x.case.tone?.rubric;
  return { cause: "wrong_tone", signal: "judge.tone", evidence: `tone judge: the reply misses the rubric${rubric ? ` ${q(rubric, 60)}` : ""}${judgeNote(v)}` };
};

/** J3. hallucination: the faithfulness judge found claims the context does not support (quoted). */
const judgeFaithfulness: Rule = (_x, { judgeFailed }) => {
  const v = judgeFailed("faithfulness");
  if (!v) return undefined;
  const bad = (v.claims ?? []).filter((c) => !c.supported);
  const total = v.claims?.length ?? 0;
  return {
    cause: "hallucination",
    signal: "judge.faithfulness",
    evidence: bad.length
      ? `${bad.length} of ${total} claim${total === 1 ? "" : "s"} not supported by the context: ${bad.slice(0, 3).map((c) => q(c.claim, 100)).join("; ")}${bad.length > 3 ? "; …" : ""}`
      : `faithfulness judge found unsupported content${judgeNote(v)}`,
  };
};

/** The expected answer as found in the context the model saw: any `answer`, else all `contains` phrases. */
function expectedInContext(x: FailureInput): string | undefined {
  const texts = x.contextChunks.map((ch) => ch.text);
  const found = (phrase: string) => texts.some((t) => containsNormalized(t, phrase));
  const answer = (x.case.answer ?? []).find(found);
  if (answer !== undefined) return answer;
  const contains = x.case.contains ?? [];
  if (contains.length > 0 && contains.every(found)) return contains.join('", "');
  return undefined;
}

/**
 * J4. correctness judge said wrong, and no deterministic rule explained it: weak_reasoning when the
 * expected answer was in the context; otherwise the knowledge never arrived — wrong_retrieval for a
 * retrieving variant, missing_knowledge for long context / no context.
 */
const judgeCorrectness: Rule = (x, { judgeFailed }) => {
  const v = judgeFailed("correctness");
  if (!v) return undefined;
  const c = x.case;
  const expected = [...(c.answer ?? []), ...(c.contains ?? [])];
  const inContext = expectedInContext(x);
  if (inContext !== undefined || expected.length === 0 || c.task !== "qa") {
    return {
      cause: "weak_reasoning",
      signal: "judge.correctness",
      evidence:
        (inContext !== undefined ? `the context contains the expected answer "${snippet(inContext, 60)}" but the answer was judged wrong: ` : "the answer was judged wrong: ") +
        `${q(x.output.text)}${judgeNote(v)}`,
    };
  }
  const what = `"${snippet(expected.join('", "'), 60)}"`;
  if (x.variant.usesRetrieval && x.contextChunks.length > 0) {
    return {
      cause: "wrong_retrieval",
      signal: "judge.correctness",
      evidence: `the answer was judged wrong and none of the ${x.contextChunks.length} retrieved chunks contains the expected answer ${what}${judgeNote(v)}`,
    };
  }
  return {
    cause: "missing_knowledge",
    signal: "judge.correctness",
    evidence: `the answer was judged wrong and the expected answer ${what} is not in the context the model saw${judgeNote(v)}`,
  };
};

/** J5. weak_reasoning: the relevance judge says the answer does not address the question. */
const judgeRelevance: Rule = (x, { judgeFailed }) => {
  const v = judgeFailed("relevance");
  if (!v) return undefined;
  return { cause: "weak_reasoning", signal: "judge.relevance", evidence: `the answer does not address the question: ${q(x.output.text)}${judgeNote(v)}` };
};

/**
 * Judge evidence in priority order, used only when no deterministic rule decided. The order mirrors
 * the deterministic one: policy, tone, then hallucination before a plainly wrong answer.
 */
export const JUDGE_FAILURE_RULES: { name: `judge.${JudgeName}`; rule: Rule }[] = [
  { name: "judge.policy", rule: judgePolicy },
  { name: "judge.tone", rule: judgeTone },
  { name: "judge.faithfulness", rule: judgeFaithfulness },
  { name: "judge.correctness", rule: judgeCorrectness },
  { name: "judge.relevance", rule: judgeRelevance },
];

const isJudgeScore = (s: ScoreResult) => s.name.startsWith("judge.");

/**
 * Label a case result with its one primary failure cause; undefined when it passed — or when the
 * only thing that failed was a judge that errored (the outcome is unknown, so no cause is claimed).
 */
export function labelFailure(input: FailureInput): FailureLabel | undefined {
  if (input.passed) return undefined;
  const failed = input.scores.filter((s) => !s.pass && !isJudgeScore(s));
  const judges = input.judges ?? [];
  const ctx: RuleContext = {
    failed,
    score: (name) => failed.find((s) => s.name === name),
    judgeFailed: (name) => judges.find((v) => v.judge === name && v.error === undefined && v.pass === false),
  };
  const judged = judges.length > 0;
  const answerWrong = !judged || failed.length > 0 || ctx.judgeFailed("correctness") !== undefined;
  for (const { rule, explainsWrongAnswer } of FAILURE_RULES) {
    if (explainsWrongAnswer && !answerWrong) continue;
    const label = rule(input, ctx);
    if (label) return { ...label, source: "deterministic" };
  }
  for (const { rule } of JUDGE_FAILURE_RULES) {
    const label = rule(input, ctx);
    if (label) return { ...label, source: "judge" };
  }
  const anyJudgeFailed = judges.some((v) => v.error === undefined && v.pass === false);
  if (judged && failed.length === 0 && !anyJudgeFailed && judges.some((v) => v.error !== undefined)) return undefined;
  const shown = input.scores.filter((s) => !s.pass);
  const names = shown.map((s) => s.name);
  return {
    cause: "weak_reasoning",
    signal: "unclassified",
    source: "deterministic",
    evidence: names.length ? `failed ${names.join(", ")}: ${shown.map((s) => s.detail ?? s.name).join("; ")}` : "case failed with no failing scorer",
  };
}
