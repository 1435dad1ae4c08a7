/**
 * Sensitivity: where moving one constraint would change the recommendation. Each lever is tried by
 * deciding the same run again with only that constraint changed, so a line is true of the policy
 * as written (rules, costs, blockers), not a hand-kept list of conditions. Volume is searched on a
 * doubling grid and refined by bisection, since the decision is piecewise constant in it.
 */
import type { CaseResult, RunSummary } from "../evaluate/types.ts";
import type { Architecture, Decision, SensitivityLine } from "./types.ts";
import type { DecideConfig } from "./evidence.ts";
import { THRESHOLDS } from "./evidence.ts";
import { fmtCount, usd } from "./cost.ts";
import { CHANGES_PER_YEAR } from "./cost-inputs.ts";

type Core = (summary: RunSummary, cases: CaseResult[], config: DecideConfig) => Omit<Decision, "sensitivity">;
type Constraints = DecideConfig["constraints"];

const MAX_VOLUME = 1e9;

/** Two significant digits, rounded away from the side that keeps the decision: the stated value does flip it. */
function round2(x: number, up: boolean): number {
  if (x <= 0) return x;
  const p = Math.pow(10, Math.floor(Math.log10(x)) - 1);
  return (up ? Math.ceil(x / p) : Math.floor(x / p)) * p;
}

