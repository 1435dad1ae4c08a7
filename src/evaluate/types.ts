/**
 * Data shapes of evaluation: suite cases in, case results and run summaries out.
 * `runs/<id>/cases.jsonl` holds one `CaseResult` per line; `runs/<id>/summary.json` a `RunSummary`.
 */
import type { TaskKind, LabelSpec, Citation, Usage } from "../models/index.ts";
import type { JudgeName } from "../config/schema.ts";

export type { JudgeName } from "../config/schema.ts";

export const FAILURE_CAUSES = [
  "missing_knowledge",
  "stale_knowledge",
  "wrong_retrieval",
  "hallucination",
  "bad_format",
  "wrong_tone",
  "weak_reasoning",
  "policy_violation",
] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

/** Causes fixed by giving the model knowledge (retrieval / context). */
export const KNOWLEDGE_CAUSES: FailureCause[] = ["missing_knowledge", "stale_knowledge", "wrong_retrieval", "hallucination"];
/** Causes fixed by changing the model's behaviour (fine-tuning, prompting). */
export const BEHAVIOUR_CAUSES: FailureCause[] = ["bad_format", "wrong_tone", "policy_violation"];

export interface ToneRule {
  /** Phrases (case-insensitive) the output must contain. */
  must_include?: string[];
  /** Phrases (case-insensitive) the output must not contain. */
  must_not_include?: string[];
  /** Free-text rubric for the LLM tone judge (e.g. "warm, no blame, offers a next step"). */
  rubric?: string;
}

/** One case of a suite, as written by the user (snake_case keys as in the suite file). */
export interface SuiteCase {
  id: string;
  task: TaskKind;
  input: string;
  /** Expected answer(s): passes if any matches (normalised exact, contained, or token-F1 ≥ threshold). */
  answer?: string[];
  /** Substrings that must all appear (case/space-insensitive). */
  contains?: string[];
  /** A regular expression the output must match. */
  regex?: string;
  /** Gold sources: `path`, `path#Heading`, or a chunk id `path#3`. */
  sources?: string[];
  /** The right behaviour is to abstain (the corpus does not answer it). */
  must_abstain?: boolean;
  /** Answers that were true in an older version of the docs. */
  stale_answers?: string[];
  /** JSON Schema the extract output must satisfy. */
  json_schema?: Record<string, unknown>;
  /** Expected field values for extract tasks (each listed field must match, normalised). */
  expected_json?: Record<string, unknown>;
  /** Expected label for classify tasks. */
  label?: string;
  /** Policy patterns (regex, case-insensitive) the output must never match. */
  forbidden?: string[];
  tone?: ToneRule;
  /** Policy rules in words for the LLM policy judge (suite-level `policies` apply to every case too). */
  policies?: string[];
  /** A human's verdict on this case's expected behaviour, for judge calibration (Cohen's kappa). */
  human?: "pass" | "fail";
  tags?: string[];
  /** Where the case was defined, for error messages and reports. */
  file: string;
  line: number;
}

export interface Suite {
  path: string;
  /** Allowed labels for classify cases (declared at the top of the suite, else derived from cases). */
  labels: LabelSpec[];
  /** Policy rules (in words) every case is judged against by the policy judge. */
  policies?: string[];
  cases: SuiteCase[];
}

export interface ScoreResult {
  /** Scorer name, e.g. "answer", "regex", "json_schema"; LLM judges are "judge.<name>". */
  name: string;
  pass: boolean;
  /** 0..1 where meaningful (e.g. token F1); 1/0 for boolean checks. */
  value: number;
  detail?: string;
  /** "judge_error": the judge failed even after retries — the score is unknown, not a pass (pass is false). */
  error?: "judge_error";
}

/** What an LLM judge said about one case (recorded with the case; see evaluate/judges). */
export interface JudgeVerdict {
  judge: JudgeName;
  /** Judge model id. */
  model: string;
  /** Undefined when the judge failed (error set). */
  pass?: boolean;
  /** 0..1 (e.g. the supported-claim share for faithfulness). */
  score?: number;
  reasoning?: string;
  /** Faithfulness: the answer's claims and whether the context supports each. */
  claims?: { claim: string; supported: boolean }[];
  /** Policy: the rules the answer broke. */
  violations?: string[];
  /** How the reply was read (e.g. a 0–10 score rescaled), when not as asked. */
  notes?: string[];
  error?: "judge_error";
  /** Why the judge failed (last parse or provider error). */
  errorDetail?: string;
  /** Judge calls made (1 = parsed first time). */
  attempts: number;
  usage: Usage;
  cached: boolean;
}

export interface RetrievalScores {
  k: number;
  hitAtK: number;
  recallAtK: number;
  mrr: number;
}

export interface FailureLabel {
  cause: FailureCause;
  /** Which signal produced the label, e.g. "gold_not_retrieved", "stale_answer_match", "judge.faithfulness". */
  signal: string;
  /** Deterministic signals come first; a judge's evidence is used only where no deterministic signal decides. */
  source?: "deterministic" | "judge";
  /** Human-readable evidence quoting what was observed. */
  evidence: string;
}

