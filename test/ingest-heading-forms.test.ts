/** Heading forms real docs use besides ATX: one-line HTML headings (fastify) and setext underlines. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";

test("a one-line HTML heading heads the sections but is not the page title", () => {
  const doc = loadMarkdown('<h1 align="center">Fastify</h1>\n\n## HTTP2\n\nText.\n\n### Secure (HTTPS)\n\nMore.\n', "docs/Reference/HTTP2.md");
  assert.equal(doc.title, "HTTP2", "the banner is on every page; the file name titles this one");
  assert.deepEqual(doc.sections.map((s) => s.headingPath), [["Fastify"], ["Fastify", "HTTP2"], ["Fastify", "HTTP2", "Secure (HTTPS)"]]);
  const inline = loadMarkdown("# Guide\n\nSee <h2>not a heading</h2> inline.\n\n<h2 id=x>Install <em>now</em></h2>\n\nSteps.\n", "g.md");
  assert.deepEqual(inline.sections.map((s) => s.headingPath), [["Guide"], ["Guide", "Install now"]]);
});

test("setext headings over a one-line paragraph; a rule after a blank line or a list is not one", () => {
  const doc = loadMarkdown("Title\n=====\n\nIntro.\n\nPart one\n--------\n\nBody.\n\n---\n\n- item\n---\n\n```\nx\n---\n```\n", "s.md");
  assert.equal(doc.title, "Title");
  assert.deepEqual(doc.sections.map((s) => [s.headingPath, s.lineStart]), [[["Title"], 4], [["Title", "Part one"], 9]]);
});

test("component and HTML markup inside a heading is dropped; placeholders stay", () => {
  const doc = loadMarkdown('# Config\n\n## server.fs.strict <Badge type="tip" text="5.1+" /> {#strict}\n\nText.\n\n## <code>base</code> option\n\nMore.\n\n### --filter <package_selector>\n\nEven more.\n', "c.md");
  assert.deepEqual(doc.sections.map((s) => s.headingPath.at(-1)), ["Config", "server.fs.strict", "base option", "--filter <package_selector>"]);
});
