/**
 * The evidence the recommendation rules read: one run's per-variant failures grouped by what fixes
 * them, compared case by case across variants (same caseId), plus the constraint checks
 * (`blockers`) every verdict must pass. The policy itself is in rules.ts.
 *
 * Failures are grouped by what fixes them:
 *   knowledge  = KNOWLEDGE_CAUSES (missing/stale knowledge, wrong retrieval, hallucination) → context
 *   behaviour  = BEHAVIOUR_CAUSES (format, tone, policy) + weak_reasoning with signal
 *                wrong_label / wrong_fields (classification/extraction consistency) → fine-tuning
 *   reasoning  = other weak_reasoning → a stronger model
 * e.g. "rag fixes 83% of prompt-only's knowledge failures".
 */
import {
  BEHAVIOUR_CAUSES,
  KNOWLEDGE_CAUSES,
  type CaseResult,
  type FailureCause,
  type FailureLabel,
  type RunSummary,
  type VariantSummary,
} from "../evaluate/types.ts";
import type { RagtuneConfig } from "../config/schema.ts";
import type { Architecture, CostItem } from "./types.ts";
import { InputError } from "../util/errors.ts";
import { fmtCount, trainingItem, usd, variantCosts, type CostConfig, type VariantCostDetail } from "./cost.ts";

/** `evaluate.alpha` is optional: it only sizes the "more cases" advice (default 0.05). */
export type DecideConfig = CostConfig & {
  evaluate?: Partial<Pick<RagtuneConfig["evaluate"], "alpha">>;
  /** The last `bench retrieval --suite` verdict on semantic retrieval (src/bench/semantic-verdict.ts), quoted when retrieval fails. */
  semanticRetrieval?: { advice: string; measuredAt?: string };
};
export type Group = "knowledge" | "behaviour" | "reasoning";
/** What an option is meant to fix; fine-tuning for knowledge has its own constraint. */
export type Purpose = Group | "none";

/** Policy thresholds, named so docs/decision.md and tests can quote them. */
export const THRESHOLDS = {
  /** prompt-only at or above this pass rate needs nothing more. */
  promptOnlyPass: 0.95,
  /** A failure group this large a share of a variant's failures is "significant". */
  significantShare: 0.3,
  /** … and this large "dominant". */
  dominantShare: 0.5,
  /** Knowledge failures below this share count as "little" (fine-tuning for behaviour). */
  littleKnowledgeShare: 0.25,
  /** Context "fixes" a group when at least this share of its failing cases pass with it. */
  fixes: 0.5,
  /** Failures "persist" with context when at least this share still fail. */
  persists: 0.5,
  /** With citations required, strict-format failures left on rag at this share point to hybrid. */
  citationsFormatShare: 0.2,
  /** Behaviour failures must also be at least this share of all cases to justify training. */
  minBehaviourRate: 0.05,
  /** long-context is acceptable when within this many pass-rate points of rag. */
  longContextTolerance: 0.05,
  /** A measured fine-tuned/hybrid variant must beat its untrained sibling by this much. */
  measuredGain: 0.05,
  /** Labelled examples needed before fine-tuning is recommended. */
  minLabels: 300,
  /** Pass-rate gap (points) over simpler options that counts as a clear margin. */
  clearMargin: 0.05,
  /**
   * The generator is the limit of a context variant when weak reasoning is at least `dominantShare`
   * of its failures, at least this share of all cases, and the gold passage reached the generator
   * (retrieved in the top k) in at least `goldReached` of those cases.
   */
  minReasoningRate: 0.05,
  goldReached: 0.8,
  /** Cases per variant for high / medium confidence. */
  sampleHigh: 50,
  sampleMedium: 20,
} as const;

export const BEHAVIOUR_SIGNALS = new Set(["wrong_label", "wrong_fields"]);
export const STRICT_FORMAT = new Set(["bad_format", "wrong_label", "wrong_fields"]);
export const VARIANT_OF: Partial<Record<Architecture, string>> = {
  "prompt-only": "prompt-only",
  "long-context": "long-context",
  rag: "rag",
  "fine-tune": "fine-tuned",
  hybrid: "hybrid",
};
export const ARCH_OF: Record<string, Architecture> = {
  "prompt-only": "prompt-only",
  "long-context": "long-context",
  rag: "rag",
  "fine-tuned": "fine-tune",
  hybrid: "hybrid",
};
/** Operational complexity, simplest first: a more complex option must earn its margin. */
export const COMPLEXITY: Architecture[] = ["prompt-only", "stronger-model", "long-context", "rag", "fine-tune", "hybrid"];

