/**
 * Per-file parser limits (src/ingest/limits.ts): each hostile shape is refused with a reason that
 * names the limit, before the parser that would overflow or stall; real documents stay far below.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { execSync } from "node:child_process";
import { deflateRawSync } from "node:zlib";
import { parseFile, reasonFor, decodeText } from "../src/ingest/parse.ts";
import { LIMITS, yamlDepth } from "../src/ingest/limits.ts";
import { docxPara, docxParts, makeDocx, zipArchive } from "../bench/lib/hostile-files.ts";

const chunking = { maxTokens: 200, overlapTokens: 20, headingDepth: 3, minTokens: 0 };
const parse = (path: string, data: string | Uint8Array) =>
  parseFile({ path, version: "v1", bytes: typeof data === "string" ? new TextEncoder().encode(data) : data, chunking });
async function reason(path: string, data: string | Uint8Array): Promise<string> {
  const r = await parse(path, data);
  assert.equal(r.ok, false, `${path} must be refused`);
  return r.ok ? "" : r.reason;
}

test("HTML: raw nesting beyond 5000 tags, or a tree deeper than 512, is refused before the recursive walks", async () => {
  assert.match(await reason("d.html", `<html><body>${"<div>".repeat(10_000)}x${"</div>".repeat(10_000)}</body></html>`), /^d\.html: HTML opens 10000 nested tags \(limit 5000\): not parsed$/);
  assert.match(await reason("d.html", `<html><body>${"<section>".repeat(1000)}x${"</section>".repeat(1000)}</body></html>`), /^d\.html: HTML nests elements 100\d deep \(limit 512\)/);
  // Unclosed <p>, <li> and <td> are closed by the parser: they do not count as nesting.
  for (const body of ["<p>para ".repeat(6000), `<ul>${"<li>item ".repeat(6000)}</ul>`, `<table>${"<tr><td>a<td>b".repeat(3000)}</table>`]) {
    const ok = await parse("ok.html", `<html><body>${body}</body></html>`);
    assert.ok(ok.ok, ok.ok ? "" : ok.reason);
  }
  const fine = await parse("fine.html", `<html><body>${"<div>".repeat(100)}<p>Deep but fine text here.</p>${"</div>".repeat(100)}</body></html>`);
  assert.ok(fine.ok && fine.chunks.length === 1);
});

test("front matter: nesting, size and alias bombs are refused; cycles and prototype names are kept as data", async () => {
  assert.match(await reason("f.md", `---\na: ${"[".repeat(20_000)}${"]".repeat(20_000)}\n---\n# T\n\nbody\n`), /^f\.md:2: front matter nests 20001 levels deep \(limit 100\)/);
  assert.match(await reason("f.md", `---\na:\n${"- ".repeat(3000)}x\n---\nbody\n`), /front matter nests 300\d levels deep/);
  assert.match(await reason("f.md", `---\nbig: "${"x".repeat(70_000)}"\n---\nbody text\n`), /^f\.md:2: front matter is 700\d\d characters long \(limit 65536\)/);
  const laughs = ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, k) => `${"bcdefghi"[k]}: &${"bcdefghi"[k]} [${Array(9).fill(`*${"abcdefgh"[k]}`).join(", ")}]`)];
  assert.match(await reason("f.md", `---\n${laughs.join("\n")}\n---\nbody text\n`), /alias/i);
  const cycle = await parse("c.md", "---\nloop: &x [1, *x]\n---\n# Cycle\n\nText about a cycle.\n");
  assert.ok(cycle.ok);
  if (cycle.ok) assert.deepEqual(cycle.meta, { loop: [1, "[circular]"] });
  const proto = await parse("p.md", "---\n__proto__: polluted\nconstructor: 5\ntoString: x\nhasOwnProperty: y\ntitle: constructor\n---\n# valueOf\n\nThe constructor calls toString and __proto__.\n");
  assert.ok(proto.ok);
  if (proto.ok) {
    assert.equal(proto.title, "constructor");
    assert.deepEqual(Object.keys(proto.meta).sort(), ["__proto__", "constructor", "hasOwnProperty", "toString"]);
    assert.equal(Object.getPrototypeOf(proto.meta), Object.prototype, "the key did not become the prototype");
    assert.equal(JSON.stringify(proto.meta), '{"__proto__":"polluted","constructor":5,"toString":"x","hasOwnProperty":"y"}');
  }
});

test("DOCX: zip bombs are refused from the directory, deep tables before mammoth; bad character references are replaced", async () => {
  const body = `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${docxPara("bomb")}${" ".repeat(1_000_000)}</w:body></w:document>`;
  const data = deflateRawSync(Buffer.from(body));
  const lying = zipArchive(docxParts({ name: "word/document.xml", data, deflated: { size: body.length, crc: 0 }, declared: 4096 }));
  assert.match(await reason("l.docx", lying), /^l\.docx: package entry word\/document\.xml unpacks to more than the 4096 bytes its directory declares \(a zip bomb or a damaged file\)$/);
  const huge = zipArchive(docxParts({ name: "word/document.xml", data, deflated: { size: body.length, crc: 0 }, declared: 200_000_000 }));
  assert.match(await reason("h.docx", huge), /^h\.docx: package unpacks to more than 67108864 bytes of document parts/);
  let tables = docxPara("cell");
  for (let d = 0; d < 300; d++) tables = `<w:tbl><w:tr><w:tc>${tables}</w:tc></w:tr></w:tbl>`;
  assert.match(await reason("t.docx", makeDocx(tables)), /^t\.docx: word\/document\.xml nests elements 90\d deep \(limit 512\)/);
  const core = `<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Bad &#xFFFFFF; &#0; &#x41; &amp; &constructor;</dc:title></cp:coreProperties>`;
  const doc = await parse("c.docx", makeDocx(docxPara("The body is fine."), core));
  assert.ok(doc.ok, doc.ok ? "" : doc.reason);
  if (doc.ok) assert.equal(doc.title, "Bad \uFFFD \uFFFD A & &constructor;");
});

test("titles and metadata are bounded: a megabyte title is cut, oversized metadata refuses the file", async () => {
  const long = await parse("t.html", `<html><head><title>${"t".repeat(100_000)}</title></head><body><p>Body text of the page.</p></body></html>`);
  assert.ok(long.ok);
  if (long.ok) {
    assert.equal(long.title.length, LIMITS.titleChars);
    assert.ok(long.chunks.every((c) => c.title === long.title));
  }
  assert.match(await reason("m.html", `<html><head><meta name="description" content="${"d".repeat(70_000)}"></head><body><p>Body.</p></body></html>`), /^m\.html: metadata is 700\d\d bytes as JSON \(limit 65536\)/);
});

test("a parser's stack overflow or string-length failure becomes a reason naming the file", () => {
  assert.equal(reasonFor("a.md", new RangeError("Maximum call stack size exceeded")), "a.md: nested too deeply to parse (the parser ran out of call stack)");
  assert.equal(reasonFor("a.docx", new Error("Cannot create a string longer than 0x1fffffe8 characters")), "a.docx: too large to parse (Cannot create a string longer than 0x1fffffe8 characters)");
  assert.equal(reasonFor("a.md", new Error("a.md:3: already named")), "a.md:3: already named");
});

test("UTF-16 without a BOM is text; binary with a few NULs is still binary", () => {
  const le = Buffer.from("# Title\n\nHello UTF-16 world.\n", "utf16le");
  assert.deepEqual(decodeText(le), { text: "# Title\n\nHello UTF-16 world.\n" });
  assert.deepEqual(decodeText(Buffer.from(le).swap16()), { text: "# Title\n\nHello UTF-16 world.\n" });
  assert.deepEqual(decodeText(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x1a, 0x0a, 0x00, 0xff, 0x10])), { binary: "binary file (NUL bytes)" });
});

const CORPORA = ["/work/shared/datasets/pnpm-docs", "/work/shared/datasets/fastify-docs"].filter(existsSync);

test("real documentation stays far below the front matter limits", { skip: CORPORA.length === 0 && "shared corpora absent" }, () => {
  const files = execSync(`find ${CORPORA.join(" ")} -name '*.md' -o -name '*.mdx'`).toString().trim().split("\n");
  let deepest = 0;
  let largest = 0;
  for (const f of files) {
    const m = /^---\r?\n([\s\S]*?)\r?\n(?:---|\.\.\.)\s*$/m.exec(readFileSync(f, "utf8"));
    if (!m || m.index !== 0) continue;
    deepest = Math.max(deepest, yamlDepth(m[1]));
    largest = Math.max(largest, m[1].length);
  }
  assert.ok(files.length > 500);
  assert.ok(deepest > 0 && deepest * 10 < LIMITS.yamlDepth, `deepest front matter ${deepest}`);
  assert.ok(largest * 10 < LIMITS.frontMatterBytes, `largest front matter ${largest}`);
});
