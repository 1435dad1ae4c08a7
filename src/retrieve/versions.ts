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

const VERSION_COLLATOR = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** Natural descending order of version labels: "v10" before "v2" before "v1" before "". */
export function compareVersionsDesc(a: string, b: string): number {
  return VERSION_COLLATOR.compare(b, a);
}

/** Token-set Jaccard similarity at which two chunks of different versions count as one section. */
export const NEAR_DUPLICATE_JACCARD = 0.5;

// Keyed by the chunk object and kept across queries: re-tokenizing every candidate on every query
// was 85% of query time on the demo. Entries die with their chunk objects (a re-ingest makes new ones).
const TOKEN_SETS = new WeakMap<Chunk, Set<string>>();

function tokenSet(chunk: Chunk): Set<string> {
  let set = TOKEN_SETS.get(chunk);
  if (!set) {
    set = new Set(contentTokens(`${chunk.headingPath.join(" ")} ${chunk.text}`));
    TOKEN_SETS.set(chunk, set);
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
  const kept: Hit[] = [];
  for (const hit of hits) {
    if (!hit.chunk.version) {
      kept.push(hit);
      continue;
    }
    const mine = tokenSet(hit.chunk);
    const twin = kept.findIndex(
      (k2) =>
        k2.chunk.version !== "" &&
        k2.chunk.version !== hit.chunk.version &&
        jaccard(tokenSet(k2.chunk), mine) >= NEAR_DUPLICATE_JACCARD,
    );
    if (twin < 0) kept.push(hit);
    else if (compareVersionsDesc(hit.chunk.version, kept[twin].chunk.version) < 0) {
      // The newer copy replaces the older one at the older one's (better) rank and score.
      kept[twin] = { ...hit, score: kept[twin].score };
    }
  }
  return kept.slice(0, k).map((h, i) => ({ ...h, rank: i + 1 }));
}
