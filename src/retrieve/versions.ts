/**
 * Versioned documentation: the same section often exists in several version labels (docs/v1 and
 * docs/v2), nearly word for word except for the facts that changed. Left alone, both copies fill
 * the top-k and the generator may quote the archived one. `collapseVersions` keeps, among
 * near-duplicate chunks with different version labels, only the newest, and fills the freed slots
 * with the next distinct hits.
 */
import type { Chunk } from "../ingest/index.ts";
import type { Hit } from "./index.ts";
import { contentTokens } from "./tokenize.ts";

/** Natural descending order of version labels: "v10" before "v2" before "v1" before "". */
export function compareVersionsDesc(a: string, b: string): number {
  return b.localeCompare(a, undefined, { numeric: true, sensitivity: "base" });
}

/** Token-set Jaccard similarity at which two chunks of different versions count as one section. */
export const NEAR_DUPLICATE_JACCARD = 0.5;

function tokenSet(chunk: Chunk, cache: Map<string, Set<string>>): Set<string> {
  let set = cache.get(chunk.id);
  if (!set) {
    set = new Set(contentTokens(`${chunk.headingPath.join(" ")} ${chunk.text}`));
    cache.set(chunk.id, set);
  }
  return set;
}

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const t of small) if (large.has(t)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * Collapse near-duplicates across versions in ranked `hits`, returning at most `k` hits re-ranked
 * 1..n. The newest copy takes the best rank its group reached. Chunks without a version label, or
 * with the same label, are never collapsed with each other.
 */
export function collapseVersions(hits: Hit[], k: number): Hit[] {
  const cache = new Map<string, Set<string>>();
  const kept: Hit[] = [];
  for (const hit of hits) {
    if (!hit.chunk.version) {
      kept.push(hit);
      continue;
    }
    const mine = tokenSet(hit.chunk, cache);
    const twin = kept.findIndex(
      (k2) =>
        k2.chunk.version !== "" &&
        k2.chunk.version !== hit.chunk.version &&
        jaccard(tokenSet(k2.chunk, cache), mine) >= NEAR_DUPLICATE_JACCARD,
    );
    if (twin < 0) kept.push(hit);
    else if (compareVersionsDesc(hit.chunk.version, kept[twin].chunk.version) < 0) {
      // The newer copy replaces the older one at the older one's (better) rank and score.
      kept[twin] = { ...hit, score: kept[twin].score };
    }
  }
  return kept.slice(0, k).map((h, i) => ({ ...h, rank: i + 1 }));
}
