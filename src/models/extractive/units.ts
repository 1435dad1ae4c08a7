/**
 * Markdown → quotable units: prose sentences, list items, table rows (the header row names their
 * columns, it is not an answer) and code lines. Each unit keeps
 * - `quote`: the source text as a reader sees it — links as their text, emphasis marks dropped,
 *   but code spans kept as code and placeholders (`<USERNAME>`), HTML-looking tokens and inline
 *   code never removed: a quoted answer is the source's words;
 * - `plain`: the same without code marks, for matching;
 * - the heading path and source lines of its own section (from the chunk's spans), which is what
 *   a citation of the unit names.
 */
import { contentTokens, tokenize } from "../../retrieve/tokenize.ts";
import { locate } from "../citations.ts";
import { looksLikeInjectedInstruction } from "../injection.ts";
import type { ContextChunk } from "../index.ts";
import { unitCues, type UnitCues, type UnitKind } from "./answer-types.ts";

export interface Unit {
  /** Index of the unit's chunk in the request's context. */
  chunk: number;
  kind: UnitKind;
  /** Text quoted in the answer: the source sentence, code spans kept as code. */
  quote: string;
  /** The quote without code marks, for matching and cues. */
  plain: string;
  terms: Set<string>;
  /** Content tokens in order, for phrase matches. */
  sequence: string[];
  /** Terms of the unit's own heading path (plus a table's header row). */
  headingTerms: Set<string>;
  /** Heading path of the section the unit is in. */
  headingPath: string[];
  /** Source lines of the unit. */
  lineStart: number;
  lineEnd: number;
  length: number;
  cues: UnitCues;
  /** Text addressed to an AI model (models/injection.ts): data, never an answer. */
  injected: boolean;
}

