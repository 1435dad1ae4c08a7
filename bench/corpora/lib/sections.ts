/**
 * An independent reading of a markdown file's heading structure, for judging citations. It does not
 * use ragtune's loader or chunker on purpose: the benchmark checks their output, so it must not
 * share their mistakes.
 *
 * Headings recognised (outside YAML front matter and fenced code blocks):
 * - ATX headings, `#` … `######`, closing hashes and `{#id}` attributes removed;
 * - setext headings, a paragraph underlined with `===` (level 1) or `---` (level 2);
 * - HTML heading lines, `<h1 …>Title</h1>` … `<h6>` (fastify's pages open with `<h1 align="center">`).
 *
 * `headingPathAt(line)` is the stack of headings in effect at a 1-based line: a heading of level L
 * closes every open heading of level ≥ L. A heading line belongs to its own section.
 */

export interface Heading {
  /** 1-based line of the heading text (for setext headings, the first paragraph line). */
  line: number;
  level: number;
  /** Heading text as written, markup included (normalise with `normalizeHeading` to compare). */
  text: string;
}

export interface MarkdownOutline {
  headings: Heading[];
  /** Heading path (raw texts) in effect at each 1-based line; index 0 is unused. */
  pathAtLine: string[][];
  /** Number of lines in the file. */
  lines: number;
}

const FENCE = /^ {0,3}(?:(?:[-*+]|\d{1,9}[.)])\s+|>\s?)*(`{3,}|~{3,})(.*)$/;
const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const HTML_HEADING = /^\s*<h([1-6])(?:\s[^>]*)?>(.*?)<\/h\1>\s*$/i;
/** Lines that cannot be the text of a setext heading (list items, quotes, tables, HTML, hr). */
const NOT_PARAGRAPH = /^\s*(?:[-*+]\s|\d{1,9}[.)]\s|>|\||<|:::|import\s|export\s)/;

/** Strip an ATX heading's closing hashes and `{#id}` attribute. */
function atxText(raw: string): string {
  let t = raw.trim();
  const closing = /(?:^|[ \t])#+$/.exec(t);
  if (closing) t = t.slice(0, closing.index).trimEnd();
  return t.replace(/\s*\{#[^}]*\}\s*$/, "").trim();
}

/** Outline of a markdown (or MDX) file. */
export function outline(source: string): MarkdownOutline {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const headings: Heading[] = [];
  let i = 0;
  // YAML front matter: only at the very top, closed by --- or ...
  if (/^---[ \t]*$/.test(lines[0] ?? "")) {
    const close = lines.findIndex((l, k) => k > 0 && /^(---|\.\.\.)[ \t]*$/.test(l));
    if (close > 0) i = close + 1;
  }
  let fence: { ch: string; len: number } | undefined;
  let paragraphStart = -1; // 0-based index of the first line of the current paragraph, or -1
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (fence) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1][0] === fence.ch && close[1].length >= fence.len) fence = undefined;
      continue;
    }
    const open = FENCE.exec(line);
    if (open && !(open[1][0] === "`" && open[2].includes("`"))) {
      fence = { ch: open[1][0], len: open[1].length };
      paragraphStart = -1;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      const text = atxText(atx[2] ?? "");
      if (text) headings.push({ line: i + 1, level: atx[1].length, text });
      paragraphStart = -1;
      continue;
    }
    const html = HTML_HEADING.exec(line);
    if (html) {
      const text = html[2].trim();
      if (text) headings.push({ line: i + 1, level: Number(html[1]), text });
      paragraphStart = -1;
      continue;
    }
    const setext = SETEXT.exec(line);
    if (setext && paragraphStart >= 0) {
      const text = lines.slice(paragraphStart, i).map((l) => l.trim()).join(" ");
      headings.push({ line: paragraphStart + 1, level: setext[1][0] === "=" ? 1 : 2, text });
      paragraphStart = -1;
      continue;
    }
    if (line.trim() === "") paragraphStart = -1;
    else if (paragraphStart < 0) paragraphStart = NOT_PARAGRAPH.test(line) ? -1 : i;
    else if (NOT_PARAGRAPH.test(line)) paragraphStart = -1;
  }

  const pathAtLine: string[][] = new Array(lines.length + 1);
  pathAtLine[0] = [];
  const stack: Heading[] = [];
  let next = 0;
  for (let line = 1; line <= lines.length; line++) {
    while (next < headings.length && headings[next].line === line) {
      const h = headings[next++];
      while (stack.length > 0 && stack[stack.length - 1].level >= h.level) stack.pop();
      stack.push(h);
    }
    pathAtLine[line] = stack.map((h) => h.text);
  }
  return { headings, pathAtLine, lines: lines.length };
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'", nbsp: " " };

/** Decode the HTML entities that appear in docs headings (`&lt;`, `&#58;`, `&#x3A;` …). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * Comparable form of a heading: entities decoded, HTML tags, link syntax, code ticks, emphasis and
 * backslash escapes removed, whitespace collapsed, lower case. Applied to both sides of a comparison.
 */
export function normalizeHeading(s: string): string {
  let t = decodeEntities(s);
  t = t.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1");
  t = t.replace(/<\/?[a-z][^>]*>/gi, "");
  t = t.replace(/`+/g, "").replace(/\*\*|__/g, "").replace(/(^|\s)[*_]([^*_]+)[*_](?=\s|$)/g, "$1$2");
  t = t.replace(/\\([\\`*_{}[\]()#+\-.!<>])/g, "$1");
  return t.replace(/\s+/g, " ").trim().toLowerCase();
}

/** Whether two heading paths name the same section (element by element, normalised). */
export function sameHeadingPath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((h, k) => normalizeHeading(h) === normalizeHeading(b[k]));
}
