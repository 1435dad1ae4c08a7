/**
 * PDF loader (unpdf, the serverless build of Mozilla PDF.js): text per page, headings guessed
 * from the layout, metadata from the document information dictionary.
 *
 * Lines and pages. A PDF has no source lines, so a "line" here is one text line of a page as
 * PDF.js extracts it (content order, normally top to bottom; lines without text are not counted),
 * numbered from 1 on EACH page. Every section lies on one page and names it in its heading path,
 * `[title, "Page 3", ...headings]`, so a chunk's `lineStart`–`lineEnd` read "page 3, lines 4–9".
 * (The chunker may still merge a page too small to stand alone into its neighbour; that chunk's
 * heading path names the first page and its lineEnd counts on the last one.)
 *
 * Headings, in order of trust:
 * - a line set in a clearly larger font than the body text (the most common size), levels by
 *   size, largest first; consecutive lines of the same heading size are one wrapped heading;
 * - a numbered line at body size, "2 Scope" or "1.2 Exceptions", level by its depth;
 * - a short Title Case or ALL-CAPS line at body size that starts a block and is followed by text.
 * Each rule below comes from a false heading seen in real manuals: sentence endings, code,
 * contents lines with dot leaders, list numbering, running heads and feet (docs/loaders.md has
 * the full list). A heading continues across pages until the next one.
 */
import type { LoadedDocument, Loader, LoaderInput, Section } from "../index.ts";
import { baseTitle } from "./markdown.ts";

interface Line {
  text: string;
  /** Largest font size on the line, in points. */
  size: number;
}

interface Mark {
  /** 0-based index of the heading's first line on its page. */
  line: number;
  /** Lines the heading occupies. */
  span: number;
  level: number;
  title: string;
}

/** The minimal shape of a PDF.js text item (TextItem); marked-content items have no `str`. */
interface TextItemLike {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}

/** Join PDF.js text items into lines: an end-of-line flag or a baseline jump starts a new one. */
function pageLines(items: unknown[]): Line[] {
  const lines: Line[] = [];
  let text = "";
  let size = 0;
  let y: number | undefined;
  let xEnd = 0;
  const end = () => {
    const t = text.replace(/\s+/g, " ").trim();
    if (t) lines.push({ text: t, size });
    text = "";
    size = 0;
    y = undefined;
  };
  for (const raw of items) {
    if (typeof raw !== "object" || raw === null || !("str" in raw)) continue;
    const item = raw as TextItemLike;
    const [a, b, c, d, x, iy] = item.transform;
    // The text matrix's vertical scale is the font size (also for rotated text).
    const fontSize = Math.hypot(c, d) || Math.hypot(a, b) || item.height;
    if (item.str) {
      if (y !== undefined && Math.abs(iy - y) > Math.max(fontSize, size) * 0.5) end();
      else if (text && !/\s$/.test(text) && !/^\s/.test(item.str) && x - xEnd > fontSize * 0.2) text += " ";
      text += item.str;
      if (item.str.trim()) size = Math.max(size, fontSize);
      y = iy;
      xEnd = x + item.width;
    }
    if (item.hasEOL) end();
  }
  end();
  return lines;
}

