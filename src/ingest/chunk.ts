/**
 * Chunking: structure first, then token windows.
 *
 * 1. Sections at `headingDepth` or shallower start a block; deeper sections are folded into the
 *    block above them with their heading line kept in the text.
 * 2. Blocks under `minTokens` are merged into the next block under the same parent (or into the
 *    previous one when there is no next), because tiny chunks retrieve poorly.
 * 3. Blocks over `maxTokens` are cut into windows of at most `maxTokens` tokens sharing about
 *    `overlapTokens` tokens, cut at paragraph > sentence/line > word boundaries when one is close.
 *
 * Every character of a block remembers the source line it came from, so each chunk and window
 * carries an exact `lineStart`–`lineEnd` whenever the loader's section text mirrors the source
 * lines (markdown, text), and a proportional estimate inside the section otherwise (HTML).
 */
import { decode, encodeGenerator } from "gpt-tokenizer";
import { countTokens, textPieces } from "../models/tokens.ts";
import type { Chunk, ChunkingOptions, LoadedDocument, Section } from "./index.ts";

interface Part {
  text: string;
  lineStart: number;
  lineEnd: number;
  /** True when `text` has exactly one "\n" per line break of lineStart..lineEnd. */
  exact: boolean;
  /** Offset of `text` inside the block text. */
  start: number;
  /** Separator placed before this part ("" for the first). */
  sep: string;
}

/** Consecutive sections that end up in one chunk (or one run of windows). */
interface Block {
  members: Section[];
}

interface BuiltBlock extends Block {
  headingPath: string[];
  text: string;
  parts: Part[];
  tokens: number;
}

const levelOf = (s: Section) => s.level ?? s.headingPath.length;
const isPrefix = (prefix: string[], path: string[]) => prefix.length <= path.length && prefix.every((p, i) => path[i] === p);
const parentOf = (path: string[]) => path.slice(0, -1);

const newlines = (s: string) => {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
};

/** Drop blank lines around a part, moving its line range along when the mapping is exact. */
function makePart(text: string, lineStart: number, lineEnd: number, sep: string): Omit<Part, "start"> | undefined {
  lineEnd = Math.max(lineStart, lineEnd);
  const exact = newlines(text) === lineEnd - lineStart;
  // Manual scans rather than regexes: /\s+$/-style patterns backtrack quadratically on long runs.
  let a = 0;
  for (let i = 0; i < text.length && /\s/.test(text[i]); i++) if (text[i] === "\n") a = i + 1;
  const body = text.slice(a).trimEnd();
  if (!body) return undefined;
  if (exact) {
    lineStart += newlines(text.slice(0, a));
    lineEnd = lineStart + newlines(body);
  }
  return { text: body, lineStart, lineEnd, exact, sep };
}

function buildBlock(block: Block): BuiltBlock {
  const { members } = block;
  // Bare headings leading into their own subsection ("# Billing" then "## Refunds") are that
  // subsection's ancestors: the chunk is headed by the first member with a body, and the path
  // already names the bare headings.
  let lead = members.findIndex((s) => s.text.trim() !== "");
  if (lead < 0 || !members.slice(0, lead).every((m) => isPrefix(m.headingPath, members[lead].headingPath))) lead = 0;
  const headingPath = members[lead].headingPath;
  const raw: Omit<Part, "start">[] = [];
  members.forEach((s, i) => {
    if (i < lead) return;
    let sep = "\n\n";
    // The leading member's heading lives in headingPath; later members keep theirs in the text.
    if (i > lead && levelOf(s) > 0) {
      const heading = (s.heading ?? s.headingPath[s.headingPath.length - 1] ?? "").trim();
      const line = s.headingLine ?? s.lineStart;
      const part = heading ? makePart(heading, line, line + newlines(heading), sep) : undefined;
      if (part) {
        raw.push(part);
        sep = "\n";
      }
    }
    const body = makePart(s.text, s.lineStart, s.lineEnd, sep);
    if (body) raw.push(body);
  });
  const parts: Part[] = [];
  let text = "";
  for (const p of raw) {
    const sep = parts.length === 0 ? "" : p.sep;
    text += sep;
    parts.push({ ...p, sep, start: text.length });
    text += p.text;
  }
  return { headingPath, members, text, parts, tokens: tokenCount(text) };
}

