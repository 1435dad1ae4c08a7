/**
 * When the generator, not retrieval, is the limit. rag can "fix" few of prompt-only's knowledge
 * failures and still have retrieval working: the gold passage is in the top k, and the generator
 * answers wrongly from it (weak_reasoning). Counting those cases as "rag does not fix knowledge"
 * sends the decision to options that cannot help (long-context, fine-tuning), or to a fallback
 * that says nothing. This module measures the case and words it with its numbers:
 *
 *   "16 of rag's 25 failures (64%) are weak reasoning while the gold passage was retrieved in 92%
 *    of them (12 of 13 with gold sources, hit@5): the evidence reaches the generator, which does
 *    not use it."
 *
 * The next step is a stronger generator (or decomposing the task), measured with
 * `ragtune eval --model <id>`. With an offline generator (`offline:*`, no language model) the
 * failures are that reader's limit, and a real model must be measured before concluding.
 */
import type { CaseResult } from "../evaluate/types.ts";
import { THRESHOLDS, failureGroup, type Evidence, type Verdict, type VariantEvidence } from "./evidence.ts";
import { costLine, groupShareLine, pct } from "./wording.ts";

export interface GeneratorLimit {
  variant: VariantEvidence;
  /** The variant's weak-reasoning failures (not label/field misses). */
  reasoning: number;
  /** … as a share of its failures. */
  share: number;
  /** Of the reasoning failures: those where it is known whether the gold reached the generator. */
  known: number;
  /** … and those where it did (gold in the top k, or gold in the context). */
  goldReached: number;
  goldRate: number;
  /** Retrieval depth. */
  k: number;
  /** The variant's mean hit@k over every case with gold sources, when recorded. */
  hitAtK?: number;
  generator: string;
  /** The generator is an offline reader, not a language model. */
  offline: boolean;
}

/** Whether the gold passage reached the generator in a failed case: hit@k, else the gold-in-context signal. */
function goldReachedIn(r: CaseResult): boolean | undefined {
  if (r.retrieval) return r.retrieval.hitAtK > 0;
  if (r.failure?.signal === "gold_in_context_wrong_answer") return true;
  return undefined;
}

/** The generator limit of a context variant (default rag), or undefined when it does not hold. */
export function generatorLimit(ev: Evidence, name = "rag"): GeneratorLimit | undefined {
  const v = ev.get(name);
  if (!v || v === ev.base || v.failed === 0) return undefined;
  const reasoning = v.groups.reasoning;
  const share = reasoning / v.failed;
  if (share < THRESHOLDS.dominantShare || reasoning / v.summary.cases < THRESHOLDS.minReasoningRate) return undefined;
  let known = 0;
  let goldReached = 0;
  for (const r of v.byCase.values()) {
    if (r.passed || failureGroup(r.failure) !== "reasoning") continue;
    const reached = goldReachedIn(r);
    if (reached === undefined) continue;
    known++;
    if (reached) goldReached++;
  }
  const hit = v.summary.metrics["retrieval.hitAtK"];
  const hitAtK = typeof hit === "number" && Number.isFinite(hit) ? hit : undefined;
  // Summary-only runs: the variant's overall hit@k stands in for the failing cases'.
  const goldRate = known > 0 ? goldReached / known : hitAtK;
  if (goldRate === undefined || goldRate < THRESHOLDS.goldReached) return undefined;
  const generator = v.summary.generator || ev.summary.generator;
  return {
    variant: v,
    reasoning,
    share,
    known,
    goldReached,
    goldRate,
    k: ev.summary.retrievalK,
    hitAtK,
    generator,
    offline: isOfflineGenerator(generator),
  };
}

/**
 * "16 of rag's 25 failures (64%) are weak reasoning while the gold passage was retrieved in 92%
 * of them (12 of 13 with gold sources, hit@5): the evidence reaches the generator, which does not use it."
 */
export function generatorLimitLine(g: GeneratorLimit): string {
  const v = g.variant;
  const counted =
    g.known === 0
      ? `hit@${g.k} over all its cases with gold sources`
      : g.known < g.reasoning
        ? `${g.goldReached} of the ${g.known} with gold sources, hit@${g.k}`
        : `${g.goldReached} of ${g.known}, hit@${g.k}`;
  return (
    `${g.reasoning} of ${v.name}'s ${v.failed} failures (${pct(g.share)}) are weak reasoning while the gold passage was retrieved in ${pct(g.goldRate)} of them (${counted}): ` +
    "the evidence reaches the generator, which does not use it."
  );
}

/** For an offline generator: its reasoning failures are its own limit; a real model must be measured. */
export function offlineReaderLine(generator: string, failures: number): string {
  return (
    `The generator is ${generator}, ragtune's offline reader: it quotes the best-matching sentences and is not a language model, ` +
    `so these ${failures} failures are the offline reader's limit, not evidence about a model. ` +
    "Measure a real model with `ragtune eval --model <id>` before concluding; if it fails them too, a stronger generator or decomposing the task into steps is next."
  );
}

export const isOfflineGenerator = (id: string): boolean => id.trim().startsWith("offline:");

