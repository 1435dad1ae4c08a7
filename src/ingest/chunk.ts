/**
 * Chunking. Four strategies (`ChunkingOptions.strategy`); `headings`, the default, is described
 * first, the other three in "Flat strategies" further down.
 *
 * `headings`: structure first, then token windows.
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
import type { Chunk, ChunkingOptions, ChunkingStrategy, ChunkSpan, LoadedDocument, Section } from "./index.ts";

/** Every value of `ChunkingOptions.strategy`. */
export const CHUNKING_STRATEGIES: readonly ChunkingStrategy[] = ["headings", "paragraphs", "sentences", "fixed"];

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
  /** Heading path of the section the part belongs to (its heading line or its body). */
  headingPath: string[];
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
function makePart(text: string, lineStart: number, lineEnd: number, sep: string, headingPath: string[]): Omit<Part, "start"> | undefined {
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
  return { text: body, lineStart, lineEnd, exact, sep, headingPath };
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
      const part = heading ? makePart(heading, line, line + newlines(heading), sep, s.headingPath) : undefined;
      if (part) {
        raw.push(part);
        sep = "\n";
      }
    }
    const body = makePart(s.text, s.lineStart, s.lineEnd, sep, i === lead ? headingPath : s.headingPath);
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

/** The spans of block text [start, end): one per part it overlaps, offsets relative to `start`. */
function blockSpans(block: BuiltBlock, lineAt: (offset: number) => number, start: number, end: number): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  for (const p of block.parts) {
    const from = Math.max(p.start, start);
    const to = Math.min(p.start + p.text.length, end);
    if (to <= from) continue;
    const span: ChunkSpan = { offset: from - start, headingPath: [...p.headingPath], lineStart: lineAt(from), lineEnd: lineAt(to - 1), exact: p.exact };
    spans.push(span);
  }
  if (spans.length > 0) spans[0].offset = 0;
  return spans;
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
/**
 * The token spans of `text` with prefix sums P (P[i] = tokens before span i), so windows can be cut
 * by exact token counts: `at(i)` is span i's start offset (text end for i = n) and `lowerBound`
 * the smallest i ≥ lo with P[i] ≥ value (n + 1 when none).
 */