/** Maps block-text offsets back to 1-based source lines. */
function lineMapper(block: BuiltBlock): (offset: number) => number {
  const nl: number[] = [];
  for (let i = block.text.indexOf("\n"); i >= 0; i = block.text.indexOf("\n", i + 1)) nl.push(i);
  const countBefore = (offset: number) => {
    let lo = 0;
    let hi = nl.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nl[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return (offset) => {
    // Last part starting at or before the offset (separators belong to the part before them).
    let lo = 0;
    let hi = block.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (block.parts[mid].start <= offset) lo = mid;
      else hi = mid - 1;
    }
    const p = block.parts[lo];
    const within = Math.min(Math.max(offset - p.start, 0), Math.max(p.text.length - 1, 0));
    if (p.exact) return p.lineStart + countBefore(p.start + within) - countBefore(p.start);
    const span = p.lineEnd - p.lineStart + 1;
    return Math.min(p.lineEnd, p.lineStart + Math.floor((within / Math.max(p.text.length, 1)) * span));
  };
}

function group(sections: Section[], headingDepth: number): Block[] {
  const blocks: Block[] = [];
  for (const s of sections) {
    const current = blocks[blocks.length - 1];
    if (!current || levelOf(s) <= headingDepth) blocks.push({ members: [s] });
    else current.members.push(s);
  }
  return blocks;
}

function concat(a: BuiltBlock, b: BuiltBlock): BuiltBlock {
  return buildBlock({ members: [...a.members, ...b.members] });
}

/** Headings alone are not content: a block needs some section body to be worth a chunk. */
const hasBody = (b: Block) => b.members.some((m) => m.text.trim() !== "");

/** A block whose last section is a heading with no body: it introduces what follows. */
const endsBare = (b: BuiltBlock) => {
  const last = b.members[b.members.length - 1];
  return levelOf(last) > 0 && last.text.trim() === "";
};

/**
 * Fold blocks under `minTokens` (and blocks ending in a bare heading) forward into the next block
 * under the same parent, else back into the previous block.
 */
function mergeSmall(blocks: BuiltBlock[], minTokens: number): BuiltBlock[] {
  const out: BuiltBlock[] = [];
  let pending: BuiltBlock | undefined;
  const settle = (p: BuiltBlock) => {
    if (!hasBody(p)) return; // only headings, nothing under them: no content to keep
    const prev = out[out.length - 1];
    // Adjacency is what matters: compare with the section the previous block ends with.
    const prevEnd = prev?.members[prev.members.length - 1].headingPath;
    if (prev && isPrefix(parentOf(p.headingPath), prevEnd!)) out[out.length - 1] = concat(prev, p);
    else out.push(p);
  };
  for (let b of blocks) {
    if (pending) {
      // A heading-only block may only introduce its own subsections, or it would mislabel a sibling.
      const fits = hasBody(pending)
        ? isPrefix(parentOf(pending.headingPath), b.headingPath)
        : b.headingPath.length > pending.headingPath.length && isPrefix(pending.headingPath, b.headingPath);
      if (fits) b = concat(pending, b);
      else settle(pending);
      pending = undefined;
    }
    if (b.tokens < minTokens || endsBare(b)) pending = b;
    else out.push(b);
  }
  if (pending) settle(pending);
  return out;
}

/** Token count of `text`; the shared, linear-time `countTokens` (kept as a name for callers). */
export const tokenCount = countTokens;

interface Span {
  start: number;
  end: number;
  tokens: number;
}

/**
 * The text as consecutive spans at tokenizer pre-token boundaries, each with its token count, so
 * windows can be measured exactly without re-encoding. Long pre-tokens (runs without spaces,
 * e.g. base64) are split further at token boundaries that fall on whole characters.
 */
function tokenSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const piece of textPieces(text)) {
    if (spansOf(piece.text, piece.offset, spans) !== piece.offset + piece.text.length) {
      // Decoding did not reproduce the input length (e.g. lone surrogates): fall back to words.
      return Array.from(text.matchAll(/\s*\S+|\s+$/g), (m) => ({ start: m.index!, end: m.index! + m[0].length, tokens: Math.max(1, tokenCount(m[0])) }));
    }
  }
  return spans;
}

/** Append the spans of `text` (starting at offset `pos`); returns the offset reached. */
function spansOf(text: string, pos: number, spans: Span[]): number {
  for (const group of encodeGenerator(text, { disallowedSpecial: new Set() })) {
    if (group.length <= 8) {
      const len = decode(group).length;
      spans.push({ start: pos, end: pos + len, tokens: group.length });
      pos += len;
      continue;
    }
    let from = 0;
    for (let j = 0; j < group.length; j++) {
      const piece = decode(group.slice(from, j + 1));
      // A trailing U+FFFD means the token ended inside a multi-byte character: keep going.
      if (piece.endsWith("\uFFFD") && j < group.length - 1) continue;
      spans.push({ start: pos, end: pos + piece.length, tokens: j + 1 - from });
      pos += piece.length;
      from = j + 1;
    }
  }
  return pos;
}

/** 3 = paragraph (blank line), 2 = sentence end or line break, 1 = space, 0 = inside a word. */
function boundaryRank(text: string, x: number): number {
  if (x <= 0 || x >= text.length) return 3;
  // Look at most 64 characters either way: enough to see a blank line, and linear on long runs.
  let l = x;
  while (l > 0 && x - l < 64 && /\s/.test(text[l - 1])) l--;
  let r = x;
  while (r < text.length && r - x < 64 && /\s/.test(text[r])) r++;
  if (l === x && r === x) return "。！？".includes(text[x - 1]) ? 2 : 0;
  const breaks = newlines(text.slice(l, r));
  if (breaks >= 2) return 3;
  if (breaks === 1) return 2;
  let j = l - 1;
  while (j > 0 && `"')]}»”’*_`.includes(text[j])) j--;
  return ".!?…。！？:".includes(text[j]) ? 2 : 1;
}

