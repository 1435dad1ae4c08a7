import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import JSZip from "jszip";
import { chunkDocument, ingestProject, loaderFor, type LoadedDocument, type Section } from "../src/ingest/index.ts";
import { openStore } from "../src/store/index.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures, built here so no binary file lives in the repository.

interface PdfLine {
  text: string;
  /** Font size in points (Helvetica). */
  size?: number;
}

/** PDF string literal: backslash, parentheses escaped. */
const pdfString = (s: string) => `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;

/**
 * A minimal PDF 1.4 by hand: one Helvetica text object per line (Tj), pages top to bottom, an
 * optional /Info dictionary and optional extra trailer entries, and a cross-reference table whose
 * byte offsets are computed here.
 */
function makePdf(pages: PdfLine[][], opts: { info?: Record<string, string>; trailer?: string; extraObjects?: string[] } = {}): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body);
  add("<< /Type /Catalog /Pages 2 0 R >>"); // 1
  add(""); // 2: the page tree, filled in below
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"); // 3
  const kids: number[] = [];
  for (const lines of pages) {
    let y = 750;
    const ops = lines
      .map((l) => {
        const size = l.size ?? 11;
        const op = `BT /F1 ${size} Tf 72 ${y} Td ${pdfString(l.text)} Tj ET`;
        y -= Math.round(size * 1.6);
        return op;
      })
      .join("\n");
    const content = add(`<< /Length ${Buffer.byteLength(ops, "latin1")} >>\nstream\n${ops}\nendstream`);
    kids.push(add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${content} 0 R >>`));
  }
  objects[1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(" ")}] /Count ${kids.length} >>`;
  const info = opts.info ? add(`<< ${Object.entries(opts.info).map(([k, v]) => `/${k} ${pdfString(v)}`).join(" ")} >>`) : 0;
  for (const extra of opts.extraObjects ?? []) add(extra);
  let out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, "latin1"));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, "latin1");
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R${info ? ` /Info ${info} 0 R` : ""}${opts.trailer ?? ""} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

const REFUND_PDF: PdfLine[][] = [
  [
    { text: "Acme Refund Handbook", size: 20 },
    { text: "This handbook explains refunds for every Acme store." },
    { text: "1 Eligibility", size: 15 },
    { text: "Customers may return unused items within thirty days." },
    { text: "A receipt or order number is required." },
    { text: "1.2 Exceptions" },
    { text: "Sealed software cannot be returned once opened." },
  ],
  [
    { text: "Gift cards are never refundable." },
    { text: "2 Processing Times", size: 15 },
    { text: "Refunds reach the original payment method in five days." },
  ],
];

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const para = (text: string, style?: string) =>
  `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r></w:p>`;
const table = (rows: string[][]) => `<w:tbl>${rows.map((r) => `<w:tr>${r.map((c) => `<w:tc>${para(c)}</w:tc>`).join("")}</w:tr>`).join("")}</w:tbl>`;

/** A minimal .docx: content types, package and document relationships, styles, body, core properties. */
async function makeDocx(body: string, core?: Record<string, string>): Promise<Buffer> {
  const zip = new JSZip();
  zip.file(
    "[Content_Types].xml",
    `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
      `<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
      `<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
      `<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
      `<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`,
  );
  zip.file(
    "_rels/.rels",
    `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
      `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
      `<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`,
  );
  zip.file(
    "word/_rels/document.xml.rels",
    `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
      `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`,
  );
  const style = (id: string, name: string) => `<w:style w:type="paragraph" w:styleId="${id}"><w:name w:val="${name}"/></w:style>`;
  zip.file("word/styles.xml", `<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}>${style("Title", "Title")}${style("Heading1", "heading 1")}${style("Heading2", "heading 2")}</w:styles>`);
  zip.file("word/document.xml", `<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${body}</w:body></w:document>`);
  if (core) {
    const fields = Object.entries(core).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join("");
    zip.file(
      "docProps/core.xml",
      `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ` +
        `xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">${fields}</cp:coreProperties>`,
    );
  }
  return zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}

const HANDBOOK_DOCX = [
  para("Staff Handbook", "Title"),
  para("Read this before your first shift."),
  para("Refunds", "Heading1"),
  para("Refunds are issued to the original card."),
  para("Store Credit", "Heading2"),
  para("Credit never expires & can be split."),
  table([
    ["Item", "Window"],
    ["Shoes", "30 days"],
  ]),
  para("Shipping", "Heading1"),
  para("We ship worldwide."),
].join("");

