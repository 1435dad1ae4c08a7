import { test } from "node:test";
import assert from "node:assert/strict";
import { loaderFor, loaders, type LoadedDocument } from "../src/ingest/index.ts";

// Text loaders are synchronous; the cast states it (the contract allows a Promise for binary formats).
const load = (path: string, text: string): LoadedDocument => loaderFor(path)!.load({ path, text, bytes: Buffer.from(text) }) as LoadedDocument;

test("registry picks loaders by extension, case-insensitively", () => {
  assert.equal(loaderFor("a/b.md"), loaderFor("X.MARKDOWN"));
  assert.equal(loaderFor("page.mdx")!.extensions.includes(".mdx"), true);
  assert.equal(loaderFor("p.HTM")!.extensions.includes(".html"), true);
  assert.deepEqual(loaderFor("notes.txt")!.extensions, [".txt"]);
  assert.equal(loaderFor("image.png"), undefined);
  assert.equal(loaderFor("Makefile"), undefined);
  assert.equal(loaderFor(".md"), undefined, "a dotfile named .md has no extension");
  const all = loaders.flatMap((l) => l.extensions);
  assert.equal(new Set(all).size, all.length, "no extension claimed twice");
});

test("markdown: front matter title and meta, line numbers count the front matter", () => {
  const text = [
    "---", // 1
    "title: Refund policy", // 2
    "updated: 2026-03-01", // 3
    "tags: [billing, refunds]", // 4
    "---", // 5
    "Intro before any heading.", // 6
    "", // 7
    "# Ignored H1 for title", // 8
    "", // 9
    "Body one.", // 10
    "", // 11
    "## Details ##", // 12
    "Line a", // 13
    "Line b", // 14
    "", // 15
  ].join("\n");
  const doc = load("docs/refunds.md", text);
  assert.equal(doc.title, "Refund policy");
  assert.deepEqual(doc.meta, { updated: "2026-03-01", tags: ["billing", "refunds"] });
  assert.deepEqual(
    doc.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd, s.level, s.heading, s.headingLine]),
    [
      [[], "Intro before any heading.", 6, 6, 0, undefined, undefined],
      [["Ignored H1 for title"], "Body one.", 10, 10, 1, "# Ignored H1 for title", 8],
      [["Ignored H1 for title", "Details"], "Line a\nLine b", 13, 14, 2, "## Details ##", 12],
    ],
  );
});

test("markdown: title falls back to the first H1, then the file name; CRLF keeps line numbers", () => {
  assert.equal(load("a/x.md", "intro\n\n## Sub\n\n# Real Title\n").title, "Real Title");
  assert.equal(load("a/getting-started.md", "no headings here\n").title, "getting-started");
  assert.equal(load("a/x.md", "---\ntitle: 42\n---\n").title, "42");

  const crlf = load("a/x.md", "---\r\nowner: ops\r\n---\r\n# T\r\n\r\nText.\r\n");
  assert.deepEqual(crlf.meta, { owner: "ops" });
  assert.deepEqual([crlf.sections[0].text, crlf.sections[0].lineStart], ["Text.", 6]);
});

test("markdown: headings vs code fences, hashtags and heading syntax", () => {
  const text = [
    "# A", // 1
    "#hashtag is text", // 2
    "    # indented code, not a heading", // 3
    "````md", // 4
    "```", // 5
    "# inside a longer fence", // 6
    "````", // 7
    "- ```js", // 8
    "  # in a list-item fence", // 9
    "  ```", // 10
    "## C# and `code` [link](http://x) {#anchor}", // 11
    "text", // 12
    "###### Six", // 13
    "####### seven is text", // 14
    "~~~", // 15
    "# unclosed fence runs to the end", // 16
  ].join("\n");
  const doc = load("f.md", text);
  assert.deepEqual(
    doc.sections.map((s) => s.headingPath),
    [["A"], ["A", "C# and code link"], ["A", "C# and code link", "Six"]],
  );
  assert.ok(doc.sections[0].text.includes("#hashtag is text"));
  assert.ok(doc.sections[2].text.includes("# unclosed fence runs to the end"));
  assert.deepEqual([doc.sections[0].lineStart, doc.sections[0].lineEnd], [2, 10]);
});

test("markdown: a heading with no body still yields a section anchored at its line", () => {
  const doc = load("e.md", "# Top\n## Empty\n\n## Full\nbody\n");
  assert.deepEqual(
    doc.sections.map((s) => [s.headingPath.at(-1), s.text, s.lineStart, s.lineEnd]),
    [["Top", "", 1, 1], ["Empty", "", 2, 2], ["Full", "body", 5, 5]],
  );
});

