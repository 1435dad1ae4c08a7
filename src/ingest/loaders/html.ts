/**
 * HTML loader. Page chrome (navigation, cookie banners, sidebars, footers) is left out, sections
 * start at h1–h6. Which part of a page is content:
 * - the page says so: its only <main> (or role="main"), else its only <article>, walked directly;
 * - otherwise Mozilla Readability guesses the main content (it finds chrome that is only known by
 *   class names: `<div class="sidebar">`); that content becomes markdown through turndown and is
 *   cut into sections by the markdown loader's own logic;
 * - fragments, and pages where Readability finds no article, are walked whole.
 * The direct walk drops chrome tags (<nav>, <aside>, <header>/<footer> outside an article, …).
 * Both renderings follow the same conventions: plain paragraphs (links and emphasis as their
 * text), "- item" list lines, "a | b" table rows; the markdown route keeps code in fences.
 *
 * The DOM has no source positions, so heading lines are recovered by matching heading tags in the
 * raw text; a section spans from its heading to the next one, and the chunker places text inside
 * that range proportionally.
 */
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";
import TurndownService from "turndown";
import type { LoadedDocument, Loader, Section } from "../index.ts";
import { checkHtmlDepth, checkHtmlTagDepth } from "../limits.ts";
import { baseTitle, cleanHeading, inputText, sectionsFromMarkdown } from "./markdown.ts";

/** Never content: code, styling and site navigation. */
const DROP = new Set(["script", "style", "noscript", "template", "title", "head", "nav", "aside", "svg", "iframe", "object", "canvas"]);
/** Page chrome, except inside <article>/<main> where a <header> usually holds the article's own h1. */
const CHROME = new Set(["header", "footer"]);
/** ARIA landmarks that mean the same as the tags above. */
const DROP_ROLES = new Set(["navigation", "search", "complementary"]);
const CHROME_ROLES = new Set(["banner", "contentinfo"]);
/** Consent popups are never content, whatever the page layout (matched on id and class). */
const CONSENT = /cookie|consent|gdpr/i;
const BLOCK = new Set([
  "address", "article", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt", "fieldset",
  "figcaption", "figure", "form", "hr", "html", "li", "main", "p", "section", "summary", "caption", "header", "footer",
]);
const HEADING = /^h([1-6])$/;
const META_KEYS = new Set(["description", "keywords", "author", "date", "updated", "last-modified", "version"]);

/** Dropped on both routes: code, navigation, hidden elements, consent banners. */
function isNoise(el: Element): boolean {
  const tag = el.localName;
  if (DROP.has(tag) || el.hasAttribute("hidden")) return true;
  const role = el.getAttribute("role");
  if (role && DROP_ROLES.has(role)) return true;
  if (tag === "body" || tag === "html" || tag === "main" || tag === "article") return false;
  return CONSENT.test(`${el.getAttribute("id") ?? ""} ${el.getAttribute("class") ?? ""}`);
}

/** Dropped by the direct walk: noise, plus header/footer chrome outside an article. */
function isDropped(el: Element): boolean {
  if (isNoise(el)) return true;
  const role = el.getAttribute("role");
  if (CHROME.has(el.localName) || (role && CHROME_ROLES.has(role))) return !el.parentElement?.closest("article, main");
  return false;
}

const collapse = (s: string) => s.replace(/\s+/g, " ").trim();

/** Inline text of a node: whitespace collapsed, dropped elements and (optionally) nested lists skipped. */
function inlineText(node: Node, skipLists = false): string {
  const out: string[] = [];
  const visit = (n: Node) => {
    if (n.nodeType === 3) out.push(n.textContent ?? "");
    else if (n.nodeType === 1) {
      const el = n as Element;
      if (isDropped(el) || (skipLists && (el.localName === "ul" || el.localName === "ol"))) return;
      if (el.localName === "br") out.push(" ");
      else {
        // Block children inside a cell or list item are separate phrases: keep a space between them.
        const block = BLOCK.has(el.localName) || HEADING.test(el.localName);
        if (block) out.push(" ");
        el.childNodes.forEach(visit);
        if (block) out.push(" ");
      }
    }
  };
  node.childNodes.forEach(visit);
  return collapse(out.join(""));
}