/** A page whose chrome is only recognisable by class names: Readability has to find the article. */
const BOILERPLATE_HTML = [
  "<!DOCTYPE html>", // 1
  "<html><head><title>Shipping | Acme</title><meta name=\"author\" content=\"Ops team\"></head>", // 2
  "<body>", // 3
  '<div class="cookie-notice">We use cookies to improve your visit. Accept all?</div>', // 4
  '<div id="top-menu"><a href="/">Home</a> <a href="/shop">Shop</a> <a href="/help">Help</a></div>', // 5
  '<div class="sidebar"><h3>Popular articles</h3><ul><li><a href="/pw">Reset a password</a></li><li><a href="/x">Track an order</a></li></ul></div>', // 6
  '<div class="post-content">', // 7
  "<h1>Shipping</h1>", // 8
  '<p>We ship to <a href="/countries">forty countries</a>. Orders placed before noon leave the warehouse the same day.</p>', // 9
  "<h2>Costs</h2>", // 10
  "<p>Standard shipping is <strong>free</strong> above fifty euros; express delivery costs twelve euros and takes two business days.</p>", // 11
  "<table><tr><th>Zone</th><th>Days</th></tr><tr><td>EU</td><td>2</td></tr><tr><td>US</td><td>5</td></tr></table>", // 12
  "<h2>Customs</h2>", // 13
  "<p>Parcels leaving the EU carry a customs form; duties are paid by the recipient on delivery.</p><p># 1 rule: label every parcel.</p>", // 14
  "<pre><code># shipping.toml", // 15
  "zone = \"EU\"</code></pre>", // 16
  "</div>", // 17
  '<div class="site-footer">© Acme 2025 · Privacy · Terms · Careers</div>', // 18
  "</body>", // 19
  "</html>", // 20
].join("\n");

const bytesLoad = (path: string, bytes: Uint8Array): Promise<LoadedDocument> => Promise.resolve(loaderFor(path)!.load({ path, bytes }));
const shape = (sections: Section[]) => sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd]);

// ---------------------------------------------------------------------------------------------

test("registry: .pdf and .docx are binary loaders, the text formats are not", () => {
  assert.equal(loaderFor("a/b.PDF")!.binary, true);
  assert.equal(loaderFor("a/b.docx")!.binary, true);
  for (const p of ["a.md", "a.html", "a.txt"]) assert.ok(!loaderFor(p)!.binary, p);
  assert.equal(loaderFor("old.doc"), undefined);
});

test("pdf: metadata title and author, page count, headings by font size and numbering, page-relative lines", async () => {
  const doc = await bytesLoad("docs/refunds.pdf", makePdf(REFUND_PDF, { info: { Title: "Refund Handbook", Author: "Jane Doe", Subject: "Refunds" } }));
  assert.equal(doc.title, "Refund Handbook");
  assert.deepEqual(doc.meta, { pages: 2, author: "Jane Doe", subject: "Refunds" });
  const T = "Refund Handbook";
  assert.deepEqual(shape(doc.sections), [
    // The big first line is not the metadata title, so it is a heading of its own.
    [[T, "Page 1", "Acme Refund Handbook"], "This handbook explains refunds for every Acme store.", 2, 2],
    [[T, "Page 1", "Acme Refund Handbook", "1 Eligibility"], "Customers may return unused items within thirty days.\nA receipt or order number is required.", 4, 5],
    [[T, "Page 1", "Acme Refund Handbook", "1 Eligibility", "1.2 Exceptions"], "Sealed software cannot be returned once opened.", 7, 7],
    // Page 2 opens inside the heading still in force; line numbers restart on each page.
    [[T, "Page 2", "Acme Refund Handbook", "1 Eligibility", "1.2 Exceptions"], "Gift cards are never refundable.", 1, 1],
    [[T, "Page 2", "Acme Refund Handbook", "2 Processing Times"], "Refunds reach the original payment method in five days.", 3, 3],
  ]);
  assert.deepEqual(doc.sections.map((s) => [s.level, s.headingLine]), [[2, 1], [3, 3], [4, 6], [1, undefined], [3, 2]]);
});

