/**
 * A strict reader for the XML subset our writers produce (elements, attributes, text, the five
 * entities and numeric character references; no CDATA, comments or DTD): it throws on anything
 * not well-formed, so a test can tell a broken file from a good one without an XML dependency.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const NAME = /^[A-Za-z_][\w.-]*$/;

function decode(s: string, where: number): string {
  if (/[<]/.test(s)) throw new Error(`raw '<' in text or attribute at ${where}`);
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(";")) throw new Error(`unterminated entity at ${where}: ${m}`);
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (Object.hasOwn(named, body)) return named[body];
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(body);
    if (!num) throw new Error(`unknown entity &${body}; at ${where}`);
    const cp = num[1][0] === "x" ? parseInt(num[1].slice(1), 16) : Number(num[1]);
    const ch = String.fromCodePoint(cp);
    if (!XML_CHAR.test(ch)) throw new Error(`character reference to a non-XML character at ${where}`);
    return ch;
  });
}

export function parseXml(xml: string): XmlElement {
  if (!XML_CHAR.test(xml)) throw new Error("document holds characters XML 1.0 does not allow");
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const root: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack = [root];
  let pos = 0;
  while (pos < s.length) {
    const lt = s.indexOf("<", pos);
    const textEnd = lt === -1 ? s.length : lt;
    const top = stack[stack.length - 1];
    const text = s.slice(pos, textEnd);
    if (text.includes("]]>")) throw new Error(`']]>' in text at ${pos}`);
    top.text += decode(text, pos);
    if (lt === -1) break;
    const gt = s.indexOf(">", lt);
    if (gt === -1) throw new Error(`unclosed tag at ${lt}`);
    const tag = s.slice(lt + 1, gt);
    pos = gt + 1;
    if (tag.startsWith("/")) {
      const el = stack.pop();
      if (!el || el.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes <${el?.name}> at ${lt}`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^(\S+)((?:\s+[^\s=]+="[^"]*")*)\s*$/.exec(body);
    if (!m || !NAME.test(m[1])) throw new Error(`malformed tag <${tag}> at ${lt}`);
    const el: XmlElement = { name: m[1], attrs: {}, children: [], text: "" };
    for (const a of m[2].matchAll(/([^\s=]+)="([^"]*)"/g)) {
      if (Object.hasOwn(el.attrs, a[1])) throw new Error(`attribute ${a[1]} twice at ${lt}`);
      el.attrs[a[1]] = decode(a[2], lt);
    }
    top.children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1 || root.text.trim() !== "") throw new Error("a document has exactly one root element");
  s = "";
  return root.children[0];
}

export const childrenNamed = (el: XmlElement, name: string) => el.children.filter((c) => c.name === name);