test("markdown: broken front matter is an error naming the file and the line", () => {
  const bad = ["---", "title: Broken", "author: jane: doe", "---", "# Body", ""].join("\n");
  assert.throws(() => load("docs/broken.md", bad), (e: Error) => {
    assert.match(e.message, /^docs\/broken\.md:3: invalid YAML front matter: /);
    return true;
  });
  assert.throws(() => load("docs/tabs.md", "---\ntitle: x\n\tbad: indent\n---\n"), /^Error: docs\/tabs\.md:3: /);
  assert.throws(() => load("docs/dup.md", "---\nk: 1\nk: 2\n---\n"), /docs\/dup\.md:3: .*unique/);
  assert.throws(() => load("docs/open.md", "---\ntitle: never closed\n# Heading\n"), /docs\/open\.md:1: front matter .* never closed/);
  assert.throws(() => load("docs/list.md", "---\n- a\n- b\n---\n"), /docs\/list\.md:2: front matter must be a YAML mapping/);
  // An empty front matter block is fine.
  assert.deepEqual(load("docs/empty.md", "---\n---\nhello\n").meta, {});
});

test("html: chrome dropped, sections at h1–h6, lists, tables and pre rendered, lines from the source", () => {
  const html = [
    "<!DOCTYPE html>", // 1
    "<html>", // 2
    "<head><title>Acme Help</title><meta name=\"description\" content=\"Help centre\"><meta name=\"viewport\" content=\"w\"></head>", // 3
    "<body>", // 4
    "<header><h1>Site name</h1><nav><a href=\"/\">Home</a></nav></header>", // 5
    "<!-- <h2>commented out</h2> -->", // 6
    "<main>", // 7
    "<article><header><h1>Returns</h1></header>", // 8
    "<p>You can return items within   30 days.</p>", // 9
    "<h2>Conditions</h2>", // 10
    "<ul><li>Unused</li><li>In original box<ol><li>Sealed</li></ol></li></ul>", // 11
    "<table><tr><th>Item</th><th>Window</th></tr><tr><td>Shoes</td><td>30 days</td></tr></table>", // 12
    "<script>const s = '<h2>not real</h2>';</script><style>h2{}</style>", // 13
    "<h3>Exceptions</h3>", // 14
    "<pre>code line 1", // 15
    "  code line 2</pre>", // 16
    "<p>Call us<br>any time &amp; day.</p>", // 17
    "</article>", // 18
    "<aside><h2>Related</h2><p>ads</p></aside>", // 19
    "</main>", // 20
    "<footer><p>Copyright</p></footer>", // 21
    "</body>", // 22
    "</html>", // 23
  ].join("\n");
  const doc = load("help/returns.html", html);
  assert.equal(doc.title, "Acme Help");
  assert.deepEqual(doc.meta, { description: "Help centre" });
  assert.deepEqual(
    doc.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd, s.headingLine]),
    [
      [["Returns"], "You can return items within 30 days.", 8, 9, 8],
      [["Returns", "Conditions"], "- Unused\n- In original box\n  - Sealed\n\nItem | Window\nShoes | 30 days", 11, 13, 10],
      [["Returns", "Conditions", "Exceptions"], "code line 1\n  code line 2\n\nCall us\nany time & day.", 15, 22, 14],
    ],
  );
  const all = JSON.stringify(doc);
  for (const gone of ["Site name", "Home", "commented", "not real", "Related", "ads", "Copyright"]) assert.ok(!all.includes(gone), gone);
});

test("html: fragments, title from the first h1, or the file name", () => {
  const frag = load("snippets/faq.htm", "<h1>FAQ</h1>\n<p>Question one?</p>\n<h2>Billing</h2>\n<p>Answer.</p>");
  assert.equal(frag.title, "FAQ");
  assert.deepEqual(
    frag.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd]),
    [
      [["FAQ"], "Question one?", 2, 2],
      [["FAQ", "Billing"], "Answer.", 4, 4],
    ],
  );
  const plain = load("x/plain.html", "<div>Just some <em>text</em> in a div.</div><div>Another block</div>");
  assert.equal(plain.title, "plain");
  assert.deepEqual(plain.sections.map((s) => [s.headingPath, s.text]), [[[], "Just some text in a div.\n\nAnother block"]]);
});

test("txt: one section when there are no headings; ALL-CAPS and underlined headings split it", () => {
  const flat = load("notes/todo.txt", "first line\nsecond line\n\nthird\n");
  assert.equal(flat.title, "todo");
  assert.deepEqual(flat.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd]), [[[], "first line\nsecond line\n\nthird", 1, 4]]);

  const text = [
    "Preface text.", // 1
    "", // 2
    "INSTALLATION", // 3
    "", // 4
    "Run the installer.", // 5
    "", // 6
    "On Linux", // 7
    "--------", // 8
    "Use the package.", // 9
    "", // 10
    "NOTE: THIS IS A SHOUTED SENTENCE.", // 11
    "", // 12
    "Usage", // 13
    "=====", // 14
    "", // 15
    "Type commands.", // 16
  ].join("\n");
  const doc = load("manual.txt", text);
  assert.equal(doc.title, "manual");
  assert.deepEqual(
    doc.sections.map((s) => [s.headingPath, s.text, s.lineStart, s.lineEnd, s.level]),
    [
      [[], "Preface text.", 1, 1, 0],
      [["INSTALLATION"], "Run the installer.", 5, 5, 1],
      [["INSTALLATION", "On Linux"], "Use the package.\n\nNOTE: THIS IS A SHOUTED SENTENCE.", 9, 11, 2],
      [["Usage"], "Type commands.", 16, 16, 1],
    ],
  );
});
