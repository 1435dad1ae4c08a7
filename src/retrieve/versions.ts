/**
 * Versioned documentation: the same section often exists in several version labels (docs/v8 and
 * docs/v5), nearly word for word except for the facts that changed — or moved to another file
 * and renamed (`auto-install-peers` in npmrc.md became `autoInstallPeers` in settings.md). Left
 * alone, the archived copy can outrank the current one and the generator quotes last year's fact.
 *
 * `preferNewestVersions` keeps, for each section, the copy of the preferred version: the newest
 * by the project's version order, or the versions the question names ("in v7 …"). Two chunks of
 * different versions are copies of one section ("twins") when their content words overlap by
 * Jaccard ≥ NEAR_DUPLICATE_JACCARD, or when they share a *specific* section heading (normalised:
 * case and punctuation ignored, so `auto-install-peers` = `autoInstallPeers`; specific: no
 * version has it in more than one document — "Usage" or "Options" are not) and their bodies
 * overlap by at least SHARED_HEADING_JACCARD. When an older copy ranks first, the preferred copy takes its rank —
 * found among the kept hits or further down the candidates — and the older copy is dropped; an
 * older chunk with no newer twin stays (the fact may exist only there).
 */
import type { Chunk } from "../core/chunk.ts";
import { NATURAL_VERSION_ORDER, compareNaturalDesc, sectionKey, type VersionOrder } from "../core/versions.ts";

export { sectionKey } from "../core/versions.ts";
import type { Hit } from "./index.ts";
import { contentTokens } from "./tokenize.ts";

/** Natural descending order of version labels: "v10" before "v2" before "v1" before "". */
export function compareVersionsDesc(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return 1;
  if (b === "") return -1;
  return compareNaturalDesc(a, b);
}

/** Token-set Jaccard similarity at which two chunks of different versions count as one section. */
export const NEAR_DUPLICATE_JACCARD = 0.5;
/** The weaker body overlap that suffices when the two chunks also share a specific section heading. */
export const SHARED_HEADING_JACCARD = 0.15;

// Keyed by the chunk object and kept across queries: re-tokenizing every candidate on every query
// was 85% of query time on the demo. Entries die with their chunk objects (a re-ingest makes new ones).
const TOKEN_SETS = new WeakMap<Chunk, Set<string>>();
const BODY_SETS = new WeakMap<Chunk, Set<string>>();
const SECTION_KEYS = new WeakMap<Chunk, Set<string>>();

function bodySet(chunk: Chunk): Set<string> {
  let set = BODY_SETS.get(chunk);
  if (!set) {
    set = new Set(contentTokens(chunk.text));
    BODY_SETS.set(chunk, set);
  }
  return set;
}

function tokenSet(chunk: Chunk): Set<string> {
  let set = TOKEN_SETS.get(chunk);
  if (!set) {
    set = new Set(contentTokens(`${chunk.headingPath.join(" ")} ${chunk.text}`));
    TOKEN_SETS.set(chunk, set);
  }
  return set;
}

/** Keys of the sections a chunk holds: the last heading of its own path and of each span's. */
export function sectionKeys(chunk: Chunk): Set<string> {
  let keys = SECTION_KEYS.get(chunk);
  if (!keys) {
    keys = new Set<string>();
    const add = (path: string[]) => {
      const last = path[path.length - 1];
      const key = last ? sectionKey(last) : "";
      // Very short keys ("api", "faq") name too little to identify a section.
      if (key.length >= 4) keys!.add(key);
    };
    add(chunk.headingPath);
    for (const s of chunk.spans ?? []) add(s.headingPath);
    SECTION_KEYS.set(chunk, keys);
  }
  return keys;
}