export function sensitivity(summary: RunSummary, cases: CaseResult[], config: DecideConfig, base: Omit<Decision, "sensitivity">, core: Core): SensitivityLine[] {
  const chosen = base.architecture;
  const archWith = (c: Partial<Constraints>): Architecture => core(summary, cases, { ...config, constraints: { ...config.constraints, ...c } }).architecture;
  const c = config.constraints;
  const out: SensitivityLine[] = [];

  // Volume, both directions from the declared value.
  const q0 = c.queriesPerDay;
  for (const dir of [1, -1] as const) {
    let same = q0 > 0 ? q0 : dir > 0 ? 0 : undefined;
    if (same === undefined) continue;
    let flip: { q: number; to: Architecture } | undefined;
    for (let k = 1; k <= 14; k++) {
      const q = q0 > 0 ? q0 * Math.pow(2, dir * k) : Math.pow(2, k);
      if (q > MAX_VOLUME || q < 1) break;
      const to = archWith({ queriesPerDay: q });
      if (to !== chosen) {
        flip = { q, to };
        break;
      }
      same = q;
    }
    if (!flip) continue;
    let lo = same;
    let hi = flip.q;
    for (let i = 0; i < 12; i++) {
      const mid = lo > 0 && hi > 0 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
      const to = archWith({ queriesPerDay: mid });
      if (to === chosen) lo = mid;
      else {
        hi = mid;
        flip.to = to;
      }
    }
    const rounded = round2(hi, dir > 0);
    const at = archWith({ queriesPerDay: rounded }) === flip.to ? rounded : hi;
    out.push({
      lever: "queriesPerDay",
      now: q0,
      at,
      to: flip.to,
      text: `${dir > 0 ? "Above" : "Below"} ~${fmtCount(at)} queries/day (now ${fmtCount(q0)}), the recommendation becomes ${flip.to}.`,
    });
  }

  // Freshness: every other cadence.
  const cadences = (Object.keys(CHANGES_PER_YEAR) as Constraints["knowledgeChange"][]).filter((k) => k !== c.knowledgeChange);
  const byArch = new Map<Architecture, string[]>();
  for (const k of cadences) {
    const to = archWith({ knowledgeChange: k });
    if (to !== chosen) byArch.set(to, [...(byArch.get(to) ?? []), k]);
  }
  for (const [to, ks] of byArch) {
    out.push({
      lever: "knowledgeChange",
      now: c.knowledgeChange,
      at: ks[0],
      to,
      text: `If knowledge changed ${ks.join(" or ")} (now ${c.knowledgeChange}), the recommendation would be ${to}.`,
    });
  }

  // Latency target and budget: thresholds just under (or over) each option's measured value.
  const p95s = [...new Set(base.costs.map((x) => x.p95LatencyMs).filter((x) => x > 0))].sort((a, b) => b - a);
  const latency = firstFlip(
    p95s.map((p) => Math.max(1, Math.floor(p * 0.99))).filter((t) => c.p95LatencyMs === undefined || t < c.p95LatencyMs),
    (t) => archWith({ p95LatencyMs: t }),
    chosen,
  );
  if (latency) {
    out.push({ lever: "p95LatencyMs", now: c.p95LatencyMs ?? null, at: latency.value, to: latency.to, text: `With a p95 target under ~${fmtCount(latency.value + 1)} ms (now ${c.p95LatencyMs === undefined ? "none" : `${c.p95LatencyMs} ms`}), the recommendation becomes ${latency.to}.` });
  }
  if (c.p95LatencyMs !== undefined) {
    const looser = firstFlip([...p95s].reverse().map((p) => Math.ceil(p * 1.01)).filter((t) => t > c.p95LatencyMs!), (t) => archWith({ p95LatencyMs: t }), chosen);
    if (looser) out.push({ lever: "p95LatencyMs", now: c.p95LatencyMs, at: looser.value, to: looser.to, text: `With a p95 target of ${fmtCount(looser.value)} ms or more (now ${c.p95LatencyMs} ms), the recommendation becomes ${looser.to}.` });
  }
  const monthly = [...new Set(base.costs.map((x) => x.monthlyUsd).filter((x) => x > 0))].sort((a, b) => b - a);
  const tighter = firstFlip(
    monthly.map((m) => m * 0.99).filter((b) => c.monthlyBudgetUsd === undefined || b < c.monthlyBudgetUsd),
    (b) => archWith({ monthlyBudgetUsd: b }),
    chosen,
  );
  if (tighter) {
    out.push({ lever: "monthlyBudgetUsd", now: c.monthlyBudgetUsd ?? null, at: tighter.value, to: tighter.to, text: `With a monthly budget under ${usd(tighter.value / 0.99)} (now ${c.monthlyBudgetUsd === undefined ? "none" : usd(c.monthlyBudgetUsd)}), the recommendation becomes ${tighter.to}.` });
  }
  if (c.monthlyBudgetUsd !== undefined) {
    const looser = firstFlip([...monthly].reverse().map((m) => m * 1.01).filter((b) => b > c.monthlyBudgetUsd!), (b) => archWith({ monthlyBudgetUsd: b }), chosen);
    if (looser) out.push({ lever: "monthlyBudgetUsd", now: c.monthlyBudgetUsd, at: looser.value, to: looser.to, text: `With a monthly budget of ${usd(looser.value)} or more (now ${usd(c.monthlyBudgetUsd)}), the recommendation becomes ${looser.to}.` });
  }

  // Labelled data: the fine-tuning threshold and an order of magnitude past it.
  const counts = [THRESHOLDS.minLabels, THRESHOLDS.minLabels * 10].filter((n) => n > c.labelledExamples);
  const more = firstFlip(counts, (n) => archWith({ labelledExamples: n }), chosen);
  if (more) out.push({ lever: "labelledExamples", now: c.labelledExamples, at: more.value, to: more.to, text: `With ${fmtCount(more.value)} or more labelled examples (now ${fmtCount(c.labelledExamples)}), the recommendation becomes ${more.to}.` });
  if (c.labelledExamples >= THRESHOLDS.minLabels) {
    const to = archWith({ labelledExamples: THRESHOLDS.minLabels - 1 });
    if (to !== chosen) out.push({ lever: "labelledExamples", now: c.labelledExamples, at: THRESHOLDS.minLabels - 1, to, text: `With fewer than ${THRESHOLDS.minLabels} labelled examples (now ${fmtCount(c.labelledExamples)}), the recommendation would be ${to}.` });
  }

  // The two yes/no constraints.
  const cit = archWith({ citationsRequired: !c.citationsRequired });
  if (cit !== chosen) out.push({ lever: "citationsRequired", now: c.citationsRequired, at: !c.citationsRequired, to: cit, text: `If citations ${c.citationsRequired ? "were not" : "were"} required, the recommendation would be ${cit}.` });
  const store = archWith({ externalDataStoreAllowed: !c.externalDataStoreAllowed });
  if (store !== chosen) {
    out.push({
      lever: "externalDataStoreAllowed",
      now: c.externalDataStoreAllowed,
      at: !c.externalDataStoreAllowed,
      to: store,
      text: `If documents ${c.externalDataStoreAllowed ? "could not" : "could"} be kept in an external store (externalDataStoreAllowed: ${!c.externalDataStoreAllowed}), the recommendation would be ${store}.`,
    });
  }
  return out;
}

/** The first candidate (in order) at which the decision differs from `chosen`. */
function firstFlip(candidates: number[], arch: (x: number) => Architecture, chosen: Architecture): { value: number; to: Architecture } | undefined {
  for (const x of candidates) {
    const to = arch(x);
    if (to !== chosen) return { value: x, to };
  }
  return undefined;
}