test("pdf: without metadata the first line is the title and not repeated as a heading; no text at all is an error", async () => {
  const doc = await bytesLoad("docs/refunds.pdf", makePdf(REFUND_PDF));
  assert.equal(doc.title, "Acme Refund Handbook");
  assert.deepEqual(doc.meta, { pages: 2 });
  assert.deepEqual(doc.sections[0].headingPath, ["Acme Refund Handbook", "Page 1"]);
  assert.equal(doc.sections[0].text, "Acme Refund Handbook\nThis handbook explains refunds for every Acme store.");
  assert.deepEqual(doc.sections[1].headingPath, ["Acme Refund Handbook", "Page 1", "1 Eligibility"]);

  // Plain pages: one section per page, headed [title, "Page N"].
  const plain = await bytesLoad("x/notes.pdf", makePdf([[{ text: "first page text, all lower case." }], [{ text: "second page: more words here." }]]));
  assert.equal(plain.title, "first page text, all lower case.");
  assert.deepEqual(shape(plain.sections), [
    [["first page text, all lower case.", "Page 1"], "first page text, all lower case.", 1, 1],
    [["first page text, all lower case.", "Page 2"], "second page: more words here.", 1, 1],
  ]);

  await assert.rejects(bytesLoad("x/blank.pdf", makePdf([[], []])), /^Error: x\/blank\.pdf: no extractable text in 2 page\(s\)/);
});

test("pdf: running heads, numbered lists, sentences, code and contents lines are not headings", async () => {
  const page = (n: number): PdfLine[] => [
    // A per-chapter running head carries a page number: two pages are enough to recognise it.
    ...(n > 1 ? [{ text: `Billing Chapter ${n + 40}`, size: 14 }] : []),
    { text: "Acme Internal Guide" },
    { text: `Overview of part ${n} starts here and continues.` },
    { text: "1. Open the settings page" },
    { text: "2. Choose a plan" },
    { text: "Then Save Everything." },
    { text: "Billing Details" },
    { text: `Invoices for part ${n} are sent monthly by email to the account owner.` },
    { text: "Contents . . . . . . . . 4" },
    { text: "Every option is described on the page this list names." },
    { text: "Config = Sequence Of Values" },
    { text: "The definition above is shared by every tool." },
    { text: `Page ${n}` },
  ];
  const doc = await bytesLoad("g.pdf", makePdf([page(1), page(2), page(3)], { info: { Title: "Guide" } }));
  const headings = doc.sections.filter((s) => s.level! > 1).map((s) => s.headingPath.at(-1));
  assert.deepEqual(headings, ["Billing Details", "Billing Details", "Billing Details"]);
  assert.deepEqual(doc.sections.slice(0, 2).map((s) => [s.headingPath, s.lineStart, s.lineEnd]), [
    [["Guide", "Page 1"], 1, 5],
    [["Guide", "Page 1", "Billing Details"], 7, 12],
  ]);
});

test("pdf: corrupt and encrypted files are clear errors naming the file", async () => {
  await assert.rejects(bytesLoad("docs/x.pdf", Buffer.from("%PDF-1.4\nthis is not a pdf body\n")), (e: Error) => {
    assert.match(e.message, /^docs\/x\.pdf: not a readable PDF: \S/);
    return true;
  });
  const truncated = makePdf(REFUND_PDF).subarray(0, 300);
  await assert.rejects(bytesLoad("docs/cut.pdf", truncated), /^Error: docs\/cut\.pdf: not a readable PDF: /);
  // Standard security handler whose /U entry does not match the empty user password.
  const id = "<00112233445566778899aabbccddeeff>";
  const encrypted = makePdf(REFUND_PDF, {
    extraObjects: [`<< /Filter /Standard /V 1 /R 2 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -4 >>`],
    trailer: ` /Encrypt 8 0 R /ID [${id} ${id}]`,
  });
  await assert.rejects(bytesLoad("docs/secret.pdf", encrypted), /^Error: docs\/secret\.pdf: not a readable PDF: encrypted, a password is needed/);
});