export interface CaseResult {
  runId: string;
  caseId: string;
  variant: string;
  /** Repeat index (0-based) under --repeats; absent = 0. */
  repeat?: number;
  task: TaskKind;
  input: string;
  output: string;
  abstained: boolean;
  label?: string;
  json?: unknown;
  citations: Citation[];
  /** Chunks retrieved (rag/hybrid) — id, path, score, version. */
  retrieved: { id: string; path: string; score: number; version: string }[];
  /** Source paths present in the context the generator saw. */
  contextPaths: string[];
  contextTokens: number;
  /** True when the long-context variant had to drop part of the corpus. */
  truncated: boolean;
  scores: ScoreResult[];
  retrieval?: RetrievalScores;
  passed: boolean;
  failure?: FailureLabel;
  /**
   * How well the answer is backed by the chunks it cited (else its whole context), from
   * `metrics.supportRatio`. Absent when not checked: abstained, non-qa, or no context.
   */
  support?: { ratio: number; unsupportedSentences: string[] };
  usage: Usage;
  latencyMs: number;
  /** Cost at the generator's own price (0 for offline generators). */
  costUsd: number;
  /** Cost if the same tokens were served by `pricing.referenceModel`. */
  projectedCostUsd: number;
  generator: string;
  tags: string[];
  /** LLM judge verdicts (absent when no judge ran). */
  judges?: JudgeVerdict[];
  /** The case's model calls were all served from the response cache. */
  cached?: boolean;
  /** Cost of the judge calls at the judge's price (not part of costUsd, which is the variant's own). */
  judgeCostUsd?: number;
  /** The human label of the case, copied for calibration. */
  human?: "pass" | "fail";
  /** Generation of the index that served this case: the run's pinned copy, the same for every case of a run. */
  indexGeneration?: number;
}

/** A 95% (1 − alpha) interval. */
export interface Interval {
  low: number;
  high: number;
}

/** Two variants compared on the same cases. */
export interface PairedComparison {
  a: string;
  b: string;
  /** "passRate" or a metric name. */
  metric: string;
  test: "mcnemar-exact" | "paired-bootstrap";
  /** Paired cases compared. */
  n: number;
  /** Mean of b − a (pass rates: share of cases). */
  diff: number;
  ci?: Interval;
  pValue: number;
  significant: boolean;
  /** McNemar: cases only a passed / only b passed. */
  discordant?: { onlyA: number; onlyB: number };
}

export interface VariantSummary {
  name: string;
  generator: string;
  cases: number;
  passed: number;
  passRate: number;
  /** Aggregates: pass rate per task, retrieval metrics (mean hit@k, recall@k, MRR), abstention accuracy, … */
  metrics: Record<string, number>;
  failures: Partial<Record<FailureCause, number>>;
  /** Failures per task kind, then cause. */
  failuresByTask: Partial<Record<TaskKind, Partial<Record<FailureCause, number>>>>;
  latencyMs: { p50: number; p95: number };
  costUsd: number;
  projectedCostUsd: number;
  tokens: { input: number; output: number };
  /** Mean tokens and cost per case — the unit of the cost model. */
  perQuery: { inputTokens: number; outputTokens: number; costUsd: number; projectedCostUsd: number };
  /** Long-context only: how much of the corpus fitted the budget. */
  context?: { budgetTokens: number; corpusTokens: number; packedTokens: number; truncated: boolean; budgetSource?: string };
  /** Bootstrap intervals of passRate and of every entry in `metrics` (key "passRate" or the metric name). */
  ci?: Record<string, Interval>;
  /** With --repeats N > 1: pass^N (share of cases passing all N repeats) and agreement (share with the same verdict in all N). */
  repeats?: { n: number; passAll: number; agreement: number };
  /** LLM judging of this variant's cases. */
  judge?: {
    model: string;
    /** Verdicts per judge: cases judged, passed, failed with judge_error. */
    byJudge: Partial<Record<JudgeName, { judged: number; passed: number; errors: number }>>;
    /** Faithfulness judge: unsupported claims / claims over answered cases. */
    unsupportedClaimRate?: number;
    /** Judge vs `human:` labels (cases carrying one): Cohen's kappa and raw agreement. */
    humanAgreement?: { n: number; kappa: number; agreement: number };
    costUsd: number;
  };
  /** Model calls served from / missing the response cache. */
  cache?: { hits: number; misses: number };
}

export interface RunSummary {
  runId: string;
  createdAt: string;
  project: string;
  /** Generator id used by the variants, e.g. "offline:extractive". */
  generator: string;
  suite: { path: string; cases: number; byTask: Partial<Record<TaskKind, number>> };
  corpus: { documents: number; chunks: number; tokens: number; versions: string[] };
  /** The index snapshot the whole run read (runs/<id>/config.json `index`). */
  index?: { generation: number; fingerprint: string; documents: number; chunks: number };
  retrievalK: number;
  /** The retrieval pipeline used by rag/hybrid, in words (e.g. "bm25(k1=…) → rerank(offline) → collapse-versions"). */
  retrieval?: string;
  variants: VariantSummary[];
  /** Variants requested but not run, with why (e.g. fine-tuned: no trained model). */
  notConfigured: { name: string; reason: string }[];
  complete: boolean;
  /** Response cache over the whole run (generation + judging). */
  cache?: { hits: number; misses: number };
  /** Total cost of the run at each model's own price (generation + judging; cached calls cost 0). */
  costUsd?: number;
  /** Judge model and judges, when LLM judging ran. */
  judge?: { model: string; judges: JudgeName[] };
  repeats?: number;
  /** Paired comparisons between variants on the same cases (pass/fail: exact McNemar; scores: paired bootstrap). */
  comparisons?: PairedComparison[];
  /** Why a run stopped early (e.g. --max-cost reached); resumable. */
  stopped?: string;
  /** The promoted fine-tuned models the fine-tuned / hybrid variants used (from the model registry). */
  finetunedModels?: { id: string; task: string; trainer: string; baseModel: string; datasetHash: string; examples?: number; gate?: string; forced?: string }[];
  /** Suite cases left out of this run, and why (e.g. judge-only cases without a judge). */
  skipped?: { caseIds: string[]; reason: string };
}