export function jaccard(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const t of small) if (large.has(t)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Which section keys identify one section per version (see `specificHeadings`). */
export type HeadingSpecificity = (key: string) => boolean;

/**
 * Section keys that no version has in more than one document: across versions such a heading
 * names one section, wherever it moved. "Usage", "Options", "Example" fail the test.
 */
export function specificHeadings(chunks: Iterable<Chunk>): HeadingSpecificity {
  const paths = new Map<string, Map<string, Set<string>>>();
  for (const c of chunks) {
    if (!c.version) continue;
    for (const key of sectionKeys(c)) {
      let byVersion = paths.get(key);
      if (!byVersion) paths.set(key, (byVersion = new Map()));
      let set = byVersion.get(c.version);
      if (!set) byVersion.set(c.version, (set = new Set()));
      set.add(c.path);
    }
  }
  const specific = new Set<string>();
  for (const [key, byVersion] of paths) if ([...byVersion.values()].every((s) => s.size === 1)) specific.add(key);
  return (key) => specific.has(key);
}

const NO_SPECIFIC_HEADINGS: HeadingSpecificity = () => false;

/** Whether two chunks of different version labels are copies of the same section. */
export function areVersionTwins(a: Chunk, b: Chunk, specific: HeadingSpecificity = NO_SPECIFIC_HEADINGS): boolean {
  if (!a.version || !b.version || a.version === b.version) return false;
  if (jaccard(tokenSet(a), tokenSet(b)) >= NEAR_DUPLICATE_JACCARD) return true;
  const kb = sectionKeys(b);
  let shared = false;
  for (const key of sectionKeys(a)) if (kb.has(key) && specific(key)) shared = true;
  return shared && jaccard(bodySet(a), bodySet(b)) >= SHARED_HEADING_JACCARD;
}

export interface VersionPreference {
  /** The project's version order (default: natural order of the labels). */
  order?: VersionOrder;
  /** Versions the question names: preferred over the newest when present. */
  named?: readonly string[];
  /** Section keys that identify a section across versions (default: none; near-duplicates only). */
  specific?: HeadingSpecificity;
}

/**
 * Keep the preferred version's copy of each section among ranked `hits` (see the top of this
 * file), returning at most `k` hits ranked 1..n. The preferred copy takes the best rank its group
 * reached, with that rank's score. Unlabelled chunks, and chunks of one label, are never merged.
 */
export function preferNewestVersions(hits: Hit[], k: number, preference: VersionOrder | VersionPreference = {}): Hit[] {
  const pref: VersionPreference = "rank" in preference ? { order: preference } : preference;
  const order = pref.order ?? NATURAL_VERSION_ORDER;
  const named = new Set(pref.named ?? []);
  const twins = (a: Chunk, b: Chunk) => areVersionTwins(a, b, pref.specific);
  /** Negative when version a is preferred over b. */
  const better = (a: string, b: string): number => {
    const na = named.has(a) ? 0 : 1;
    const nb = named.has(b) ? 0 : 1;
    return na - nb || order.compare(a, b);
  };
  const kept: Hit[] = [];
  const used = new Set<Hit>();
  for (let i = 0; i < hits.length && kept.length < k; i++) {
    let hit = hits[i];
    if (used.has(hit)) continue;
    if (!hit.chunk.version) {
      kept.push(hit);
      continue;
    }
    const twin = kept.findIndex((h) => twins(h.chunk, hit.chunk));
    if (twin >= 0) {
      // The section is already in: the preferred copy holds the (better) rank it reached.
      if (better(hit.chunk.version, kept[twin].chunk.version) < 0) kept[twin] = { ...hit, score: kept[twin].score };
      used.add(hit);
      continue;
    }
    // An older copy ranked here: a preferred copy further down takes this rank instead.
    let best: Hit | undefined;
    for (let j = i + 1; j < hits.length; j++) {
      const other = hits[j];
      if (used.has(other) || !twins(other.chunk, hit.chunk)) continue;
      if (better(other.chunk.version, (best ?? hit).chunk.version) < 0) best = other;
    }
    if (best) {
      used.add(best);
      used.add(hit);
      hit = { ...best, score: hit.score };
    }
    kept.push(hit);
  }
  return kept.slice(0, k).map((h, i) => ({ ...h, rank: i + 1 }));
}

/** The former name: near-duplicates across versions collapsed to the newest (natural order). */
export function collapseVersions(hits: Hit[], k: number, order?: VersionOrder): Hit[] {
  return preferNewestVersions(hits, k, { order });
}