const round = (size: number) => Math.round(size * 2) / 2;
const SMALL_WORDS = new Set(["a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "per", "the", "to", "vs", "via", "with"]);
const NUMBERED = /^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\p{L}.*)$/u;
/** Sentence-like endings; a heading may end in "?" only when its font marks it as one. */
const SENTENCE_END = /[.,;:!]$/;
/** Code and formulas, not prose: a body-size line with these is never a heading. */
const CODE_CHARS = /[{}[\]<>=_\\|@$%^*~`#]/;

function isTitleCase(text: string): boolean {
  const words = text.split(" ").filter((w) => /\p{L}/u.test(w));
  if (words.length === 0 || words.length > 8 || text.length > 60) return false;
  if (!/\p{Ll}/u.test(text)) return (text.match(/\p{Lu}/gu)?.length ?? 0) >= 2; // ALL CAPS
  return words.every((w, i) => /^[^\p{L}]*\p{Lu}/u.test(w) || (i > 0 && SMALL_WORDS.has(w.toLowerCase())));
}

const runningKey = (t: string) => t.toLowerCase().replace(/\d+/g, "#");

/**
 * Text that repeats at the top or bottom (two lines each) of pages: running heads and feet, page
 * numbers. Never a heading. A line with a number in it ("Chapter 3: Setup 14") needs two pages,
 * so per-chapter heads count too; other lines need most pages.
 */
function runningLines(pages: Line[][]): Set<string> {
  const seen = new Map<string, number>();
  for (const lines of pages) {
    const edges = lines.length <= 4 ? lines : [...lines.slice(0, 2), ...lines.slice(-2)];
    for (const k of new Set(edges.map((l) => runningKey(l.text)))) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const running = new Set<string>();
  if (pages.length < 3) return running;
  for (const [k, n] of seen) if (n >= (k.includes("#") ? 2 : Math.max(3, Math.ceil(pages.length / 2)))) running.add(k);
  return running;
}

function findHeadings(pages: Line[][], title: string): Mark[][] {
  // Body size: the size most of the text is set in, weighted by characters.
  const weight = new Map<number, number>();
  for (const lines of pages) for (const l of lines) weight.set(round(l.size), (weight.get(round(l.size)) ?? 0) + l.text.length);
  const body = [...weight].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
  const big = (l: Line) => round(l.size) >= body * 1.15 && round(l.size) - body >= 1;
  const running = runningLines(pages);
  const isRunning = (l: Line) => running.has(runningKey(l.text));
  // Headings start with a word or a number, never with punctuation ("-- comment", ">0=…"), and
  // a line with dot leaders ("Setup . . . . 12") is a table-of-contents or index entry.
  const shape = (t: string) =>
    t.length <= 120 && t.split(" ").length <= 14 && /^[\p{L}\p{N}]/u.test(t) && /\p{L}/u.test(t) && !/(\.\s?){4,}/.test(t);
  const isNumbered = (l: Line | undefined) => !!l && !big(l) && NUMBERED.test(l.text) && !NUMBERED.exec(l.text)![1].includes(".");

  type Found = Omit<Mark, "level"> & { kind: "font" | "numbered" | "title"; size: number; depth: number };
  let lastPage = pages.length - 1;
  while (lastPage > 0 && pages[lastPage].length === 0) lastPage--;
  const found: Found[][] = pages.map((lines, p) => {
    const out: Found[] = [];
    // "Followed by body": some text comes after the line, on this page or a later one.
    const hasNext = (i: number) => i + 1 < lines.length || p < lastPage;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      if (isRunning(l) || !shape(l.text)) continue;
      if (big(l)) {
        // A wrapped heading: following lines in the same size belong to it.
        let span = 1;
        while (i + span < lines.length && round(lines[i + span].size) === round(l.size) && !isRunning(lines[i + span]) && span < 3) span++;
        const text = lines.slice(i, i + span).map((x) => x.text).join(" ");
        if (!/[.,;:]$/.test(text) && hasNext(i + span - 1)) out.push({ line: i, span, title: text, kind: "font", size: round(l.size), depth: 0 });
        i += span - 1;
        continue;
      }
      if (SENTENCE_END.test(l.text) || l.text.endsWith("?") || CODE_CHARS.test(l.text) || !hasNext(i)) continue;
      const num = NUMBERED.exec(l.text);
      if (num) {
        const depth = num[1].split(".").length;
        // "1. Open the app" / "2. Click save": consecutive numbered lines are a list, not headings.
        if (depth === 1 && (isNumbered(lines[i - 1]) || isNumbered(lines[i + 1]))) continue;
        if (num[2].split(" ").length <= 10 && /^\p{Lu}/u.test(num[2])) out.push({ line: i, span: 1, title: l.text, kind: "numbered", size: round(l.size), depth });
        continue;
      }
      const prev = lines[i - 1];
      const next = lines[i + 1];
      const startsBlock = !prev || /[.!?:]$/.test(prev.text) || out.some((f) => f.line + f.span === i);
      const bodyFollows = !next || next.text.length > l.text.length || /[.!?]$/.test(next.text);
      // Labels ("Since: 2.0") and dates ("Version 1.3, 3 November 2008") look like titles too.
      if (isTitleCase(l.text) && !/[,:]/.test(l.text) && startsBlock && bodyFollows) out.push({ line: i, span: 1, title: l.text, kind: "title", size: round(l.size), depth: 0 });
    }
    return out;
  });

  // Numbering depths the document sets in a heading font: a body-size line numbered at such a
  // depth ("4 CARD32 N_ALIASES" next to a large "1. Introduction") is a list or table line.
  const styledDepths = new Set<number>();
  for (const f of found.flat()) {
    const num = f.kind === "font" ? NUMBERED.exec(f.title) : null;
    if (num) styledDepths.add(num[1].split(".").length);
  }
  for (const marks of found) {
    for (let k = marks.length - 1; k >= 0; k--) if (marks[k].kind === "numbered" && styledDepths.has(marks[k].depth)) marks.splice(k, 1);
  }

  // Levels: heading font sizes from the largest, then numbered depths, then plain title lines.
  const all = found.flat();
  const sizes = [...new Set(all.filter((f) => f.kind === "font").map((f) => f.size))].sort((a, b) => b - a);
  const fontLevel = (f: Found) => sizes.indexOf(f.size) + 1;
  // Numbering continues the font levels it appears in: after a big "1 Scope" at level 2, a body-size
  // "1.2 Terms" is level 3.
  let numberBase = sizes.length;
  for (const f of all) {
    const num = f.kind === "font" ? NUMBERED.exec(f.title) : null;
    if (num) numberBase = Math.max(0, Math.min(numberBase, fontLevel(f) - num[1].split(".").length));
  }
  const maxDepth = Math.max(0, ...all.filter((f) => f.kind === "numbered").map((f) => f.depth));
  let skippedTitle = false;
  return found.map((marks) =>
    marks.flatMap((f) => {
      // The title line is the document's name, not a section of it (once, where it first appears).
      if (!skippedTitle && f.title.toLowerCase() === title.toLowerCase()) {
        skippedTitle = true;
        return [];
      }
      const level = f.kind === "font" ? fontLevel(f) : f.kind === "numbered" ? numberBase + f.depth : numberBase + maxDepth + 1;
      return [{ line: f.line, span: f.span, title: f.title, level: Math.max(1, Math.min(level, 6)) }];
    }),
  );
}

function sectionsOf(pages: Line[][], headings: Mark[][], title: string): Section[] {
  const sections: Section[] = [];
  const stack: { level: number; title: string }[] = [];
  pages.forEach((lines, p) => {
    const page = `Page ${p + 1}`;
    const path = () => [title, page, ...stack.map((s) => s.title)];
    const marks = headings[p];
    const text = (from: number, to: number) => lines.slice(from, to).map((l) => l.text).join("\n");
    const first = marks.length > 0 ? marks[0].line : lines.length;
    // Text before the page's first heading continues the heading in force (or opens the page).
    if (first > 0) sections.push({ headingPath: path(), level: 1, heading: page, text: text(0, first), lineStart: 1, lineEnd: first });
    marks.forEach((m, k) => {
      while (stack.length > 0 && stack[stack.length - 1].level >= m.level) stack.pop();
      stack.push({ level: m.level, title: m.title });
      const from = m.line + m.span;
      const to = k + 1 < marks.length ? marks[k + 1].line : lines.length;
      const section: Section = { headingPath: path(), level: Math.min(m.level + 1, 6), heading: m.title, headingLine: m.line + 1, text: text(from, to), lineStart: from + 1, lineEnd: to };
      if (to <= from) section.lineStart = section.lineEnd = m.line + 1; // heading with no text under it on this page
      sections.push(section);
    });
  });
  return sections;
}

/** PDF.js errors as a short reason. */
function reasonOf(err: unknown): string {
  const e = err as { name?: string; message?: string };
  if (e?.name === "PasswordException") return "encrypted, a password is needed to open it";
  return (e?.message ?? String(err)).trim() || String(err);
}

const stringField = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);

export async function loadPdf(input: LoaderInput): Promise<LoadedDocument> {
  const { path } = input;
  const fail = (err: unknown) => new Error(`${path}: not a readable PDF: ${reasonOf(err)}`);
  // Loaded on first use: PDF.js is large, and most projects have no PDFs.
  const { getDocumentProxy } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // A copy: PDF.js may take over (detach) the buffer it is given; ingest still needs the bytes.
    pdf = await getDocumentProxy(new Uint8Array(input.bytes), { verbosity: 0 });
  } catch (err) {
    throw fail(err);
  }
  try {
    const pages: Line[][] = [];
    let info: Record<string, unknown> = {};
    let xmpTitle: string | undefined;
    try {
      for (let n = 1; n <= pdf.numPages; n++) {
        const page = await pdf.getPage(n);
        pages.push(pageLines((await page.getTextContent()).items));
        page.cleanup();
      }
      const metadata = await pdf.getMetadata().catch(() => undefined);
      info = (metadata?.info ?? {}) as Record<string, unknown>;
      xmpTitle = stringField(metadata?.metadata?.get("dc:title"));
    } catch (err) {
      throw fail(err);
    }
    if (!pages.some((p) => p.length > 0)) {
      throw new Error(`${path}: no extractable text in ${pages.length} page(s) (a scanned PDF needs OCR first)`);
    }
    const firstLine = pages.find((p) => p.length > 0)![0].text;
    const title = stringField(info.Title) ?? xmpTitle ?? (firstLine || baseTitle(path));
    const meta: Record<string, unknown> = { pages: pages.length };
    for (const [key, field] of [["author", "Author"], ["subject", "Subject"], ["keywords", "Keywords"]] as const) {
      const value = stringField(info[field]);
      if (value) meta[key] = value;
    }
    return { title, meta, sections: sectionsOf(pages, findHeadings(pages, title), title) };
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}

export const pdfLoader: Loader = {
  extensions: [".pdf"],
  binary: true,
  load: loadPdf,
};
