/**
 * The recommendation policy: ordered rules over measured evidence. Each rule is a small named
 * function that returns a verdict or nothing; the first verdict that survives the constraint
 * checks wins, so the order of RULES *is* the policy (see docs/decision.md).
 *
 * Failures are grouped by what fixes them:
 *   knowledge  = KNOWLEDGE_CAUSES (missing/stale knowledge, wrong retrieval, hallucination) → context
 *   behaviour  = BEHAVIOUR_CAUSES (format, tone, policy) + weak_reasoning with signal
 *                wrong_label / wrong_fields (classification/extraction consistency) → fine-tuning
 *   reasoning  = other weak_reasoning → a stronger model
 * and compared case by case across variants (same caseId), e.g. "rag fixes 83% of prompt-only's
 * knowledge failures".
 */
import {
  BEHAVIOUR_CAUSES,
  KNOWLEDGE_CAUSES,
  type CaseResult,
  type FailureCause,
  type FailureLabel,
  type PairedComparison,
  type RunSummary,
  type VariantSummary,
} from "../evaluate/types.ts";
import type { RagtuneConfig } from "../config/schema.ts";
import type { Architecture, Decision } from "./types.ts";
import { InputError } from "../util/errors.ts";
import { breakEven, breakEvens, fmtCount, monthlyUsd, usd, variantCosts, type VariantCostDetail } from "./cost.ts";
import { STATS_DEFAULTS, casesForSignificance } from "../evaluate/significance.ts";

/** `evaluate.alpha` is optional: it only sizes the "more cases" advice (default 0.05). */
export type DecideConfig = Pick<RagtuneConfig, "constraints" | "pricing"> & { evaluate?: Partial<Pick<RagtuneConfig["evaluate"], "alpha">> };
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
  /** Cases per variant for high / medium confidence. */
  sampleHigh: 50,
  sampleMedium: 20,
} as const;

