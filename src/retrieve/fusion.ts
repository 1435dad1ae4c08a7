/**
 * Combining ranked lists from several retrievers (hybrid search) into one ranking.
 *
 * Both methods de-duplicate by chunk id and return every chunk that appears in any list, best
 * first, with the fused score and ranks 1..n. Ties keep first-appearance order (list 0 first,
 * then by rank inside a list), so the result is deterministic.
 *
 * - Reciprocal rank fusion (Cormack et al. 2009) uses ranks only, so it needs no score
 *   calibration between retrievers:  score(d) = Σ_i w_i / (rrfK + rank_i(d)),  summed over the
 *   lists that contain d, with rank_i the 1-based position of d in list i.
 * - Weighted score fusion min-max normalises each list's scores to [0, 1] and adds them with
 *   weights:  score(d) = Σ_i w_i · (s_i(d) − min_i) / (max_i − min_i),  a missing chunk counting 0.
 *   A list whose scores are all equal normalises every entry to 1.
 */
import type { Chunk } from "../ingest/index.ts";
import type { Hit } from "./index.ts";

export interface RrfOptions {
  /** The RRF constant in 1/(k + rank); 60 in the original paper. Larger k flattens rank differences. */
  k: number;
  /** Per-list weights (default 1 each). */
  weights?: number[];
}

interface Entry {
  chunk: Chunk;
  score: number;
  order: number;
}

function weightOf(weights: number[] | undefined, i: number, count: number): number {
  if (!weights) return 1;
  if (weights.length !== count) throw new Error(`fusion: ${count} lists but ${weights.length} weights`);
  const w = weights[i];
  if (!Number.isFinite(w) || w < 0) throw new Error(`fusion: weight ${i} must be a finite number ≥ 0, got ${w}`);
  return w;
}

function ranked(entries: Map<string, Entry>): Hit[] {
  return [...entries.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .map((e, i) => ({ chunk: e.chunk, score: e.score, rank: i + 1 }));
}

export function reciprocalRankFusion(lists: Hit[][], options: RrfOptions): Hit[] {
  const rrfK = options.k;
  if (!Number.isFinite(rrfK) || rrfK < 0) throw new Error(`fusion: RRF k must be a finite number ≥ 0, got ${rrfK}`);
  const entries = new Map<string, Entry>();
  lists.forEach((list, i) => {
    const w = weightOf(options.weights, i, lists.length);
    const seen = new Set<string>();
    list.forEach((hit, position) => {
      const id = hit.chunk.id;
      if (seen.has(id)) return; // a list repeating a chunk counts its best rank only
      seen.add(id);
      const add = w / (rrfK + position + 1);
      const e = entries.get(id);
      if (e) e.score += add;
      else entries.set(id, { chunk: hit.chunk, score: add, order: entries.size });
    });
  });
  return ranked(entries);
}

export function weightedScoreFusion(lists: Hit[][], weights: number[]): Hit[] {
  const entries = new Map<string, Entry>();
  lists.forEach((list, i) => {
    const w = weightOf(weights, i, lists.length);
    if (list.length === 0) return;
    let min = Infinity;
    let max = -Infinity;
    for (const h of list) {
      if (h.score < min) min = h.score;
      if (h.score > max) max = h.score;
    }
    const span = max - min;
    const seen = new Set<string>();
    for (const hit of list) {
      const id = hit.chunk.id;
      if (seen.has(id)) continue;
      seen.add(id);
      const norm = span > 0 ? (hit.score - min) / span : 1;
      const add = w * norm;
      const e = entries.get(id);
      if (e) e.score += add;
      else entries.set(id, { chunk: hit.chunk, score: add, order: entries.size });
    }
  });
  return ranked(entries);
}
