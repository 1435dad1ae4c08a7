/**
 * Cleaning: a pipeline of steps, each reporting how many examples went in and out and showing a
 * few of the ones it removed (or changed), so a reviewer can check every decision.
 *
 *   normalise → pii (optional) → exact duplicates → conflicts → near duplicates
 *   → semantic near duplicates (optional, semantic-dup.ts) → length
 *
 * plus `decontaminate`, which drops training examples that are (near) copies of eval inputs.
 * Near duplicates: word shingles → MinHash signatures → LSH banding for candidate pairs → the
 * exact Jaccard similarity of the shingle sets decides, so MinHash only finds candidates and
 * never causes a false removal.
 */
import type { TrainingExample, TrainingTask } from "../index.ts";
import { countTokens } from "../../models/tokens.ts";
import { mulberry32 } from "../../util/rng.ts";
import { removeSemanticDuplicates, type SemanticDupOptions } from "./semantic-dup.ts";

/** What one step did. */
export interface StepReport {
  step: string;
  in: number;
  out: number;
  removed: number;
  /** Examples modified in place (normalise, pii). */
  changed?: number;
  /** Step-specific counts, e.g. PII kinds replaced, candidate pairs checked. */
  counts?: Record<string, number>;
  /** Settings the step ran with. */
  settings?: Record<string, unknown>;
  /** A few removed (or changed) examples, with why. */
  samples: StepSample[];
}

export interface StepSample {
  id: string;
  source: string;
  reason: string;
  input: string;
  output?: string;
  /** The example it duplicates / the eval input it matches. */
  keptId?: string;
}

/** One input labelled differently by different examples. */
export interface Conflict {
  input: string;
  outputs: { output: string; ids: string[]; sources: string[] }[];
}

export interface StepResult {
  examples: TrainingExample[];
  report: StepReport;
}

export interface NearDupOptions {
  /** Jaccard similarity at or above which two examples are near duplicates (default 0.8). */
  threshold?: number;
  /** Words per shingle (default 2: one changed word in a 20-word ticket still scores ≈ 0.8). */
  shingleSize?: number;
  /** MinHash functions (default 128). */
  numHashes?: number;
  /** Seed of the hash functions (default 1). */
  seed?: number;
}

export interface CleanOptions {
  /** Near-duplicate removal; `false` turns it off. */
  nearDup?: NearDupOptions | false;
  /**
   * Semantic near duplicates (embedding cosine ≥ threshold, same output), a step after the
   * lexical one; also used by `buildDataset`'s decontamination when `evalVectors` are given.
   * Off unless given: it needs the examples embedded first (semantic-dup.ts `embedForSemanticDup`).
   */
  semanticDup?: SemanticDupOptions;
  /** Replace emails, phone numbers and Luhn-valid card numbers with placeholders (default false). */
  pii?: boolean;
  /** Keep only examples with at least this many tokens (system + input + output; default 1). */
  minTokens?: number;
  /** Keep only examples with at most this many tokens (default 2048, Axolotl's default sequence_len). */
  maxTokens?: number;
  /** Conflicting labels: `drop` every example of the input (default), `keep` them, or keep the `majority` output if there is one. */
  conflicts?: "drop" | "keep" | "majority";
  /** Samples shown per step (default 5). */
  sampleSize?: number;
}

export const DEFAULT_NEAR_DUP_THRESHOLD = 0.8;
export const DEFAULT_MAX_TOKENS = 2048;
const SAMPLE_TEXT = 160;

export interface CleanResult {
  examples: TrainingExample[];
  steps: StepReport[];
  conflicts: Conflict[];
}