const BEHAVIOUR_SIGNALS = new Set(["wrong_label", "wrong_fields"]);
const STRICT_FORMAT = new Set(["bad_format", "wrong_label", "wrong_fields"]);
const VARIANT_OF: Partial<Record<Architecture, string>> = {
  "prompt-only": "prompt-only",
  "long-context": "long-context",
  rag: "rag",
  "fine-tune": "fine-tuned",
  hybrid: "hybrid",
};
const ARCH_OF: Record<string, Architecture> = {
  "prompt-only": "prompt-only",
  "long-context": "long-context",
  rag: "rag",
  "fine-tuned": "fine-tune",
  hybrid: "hybrid",
};
/** Operational complexity, simplest first: a more complex option must earn its margin. */
const COMPLEXITY: Architecture[] = ["prompt-only", "stronger-model", "long-context", "rag", "fine-tune", "hybrid"];

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
    this.costs = variantCosts(summary, config);
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
      out.push("externalDataStoreAllowed is false, so documents may not sit in an external/vector store at query time, which retrieval needs");
    }
    if ((arch === "fine-tune" || arch === "hybrid") && c.labelledExamples < THRESHOLDS.minLabels) {
      out.push(`only ${c.labelledExamples} labelled examples; fine-tuning needs ≥ ${THRESHOLDS.minLabels}`);
    }
    if (arch === "fine-tune" && purpose === "knowledge" && (c.knowledgeChange === "daily" || c.knowledgeChange === "weekly")) {
      const runs = c.knowledgeChange === "daily" ? 30 : 52 / 12;
      out.push(
        `knowledge changes ${c.knowledgeChange}: fine-tuning bakes facts into the weights, so the model would be stale within a ${c.knowledgeChange === "daily" ? "day" : "week"} ` +
          `and every change would need a new training run (${usd(this.config.pricing.fineTuneTrainingUsd)} each, ~${usd(this.config.pricing.fineTuneTrainingUsd * runs)}/month)`,
      );
    }
    const name = VARIANT_OF[arch];
    const cost = name ? this.cost(name) : undefined;
    if (cost && cost.withinBudget === false) {
      out.push(
        `${name} would cost ${usd(cost.monthlyUsd)}/month at ${fmtCount(c.queriesPerDay)} queries/day ` +
          `(${usd(cost.perQueryUsd)}/query${cost.fixedMonthlyUsd ? ` + ${usd(cost.fixedMonthlyUsd)} fixed` : ""}), over the ${usd(c.monthlyBudgetUsd!)}/month budget`,
      );
    }
    if (cost && cost.withinLatency === false) {
      out.push(`${name} p95 latency is ${Math.round(cost.p95LatencyMs)} ms, over the ${c.p95LatencyMs} ms target`);
    }
    return out;
  }

  reject(arch: Architecture, reasons: string[], rule?: string): void {
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

// ---------------------------------------------------------------------------------------------
// Wording helpers: every rationale line quotes measured numbers.
// ---------------------------------------------------------------------------------------------

export function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function passes(v: VariantEvidence): string {
  return `${v.name} passes ${pct(v.summary.passRate)} (${v.summary.passed}/${v.summary.cases})`;
}

function listDetail(d: Record<string, number>): string {
  return Object.entries(d)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

const GROUP_WORDS: Record<Group, string> = {
  knowledge: "missing knowledge",
  behaviour: "behaviour (format/tone/policy/labels)",
  reasoning: "weak reasoning",
};

/** "71% of prompt-only failures (25 of 35) are missing knowledge (missing_knowledge 20, …)". */
function groupShareLine(ev: Evidence, v: VariantEvidence, g: Group): string {
  return `${pct(ev.share(v, g))} of ${v.name} failures (${v.groups[g]} of ${v.failed}) are ${GROUP_WORDS[g]}${
    v.groups[g] ? ` (${listDetail(v.detail[g])})` : ""
  }`;
}

function costLine(ev: Evidence, name: string): string | undefined {
  const c = ev.cost(name);
  if (!c) return undefined;
  return `${name}${c.measured ? "" : " (estimated)"} costs ${usd(c.perQueryUsd)}/query → ${usd(c.monthlyUsd)}/month at ${fmtCount(
    ev.constraints.queriesPerDay,
  )} queries/day${c.fixedMonthlyUsd ? ` (incl. ${usd(c.fixedMonthlyUsd)} fixed)` : ""}`;
}

function truncationLine(lc: VariantEvidence): string | undefined {
  if (!lc.truncated) return undefined;
  const ctx = lc.summary.context;
  const sizes = ctx
    ? `only ${fmtCount(ctx.packedTokens)} of ${fmtCount(ctx.corpusTokens)} corpus tokens fit the ${fmtCount(ctx.budgetTokens)}-token budget`
    : "the corpus did not fit the budget";
  return `long-context fails ${lc.truncatedKnowledge} case${lc.truncatedKnowledge === 1 ? "" : "s"} because the corpus was truncated (${sizes})`;
}

function fixLine(ev: Evidence, to: VariantEvidence, g: Group): string {
  const c = ev.carry(ev.base, g, to);
  return `${to.name} fixes ${pct(c.rate)} of them (${c.fixed} of ${c.total})`;
}

const stable = (ev: Evidence) => ev.constraints.knowledgeChange === "never" || ev.constraints.knowledgeChange === "yearly";

// ---------------------------------------------------------------------------------------------
// Rules, in order.
// ---------------------------------------------------------------------------------------------

/** (a) Nothing (or almost nothing) fails without context: add nothing. */
export function promptOnlySuffices(ev: Evidence): Verdict | undefined {
  const po = ev.get("prompt-only");
  if (!po || po.summary.passRate < THRESHOLDS.promptOnlyPass) return undefined;
  const lines = [`${passes(po)} with no document context (bar: ${pct(THRESHOLDS.promptOnlyPass)}).`];
  if (po.failed) lines.push(`Its ${po.failed} failure${po.failed === 1 ? "" : "s"}: ${listDetail({ ...po.detail.knowledge, ...po.detail.behaviour, ...po.detail.reasoning }) || "unlabelled"}.`);
  const ctx = ev.bestContext();
  const poCost = ev.cost("prompt-only");
  const ctxCost = ctx ? ev.cost(ctx.name) : undefined;
  if (ctx && poCost && ctxCost) {
    const gain = Math.round((ctx.summary.passRate - po.summary.passRate) * 100);
    lines.push(
      `The best context variant, ${ctx.name}, passes ${pct(ctx.summary.passRate)} (${gain >= 0 ? "+" : ""}${gain} points) for ` +
        `${usd(ctxCost.monthlyUsd - poCost.monthlyUsd)}/month more (${usd(ctxCost.monthlyUsd)} vs ${usd(poCost.monthlyUsd)}).`,
    );
  }
  return { architecture: "prompt-only", rule: "prompt-only-suffices", purpose: "none", rationale: lines };
}

/** " (the promoted models were trained on classify 336, qa 54 examples)" when the run used fine-tuned models. */
function trainedOn(ev: Evidence): string {
  const models = ev.summary.finetunedModels?.filter((m) => m.examples !== undefined) ?? [];
  if (models.length === 0) return "";
  return ` (the promoted models were trained on ${models.map((m) => `${m.task} ${m.examples}${m.forced ? " [forced past its gate]" : ""}`).join(", ")} examples)`;
}

/**
 * Whether a measured variant (`better`) gains enough over `than` to be worth its training: at least
 * THRESHOLDS.measuredGain points, or — when the run carries a paired comparison of the two — any
 * gain that is significant (McNemar p < alpha on the same cases). A 4.9-point gain that is
 * significant is real; a 6-point gain that is not may be noise, and then it is said.
 */
export function measuredGain(ev: Evidence, than: string, better: string): { qualifies: boolean; text: string } {
  const a = ev.get(than)!.summary.passRate;
  const b = ev.get(better)!.summary.passRate;
  const points = (b - a) * 100;
  const diff = `${points >= 0 ? "+" : ""}${points.toFixed(1)} points`;
  const c = ev.summary.comparisons?.find((x) => x.metric === "passRate" && ((x.a === than && x.b === better) || (x.a === better && x.b === than)));
  if (c) {
    const gain = c.a === than ? c.diff : -c.diff;
    const p = `McNemar p = ${c.pValue.toPrecision(2)}, n = ${c.n}`;
    if (gain > 0 && c.significant) return { qualifies: true, text: `${diff}, significant (${p})` };
    if (b - a >= THRESHOLDS.measuredGain) return { qualifies: false, text: `${diff} but not significant (${p})` };
    return { qualifies: false, text: `${diff}, not significant (${p})` };
  }
  if (b - a >= THRESHOLDS.measuredGain) return { qualifies: true, text: `${diff} (≥ ${Math.round(THRESHOLDS.measuredGain * 100)} points)` };
  return { qualifies: false, text: `${diff}, not ≥ ${Math.round(THRESHOLDS.measuredGain * 100)} points` };
}

/** (f) Knowledge failures that retrieval fixes AND behaviour failures that remain with retrieval. */
export function hybridForKnowledgeAndBehaviour(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  const rag = ev.get("rag");
  if (!rag || rag === base || base.failed === 0) return undefined;
  const fix = ev.carry(base, "knowledge", rag);
  if (ev.share(base, "knowledge") < THRESHOLDS.significantShare) return undefined;
  // Retrieval qualifies as the knowledge remedy by the same test as the rag rule.
  const near = fix.rate < THRESHOLDS.fixes ? ragNearLongContext(ev, rag) : undefined;
  if (fix.rate < THRESHOLDS.fixes && !near) return undefined;
  const behaviour = rag.groups.behaviour;
  const strict = Object.entries(rag.detail.behaviour)
    .filter(([k]) => STRICT_FORMAT.has(k))
    .reduce((n, [, x]) => n + x, 0);
  const significant =
    ev.share(rag, "behaviour") >= THRESHOLDS.significantShare && behaviour / rag.summary.cases >= THRESHOLDS.minBehaviourRate;
  // Citations need retrieved passages, so strict-format misses that survive retrieval point to hybrid even when fewer.
  const citationsAndFormat = ev.constraints.citationsRequired && strict > 0 && strict / rag.failed >= THRESHOLDS.citationsFormatShare;
  if (!significant && !citationsAndFormat) return undefined;
  const hybrid = ev.get("hybrid");
  const hybridTest = hybrid ? measuredGain(ev, rag.name, hybrid.name) : undefined;
  if (hybrid && !hybridTest!.qualifies) {
    ev.notes.push(`hybrid was measured and passes ${pct(hybrid.summary.passRate)}: ${hybridTest!.text} over rag's ${pct(rag.summary.passRate)}, so it is not recommended for the behaviour failures.`);
    return undefined;
  }
  const lines = [
    `${groupShareLine(ev, base, "knowledge")}; ${fixLine(ev, rag, "knowledge")}.`,
    ...(near ? [near] : []),
    `${behaviour} of rag's ${rag.failed} remaining failures (${pct(ev.share(rag, "behaviour"))}) are behaviour (${listDetail(rag.detail.behaviour)}): retrieval does not fix them, fine-tuning on labelled examples does.`,
  ];
  if (ev.constraints.citationsRequired) lines.push("Citations are required, so answers must come from retrieved passages; fine-tuning alone cannot cite.");
  if (hybrid) lines.push(`hybrid was measured: ${passes(hybrid)} vs rag ${pct(rag.summary.passRate)} (${hybridTest!.text}).`);
  lines.push(`${ev.constraints.labelledExamples} labelled examples are available for fine-tuning${trainedOn(ev)}.`);
  return { architecture: "hybrid", rule: "hybrid-for-knowledge-and-behaviour", purpose: "behaviour", rationale: lines };
}

/** (d) Small stable corpus that fits the context budget, at a volume where packing it is cheaper than a store. */
export function longContextSmallStable(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  const lc = ev.get("long-context");
  const rag = ev.get("rag");
  if (!lc || lc === base || base.failed === 0) return undefined;
  if (ev.share(base, "knowledge") < THRESHOLDS.dominantShare) return undefined;
  if (lc.truncated || !stable(ev) || ev.constraints.citationsRequired) return undefined;
  const fix = ev.carry(base, "knowledge", lc);
  if (fix.rate < THRESHOLDS.fixes) return undefined;
  if (rag && lc.summary.passRate < rag.summary.passRate - THRESHOLDS.longContextTolerance) return undefined;
  const lcCost = ev.cost("long-context");
  const ragCost = rag ? ev.cost("rag") : undefined;
  if (lcCost && ragCost && lcCost.monthlyUsd > ragCost.monthlyUsd) return undefined;
  const ctx = lc.summary.context;
  const lines = [
    `${groupShareLine(ev, base, "knowledge")}; ${fixLine(ev, lc, "knowledge")}.`,
    `${passes(lc)}${rag ? ` vs rag ${pct(rag.summary.passRate)}` : ""}, with the whole corpus in context${
      ctx ? ` (${fmtCount(ctx.corpusTokens)} tokens within the ${fmtCount(ctx.budgetTokens)}-token budget)` : ""
    }.`,
    `Knowledge changes ${ev.constraints.knowledgeChange}, so a packed prompt stays current without an index to maintain.`,
  ];
  if (lcCost) lines.push(`${costLine(ev, "long-context")}${ragCost ? `, vs rag ${usd(ragCost.monthlyUsd)}/month` : ""}.`);
  if (lcCost && ragCost) {
    const be = breakEven(lcCost, ragCost);
    if (be) lines.push(`Break-even with rag is ~${fmtCount(be.queriesPerDay)} queries/day; expected volume is ${fmtCount(ev.constraints.queriesPerDay)}.`);
  }
  return { architecture: "long-context", rule: "long-context-small-stable", purpose: "knowledge", rationale: lines };
}

/**
 * Context is the remedy but neither variant fixes most knowledge failures on its own (a weak
 * generator): rag still wins when it is within `longContextTolerance` of long-context and the
 * situation favours retrieval — docs that change monthly or faster, required citations, a corpus
 * that does not fit the context budget, or a lower monthly cost. Returns the rationale line.
 */
function ragNearLongContext(ev: Evidence, rag: VariantEvidence): string | undefined {
  const lc = ev.get("long-context");
  if (!lc || lc === ev.base || ev.ruledOut.has("rag")) return undefined;
  if (ev.carry(ev.base, "knowledge", lc).rate < THRESHOLDS.fixes) return undefined;
  const gap = lc.summary.passRate - rag.summary.passRate;
  if (gap > THRESHOLDS.longContextTolerance) return undefined;
  const c = ev.constraints;
  const lcCost = ev.cost("long-context");
  const ragCost = ev.cost("rag");
  const reasons: string[] = [];
  if (!stable(ev)) reasons.push(`knowledge changes ${c.knowledgeChange}`);
  if (c.citationsRequired) reasons.push("citations are required");
  if (lc.truncated) reasons.push("the corpus does not fit the long-context budget");
  if (lcCost && ragCost && ragCost.monthlyUsd < lcCost.monthlyUsd) {
    reasons.push(`rag costs ${usd(ragCost.monthlyUsd)}/month vs ${usd(lcCost.monthlyUsd)}`);
  }
  if (!reasons.length) return undefined;
  const diff = gap > 0 ? `${Math.round(gap * 1000) / 10} points below` : "at least as good as";
  return `rag is ${diff} long-context (${pct(rag.summary.passRate)} vs ${pct(lc.summary.passRate)}), within the ${Math.round(THRESHOLDS.longContextTolerance * 100)}-point tolerance, and ${reasons.join(", ")}.`;
}

/** (c) Knowledge failures dominate and retrieval fixes them. */
export function ragForKnowledge(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  const rag = ev.get("rag");
  if (!rag || rag === base || base.failed === 0) return undefined;
  if (ev.share(base, "knowledge") < THRESHOLDS.dominantShare) return undefined;
  const fix = ev.carry(base, "knowledge", rag);
  const c = ev.constraints;
  const near = fix.rate < THRESHOLDS.fixes ? ragNearLongContext(ev, rag) : undefined;
  if (fix.rate < THRESHOLDS.fixes && !near) return undefined;
  const lines = [`${groupShareLine(ev, base, "knowledge")}; ${fixLine(ev, rag, "knowledge")}.`, `${passes(rag)} vs ${base.name} ${pct(base.summary.passRate)}.`];
  if (near) lines.push(near);
  if (c.knowledgeChange !== "never" && c.knowledgeChange !== "yearly") {
    lines.push(`Knowledge changes ${c.knowledgeChange}: retrieval reads the current documents at query time; re-indexing takes minutes and nothing is retrained.`);
  }
  if (c.citationsRequired) lines.push("Citations are required: rag answers cite the retrieved passages.");
  const lc = ev.get("long-context");
  if (lc) {
    const trunc = truncationLine(lc);
    if (trunc) lines.push(`${trunc}.`);
    if (lc.summary.passRate < rag.summary.passRate) lines.push(`long-context passes ${pct(lc.summary.passRate)} vs rag ${pct(rag.summary.passRate)}.`);
    const lcCost = ev.cost("long-context");
    const ragCost = ev.cost("rag");
    const be = lcCost && ragCost ? breakEven(lcCost, ragCost) : undefined;
    if (be && lcCost && ragCost && c.queriesPerDay > be.queriesPerDay && lcCost.monthlyUsd > ragCost.monthlyUsd) {
      lines.push(
        `At ${fmtCount(c.queriesPerDay)} queries/day rag costs ${usd(ragCost.monthlyUsd)}/month vs long-context ${usd(lcCost.monthlyUsd)} (break-even ~${fmtCount(be.queriesPerDay)} queries/day).`,
      );
    }
  }
  const cl = costLine(ev, "rag");
  if (cl) lines.push(`${cl}.`);
  return { architecture: "rag", rule: "rag-for-knowledge", purpose: "knowledge", rationale: lines };
}

/** Knowledge dominates but rag is ruled out or does not fix it: long-context, else fine-tuning (stable docs only). */
export function knowledgeWithoutRetrieval(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  if (base.failed === 0 || ev.share(base, "knowledge") < THRESHOLDS.dominantShare) return undefined;
  const rag = ev.get("rag");
  const ragFix = rag && rag !== base ? ev.carry(base, "knowledge", rag) : undefined;
  if (ragFix && ragFix.rate >= THRESHOLDS.fixes && !ev.ruledOut.has("rag")) return undefined;
  const lines = [`${groupShareLine(ev, base, "knowledge")}.`];
  if (!rag) lines.push("rag was not measured.");
  else if (ragFix && ragFix.rate < THRESHOLDS.fixes) {
    lines.push(`rag fixes only ${pct(ragFix.rate)} of them (${ragFix.fixed} of ${ragFix.total}); wrong_retrieval accounts for ${rag.detail.knowledge.wrong_retrieval ?? 0} of rag's ${rag.failed} failures.`);
  }
  const lc = ev.get("long-context");
  if (lc && lc !== base && !ev.ruledOut.has("long-context")) {
    const fix = ev.carry(base, "knowledge", lc);
    if (fix.rate >= THRESHOLDS.fixes) {
      const blocked = ev.blockers("long-context", "knowledge");
      if (!blocked.length) {
        const why = ev.ruledOut.has("rag") ? "long-context keeps the documents inside the prompt (no external store)" : "long-context puts the documents in the prompt";
        lines.push(`${why}: ${fixLine(ev, lc, "knowledge")}; ${passes(lc)}.`);
        const trunc = truncationLine(lc);
        if (trunc) lines.push(`${trunc}; shrinking the corpus or raising longContext.budgetTokens would recover them.`);
        const cl = costLine(ev, "long-context");
        if (cl) lines.push(`${cl}.`);
        return { architecture: "long-context", rule: "knowledge-without-retrieval", purpose: "knowledge", rationale: lines };
      }
      ev.reject("long-context", blocked, "knowledge-without-retrieval");
    } else {
      lines.push(`long-context fixes only ${pct(fix.rate)} of them (${fix.fixed} of ${fix.total}).`);
    }
  }
  const blocked = ev.blockers("fine-tune", "knowledge");
  if (blocked.length) {
    ev.reject("fine-tune", blocked, "knowledge-without-retrieval");
    return undefined;
  }
  const ft = ev.get("fine-tuned");
  if (ft) {
    const fix = ev.carry(base, "knowledge", ft);
    if (fix.rate < THRESHOLDS.fixes) return undefined;
    lines.push(`fine-tuned was measured: ${fixLine(ev, ft, "knowledge")}; ${passes(ft)}.`);
  }
  lines.push(
    `Knowledge changes ${ev.constraints.knowledgeChange}, so facts can be trained into the model; retrain on each change (${usd(ev.config.pricing.fineTuneTrainingUsd)} per run). Fine-tuned models recall trained facts less reliably than context, and cannot cite.`,
  );
  return { architecture: "fine-tune", rule: "knowledge-without-retrieval", purpose: "knowledge", rationale: lines };
}

/** (e) Behaviour failures (format/tone/policy/labels) dominate, persist with context, little knowledge failure. */
export function fineTuneForBehaviour(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  if (base.failed === 0) return undefined;
  if (ev.share(base, "behaviour") < THRESHOLDS.dominantShare || ev.share(base, "knowledge") >= THRESHOLDS.littleKnowledgeShare) return undefined;
  if (base.groups.behaviour / base.summary.cases < THRESHOLDS.minBehaviourRate) return undefined;
  const lines = [`${groupShareLine(ev, base, "behaviour")}; only ${pct(ev.share(base, "knowledge"))} are knowledge failures.`];
  const ctx = ev.bestContext();
  if (ctx && ctx !== base) {
    const c = ev.carry(base, "behaviour", ctx);
    const persist = c.total ? 1 - c.rate : 0;
    if (persist < THRESHOLDS.persists) return undefined;
    lines.push(`With context they persist: ${c.total - c.fixed} of ${c.total} (${pct(persist)}) still fail on ${ctx.name} (${passes(ctx)}).`);
  }
  const ft = ev.get("fine-tuned");
  if (ft) {
    const test = measuredGain(ev, base.name, ft.name);
    if (!test.qualifies) {
      ev.notes.push(`fine-tuned was measured and passes ${pct(ft.summary.passRate)}: ${test.text} over ${base.name}'s ${pct(base.summary.passRate)}, so fine-tuning is not recommended.`);
      return undefined;
    }
    lines.push(`fine-tuned was measured: ${passes(ft)} vs ${base.name} ${pct(base.summary.passRate)}.`);
  }
  lines.push(`${ev.constraints.labelledExamples} labelled examples are available${trainedOn(ev)}; fine-tuning teaches format, tone, policy and label consistency, which do not go stale when documents change.`);
  // A fine-tuned model alone cannot cite; with citations required the answer must also come through retrieval.
  if (ev.constraints.citationsRequired && ev.get("rag")) {
    lines.push("Citations are required, so the fine-tuned model should answer from retrieved passages: hybrid.");
    return { architecture: "hybrid", rule: "fine-tune-for-behaviour", purpose: "behaviour", rationale: lines };
  }
  return { architecture: "fine-tune", rule: "fine-tune-for-behaviour", purpose: "behaviour", rationale: lines };
}

/** (b) Weak reasoning (not classification/extraction) dominates and persists with context. */
export function strongerModelForReasoning(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  if (base.failed === 0 || ev.share(base, "reasoning") < THRESHOLDS.dominantShare) return undefined;
  const lines = [`${groupShareLine(ev, base, "reasoning")}.`];
  const ctx = ev.bestContext();
  if (ctx && ctx !== base) {
    const c = ev.carry(base, "reasoning", ctx);
    const persist = c.total ? 1 - c.rate : 0;
    if (persist < THRESHOLDS.persists) return undefined;
    lines.push(`Context does not fix them: ${c.total - c.fixed} of ${c.total} (${pct(persist)}) still fail on ${ctx.name} (${passes(ctx)}).`);
  }
  lines.push("Neither retrieval nor fine-tuning on the same model adds reasoning ability: use a stronger generator (larger or reasoning model) and re-run the suite on it.");
  return { architecture: "stronger-model", rule: "stronger-model-for-reasoning", purpose: "reasoning", rationale: lines };
}

/** The policy, in order. */
export const RULES: ((ev: Evidence) => Verdict | undefined)[] = [
  promptOnlySuffices,
  hybridForKnowledgeAndBehaviour,
  longContextSmallStable,
  ragForKnowledge,
  knowledgeWithoutRetrieval,
  fineTuneForBehaviour,
  strongerModelForReasoning,
];

/**
 * Fallback when no rule fits: the measured option with the best pass rate among those the
 * constraints allow; options within one case (or 3 points) of it count as tied and the cheapest wins.
 */
export function bestMeasured(ev: Evidence): Verdict {
  const all = [...ev.variants.values()];
  const feasible = all.filter((v) => {
    const arch = ARCH_OF[v.name];
    if (!arch) return false;
    const blocked = ev.blockers(arch, "none");
    if (blocked.length) ev.reject(arch, blocked, "best-measured");
    return !blocked.length;
  });
  const lines: string[] = [];
  const pool = feasible.length ? feasible : all;
  if (!feasible.length) lines.push("No measured option meets every constraint; showing the best measured one regardless.");
  const best = Math.max(...pool.map((v) => v.summary.passRate));
  const tolerance = Math.max(0.03, 1 / Math.max(1, ev.n));
  const tied = pool.filter((v) => v.summary.passRate >= best - tolerance);
  const monthly = (v: VariantEvidence) => ev.cost(v.name)?.monthlyUsd ?? Infinity;
  tied.sort((a, b) => monthly(a) - monthly(b) || COMPLEXITY.indexOf(ARCH_OF[a.name]) - COMPLEXITY.indexOf(ARCH_OF[b.name]));
  const pick = tied[0];
  lines.push(
    `${ev.ruledOut.size ? "The options the failures point to are ruled out by the constraints (below)" : "No single failure group decides this run"}; ${passes(pick)}${
      tied.length > 1 ? `, within ${Math.round(tolerance * 100)} points of the best (${tied.map((v) => `${v.name} ${pct(v.summary.passRate)}`).join(", ")}) and the cheapest of them` : ", the best measured option allowed"
    }.`,
  );
  for (const g of ["knowledge", "behaviour", "reasoning"] as Group[]) {
    if (ev.base.groups[g]) lines.push(`${groupShareLine(ev, ev.base, g)}.`);
  }
  const cl = costLine(ev, pick.name);
  if (cl) lines.push(`${cl}.`);
  return { architecture: ARCH_OF[pick.name] ?? "prompt-only", rule: "best-measured", purpose: "none", rationale: lines };
}

// ---------------------------------------------------------------------------------------------
// Confidence and what would change
// ---------------------------------------------------------------------------------------------

export interface ConfidenceInputs {
  n: number;
  measured: boolean;
  /** Pass-rate points over the best simpler measured option (Infinity when none is simpler). */
  margin: number;
  fallback: boolean;
  complete: boolean;
  /**
   * Whether the winner's lead over the best simpler option is statistically significant (the
   * run's paired comparison); false lowers confidence one level. Undefined = not known (runs
   * without comparisons, no lead, or no simpler option) and changes nothing.
   */
  significant?: boolean;
}

/**
 * Confidence starts from sample size (≥ 50 cases per variant high, ≥ 20 medium, else low), then
 * drops one level for each of: a margin under 5 points over the best simpler option, a winner
 * that was not measured (also capped at medium), the fallback rule, an incomplete run, and a lead
 * over the best simpler option that the paired comparison finds not significant.
 */
export function confidenceOf(x: ConfidenceInputs): Decision["confidence"] {
  let level = x.n >= THRESHOLDS.sampleHigh ? 2 : x.n >= THRESHOLDS.sampleMedium ? 1 : 0;
  if (x.measured && x.margin < THRESHOLDS.clearMargin) level--;
  if (!x.measured) level = Math.min(level - 1, 1);
  if (x.fallback) level--;
  if (!x.complete) level--;
  if (x.significant === false) level--;
  return (["low", "medium", "high"] as const)[Math.max(0, level)];
}

/** Measured options simpler than arch that the constraints allow: the real alternatives. */
function simplerOptions(ev: Evidence, arch: Architecture): VariantEvidence[] {
  const rank = COMPLEXITY.indexOf(arch);
  return [...ev.variants.values()].filter((v) => {
    const a = ARCH_OF[v.name];
    return a && COMPLEXITY.indexOf(a) < rank && ev.blockers(a, "none").length === 0;
  });
}

function marginOf(ev: Evidence, arch: Architecture): number {
  const name = VARIANT_OF[arch];
  const winner = name ? ev.get(name) : undefined;
  if (!winner) return NaN;
  const simpler = simplerOptions(ev, arch);
  if (!simpler.length) return Infinity;
  return winner.summary.passRate - Math.max(...simpler.map((v) => v.summary.passRate));
}

/** A measured winner's lead over the best simpler option that the run's paired comparison does not support. */
export interface UnresolvedLead {
  winner: string;
  other: string;
  comparison: PairedComparison;
  /** winner − other on the paired cases (share of cases). */
  lead: number;
}

/**
 * The recommendation rests on the winner passing more than the best simpler option; when the
 * run's pass-rate comparison of those two is not significant, that lead may be chance.
 * Undefined when the run has no comparisons, nothing simpler is allowed, or the winner does not lead.
 */
export function unresolvedLead(summary: RunSummary, ev: Evidence, arch: Architecture): UnresolvedLead | undefined {
  if (!summary.comparisons?.length) return undefined;
  const name = VARIANT_OF[arch];
  const winner = name ? ev.get(name) : undefined;
  if (!winner) return undefined;
  const simpler = simplerOptions(ev, arch).sort((a, b) => b.summary.passRate - a.summary.passRate);
  const other = simpler[0];
  if (!other || winner.summary.passRate <= other.summary.passRate) return undefined;
  const comparison = summary.comparisons.find(
    (c) => c.metric === "passRate" && ((c.a === winner.name && c.b === other.name) || (c.a === other.name && c.b === winner.name)),
  );
  if (!comparison || comparison.significant) return undefined;
  const lead = comparison.b === winner.name ? comparison.diff : -comparison.diff;
  if (lead <= 0) return undefined;
  return { winner: winner.name, other: other.name, comparison, lead };
}

function pValueText(p: number): string {
  return p < 0.001 ? "< 0.001" : `= ${p.toFixed(p < 0.1 ? 3 : 2)}`;
}

/** "rag vs long-context: +2.8 points, not significant (McNemar p = 0.41, n = 142)". */
export function unresolvedLeadLine(u: UnresolvedLead): string {
  const test = u.comparison.test === "mcnemar-exact" ? "McNemar" : "paired bootstrap";
  return `${u.winner} vs ${u.other}: +${(Math.round(u.lead * 1000) / 10).toFixed(1)} points, not significant (${test} p ${pValueText(u.comparison.pValue)}, n = ${u.comparison.n})`;
}

function whatWouldChange(ev: Evidence, v: Verdict): string[] {
  const out: string[] = [];
  const c = ev.constraints;
  const arch = v.architecture;
  const base = ev.base;
  const rag = ev.get("rag");
  const lc = ev.get("long-context");
  const ragCost = ev.cost("rag");
  const lcCost = ev.cost("long-context");
  const winnerName = VARIANT_OF[arch];
  const winnerPass = winnerName ? ev.get(winnerName)?.summary.passRate : undefined;

  // Long-context as the alternative: what would have to be true for it to win.
  const aboutKnowledge = v.purpose === "knowledge" || v.purpose === "none";
  if (aboutKnowledge && arch !== "long-context" && lc && lcCost && (winnerPass === undefined || lc.summary.passRate >= winnerPass - THRESHOLDS.longContextTolerance || lc.truncated)) {
    const conds: string[] = [];
    if (!stable(ev)) conds.push("knowledge changed yearly or less");
    if (c.citationsRequired) conds.push("citations were not required");
    if (lc.truncated && lc.summary.context) conds.push(`the corpus fitted the ${fmtCount(lc.summary.context.budgetTokens)}-token budget (now ${fmtCount(lc.summary.context.corpusTokens)} tokens)`);
    const be = ragCost ? breakEven(lcCost, ragCost) : undefined;
    let volume = c.queriesPerDay;
    if (be && c.queriesPerDay > be.queriesPerDay) {
      conds.push(`volume stayed under ~${fmtCount(be.queriesPerDay)} queries/day`);
      volume = be.queriesPerDay;
    }
    if (ev.ruledOut.has("long-context")) conds.push(`long-context were not ruled out (${ev.ruledOut.get("long-context")!.join("; ")})`);
    if (conds.length) {
      out.push(
        `If ${conds.join(" and ")}, long-context would cost ${usd(monthlyUsd(lcCost.perQueryUsd, volume, lcCost.fixedMonthlyUsd))}/month` +
          `${volume !== c.queriesPerDay ? ` at that volume` : ""} and pass ${pct(lc.summary.passRate)}${lc.truncated ? " (more once nothing is truncated)" : ""}.`,
      );
    }
  }

  // rag as the alternative.
  if (aboutKnowledge && arch !== "rag" && arch !== "hybrid" && rag && ragCost && rag !== base) {
    const blocked = ev.ruledOut.get("rag") ?? [];
    if (blocked.some((b) => b.startsWith("externalDataStoreAllowed"))) {
      out.push(`If documents could be kept in an external store (externalDataStoreAllowed: true), rag would pass ${pct(rag.summary.passRate)} at ${usd(ragCost.monthlyUsd)}/month.`);
    }
    if (ragCost.withinBudget === false) {
      out.push(`With a monthly budget of at least ${usd(ragCost.monthlyUsd)} (now ${usd(c.monthlyBudgetUsd!)}), rag would be an option: it passes ${pct(rag.summary.passRate)}.`);
    }
    if (ragCost.withinLatency === false) {
      out.push(`With a p95 target of at least ${Math.round(ragCost.p95LatencyMs)} ms (now ${c.p95LatencyMs} ms), rag would be an option: it passes ${pct(rag.summary.passRate)}.`);
    }
    if (arch === "long-context" && lcCost) {
      // Only conditions that are not already true can flip the answer.
      const be = breakEven(lcCost, ragCost);
      const flips: string[] = [];
      if (c.knowledgeChange === "never" || c.knowledgeChange === "yearly") flips.push("knowledge started changing monthly or faster");
      if (!c.citationsRequired) flips.push("citations became required");
      if (!lc?.truncated) flips.push("the corpus outgrew the long-context budget");
      if (be && c.queriesPerDay < be.queriesPerDay) flips.push(`volume rose above ~${fmtCount(be.queriesPerDay)} queries/day (rag ${usd(ragCost.monthlyUsd)}/month now)`);
      const gap = (lc?.summary.passRate ?? 0) - rag.summary.passRate;
      if (gap > 0) {
        flips.push(
          `rag passed as well as long-context (now ${pct(rag.summary.passRate)} vs ${pct(lc!.summary.passRate)}; improve retrieval or the generator and re-run)`,
        );
      }
      if (flips.length) {
        out.push(
          `If ${flips.length > 1 ? `${flips.slice(0, -1).join(", ")}, or ${flips[flips.length - 1]}` : flips[0]}, rag would be recommended${
            gap > 0 ? "" : `: it passes ${pct(rag.summary.passRate)}`
          }.`,
        );
      }
    }
  }

  // Labelled examples: the lever for behaviour failures.
  const behaviourLeft = (rag && arch !== "prompt-only" ? rag : base).groups.behaviour;
  if (c.labelledExamples < THRESHOLDS.minLabels && arch !== "fine-tune" && arch !== "hybrid" && behaviourLeft > 0) {
    const target = rag && ev.share(base, "knowledge") >= THRESHOLDS.significantShare ? "hybrid" : "fine-tune";
    out.push(
      `Collect ≥ ${THRESHOLDS.minLabels} labelled examples (you have ${c.labelledExamples}): ${target} could then fix the ${behaviourLeft} behaviour failure${behaviourLeft === 1 ? "" : "s"} ` +
        `(${listDetail((rag && arch !== "prompt-only" ? rag : base).detail.behaviour)}) that remain.`,
    );
  }

  // Unmeasured winners: the measurement that would confirm or overturn them.
  if ((arch === "fine-tune" || arch === "hybrid") && !ev.measured(arch)) {
    const sibling = arch === "fine-tune" ? base : rag ?? base;
    out.push(
      `Train and run the ${VARIANT_OF[arch]} variant: if it does not pass at least ${pct(Math.min(1, sibling.summary.passRate + THRESHOLDS.measuredGain))} ` +
        `(${sibling.name} ${pct(sibling.summary.passRate)} + ${Math.round(THRESHOLDS.measuredGain * 100)} points), prefer ${ARCH_OF[sibling.name]}.`,
    );
  }

  switch (arch) {
    case "prompt-only": {
      if (v.rule !== "prompt-only-suffices") break;
      const ctx = ev.bestContext();
      out.push(
        `If prompt-only fell below ${pct(THRESHOLDS.promptOnlyPass)} (now ${pct(base.summary.passRate)}), e.g. as the docs move past what the model knows, re-run: knowledge failures point to ${
          ctx ? `${ctx.name} (passes ${pct(ctx.summary.passRate)})` : "rag"
        }.`,
      );
      break;
    }
    case "stronger-model":
      out.push(
        `If a stronger generator still fails most of the ${base.groups.reasoning} weak-reasoning cases, split the task into steps or add worked examples to the prompt; if its remaining failures are knowledge failures, rag${
          ragCost ? ` (${usd(ragCost.monthlyUsd)}/month)` : ""
        }.`,
      );
      break;
    case "fine-tune":
      out.push(
        `If knowledge failures grew above ${pct(THRESHOLDS.significantShare)} of failures (now ${pct(ev.share(base, "knowledge"))}) and retrieval fixed them${
          c.citationsRequired ? "" : ", or citations became required"
        }, hybrid would be recommended.`,
      );
      break;
    case "hybrid": {
      if (rag && ragCost) {
        const hy = ev.cost("hybrid");
        const failures = `${rag.groups.behaviour} behaviour failure${rag.groups.behaviour === 1 ? "" : "s"} left on rag ${rag.groups.behaviour === 1 ? "was" : "were"}`;
        if (hy && hy.monthlyUsd <= ragCost.monthlyUsd) {
          // A trained classifier answers some cases without an LLM call, so hybrid can cost less than rag.
          out.push(
            `hybrid also costs less than rag here (${usd(hy.monthlyUsd)} vs ${usd(ragCost.monthlyUsd)}/month): only if the ${failures} acceptable and ` +
              `maintaining trained models (retraining, the promotion gate) cost more than ${usd(ragCost.monthlyUsd - hy.monthlyUsd)}/month would rag alone (${pct(rag.summary.passRate)}) be the better choice.`,
          );
        } else {
          out.push(
            `If the ${failures} acceptable, rag alone would do at ${usd(ragCost.monthlyUsd)}/month${hy ? ` (hybrid ${usd(hy.monthlyUsd)}/month)` : ""} and pass ${pct(rag.summary.passRate)}.`,
          );
        }
      }
      break;
    }
    case "rag":
      if (rag && rag.detail.knowledge.wrong_retrieval) {
        out.push(`If retrieval improved (wrong_retrieval is ${rag.detail.knowledge.wrong_retrieval} of rag's ${rag.failed} failures), rag's ${pct(rag.summary.passRate)} would rise; nothing else would change the choice.`);
      }
      break;
    default:
      break;
  }
  if (ev.n < THRESHOLDS.sampleHigh) {
    out.push(`With ≥ ${THRESHOLDS.sampleHigh} cases per variant (now ${ev.n}) the margins above would be firmer; a 1-case swing is ${Math.round(100 / Math.max(1, ev.n))} points.`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// decide()
// ---------------------------------------------------------------------------------------------

function shares(ev: Evidence): Decision["failureShares"] {
  const out: Decision["failureShares"] = {};
  for (const v of ev.variants.values()) {
    const failed = v.failed || v.summary.cases - v.summary.passed;
    const counts: Partial<Record<FailureCause, number>> = {};
    if (v.byCase.size) {
      for (const r of v.byCase.values()) if (!r.passed && r.failure) counts[r.failure.cause] = (counts[r.failure.cause] ?? 0) + 1;
    } else Object.assign(counts, v.summary.failures);
    const s: Partial<Record<FailureCause, number>> = {};
    for (const [cause, n] of Object.entries(counts) as [FailureCause, number][]) {
      if (n) s[cause] = failed ? Math.round((n / failed) * 1000) / 1000 : 0;
    }
    out[v.name] = s;
  }
  return out;
}

/** "What would change": more cases resolve a lead that is not significant (or show there is none). */
function moreCasesLine(u: UnresolvedLead, alpha: number): string {
  const n = u.comparison.n;
  const need = casesForSignificance(n, u.comparison.pValue, alpha);
  const size =
    need === undefined || need > 100 * n
      ? "far more cases than this run"
      : `about ${fmtCount(need)} paired cases (now ${fmtCount(n)})`;
  return (
    `More cases would settle ${u.winner} vs ${u.other} (${unresolvedLeadLine(u)}): if the lead held, ${size} would make it significant at p < ${alpha}; ` +
    `if ${u.other} keeps up, the simpler ${u.other} is as good.`
  );
}

export function decide(summary: RunSummary, cases: CaseResult[], config: DecideConfig): Decision {
  const ev = new Evidence(summary, cases, config);
  let verdict: Verdict | undefined;
  for (const rule of RULES) {
    const v = rule(ev);
    if (!v) continue;
    const blocked = ev.blockers(v.architecture, v.purpose);
    if (blocked.length) {
      ev.reject(v.architecture, blocked, v.rule);
      continue;
    }
    verdict = v;
    break;
  }
  const fallback = !verdict;
  verdict ??= bestMeasured(ev);

  const measured = verdict.architecture !== "stronger-model" && ev.measured(verdict.architecture);
  const margin = measured ? marginOf(ev, verdict.architecture) : NaN;
  const doubt = measured ? unresolvedLead(summary, ev, verdict.architecture) : undefined;
  const confidence = confidenceOf({ n: ev.n, measured, margin, fallback, complete: summary.complete, ...(doubt ? { significant: false } : {}) });

  const rationale = [...verdict.rationale, ...ev.notes];
  if (!measured) {
    const name = VARIANT_OF[verdict.architecture];
    const nc = name ? summary.notConfigured.find((x) => x.name === name) : undefined;
    rationale.push(
      verdict.architecture === "stronger-model"
        ? "A stronger model was not measured in this run; the recommendation rests on the failure evidence above, so confidence is lowered."
        : `The ${name} variant was not measured${nc ? ` (${nc.reason.replace(/\.$/, "")})` : ""}; this recommendation is inferred from the failures of the measured variants, so confidence is lowered.`,
    );
    const est = name ? ev.cost(name) : undefined;
    if (est && !est.measured) rationale.push(`Estimated cost: ${costLine(ev, est.variant)} (${est.basis}).`);
  }
  if (!summary.complete) rationale.push("The run is incomplete (not every case ran on every variant); confidence is lowered.");
  if (doubt) {
    rationale.push(`${unresolvedLeadLine(doubt)}: the lead over ${doubt.other} may be chance, so confidence is lowered.`);
  }
  const marginText = Number.isFinite(margin)
    ? margin >= 0
      ? `, ${Math.round(margin * 100)} points over the best simpler option`
      : `, ${Math.round(-margin * 100)} points below the best simpler option`
    : margin === Infinity
      ? ", nothing simpler to compare with"
      : "";
  rationale.push(
    `Confidence ${confidence}: ${ev.n} cases per variant${marginText}${doubt ? `, lead over ${doubt.other} not significant` : ""}${measured ? "" : ", recommendation not measured directly"}${fallback ? ", no rule matched cleanly" : ""}.`,
  );

  let changes = whatWouldChange(ev, verdict);
  if (doubt) changes.push(moreCasesLine(doubt, config.evaluate?.alpha ?? STATS_DEFAULTS.alpha));
  if (!changes.length) changes = [`Re-run after the docs, suite or constraints change; this recommendation rests on ${ev.n} cases per variant.`];

  return {
    architecture: verdict.architecture,
    confidence,
    rationale,
    whatWouldChange: changes,
    failureShares: shares(ev),
    costs: ev.costs,
    breakEven: breakEvens(ev.costs),
    rule: verdict.rule,
  };
}