function renderList(list: Element, depth: number, out: string[]): void {
  for (const li of Array.from(list.children)) {
    if (li.localName !== "li" || isDropped(li)) continue;
    const text = inlineText(li, true);
    if (text) out.push(`${"  ".repeat(depth)}- ${text}`);
    const nested = (el: Element) => {
      for (const child of Array.from(el.children)) {
        if (isDropped(child)) continue;
        if (child.localName === "ul" || child.localName === "ol") renderList(child, depth + 1, out);
        else nested(child);
      }
    };
    nested(li);
  }
}

function renderTable(table: Element, out: string[]): void {
  const caption = table.querySelector("caption");
  if (caption) {
    const c = inlineText(caption);
    if (c) out.push(c);
  }
  for (const tr of Array.from(table.querySelectorAll("tr"))) {
    // Rows of a nested table belong to that table's own rendering.
    if (tr.closest("table") !== table) continue;
    const cells = Array.from(tr.children)
      .filter((c) => c.localName === "td" || c.localName === "th")
      .map((c) => inlineText(c));
    if (cells.some((c) => c)) out.push(cells.join(" | "));
  }
}

/** Raw offsets and levels of heading tags, outside comments and raw-text elements. */
function rawHeadingTags(raw: string): { level: number; offset: number }[] {
  const tags: { level: number; offset: number }[] = [];
  const re = /<!--[\s\S]*?(?:-->|$)|<(script|style|textarea|title)\b[\s\S]*?(?:<\/\1\s*>|$)|<h([1-6])(?=[\s>/])/gi;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    if (m[2]) tags.push({ level: Number(m[2]), offset: m.index });
  }
  return tags;
}

