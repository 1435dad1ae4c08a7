/**
 * Markdown / MDX loader: YAML front matter, title, and heading sections (ATX, setext, one-line HTML) whose line numbers
 * point into the original file (front matter included), so citations can quote `path:line`.
 */
import { parseDocument } from "yaml";
import type { LoadedDocument, Loader, LoaderInput, Section } from "../index.ts";
import { LIMITS, LimitError, yamlDepth } from "../limits.ts";

/** A heading found by a loader, in 0-based line coordinates of the split source. */
export interface HeadingMark {
  /** 0-based index of the heading's first line. */
  line: number;
  /** Lines the heading occupies (2 for an underlined heading). */
  span: number;
  level: number;
  title: string;
  /** The heading as written, kept when the chunker folds the section into its parent. */
  raw: string;
}

/** Split into lines without changing line numbering (CRLF and lone CR both count as one break). */
export function splitLines(text: string): string[] {
  return text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
}

/** File name without directories and extension: the title of last resort. */
export function baseTitle(path: string): string {
  const name = path.split(/[\\/]/).pop() ?? path;
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** A text loader's input as text: ingest decodes it; direct callers may pass bytes only (UTF-8). */
export function inputText(input: LoaderInput): string {
  return input.text ?? new TextDecoder("utf-8").decode(input.bytes);
}

/**
 * Turn a line array plus the headings found in it into sections. Section text is the exact
 * source lines (leading/trailing blank lines dropped), so the chunker can map every character
 * back to its line.
 */
export function buildSections(lines: string[], from: number, headings: HeadingMark[]): Section[] {
  const sections: Section[] = [];
  const firstHeading = headings.length > 0 ? headings[0].line : lines.length;
  const preamble = trimRange(lines, from, firstHeading - 1);
  if (preamble) sections.push({ headingPath: [], level: 0, ...preamble });

  const stack: { level: number; title: string }[] = [];
  headings.forEach((h, k) => {
    while (stack.length > 0 && stack[stack.length - 1].level >= h.level) stack.pop();
    stack.push({ level: h.level, title: h.title });
    const end = (k + 1 < headings.length ? headings[k + 1].line : lines.length) - 1;
    const body = trimRange(lines, h.line + h.span, end) ?? { text: "", lineStart: h.line + 1, lineEnd: h.line + 1 };
    sections.push({
      headingPath: stack.map((s) => s.title),
      level: h.level,
      heading: h.raw,
      headingLine: h.line + 1,
      ...body,
    });
  });
  return sections;
}

function trimRange(lines: string[], a: number, b: number): { text: string; lineStart: number; lineEnd: number } | undefined {
  while (a <= b && lines[a].trim() === "") a++;
  while (b >= a && lines[b].trim() === "") b--;
  if (a > b) return undefined;
  return { text: lines.slice(a, b + 1).join("\n"), lineStart: a + 1, lineEnd: b + 1 };
}

// Fences may sit inside list items or block quotes, so a container prefix is allowed before them;
// a heading-looking line inside any fence must not split the document.
const FENCE_OPEN = /^\s*(?:(?:[-*+]|\d{1,9}[.)])\s+|>\s?)*(`{3,}|~{3,})(.*)$/;
const ATX = /^ {0,3}(#{1,6})(?=[ \t]|$)(.*)$/;
/** A line that is one HTML heading element: `<h1 align="center">Fastify</h1>` renders as a heading. */
const HTML_HEADING = /^ {0,3}<h([1-6])(?:\s[^>]*)?>(.*?)<\/h\1>\s*$/i;
/** Setext underline: `Title` then `=====` (level 1) or `-----` (level 2). */
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
/** Lines that cannot be a setext heading's text (lists, quotes, tables, tags, code, headings). */
const NOT_SETEXT_TEXT = /^(?: {4,}|\s*(?:[-*+]\s|\d{1,9}[.)]\s|>|\||<|#|`{3,}|~{3,}))/;