const FENCE_RE = /^\s*(```|~~~)/;
const ATX_HEADING_RE = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const HTML_HEADING_RE = /^\s*<h([1-6])\b[^>]*>(.*?)<\/h\1>\s*$/i;
const LIST_ITEM_RE = /^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$/;
const TABLE_SEPARATOR_RE = /^\|?\s*:?-{1,}:?\s*(?:\|\s*:?-{1,}:?\s*)*\|?$/;
const RULE_RE = /^\s*(?:[-*_]\s*){3,}$/;
const SETEXT_RE = /^\s*(=+|-+)\s*$/;
/** Docusaurus/VitePress admonition fences (`:::tip`, `:::`), MDX imports and lines that are only tags: structure, not text. */
const STRUCTURE_LINE_RE = /^\s*(?::{3,}\s*[\w-]*.*|import\s+.+\s+from\s+['"].+['"];?|(?:<\/?[A-Za-z][\w.-]*(?:\s[^<>]*)?\/?>\s*)+)$/;
const ABBREVIATIONS = new Set(["e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "approx", "fig", "cf", "inc", "ltd", "jr", "sr"]);

interface LineRef {
  /** Text of the line (list markers and quote marks removed). */
  text: string;
  /** Index of the line in the chunk text. */
  index: number;
}

/** Split one context chunk into quotable units. */
export function splitUnits(chunk: ContextChunk, chunkIndex: number): Unit[] {
  const units: Unit[] = [];
  const rawLines = chunk.text.split("\n");
  const offsets: number[] = [];
  for (let i = 0, at = 0; i < rawLines.length; i++) {
    offsets.push(at);
    at += rawLines[i].length + 1;
  }
  // Without spans, the heading path of a line is tracked from the headings inside the chunk,
  // assuming the chunk's own path has one entry per level.
  const localHeadings: { level: number; text: string }[] = [];
  const fallbackPath = (): string[] => {
    if (localHeadings.length === 0) return chunk.headingPath;
    const first = localHeadings[0].level;
    return [...chunk.headingPath.slice(0, Math.max(0, first - 1)), ...localHeadings.map((h) => h.text)];
  };
  let paragraph: LineRef[] = [];
  let inFence = false;
  let tableHeader: string[] | undefined;
  let lastRow: { unit: Unit; cells: string[] } | undefined;
  /** An open list item ending in ":" whose more-indented items are its value. */
  let labelItem: { indent: number; nested: number } | undefined;

  const push = (kind: UnitKind, quote: string, first: number, last: number, extraHeading = "", marked = 0): Unit | undefined => {
    const plain = kind === "code" ? quote.replace(/^`+|`+$/g, "").trim() : stripCodeMarks(quote);
    const terms = tokenize(plain);
    if (terms.length === 0) return undefined;
    const where = locate(chunk, offsets[first], offsets[last] + rawLines[last].length, fallbackPath());
    const unit: Unit = {
      chunk: chunkIndex,
      kind,
      quote,
      plain,
      terms: new Set(terms),
      sequence: contentTokens(plain),
      headingTerms: new Set(tokenize(`${where.headingPath.join(" ")} ${extraHeading}`)),
      headingPath: where.headingPath,
      lineStart: where.lineStart,
      lineEnd: where.lineEnd,
      length: terms.length,
      cues: unitCues(plain, marked, kind),
      injected: looksLikeInjectedInstruction(plain),
    };
    units.push(unit);
    return unit;
  };
  const flushParagraph = (): void => {
    if (paragraph.length === 0) return;
    // Join the lines, remembering where each starts, so every sentence knows its own lines.
    let raw = "";
    const starts: number[] = [];
    for (const l of paragraph) {
      if (raw) raw += " ";
      starts.push(raw.length);
      raw += l.text;
    }
    const lineOf = (pos: number): number => {
      let k = 0;
      while (k + 1 < starts.length && starts[k + 1] <= pos) k++;
      return paragraph[k].index;
    };
    for (const s of sentenceExtents(raw)) {
      const source = raw.slice(s.start, s.end);
      push("text", renderQuote(source), lineOf(s.start), lineOf(Math.max(s.start, s.end - 1)), "", markedSpans(source).length);
    }
    paragraph = [];
  };

  rawLines.forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, "");
    if (FENCE_RE.test(line)) {
      flushParagraph();
      inFence = !inFence;
      return;
    }
    if (inFence) {
      if (line.trim()) push("code", asCode(line.trim()), index, index, "", 1);
      return;
    }
    const trimmed = line.trim();
    if (!trimmed.startsWith("|")) {
      tableHeader = undefined;
      lastRow = undefined;
    }
    if (!trimmed) {
      flushParagraph();
      labelItem = undefined;
      return;
    }
    const atx = ATX_HEADING_RE.exec(line) ?? HTML_HEADING_RE.exec(line);
    if (atx) {
      flushParagraph();
      const level = atx[1].startsWith("#") ? atx[1].length : Number(atx[1]);
      while (localHeadings.length > 0 && localHeadings[localHeadings.length - 1].level >= level) localHeadings.pop();
      localHeadings.push({ level, text: stripCodeMarks(renderQuote(atx[2])) });
      return;
    }
    if (SETEXT_RE.test(line) && paragraph.length === 1) {
      // "Title\n=====": the paragraph line was a heading.
      localHeadings.length = 0;
      localHeadings.push({ level: line.includes("=") ? 1 : 2, text: stripCodeMarks(renderQuote(paragraph[0].text)) });
      paragraph = [];
      return;
    }
    if (RULE_RE.test(line) || STRUCTURE_LINE_RE.test(line)) {
      flushParagraph();
      return;
    }
    if (trimmed.startsWith("|")) {
      flushParagraph();
      if (TABLE_SEPARATOR_RE.test(trimmed)) {
        // The row above was the header: it describes the columns, it is not an answer.
        if (lastRow) {
          tableHeader = lastRow.cells.map(stripCodeMarks);
          units.splice(units.indexOf(lastRow.unit), 1);
          lastRow = undefined;
        }
        return;
      }
      const cells = tableCells(trimmed);
      const quote = cells.filter(Boolean).join(" | ");
      const unit = push("row", quote, index, index, tableHeader?.join(" ") ?? "", markedSpans(trimmed).length);
      lastRow = unit && !tableHeader ? { unit, cells } : undefined;
      return;
    }
    const item = LIST_ITEM_RE.exec(line);
    if (item) {
      const indent = /^\s*/.exec(line)![0].length;
      // "* Default:" with nested "* On Windows: **60**" items: the nested items are its value.
      if (labelItem && indent > labelItem.indent) {
        if (labelItem.nested > 0) paragraph[paragraph.length - 1].text += ";";
        paragraph.push({ text: item[1], index });
        labelItem.nested++;
        return;
      }
      flushParagraph();
      paragraph.push({ text: item[1], index });
      labelItem = /:\s*$/.test(item[1]) ? { indent, nested: 0 } : undefined;
      return;
    }
    labelItem = undefined;
    paragraph.push({ text: trimmed.replace(/^(?:>\s?)+/, ""), index });
  });
  flushParagraph();
  return units;
}

/** A code line quoted as code, with a fence longer than any backtick run inside it. */
function asCode(code: string): string {
  const longest = Math.max(0, ...Array.from(code.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return longest > 0 ? `${fence} ${code} ${fence}` : `${fence}${code}${fence}`;
}

/** Inner text of `code`, **bold** and quoted spans: names of keys, settings, headers, UI items. */
function markedSpans(markdown: string): string[] {
  const spans: string[] = [];
  for (const m of markdown.matchAll(/(`+)(.+?)\1|(\*\*|__)(?=\S)(.+?)(?<=\S)\3|["“]([^"”]{1,60})["”]/g)) {
    const span = m[2] !== undefined ? m[2].trim() : stripCodeMarks(renderQuote(m[4] ?? m[5] ?? ""));
    // "**Note:**" and the like label a paragraph; they name nothing.
    if (span && !/:$/.test(span)) spans.push(span);
  }
  return spans;
}