function lineIndex(raw: string): (offset: number) => number {
  const starts = [0];
  for (let i = raw.indexOf("\n"); i >= 0; i = raw.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

interface Pending {
  headingPath: string[];
  level: number;
  heading?: string;
  /** Line of the heading tag and first line of the body, when the tag was found in the raw text. */
  lines?: { heading: number; body: number };
  blocks: string[];
}

/** A parsed page plus what maps it back to source lines. */
interface Page {
  document: Document;
  /** No <html> or <body> in the source: a fragment has no page chrome for Readability to remove. */
  fragment: boolean;
  /** Heading elements in document order. */
  headings: Element[];
  /** Source line of each heading tag and of its body's first line, when the tag was found. */
  headingLines: Map<Element, { heading: number; body: number }>;
  /** Line of <body> (1 without one): where text before the first heading starts. */
  bodyLine: number;
  /** Line of </body>, else the last line: where the last section ends. */
  lastLine: number;
}

function parsePage(raw: string): Page {
  raw = raw.replace(/^\uFEFF/, "");
  // linkedom only builds a sane tree for whole documents; fragments get a minimal wrapper.
  const source = /<html[\s>]/i.test(raw) ? raw : /<body[\s>]/i.test(raw) ? `<html>${raw}</html>` : `<!doctype html><html><head></head><body>${raw}</body></html>`;
  checkHtmlTagDepth(raw);
  const { document } = parseHTML(source);
  // Every later step walks the tree, several recursively: refuse absurd nesting up front.
  checkHtmlDepth(document.documentElement ? { firstElementChild: document.documentElement } : null);

  const lineOf = lineIndex(raw);
  const closeBody = /<\/body\s*>/i.exec(raw);
  const lastLine = closeBody ? lineOf(closeBody.index) : raw.trimEnd().split("\n").length;

  // Match DOM headings to raw tags in order, by level; a heading without a match keeps no lines.
  const headings = Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"));
  const headingLines = new Map<Element, { heading: number; body: number }>();
  const tags = rawHeadingTags(raw);
  let t = 0;
  for (const h of headings) {
    const level = Number(h.localName[1]);
    let k = t;
    while (k < tags.length && tags[k].level !== level) k++;
    if (k >= tags.length) continue;
    const offset = tags[k].offset;
    // Headings are short: look for the closing tag nearby only, so unclosed tags stay cheap.
    const near = raw.slice(offset, offset + 10_000);
    const end = new RegExp(`</h${level}\\s*>`, "i").exec(near);
    const endOffset = end ? offset + end.index + end[0].length : offset;
    const closeLine = lineOf(endOffset);
    const eol = raw.indexOf("\n", endOffset);
    const restOfLine = raw.slice(endOffset, eol < 0 ? raw.length : eol);
    headingLines.set(h, { heading: lineOf(offset), body: restOfLine.trim() ? closeLine : closeLine + 1 });
    t = k + 1;
  }
  const bodyTag = /<body[\s>]/i.exec(raw);
  return { document, fragment: !/<(html|body)[\s>]/i.test(raw), headings, headingLines, bodyLine: bodyTag ? lineOf(bodyTag.index) : 1, lastLine };
}

/** Sections by walking the DOM under `root` (default: the body): every element except dropped chrome. */
function walkSections(page: Page, root: Element | null = page.document.body ?? page.document.documentElement): Section[] {
  const { headingLines, lastLine } = page;
  const pending: Pending[] = [{ headingPath: [], level: 0, lines: { heading: 1, body: page.bodyLine }, blocks: [] }];
  const stack: { level: number; title: string }[] = [];
  let inline: string[] = [];
  const current = () => pending[pending.length - 1];

  const flush = () => {
    // BR is a "\0" marker here: source newlines are just whitespace, only <br> breaks a line.
    const text = inline.join("").split("\0").map(collapse).filter(Boolean).join("\n");
    inline = [];
    if (text) current().blocks.push(text);
  };

  const walk = (node: Node) => {
    if (node.nodeType === 3) {
      inline.push(node.textContent ?? "");
      return;
    }
    if (node.nodeType !== 1) return;
    const el = node as Element;
    const tag = el.localName;
    if (isDropped(el)) return;
    const h = HEADING.exec(tag);
    if (h) {
      const title = inlineText(el);
      if (title) {
        flush();
        const level = Number(h[1]);
        while (stack.length > 0 && stack[stack.length - 1].level >= level) stack.pop();
        stack.push({ level, title });
        pending.push({ headingPath: stack.map((s) => s.title), level, heading: title, lines: headingLines.get(el), blocks: [] });
        return;
      }
    }
    if (tag === "ul" || tag === "ol") {
      flush();
      const lines: string[] = [];
      renderList(el, 0, lines);
      if (lines.length) current().blocks.push(lines.join("\n"));
    } else if (tag === "table") {
      flush();
      const rows: string[] = [];
      renderTable(el, rows);
      if (rows.length) current().blocks.push(rows.join("\n"));
    } else if (tag === "pre") {
      flush();
      const code = (el.textContent ?? "").replace(/^\n/, "").trimEnd();
      if (code.trim()) current().blocks.push(code);
    } else if (tag === "br") {
      inline.push("\0");
    } else if (BLOCK.has(tag) || h) {
      flush();
      el.childNodes.forEach(walk);
      flush();
    } else {
      el.childNodes.forEach(walk);
    }
  };
  if (root) root.childNodes.forEach(walk);
  flush();

  // Next heading line after each pending section (precomputed: pages can have thousands of headings).
  const nextHeading: (number | undefined)[] = new Array(pending.length);
  for (let i = pending.length - 1, next: number | undefined; i >= 0; i--) {
    nextHeading[i] = next;
    if (pending[i].lines && pending[i].level > 0) next = pending[i].lines!.heading;
  }
  const sections: Section[] = [];
  pending.forEach((p, i) => {
    if (p.level === 0 && p.blocks.length === 0) return; // nothing before the first heading
    let lineStart = 1;
    let lineEnd = lastLine;
    if (p.lines) {
      lineStart = p.lines.body;
      const next = nextHeading[i];
      lineEnd = next !== undefined ? next - 1 : lastLine;
      // Body on the heading's own line, or an empty body: the heading line is the best anchor.
      if (lineEnd < lineStart) lineStart = lineEnd = Math.max(p.lines.heading, lineEnd);
    }
    const section: Section = { headingPath: p.headingPath, text: p.blocks.join("\n\n"), lineStart, lineEnd, level: p.level };
    if (p.heading !== undefined) section.heading = p.heading;
    if (p.lines && p.level > 0) section.headingLine = p.lines.heading;
    sections.push(section);
  });
  return sections;
}

/**
 * The element the page itself marks as its main content: the only <main> (or role="main"), else
 * the only <article>, provided it holds at least a quarter of the page's text (a lone <article>
 * can be a teaser beside the real content).
 */
function markedMain(page: Page): Element | undefined {
  const body = page.document.body;
  if (!body) return undefined;
  const only = (selector: string) => {
    const found = Array.from(body.querySelectorAll(selector));
    return found.length === 1 ? found[0] : undefined;
  };
  const main = only("main, [role=main]") ?? only("article");
  if (!main) return undefined;
  // Visible text only: inline scripts (JSON page data) and navigation would skew the share.
  const size = (el: Element) => inlineText(el).length;
  return size(main) * 4 >= size(body) ? main : undefined;
}

// ---------------------------------------------------------------------------------------------
// The Readability route.

/**
 * Readability's cost grows faster than the page; beyond this many elements the page is walked
 * instead (large pages are nearly always generated documentation with semantic markup anyway).
 */
const READABILITY_MAX_ELEMENTS = 5_000;

/** Attribute that carries an element's index in the original page through Readability and turndown. */
const MARK = "data-ragtune-i";
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Next element in document order after `el` and its descendants. */
function nextInOrder(el: Element): Element | null {
  for (let e: Element | null = el; e; e = e.parentElement) if (e.nextElementSibling) return e.nextElementSibling;
  return null;
}

/**
 * The page's main content as HTML built from the ORIGINAL elements Readability kept, or undefined
 * when it finds no article. Readability's own output is not used as-is: it renames h1 to h2 and
 * deletes a heading that repeats the page title, which would lose heading levels and paths. So
 * every element is marked with its index, Readability runs on a marked copy, and the marks that
 * survive say which original elements are content.
 */
function mainContent(page: Page): { html: string; elements: Element[] } | undefined {
  const { document } = page;
  // What both routes drop anyway (scripts, inline SVG, navigation, consent banners) is removed
  // first: real pages carry thousands of such elements, and Readability's time grows with them.
  for (const el of Array.from(document.querySelectorAll("body *"))) if (el.parentElement && isNoise(el)) el.remove();
  const elements = Array.from(document.querySelectorAll("body *"));
  if (elements.length > READABILITY_MAX_ELEMENTS) return undefined;
  elements.forEach((el, i) => el.setAttribute(MARK, String(i)));
  const copy = parseHTML(document.toString()).document;
  let article: Element | null | undefined;
  try {
    const options = { serializer: (node: Node) => node as Element, disableJSONLD: true, maxElemsToParse: READABILITY_MAX_ELEMENTS };
    article = new Readability<Element>(copy, options).parse()?.content;
  } catch {
    return undefined; // too large, or markup Readability cannot handle: the direct walk still can
  }
  if (!article || !collapse(article.textContent ?? "")) return undefined;
  const kept = new Set<Element>();
  for (const el of article.querySelectorAll(`[${MARK}]`)) kept.add(elements[Number(el.getAttribute(MARK))]);
  // Elements Readability kept something inside of (the wrappers around the article).
  const holds = new Set<Element>();
  for (const el of kept) for (let p = el.parentElement; p && !holds.has(p); p = p.parentElement) holds.add(p);
  const isContent = (el: Element | null) => !!el && (kept.has(el) || holds.has(el));
  // A heading Readability dropped (it drops one that repeats the title) comes back when it sits
  // beside content and content follows it; a sidebar's or footer's heading has neither.
  for (const h of page.headings) {
    if (isContent(h) || !isContent(h.parentElement) || !isContent(nextInOrder(h))) continue;
    let noisy = false;
    for (let e: Element | null = h; e && !noisy; e = e.parentElement) noisy = isNoise(e);
    if (noisy) continue;
    kept.add(h);
    for (const d of h.querySelectorAll("*")) kept.add(d);
  }

  const out: string[] = [];
  const emit = (el: Element) => {
    if (isNoise(el)) return;
    const tag = el.localName;
    if (kept.has(el)) {
      // Only headings need their mark: it maps them back to their source lines.
      out.push(HEADING.test(tag) ? `<${tag} ${MARK}="${el.getAttribute(MARK)}">` : `<${tag}>`);
      if (VOID.has(tag)) return;
      for (const child of Array.from(el.childNodes)) {
        if (child.nodeType === 3) out.push(escapeHtml(child.textContent ?? ""));
        else if (child.nodeType === 1) emit(child as Element);
      }
      out.push(`</${tag}>`);
    } else if (holds.has(el)) {
      // A wrapper: its own loose text is not article content, its kept children are.
      out.push("<div>");
      for (const child of Array.from(el.children)) emit(child);
      out.push("</div>");
    }
  };
  if (document.body) emit(document.body);
  return { html: out.join(""), elements };
}

/** Headings the turndown pass emitted, in order: the original element's index and its title. */
let emitted: { mark: string | null; title: string }[] = [];

/**
 * Markdown in the same plain conventions as the direct walk: links and emphasis as their text,
 * "- item" lists (indented two spaces per level), "a | b" table rows; code stays fenced so that a
 * "#" line inside it cannot become a heading.
 */
const turndown = new TurndownService({ headingStyle: "atx", codeBlockStyle: "fenced", br: "" });
// Escape only what our markdown sectioning reads: a heading or a code fence at a line start.
// Sections are cut first, then the escapes come out of the text again.
turndown.escape = (text: string) => text.replace(/^([ \t]{0,3})(#{1,6}(?=\s|$)|`{3,}|~{3,})/gm, "$1\\$2");
function unescapeText(text: string): string {
  let fence: string | undefined; // code is never escaped: leave its lines alone
  return text
    .split("\n")
    .map((line) => {
      const f = /^(`{3,})\s*$/.exec(line);
      if (f && (!fence || f[1].length >= fence.length)) {
        fence = fence ? undefined : f[1];
        return line;
      }
      return fence ? line : line.replace(/^([ \t]{0,3})\\(#{1,6}(?=\s|$)|`{3,}|~{3,})/, "$1$2");
    })
    .join("\n");
}
turndown.addRule("heading", {
  filter: ["h1", "h2", "h3", "h4", "h5", "h6"],
  replacement: (content, node) => {
    const title = collapse(content);
    if (!title) return "\n\n";
    emitted.push({ mark: node.getAttribute(MARK), title });
    return `\n\n${"#".repeat(Number(node.nodeName[1]))} ${title}\n\n`;
  },
});
turndown.addRule("plainInline", { filter: ["a", "strong", "b", "em", "i", "u", "s", "del", "mark", "small", "sup", "sub"], replacement: (content) => content });
turndown.addRule("noImages", { filter: ["img", "picture", "video", "audio"], replacement: () => "" });
turndown.addRule("noRule", { filter: "hr", replacement: () => "\n\n" });
turndown.addRule("listItem", {
  filter: "li",
  replacement: (content, node) => {
    const body = content.replace(/^\n+|\n+$/g, "").replace(/\n{2,}/g, "\n").replace(/\n/g, "\n  ");
    return `- ${body}${node.nextSibling ? "\n" : ""}`;
  },
});
turndown.addRule("table", {
  filter: "table",
  replacement: (_content, node) => {
    const rows: string[] = [];
    renderTable(node, rows);
    return `\n\n${rows.join("\n")}\n\n`;
  },
});
turndown.addRule("pre", {
  filter: "pre",
  replacement: (_content, node) => {
    const code = (node.textContent ?? "").replace(/^\n/, "").trimEnd();
    if (!code.trim()) return "\n\n";
    const longest = Math.max(0, ...Array.from(code.matchAll(/`+/g), (m) => m[0].length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return `\n\n${fence}\n${code}\n${fence}\n\n`;
  },
});

/** Sections of the main content, with line ranges taken from the source headings. */
function readableSections(page: Page): Section[] | undefined {
  const content = mainContent(page);
  if (content === undefined) return undefined;
  emitted = [];
  const markdown = turndown.turndown(content.html);
  const marks = emitted;
  const sections = sectionsFromMarkdown(markdown);
  if (sections.length === 0) return undefined;

  // Pair each markdown heading with the element that produced it (in order, checked by title).
  const source = new Map<Section, Element>();
  let j = 0;
  for (const s of sections) {
    if (!s.level) continue;
    const title = s.headingPath[s.headingPath.length - 1];
    let k = j;
    while (k < marks.length && cleanHeading(marks[k].title) !== title) k++;
    if (k >= marks.length) continue;
    const mark = marks[k].mark;
    if (mark !== null) source.set(s, content.elements[Number(mark)]);
    j = k + 1;
  }
  const linesOf = (s: Section) => {
    const el = source.get(s);
    return el ? page.headingLines.get(el) : undefined;
  };
  // Next heading line after each page heading, and after each section (precomputed: pages can
  // have thousands of headings).
  const afterHeading = new Map<Element, number | undefined>();
  for (let k = page.headings.length - 1, next: number | undefined; k >= 0; k--) {
    afterHeading.set(page.headings[k], next);
    next = page.headingLines.get(page.headings[k])?.heading ?? next;
  }
  const nextSection: (number | undefined)[] = new Array(sections.length);
  for (let i = sections.length - 1, next: number | undefined; i >= 0; i--) {
    nextSection[i] = next;
    next = linesOf(sections[i])?.heading ?? next;
  }
  /** The heading line that ends section i: the next section's, else the next heading in the page. */
  const endOf = (i: number): number | undefined => {
    if (nextSection[i] !== undefined) return nextSection[i];
    const el = source.get(sections[i]);
    return el ? afterHeading.get(el) : undefined;
  };
  return sections.map((s, i) => {
    const own = s.level ? linesOf(s) : { heading: page.bodyLine, body: page.bodyLine };
    const out: Section = { headingPath: s.headingPath, text: unescapeText(s.text), lineStart: 1, lineEnd: page.lastLine, level: s.level };
    if (s.heading !== undefined) out.heading = s.heading;
    if (!own) return out; // a heading without a source tag: the whole page is its range
    const next = endOf(i);
    out.lineStart = own.body;
    out.lineEnd = next !== undefined ? next - 1 : page.lastLine;
    // Body on the heading's own line, or an empty body: the heading line is the best anchor.
    if (out.lineEnd < out.lineStart) out.lineStart = out.lineEnd = Math.max(own.heading, out.lineEnd);
    if (s.level) out.headingLine = own.heading;
    return out;
  });
}

/**
 * Sections of HTML that has no page chrome (a converted document, e.g. DOCX), by the direct walk.
 * Line numbers count lines of `html`.
 */
export function htmlSections(html: string): Section[] {
  return walkSections(parsePage(html));
}

export function loadHtml(raw: string, path: string): LoadedDocument {
  const page = parsePage(raw);
  const { document } = page;
  const meta: Record<string, unknown> = {};
  for (const m of Array.from(document.querySelectorAll("meta[name][content]"))) {
    const name = (m.getAttribute("name") ?? "").toLowerCase();
    if (META_KEYS.has(name)) meta[name] = m.getAttribute("content") ?? "";
  }
  const titleEl = document.querySelector("title");
  // Explicit markup beats a heuristic: a marked main element is walked as is, and Readability
  // (slower, and a guess) only looks at pages without one. Fragments have no chrome at all.
  const main = page.fragment ? undefined : markedMain(page);
  const sections = main ? walkSections(page, main) : ((page.fragment ? undefined : readableSections(page)) ?? walkSections(page));
  const title = (titleEl && collapse(titleEl.textContent ?? "")) || sections.find((s) => s.level === 1)?.headingPath[0] || baseTitle(path);
  return { title, meta, sections };
}

export const htmlLoader: Loader = {
  extensions: [".html", ".htm"],
  load: (input) => loadHtml(inputText(input), input.path),
};
