/**
 * Small-to-big: retrieve with small chunks (precise matching), hand the generator their parent
 * section (enough context to answer).
 *
 * A hit's parent is the run of consecutive chunks of the same document, around the hit, whose
 * headingPath starts with the hit's headingPath: the hit's heading section with its subsections.
 * Those chunks are merged into one synthetic chunk:
 *
 * - `id` is `${first.id}..${last.ordinal}` (e.g. `docs/billing.md#3..5`), `ordinal` that of the
 *   first chunk, `headingPath` the hit's; path, title, version and meta come from the document;
 * - `text` is the chunks' texts in order, each overlap with the previous chunk written once
 *   (chunks whose line ranges meet share text: the longest suffix of one that is a prefix of the
 *   next, at word boundaries, is dropped from the next); chunks that do not overlap are joined by
 *   a blank line (a line break when on consecutive lines, a space when on the same line);
 * - `lineStart` of the first chunk, `lineEnd` the furthest of them; `tokens` the chunks' sum
 *   minus the repeated overlaps, plus one per line-break separator: no re-tokenizing, and on the
 *   pnpm docs within 1% of counting the merged text (mostly over, as BPE merges across joins).
 *
 * A parent over `maxTokens` is trimmed around the hit: the hit's chunk, then neighbours taken
 * alternately before and after while the total fits (the hit alone when even that is too big).
 *
 * Hits keep their score and order. A hit whose chunk is already inside the parent of a better
 * hit is dropped, and a later parent stops where an earlier one begins, so no text is returned
 * twice; ranks are renumbered 1..n. A hit whose parent is just itself is returned unchanged.
 */
import type { Chunk } from "../ingest/index.ts";
import { countTokens } from "../models/tokens.ts";
import type { Hit } from "./index.ts";

export interface SmallToBigOptions {
  /** Largest parent returned, in tokens; bigger parents are trimmed around the hit. Default 1,200. */
  maxTokens?: number;
}

export const DEFAULT_PARENT_MAX_TOKENS = 1200;

const isPrefix = (prefix: string[], path: string[]) => prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
const MIN_BLIND_OVERLAP = 12;
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c);

/**
 * Characters at the start of `b` that repeat the end of `a`: the longest border (suffix of `a`
 * equal to a prefix of `b`) that starts and ends at word boundaries, or is at least
 * `MIN_BLIND_OVERLAP` characters long (token windows may cut between "$" and "20"). Shorter
 * mid-word borders are coincidences ("…a" + "a…"). Linear (KMP prefix function).
 */
export function sharedOverlap(a: string, b: string): number {
  if (!a || !b) return 0;
  const tail = a.slice(-b.length);
  const s = `${b}\u0000${tail}`;
  const pi = new Int32Array(s.length);
  for (let i = 1; i < s.length; i++) {
    let k = pi[i - 1];
    while (k > 0 && s[i] !== s[k]) k = pi[k - 1];
    if (s[i] === s[k]) k++;
    pi[i] = k;
  }
  for (let k = pi[s.length - 1]; k > 0; k = pi[k - 1]) {
    if (k >= MIN_BLIND_OVERLAP || (isSpace(b[k]) && isSpace(a[a.length - k - 1]))) return k;
  }
  return 0;
}

/**
 * How chunk `b` continues the text of chunk `a` (the one before it in the document), and the
 * tokens that adds: b's tokens minus those of the repeated overlap, plus one for a line-break
 * separator.
 */
function continuation(a: Chunk, b: Chunk): { text: string; tokens: number } {
  if (b.lineStart <= a.lineEnd) {
    const k = sharedOverlap(a.text, b.text);
    if (k > 0) return { text: b.text.slice(k), tokens: Math.max(0, b.tokens - countTokens(b.text.slice(0, k))) };
    if (b.lineStart === a.lineEnd) return { text: ` ${b.text}`, tokens: b.tokens };
    return { text: `\n${b.text}`, tokens: b.tokens + 1 };
  }
  return { text: (b.lineStart === a.lineEnd + 1 ? "\n" : "\n\n") + b.text, tokens: b.tokens + 1 };
}

/** The synthetic chunk for `run` (consecutive chunks of one document) given their joined text. */
function synthetic(run: Chunk[], text: string, tokens: number, headingPath: string[]): Chunk {
  const first = run[0];
  return {
    ...first,
    id: `${first.id}..${run[run.length - 1].ordinal}`,
    headingPath: [...headingPath],
    text,
    lineStart: first.lineStart,
    lineEnd: Math.max(...run.map((c) => c.lineEnd)),
    tokens,
    meta: { ...first.meta },
  };
}

