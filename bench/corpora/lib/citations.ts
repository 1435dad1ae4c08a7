/**
 * Citation checks, independent of ragtune's chunker: find each cited quote in its source file and
 * compare the citation's heading path and line range with where the quote really is.
 *
 * A cited quote is the citation's `quote` field when the generator records one (sentences quoted
 * from one section are joined there with " … ": each is its own quote), else the answer text
 * between the previous citation marker (or the start) and this marker: the offline reader writes
 * `quote [1] quote [2]`. Each marker occurrence is one cited quote.
 *
 * Matching is on word tokens (lower-case letters and digits), after removing markdown link targets,
 * HTML tags and entities, so emphasis, code ticks, list bullets and line wrapping do not matter. The
 * quote is searched inside the cited line range first, then in the whole file (the occurrence nearest
 * the cited range wins). A quote that is not found whole may still be found as a run of at least 60%
 * of its tokens (and at least 4): "fuzzy". Anything else is "unlocated" and never counts as right.
 */
import { decodeEntities, outline, sameHeadingPath, normalizeHeading, type MarkdownOutline } from "./sections.ts";

export interface CitationRecord {
  marker: number;
  path: string;
  headingPath: string[];
  lineStart: number;
  lineEnd: number;
  /** The exact quoted text, when the generator records it. */
  quote?: string;
  /** Version label of the cited document, when the generator records it. */
  version?: string;
}

export type LocateHow = "exact-in-range" | "exact-in-file" | "fuzzy-in-range" | "fuzzy-in-file";

export interface CitationCheck {
  path: string;
  quote: string;
  cited: { headingPath: string[]; lineStart: number; lineEnd: number };
  /** Where the quote is, or the reason it could not be found. */
  located?: { how: LocateHow; lineStart: number; lineEnd: number; headingPath: string[] };
  unlocated?: string;
  /** The cited heading path equals the quote's own section (full path). */
  sectionRight: boolean;
  /** The cited innermost heading equals the quote's innermost heading (diagnostic, weaker). */
  innermostRight: boolean;
  /** The cited line range contains the whole quote. */
  rangeContains: boolean;
}

interface Token {
  t: string;
  line: number;
}

const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** Remove what a quote never carries: link targets, reference definitions' URLs, HTML tags, entities. */
function plain(line: string): string {
  let s = line.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1");
  s = s.replace(/^\s*\[[^\]]+\]:\s*\S+.*$/, "");
  s = s.replace(/<\/?[a-z][^>]*>/gi, " ");
  return decodeEntities(s);
}

function tokensOf(text: string, line = 0): Token[] {
  const out: Token[] = [];
  for (const m of plain(text).toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) out.push({ t: m[0], line });
  return out;
}

/** A parsed source file: its tokens with line numbers, and its outline. */
export interface SourceFile {
  tokens: Token[];
  outline: MarkdownOutline;
}

export function parseSourceFile(text: string): SourceFile {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const tokens = lines.flatMap((l, i) => tokensOf(l, i + 1));
  return { tokens, outline: outline(text) };
}

/** The cited quotes of one answer: one entry per marker occurrence (or per citation with a `quote`). */
export function citedQuotes(output: string, citations: CitationRecord[]): { citation: CitationRecord; quote: string }[] {
  const out: { citation: CitationRecord; quote: string }[] = [];
  const byMarker = new Map<number, CitationRecord>();
  for (const c of citations) {
    // Several sentences quoted from one section share a citation; its quote joins them with " … ".
    if (typeof c.quote === "string" && c.quote.trim() !== "") {
      for (const q of c.quote.split(" … ")) if (q.trim()) out.push({ citation: c, quote: q.trim() });
    } else byMarker.set(c.marker, c);
  }
  if (byMarker.size === 0) return out;
  let from = 0;
  for (const m of output.matchAll(MARKER)) {
    const segment = output.slice(from, m.index);
    from = (m.index ?? 0) + m[0].length;
    for (const n of m[1].split(",").map((x) => Number(x.trim()))) {
      const c = byMarker.get(n);
      if (c) out.push({ citation: c, quote: segment.trim() });
    }
  }
  return out;
}