/** Plain heading text: closing hashes, `{#id}` attributes, link syntax and code ticks removed. */
export function cleanHeading(raw: string): string {
  let t = raw.trim();
  // Closing sequence: trailing #'s preceded by a space (or alone). Manual scans, not regexes,
  // because end-anchored whitespace patterns backtrack quadratically on long lines.
  let j = t.length;
  while (j > 0 && t[j - 1] === "#") j--;
  if (j < t.length && (j === 0 || t[j - 1] === " " || t[j - 1] === "\t")) t = t.slice(0, j).trimEnd();
  const attr = t.endsWith("}") ? t.lastIndexOf("{#") : -1;
  if (attr >= 0 && t.indexOf("}", attr) === t.length - 1) t = t.slice(0, attr).trimEnd();
  // Links and images become their text, innermost first ("[![badge](img)](url)" → "badge").
  // Link text without "[" inside: each attempt stops at the next "[", so each pass is linear
  // (the pattern that allowed "[" took 15 s on a heading of 200k "[").
  for (let pass = 0; pass < 8; pass++) {
    const next = t.replace(/!?\[([^[\]]*)\]\([^)]*\)/g, "$1");
    if (next === t) break;
    t = next;
  }
  return stripHeadingMarkup(t)
    .replace(/`+/g, "")
    .replace(/\*\*/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * HTML and component markup in a heading (`## server.fs.strict <Badge type="tip" text="5.1+" />`,
 * `<code>x</code>`): a tag with attributes, a self-closing or closing tag, or an opening tag that
 * is closed later, is markup; a bare `<package_selector>` is a placeholder and stays.
 */
function stripHeadingMarkup(t: string): string {
  if (!t.includes("<")) return t;
  const closed = new Set(Array.from(t.matchAll(/<\/([A-Za-z][\w.-]*)\s*>/g), (m) => m[1].toLowerCase()));
  return t.replace(/<(\/?)([A-Za-z][\w.-]*)((?:\s[^<>]*)?)(\/?)>/g, (whole, slash: string, name: string, attrs: string, self: string) =>
    slash || self || attrs.trim() || closed.has(name.toLowerCase()) ? " " : whole,
  );
}

/**
 * Headings outside fenced code blocks, from line index `from`: ATX (`## Title`), single-line HTML
 * headings (`<h1>Title</h1>`) and setext headings (`Title` over `===` / `---`) whose text is a
 * one-line paragraph.
 */
export function findAtxHeadings(lines: string[], from: number): HeadingMark[] {
  const marks: HeadingMark[] = [];
  let fence: { ch: string; len: number } | undefined;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i];
    if (fence) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === fence.ch && close[1].length >= fence.len) fence = undefined;
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    // CommonMark: a backtick fence's info string may not contain backticks (that is inline code).
    if (open && !(open[1][0] === "`" && open[2].includes("`"))) {
      fence = { ch: open[1][0], len: open[1].length };
      continue;
    }
    const h = ATX.exec(line);
    if (h) {
      const title = cleanHeading(h[2]);
      if (!title) continue; // an empty "#" line carries no structure worth a section
      marks.push({ line: i, span: 1, level: h[1].length, title, raw: line.trim() });
      continue;
    }
    const html = HTML_HEADING.exec(line);
    if (html) {
      const title = cleanHeading(html[2].replace(/<[^>]*>/g, " ").replace(/\s+/g, " "));
      if (title) marks.push({ line: i, span: 1, level: Number(html[1]), title, raw: line.trim() });
      continue;
    }
    const underline = SETEXT.exec(line);
    const text = lines[i - 1];
    const before = i >= 2 ? lines[i - 2] : "";
    const previous = marks[marks.length - 1];
    if (
      underline &&
      i - 1 >= from &&
      text !== undefined &&
      text.trim() !== "" &&
      !NOT_SETEXT_TEXT.test(text) &&
      (i - 1 === from || before.trim() === "") &&
      !(previous && previous.line + previous.span > i - 1)
    ) {
      const title = cleanHeading(text);
      if (title) marks.push({ line: i - 1, span: 2, level: underline[1][0] === "=" ? 1 : 2, title, raw: `${text.trim()}\n${line.trim()}` });
    }
  }
  return marks;
}

