/**
 * Where a stretch of a context chunk comes from: the heading path of its own section and its
 * source lines, read from the chunk's spans (see `Chunk.spans`). A chunk packs several sections,
 * so the chunk's first heading is not where a sentence in its middle lives; every citation goes
 * through here, whichever generator produced it.
 */
import type { ChunkSpan } from "../core/chunk.ts";
import type { ContextChunk } from "./index.ts";
import { contentTokens } from "../retrieve/tokenize.ts";

export interface Located {
  headingPath: string[];
  lineStart: number;
  lineEnd: number;
}

type Locatable = Pick<ContextChunk, "text" | "headingPath" | "lineStart" | "lineEnd" | "spans">;

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf("\n", from); i >= 0 && i < to; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Index of the last span starting at or before `offset`. */
function spanAt(spans: readonly ChunkSpan[], offset: number): number {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (spans[mid].offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Source line of the character at `offset` of the chunk's text. */
export function lineAt(chunk: Locatable, offset: number): number {
  const { text } = chunk;
  const spans = chunk.spans;
  if (spans && spans.length > 0) {
    const i = spanAt(spans, offset);
    const s = spans[i];
    const end = i + 1 < spans.length ? spans[i + 1].offset : text.length;
    if (s.exact) return Math.min(s.lineEnd, s.lineStart + countNewlines(text, s.offset, offset));
    const share = (offset - s.offset) / Math.max(1, end - s.offset);
    return Math.min(s.lineEnd, s.lineStart + Math.floor(share * (s.lineEnd - s.lineStart + 1)));
  }
  // No spans (an index from before them): exact when the text has one line per source line.
  const breaks = countNewlines(text, 0, text.length);
  if (breaks === chunk.lineEnd - chunk.lineStart) return chunk.lineStart + countNewlines(text, 0, offset);
  const share = offset / Math.max(1, text.length);
  return Math.min(chunk.lineEnd, chunk.lineStart + Math.floor(share * (chunk.lineEnd - chunk.lineStart + 1)));
}

/**
 * Heading path and source lines of the text at [start, end) of a chunk. `fallbackHeadingPath` is
 * used when the chunk has no spans (the caller may know better than the chunk's first heading).
 */
export function locate(chunk: Locatable, start: number, end: number, fallbackHeadingPath?: string[]): Located {
  const last = Math.max(start, end - 1);
  const spans = chunk.spans;
  const headingPath = spans && spans.length > 0 ? spans[spanAt(spans, start)].headingPath : (fallbackHeadingPath ?? chunk.headingPath);
  return { headingPath: [...headingPath], lineStart: lineAt(chunk, start), lineEnd: Math.max(lineAt(chunk, start), lineAt(chunk, last)) };
}

/**
 * Where in a chunk a claim that cites it comes from, for generators that paraphrase (LLMs): the
 * line of the chunk sharing the most content words with the claim, or undefined when no line
 * shares any (the citation then names the whole chunk).
 */
export function locateClaim(chunk: Locatable, claim: string): Located | undefined {
  const wanted = new Set(contentTokens(claim));
  if (wanted.size === 0) return undefined;
  const { text } = chunk;
  let best: { start: number; end: number; score: number } | undefined;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    // Heading lines name sections; a claim rests on what is written under them.
    if (line.trim() && !/^\s{0,3}#{1,6}\s/.test(line)) {
      const tokens = new Set(contentTokens(line));
      const heading = new Set(contentTokens(locate(chunk, start, end).headingPath.join(" ")));
      let shared = 0;
      let inHeading = 0;
      for (const t of wanted) {
        if (tokens.has(t)) shared++;
        else if (heading.has(t)) inHeading++;
      }
      // Share of the claim's words (half credit when only the section heading has them), with a
      // nudge towards lines that are mostly about the claim.
      const score = (shared + inHeading / 2) / wanted.size + shared / Math.max(1, tokens.size) / 10;
      if (shared > 0 && (!best || score > best.score)) best = { start, end, score };
    }
    start = end + 1;
  }
  return best ? locate(chunk, best.start, best.end) : undefined;
}
