/**
 * Hostile files for the ingest fuzz (bench/hostile.ts) and its small test (test/ingest-hostile
 * .test.ts): every class issue 9 part 10 names, each entry with what ingest must do with it —
 * index it, list it as skipped with a matching reason, or either (but account for it).
 *
 * Everything is written under `<project>/hostile/`; a secret file sits OUTSIDE the project, in
 * `outside/`, reached by links and by a file name that spells a path to it with backslashes.
 */
import { execFileSync } from "node:child_process";
import { deflateRawSync, constants as zc, createDeflateRaw, crc32 } from "node:zlib";
import { mkdirSync, symlinkSync, writeFileSync, truncateSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { mulberry32 } from "./rng.ts";

/**
 * `unselected`: a hidden name (leading dot), which `**` does not select (glob semantics, as
 * before): neither indexed nor listed.
 */
export type Expect = "indexed" | "skipped" | "any" | "unselected";

export interface HostileEntry {
  /** Path bytes relative to the project (always under hostile/). */
  name: Buffer;
  kind: string;
  expect: Expect;
  /** When skipped, the reason must match. */
  reason?: RegExp;
  /** When indexed, a word only this file holds: search must find it. */
  marker?: string;
}

export interface HostileSet {
  entries: HostileEntry[];
  /** Strings that must never appear in the index (contents outside the project). */
  secrets: string[];
}

export interface HostileOptions {
  /** Variants per scalable class (1 for the test; the bench uses enough for ≥ 1,000 files). */
  copies: number;
  /** Bytes of the single-line files (the bench uses 50 MB). */
  bigLineBytes: number;
  /** Uncompressed bytes of the zip-bomb entry. */
  bombBytes: number;
  seed?: number;
  /** Prefix of the markers, so a second generation (changed set) has its own words. */
  tag?: string;
  /** Folder under the project to write into (default "hostile"; may be nested, "hostile/round2"). */
  folder?: string;
}

const B = (s: string) => Buffer.from(s, "utf8");
const cat = (...parts: (Buffer | string)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? B(p) : p)));

// ---------------------------------------------------------------------------------------------
// Formats by hand: a ZIP writer (so a bomb can declare any size) and a one-page PDF.

export interface ZipPart {
  name: string;
  data: Buffer;
  /** Declared unpacked size (default: the real one). */
  declared?: number;
  /** Already deflated data plus its real size and CRC (for a bomb built by streaming). */
  deflated?: { size: number; crc: number };
}

