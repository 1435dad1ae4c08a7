/**
 * Per-file limits on what parsing one file may cost. Real documents stay far below every one of
 * them (measured on the pnpm and fastify docs: nesting depth < 40, front matter < 2 KB); hostile
 * files hit them and are skipped with a reason that names the limit, instead of exhausting the
 * call stack, the heap or the clock. Checked before the expensive step wherever the input allows
 * (nesting and sizes are measured in one linear scan); the parser worker (sandbox.ts) bounds time
 * and memory of everything else.
 */

export const LIMITS = {
  /** Element nesting of HTML (and of the HTML a DOCX converts to). Browsers' parsers stop at 512. */
  htmlDepth: 512,
  /**
   * Open-tag nesting of raw HTML, counted before parsing: the DOM library's parse time grows with
   * the square of the depth (100k nested spans took 10 s). An upper estimate of the DOM depth
   * (unclosed tags count), so it sits well above `htmlDepth`, which the parsed tree must meet.
   */
  htmlTagDepth: 5000,
  /** Element nesting of a DOCX's XML parts. */
  xmlDepth: 512,
  /** Nesting of YAML front matter (mappings, lists, flow brackets). */
  yamlDepth: 100,
  /** Bytes of YAML front matter; its fields are copied onto every chunk of the document. */
  frontMatterBytes: 64 * 1024,
  /** JSON size of a document's metadata (front matter, meta tags, document properties). */
  metaBytes: 64 * 1024,
  /** Characters kept of a title or a heading (longer ones are cut: they are not titles). */
  titleChars: 1000,
  /** Files in a DOCX (ZIP) package. */
  zipEntries: 10_000,
  /** Uncompressed bytes of a DOCX's parts other than media (images are never decompressed). */
  zipUnpackedBytes: 64 * 1024 * 1024,
} as const;

/** A file exceeds a per-file limit: skipped with this message (ingest prefixes the path). */
export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LimitError";
  }
}

/** Deepest element nesting of a DOM subtree, iteratively (a recursive walk would overflow). */
export function domDepth(root: { firstElementChild: Element | null } | null): number {
  if (!root) return 0;
  let max = 0;
  const stack: [Element, number][] = [];
  for (let c = root.firstElementChild; c; c = c.nextElementSibling) stack.push([c, 1]);
  while (stack.length > 0) {
    const [el, depth] = stack.pop()!;
    if (depth > max) max = depth;
    for (let c = el.firstElementChild; c; c = c.nextElementSibling) stack.push([c, depth + 1]);
  }
  return max;
}

/** Refuse raw HTML whose tag nesting would make parsing itself slow. */
export function checkHtmlTagDepth(raw: string, what = "HTML"): void {
  const depth = htmlTagDepth(raw);
  if (depth > LIMITS.htmlTagDepth) throw new LimitError(`${what} opens ${depth} nested tags (limit ${LIMITS.htmlTagDepth}): not parsed`);
}

export function checkHtmlDepth(root: { firstElementChild: Element | null } | null, what = "HTML"): void {
  const depth = domDepth(root);
  if (depth > LIMITS.htmlDepth) throw new LimitError(`${what} nests elements ${depth} deep (limit ${LIMITS.htmlDepth}): not parsed`);
}

const VOID_OR_OPTIONAL_END = new Set([
  // Void elements, then elements whose end tag may be left out (the parser closes them itself).
  "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "param", "keygen", "frame", "basefont", "isindex",
  "p", "li", "dt", "dd", "rt", "rp", "optgroup", "option", "colgroup", "caption", "thead", "tbody", "tfoot", "tr", "td", "th", "html", "head", "body",
]);
const RAW_TEXT = new Set(["script", "style", "textarea", "title", "xmp", "plaintext", "noscript"]);

/**
 * Open-tag nesting of raw HTML in one linear scan: +1 per start tag, −1 per end tag, ignoring
 * void elements, elements with optional end tags, comments and raw-text element contents.
 */
