/**
 * report.json: one self-contained document per run — what was measured, what is recommended and
 * why — so dashboards and CI can read a run without the cases file. Field names are stable.
 */
import { FAILURE_CAUSES, type CaseResult, type FailureCause, type Interval, type PairedComparison, type RunSummary, type VariantSummary } from "../evaluate/types.ts";
import { STATS_DEFAULTS, byCase, hasRepeats } from "../evaluate/significance.ts";
import type { TaskKind } from "../models/index.ts";
import type { RagtuneConfig } from "../config/schema.ts";
import type { Architecture, Decision, VariantCost } from "../decide/types.ts";
import type { CostConfig } from "../decide/cost-inputs.ts";
import { PRICES_AS_OF } from "../models/prices.ts";
import { failureGroup, type Group } from "../decide/rules.ts";

export const REPORT_VERSION = 1;
/** Failure examples kept per variant and cause. */
export const EXAMPLES_PER_CAUSE = 3;
const INPUT_EXCERPT = 200;
const OUTPUT_EXCERPT = 280;

/** `evaluate` is optional: it only names the statistics settings in the report (defaults otherwise). */
export type ReportConfig = CostConfig & {
  evaluate?: Partial<Pick<RagtuneConfig["evaluate"], "alpha" | "bootstrapSamples" | "seed">>;
};

export interface FailureExample {
  caseId: string;
  task: TaskKind;
  input: string;
  /** The answer, cut to an excerpt. */
  output: string;
  signal: string;
  evidence: string;
}

export interface TaskPass {
  cases: number;
  passed: number;
  passRate: number;
}

/** The evaluator's per-variant summary fields (metrics verbatim), plus report-only views. */
export interface ReportVariant extends Pick<VariantSummary, "name" | "generator" | "cases" | "passed" | "passRate" | "metrics"> {
  /** Every cause, zero-filled, so tables and charts have fixed columns. */
  failures: Record<FailureCause, number>;
  /** Failures by what fixes them (see docs/decision.md): context, fine-tuning, a stronger model. */
  failureGroups: Record<Group, number>;
  /** Share of this variant's failures by cause (from the decision). */
  failureShares: Partial<Record<FailureCause, number>>;
  byTask: Partial<Record<TaskKind, TaskPass>>;
  /** Retrieval quality, kept apart from answer quality; null for variants without retrieval. */
  retrieval: { k: number; hitAtK: number | null; recallAtK: number | null; mrr: number | null; scoredCases: number } | null;
  /** Share of cases answered with the fallback (abstained); null when unknown. */
  fallbackRate: number | null;
  latencyMs: { p50: number; p95: number };
  costUsd: number;
  projectedCostUsd: number;
  /** Cost-model view (reference-model prices): per query and per month at the configured volume. */
  perQueryUsd: number | null;
  monthlyUsd: number | null;
  context?: VariantSummary["context"];
  /** Bootstrap intervals of passRate and the metrics ("passRate", "passRate.qa", …), when the run computed them. */
  ci?: Record<string, Interval>;
  /** With repeats: pass^N and agreement (VariantSummary.repeats), plus failed calls over all repeats. */
  repeats?: NonNullable<VariantSummary["repeats"]> & { failedRuns: number };
  /** LLM judging of this variant (VariantSummary.judge). */
  judge?: VariantSummary["judge"];
  /** Model calls served from / missing the response cache; null when the run did not record it. */
  cache: { hits: number; misses: number } | null;
}