test("docx: title from core properties, heading styles → heading path, tables as rows, block-numbered lines", async () => {
  const bytes = await makeDocx(HANDBOOK_DOCX, { "dc:title": "Acme Staff Handbook", "dc:creator": "HR & Ops", "dcterms:modified": "2025-05-01T10:00:00Z" });
  const doc = await bytesLoad("hr/handbook.docx", bytes);
  assert.equal(doc.title, "Acme Staff Handbook");
  assert.deepEqual(doc.meta, { author: "HR & Ops", modified: "2025-05-01T10:00:00Z" });
  // Blocks: 1 Title paragraph, 2 intro, 3 Refunds, 4 body, 5 Store Credit, 6 body, 7–8 table rows, 9 Shipping, 10 body.
  assert.deepEqual(shape(doc.sections), [
    [[], "Staff Handbook\n\nRead this before your first shift.", 1, 2],
    [["Refunds"], "Refunds are issued to the original card.", 4, 4],
    [["Refunds", "Store Credit"], "Credit never expires & can be split.\n\nItem | Window\nShoes | 30 days", 6, 8],
    [["Shipping"], "We ship worldwide.", 10, 10],
  ]);
  assert.deepEqual(doc.sections.map((s) => [s.level, s.headingLine]), [[0, undefined], [1, 3], [2, 5], [1, 9]]);

  // No core properties: the Title-styled paragraph names the document; without one, the first heading.
  assert.equal((await bytesLoad("a.docx", await makeDocx(HANDBOOK_DOCX))).title, "Staff Handbook");
  assert.equal((await bytesLoad("a.docx", await makeDocx(HANDBOOK_DOCX.replace(/<w:pStyle w:val="Title"\/>/, "")))).title, "Refunds");
  assert.equal((await bytesLoad("a/plain-notes.docx", await makeDocx(para("Just text.")))).title, "plain-notes");
});

test("docx: corrupt packages are clear errors naming the file", async () => {
  await assert.rejects(bytesLoad("docs/x.docx", Buffer.from("plain text pretending to be a docx")), /^Error: docs\/x\.docx: not a readable \.docx: not a ZIP package/);
  const zip = new JSZip();
  zip.file("hello.txt", "no word document in here");
  const noDocument = await zip.generateAsync({ type: "nodebuffer" });
  await assert.rejects(bytesLoad("docs/y.docx", noDocument), /^Error: docs\/y\.docx: not a readable \.docx: no word\/document\.xml/);
});

test("html: Readability drops class-named boilerplate, keeps the article's headings, tables and code", async () => {
  const doc = await bytesLoad("help/shipping.html", Buffer.from(BOILERPLATE_HTML));
  assert.equal(doc.title, "Shipping | Acme");
  assert.deepEqual(doc.meta, { author: "Ops team" });
  assert.deepEqual(
    doc.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd, s.headingLine]),
    [
      // Readability removes an h1 that repeats the page title; the loader restores it (with its level).
      [["Shipping"], "We ship to forty countries. Orders placed before noon leave the warehouse the same day.", 9, 9, 8],
      [["Shipping", "Costs"], "Standard shipping is free above fifty euros; express delivery costs twelve euros and takes two business days.\n\nZone | Days\nEU | 2\nUS | 5", 11, 12, 10],
      // Text that looks like markdown syntax stays text: "# 1 rule" is no heading.
      [["Shipping", "Customs"], 'Parcels leaving the EU carry a customs form; duties are paid by the recipient on delivery.\n\n# 1 rule: label every parcel.\n\n```\n# shipping.toml\nzone = "EU"\n```', 14, 19, 13],
    ],
  );
  // Levels as written: Readability itself turns <h1> into <h2>.
  assert.deepEqual(doc.sections.map((s) => [s.level, s.heading]), [[1, "# Shipping"], [2, "## Costs"], [2, "## Customs"]]);
  const all = JSON.stringify(doc);
  for (const gone of ["cookies", "Home", "Popular", "Reset a password", "Careers"]) assert.ok(!all.includes(gone), gone);
  // The same page read without Readability would keep that chrome: the walk only knows tags.
  const fragment = BOILERPLATE_HTML.split("\n").slice(3, 18).join("\n");
  const walked = await bytesLoad("help/fragment.html", Buffer.from(fragment));
  assert.ok(JSON.stringify(walked).includes("Popular articles"));
});

test("html: a page that marks its main content is read from it, whatever surrounds it", async () => {
  const page = (main: string) =>
    [
      "<html><head><title>Billing</title></head><body>", // 1
      '<div class="sidebar"><h2>Popular articles</h2><p>Reset a password. Track an order. Change your plan.</p></div>', // 2
      main, // 3
      "<h2>Invoices</h2>", // 4
      "<p>Invoices are emailed on the first day of each month and stay downloadable for seven years.</p>", // 5
      `</${main.slice(1).split(/[\s>]/)[0]}>`, // 6
      '<div class="newsletter"><p>Subscribe to our newsletter for product news.</p></div>', // 7
      "</body></html>", // 8
    ].join("\n");
  for (const main of ["<main>", '<div role="main">', "<article>"]) {
    const doc = await bytesLoad("b.html", Buffer.from(page(main)));
    assert.deepEqual(shape(doc.sections), [[["Invoices"], "Invoices are emailed on the first day of each month and stay downloadable for seven years.", 5, 8]], main);
  }
  // Two <article>s say nothing about which one is the page: the whole page is considered.
  const two = await bytesLoad("b.html", Buffer.from(page("<article>").replace('<div class="newsletter">', '<article class="newsletter">').replace("</div>\n</body>", "</article>\n</body>")));
  assert.ok(two.sections.length >= 1 && !JSON.stringify(two).includes("Popular articles"));
});

