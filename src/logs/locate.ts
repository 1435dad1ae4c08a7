/**
 * Where the content of a user's corrected answer lives in the index — the online stand-in for a
 * gold source. A chunk holds the correction when it contains it verbatim (normalised) or backs
 * every claim of it by the support metric of evaluate/metrics.ts (the one definition: ≥ 70% of
 * each claim's content tokens), so "the docs say this" means what `support` means everywhere.
 */
import type { Chunk } from "../core/chunk.ts";
import { supportRatio } from "../evaluate/metrics.ts";
import { containsNormalized } from "../evaluate/scorers.ts";

export interface CorrectionLocation {
  /** Retrieved chunks (of any version) that hold the correction. */
  inRetrieved: Chunk[];
  /** Chunks of the current version (or unversioned) that hold it. */
  current: Chunk[];
  /** Chunks of older versions that hold it. */
  older: Chunk[];
}

export function holds(chunk: Pick<Chunk, "text">, correction: string): boolean {
  if (containsNormalized(chunk.text, correction)) return true;
  const s = supportRatio(correction, [chunk.text]);
  return s.ratio === 1 && s.unsupportedSentences.length === 0 && hasContent(correction);
}

/** A correction with no content words ("no.", "wrong") locates nothing. */
function hasContent(text: string): boolean {
  return supportRatio(text, []).unsupportedSentences.length > 0;
}

/**
 * @param isOlder true for a version label older than the current one ("" = unversioned = current).
 */
export function locateCorrection(correction: string, retrieved: Chunk[], allChunks: Iterable<Chunk>, isOlder: (version: string) => boolean): CorrectionLocation {
  const out: CorrectionLocation = { inRetrieved: [], current: [], older: [] };
  if (!hasContent(correction)) return out;
  out.inRetrieved = retrieved.filter((c) => holds(c, correction));
  for (const c of allChunks) {
    if (!holds(c, correction)) continue;
    (isOlder(c.version) ? out.older : out.current).push(c);
  }
  return out;
}
