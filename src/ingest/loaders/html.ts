/**
 * HTML loader: page chrome is dropped, sections start at h1–h6, and the text between headings is
 * rendered as plain paragraphs, "- item" list lines and "a | b" table rows. The DOM has no
 * source positions, so heading lines are recovered by matching heading tags in the raw text.
 */
import { parseHTML } from "linkedom";
import type { LoadedDocument, Loader, Section } from "../index.ts";
import { baseTitle } from "./markdown.ts";

/** Never content: code, styling and site navigation. */
const DROP = new Set(["script", "style", "noscript", "template", "title", "head", "nav", "aside", "svg", "iframe", "object", "canvas"]);
/** Page chrome, except inside <article>/<main> where a <header> usually holds the article's own h1. */
const CHROME = new Set(["header", "footer"]);
const BLOCK = new Set([
  "address", "article", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt", "fieldset",
  "figcaption", "figure", "form", "hr", "html", "li", "main", "p", "section", "summary", "caption", "header", "footer",
]);
const HEADING = /^h([1-6])$/;
const META_KEYS = new Set(["description", "keywords", "author", "date", "updated", "last-modified", "version"]);

function isDropped(el: Element): boolean {
  const tag = el.localName;
  if (DROP.has(tag)) return true;
  if (CHROME.has(tag)) return !el.parentElement?.closest("article, main");
  return el.hasAttribute("hidden");
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

export function loadHtml(raw: string, path: string): LoadedDocument {
  raw = raw.replace(/^\uFEFF/, "");
  // linkedom only builds a sane tree for whole documents; fragments get a minimal wrapper.
  const source = /<html[\s>]/i.test(raw) ? raw : /<body[\s>]/i.test(raw) ? `<html>${raw}</html>` : `<!doctype html><html><head></head><body>${raw}</body></html>`;
  const { document } = parseHTML(source);
  const root: Element | null = document.body ?? document.documentElement;

  const lineOf = lineIndex(raw);
  const lastLine = (() => {
    const body = /<\/body\s*>/i.exec(raw);
    if (body) return lineOf(body.index);
    return raw.trimEnd().split("\n").length;
  })();

  // Match DOM headings to raw tags in order, by level; a heading without a match keeps no lines.
  const headingLines = new Map<Element, { heading: number; body: number }>();
  const tags = rawHeadingTags(raw);
  let t = 0;
  for (const h of Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"))) {
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
  const pending: Pending[] = [{ headingPath: [], level: 0, lines: { heading: 1, body: bodyTag ? lineOf(bodyTag.index) : 1 }, blocks: [] }];
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

  const meta: Record<string, unknown> = {};
  for (const m of Array.from(document.querySelectorAll("meta[name][content]"))) {
    const name = (m.getAttribute("name") ?? "").toLowerCase();
    if (META_KEYS.has(name)) meta[name] = m.getAttribute("content") ?? "";
  }
  const titleEl = document.querySelector("title");
  const title = (titleEl && collapse(titleEl.textContent ?? "")) || sections.find((s) => s.level === 1)?.heading || baseTitle(path);
  return { title, meta, sections };
}

export const htmlLoader: Loader = {
  extensions: [".html", ".htm"],
  load: loadHtml,
};