export function htmlTagDepth(raw: string): number {
  let depth = 0;
  let max = 0;
  const lower = (s: string) => s.toLowerCase();
  for (let i = raw.indexOf("<"); i >= 0; i = raw.indexOf("<", i + 1)) {
    if (raw.startsWith("<!--", i)) {
      const end = raw.indexOf("-->", i + 4);
      if (end < 0) break;
      i = end;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)/.exec(raw.slice(i, i + 64));
    if (!m) continue;
    const close = raw.indexOf(">", i);
    if (close < 0) break;
    const tag = lower(m[2]);
    if (m[1]) {
      if (!VOID_OR_OPTIONAL_END.has(tag) && depth > 0) depth--;
    } else if (RAW_TEXT.has(tag)) {
      const end = new RegExp(`</${tag}`, "gi");
      end.lastIndex = close;
      const found = end.exec(raw);
      if (!found) break;
      i = found.index;
      continue;
    } else if (!VOID_OR_OPTIONAL_END.has(tag) && raw[close - 1] !== "/") {
      depth++;
      if (depth > max) max = depth;
    }
    i = close;
  }
  return max;
}

/** Deepest element nesting of well-formed XML, by one scan of its tags. */
export function xmlDepth(xml: string): number {
  let depth = 0;
  let max = 0;
  for (let i = xml.indexOf("<"); i >= 0 && i < xml.length; i = xml.indexOf("<", i + 1)) {
    const next = xml[i + 1];
    if (next === "!" && xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i + 4);
      if (end < 0) break;
      i = end;
      continue;
    }
    if (next === "!" && xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i + 9);
      if (end < 0) break;
      i = end;
      continue;
    }
    const close = xml.indexOf(">", i);
    if (close < 0) break;
    if (next === "/") depth--;
    else if (next !== "?" && next !== "!" && xml[close - 1] !== "/") {
      depth++;
      if (depth > max) max = depth;
    }
    i = close;
  }
  return max;
}

/**
 * Upper estimate of YAML nesting: block indentation levels plus `- ` list markers on a line,
 * plus open flow brackets. Exact enough to tell a real front matter (a few levels) from one
 * built to exhaust the parser's call stack (thousands).
 */
export function yamlDepth(yaml: string): number {
  let max = 0;
  let flow = 0;
  let quote: string | undefined;
  const indents: number[] = [];
  for (const line of yaml.split("\n")) {
    if (quote === undefined && flow === 0) {
      let col = 0;
      while (line[col] === " ") col++;
      if (col < line.length && line[col] !== "#") {
        while (indents.length > 0 && indents[indents.length - 1] >= col) indents.pop();
        indents.push(col);
        let dashes = 0;
        for (let k = col; line[k] === "-" && (line[k + 1] === " " || k + 1 === line.length); k += 2) {
          dashes++;
          while (line[k + 2] === " ") k++;
        }
        max = Math.max(max, indents.length + dashes);
      }
    }
    for (let k = 0; k < line.length; k++) {
      const ch = line[k];
      if (quote !== undefined) {
        if (ch === quote) quote = undefined;
        continue;
      }
      if (ch === "#" && (k === 0 || line[k - 1] === " ")) break;
      // A quote opens a scalar only where a scalar can start ("don't" is not a quote).
      if ((ch === '"' || ch === "'") && (k === 0 || /[\s[{,:]/.test(line[k - 1]))) quote = ch;
      else if (ch === "[" || ch === "{") {
        flow++;
        max = Math.max(max, indents.length + flow);
      } else if ((ch === "]" || ch === "}") && flow > 0) flow--;
    }
  }
  return max;
}

/** Cut an over-long title or heading (a "title" of megabytes is text, not a name). */
export function boundTitle(title: string): string {
  return title.length > LIMITS.titleChars ? `${title.slice(0, LIMITS.titleChars - 1)}…` : title;
}