export function failureGroup(f: FailureLabel | undefined): Group | undefined {
  if (!f) return undefined;
  if (KNOWLEDGE_CAUSES.includes(f.cause)) return "knowledge";
  if (BEHAVIOUR_CAUSES.includes(f.cause)) return "behaviour";
  if (f.cause === "weak_reasoning") return BEHAVIOUR_SIGNALS.has(f.signal) ? "behaviour" : "reasoning";
  return undefined;
}

/** The cause as quoted in rationale: classification/extraction misses by their signal. */
function detailKey(f: FailureLabel): string {
  return f.cause === "weak_reasoning" && BEHAVIOUR_SIGNALS.has(f.signal) ? f.signal : f.cause;
}

// ---------------------------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------------------------

export interface VariantEvidence {
  name: string;
  summary: VariantSummary;
  byCase: Map<string, CaseResult>;
  failed: number;
  groups: Record<Group, number>;
  /** Counts per quoted cause within each group (weak_reasoning split by behaviour signal). */
  detail: Record<Group, Record<string, number>>;
  /** Knowledge failures of a truncated long-context run: lost to truncation. */
  truncatedKnowledge: number;
  truncated: boolean;
}

export interface Carry {
  /** Cases failing in `from` with the group. */
  total: number;
  /** … of which pass in `to`. */
  fixed: number;
  rate: number;
}

export interface Verdict {
  architecture: Architecture;
  rule: string;
  purpose: Purpose;
  rationale: string[];
}

export class Evidence {
  readonly variants = new Map<string, VariantEvidence>();
  readonly base: VariantEvidence;
  readonly costs: VariantCostDetail[];
  /** Options ruled out so far, with why (rules may consult it). */
  readonly ruledOut = new Map<Architecture, string[]>();
  /** Which rule proposed each ruled-out option, and for which failures (for the fallback's wording). */
  readonly proposals = new Map<Architecture, { rule: string; purpose: Purpose }>();
  /** Rationale lines recorded while rules ran (demotions, measured-but-not-better). */
  readonly notes: string[] = [];
  /** Cases per variant (the smallest measured variant). */
  readonly n: number;

  constructor(
    readonly summary: RunSummary,
    cases: CaseResult[],
    readonly config: DecideConfig,
  ) {
    for (const v of summary.variants) this.variants.set(v.name, buildVariantEvidence(v, cases));
    if (this.variants.size === 0) throw new InputError(`cannot decide: run ${summary.runId} has no measured variants`);
    this.base = this.variants.get("prompt-only") ?? this.variants.values().next().value!;
    this.costs = variantCosts(summary, config, cases);
    this.n = Math.min(...summary.variants.map((v) => v.cases));
  }

  get constraints(): DecideConfig["constraints"] {
    return this.config.constraints;
  }

  get(name: string): VariantEvidence | undefined {
    return this.variants.get(name);
  }

  cost(name: string): VariantCostDetail | undefined {
    return this.costs.find((c) => c.variant === name);
  }

  /** What one fine-tuning run costs and how often it recurs (the fine-tuned option's training item, computed when it has no cost entry). */
  fineTuneTraining(): CostItem | undefined {
    return trainingItem(this.cost("fine-tuned"), { summary: this.summary, config: this.config, variant: "fine-tuned" });
  }

  share(v: VariantEvidence, g: Group): number {
    return v.failed ? v.groups[g] / v.failed : 0;
  }

  /** Of the cases failing in `from` with group g, how many pass in `to` (same caseId). */
  carry(from: VariantEvidence, g: Group, to: VariantEvidence): Carry {
    let total = 0;
    let fixed = 0;
    if (from.byCase.size && to.byCase.size) {
      for (const [id, r] of from.byCase) {
        if (r.passed || failureGroup(r.failure) !== g) continue;
        const other = to.byCase.get(id);
        if (!other) continue;
        total++;
        if (other.passed) fixed++;
      }
    } else {
      // Summary-only runs: approximate by how much the group shrank.
      total = from.groups[g];
      fixed = Math.max(0, total - to.groups[g]);
    }
    return { total, fixed, rate: total ? fixed / total : 0 };
  }

  /** The measured context variant (rag or long-context) with the higher pass rate. */
  bestContext(): VariantEvidence | undefined {
    const ctx = ["rag", "long-context"].map((n) => this.get(n)).filter((v): v is VariantEvidence => !!v);
    return ctx.sort((a, b) => b.summary.passRate - a.summary.passRate)[0];
  }