export interface ReportJson {
  reportVersion: number;
  runId: string;
  project: string;
  runCreatedAt: string;
  generatedAt: string;
  generator: {
    id: string;
    offline: boolean;
    /** Prices used to project costs. */
    referenceModel: string;
    /** What the generator means for reading the numbers (always set for the offline reader). */
    note: string;
  };
  recommendation: {
    architecture: Architecture;
    confidence: Decision["confidence"];
    rationale: string[];
    whatWouldChange: string[];
    rule: string;
    /** The rollout plan: steps with metrics to watch and separate rollback paths. */
    rollout: Decision["rollout"];
    /** Where each constraint, moved alone, changes the recommendation. */
    sensitivity: Decision["sensitivity"];
    /** Only with `report --from-logs`: the production evidence and what it did to the measured recommendation. */
    production?: Decision["production"];
  };
  variants: ReportVariant[];
  notConfigured: RunSummary["notConfigured"];
  /** Fine-tuned models behind the fine-tuned / hybrid variants ([] when none ran). */
  finetunedModels: NonNullable<RunSummary["finetunedModels"]>;
  failureShares: Decision["failureShares"];
  /** Decision costs, each with its items and every figure's source (measured / declared / price table / estimated). */
  costs: VariantCost[];
  breakEven: Decision["breakEven"];
  constraints: ReportConfig["constraints"];
  pricing: {
    asOf: string;
    builtInPricesAsOf: string;
    referenceModel: string;
    /** null: computed from training tokens × epochs × the training price. */
    fineTuneTrainingUsd: number | null;
    vectorStoreMonthlyUsd: number;
    models: ReportConfig["pricing"]["models"];
  };
  suite: RunSummary["suite"];
  corpus: RunSummary["corpus"];
  retrievalK: number;
  /** The retrieval pipeline used by rag/hybrid, in words. */
  retrievalPipeline: string | null;
  complete: boolean;
  /** Why the run stopped early (e.g. --max-cost); null when it ran to the end. */
  stopped: string | null;
  /** Total cost of the run at each model's own price (generation + judging; cached calls cost 0). */
  costUsd: number;
  /** Response cache over the whole run; null when the run did not record it. */
  cache: { hits: number; misses: number } | null;
  /** Repeats per case (--repeats); 1 when not repeated. */
  repeats: number;
  /** Judge model and judges, when LLM judging ran. */
  judge: RunSummary["judge"] | null;
  /** Paired comparisons between variants (empty for runs that predate them). */
  comparisons: PairedComparison[];
  /** Settings the intervals and tests are read with. */
  statistics: { alpha: number; bootstrapSamples: number; seed: number };
  /** variant → cause → up to EXAMPLES_PER_CAUSE examples. */
  failureExamples: Record<string, Partial<Record<FailureCause, FailureExample[]>>>;
}

export interface BuildReportOptions {
  /** Fixed timestamp (tests, reproducible reports). */
  generatedAt?: Date;
}

export function excerpt(text: string, max: number): string {
  const flat = (text ?? "").replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}

function generatorNote(id: string, referenceModel: string): string {
  if (id.startsWith("offline:")) {
    return (
      "Answers were produced by the offline extractive reader (no LLM, no network): it selects and cites sentences from the context, " +
      "so pass rates measure retrieval and extraction rather than an LLM's reasoning, tone or formatting. " +
      `Costs are projected as if the same tokens were served by ${referenceModel}.`
    );
  }
  return `Answers were produced by ${id}; costs are projected at ${referenceModel} prices (the run's own cost is costUsd).`;
}