/** Start indexes of every occurrence of `needle` in `hay` (token text only). */
function occurrences(hay: Token[], needle: string[]): number[] {
  const found: number[] = [];
  if (needle.length === 0) return found;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j].t !== needle[j]) continue outer;
    found.push(i);
  }
  return found;
}

/** Longest contiguous run of `needle` tokens found in `hay`: start in hay, length. */
function longestRun(hay: Token[], needle: string[], within?: (i: number) => boolean): { start: number; len: number } {
  let best = { start: -1, len: 0 };
  let prev = new Array<number>(needle.length + 1).fill(0);
  for (let i = 1; i <= hay.length; i++) {
    const cur = new Array<number>(needle.length + 1).fill(0);
    for (let j = 1; j <= needle.length; j++) {
      if (hay[i - 1].t !== needle[j - 1]) continue;
      cur[j] = prev[j - 1] + 1;
      const start = i - cur[j];
      if (cur[j] > best.len && (!within || within(start))) best = { start, len: cur[j] };
    }
    prev = cur;
  }
  return best;
}

/** Locate `quote` in a source file, preferring the cited line range. */
export function locate(file: SourceFile, quote: string, lineStart: number, lineEnd: number): CitationCheck["located"] | { reason: string } {
  const needle = tokensOf(quote).map((x) => x.t);
  if (needle.length === 0) return { reason: "empty quote" };
  const hay = file.tokens;
  const inRange = (i: number) => hay[i].line >= lineStart && hay[i].line <= lineEnd;
  const distance = (i: number) => (hay[i].line < lineStart ? lineStart - hay[i].line : hay[i].line > lineEnd ? hay[i].line - lineEnd : 0);
  const at = (start: number, len: number, how: LocateHow) => {
    const a = hay[start].line;
    const b = hay[start + len - 1].line;
    return { how, lineStart: a, lineEnd: b, headingPath: file.outline.pathAtLine[a] ?? [] };
  };
  const exact = occurrences(hay, needle);
  if (exact.length > 0) {
    const here = exact.find(inRange);
    if (here !== undefined) return at(here, needle.length, "exact-in-range");
    const nearest = exact.reduce((a, b) => (distance(b) < distance(a) ? b : a));
    return at(nearest, needle.length, "exact-in-file");
  }
  const need = Math.max(4, Math.ceil(0.6 * needle.length));
  if (needle.length < 4) return { reason: `quote not found (${needle.length} tokens, too short for a partial match)` };
  const ranged = longestRun(hay, needle, inRange);
  if (ranged.len >= need) return at(ranged.start, ranged.len, "fuzzy-in-range");
  const anywhere = longestRun(hay, needle);
  if (anywhere.len >= need) return at(anywhere.start, anywhere.len, "fuzzy-in-file");
  return { reason: `quote not found (longest matching run ${anywhere.len} of ${needle.length} tokens)` };
}

/** Check one cited quote against its source file (`file` undefined: the file could not be read). */
export function checkCitation(citation: CitationRecord, quote: string, file: SourceFile | undefined, readError?: string): CitationCheck {
  const base = {
    path: citation.path,
    quote,
    cited: { headingPath: citation.headingPath ?? [], lineStart: citation.lineStart, lineEnd: citation.lineEnd },
    sectionRight: false,
    innermostRight: false,
    rangeContains: false,
  };
  if (!file) return { ...base, unlocated: readError ?? "source file not readable" };
  const found = locate(file, quote, citation.lineStart, citation.lineEnd);
  if (!found || "reason" in found) return { ...base, unlocated: found ? found.reason : "not found" };
  const cited = base.cited.headingPath;
  const own = found.headingPath;
  const last = (p: string[]) => (p.length > 0 ? normalizeHeading(p[p.length - 1]) : "");
  return {
    ...base,
    located: found,
    sectionRight: sameHeadingPath(cited, own),
    innermostRight: last(cited) === last(own),
    rangeContains: found.lineStart >= citation.lineStart && found.lineEnd <= citation.lineEnd,
  };
}