interface FrontMatter {
  data: Record<string, unknown>;
  /** Index of the first line after the closing delimiter. */
  bodyFrom: number;
}

function parseFrontMatter(lines: string[], path: string): FrontMatter {
  if (!/^---[ \t]*$/.test(lines[0] ?? "")) return { data: {}, bodyFrom: 0 };
  let close = -1;
  for (let i = 1; i < lines.length; i++) {
    if (/^(---|\.\.\.)[ \t]*$/.test(lines[i])) {
      close = i;
      break;
    }
  }
  if (close < 0) throw new Error(`${path}:1: front matter starts with '---' but is never closed by another '---' line`);
  const yamlText = lines.slice(1, close).join("\n");
  // The YAML parser recurses per nesting level: measure before parsing.
  if (yamlText.length > LIMITS.frontMatterBytes) {
    throw new LimitError(`${path}:2: front matter is ${yamlText.length} characters long (limit ${LIMITS.frontMatterBytes}): its fields would be copied onto every chunk`);
  }
  const depth = yamlDepth(yamlText);
  if (depth > LIMITS.yamlDepth) throw new LimitError(`${path}:2: front matter nests ${depth} levels deep (limit ${LIMITS.yamlDepth}): not parsed`);
  const doc = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    // The YAML starts on file line 2; count newlines up to the error offset to report a file line.
    const offset = Math.min(err.pos[0], yamlText.length);
    const line = 2 + (yamlText.slice(0, offset).match(/\n/g)?.length ?? 0);
    const reason = err.message.split("\n")[0].replace(/\s+at line \d+, column \d+:?\s*$/, "");
    throw new Error(`${path}:${line}: invalid YAML front matter: ${reason}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) return { data: {}, bodyFrom: close + 1 };
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${path}:2: front matter must be a YAML mapping of 'key: value' lines, got ${Array.isArray(value) ? "a list" : typeof value}`);
  }
  return { data: value as Record<string, unknown>, bodyFrom: close + 1 };
}

/**
 * Sections of a markdown text (ATX headings outside code fences), shared by every loader that
 * produces markdown. Line numbers are 1-based in `text`, plus `lineOffset` (the number of source
 * lines before `text`, e.g. a front matter block).
 */
export function sectionsFromMarkdown(text: string, lineOffset = 0): Section[] {
  const lines = splitLines(text);
  const sections = buildSections(lines, 0, findAtxHeadings(lines, 0));
  if (lineOffset !== 0) {
    for (const s of sections) {
      s.lineStart += lineOffset;
      s.lineEnd += lineOffset;
      if (s.headingLine !== undefined) s.headingLine += lineOffset;
    }
  }
  return sections;
}

export function loadMarkdown(text: string, path: string): LoadedDocument {
  const lines = splitLines(text);
  const fm = parseFrontMatter(lines, path);
  const sections = sectionsFromMarkdown(lines.slice(fm.bodyFrom).join("\n"), fm.bodyFrom);
  const { title: fmTitle, ...meta } = fm.data;
  const title =
    (typeof fmTitle === "string" || typeof fmTitle === "number") && String(fmTitle).trim()
      ? String(fmTitle).trim()
      : // An HTML <h1> is often a site banner repeated on every page (fastify's "Fastify"): it
        // heads the sections, but the page's title is its first markdown H1 or its file name.
        (sections.find((s) => s.level === 1 && !s.heading?.trimStart().startsWith("<"))?.headingPath.at(-1) ?? baseTitle(path));
  return { title, meta, sections };
}

export const markdownLoader: Loader = {
  extensions: [".md", ".markdown", ".mdx"],
  load: (input) => loadMarkdown(inputText(input), input.path),
};