function tableCells(row: string): string[] {
  const inner = row.replace(/^\|/, "").replace(/(?<!\\)\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => renderQuote(cell.replace(/\\\|/g, "|")));
}

// ---------------------------------------------------------------------------------------------
// Rendering: markdown source → the text a reader sees, code kept as code
// ---------------------------------------------------------------------------------------------

/** HTML elements that are markup in prose; other `<word>`s are placeholders and stay. */
const VOID_TAGS = new Set(["br", "hr", "wbr", "img", "source", "input", "meta", "link"]);
const BLOCK_TAGS = new Set(["br", "hr", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "thead", "tbody", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "blockquote", "pre", "details", "summary", "dl", "dt", "dd", "figure", "figcaption", "header", "footer", "nav", "main", "aside"]);
const ENTITIES: ReadonlyMap<string, string> = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
  ["nbsp", " "],
  ["#39", "'"],
]);

/**
 * Markdown source as quoted text: code spans kept (as `code`), links → their text, images → alt
 * text, emphasis marks, footnote references and bracketed numbers (they would read as our
 * citation markers) dropped, HTML markup removed — a tag with attributes, a closing tag with its
 * opening tag, a void element — while `<USERNAME>`-style placeholders stay.
 */
export function renderQuote(markdown: string): string {
  const out: string[] = [];
  let last = 0;
  for (const m of markdown.matchAll(/(`+)(.+?)\1/g)) {
    out.push(renderProse(markdown.slice(last, m.index)));
    const code = m[2].trim();
    if (code) out.push(asCode(code));
    last = m.index! + m[0].length;
  }
  out.push(renderProse(markdown.slice(last)));
  return out.join("").replace(/\s+/g, " ").trim();
}

function renderProse(text: string): string {
  if (!text) return text;
  const closed = new Set(Array.from(text.matchAll(/<\/([A-Za-z][\w-]*)\s*>/g), (m) => m[1].toLowerCase()));
  return (
    text
      .replace(/\\([\\`*_{}[\]()#+\-.!<>|~])/g, (_, c: string) => `\u0000${c.charCodeAt(0)}\u0000`)
      .replace(/<!--[\s\S]*?-->/g, " ")
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
      .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
      .replace(/\s*\[\^[^\]]*\]/g, "")
      .replace(/<((?:https?|mailto):[^>\s]+)>/g, "$1")
      .replace(/<(\/?)([A-Za-z][\w-]*)((?:\s[^<>]*)?)(\/?)>/g, (whole, slash: string, name: string, attrs: string, selfClose: string) => {
        const lower = name.toLowerCase();
        const markup = slash !== "" || attrs.trim() !== "" || selfClose !== "" || VOID_TAGS.has(lower) || closed.has(lower);
        // Block elements separate words; inline ones (<kbd>, <a>, <code>) sit inside them.
        return markup ? (BLOCK_TAGS.has(lower) ? " " : "") : whole;
      })
      .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
      .replace(/(^|[^\p{L}\p{N}*])\*(?=\S)(.+?)(?<=\S)\*(?![\p{L}\p{N}*])/gu, "$1$2")
      // `_` only at word boundaries, so snake_case identifiers survive.
      .replace(/(^|[^\p{L}\p{N}_])_(?=\S)(.+?)(?<=\S)_(?![\p{L}\p{N}_])/gu, "$1$2")
      .replace(/~~(.+?)~~/g, "$1")
      .replace(/\s*\[\d+\]/g, "")
      .replace(/&(#?\w+);/g, (whole, name: string) => ENTITIES.get(name.toLowerCase()) ?? whole)
      .replace(/\u0000(\d+)\u0000/g, (_, code: string) => String.fromCharCode(Number(code)))
  );
}

/** A rendered quote without its code marks: the words to match. */
export function stripCodeMarks(quote: string): string {
  return quote.replace(/(`+) ?(.+?) ?\1/g, "$2").replace(/\s+/g, " ").trim();
}

/** Markdown syntax removed, the words kept (code marks too). */
export function cleanMarkdown(text: string): string {
  return stripCodeMarks(renderQuote(text));
}

// ---------------------------------------------------------------------------------------------
// Sentences
// ---------------------------------------------------------------------------------------------

/**
 * Sentence extents of markdown source: a break after . ! ? (with closing quotes/brackets/marks)
 * before a capital, digit, opening quote or a code span — not after abbreviations or initials,
 * and not inside a code span or link.
 */
export function sentenceExtents(text: string): { start: number; end: number }[] {
  const protectedRanges: [number, number][] = Array.from(text.matchAll(/(`+).+?\1|\[[^\]]*\]\([^)]*\)/g), (m) => [m.index!, m.index! + m[0].length]);
  const inside = (i: number) => protectedRanges.some(([a, b]) => i > a && i < b);
  const out: { start: number; end: number }[] = [];
  let start = 0;
  for (const m of text.matchAll(/(?<=[.!?]["'”’)\]*_`]*)\s+(?=["'“‘(\[*_]*(?:[\p{Lu}\p{N}]|`))/gu)) {
    const cut = m.index!;
    if (inside(cut)) continue;
    const prev = text.slice(start, cut);
    const lastWord = /([\p{L}.]+)\.["'”’)\]*_`]*$/u.exec(prev)?.[1]?.toLowerCase();
    if (lastWord && (ABBREVIATIONS.has(lastWord) || /^\p{L}$/u.test(lastWord))) continue;
    if (prev.trim()) out.push({ start, end: cut });
    start = cut + m[0].length;
  }
  if (text.slice(start).trim()) out.push({ start, end: text.length });
  return out;
}

/** Sentence split of plain text (questions, cleaned text). */
export function splitSentences(text: string): string[] {
  return sentenceExtents(text)
    .map((s) => text.slice(s.start, s.end).trim())
    .filter(Boolean);
}
