/**
 * Semantic near duplicates: inputs whose sentence embeddings have cosine ≥ threshold, next to the
 * lexical (shingle Jaccard) step of clean.ts. Opt-in (`CleanOptions.semanticDup`), because it needs
 * an encoder (use-lite: ~10–30 ms a text) and because its gain was measured on labelled pairs
 * (bench/near-dup.ts; numbers in docs/datasets.md).
 *
 * The cleaning steps are synchronous, so the embeddings are computed first, by the caller
 * (`embedForSemanticDup`), and passed in by example id (ids survive normalisation and PII
 * scrubbing) and, for decontamination, aligned with the eval inputs. A missing vector is an error:
 * silently skipping an example would make the step look cleaner than it is.
 *
 * Comparison is exhaustive (no index): each example against the kept examples of the same task —
 * and, for classify, the same label, which is what makes a pair a duplicate and not a conflict.
 * That is n²/labels dot products for classify, n² for qa/extract (5,000 qa examples ≈ 12.5 M
 * 512-d dot products, a few seconds).
 */
import type { TrainingExample } from "../index.ts";
import type { Embedder } from "../../models/index.ts";
import { DEFAULT_NEAR_DUP_THRESHOLD, jaccard, normalizeText, shingles, type StepResult, type StepSample } from "./clean.ts";

export interface SemanticDupOptions {
  /** Encoder that produced the vectors, e.g. "use-lite" (recorded in the step's settings). */
  encoder: string;
  /** Cosine of the input embeddings at or above which two inputs are near duplicates. Default 0.93. */
  threshold?: number;
  /** Unit-length embedding of each training example's input, by example id. */
  vectors: ReadonlyMap<string, Float32Array>;
  /** Embeddings of the eval inputs, aligned with `decontaminate.inputs` (needed to decontaminate). */
  evalVectors?: readonly Float32Array[];
}

/**
 * Default cosine threshold: the lowest whose precision on near copies was ≥ 0.85 on the tune half
 * of bench/near-dup-pairs.jsonl (cleaning removes data, so precision first; docs/datasets.md).
 */
export const DEFAULT_SEMANTIC_DUP_THRESHOLD = 0.93;
const SAMPLE_TEXT = 160;

/** Embed every example's input and the eval inputs, in the shapes `SemanticDupOptions` takes. */
export async function embedForSemanticDup(
  embedder: Embedder,
  examples: readonly TrainingExample[],
  evalInputs: readonly string[] = [],
): Promise<Pick<SemanticDupOptions, "encoder" | "vectors" | "evalVectors">> {
  const vs = await embedder.embed(
    examples.map((e) => e.input),
    "document",
  );
  const ev = evalInputs.length ? await embedder.embed([...evalInputs], "document") : [];
  return { encoder: embedder.id, vectors: new Map(examples.map((e, i) => [e.id, vs[i]])), evalVectors: ev };
}

function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`semantic near duplicates: embeddings of ${a.length} and ${b.length} dimensions`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function vectorOf(options: SemanticDupOptions, e: TrainingExample): Float32Array {
  const v = options.vectors.get(e.id);
  if (!v) throw new Error(`semantic near duplicates: no ${options.encoder} embedding for example ${e.id} (${e.source}); embed the examples first (embedForSemanticDup)`);
  return v;
}

/** Same task and same output (classify: same label; qa/extract: outputs' shingle Jaccard ≥ 0.8). */
function sameOutput(a: TrainingExample, b: TrainingExample): boolean {
  if (a.task !== b.task) return false;
  if (a.task === "classify") return normalizeText(a.output).toLowerCase() === normalizeText(b.output).toLowerCase();
  return jaccard(shingles(a.output), shingles(b.output)) >= DEFAULT_NEAR_DUP_THRESHOLD;
}

/** Drop examples whose input embedding is ≥ threshold cosine to a kept example's with the same output; the first is kept. */
export function removeSemanticDuplicates(examples: TrainingExample[], options: SemanticDupOptions, sampleSize = 5): StepResult {
  const threshold = options.threshold ?? DEFAULT_SEMANTIC_DUP_THRESHOLD;
  /** Kept examples per task (+ label for classify): only those can be duplicates. */
  const groups = new Map<string, { e: TrainingExample; v: Float32Array }[]>();
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  let comparisons = 0;
  for (const e of examples) {
    const v = vectorOf(options, e);
    const key = e.task === "classify" ? `classify\u0000${normalizeText(e.output).toLowerCase()}` : e.task;
    const group = groups.get(key) ?? [];
    let dup: { id: string; cos: number } | undefined;
    for (const k of group) {
      comparisons++;
      const cos = dot(v, k.v);
      if (cos >= threshold && sameOutput(e, k.e)) {
        dup = { id: k.e.id, cos };
        break;
      }
    }
    if (dup) {
      if (samples.length < sampleSize) samples.push({ ...sample(e, `semantic near duplicate (cosine ${dup.cos.toFixed(3)}, ${options.encoder})`), keptId: dup.id });
      continue;
    }
    group.push({ e, v });
    groups.set(key, group);
    out.push(e);
  }
  return {
    examples: out,
    report: {
      step: "semantic-duplicates",
      in: examples.length,
      out: out.length,
      removed: examples.length - out.length,
      counts: { comparisons },
      settings: { encoder: options.encoder, threshold },
      samples,
    },
  };
}

/** Drop training examples whose input embedding is ≥ threshold cosine to an eval input's (any output). */
export function semanticDecontaminate(examples: TrainingExample[], evalInputs: readonly string[], options: SemanticDupOptions, sampleSize = 5): StepResult {
  const threshold = options.threshold ?? DEFAULT_SEMANTIC_DUP_THRESHOLD;
  const ev = options.evalVectors;
  if (!ev || ev.length !== evalInputs.length)
    throw new Error(`semantic decontamination: ${ev?.length ?? 0} eval embeddings for ${evalInputs.length} eval inputs; embed them first (embedForSemanticDup)`);
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  for (const e of examples) {
    const v = vectorOf(options, e);
    let hit = -1;
    let best = -Infinity;
    for (let i = 0; i < ev.length; i++) {
      const cos = dot(v, ev[i]);
      if (cos >= threshold && cos > best) [hit, best] = [i, cos];
    }
    if (hit >= 0) {
      if (samples.length < sampleSize) samples.push({ ...sample(e, `semantic near duplicate of an eval input (cosine ${best.toFixed(3)}, ${options.encoder})`), keptId: `eval: ${clip(evalInputs[hit])}` });
      continue;
    }
    out.push(e);
  }
  return {
    examples: out,
    report: {
      step: "decontaminate-semantic",
      in: examples.length,
      out: out.length,
      removed: examples.length - out.length,
      counts: { evalInputs: evalInputs.length },
      settings: { encoder: options.encoder, threshold },
      samples,
    },
  };
}

function clip(s: string): string {
  return s.length > SAMPLE_TEXT ? s.slice(0, SAMPLE_TEXT - 1) + "…" : s;
}

function sample(e: TrainingExample, reason: string): StepSample {
  return { id: e.id, source: e.source, reason, input: clip(e.input), output: clip(e.output) };
}
