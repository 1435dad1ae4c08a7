/**
 * Train / validation / test split, deterministic from a seed.
 *
 * - classify: stratified by label. Each label's examples (ordered by id, then shuffled with
 *   mulberry32(seed)) are cut in the requested proportions; a label with ≥ 3 examples gets at
 *   least one in each non-zero split, so every split sees every label where possible. Labels with
 *   fewer than 3 examples go to train (listed in `notes`).
 * - qa / extract: by hash bucket. Each example's place comes from a hash of its normalised input
 *   and the seed, so the split does not depend on input order and adding examples moves few others;
 *   examples are ranked by that value and cut in the requested proportions.
 *
 * Within each split examples keep their input order.
 */
import type { DatasetSplits, TrainingExample } from "../index.ts";
import { mulberry32, shuffle } from "../../util/rng.ts";
import { inputKey } from "./clean.ts";
import { InputError } from "../../util/errors.ts";

export interface SplitOptions {
  /** Proportions of train, validation, test (any positive scale; default 80/10/10). */
  ratios?: [number, number, number];
  /** Seed (default 42). */
  seed?: number;
}

export interface SplitResult extends DatasetSplits {
  /** Why a split lacks something (e.g. a label with too few examples to spread). */
  notes: string[];
}

export const DEFAULT_SPLIT: [number, number, number] = [80, 10, 10];
export const DEFAULT_SEED = 42;

/** Parse `80,10,10` (or `0.8,0.1,0.1`). */
export function parseSplit(s: string): [number, number, number] {
  const parts = s.split(",").map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || parts[0] <= 0) {
    throw new InputError(`--split: expected three non-negative numbers train,validation,test with train > 0 (e.g. 80,10,10), got '${s}'`);
  }
  return parts as [number, number, number];
}

export function splitDataset(examples: TrainingExample[], options: SplitOptions = {}): SplitResult {
  const ratios = options.ratios ?? DEFAULT_SPLIT;
  const sum = ratios[0] + ratios[1] + ratios[2];
  if (!(sum > 0) || ratios.some((r) => r < 0)) throw new InputError(`split ratios must be non-negative and not all 0, got ${ratios.join(",")}`);
  const p = ratios.map((r) => r / sum) as [number, number, number];
  const seed = options.seed ?? DEFAULT_SEED;
  const order = new Map(examples.map((e, i) => [e, i]));
  const parts: [TrainingExample[], TrainingExample[], TrainingExample[]] = [[], [], []];
  const notes: string[] = [];

  const classify = examples.filter((e) => e.task === "classify");
  const byLabel = new Map<string, TrainingExample[]>();
  for (const e of classify) byLabel.set(e.output, [...(byLabel.get(e.output) ?? []), e]);
  for (const label of [...byLabel.keys()].sort()) {
    const group = [...byLabel.get(label)!].sort((a, b) => cmp(a.id, b.id));
    shuffle(group, mulberry32(seed ^ hash32(`label:${label}`)));
    const counts = cutCounts(group.length, p, group.length >= 3);
    if (group.length < 3) notes.push(`label '${label}' has ${group.length} example(s): all in train (3 are needed to have one in each split)`);
    assign(group, counts, parts);
  }

  for (const task of ["qa", "extract"] as const) {
    const group = examples.filter((e) => e.task === task);
    if (group.length === 0) continue;
    const keyed = group.map((e) => ({ e, u: bucket(seed, e) }));
    keyed.sort((a, b) => a.u - b.u || cmp(a.e.id, b.e.id));
    assign(
      keyed.map((k) => k.e),
      cutCounts(group.length, p, group.length >= 3),
      parts,
    );
  }
  const byInputOrder = (a: TrainingExample, b: TrainingExample) => order.get(a)! - order.get(b)!;
  return { train: parts[0].sort(byInputOrder), validation: parts[1].sort(byInputOrder), test: parts[2].sort(byInputOrder), notes };
}

/**
 * Example counts per split for a group of n: proportional with largest-remainder rounding; with
 * `spread`, every split with a non-zero share gets at least one (taken from the largest).
 */
export function cutCounts(n: number, p: [number, number, number], spread: boolean): [number, number, number] {
  if (!spread) return [n, 0, 0];
  const raw = p.map((x) => x * n);
  const counts = raw.map(Math.floor) as [number, number, number];
  let left = n - counts[0] - counts[1] - counts[2];
  const byRemainder = [0, 1, 2].sort((a, b) => raw[b] - counts[b] - (raw[a] - counts[a]) || a - b);
  for (const i of byRemainder) if (left > 0) (counts[i]++, left--);
  for (let i = 1; i < 3; i++) {
    if (p[i] > 0 && counts[i] === 0) {
      const from = counts[0] > 1 ? 0 : counts[1] >= counts[2] ? 1 : 2;
      if (counts[from] > 1) {
        counts[from]--;
        counts[i]++;
      }
    }
  }
  return counts;
}

function assign(group: TrainingExample[], counts: [number, number, number], parts: [TrainingExample[], TrainingExample[], TrainingExample[]]): void {
  let i = 0;
  for (let s = 0; s < 3; s++) for (let c = 0; c < counts[s]; c++) parts[s].push(group[i++]);
}

/** A uniform value in [0, 1) from the example's normalised input and the seed. */
function bucket(seed: number, e: TrainingExample): number {
  return mulberry32(hash32(inputKey(e.input)) ^ seed)();
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