/** The next step, in words: a stronger generator, or (offline) a real model before concluding anything. */
export function nextStepLine(g: GeneratorLimit): string {
  if (g.offline) return offlineReaderLine(g.generator, g.reasoning);
  return (
    `The generator (${g.generator}) is the limit, not retrieval: a stronger generator (or decomposing the task into steps) is the next step; ` +
    "measure it with `ragtune eval --model <id>`."
  );
}

/** rag's pass rate if every reasoning failure whose gold was retrieved passed. */
export function ceiling(g: GeneratorLimit): { gain: number; upTo: number; cases: number; text: string } {
  const v = g.variant;
  const gain = g.known > 0 ? g.goldReached : Math.round(g.reasoning * g.goldRate);
  const upTo = v.summary.passed + gain;
  const cases = v.summary.cases;
  return { gain, upTo, cases, text: `up to ${pct(upTo / cases)} (${upTo}/${cases}) instead of ${pct(v.summary.passRate)} with this retrieval` };
}

export function ceilingLine(g: GeneratorLimit): string {
  const c = ceiling(g);
  return `If the generator answered the ${c.gain} case${c.gain === 1 ? "" : "s"} whose gold passage ${g.variant.name} retrieved, ${g.variant.name} would pass ${c.text}.`;
}

/**
 * Rule: knowledge failures are significant on the baseline, rag is allowed and is the context
 * variant to keep, and the generator is rag's limit (see `generatorLimit`). Recommends
 * stronger-model: keep rag's retrieval, change the generator, re-decide on that run.
 */
export function strongerModelForContext(ev: Evidence): Verdict | undefined {
  const base = ev.base;
  const rag = ev.get("rag");
  if (!rag || rag === base || base.failed === 0) return undefined;
  if (ev.share(base, "knowledge") < THRESHOLDS.significantShare) return undefined;
  const lc = ev.get("long-context");
  if (lc && lc !== base && lc.summary.passRate > rag.summary.passRate + THRESHOLDS.longContextTolerance) return undefined;
  if (ev.ruledOut.has("rag") || ev.blockers("rag", "knowledge").length > 0) return undefined;
  const g = generatorLimit(ev, "rag");
  if (!g) return undefined;
  const fix = ev.carry(base, "knowledge", rag);
  // Of the knowledge failures rag does not fix, how many fail on rag as reasoning with the gold retrieved.
  let moved = 0;
  for (const [id, r] of base.byCase) {
    if (r.passed || failureGroup(r.failure) !== "knowledge") continue;
    const other = rag.byCase.get(id);
    if (other && !other.passed && failureGroup(other.failure) === "reasoning" && goldReachedIn(other)) moved++;
  }
  const lines = [generatorLimitLine(g), nextStepLine(g)];
  lines.push(
    `Retrieval is what the knowledge failures need: ${groupShareLine(ev, base, "knowledge")}; rag fixes ${pct(fix.rate)} of them (${fix.fixed} of ${fix.total}) with this generator` +
      (moved > 0 ? `, and ${moved} of the ${fix.total - fix.fixed} it does not fix fail on rag as weak reasoning with the gold passage retrieved.` : "."),
  );
  if (g.hitAtK !== undefined) {
    const wrong = `wrong_retrieval is ${rag.detail.knowledge.wrong_retrieval ?? 0} of its ${rag.failed} failures`;
    lines.push(
      g.hitAtK < THRESHOLDS.goldReached
        ? `Retrieval is a second limit: rag's hit@${g.k} over every case with gold sources is only ${pct(g.hitAtK)} (${wrong}), so improving retrieval is worth doing alongside the generator.`
        : `rag's hit@${g.k} over every case with gold sources is ${pct(g.hitAtK)} (${wrong}): retrieval finds the passages.`,
    );
  }
  lines.push(ceilingLine(g));
  const favour: string[] = [];
  const c = ev.constraints;
  if (c.knowledgeChange !== "never" && c.knowledgeChange !== "yearly") favour.push(`knowledgeChange is ${c.knowledgeChange}`);
  if (c.citationsRequired) favour.push("citationsRequired is true");
  if (lc?.truncated) favour.push("the corpus does not fit the long-context budget");
  const why = favour.length
    ? ` (${favour.length > 1 ? `${favour.slice(0, -1).join(", ")} and ${favour[favour.length - 1]}` : favour[0]}: all favour rag${lc ? `; long-context passes ${pct(lc.summary.passRate)}` : ""})`
    : "";
  lines.push(`Keep rag's retrieval${why} and re-decide on the ${g.offline ? "real model's" : "stronger generator's"} run.`);
  const cl = costLine(ev, "rag");
  if (cl) lines.push(`With retrieval: ${cl}.`);
  return { architecture: "stronger-model", rule: "stronger-model-for-context", purpose: "reasoning", rationale: lines };
}

/**
 * When another rule won but rag's remaining failures are the generator's limit, say so: two lines
 * for the rationale (the numbers, then the next step). Empty when it does not hold.
 */
export function generatorLimitNotes(ev: Evidence, verdict: Verdict): string[] {
  if (verdict.rule === "stronger-model-for-context") return [];
  const g = generatorLimit(ev, "rag");
  if (!g) return [];
  return [generatorLimitLine(g), nextStepLine(g)];
}
