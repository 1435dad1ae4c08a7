/**
 * DOCX loader (mammoth): the document is converted to HTML, Word's heading styles (Heading 1–6)
 * becoming h1–h6, and sectioned by the HTML loader's direct walk, so headings give the heading
 * path, tables become "a | b" rows and lists "- item" lines.
 *
 * Lines: a DOCX has no lines, so "line N" is the N-th block of the document body as converted: a
 * paragraph, a heading, a list item or a table row (empty paragraphs are not counted).
 *
 * Title: the core properties' title (docProps/core.xml), else the first paragraph in Word's
 * "Title" style, else the first heading, else the file name.
 */
import { inflateRawSync } from "node:zlib";
import { parseHTML } from "linkedom";
import type { LoadedDocument, Loader, LoaderInput } from "../index.ts";
import { htmlSections } from "./html.ts";
import { baseTitle } from "./markdown.ts";

/** Mammoth style map additions: Word's Title style marked so we can find it (it stays text). */
const STYLE_MAP = ["p[style-name='Title'] => p.docx-title:fresh", "p[style-name='Subtitle'] => p.docx-subtitle:fresh"];

/**
 * One file from a ZIP archive (stored or deflated), or undefined when absent or unreadable. Enough
 * for docProps/core.xml, which mammoth does not read; ZIP64 archives are not handled.
 */
export function zipEntry(bytes: Uint8Array, name: string): Uint8Array | undefined {
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let eocd = -1;
    for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
      if (view.getUint32(i, true) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) return undefined;
    const entries = view.getUint16(eocd + 10, true);
    let at = view.getUint32(eocd + 16, true);
    const decoder = new TextDecoder();
    for (let n = 0; n < entries && view.getUint32(at, true) === 0x02014b50; n++) {
      const method = view.getUint16(at + 10, true);
      const size = view.getUint32(at + 20, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      const local = view.getUint32(at + 42, true);
      if (decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength)) === name) {
        const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
        const data = bytes.subarray(start, start + size);
        if (method === 0) return data;
        if (method === 8) return inflateRawSync(data);
        return undefined;
      }
      at += 46 + nameLength + extraLength + commentLength;
    }
  } catch {
    // A damaged directory: the properties are optional, mammoth reports real damage.
  }
  return undefined;
}

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const unescapeXml = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e: string) =>
    e[0] === "#" ? String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (XML_ENTITIES[e] ?? m),
  );

/** Core properties (title, creator, …) by local name, whatever the namespace prefixes. */
function coreProperties(bytes: Uint8Array): Record<string, string> {
  const xml = zipEntry(bytes, "docProps/core.xml");
  if (!xml) return {};
  const text = new TextDecoder().decode(xml);
  const props: Record<string, string> = {};
  for (const m of text.matchAll(/<(?:[\w.-]+:)?(title|creator|subject|keywords|description|modified)\b[^>]*>([\s\S]*?)<\/(?:[\w.-]+:)?\1\s*>/g)) {
    const value = unescapeXml(m[2]).replace(/\s+/g, " ").trim();
    if (value && !(m[1] in props)) props[m[1]] = value;
  }
  return props;
}

/** Mammoth's HTML with each block on its own line, so line numbers count blocks. */
function oneBlockPerLine(html: string): string {
  const { document } = parseHTML(`<!doctype html><html><head></head><body>${html}</body></html>`);
  const lines: string[] = [];
  for (const el of Array.from(document.body.children)) {
    const tag = el.localName;
    if (tag !== "ul" && tag !== "ol" && tag !== "table") {
      lines.push(el.outerHTML);
      continue;
    }
    const rows =
      tag === "table"
        ? Array.from(el.querySelectorAll("tr")).filter((tr) => tr.closest("table") === el)
        : Array.from(el.children).filter((li) => li.localName === "li");
    rows.forEach((row, i) => lines.push(`${i === 0 ? `<${tag}>` : ""}${row.outerHTML}${i === rows.length - 1 ? `</${tag}>` : ""}`));
  }
  return lines.join("\n");
}

/** Mammoth/JSZip errors as a short reason. */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/end of central directory/i.test(message)) return "not a ZIP package (a .docx file is one)";
  if (/main document part/i.test(message)) return "no word/document.xml in the package";
  return message.split("\n")[0];
}

export async function loadDocx(input: LoaderInput): Promise<LoadedDocument> {
  const { path } = input;
  const mammoth = (await import("mammoth")).default;
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: Buffer.from(input.bytes) }, { styleMap: STYLE_MAP })).value;
  } catch (err) {
    throw new Error(`${path}: not a readable .docx: ${reasonOf(err)}`);
  }
  // Footnote and endnote back-links ("↑") are navigation, not text.
  const lined = oneBlockPerLine(html.replace(/<a href="#(?:footnote|endnote|comment)-ref-[^"]*">[^<]*<\/a>/g, ""));
  const sections = htmlSections(lined);
  const props = coreProperties(input.bytes);
  const { document } = parseHTML(`<!doctype html><html><head></head><body>${lined}</body></html>`);
  const text = (selector: string) => document.querySelector(selector)?.textContent?.replace(/\s+/g, " ").trim() || undefined;
  const title = props.title ?? text("p.docx-title") ?? text("h1") ?? sections.find((s) => (s.level ?? 0) > 0)?.headingPath[0] ?? baseTitle(path);
  const meta: Record<string, unknown> = {};
  for (const [key, prop] of [["author", "creator"], ["subject", "subject"], ["keywords", "keywords"], ["description", "description"], ["modified", "modified"]] as const) {
    if (props[prop]) meta[key] = props[prop];
  }
  return { title, meta, sections };
}

export const docxLoader: Loader = {
  extensions: [".docx"],
  binary: true,
  load: loadDocx,
};
