/**
 * The promotion gate: a trained candidate replaces what serves today only when it is measurably
 * better on the same held-out cases — better than the prompt baseline AND better than the model
 * currently promoted for the task (when there is one).
 *
 * "Better" against one reference means, on the paired per-case correctness:
 *   - higher accuracy (equivalently: more cases only the candidate gets right than only the
 *     reference gets right — the discordant pairs), and
 *   - the exact McNemar test (two-sided binomial on the discordant pairs, evaluate/significance.ts)
 *     gives p < alpha.
 * Every reference must be beaten (an intersection–union test), so each comparison is made at
 * alpha without a multiple-comparison correction: the gate's overall false-pass rate stays ≤ alpha.
 */
import { mcnemarExact } from "../evaluate/significance.ts";
import { InputError } from "../util/errors.ts";
import type { GateReport } from "./index.ts";

export interface GateReference {
  /** Shown in the report: "baseline", or the promoted model's id (so a stored gate says what it beat). */
  name: string;
  /** One prediction per held-out case, aligned with `truth`. */
  predictions: readonly string[];
}

export interface PromotionGateInput {
  /** The candidate's predictions, aligned with `truth`. */
  candidate: readonly string[];
  /** The prompt baseline and, when a model is promoted for the task, that model. At least one. */
  references: readonly GateReference[];
  /** Expected outputs of the held-out cases (labels or answers). */
  truth: readonly string[];
  /** Significance level of each McNemar test (default 0.05). */
  alpha?: number;
  /** Correctness of one prediction (default: normalised exact match, see `normaliseAnswer`). */
  correct?: (prediction: string, truth: string) => boolean;
}

/** Case-, whitespace- and surrounding-punctuation-insensitive form used by the default `correct`. */
export function normaliseAnswer(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^["'`“”‘’([{\s]+|["'`“”‘’)\]}.,;:!?\s]+$/g, "");
}

export const exactMatch = (prediction: string, truth: string): boolean => normaliseAnswer(prediction) === normaliseAnswer(truth);

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** p-values as people read them: 0.41, 0.032, 0.0012, 3.1e-7. */
export function formatP(p: number): string {
  if (p >= 0.1) return p.toFixed(2);
  if (p >= 0.001) return p.toPrecision(2);
  return p.toExponential(1);
}

/** Compare the candidate with every reference on the held-out cases; see the module comment. */
export function promotionGate(input: PromotionGateInput): GateReport {
  const { candidate, references, truth } = input;
  const alpha = input.alpha ?? 0.05;
  const correct = input.correct ?? exactMatch;
  if (!(alpha > 0 && alpha < 1)) throw new InputError(`promotion gate: alpha must be between 0 and 1, got ${alpha}`);
  if (references.length === 0) throw new InputError("promotion gate: give at least one reference (the prompt baseline)");
  if (candidate.length !== truth.length) {
    throw new InputError(`promotion gate: the candidate has ${candidate.length} predictions for ${truth.length} held-out cases`);
  }
  for (const r of references) {
    if (r.predictions.length !== truth.length) {
      throw new InputError(`promotion gate: reference "${r.name}" has ${r.predictions.length} predictions for ${truth.length} held-out cases`);
    }
  }
  const n = truth.length;
  if (n === 0) {
    return {
      passed: false,
      n: 0,
      comparisons: [],
      reason: "no held-out examples to compare on: the gate refuses to promote without evidence",
    };
  }

  const candidateRight = candidate.map((p, i) => correct(p, truth[i]));
  const candidateAccuracy = candidateRight.filter(Boolean).length / n;
  const comparisons: GateReport["comparisons"] = [];
  const verdicts: string[] = [];
  for (const ref of references) {
    const refRight = ref.predictions.map((p, i) => correct(p, truth[i]));
    const referenceAccuracy = refRight.filter(Boolean).length / n;
    // a = reference, b = candidate: onlyB are the candidate-only wins.
    const m = mcnemarExact(refRight.map((r, i) => ({ a: r, b: candidateRight[i] })));
    const better = m.onlyB > m.onlyA && candidateAccuracy > referenceAccuracy && m.pValue < alpha;
    comparisons.push({
      against: ref.name,
      candidateAccuracy,
      referenceAccuracy,
      pValue: m.pValue,
      onlyCandidate: m.onlyB,
      onlyReference: m.onlyA,
      better,
    });
    const verdict =
      better ? "better"
      : m.onlyB > m.onlyA ? `not significantly better (needs p < ${alpha})`
      : m.onlyB < m.onlyA ? "worse"
      : "not better";
    verdicts.push(
      `candidate ${pct(candidateAccuracy)} vs ${ref.name} ${pct(referenceAccuracy)} on ${n} held-out examples, McNemar p = ${formatP(m.pValue)} ` +
        `(${m.onlyB} candidate-only vs ${m.onlyA} ${ref.name}-only correct): ${verdict}`,
    );
  }
  const passed = comparisons.every((c) => c.better);
  const failing = verdicts.filter((_, i) => !comparisons[i].better);
  const reason = passed ? `passed: ${verdicts.join("; ")}` : `refused: ${failing.join("; ")}`;
  return { passed, n, comparisons, reason };
}