  /** Why an option cannot be recommended under the constraints; empty when it can. */
  blockers(arch: Architecture, purpose: Purpose): string[] {
    const c = this.constraints;
    const out: string[] = [];
    if ((arch === "rag" || arch === "hybrid") && !c.externalDataStoreAllowed) {
      out.push(`constraints.externalDataStoreAllowed is false, so documents may not sit in an external/vector store at query time, which ${arch} needs for retrieval`);
    }
    if ((arch === "fine-tune" || arch === "hybrid") && c.labelledExamples < THRESHOLDS.minLabels) {
      out.push(`only ${c.labelledExamples} labelled examples; fine-tuning needs ≥ ${THRESHOLDS.minLabels} (constraints.labelledExamples)`);
    }
    if (arch === "fine-tune" && purpose === "knowledge" && (c.knowledgeChange === "daily" || c.knowledgeChange === "weekly")) {
      const training = this.fineTuneTraining();
      out.push(
        `knowledge changes ${c.knowledgeChange} (constraints.knowledgeChange): fine-tuning bakes facts into the weights, so the model would be stale within a ${c.knowledgeChange === "daily" ? "day" : "week"} ` +
          `and every change would need a new training run${training ? ` (${training.formula})` : ""}`,
      );
    }
    const name = VARIANT_OF[arch];
    const cost = name ? this.cost(name) : undefined;
    if (cost && cost.withinBudget === false) {
      out.push(
        `${name} would cost ${usd(cost.monthlyUsd)}/month at ${fmtCount(c.queriesPerDay)} queries/day ` +
          `(${usd(cost.perQueryUsd)}/query${cost.fixedMonthlyUsd ? ` + ${usd(cost.fixedMonthlyUsd)} fixed` : ""}), over the ${usd(c.monthlyBudgetUsd!)}/month budget (constraints.monthlyBudgetUsd)`,
      );
    }
    if (cost && cost.withinLatency === false) {
      out.push(`${name} p95 latency is ${Math.round(cost.p95LatencyMs)} ms, over the ${c.p95LatencyMs} ms target (constraints.p95LatencyMs)`);
    }
    return out;
  }

  reject(arch: Architecture, reasons: string[], rule?: string, purpose?: Purpose): void {
    if (rule && rule !== "best-measured" && purpose && !this.proposals.has(arch)) this.proposals.set(arch, { rule, purpose });
    const known = this.ruledOut.get(arch) ?? [];
    const fresh = reasons.filter((r) => !known.includes(r));
    if (!fresh.length) return;
    this.ruledOut.set(arch, [...known, ...fresh]);
    this.notes.push(`${arch} ruled out${rule ? ` (rule ${rule})` : ""}: ${fresh.join("; ")}.`);
  }

  measured(arch: Architecture): boolean {
    const name = VARIANT_OF[arch];
    return !!name && this.variants.has(name);
  }
}

function emptyGroups(): Record<Group, number> {
  return { knowledge: 0, behaviour: 0, reasoning: 0 };
}

function buildVariantEvidence(v: VariantSummary, cases: CaseResult[]): VariantEvidence {
  const byCase = new Map<string, CaseResult>();
  for (const r of cases) if (r.variant === v.name) byCase.set(r.caseId, r);
  const groups = emptyGroups();
  const detail: Record<Group, Record<string, number>> = { knowledge: {}, behaviour: {}, reasoning: {} };
  const truncated = v.context?.truncated ?? [...byCase.values()].some((r) => r.truncated);
  let failed = v.cases - v.passed;
  let truncatedKnowledge = 0;
  const add = (g: Group, key: string, n: number) => {
    groups[g] += n;
    detail[g][key] = (detail[g][key] ?? 0) + n;
  };
  if (byCase.size) {
    failed = 0;
    for (const r of byCase.values()) {
      if (r.passed) continue;
      failed++;
      const g = failureGroup(r.failure);
      if (!g || !r.failure) continue;
      add(g, detailKey(r.failure), 1);
      if (g === "knowledge" && r.truncated) truncatedKnowledge++;
    }
  } else {
    // No per-case results: classify/extract weak_reasoning are label/field misses (behaviour).
    for (const [task, causes] of Object.entries(v.failuresByTask)) {
      for (const [cause, n] of Object.entries(causes ?? {}) as [FailureCause, number][]) {
        const signal = cause === "weak_reasoning" ? (task === "classify" ? "wrong_label" : task === "extract" ? "wrong_fields" : "") : "";
        const f: FailureLabel = { cause, signal, evidence: "" };
        const g = failureGroup(f);
        if (g) add(g, detailKey(f), n);
        if (g === "knowledge" && truncated) truncatedKnowledge += n;
      }
    }
  }
  return { name: v.name, summary: v, byCase, failed, groups, detail, truncatedKnowledge, truncated };
}
