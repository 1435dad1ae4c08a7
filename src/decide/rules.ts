/**
 * The recommendation policy: ordered rules over measured evidence (evidence.ts). Each rule is a
 * small named function that returns a verdict or nothing; the first verdict that survives the
 * constraint checks wins, so the order of RULES *is* the policy (see docs/decision.md).
 */
import type { Purpose, Verdict } from "./evidence.ts";
import { ARCH_OF, COMPLEXITY, STRICT_FORMAT, THRESHOLDS, type Evidence, type Group, type VariantEvidence } from "./evidence.ts";
import { breakEven, fmtCount, usd } from "./cost.ts";
import { isOfflineGenerator, offlineReaderLine, strongerModelForContext } from "./generator-limit.ts";
import { costLine, fixLine, groupShareLine, listDetail, passes, pct, stable, truncationLine } from "./wording.ts";

export {
  Evidence,
  THRESHOLDS,
  failureGroup,
  type DecideConfig,
  type Group,
  type Purpose,
  type Verdict,
  type VariantEvidence,
  type Carry,
} from "./evidence.ts";
export { pct } from "./wording.ts";
export { confidenceOf, unresolvedLead, unresolvedLeadLine, type ConfidenceInputs, type UnresolvedLead } from "./confidence.ts";

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
        // A measured fine-tuned model that answers more is not silently passed over: say why.
        const ft = ev.get("fine-tuned");
        if (ft && ft !== base && ft.summary.passRate > lc.summary.passRate) {
          const ftBlocked = ev.blockers("fine-tune", "knowledge");
          lines.push(
            ftBlocked.length
              ? `fine-tuned passes more (${pct(ft.summary.passRate)}) but is not an option for these knowledge failures: ${ftBlocked.join("; ")}.`
              : `fine-tuned passes more (${pct(ft.summary.passRate)}), but facts trained into weights are recalled less reliably than context, cannot be cited and need retraining on each change; long-context is preferred while it fixes most knowledge failures.`,
          );
        }
        const cl = costLine(ev, "long-context");
        if (cl) lines.push(`${cl}.`);
        return { architecture: "long-context", rule: "knowledge-without-retrieval", purpose: "knowledge", rationale: lines };
      }
      ev.reject("long-context", blocked, "knowledge-without-retrieval", "knowledge");
    } else {
      lines.push(`long-context fixes only ${pct(fix.rate)} of them (${fix.fixed} of ${fix.total}).`);
    }
  }
  const blocked = ev.blockers("fine-tune", "knowledge");
  if (blocked.length) {
    ev.reject("fine-tune", blocked, "knowledge-without-retrieval", "knowledge");
    return undefined;
  }
  const ft = ev.get("fine-tuned");
  if (ft) {
    const fix = ev.carry(base, "knowledge", ft);
    if (fix.rate < THRESHOLDS.fixes) return undefined;
    lines.push(`fine-tuned was measured: ${fixLine(ev, ft, "knowledge")}; ${passes(ft)}.`);
  }
  const training = ev.fineTuneTraining();
  lines.push(
    `Knowledge changes ${ev.constraints.knowledgeChange}, so facts can be trained into the model; retrain on each change${training ? ` (${training.formula})` : ""}. Fine-tuned models recall trained facts less reliably than context, and cannot cite.`,
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
  if (isOfflineGenerator(ev.summary.generator)) lines.push(offlineReaderLine(ev.summary.generator, base.groups.reasoning));
  return { architecture: "stronger-model", rule: "stronger-model-for-reasoning", purpose: "reasoning", rationale: lines };
}

/** The policy, in order. */
export const RULES: ((ev: Evidence) => Verdict | undefined)[] = [
  promptOnlySuffices,
  hybridForKnowledgeAndBehaviour,
  longContextSmallStable,
  ragForKnowledge,
  strongerModelForContext,
  knowledgeWithoutRetrieval,
  fineTuneForBehaviour,
  strongerModelForReasoning,
];

const GROUP_NOUN: Record<Group, string> = { knowledge: "knowledge", behaviour: "behaviour", reasoning: "weak-reasoning" };

/**
 * Why no rule decided, naming the options the failures point to and what stopped each: the
 * constraint (key and number) that ruled it out, or the measured fix rate below the bar.
 */
