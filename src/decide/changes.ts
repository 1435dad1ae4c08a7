/**
 * "What would change the recommendation": concrete flips, each naming the alternative with its
 * measured numbers. docs/decision.md §6.
 */
import { ARCH_OF, THRESHOLDS, VARIANT_OF, type Evidence, type Verdict } from "./evidence.ts";
import { breakEven, fmtCount, monthlyAt, usd } from "./cost.ts";
import { listDetail, pct, stable } from "./wording.ts";
import { ceiling, ceilingLine, generatorLimit } from "./generator-limit.ts";

export function whatWouldChange(ev: Evidence, v: Verdict): string[] {
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
        `If ${conds.join(" and ")}, long-context would cost ${usd(monthlyAt(lcCost, volume))}/month` +
          `${volume !== c.queriesPerDay ? ` at that volume` : ""} and pass ${pct(lc.summary.passRate)}${lc.truncated ? " (more once nothing is truncated)" : ""}.`,
      );
    }
  }

  // rag as the alternative.
  if (aboutKnowledge && arch !== "rag" && arch !== "hybrid" && rag && ragCost && rag !== base) {
    const blocked = ev.ruledOut.get("rag") ?? [];
    if (blocked.some((b) => b.includes("externalDataStoreAllowed is false"))) {
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
    case "stronger-model": {
      const g = v.rule === "stronger-model-for-context" ? generatorLimit(ev, "rag") : undefined;
      if (g) {
        const model = g.offline ? "a real model" : "a stronger generator";
        const c = ceiling(g);
        out.push(
          `If ${model} on rag answers the ${c.gain} weak-reasoning case${c.gain === 1 ? "" : "s"} whose gold passage rag retrieved, rag is the architecture: it would pass ${c.text}.`,
        );
        out.push(
          `If ${model} still fails most of them with the gold passage in context, decompose the task (find the passage, extract the value, then answer) or add worked examples to the prompt, and re-run.`,
        );
        break;
      }
      out.push(
        `If a stronger generator still fails most of the ${base.groups.reasoning} weak-reasoning cases, split the task into steps or add worked examples to the prompt; if its remaining failures are knowledge failures, rag${
          ragCost ? ` (${usd(ragCost.monthlyUsd)}/month)` : ""
        }.`,
      );
      break;
    }
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
    case "rag": {
      const g = generatorLimit(ev, "rag");
      if (rag && rag.detail.knowledge.wrong_retrieval) {
        out.push(
          `If retrieval improved (wrong_retrieval is ${rag.detail.knowledge.wrong_retrieval} of rag's ${rag.failed} failures), rag's ${pct(rag.summary.passRate)} would rise${g ? "" : "; nothing else would change the choice"}.` +
            (ev.config.semanticRetrieval
              ? ` ${ev.config.semanticRetrieval.advice[0].toUpperCase()}${ev.config.semanticRetrieval.advice.slice(1)}${ev.config.semanticRetrieval.measuredAt ? ` (measured ${ev.config.semanticRetrieval.measuredAt.slice(0, 10)})` : ""}.`
              : " `ragtune bench retrieval --suite` measures whether semantic retrieval offline (use-lite) helps on this suite."),
        );
      }
      if (g) out.push(`With ${g.offline ? "a real model" : "a stronger generator"}: ${ceilingLine(g)}`);
      break;
    }
    default:
      break;
  }
  if (ev.n < THRESHOLDS.sampleHigh) {
    out.push(`With ≥ ${THRESHOLDS.sampleHigh} cases per variant (now ${ev.n}) the margins above would be firmer; a 1-case swing is ${Math.round(100 / Math.max(1, ev.n))} points.`);
  }
  return out;
}