function spanIndex(text: string) {
  const spans = tokenSpans(text);
  const n = spans.length;
  const P = new Array<number>(n + 1);
  P[0] = 0;
  for (let i = 0; i < n; i++) P[i + 1] = P[i] + spans[i].tokens;
  const at = (i: number) => (i < n ? spans[i].start : text.length);
  const lowerBound = (value: number, lo: number) => {
    let hi = n + 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (P[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return { n, P, at, lowerBound };
}

/**
 * The trimmed window from span `a` to span `cut`, with `cut` lowered until the trimmed text's exact
 * token count fits `max`: span counts are exact for the untrimmed slice, but trimming can
 * re-tokenize the edges. Shared by tokenWindows and fixedWindows.
 */
function fitWindow(text: string, at: (i: number) => number, a: number, cut: number, max: number): { window: { start: number; end: number }; cut: number } {
  let window = trimWindow(text, at(a), at(cut));
  while (cut > a + 1 && tokenCount(text.slice(window.start, window.end)) > max) window = trimWindow(text, at(a), at(--cut));
  return { window, cut };
}

export function tokenWindows(text: string, max: number, overlap: number): { start: number; end: number }[] {
  const { n, P, at, lowerBound } = spanIndex(text);

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
    const fitted = fitWindow(text, at, a, cut, max);
    const w = fitted.window;
    cut = fitted.cut;
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
  const { maxTokens, overlapTokens, headingDepth, minTokens, strategy } = opts;
  if (strategy !== undefined && !CHUNKING_STRATEGIES.includes(strategy)) {
    throw new RangeError(`chunking.strategy must be one of ${CHUNKING_STRATEGIES.join(", ")}, got ${JSON.stringify(strategy)}`);
  }
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`chunking.maxTokens must be a positive integer, got ${maxTokens}`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError(`chunking.overlapTokens must be an integer in 0..maxTokens-1, got ${overlapTokens}`);
  }
  if (!Number.isInteger(headingDepth) || headingDepth < 1 || headingDepth > 6) throw new RangeError(`chunking.headingDepth must be 1–6, got ${headingDepth}`);
  if (!Number.isFinite(minTokens) || minTokens < 0) throw new RangeError(`chunking.minTokens must be ≥ 0, got ${minTokens}`);
}

export function chunkDocument(doc: LoadedDocument, ctx: { path: string; version: string }, opts: ChunkingOptions): Chunk[] {
  validate(opts);
  const strategy = opts.strategy ?? "headings";
  if (strategy !== "headings") return chunkFlat(doc, ctx, opts, strategy);
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
      spans: blockSpans(block, lineAt, start, end),
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

// ---------------------------------------------------------------------------------------------
// Flat strategies: paragraphs, sentences, fixed
//
// The document is rebuilt as one text from its sections, heading lines included, each line
// remembering its source line and section. Where a loader mirrors the source (markdown, text),
// the blank lines between sections are put back, so a chunk's text is the exact source slice
// (except that a whitespace-only line the loader trimmed off a section comes back empty).
//
// - `paragraphs` and `sentences` cut that text into units (blocks or sentences, below), then
//   pack consecutive units greedily up to `maxTokens`. The next chunk repeats the previous
//   chunk's trailing units that fit in `overlapTokens`, unless it starts at a heading (a new
//   section needs no context from the old one). A chunk never ends on a heading line while more
//   follows (the heading moves to the next chunk), and a chunk of heading lines alone is dropped:
//   the headings are in the headingPath of what follows. A chunk's headingPath is that of its
//   first unit. A unit over `maxTokens` is split one level finer (block → list items or table
//   rows → sentences → lines) and, as a last resort, into token windows.
// - `fixed` cuts plain windows of exactly up to `maxTokens` tokens, each starting `overlapTokens`
//   tokens before the previous one ended, at tokenizer word boundaries; the headingPath is that of
//   the section where the window starts.
//
// `headingDepth` and `minTokens` only apply to `headings`: greedy packing leaves a small chunk
// only at a document's end or before a unit too big to join it.
// ---------------------------------------------------------------------------------------------

interface FlatLine {
  /** Offset of the line in `FlatDoc.text`. */
  start: number;
  /** 1-based source line: exact when the loader mirrors the source, a proportional estimate otherwise. */
  line: number;
  /** Index into `FlatDoc.paths`. */
  section: number;
  heading: boolean;
  blank: boolean;
  /** `line` is the exact source line (false: a proportional estimate). */
  exact: boolean;
}

interface FlatDoc {
  text: string;
  lines: FlatLine[];
  /** headingPath of each section. */
  paths: string[][];
}

function flatten(doc: LoadedDocument): FlatDoc {
  const texts: string[] = [];
  const lines: FlatLine[] = [];
  let offset = 0;
  let prev: { line: number; exact: boolean } | undefined;
  const push = (text: string, line: number, section: number, heading: boolean, exact: boolean) => {
    lines.push({ start: offset, line, section, heading, blank: text.trim() === "", exact });
    texts.push(text);
    offset += text.length + 1;
  };
  const place = (text: string, line: number, exact: boolean, section: number, heading: boolean) => {
    if (prev) {
      const gap = line - prev.line - 1;
      // Between exactly placed lines the gap is blank source lines: put them all back so chunk
      // text mirrors the source. Elsewhere one blank line marks the break.
      const blanks = gap > 0 ? (exact && prev.exact ? gap : 1) : 0;
      for (let k = 1; k <= blanks; k++) push("", Math.min(prev.line + k, line), section, false, exact && prev.exact);
    }
    push(text, line, section, heading, exact);
    prev = { line, exact };
  };
  doc.sections.forEach((s, si) => {
    if (levelOf(s) > 0) {
      const heading = (s.heading ?? s.headingPath[s.headingPath.length - 1] ?? "").trim();
      const at = s.headingLine ?? s.lineStart;
      if (heading) heading.split(/\r\n|\r|\n/).forEach((h, i) => place(h, at + i, true, si, true));
    }
    if (!s.text.trim()) return;
    const body = s.text.split(/\r\n|\r|\n/);
    const lineEnd = Math.max(s.lineStart, s.lineEnd);
    const exact = body.length - 1 === lineEnd - s.lineStart;
    const span = lineEnd - s.lineStart + 1;
    body.forEach((t, i) => place(t, exact ? s.lineStart + i : s.lineStart + Math.floor((i * span) / body.length), exact, si, false));
  });
  return { text: texts.join("\n"), lines, paths: doc.sections.map((s) => s.headingPath) };
}

/** Index of the flat line holding `offset`. */
function lineIndexAt(flat: FlatDoc, offset: number): number {
  let lo = 0;
  let hi = flat.lines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (flat.lines[mid].start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The spans of flat text [start, end), offsets relative to `start`: a new span where the section
 * changes, where exact lines stop following each other, or where exactness changes.
 */
function flatSpans(flat: FlatDoc, start: number, end: number): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  let section = -1;
  for (let i = lineIndexAt(flat, start); i < flat.lines.length && flat.lines[i].start < end; i++) {
    const line = flat.lines[i];
    const last = spans[spans.length - 1];
    if (last && line.section === section && line.exact === last.exact && (!line.exact || line.line === last.lineEnd + 1)) {
      last.lineEnd = Math.max(last.lineEnd, line.line);
      continue;
    }
    section = line.section;
    spans.push({ offset: Math.max(line.start, start) - start, headingPath: [...flat.paths[line.section]], lineStart: line.line, lineEnd: line.line, exact: line.exact });
  }
  return spans;
}

const lineEndOffset = (flat: FlatDoc, i: number) => (i + 1 < flat.lines.length ? flat.lines[i + 1].start - 1 : flat.text.length);

/** `start..end` without surrounding whitespace (`end <= start` when nothing is left). */
function trimSpan(text: string, start: number, end: number): [number, number] {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return [start, end];
}

// Markdown block syntax, as far as chunk boundaries need it.
const LIST_ITEM = /^\s{0,12}(?:[-*+]|\d{1,9}[.)])(?:\s|$)/;
const FENCE_LINE = /^\s*(?:(?:[-*+]|\d{1,9}[.)])\s+|>\s?)*(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^\s*(?:>\s?)*(`{3,}|~{3,})\s*$/;
const isTableDelimiter = (t: string) => t.includes("|") && t.includes("-") && /^[\s|:-]+$/.test(t);
/** "a | b" rows as the HTML loader writes tables, or "| a | b |" markdown rows. */
const isPipeRow = (t: string) => /^\s*\|/.test(t) || /\S\s\|\s\S/.test(t);
const indentOf = (t: string) => /^\s*/.exec(t)![0].length;

type BlockKind = "heading" | "paragraph" | "list" | "table" | "code";

interface FlatBlock {
  kind: BlockKind;
  /** First and last flat line index (inclusive). */
  first: number;
  last: number;
}

/** Fenced code regions: `fenceEnd[i]` is the closing line of the fence opened at line i. */
function fences(flat: FlatDoc, lineText: (i: number) => string): Map<number, number> {
  const ends = new Map<number, number>();
  const { lines } = flat;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].heading || lines[i].blank) continue;
    const open = FENCE_LINE.exec(lineText(i));
    if (!open || (open[1][0] === "`" && open[2].includes("`"))) continue;
    let j = i + 1;
    let closed = false;
    // An unclosed fence runs to the end of its section, as the loader saw no heading inside it.
    for (; j < lines.length && !lines[j].heading && lines[j].section === lines[i].section; j++) {
      const close = FENCE_CLOSE.exec(lineText(j));
      if (close && close[1][0] === open[1][0] && close[1].length >= open[1].length) {
        closed = true;
        break;
      }
    }
    let end = closed ? j : j - 1;
    while (!closed && end > i && lines[end].blank) end--;
    ends.set(i, end);
    i = end;
  }
  return ends;
}

/** Cut the flat document into blocks: headings, paragraphs, lists, tables and code fences. */
function blocksOf(flat: FlatDoc): { blocks: FlatBlock[]; fenceEnd: Map<number, number>; lineText: (i: number) => string } {
  const { lines } = flat;
  const lineText = (i: number) => flat.text.slice(lines[i].start, lineEndOffset(flat, i));
  const fenceEnd = fences(flat, lineText);
  const n = lines.length;
  const sameRun = (i: number, j: number) => j < n && !lines[j].heading && lines[j].section === lines[i].section;
  const tableStartsAt = (i: number) =>
    sameRun(i, i + 1) && !lines[i + 1].blank && lineText(i).includes("|") && (isTableDelimiter(lineText(i + 1)) || (isPipeRow(lineText(i)) && isPipeRow(lineText(i + 1))));
  const blocks: FlatBlock[] = [];
  let i = 0;
  while (i < n) {
    const line = lines[i];
    if (line.blank) {
      i++;
      continue;
    }
    let kind: BlockKind;
    let last = i;
    const text = lineText(i);
    if (line.heading) kind = "heading";
    else if (LIST_ITEM.test(text)) {
      kind = "list";
      // Items, their indented or lazy continuation lines, blank lines between items, and fences inside.
      let j = i;
      for (;;) {
        if (fenceEnd.has(j)) j = fenceEnd.get(j)!;
        last = j;
        const k = j + 1;
        if (!sameRun(i, k)) break;
        if (lines[k].blank) {
          let m = k;
          while (sameRun(i, m) && lines[m].blank) m++;
          if (sameRun(i, m) && (LIST_ITEM.test(lineText(m)) || indentOf(lineText(m)) >= 2)) {
            j = m;
            continue;
          }
          break;
        }
        const t = lineText(k);
        if (LIST_ITEM.test(t) || indentOf(t) >= 2 || !(fenceEnd.has(k) || tableStartsAt(k))) {
          j = k;
          continue;
        }
        break;
      }
    } else if (fenceEnd.has(i)) {
      kind = "code";
      last = fenceEnd.get(i)!;
    } else if (tableStartsAt(i)) {
      kind = "table";
      while (sameRun(i, last + 1) && !lines[last + 1].blank && lineText(last + 1).includes("|")) last++;
    } else {
      kind = "paragraph";
      while (sameRun(i, last + 1) && !lines[last + 1].blank) {
        const t = lineText(last + 1);
        if (LIST_ITEM.test(t) || fenceEnd.has(last + 1) || tableStartsAt(last + 1)) break;
        last++;
      }
    }
    blocks.push({ kind, first: i, last });
    i = last + 1;
  }
  return { blocks, fenceEnd, lineText };
}

/** Words ending in "." that do not end a sentence. */
const ABBREVIATIONS = new Set(["e.g.", "i.e.", "vs.", "cf.", "approx.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "fig.", "inc.", "ltd.", "jr.", "sr.", "al.", "incl.", "esp.", "resp.", "no.", "nos.", "ca."]);
// The lookbehind starts a match only at the start of a run of punctuation: without it a long run
// not followed by a space ("....", 200k of them) was retried from every position, quadratically
// (145 s). A match can only ever start there, so the matches are the same.
const SENTENCE_END = /(?<![.!?…])[.!?…]+["'”’)\]*_`]*(?=\s)|[。！？]+["'”’」』)]*|\n[ \t]*\n\s*/g;

/**
 * Start offsets of the sentences after the first in `text`. A sentence ends at . ! ? … (plus
 * closing quotes/brackets/emphasis) followed by whitespace and a character that is not a
 * lower-case letter, and not after an abbreviation or initials ("e.g.", "U.S.", "J."); also at
 * 。！？ and at a blank line. "v2.1" and "$1,200.00" never match (no space after the dot).
 */
export function sentenceStarts(text: string): number[] {
  const starts: number[] = [];
  SENTENCE_END.lastIndex = 0;
  for (let m = SENTENCE_END.exec(text); m; m = SENTENCE_END.exec(text)) {
    let q = m.index + m[0].length;
    while (q < text.length && /\s/.test(text[q])) q++;
    if (q >= text.length) break;
    const punct = m[0][0];
    if (".!?…".includes(punct)) {
      if (/\p{Ll}/u.test(text[q])) continue;
      if (punct === ".") {
        let w = m.index;
        while (w > 0 && !/\s/.test(text[w - 1])) w--;
        const word = text.slice(w, m.index + 1).replace(/^[(["'“‘*_`]+/, "").toLowerCase();
        if (ABBREVIATIONS.has(word) || /^(?:\p{L}\.)+$/u.test(word)) continue;
      }
    }
    starts.push(q);
  }
  return starts;
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** A heading line: never ends a chunk, never a chunk's only content. */
  heading: boolean;
}

type Extent = [number, number];
type Splitter = (start: number, end: number) => Extent[];

/** Build the units of the flat document for `paragraphs` or `sentences`. */
function unitsOf(flat: FlatDoc, strategy: "paragraphs" | "sentences", max: number): Unit[] {
  const { text } = flat;
  const { blocks, fenceEnd, lineText } = blocksOf(flat);
  const units: Unit[] = [];

  const linesOf: Splitter = (start, end) => {
    const out: Extent[] = [];
    for (let i = lineIndexAt(flat, start); i < flat.lines.length && flat.lines[i].start < end; i++) {
      out.push([Math.max(start, flat.lines[i].start), Math.min(end, lineEndOffset(flat, i))]);
    }
    return out;
  };
  const sentencesOf: Splitter = (start, end) => {
    const cuts = sentenceStarts(text.slice(start, end)).map((c) => start + c);
    return [start, ...cuts].map((s, k): Extent => [s, k < cuts.length ? cuts[k] : end]);
  };
  /** List items: an item line with its continuation lines (fences inside an item stay with it). */
  const itemsOf: Splitter = (start, end) => {
    const out: Extent[] = [];
    let i = lineIndexAt(flat, start);
    for (; i < flat.lines.length && flat.lines[i].start < end; i++) {
      const s = Math.max(start, flat.lines[i].start);
      if (out.length === 0 || LIST_ITEM.test(lineText(i))) out.push([s, s]);
      if (fenceEnd.has(i)) i = fenceEnd.get(i)!;
      out[out.length - 1][1] = Math.min(end, lineEndOffset(flat, i));
    }
    return out;
  };
  /** Table rows, the header row kept with its delimiter row. */
  const rowsOf: Splitter = (start, end) => {
    const rows = linesOf(start, end);
    if (rows.length >= 2 && isTableDelimiter(text.slice(rows[1][0], rows[1][1]))) rows.splice(0, 2, [rows[0][0], rows[1][1]]);
    return rows;
  };

  const add = (start: number, end: number, heading: boolean, finer: Splitter[] | "window") => {
    [start, end] = trimSpan(text, start, end);
    if (start >= end) return;
    const tokens = tokenCount(text.slice(start, end));
    if (tokens <= max || finer === "window") {
      units.push({ start, end, tokens, heading });
      return;
    }
    for (let k = 0; k < finer.length; k++) {
      const parts = finer[k](start, end).filter(([a, b]) => text.slice(a, b).trim() !== "");
      if (parts.length > 1) {
        for (const [a, b] of parts) add(a, b, heading, finer.slice(k + 1));
        return;
      }
    }
    // A single run with no boundary left: token windows, each ≤ max by construction.
    for (const w of tokenWindows(text.slice(start, end), max, 0)) add(start + w.start, start + w.end, heading, "window");
  };

  for (const b of blocks) {
    const start = flat.lines[b.first].start;
    const end = lineEndOffset(flat, b.last);
    if (strategy === "paragraphs") {
      if (b.kind === "heading") add(start, end, true, [sentencesOf]);
      else if (b.kind === "paragraph") add(start, end, false, [sentencesOf, linesOf]);
      else if (b.kind === "list") add(start, end, false, [itemsOf, sentencesOf, linesOf]);
      else if (b.kind === "table") add(start, end, false, [rowsOf]);
      else add(start, end, false, [linesOf]);
      continue;
    }
    if (b.kind === "heading") add(start, end, true, [sentencesOf]);
    else if (b.kind === "paragraph") for (const [a, z] of sentencesOf(start, end)) add(a, z, false, [linesOf]);
    else if (b.kind === "list") for (const [a, z] of itemsOf(start, end)) add(a, z, false, [sentencesOf, linesOf]);
    else if (b.kind === "table") for (const [a, z] of rowsOf(start, end)) add(a, z, false, []);
    else add(start, end, false, [linesOf]);
  }
  return units;
}

/**
 * Greedy packing of units into chunks of at most `max` tokens; see the comment at the top of
 * this part. Returns unit index ranges [first, last).
 */
function packUnits(units: Unit[], text: string, max: number, overlap: number): [number, number][] {
  const n = units.length;
  const out: [number, number][] = [];
  // Estimated cost of unit i after unit i-1: its tokens plus one for a line-break separator; the
  // exact count of each chunk is checked before it is emitted.
  const sepCost = (i: number) => (text.slice(units[i - 1].end, units[i].start).includes("\n") ? 1 : 0);
  const estimate = (a: number, b: number) => {
    let t = 0;
    for (let i = a; i < b; i++) t += units[i].tokens + (i > a ? sepCost(i) : 0);
    return t;
  };
  let start = 0; // first unit of the chunk, carried over from the previous chunk when < fresh
  let fresh = 0; // first unit not yet in any chunk
  while (fresh < n) {
    let total = estimate(start, fresh);
    let end = fresh;
    while (end < n) {
      const cost = units[end].tokens + (end > start ? sepCost(end) : 0);
      if (end > fresh && total + cost > max) break;
      total += cost;
      end++;
    }
    let close = end;
    if (end < n) while (close - 1 > fresh && units[close - 1].heading) close--;
    else while (close > fresh && units[close - 1].heading) close--;
    let a = start;
    while (close > fresh && countTokens(text.slice(units[a].start, units[close - 1].end)) > max) {
      if (a < fresh) a++;
      else if (close - 1 > fresh) close--;
      else break; // one unit, ≤ max by construction
    }
    let emitted = false;
    if (close > fresh) {
      for (let i = a; i < close && !emitted; i++) emitted = !units[i].heading;
      if (emitted) out.push([a, close]);
    }
    if (close <= fresh || close >= n) break; // only bare trailing headings were left
    if (end >= n && units.slice(close).every((u) => u.heading)) break;
    start = fresh = close;
    if (emitted && overlap > 0 && !units[close].heading) {
      let carried = 0;
      for (let k = close - 1; k > a; k--) {
        carried += units[k].tokens;
        if (carried > overlap || estimate(k, close + 1) > max) break;
        start = k;
      }
    }
  }
  return out;
}

/** Token windows with no boundary snapping: each ends after at most `max` tokens, the next starts `overlap` tokens back. */
export function fixedWindows(text: string, max: number, overlap: number): { start: number; end: number }[] {
  const { n, P, at, lowerBound } = spanIndex(text);
  const out: { start: number; end: number }[] = [];
  let a = 0;
  while (a < n) {
    const { window: w, cut: b } = fitWindow(text, at, a, Math.max(lowerBound(P[a] + max + 1, a) - 1, a + 1), max);
    if (w.end > w.start) out.push(w);
    if (b >= n) break;
    a = overlap > 0 ? Math.max(lowerBound(P[b] - overlap, a + 1), a + 1) : b;
  }
  return out;
}

function chunkFlat(doc: LoadedDocument, ctx: { path: string; version: string }, opts: ChunkingOptions, strategy: Exclude<ChunkingStrategy, "headings">): Chunk[] {
  const flat = flatten(doc);
  if (flat.lines.length === 0) return [];
  const { text } = flat;
  let ranges: Extent[];
  if (strategy === "fixed") {
    ranges = fixedWindows(text, opts.maxTokens, opts.overlapTokens).map((w): Extent => [w.start, w.end]);
  } else {
    const units = unitsOf(flat, strategy, opts.maxTokens);
    ranges = packUnits(units, text, opts.maxTokens, opts.overlapTokens).map(([a, b]): Extent => [units[a].start, units[b - 1].end]);
  }
  const chunks: Chunk[] = [];
  for (const [start, end] of ranges) {
    const body = text.slice(start, end);
    if (!body.trim()) continue;
    const first = flat.lines[lineIndexAt(flat, start)];
    const last = flat.lines[lineIndexAt(flat, end - 1)];
    const ordinal = chunks.length;
    chunks.push({
      id: `${ctx.path}#${ordinal}`,
      path: ctx.path,
      ordinal,
      title: doc.title,
      headingPath: [...flat.paths[first.section]],
      text: body,
      lineStart: first.line,
      lineEnd: Math.max(first.line, last.line),
      version: ctx.version,
      tokens: tokenCount(body),
      meta: { ...doc.meta },
      spans: flatSpans(flat, start, end),
    });
  }
  return chunks;
}