/** Metric by the first of several spellings the evaluator may use. */
function metric(metrics: Record<string, number>, names: string[]): number | undefined {
  for (const n of names) if (typeof metrics[n] === "number") return metrics[n];
  return undefined;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function reportVariant(v: VariantSummary, cases: CaseResult[], decision: Decision, summary: RunSummary): ReportVariant {
  const mine = cases.filter((c) => c.variant === v.name);
  const failures = Object.fromEntries(FAILURE_CAUSES.map((c) => [c, 0])) as Record<FailureCause, number>;
  if (mine.length) {
    for (const c of mine) if (!c.passed && c.failure) failures[c.failure.cause]++;
  } else {
    for (const [c, n] of Object.entries(v.failures) as [FailureCause, number][]) failures[c] = n;
  }

  const failureGroups: Record<Group, number> = { knowledge: 0, behaviour: 0, reasoning: 0 };
  if (mine.length) {
    for (const c of mine) {
      const g = c.passed ? undefined : failureGroup(c.failure);
      if (g) failureGroups[g]++;
    }
  } else {
    // Without cases, weak_reasoning on classify/extract is counted as behaviour via failuresByTask.
    for (const [task, causes] of Object.entries(v.failuresByTask)) {
      for (const [cause, n] of Object.entries(causes ?? {}) as [FailureCause, number][]) {
        const signal = cause === "weak_reasoning" && (task === "classify" || task === "extract") ? (task === "classify" ? "wrong_label" : "wrong_fields") : "";
        const g = failureGroup({ cause, signal, evidence: "" });
        if (g) failureGroups[g] += n;
      }
    }
  }

  const byTask: ReportVariant["byTask"] = {};
  const tasks = new Set<TaskKind>([...(Object.keys(summary.suite.byTask) as TaskKind[]), ...mine.map((c) => c.task)]);
  const repeated = hasRepeats(mine);
  for (const t of tasks) {
    const ofTask = mine.filter((c) => c.task === t);
    if (ofTask.length && repeated) {
      // Each case's repeats averaged first (as in the summary): cases are distinct cases.
      const shares = [...byCase(ofTask).values()].map((rs) => rs.filter((c) => c.passed).length / rs.length);
      const sum = shares.reduce((a, b) => a + b, 0);
      byTask[t] = { cases: shares.length, passed: Math.round(sum), passRate: sum / shares.length };
    } else if (ofTask.length) {
      const passed = ofTask.filter((c) => c.passed).length;
      byTask[t] = { cases: ofTask.length, passed, passRate: passed / ofTask.length };
    } else {
      const rate = metric(v.metrics, [`passRate.${t}`, `${t}.passRate`, `passRate_${t}`, `${t}PassRate`]);
      const n = summary.suite.byTask[t];
      if (rate !== undefined && n) byTask[t] = { cases: n, passed: Math.round(rate * n), passRate: rate };
    }
  }

  let retrieval: ReportVariant["retrieval"] = null;
  const scored = mine.filter((c) => c.retrieval);
  if (scored.length) {
    retrieval = {
      k: scored[0].retrieval!.k,
      hitAtK: mean(scored.map((c) => c.retrieval!.hitAtK)),
      recallAtK: mean(scored.map((c) => c.retrieval!.recallAtK)),
      mrr: mean(scored.map((c) => c.retrieval!.mrr)),
      scoredCases: scored.length,
    };
  } else {
    const hit = metric(v.metrics, ["hitAtK", "hit@k", "retrieval.hitAtK"]);
    const recall = metric(v.metrics, ["recallAtK", "recall@k", "retrieval.recallAtK"]);
    const mrr = metric(v.metrics, ["mrr", "MRR", "retrieval.mrr"]);
    if (hit !== undefined || recall !== undefined || mrr !== undefined) {
      retrieval = { k: summary.retrievalK, hitAtK: hit ?? null, recallAtK: recall ?? null, mrr: mrr ?? null, scoredCases: 0 };
    }
  }

  const fallbackRate = mine.length
    ? mine.filter((c) => c.abstained).length / mine.length
    : (metric(v.metrics, ["fallbackRate", "abstentionRate", "abstainRate"]) ?? null);
  const cost = decision.costs.find((c) => c.variant === v.name);
  return {
    name: v.name,
    generator: v.generator,
    cases: v.cases,
    passed: v.passed,
    passRate: v.passRate,
    metrics: v.metrics,
    failures,
    failureGroups,
    failureShares: decision.failureShares[v.name] ?? {},
    byTask,
    retrieval,
    fallbackRate,
    latencyMs: v.latencyMs,
    costUsd: v.costUsd,
    projectedCostUsd: v.projectedCostUsd,
    perQueryUsd: cost?.perQueryUsd ?? null,
    monthlyUsd: cost?.monthlyUsd ?? null,
    ...(v.context ? { context: v.context } : {}),
    ...(v.ci ? { ci: v.ci } : {}),
    ...(v.repeats
      ? { repeats: { ...v.repeats, failedRuns: mine.length ? mine.filter((c) => !c.passed).length : Math.round((1 - v.passRate) * v.cases * v.repeats.n) } }
      : {}),
    ...(v.judge ? { judge: v.judge } : {}),
    cache: v.cache ?? null,
  };
}

/** The run's cache: as recorded, else summed over the variants that recorded one. */
function runCache(summary: RunSummary): ReportJson["cache"] {
  if (summary.cache) return summary.cache;
  const recorded = summary.variants.filter((v) => v.cache);
  if (!recorded.length) return null;
  return { hits: recorded.reduce((a, v) => a + v.cache!.hits, 0), misses: recorded.reduce((a, v) => a + v.cache!.misses, 0) };
}

function failureExamples(summary: RunSummary, cases: CaseResult[]): ReportJson["failureExamples"] {
  const out: ReportJson["failureExamples"] = {};
  const sorted = [...cases].sort((a, b) => a.caseId.localeCompare(b.caseId));
  for (const v of summary.variants) {
    const perCause: Partial<Record<FailureCause, FailureExample[]>> = {};
    for (const c of sorted) {
      if (c.variant !== v.name || c.passed || !c.failure) continue;
      const list = (perCause[c.failure.cause] ??= []);
      if (list.length >= EXAMPLES_PER_CAUSE) continue;
      list.push({
        caseId: c.caseId,
        task: c.task,
        input: excerpt(c.input, INPUT_EXCERPT),
        output: excerpt(c.output, OUTPUT_EXCERPT),
        signal: c.failure.signal,
        evidence: c.failure.evidence,
      });
    }
    out[v.name] = perCause;
  }
  return out;
}

export function buildReport(
  summary: RunSummary,
  cases: CaseResult[],
  decision: Decision,
  config: ReportConfig,
  options: BuildReportOptions = {},
): ReportJson {
  const inRun = cases.filter((c) => summary.variants.some((v) => v.name === c.variant));
  const ref = config.pricing.referenceModel;
  return {
    reportVersion: REPORT_VERSION,
    runId: summary.runId,
    project: summary.project,
    runCreatedAt: summary.createdAt,
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    generator: { id: summary.generator, offline: summary.generator.startsWith("offline:"), referenceModel: ref, note: generatorNote(summary.generator, ref) },
    recommendation: {
      architecture: decision.architecture,
      confidence: decision.confidence,
      rationale: decision.rationale,
      whatWouldChange: decision.whatWouldChange,
      rule: decision.rule,
      rollout: decision.rollout,
      sensitivity: decision.sensitivity,
      ...(decision.production ? { production: decision.production } : {}),
    },
    variants: summary.variants.map((v) => reportVariant(v, inRun, decision, summary)),
    notConfigured: summary.notConfigured,
    finetunedModels: summary.finetunedModels ?? [],
    failureShares: decision.failureShares,
    costs: decision.costs,
    breakEven: decision.breakEven,
    constraints: config.constraints,
    pricing: {
      asOf: config.pricing.asOf,
      builtInPricesAsOf: PRICES_AS_OF,
      referenceModel: ref,
      fineTuneTrainingUsd: config.pricing.fineTuneTrainingUsd ?? null,
      vectorStoreMonthlyUsd: config.pricing.vectorStoreMonthlyUsd,
      models: config.pricing.models,
    },
    suite: summary.suite,
    corpus: summary.corpus,
    retrievalK: summary.retrievalK,
    retrievalPipeline: summary.retrieval ?? null,
    complete: summary.complete,
    stopped: summary.stopped ?? null,
    costUsd: summary.costUsd ?? summary.variants.reduce((a, v) => a + v.costUsd + (v.judge?.costUsd ?? 0), 0),
    cache: runCache(summary),
    repeats: summary.repeats ?? Math.max(1, ...summary.variants.map((v) => v.repeats?.n ?? 1)),
    judge: summary.judge ?? null,
    comparisons: summary.comparisons ?? [],
    statistics: {
      alpha: config.evaluate?.alpha ?? STATS_DEFAULTS.alpha,
      bootstrapSamples: config.evaluate?.bootstrapSamples ?? STATS_DEFAULTS.bootstrapSamples,
      seed: config.evaluate?.seed ?? STATS_DEFAULTS.seed,
    },
    failureExamples: failureExamples(summary, inRun),
  };
}
