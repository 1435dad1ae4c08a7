/**
 * The decision re-run on production evidence (`ragtune decide --from-logs`): the run's measured
 * decision, then the labelled live failures of a window — what share is knowledge, behaviour or
 * reasoning (the groups of evidence.ts) — either confirm it or move it:
 *
 *   knowledge and behaviour each ≥ 30% of live failures            → hybrid
 *   knowledge ≥ 50%                                                 → keep / add retrieval
 *                                                                     (rag; hybrid over fine-tune)
 *   behaviour ≥ 50%, knowledge < 25%, with corrections to train on  → fine-tune the behaviour
 *                                                                     (hybrid over rag / long-context)
 *   reasoning ≥ 50%                                                 → a stronger model (said, not forced:
 *                                                                     live "reasoning" labels include
 *                                                                     bare thumbs-downs)
 * Fewer than PRODUCTION_THRESHOLDS.minFailures labelled failures never move the recommendation.
 * A move must pass the same constraint checks (`Evidence.blockers`) as any rule's verdict.
 */
import type { FailureCause } from "../evaluate/types.ts";
import type { Architecture, Decision, ProductionEvidence } from "./types.ts";
import { THRESHOLDS, type Evidence, type Group, type Purpose } from "./evidence.ts";
import { rolloutPlan } from "./rollout.ts";
import { pct } from "./wording.ts";

export const PRODUCTION_THRESHOLDS = {
  /** Labelled live failures needed before they may change the recommendation. */
  minFailures: 5,
  /** Corrections (query → right answer) needed before live behaviour failures justify training. */
  minCorrections: 3,
} as const;

const CONTEXT: Architecture[] = ["rag", "long-context", "hybrid"];

interface Target {
  architecture: Architecture;
  purpose: Purpose;
  why: string;
  /** Does the measured architecture already do what the live failures ask? */
  confirms: (measured: Architecture) => boolean;
}

function groupLine(p: ProductionEvidence, g: Group): string {
  const causes = Object.entries(p.byCause)
    .filter(([c]) => groupOfCause(p, c as FailureCause) === g)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([c, n]) => `${c} ${n}`)
    .join(", ");
  return `${pct(share(p, g))} ${g} (${p.groups[g]}${causes ? `: ${causes}` : ""})`;
}

function groupOfCause(p: ProductionEvidence, c: FailureCause): Group | undefined {
  return p.causeGroups[c];
}

const share = (p: ProductionEvidence, g: Group) => (p.labelled ? p.groups[g] / p.labelled : 0);

function targetOf(p: ProductionEvidence, measured: Architecture, citationsRequired: boolean): Target | undefined {
  const k = share(p, "knowledge");
  const b = share(p, "behaviour");
  const r = share(p, "reasoning");
  if (k >= THRESHOLDS.significantShare && b >= THRESHOLDS.significantShare) {
    return { architecture: "hybrid", purpose: "behaviour", why: "both knowledge and behaviour failures are significant in production: retrieval for the facts, fine-tuning for the behaviour", confirms: (m) => m === "hybrid" };
  }
  if (k >= THRESHOLDS.dominantShare) {
    return {
      architecture: measured === "fine-tune" ? "hybrid" : "rag",
      purpose: "knowledge",
      why: "most live failures are knowledge failures: the fix is retrieval (and the index — re-ingest, version handling), not the model",
      confirms: (m) => CONTEXT.includes(m),
    };
  }
  if (b >= THRESHOLDS.dominantShare && k < THRESHOLDS.littleKnowledgeShare && p.corrections >= PRODUCTION_THRESHOLDS.minCorrections) {
    // A fine-tuned model alone cannot cite: with citations required it answers from retrieved passages (as rules.ts).
    const keepContext = CONTEXT.includes(measured) || citationsRequired;
    return {
      architecture: keepContext ? "hybrid" : "fine-tune",
      purpose: "behaviour",
      why: `most live failures are behaviour (format, tone, policy) and users corrected ${p.corrections} answers: fine-tune the behaviour on those corrections (\`ragtune dataset build --from-logs\`)${keepContext ? `, keeping retrieval for the facts${citationsRequired ? " and the citations" : ""}` : ""}`,
      confirms: (m) => m === "fine-tune" || m === "hybrid",
    };
  }
  if (r >= THRESHOLDS.dominantShare) {
    return { architecture: "stronger-model", purpose: "reasoning", why: "most live failures are weak reasoning: the generator, not retrieval or training, is the limit", confirms: (m) => m === "stronger-model" };
  }
  return undefined;
}

/** The measured decision, confirmed or moved by the production evidence, with the evidence shown. */
export function withProduction(core: Omit<Decision, "sensitivity">, ev: Evidence, p: ProductionEvidence): Omit<Decision, "sensitivity"> {
  const measured = core.architecture;
  const head =
    `Production evidence (${p.from} → ${p.to}): ${p.requests} answered requests, ${p.labelled} labelled live failures` +
    ` (${p.corrections} corrected, ${p.thumbsDown} thumbs down without a correction, ${p.monitorOnly} from monitors alone): ` +
    (p.labelled ? (["knowledge", "behaviour", "reasoning"] as Group[]).map((g) => groupLine(p, g)).join(", ") : "none") +
    ".";
  const lines = [head];
  let effect: NonNullable<Decision["production"]>["effect"] = "kept";
  let architecture = measured;
  const target = p.labelled ? targetOf(p, measured, ev.constraints.citationsRequired === true) : undefined;
  if (p.labelled < PRODUCTION_THRESHOLDS.minFailures) {
    lines.push(`${p.labelled} labelled live failure${p.labelled === 1 ? " is" : "s are"} too few to move the recommendation (at least ${PRODUCTION_THRESHOLDS.minFailures}); the measured recommendation ${measured} stands.`);
  } else if (!target) {
    lines.push(`No failure group dominates the live failures (bar: ${pct(THRESHOLDS.dominantShare)}, or ${pct(THRESHOLDS.significantShare)} each of knowledge and behaviour); the measured recommendation ${measured} stands.`);
  } else if (target.confirms(measured)) {
    effect = "confirmed";
    lines.push(`This confirms ${measured}: ${target.why}.`);
  } else {
    const blocked = ev.blockers(target.architecture, target.purpose);
    if (blocked.length) {
      lines.push(`The live failures point to ${target.architecture} (${target.why}), but it is ruled out: ${blocked.join("; ")}; the measured recommendation ${measured} stands.`);
    } else {
      effect = "changed";
      architecture = target.architecture;
      lines.push(`This changes the recommendation from ${measured} (measured, rule ${core.rule}) to ${architecture}: ${target.why}.`);
    }
  }
  const production = { ...p, effect, measuredArchitecture: measured, lines };
  if (effect !== "changed") {
    return { ...core, rationale: [...core.rationale, ...lines], production };
  }
  return {
    ...core,
    architecture,
    // A move rests on live labels, not on a measured comparison of the new option.
    confidence: p.labelled >= THRESHOLDS.sampleHigh ? "medium" : "low",
    rationale: [...lines, `The measured evidence pointed to ${measured}:`, ...core.rationale.map((l) => `  ${l}`)],
    whatWouldChange: [
      `Measure ${architecture} on the suite (add the live failures as cases: \`ragtune suite add-from-logs\`) and re-run \`ragtune decide\`; if it does not beat ${measured} there, ${measured} stands.`,
      ...core.whatWouldChange,
    ],
    rule: "production-evidence",
    rollout: rolloutPlan(ev, architecture),
    production,
  };
}