test("chunks of a PDF and a DOCX carry page and block line ranges", async () => {
  const opts = { maxTokens: 200, overlapTokens: 20, headingDepth: 3, minTokens: 0 };
  const pdf = await bytesLoad("r.pdf", makePdf(REFUND_PDF, { info: { Title: "Refunds" } }));
  const chunks = chunkDocument(pdf, { path: "r.pdf", version: "" }, opts);
  const gift = chunks.find((c) => c.text.includes("Gift cards"))!;
  assert.deepEqual([gift.headingPath.slice(0, 2), gift.lineStart, gift.lineEnd], [["Refunds", "Page 2"], 1, 1]);
  assert.ok(chunks.every((c) => c.meta.pages === 2));
  const docx = await bytesLoad("h.docx", await makeDocx(HANDBOOK_DOCX));
  const credit = chunkDocument(docx, { path: "h.docx", version: "" }, opts).find((c) => c.text.includes("Shoes"))!;
  assert.deepEqual([credit.headingPath, credit.lineStart, credit.lineEnd], [["Refunds", "Store Credit"], 6, 8]);
});

test("ingest: md + pdf + docx + html all indexed, broken binaries skipped with a reason, rerun unchanged", async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-binary-"));
  const write = (path: string, content: string | Buffer) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  const store = openStore(":memory:");
  try {
    write("docs/guide.md", "# Guide\n\nThe guide explains how refunds and shipping work for every customer.\n");
    write("docs/refunds.pdf", makePdf(REFUND_PDF, { info: { Title: "Refund Handbook" } }));
    write("docs/handbook.docx", await makeDocx(HANDBOOK_DOCX));
    write("docs/shipping.html", BOILERPLATE_HTML);
    write("docs/broken.pdf", "%PDF-1.7\nnot really a pdf\n");
    write("docs/broken.docx", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x01, 0x02]));
    write("docs/empty.pdf", "");
    const run = () =>
      ingestProject({
        root,
        sources: [{ include: "docs/**", exclude: [], version: "v1" }],
        chunking: { maxTokens: 200, overlapTokens: 20, headingDepth: 3, minTokens: 0, maxFileBytes: 1_000_000 },
        store,
      });
    const first = await run();
    assert.deepEqual(store.documents().map((d) => [d.path, d.title]), [
      ["docs/guide.md", "Guide"],
      ["docs/handbook.docx", "Staff Handbook"],
      ["docs/refunds.pdf", "Refund Handbook"],
      ["docs/shipping.html", "Shipping | Acme"],
    ]);
    assert.equal(first.added, 4);
    const why = Object.fromEntries(first.skipped.map((s) => [s.path, s.reason]));
    assert.deepEqual(Object.keys(why).sort(), ["docs/broken.docx", "docs/broken.pdf", "docs/empty.pdf"]);
    assert.match(why["docs/broken.pdf"], /^docs\/broken\.pdf: not a readable PDF: /);
    assert.match(why["docs/broken.docx"], /^docs\/broken\.docx: not a readable \.docx: /);
    assert.equal(why["docs/empty.pdf"], "empty file");
    const pdfChunks = store.chunks({ pathPrefix: "docs/refunds.pdf" });
    assert.ok(pdfChunks.some((c) => c.text.includes("Gift cards") && c.headingPath[1] === "Page 2"));
    assert.ok(store.chunks({ pathPrefix: "docs/handbook.docx" }).some((c) => c.text.includes("Shoes | 30 days")));
    assert.ok(!store.chunks({ pathPrefix: "docs/shipping.html" }).some((c) => c.text.includes("cookies")));

    const before = store.chunks();
    const again = await run();
    assert.deepEqual([again.added, again.changed, again.removed, again.unchanged], [0, 0, 0, 4]);
    assert.deepEqual(store.chunks(), before);
  } finally {
    store.close();
    rmSync(root, { recursive: true, force: true });
  }
});
