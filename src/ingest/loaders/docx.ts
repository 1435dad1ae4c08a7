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
import { parseHTML } from "linkedom";
import type { LoadedDocument, Loader, LoaderInput } from "../index.ts";
import { checkHtmlDepth, LIMITS, LimitError, xmlDepth } from "../limits.ts";
import { htmlSections } from "./html.ts";
import { baseTitle } from "./markdown.ts";
import { checkPackage, unpackEntry, zipDirectory, type ZipEntry } from "./zip.ts";

/** Mammoth style map additions: Word's Title style marked so we can find it (it stays text). */
const STYLE_MAP = ["p[style-name='Title'] => p.docx-title:fresh", "p[style-name='Subtitle'] => p.docx-subtitle:fresh"];

/**
 * One file from a ZIP archive (stored or deflated), or undefined when absent or unreadable. Enough
 * for docProps/core.xml, which mammoth does not read; ZIP64 archives are not handled. Never
 * unpacks more than the entry's declared size (see zip.ts).
 */
export function zipEntry(bytes: Uint8Array, name: string, entries: ZipEntry[] | undefined = zipDirectory(bytes)): Uint8Array | undefined {
  const entry = entries?.find((e) => e.name === name);
  if (!entry) return undefined;
  try {
    return unpackEntry(bytes, entry);
  } catch {
    return undefined; // the package check reports a bomb; the properties are optional
  }
}

// A Map, not an object literal: an entity name is document text ("&constructor;" must not find
// Object.prototype.constructor).
const XML_ENTITIES = new Map([["amp", "&"], ["lt", "<"], ["gt", ">"], ["quot", '"'], ["apos", "'"]]);

/** A numeric character reference, or U+FFFD when it names no character XML allows. */
function fromReference(code: number): string {
  const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
  return allowed ? String.fromCodePoint(code) : "\uFFFD";
}

export const unescapeXml = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e: string) =>
    e[0] === "#" ? fromReference(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (XML_ENTITIES.get(e) ?? m),
  );

/** Core properties (title, creator, …) by local name, whatever the namespace prefixes. */
function coreProperties(bytes: Uint8Array, entries: ZipEntry[] | undefined): Map<string, string> {
  const props = new Map<string, string>();
  const xml = zipEntry(bytes, "docProps/core.xml", entries);
  if (!xml) return props;
  const text = new TextDecoder().decode(xml);
  for (const m of text.matchAll(/<(?:[\w.-]+:)?(title|creator|subject|keywords|description|modified)\b[^>]*>([\s\S]*?)<\/(?:[\w.-]+:)?\1\s*>/g)) {
    const value = unescapeXml(m[2]).replace(/\s+/g, " ").trim();
    if (value && !props.has(m[1])) props.set(m[1], value);
  }
  return props;
}

/** Mammoth's HTML with each block on its own line, so line numbers count blocks. */
function oneBlockPerLine(html: string): string {
  const { document } = parseHTML(`<!doctype html><html><head></head><body>${html}</body></html>`);
  checkHtmlDepth(document.body, "the converted document");
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
  // Sizes and nesting first: mammoth unpacks and recurses without limits.
  const entries = checkPackage(input.bytes);
  const body = entries && zipEntry(input.bytes, "word/document.xml", entries);
  if (body) {
    const depth = xmlDepth(new TextDecoder().decode(body));
    if (depth > LIMITS.xmlDepth) throw new LimitError(`word/document.xml nests elements ${depth} deep (limit ${LIMITS.xmlDepth}): not parsed`);
  }
  const mammoth = (await import("mammoth")).default;
  let html: string;
  try {
    html = (
      await mammoth.convertToHtml(
        { buffer: Buffer.from(input.bytes) },
        {
          styleMap: STYLE_MAP,
          // Images carry no text: never decompress them (nor read linked files).
          convertImage: mammoth.images.imgElement(async () => ({ src: "" })),
          externalFileAccess: false,
        },
      )
    ).value;
  } catch (err) {
    throw new Error(`${path}: not a readable .docx: ${reasonOf(err)}`);
  }
  // Footnote and endnote back-links ("↑") are navigation, not text.
  const lined = oneBlockPerLine(html.replace(/<a href="#(?:footnote|endnote|comment)-ref-[^"]*">[^<]*<\/a>/g, ""));
  const sections = htmlSections(lined);
  const props = coreProperties(input.bytes, entries);
  const { document } = parseHTML(`<!doctype html><html><head></head><body>${lined}</body></html>`);
  const text = (selector: string) => document.querySelector(selector)?.textContent?.replace(/\s+/g, " ").trim() || undefined;
  const title = props.get("title") ?? text("p.docx-title") ?? text("h1") ?? sections.find((s) => (s.level ?? 0) > 0)?.headingPath[0] ?? baseTitle(path);
  const meta: Record<string, unknown> = {};
  for (const [key, prop] of [["author", "creator"], ["subject", "subject"], ["keywords", "keywords"], ["description", "description"], ["modified", "modified"]] as const) {
    const value = props.get(prop);
    if (value) meta[key] = value;
  }
  return { title, meta, sections };
}

export const docxLoader: Loader = {
  extensions: [".docx"],
  binary: true,
  load: loadDocx,
};