/** Run every step in order. */
export function cleanExamples(examples: TrainingExample[], options: CleanOptions = {}): CleanResult {
  const steps: StepReport[] = [];
  const n = options.sampleSize ?? 5;
  let cur = examples;
  const run = (r: StepResult) => {
    steps.push(r.report);
    cur = r.examples;
  };
  run(normalizeExamples(cur, n));
  if (options.pii) run(scrubPiiStep(cur, n));
  run(removeExactDuplicates(cur, n));
  const conflicts = resolveConflicts(cur, options.conflicts ?? "drop", n);
  run(conflicts);
  if (options.nearDup !== false) run(removeNearDuplicates(cur, options.nearDup ?? {}, n));
  if (options.semanticDup) run(removeSemanticDuplicates(cur, options.semanticDup, n));
  run(filterLength(cur, { minTokens: options.minTokens ?? 1, maxTokens: options.maxTokens ?? DEFAULT_MAX_TOKENS }, n));
  return { examples: cur, steps, conflicts: conflicts.conflicts };
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/**
 * Unicode NFKC (full-width letters, ligatures, non-breaking spaces → plain forms), invisible
 * characters removed (zero-width, BOM, control characters other than tab/newline), CRLF → LF,
 * runs of spaces/tabs → one space, spaces trimmed at line ends, 3+ newlines → a blank line,
 * trimmed. JSON outputs keep their content; only surrounding space changes.
 */
export function normalizeText(s: string): string {
  return s
    .normalize("NFKC")
    .replace(/\r\n?/g, "\n")
    .replace(/[\u200B-\u200D\u2060\uFEFF\u00AD]/g, "")
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, "")
    .replace(/[ \t\u00A0\u2000-\u200A\u202F\u205F\u3000]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Key under which inputs count as "the same": normalised, case-folded. */
export function inputKey(s: string): string {
  return normalizeText(s).toLowerCase();
}

export function normalizeExamples(examples: TrainingExample[], sampleSize = 5): StepResult {
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  let changed = 0;
  let removed = 0;
  for (const e of examples) {
    const n: TrainingExample = { ...e, input: normalizeText(e.input), output: normalizeText(e.output) };
    if (e.system !== undefined) {
      const s = normalizeText(e.system);
      if (s) n.system = s;
      else delete n.system;
    }
    if (n.input !== e.input || n.output !== e.output || n.system !== e.system) changed++;
    if (!n.input || !n.output) {
      removed++;
      if (samples.length < sampleSize) samples.push(sample(e, !n.input ? "empty input after normalisation" : "empty output after normalisation"));
      continue;
    }
    out.push(n);
  }
  return { examples: out, report: { step: "normalise", in: examples.length, out: out.length, removed, changed, settings: { unicode: "NFKC" }, samples } };
}

// ---------------------------------------------------------------------------------------------
// Exact duplicates and conflicts

/** Same normalised input (case-insensitive) and same output: keep the first. */
export function removeExactDuplicates(examples: TrainingExample[], sampleSize = 5): StepResult {
  const seen = new Map<string, TrainingExample>();
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  for (const e of examples) {
    const key = `${e.task}\u0000${inputKey(e.input)}\u0000${normalizeText(e.output)}`;
    const first = seen.get(key);
    if (first) {
      if (samples.length < sampleSize) samples.push({ ...sample(e, "exact duplicate"), keptId: first.id });
      continue;
    }
    seen.set(key, e);
    out.push(e);
  }
  return { examples: out, report: { step: "exact-duplicates", in: examples.length, out: out.length, removed: examples.length - out.length, samples } };
}

/** Group examples whose normalised inputs are equal but outputs differ. */
export function findConflicts(examples: TrainingExample[]): Conflict[] {
  const groups = new Map<string, TrainingExample[]>();
  for (const e of examples) {
    const key = `${e.task}\u0000${inputKey(e.input)}`;
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  const conflicts: Conflict[] = [];
  for (const g of groups.values()) {
    const byOutput = new Map<string, TrainingExample[]>();
    for (const e of g) {
      const k = normalizeText(e.output);
      byOutput.set(k, [...(byOutput.get(k) ?? []), e]);
    }
    if (byOutput.size < 2) continue;
    conflicts.push({
      input: g[0].input,
      outputs: [...byOutput.entries()].map(([output, es]) => ({ output, ids: es.map((e) => e.id), sources: es.map((e) => e.source) })),
    });
  }
  return conflicts;
}

/**
 * Conflicting labels are listed for review; by default every example of a conflicting input is
 * removed from training (the data cannot say which label is right).
 */
export function resolveConflicts(
  examples: TrainingExample[],
  mode: "drop" | "keep" | "majority" = "drop",
  sampleSize = 5,
): StepResult & { conflicts: Conflict[] } {
  const conflicts = findConflicts(examples);
  const drop = new Set<string>();
  if (mode !== "keep") {
    for (const c of conflicts) {
      const sorted = [...c.outputs].sort((a, b) => b.ids.length - a.ids.length);
      const majority = mode === "majority" && sorted[0].ids.length > sorted[1].ids.length ? sorted[0] : undefined;
      for (const o of c.outputs) if (o !== majority) for (const id of o.ids) drop.add(id);
    }
  }
  const out = examples.filter((e) => !drop.has(e.id));
  const samples = examples
    .filter((e) => drop.has(e.id))
    .slice(0, sampleSize)
    .map((e) => sample(e, "conflicting label: the same input has another output"));
  return {
    examples: out,
    conflicts,
    report: {
      step: "conflicts",
      in: examples.length,
      out: out.length,
      removed: examples.length - out.length,
      counts: { conflictingInputs: conflicts.length },
      settings: { mode },
      samples,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Near duplicates: shingles, MinHash, LSH

/** Lower-cased word tokens (letters and digits; punctuation dropped). */
export function words(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The set of k-word shingles; a text shorter than k words is one shingle. */
export function shingles(s: string, k = 2): Set<string> {
  const w = words(s);
  const out = new Set<string>();
  if (w.length === 0) return out;
  if (w.length <= k) {
    out.add(w.join(" "));
    return out;
  }
  for (let i = 0; i + k <= w.length; i++) out.add(w.slice(i, i + k).join(" "));
  return out;
}

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/** FNV-1a 32-bit. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: a good 32-bit mix, so `mix(x ^ seed_i)` acts as an independent hash per seed. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

export class MinHasher {
  readonly seeds: Uint32Array;
  constructor(readonly numHashes = 128, seed = 1) {
    const rng = mulberry32(seed);
    this.seeds = new Uint32Array(numHashes);
    for (let i = 0; i < numHashes; i++) this.seeds[i] = Math.floor(rng() * 4294967296) >>> 0;
  }
  signature(set: Set<string>): Uint32Array {
    const sig = new Uint32Array(this.numHashes).fill(0xffffffff);
    for (const s of set) {
      const h = fnv1a(s);
      for (let i = 0; i < this.numHashes; i++) {
        const v = mix32(h ^ this.seeds[i]);
        if (v < sig[i]) sig[i] = v;
      }
    }
    return sig;
  }
}

/**
 * Bands × rows for LSH: the most rows per band (fewest candidates) such that a pair exactly at the
 * threshold still becomes a candidate with probability ≥ 0.99: 1 − (1 − t^r)^b ≥ 0.99.
 */
export function lshBands(numHashes: number, threshold: number): { bands: number; rows: number } {
  let best = { bands: numHashes, rows: 1 };
  for (let rows = 1; rows <= numHashes; rows++) {
    if (numHashes % rows !== 0) continue;
    const bands = numHashes / rows;
    if (1 - Math.pow(1 - Math.pow(threshold, rows), bands) >= 0.99) best = { bands, rows };
  }
  return best;
}

/** An LSH index over MinHash signatures: add items, query candidate ids that share a band. */
export class LshIndex {
  private readonly buckets = new Map<string, number[]>();
  readonly bands: number;
  readonly rows: number;
  constructor(numHashes: number, threshold: number) {
    ({ bands: this.bands, rows: this.rows } = lshBands(numHashes, threshold));
  }
  private keys(sig: Uint32Array): string[] {
    const keys: string[] = [];
    for (let b = 0; b < this.bands; b++) keys.push(`${b}:${Array.prototype.join.call(sig.subarray(b * this.rows, (b + 1) * this.rows), ",")}`);
    return keys;
  }
  add(id: number, sig: Uint32Array): void {
    for (const k of this.keys(sig)) {
      const list = this.buckets.get(k);
      if (list) list.push(id);
      else this.buckets.set(k, [id]);
    }
  }
  candidates(sig: Uint32Array): number[] {
    const out = new Set<number>();
    for (const k of this.keys(sig)) for (const id of this.buckets.get(k) ?? []) out.add(id);
    return [...out].sort((a, b) => a - b);
  }
}

/**
 * Near duplicates: inputs with shingle Jaccard ≥ threshold and the same output (the same label for
 * classify; outputs also ≥ threshold similar for qa/extract). The first example is kept. Inputs
 * that are near-identical but labelled differently are not removed here (see conflicts).
 */
export function removeNearDuplicates(examples: TrainingExample[], options: NearDupOptions = {}, sampleSize = 5): StepResult {
  const threshold = options.threshold ?? DEFAULT_NEAR_DUP_THRESHOLD;
  const k = options.shingleSize ?? 2;
  const hasher = new MinHasher(options.numHashes ?? 128, options.seed ?? 1);
  const index = new LshIndex(hasher.numHashes, threshold);
  const kept: { e: TrainingExample; sh: Set<string>; out: Set<string> }[] = [];
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  let candidatePairs = 0;
  for (const e of examples) {
    const sh = shingles(e.input, k);
    const outSh = shingles(e.output, k);
    const sig = hasher.signature(sh);
    let dupOf: { id: string; j: number } | undefined;
    for (const c of index.candidates(sig)) {
      candidatePairs++;
      const other = kept[c];
      if (other.e.task !== e.task) continue;
      const j = jaccard(sh, other.sh);
      if (j < threshold) continue;
      const sameOutput = e.task === "classify" ? normalizeText(e.output).toLowerCase() === normalizeText(other.e.output).toLowerCase() : jaccard(outSh, other.out) >= threshold;
      if (!sameOutput) continue;
      dupOf = { id: other.e.id, j };
      break;
    }
    if (dupOf) {
      if (samples.length < sampleSize) samples.push({ ...sample(e, `near duplicate (Jaccard ${dupOf.j.toFixed(2)})`), keptId: dupOf.id });
      continue;
    }
    index.add(kept.length, sig);
    kept.push({ e, sh, out: outSh });
    out.push(e);
  }
  return {
    examples: out,
    report: {
      step: "near-duplicates",
      in: examples.length,
      out: out.length,
      removed: examples.length - out.length,
      counts: { candidatePairs },
      settings: { threshold, shingleSize: k, numHashes: hasher.numHashes, bands: index.bands, rows: index.rows },
      samples,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PII

export type PiiKind = "email" | "phone" | "card";

const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu;
// 13–19 digits, optionally grouped by single spaces or dashes, not inside a longer digit run.
const CARD = /(?<!\d[ -]?)\d(?:[ -]?\d){12,18}(?![ -]?\d)/g;
// An optional +country code, an optional (area), then 2–4 digit groups separated by space . or -.
const PHONE = /(?<![\w+]|\d[ .-]?)(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![ .-]?\d|\w)/g;

/** Luhn checksum (card numbers). */
export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Replace PII with placeholders: emails → `[EMAIL]`, Luhn-valid 13–19 digit card numbers →
 * `[CARD]` (invalid ones are left: order numbers, ids), phone numbers → `[PHONE]` (10–15 digits
 * with separators, or 7+ with a leading `+`; dates and dotted IP addresses are not phones).
 */
export function scrubPii(text: string): { text: string; counts: Record<PiiKind, number> } {
  const counts: Record<PiiKind, number> = { email: 0, phone: 0, card: 0 };
  let t = text.replace(EMAIL, () => (counts.email++, "[EMAIL]"));
  t = t.replace(CARD, (m) => (luhnValid(m.replace(/\D/g, "")) ? (counts.card++, "[CARD]") : m));
  t = t.replace(PHONE, (m) => {
    const digits = m.replace(/\D/g, "").length;
    const plus = m.startsWith("+");
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(m)) return m; // IPv4
    if (/^\d{4}-\d{2}-\d{2}$/.test(m)) return m; // ISO date
    if (digits > 15 || digits < (plus ? 7 : 10)) return m;
    if (!plus && !/[ .()-]/.test(m)) return m; // a bare digit run is more likely an id
    counts.phone++;
    return "[PHONE]";
  });
  return { text: t, counts };
}

export function scrubPiiStep(examples: TrainingExample[], sampleSize = 5): StepResult {
  const totals: Record<PiiKind, number> = { email: 0, phone: 0, card: 0 };
  const samples: StepSample[] = [];
  let changed = 0;
  const out = examples.map((e) => {
    const n: TrainingExample = { ...e };
    let hit = false;
    const kinds = new Set<string>();
    for (const f of ["input", "output", "system"] as const) {
      const v = e[f];
      if (v === undefined) continue;
      const r = scrubPii(v);
      for (const k of Object.keys(r.counts) as PiiKind[]) {
        totals[k] += r.counts[k];
        if (r.counts[k] > 0) kinds.add(k);
      }
      if (r.text !== v) {
        n[f] = r.text;
        hit = true;
      }
    }
    if (hit) {
      changed++;
      // The sample shows the scrubbed text: a report must not carry the PII it removed.
      if (samples.length < sampleSize) samples.push(sample(n, `scrubbed ${[...kinds].join(", ")}`));
    }
    return n;
  });
  return { examples: out, report: { step: "pii", in: examples.length, out: out.length, removed: 0, changed, counts: { ...totals }, samples } };
}

// ---------------------------------------------------------------------------------------------
// Length

/** Tokens of an example: system + input + output (countTokens, o200k-compatible BPE). */
export function exampleTokens(e: Pick<TrainingExample, "input" | "output" | "system">): number {
  return countTokens(e.system ?? "") + countTokens(e.input) + countTokens(e.output);
}

export function filterLength(examples: TrainingExample[], limits: { minTokens?: number; maxTokens?: number }, sampleSize = 5): StepResult {
  const min = limits.minTokens ?? 1;
  const max = limits.maxTokens ?? DEFAULT_MAX_TOKENS;
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  let tooShort = 0;
  let tooLong = 0;
  for (const e of examples) {
    const n = exampleTokens(e);
    if (n < min || n > max) {
      if (n < min) tooShort++;
      else tooLong++;
      if (samples.length < sampleSize) samples.push(sample(e, n < min ? `${n} tokens < min ${min}` : `${n} tokens > max ${max}`));
      continue;
    }
    out.push(e);
  }
  return {
    examples: out,
    report: { step: "length", in: examples.length, out: out.length, removed: examples.length - out.length, counts: { tooShort, tooLong }, settings: { minTokens: min, maxTokens: max }, samples },
  };
}

// ---------------------------------------------------------------------------------------------
// Decontamination

export interface DecontaminateOptions extends NearDupOptions {
  /** Samples in the report (default 5). */
  sampleSize?: number;
}

/**
 * Drop training examples whose input is an exact (normalised, case-insensitive) or near
 * duplicate (shingle Jaccard ≥ threshold, MinHash-LSH candidates) of an eval input, so a
 * fine-tuned model is never evaluated on its own training data.
 */
export function decontaminate(examples: TrainingExample[], evalInputs: string[], options: DecontaminateOptions = {}): StepResult {
  const threshold = options.threshold ?? DEFAULT_NEAR_DUP_THRESHOLD;
  const k = options.shingleSize ?? 2;
  const hasher = new MinHasher(options.numHashes ?? 128, options.seed ?? 1);
  const index = new LshIndex(hasher.numHashes, threshold);
  const exact = new Map<string, string>();
  const evalSh: Set<string>[] = [];
  evalInputs.forEach((input, i) => {
    exact.set(inputKey(input), input);
    const sh = shingles(input, k);
    evalSh.push(sh);
    index.add(i, hasher.signature(sh));
  });
  const out: TrainingExample[] = [];
  const samples: StepSample[] = [];
  let exactHits = 0;
  let nearHits = 0;
  for (const e of examples) {
    const key = inputKey(e.input);
    let reason: string | undefined;
    let match: string | undefined;
    if (exact.has(key)) {
      exactHits++;
      reason = "exact copy of an eval input";
      match = exact.get(key);
    } else {
      const sh = shingles(e.input, k);
      for (const c of index.candidates(hasher.signature(sh))) {
        const j = jaccard(sh, evalSh[c]);
        if (j >= threshold) {
          nearHits++;
          reason = `near duplicate of an eval input (Jaccard ${j.toFixed(2)})`;
          match = evalInputs[c];
          break;
        }
      }
    }
    if (reason) {
      if (samples.length < (options.sampleSize ?? 5)) samples.push({ ...sample(e, reason), keptId: `eval: ${clip(match ?? "")}` });
      continue;
    }
    out.push(e);
  }
  return {
    examples: out,
    report: {
      step: "decontaminate",
      in: examples.length,
      out: out.length,
      removed: examples.length - out.length,
      counts: { evalInputs: evalInputs.length, exact: exactHits, near: nearHits },
      settings: { threshold, shingleSize: k },
      samples,
    },
  };
}

// ---------------------------------------------------------------------------------------------

function clip(s: string): string {
  return s.length > SAMPLE_TEXT ? s.slice(0, SAMPLE_TEXT - 1) + "…" : s;
}

function sample(e: TrainingExample, reason: string): StepSample {
  return { id: e.id, source: e.source, reason, input: clip(e.input), output: clip(e.output) };
}

/** Tasks present, in a stable order. */
export function tasksOf(examples: TrainingExample[]): TrainingTask[] {
  const order: TrainingTask[] = ["classify", "qa", "extract"];
  const present = new Set(examples.map((e) => e.task));
  return order.filter((t) => present.has(t));
}