export function zipArchive(parts: ZipPart[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const p of parts) {
    const name = B(p.name);
    const data = p.deflated ? p.data : deflateRawSync(p.data);
    const size = p.declared ?? (p.deflated ? p.deflated.size : p.data.length);
    const crc = p.deflated ? p.deflated.crc : crc32(p.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size >>> 0, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
export const docxPara = (text: string, style?: string) =>
  `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r></w:p>`;

export function docxParts(documentXml: string | ZipPart, coreXml?: string): ZipPart[] {
  const parts: ZipPart[] = [
    {
      name: "[Content_Types].xml",
      data: B(
        `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
          `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
          `<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
      ),
    },
    {
      name: "_rels/.rels",
      data: B(
        `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
          `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
      ),
    },
    typeof documentXml === "string" ? { name: "word/document.xml", data: B(documentXml) } : documentXml,
  ];
  if (coreXml) parts.push({ name: "docProps/core.xml", data: B(coreXml) });
  return parts;
}

export function makeDocx(bodyXml: string, coreXml?: string): Buffer {
  return zipArchive(docxParts(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${bodyXml}</w:body></w:document>`, coreXml));
}

/** document.xml of `bytes` spaces inside the body, deflated by streaming (never held unpacked). */
async function bombPart(bytes: number, declared?: number): Promise<ZipPart> {
  const head = B(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${docxPara("bomb")}`);
  const tail = B(`</w:body></w:document>`);
  const deflate = createDeflateRaw({ level: zc.Z_BEST_COMPRESSION });
  const out: Buffer[] = [];
  deflate.on("data", (d: Buffer) => out.push(d));
  let crc = crc32(head);
  deflate.write(head);
  const block = Buffer.alloc(1 << 20, 0x20);
  const blockCrc = (n: number) => crc32(n === block.length ? block : block.subarray(0, n), crc);
  for (let left = bytes; left > 0; left -= block.length) {
    const n = Math.min(left, block.length);
    crc = blockCrc(n);
    if (!deflate.write(n === block.length ? block : block.subarray(0, n))) await once(deflate, "drain");
  }
  crc = crc32(tail, crc);
  deflate.end(tail);
  await once(deflate, "end");
  const size = head.length + bytes + tail.length;
  return { name: "word/document.xml", data: Buffer.concat(out), deflated: { size, crc }, declared: declared ?? size };
}

export function makePdf(lines: string[], title?: string): Buffer {
  const esc = (s: string) => `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;
  let y = 750;
  const ops = lines.map((l) => `BT /F1 11 Tf 72 ${(y -= 18)} Td ${esc(l)} Tj ET`).join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
    `<< /Length ${Buffer.byteLength(ops, "latin1")} >>\nstream\n${ops}\nendstream`,
    `<< /Title ${esc(title ?? "Hostile PDF")} >>`,
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, "latin1"));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, "latin1");
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

// ---------------------------------------------------------------------------------------------

/** Write the hostile set; `outside` must be a folder outside the project. */
export async function writeHostileSet(project: string, outside: string, opts: HostileOptions): Promise<HostileSet> {
  const rand = mulberry32(opts.seed ?? 9);
  const tag = opts.tag ?? "h";
  const entries: HostileEntry[] = [];
  const secret = `outsidesecret${tag}${Math.floor(rand() * 1e9)}`;
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, "secret.md"), `# Secret\n\nThe ${secret} must never be indexed.\n`);
  mkdirSync(join(outside, "dir"), { recursive: true });
  writeFileSync(join(outside, "dir", "inner.md"), `# Inner\n\nAlso ${secret} inside a folder.\n`);
  const outsideName = outside.split("/").pop()!;
  const folder = opts.folder ?? "hostile";
  const base = join(project, folder);
  // From <folder>/ up to the folder holding the project (where outside/ is).
  const up = "../".repeat(folder.split("/").length + 1);
  mkdirSync(join(base, "links"), { recursive: true });
  mkdirSync(join(base, "names"), { recursive: true });
  let n = 0;
  const word = () => `${tag}marker${(n++).toString(36)}q${Math.floor(rand() * 1e6).toString(36)}`;
  const goodText = (marker: string) => `# Page ${marker}\n\nThis page explains the ${marker} setting in plain words. It is ordinary documentation.\n`;
  const rel = (name: string | Buffer) => cat(`${folder}/`, name);
  const file = (name: string | Buffer, data: Buffer | string, kind: string, expect: Expect, extra: Partial<HostileEntry> = {}) => {
    const path = rel(name);
    const abs = Buffer.concat([B(project), B("/"), path]);
    mkdirSync(abs.subarray(0, abs.lastIndexOf(0x2f)), { recursive: true });
    writeFileSync(abs, data);
    entries.push({ name: path, kind, expect, ...extra });
  };
  const link = (name: string, target: string, kind: string, expect: Expect, reason?: RegExp) => {
    symlinkSync(target, join(base, name));
    entries.push({ name: rel(name), kind, expect, reason });
  };
  const randomBytes = (len: number) => Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
  const C = opts.copies;

  // Content that is not what its extension says.
  for (let i = 0; i < C; i++) {
    for (const ext of [".md", ".txt", ".html"]) file(`binary-${i}${ext}`, randomBytes(2048 + Math.floor(rand() * 8192)), "binary with a text extension", "skipped", { reason: /binary/ });
  }
  for (let i = 0; i < C; i++) {
    const m = word();
    const text = B(`# Invalid ${m}\n\nMostly text about ${m} with broken bytes `);
    file(`invalid-utf8-${i}.md`, cat(text, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]), " and more plain words follow.\n"), "invalid UTF-8", "indexed", { marker: m });
  }
  for (let i = 0; i < C; i++) {
    const m = word();
    file(`latin1-${i}.txt`, Buffer.from(`Caf\xe9 cr\xe8me ${m} in Latin-1, an 8-bit encoding.\n`, "latin1"), "latin-1 text", "indexed", { marker: m });
  }
  for (let i = 0; i < C; i++) {
    for (const [order, bom] of [["le", true], ["be", true], ["le", false], ["be", false]] as const) {
      const m = word();
      let data = Buffer.from(goodText(m), "utf16le");
      if (order === "be") data = Buffer.from(data).swap16();
      if (bom) data = Buffer.concat([Buffer.from(order === "le" ? [0xff, 0xfe] : [0xfe, 0xff]), data]);
      file(`utf16${order}-${bom ? "bom" : "nobom"}-${i}.md`, data, `UTF-16 ${order.toUpperCase()} ${bom ? "with" : "without"} BOM`, "indexed", { marker: m });
    }
  }
  for (let i = 0; i < C; i++) {
    file(`empty-${i}.md`, "", "0 bytes", "skipped", { reason: /empty file/ });
    file(`blank-${i}.txt`, " \n\t\n  ", "whitespace only", "skipped", { reason: /empty file/ });
  }
  file("bigline.md", Buffer.alloc(opts.bigLineBytes, "word "), "one huge line of words", "any");
  file("bigline-run.txt", Buffer.alloc(opts.bigLineBytes, "x"), "one huge line without spaces", "any");

  // Nesting built to exhaust stacks, and markup that used to stall.
  const deep = Math.max(1, Math.ceil(C / 10));
  for (let i = 0; i < deep; i++) {
    file(`deep-divs-${i}.html`, `<html><body>${"<div>".repeat(10_000)}deep${"</div>".repeat(10_000)}</body></html>`, "10k-deep HTML", "skipped", { reason: /nest/ });
    file(`nested-spans-${i}.html`, `<html><body><p>${"<span>x ".repeat(100_000)}${"</span>".repeat(100_000)}</p></body></html>`, "100k nested spans", "skipped", { reason: /nest/ });
    file(`unclosed-${i}.html`, `<html><body>${"<div><b>".repeat(8_000)}text</body></html>`, "unclosed nesting", "skipped", { reason: /nest/ });
    file(`deep-fm-flow-${i}.md`, `---\na: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n---\n# T\n\nbody\n`, "20k-deep front matter (flow)", "skipped", { reason: /front matter/ });
    let block = "";
    for (let d = 0; d < 300; d++) block += `${" ".repeat(d)}k${d}:\n`;
    file(`deep-fm-block-${i}.md`, `---\n${block}${" ".repeat(300)}leaf: 1\n---\n# T\n\nbody\n`, "deep front matter (block)", "skipped", { reason: /front matter/ });
    file(`deep-fm-list-${i}.md`, `---\na:\n${"- ".repeat(5000)}x\n---\n# T\n\nbody\n`, "deep front matter (lists)", "skipped", { reason: /front matter/ });
  }
  const aliases = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (let k = 1; k < 9; k++) aliases.push(`${String.fromCharCode(97 + k)}: &${String.fromCharCode(97 + k)} [${Array(9).fill(`*${String.fromCharCode(96 + k)}`).join(", ")}]`);
  file("yaml-alias-bomb.md", `---\n${aliases.join("\n")}\n---\n# Laughs\n\nbody text\n`, "YAML alias bomb", "skipped", { reason: /alias/i });
  const cyc = word();
  file("yaml-cycle.md", `---\nloop: &x [1, *x]\n---\n# Cycle ${cyc}\n\nA front matter that refers to itself, about ${cyc}.\n`, "cyclic YAML anchors", "indexed", { marker: cyc });
  const proto = word();
  file("proto-keys.md", `---\n__proto__: polluted\nconstructor: 5\ntoString: x\ntitle: constructor\n---\n# hasOwnProperty\n\nThe constructor of ${proto} calls valueOf and toString.\n`, "Object.prototype names", "indexed", { marker: proto });
  const many = word();
  file("many-headings.md", `# ${many}\n\n${Array.from({ length: 20_000 }, (_, i) => `## H${i}\n\nline ${i}\n`).join("\n")}`, "20k headings", "any");
  file("bracket-heading.md", `# ${"[".repeat(200_000)}\n\ntext\n`, "200k brackets in a heading", "any");
  file("flat-html.html", `<html><body>${"<p>para</p>".repeat(50_000)}</body></html>`, "50k flat elements", "any");
  file("long-title.html", `<html><head><title>${"t".repeat(1_000_000)}</title></head><body><p>${word()} body</p></body></html>`, "1 MB title", "any");

  // Office and PDF damage.
  const docxMarker = word();
  file("good.docx", makeDocx(docxPara(`Handbook ${docxMarker}`, "Title") + docxPara(`The ${docxMarker} rule applies.`)), "valid DOCX", "indexed", { marker: docxMarker });
  const charref = word();
  file(
    "bad-charref-title.docx",
    makeDocx(
      docxPara(`Body of ${charref} is fine.`),
      `<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Bad &#xFFFFFF; &#0; ref &constructor;</dc:title></cp:coreProperties>`,
    ),
    "DOCX title with invalid character references",
    "indexed",
    { marker: charref },
  );
  const valid = makeDocx(docxPara("A long enough body paragraph. ".repeat(200)));
  for (let i = 0; i < C; i++) file(`truncated-${i}.docx`, valid.subarray(0, Math.floor(valid.length * (0.2 + 0.6 * rand()))), "truncated DOCX", "skipped", { reason: /docx|ZIP/i });
  file("not-a-zip.docx", "this is plain text, not a package", "DOCX that is not a ZIP", "skipped", { reason: /not a ZIP/ });
  let tables = docxPara("cell");
  for (let d = 0; d < 5000; d++) tables = `<w:tbl><w:tr><w:tc>${tables}</w:tc></w:tr></w:tbl>`;
  file("nested-tables.docx", makeDocx(tables), "5k nested DOCX tables", "skipped", { reason: /nests/ });
  const bomb = await bombPart(opts.bombBytes);
  file("zip-bomb.docx", zipArchive(docxParts(bomb)), "zip bomb (declared size)", "skipped", { reason: /unpacks to more than/ });
  file("zip-bomb-lying.docx", zipArchive(docxParts({ ...bomb, declared: 4096 })), "zip bomb (lying size)", "skipped", { reason: /zip bomb/ });
  const pdfMarker = word();
  file("good.pdf", makePdf([`The ${pdfMarker} handbook page.`, "Second line of ordinary text."], `PDF ${pdfMarker}`), "valid PDF", "indexed", { marker: pdfMarker });
  const goodPdf = makePdf(["Some text on a page.", "More text on the page."]);
  for (let i = 0; i < C; i++) {
    file(`corrupt-${i}.pdf`, i % 2 === 0 ? cat("%PDF-1.7\n", randomBytes(4096)) : goodPdf.subarray(0, Math.floor(goodPdf.length * (0.1 + 0.5 * rand()))), "corrupt PDF", "skipped", { reason: /PDF|no extractable text/ });
  }
  file("sparse-huge.md", "", "sparse 10 GB file", "skipped", { reason: /larger than chunking\.maxFileBytes/ });
  truncateSync(join(base, "sparse-huge.md"), 10 * 1024 ** 3);
  file("image.png", randomBytes(512), "unsupported type", "skipped", { reason: /unsupported file type/ });
  file("noextension", "plain words", "no extension", "skipped", { reason: /unsupported file type/ });

  // Links: loops, out of the project, to devices and /proc, dangling; and harmless ones.
  link("links/loop-up", "..", "link to its ancestor folder", "skipped", /loop/);
  link("links/self.md", "self.md", "link to itself", "skipped", /loop/);
  link("links/ping.md", "pong.md", "link loop (pair)", "skipped", /loop/);
  link("links/pong.md", "ping.md", "link loop (pair)", "skipped", /loop/);
  link("links/secret.md", join(outside, "secret.md"), "absolute link out of the project", "skipped", /outside the project/);
  link("links/secret-rel.md", `../${up}${outsideName}/secret.md`, "relative link out of the project", "skipped", /outside the project/);
  link("links/outdir", join(outside, "dir"), "link to a folder outside", "skipped", /outside the project/);
  link("links/root", "/", "link to /", "skipped", /outside the project/);
  link("links/passwd.md", "/etc/passwd", "link to /etc/passwd", "skipped", /outside the project/);
  link("links/zero.md", "/dev/zero", "link to /dev/zero", "skipped", /outside the project/);
  link("links/status.md", "/proc/self/status", "link to a /proc file", "skipped", /outside the project/);
  link("links/environ.txt", "/proc/self/environ", "link to /proc/self/environ", "skipped", /outside the project/);
  for (let i = 0; i < C; i++) link(`links/dangling-${i}.md`, `missing-${i}.md`, "dangling link", "skipped", /dangling/);
  link("links/alias.md", "../good.docx", "link to a file inside", "skipped", new RegExp(`same file as ${folder}/good\\.docx`));
  link("links/inside-dir", "../names", "link to a folder inside", "skipped", /indexed already/);

  // Special files.
  for (let i = 0; i < Math.min(C, 3); i++) {
    execFileSync("mkfifo", [join(base, `fifo-${i}.md`)]);
    entries.push({ name: rel(`fifo-${i}.md`), kind: "FIFO", expect: "skipped", reason: /named pipe/ });
  }
  try {
    execFileSync("python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", join(base, "socket.md")], { stdio: "ignore" });
    entries.push({ name: rel("socket.md"), kind: "socket", expect: "skipped", reason: /socket/ });
  } catch {
    // no python: no socket entry
  }
  try {
    execFileSync("mknod", [join(base, "null.md"), "c", "1", "3"], { stdio: "ignore" });
    entries.push({ name: rel("null.md"), kind: "character device", expect: "skipped", reason: /character device/ });
  } catch {
    // not allowed here: no device entry
  }

  // Odd names, each holding ordinary content with its own marker.
  // Read as a path, this name leads from <folder>/ to ../outside/secret.md: it must be read as a name.
  const trap = word();
  file(`x\\${"..\\".repeat(folder.split("/").length + 2)}${outsideName}\\secret.md`, goodText(trap), "backslashes spelling a path out", "indexed", { marker: trap });
  const names: (string | Buffer)[] = [
    "back\\slash.md",
    "a..b.md",
    cat("bad-", Buffer.from([0xff, 0xfe]), ".md"),
    cat("caf", Buffer.from([0xe9]), "-latin1.md"),
    cat("overlong-", Buffer.from([0xc0, 0xaf]), ".md"),
    cat("surrogate-", Buffer.from([0xed, 0xa0, 0x80]), ".md"),
    "x\\xff.md",
    cat("x", Buffer.from([0xff]), ".md"),
    `${"long".repeat(61)}.md`,
    "new\nline.md",
    "tab\there.md",
    "-rf.md",
    "--help.md",
    "caf\u00e9.md",
    "cafe\u0301.md",
    "[a].md",
    "*.md",
    "?.md",
    "{a,b}.md",
    "!bang.md",
    "#hash.md",
    "a b.md",
    "%41.md",
    "$HOME.md",
    "\u202egnp.md",
    "constructor.md",
    "__proto__.md",
  ];
  for (const name of names) {
    const m = word();
    file(cat("names/", name), goodText(m), "odd file name", "indexed", { marker: m });
  }
  for (const name of ["..md", "...md", ".. .md"]) file(`names/${name}`, goodText(word()), "hidden name made of dots", "unselected");
  return { entries, secrets: [secret] };
}