function whyFallback(ev: Evidence): string {
  const base = ev.base;
  const parts: string[] = [];
  for (const [arch, { purpose, rule }] of ev.proposals) {
    const reasons = ev.ruledOut.get(arch) ?? [];
    const forWhat = purpose === "none" ? "" : ` for the ${base.groups[purpose]} ${GROUP_NOUN[purpose]} failures`;
    parts.push(`${arch}${forWhat} (rule ${rule}) is ruled out: ${reasons.join("; ")}`);
  }
  const top = (["knowledge", "behaviour", "reasoning"] as Group[]).sort((a, b) => base.groups[b] - base.groups[a])[0];
  if (top === "knowledge" && ev.share(base, "knowledge") >= THRESHOLDS.dominantShare) {
    for (const name of ["rag", "long-context"]) {
      const v = ev.get(name);
      if (!v || v === base || ev.ruledOut.has(ARCH_OF[name])) continue;
      const c = ev.carry(base, "knowledge", v);
      if (c.rate < THRESHOLDS.fixes) parts.push(`${name} fixes only ${pct(c.rate)} of ${base.name}'s knowledge failures (${c.fixed} of ${c.total}; the bar is ${pct(THRESHOLDS.fixes)})`);
    }
  }
  if (parts.length) return `No rule's choice holds: ${parts.join("; ")}`;
  const share = ev.share(base, top);
  return share >= THRESHOLDS.dominantShare
    ? `No rule fits: ${GROUP_NOUN[top]} failures are ${pct(share)} of ${base.name}'s failures, but the conditions of the rules for them do not hold (docs/decision.md §3)`
    : `No failure group reaches ${pct(THRESHOLDS.dominantShare)} of ${base.name}'s failures (the largest, ${GROUP_NOUN[top]}, is ${pct(share)})`;
}

/**
 * What a measured variant's pass rate rests on, for the constraint checks of the fallback: a
 * fine-tuned model (no retrieval) whose gains over the base are mostly knowledge failures it now
 * answers carries facts in its weights, so the knowledge constraints apply to it (knowledge that
 * changes weekly must not be trained in) exactly as when a rule proposes fine-tuning for knowledge.
 */
function fallbackPurpose(ev: Evidence, v: VariantEvidence): Purpose {
  if (v.name !== "fine-tuned" || v === ev.base) return "none";
  const knowledge = ev.carry(ev.base, "knowledge", v).fixed;
  return knowledge > 0 && knowledge >= ev.carry(ev.base, "behaviour", v).fixed ? "knowledge" : "none";
}

/**
 * Fallback when no rule fits: the measured option with the best pass rate among those the
 * constraints allow; options within one case (or 3 points) of it count as tied and the cheapest wins.
 */
export function bestMeasured(ev: Evidence): Verdict {
  const all = [...ev.variants.values()];
  const feasible = all.filter((v) => {
    const arch = ARCH_OF[v.name];
    if (!arch) return false;
    const blocked = ev.blockers(arch, fallbackPurpose(ev, v));
    if (blocked.length) ev.reject(arch, blocked, "best-measured");
    return !blocked.length;
  });
  const lines: string[] = [];
  const pool = feasible.length ? feasible : all;
  if (!feasible.length) {
    const why = all.map((v) => `${v.name}: ${(ev.ruledOut.get(ARCH_OF[v.name]) ?? ["not an architecture"])[0]}`).join("; ");
    lines.push(`No measured option meets every constraint (${why}); showing the best measured one regardless.`);
  }
  const best = Math.max(...pool.map((v) => v.summary.passRate));
  const tolerance = Math.max(0.03, 1 / Math.max(1, ev.n));
  const tied = pool.filter((v) => v.summary.passRate >= best - tolerance);
  const monthly = (v: VariantEvidence) => ev.cost(v.name)?.monthlyUsd ?? Infinity;
  tied.sort((a, b) => monthly(a) - monthly(b) || COMPLEXITY.indexOf(ARCH_OF[a.name]) - COMPLEXITY.indexOf(ARCH_OF[b.name]));
  const pick = tied[0];
  lines.push(
    `${whyFallback(ev)}; ${passes(pick)}${
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
