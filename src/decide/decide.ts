/**
 * decide(): run the rules in order over a run's evidence, check each verdict against the
 * constraints, and assemble the Decision (rationale, confidence, what would change it).
 */
import type { CaseResult, FailureCause, RunSummary } from "../evaluate/types.ts";
import type { Decision, ProductionEvidence } from "./types.ts";
import { withProduction } from "./production.ts";
import { breakEvens, fmtCount } from "./cost.ts";
import { STATS_DEFAULTS, casesForSignificance } from "../evaluate/significance.ts";
import { ARCH_OF, Evidence, VARIANT_OF, type DecideConfig, type Verdict } from "./evidence.ts";
import { RULES, bestMeasured } from "./rules.ts";
import { confidenceOf, marginOf, unresolvedLead, unresolvedLeadLine, type UnresolvedLead } from "./confidence.ts";
import { whatWouldChange } from "./changes.ts";
import { costLine } from "./wording.ts";
import { generatorLimitNotes } from "./generator-limit.ts";
import { rolloutPlan } from "./rollout.ts";
import { sensitivity } from "./sensitivity.ts";

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

/** The variant of the two that costs less per month at the declared volume (`first` on a tie or unknown cost). */
function cheaperOf(ev: Evidence, first: string, second: string): string {
  const a = ev.cost(first)?.monthlyUsd;
  const b = ev.cost(second)?.monthlyUsd;
  return typeof a === "number" && typeof b === "number" && b < a ? second : first;
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

/** The recommendation with its sensitivity lines: where each constraint, moved alone, would change it. */
export function decide(summary: RunSummary, cases: CaseResult[], config: DecideConfig, production?: ProductionEvidence): Decision {
  const core = decideCore(summary, cases, config);
  const sens = sensitivity(summary, cases, config, core, decideCore);
  if (!production) return { ...core, sensitivity: sens };
  // Sensitivity stays that of the measured decision: each lever is moved against the run, not the logs.
  return { ...withProduction(core, new Evidence(summary, cases, config), production), sensitivity: sens };
}

function decideCore(summary: RunSummary, cases: CaseResult[], config: DecideConfig): Omit<Decision, "sensitivity"> {
  const ev = new Evidence(summary, cases, config);
  let verdict: Verdict | undefined;
  for (const rule of RULES) {
    const v = rule(ev);
    if (!v) continue;
    const blocked = ev.blockers(v.architecture, v.purpose);
    if (blocked.length) {
      ev.reject(v.architecture, blocked, v.rule, v.purpose);
      continue;
    }
    verdict = v;
    break;
  }
  const fallback = !verdict;
  verdict ??= bestMeasured(ev);

  // No recommendation rests on a difference that is not significant: when the chosen option's lead
  // over a simpler allowed one may be chance, the two are not distinguishable on this suite and the
  // cheaper of them (the simpler one on a tie) is recommended.
  let measured = verdict.architecture !== "stronger-model" && ev.measured(verdict.architecture);
  const lead = measured ? unresolvedLead(summary, ev, verdict.architecture) : undefined;
  let indistinct: { lead: UnresolvedLead; chosen: string; over: string } | undefined;
  if (lead) {
    const chosen = cheaperOf(ev, lead.other, lead.winner);
    if (chosen === lead.other && ARCH_OF[lead.other]) {
      indistinct = { lead, chosen: lead.other, over: lead.winner };
      verdict = {
        architecture: ARCH_OF[lead.other],
        rule: "not-distinguishable",
        purpose: verdict.purpose,
        rationale: [
          `${unresolvedLeadLine(lead)}: ${lead.winner} and ${lead.other} are not distinguishable on this suite, so the simpler, cheaper ${lead.other} is recommended (${costLine(ev, lead.other)}; ${lead.winner}: ${costLine(ev, lead.winner)}).`,
          `The failures pointed to ${lead.winner} (rule ${verdict.rule}):`,
          ...verdict.rationale.map((l) => `  ${l}`),
        ],
      };
      measured = ev.measured(verdict.architecture);
    }
  }
  const margin = measured ? marginOf(ev, verdict.architecture) : NaN;
  const doubt = indistinct ? undefined : lead;
  const confidence = confidenceOf({ n: ev.n, measured, margin, fallback, complete: summary.complete, ...(doubt || indistinct ? { significant: false } : {}) });

  const rationale = [...verdict.rationale, ...generatorLimitNotes(ev, verdict), ...ev.notes];
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
  if (indistinct) changes.unshift(moreCasesLine(indistinct.lead, config.evaluate?.alpha ?? STATS_DEFAULTS.alpha).replace(/; if .* is as good\.$/, `; ${indistinct.over} would then be recommended.`));
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
    rollout: rolloutPlan(ev, verdict.architecture),
  };
}
