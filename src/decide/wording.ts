/**
 * Wording helpers of the decision: every rationale line quotes measured numbers.
 */
import type { Evidence, Group, VariantEvidence } from "./evidence.ts";
import { fmtCount, usd } from "./cost.ts";

export function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

export function passes(v: VariantEvidence): string {
  return `${v.name} passes ${pct(v.summary.passRate)} (${v.summary.passed}/${v.summary.cases})`;
}

export function listDetail(d: Record<string, number>): string {
  return Object.entries(d)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

export const GROUP_WORDS: Record<Group, string> = {
  knowledge: "missing knowledge",
  behaviour: "behaviour (format/tone/policy/labels)",
  reasoning: "weak reasoning",
};

/** "71% of prompt-only failures (25 of 35) are missing knowledge (missing_knowledge 20, …)". */
export function groupShareLine(ev: Evidence, v: VariantEvidence, g: Group): string {
  return `${pct(ev.share(v, g))} of ${v.name} failures (${v.groups[g]} of ${v.failed}) are ${GROUP_WORDS[g]}${
    v.groups[g] ? ` (${listDetail(v.detail[g])})` : ""
  }`;
}

export function costLine(ev: Evidence, name: string): string | undefined {
  const c = ev.cost(name);
  if (!c) return undefined;
  return `${name}${c.measured ? "" : " (estimated)"} costs ${usd(c.perQueryUsd)}/query → ${usd(c.monthlyUsd)}/month at ${fmtCount(
    ev.constraints.queriesPerDay,
  )} queries/day${c.fixedMonthlyUsd ? ` (incl. ${usd(c.fixedMonthlyUsd)} fixed)` : ""}`;
}

export function truncationLine(lc: VariantEvidence): string | undefined {
  if (!lc.truncated) return undefined;
  const ctx = lc.summary.context;
  const sizes = ctx
    ? `only ${fmtCount(ctx.packedTokens)} of ${fmtCount(ctx.corpusTokens)} corpus tokens fit the ${fmtCount(ctx.budgetTokens)}-token budget`
    : "the corpus did not fit the budget";
  return `long-context fails ${lc.truncatedKnowledge} case${lc.truncatedKnowledge === 1 ? "" : "s"} because the corpus was truncated (${sizes})`;
}

export function fixLine(ev: Evidence, to: VariantEvidence, g: Group): string {
  const c = ev.carry(ev.base, g, to);
  return `${to.name} fixes ${pct(c.rate)} of them (${c.fixed} of ${c.total})`;
}

export const stable = (ev: Evidence) => ev.constraints.knowledgeChange === "never" || ev.constraints.knowledgeChange === "yearly";