/** One synthetic chunk from consecutive chunks `run` of one document (the chunk itself when alone). */
export function mergeChunks(run: Chunk[], headingPath: string[] = run[0].headingPath): Chunk {
  if (run.length === 1) return run[0];
  let text = run[0].text;
  let tokens = run[0].tokens;
  for (let i = 1; i < run.length; i++) {
    const c = continuation(run[i - 1], run[i]);
    text += c.text;
    tokens += c.tokens;
  }
  return synthetic(run, text, tokens, headingPath);
}

/** A document's chunks in order, with each chunk's continuation of the previous computed once. */
class DocChunks {
  readonly index = new Map<string, number>();
  private readonly joins: (string | undefined)[] = [];
  private readonly joinTokens: number[] = [];
  constructor(readonly chunks: Chunk[]) {
    chunks.forEach((c, i) => this.index.set(c.id, i));
  }
  /** Text chunk i adds after chunk i − 1. */
  join(i: number): string {
    let j = this.joins[i];
    if (j === undefined) {
      const c = continuation(this.chunks[i - 1], this.chunks[i]);
      j = c.text;
      this.joins[i] = j;
      this.joinTokens[i] = c.tokens;
    }
    return j;
  }
  /** Tokens of chunks lo..hi merged: the first chunk's plus what each join adds. */
  tokens(lo: number, hi: number): number {
    let t = this.chunks[lo].tokens;
    for (let i = lo + 1; i <= hi; i++) {
      this.join(i);
      t += this.joinTokens[i];
    }
    return t;
  }
  merge(lo: number, hi: number, headingPath: string[]): Chunk {
    if (lo === hi) return this.chunks[lo];
    let text = this.chunks[lo].text;
    for (let i = lo + 1; i <= hi; i++) text += this.join(i);
    return synthetic(this.chunks.slice(lo, hi + 1), text, this.tokens(lo, hi), headingPath);
  }
}

export function expandToParents(hits: Hit[], chunksOfPath: (path: string) => Chunk[], options: SmallToBigOptions = {}): Hit[] {
  const maxTokens = options.maxTokens ?? DEFAULT_PARENT_MAX_TOKENS;
  if (!(maxTokens > 0)) throw new RangeError(`smallToBig maxTokens must be positive, got ${maxTokens}`);
  const docs = new Map<string, DocChunks>();
  const docOf = (path: string) => {
    let doc = docs.get(path);
    if (!doc) {
      doc = new DocChunks([...chunksOfPath(path)].sort((x, y) => x.ordinal - y.ordinal));
      docs.set(path, doc);
    }
    return doc;
  };
  /** Index ranges [lo, hi] of each document already returned. */
  const taken = new Map<string, [number, number][]>();
  const isTaken = (path: string, i: number) => (taken.get(path) ?? []).some(([lo, hi]) => i >= lo && i <= hi);

  const out: Hit[] = [];
  for (const hit of [...hits].sort((x, y) => x.rank - y.rank)) {
    const { path, headingPath } = hit.chunk;
    const doc = docOf(path);
    const at = doc.index.get(hit.chunk.id);
    if (at === undefined) {
      // Not in the document's current chunks (a stale hit): nothing to expand, keep it as it is.
      if (!out.some((h) => h.chunk.id === hit.chunk.id)) out.push({ ...hit });
      continue;
    }
    if (isTaken(path, at)) continue;
    const { chunks } = doc;
    const inParent = (i: number) => i >= 0 && i < chunks.length && !isTaken(path, i) && isPrefix(headingPath, chunks[i].headingPath);
    // Grow from the hit, alternating sides, while the next chunk is in the parent and the merged
    // text still fits (a parent that fits whole is thus taken whole).
    let lo = at;
    let hi = at;
    let size = chunks[at].tokens;
    let canBefore = true;
    let canAfter = true;
    for (let turn = 0; canBefore || canAfter; turn++) {
      const before = turn % 2 === 0;
      if (before ? !canBefore : !canAfter) continue;
      const next = before ? lo - 1 : hi + 1;
      // What the pair (new chunk + the end it joins) costs beyond that end alone.
      const added = !inParent(next) ? Infinity : before ? doc.tokens(next, lo) - chunks[lo].tokens : doc.tokens(hi, next) - chunks[hi].tokens;
      if (size + added > maxTokens) {
        if (before) canBefore = false;
        else canAfter = false;
        continue;
      }
      size += added;
      if (before) lo = next;
      else hi = next;
    }
    const parent = doc.merge(lo, hi, headingPath);
    const list = taken.get(path) ?? [];
    list.push([lo, hi]);
    taken.set(path, list);
    out.push({ ...hit, chunk: lo === hi ? hit.chunk : parent });
  }
  return out.map((h, i) => ({ ...h, rank: i + 1 }));
}