/** Strip blank lines around a window; also leading spaces when it starts mid-line. */
function trimWindow(text: string, start: number, end: number): { start: number; end: number } {
  const slice = text.slice(start, end);
  const lead = /^\s*/.exec(slice)![0];
  const lastNl = lead.lastIndexOf("\n");
  let s = start + lead.length;
  // Keep a code line's indentation when the window starts at the beginning of a line.
  if (lastNl >= 0 || start === 0 || text[start - 1] === "\n") s = start + lastNl + 1;
  if (s >= end || !text.slice(s, end).trim()) return { start: end, end };
  let e = end;
  while (e > s && /\s/.test(text[e - 1])) e--;
  return { start: s, end: e };
}

/** Character ranges of the windows of `text`, each at most `max` tokens. */
export function tokenWindows(text: string, max: number, overlap: number): { start: number; end: number }[] {
  const spans = tokenSpans(text);
  const n = spans.length;
  const P = new Array<number>(n + 1);
  P[0] = 0;
  for (let i = 0; i < n; i++) P[i + 1] = P[i] + spans[i].tokens;
  const at = (i: number) => (i < n ? spans[i].start : text.length);
  /** Smallest index i ≥ lo with P[i] ≥ value, or n + 1 when there is none. */
  const lowerBound = (value: number, lo: number) => {
    let hi = n + 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (P[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const out: { start: number; end: number }[] = [];
  let a = 0;
  while (a < n) {
    // Largest b with P[b] - P[a] ≤ max (at least one span, so a lone oversized span still moves on).
    const b = Math.max(lowerBound(P[a] + max + 1, a) - 1, a + 1);
    let cut = b;
    if (b < n) {
      // Do not cut so early that the window is mostly empty or the next one cannot move forward.
      const minFill = P[a] + Math.min(max, Math.max(Math.ceil(max / 2), overlap + 1));
      let best = boundaryRank(text, at(b));
      for (let c = b - 1; c > a && P[c] >= minFill && best < 3; c--) {
        const r = boundaryRank(text, at(c));
        if (r > best) {
          best = r;
          cut = c;
        }
      }
    }
    // Span counts are exact for the untrimmed slice; re-check the trimmed text to be safe.
    let w = trimWindow(text, at(a), at(cut));
    while (cut > a + 1 && tokenCount(text.slice(w.start, w.end)) > max) {
      cut--;
      w = trimWindow(text, at(a), at(cut));
    }
    out.push(w);
    if (cut >= n) break;
    if (overlap <= 0) {
      a = cut;
      continue;
    }
    // Start the next window ~overlap tokens back, preferably at a sentence or line start.
    const s = Math.max(lowerBound(P[cut] - overlap, a + 1), a + 1);
    let next = s;
    let found = false;
    for (let c = s; c < cut; c++) {
      if (P[cut] - P[c] < overlap / 2) break;
      if (boundaryRank(text, at(c)) >= 2) {
        next = c;
        found = true;
        break;
      }
    }
    if (!found) {
      for (let c = s; c < cut; c++) {
        if (boundaryRank(text, at(c)) >= 1) {
          next = c;
          break;
        }
      }
    }
    a = next;
  }
  return out.filter((w) => w.end > w.start);
}

function validate(opts: ChunkingOptions): void {
  const { maxTokens, overlapTokens, headingDepth, minTokens } = opts;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`chunking.maxTokens must be a positive integer, got ${maxTokens}`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError(`chunking.overlapTokens must be an integer in 0..maxTokens-1, got ${overlapTokens}`);
  }
  if (!Number.isInteger(headingDepth) || headingDepth < 1 || headingDepth > 6) throw new RangeError(`chunking.headingDepth must be 1–6, got ${headingDepth}`);
  if (!Number.isFinite(minTokens) || minTokens < 0) throw new RangeError(`chunking.minTokens must be ≥ 0, got ${minTokens}`);
}

export function chunkDocument(doc: LoadedDocument, ctx: { path: string; version: string }, opts: ChunkingOptions): Chunk[] {
  validate(opts);
  const blocks = mergeSmall(group(doc.sections, opts.headingDepth).map(buildBlock), opts.minTokens);
  const chunks: Chunk[] = [];
  const emit = (block: BuiltBlock, lineAt: (offset: number) => number, start: number, end: number) => {
    const text = block.text.slice(start, end);
    if (!text.trim()) return;
    const ordinal = chunks.length;
    chunks.push({
      id: `${ctx.path}#${ordinal}`,
      path: ctx.path,
      ordinal,
      title: doc.title,
      headingPath: [...block.headingPath],
      text,
      lineStart: lineAt(start),
      lineEnd: lineAt(end - 1),
      version: ctx.version,
      tokens: tokenCount(text),
      meta: { ...doc.meta },
    });
  };
  for (const block of blocks) {
    if (!hasBody(block)) continue;
    const lineAt = lineMapper(block);
    if (block.tokens <= opts.maxTokens) emit(block, lineAt, 0, block.text.length);
    else for (const w of tokenWindows(block.text, opts.maxTokens, opts.overlapTokens)) emit(block, lineAt, w.start, w.end);
  }
  return chunks;
}
