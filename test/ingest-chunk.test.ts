import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkDocument, loaderFor, type Chunk, type ChunkingOptions, type LoadedDocument, type Section } from "../src/ingest/index.ts";
import * as chunkModule from "../src/ingest/chunk.ts";

const { tokenWindows } = chunkModule;
import { countTokens } from "../src/models/tokens.ts";

const opts = (o: Partial<ChunkingOptions> = {}): ChunkingOptions => ({ maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 0, ...o });
const ctx = { path: "docs/guide.md", version: "v2" };

function md(text: string, o: Partial<ChunkingOptions> = {}, path = ctx.path): { chunks: Chunk[]; source: string[] } {
  const doc = loaderFor(path)!.load({ path, text, bytes: Buffer.from(text) }) as LoadedDocument;
  return { chunks: chunkDocument(doc, { path, version: ctx.version }, opts(o)), source: text.split("\n") };
}

/** Every chunk's lines must hold its text: first/last lines match and the line count is equal. */
function assertExactLines(chunks: Chunk[], source: string[]): void {
  for (const c of chunks) {
    const lines = c.text.split("\n");
    assert.equal(c.lineEnd - c.lineStart + 1, lines.length, `line count of ${c.id}`);
    assert.ok(source[c.lineStart - 1].endsWith(lines[0]), `${c.id} starts on line ${c.lineStart}: ${JSON.stringify(lines[0])}`);
    assert.ok(source[c.lineEnd - 1].startsWith(lines[lines.length - 1]), `${c.id} ends on line ${c.lineEnd}`);
    for (let i = 1; i < lines.length - 1; i++) assert.equal(source[c.lineStart - 1 + i], lines[i]);
  }
}

const para = (topic: string, n: number) =>
  Array.from({ length: n }, (_, i) => `The ${topic} rule number ${i + 1} explains how ${topic} works in practice.`).join(" ");

test("splits at headings, ignores '#' lines inside fenced code, tracks the heading path", () => {
  const text = [
    "# Billing", // 1
    "", // 2
    para("billing", 3), // 3
    "", // 4
    "## Refunds", // 5
    "", // 6
    para("refund", 3), // 7
    "", // 8
    "```bash", // 9
    "# this is a shell comment, not a heading", // 10
    "echo refund", // 11
    "```", // 12
    "", // 13
    "~~~~", // 14
    "## still code", // 15
    "~~~~", // 16
    "", // 17
    "## Invoices", // 18
    para("invoice", 3), // 19
  ].join("\n");
  const { chunks, source } = md(text);
  assert.deepEqual(
    chunks.map((c) => c.headingPath),
    [["Billing"], ["Billing", "Refunds"], ["Billing", "Invoices"]],
  );
  assert.ok(chunks[1].text.includes("# this is a shell comment"));
  assert.ok(chunks[1].text.includes("## still code"));
  assert.deepEqual(chunks.map((c) => [c.lineStart, c.lineEnd]), [[3, 3], [7, 16], [19, 19]]);
  assertExactLines(chunks, source);
  // Nothing artificial in front of the text: no breadcrumb, no heading of the chunk itself.
  assert.ok(chunks.every((c) => !c.text.startsWith("#") && c.text === c.text.trim()));
  assert.deepEqual(chunks.map((c) => c.id), ["docs/guide.md#0", "docs/guide.md#1", "docs/guide.md#2"]);
  assert.ok(chunks.every((c, i) => c.ordinal === i && c.path === ctx.path && c.version === "v2" && c.title === "Billing"));
  assert.ok(chunks.every((c) => c.tokens === countTokens(c.text)));
});

test("headings deeper than headingDepth stay in their parent's chunk with the heading line kept", () => {
  const text = ["# Guide", "", "## Setup", para("setup", 2), "", "### Linux", para("linux", 2), "", "#### Debian", para("debian", 1), "", "## Usage", para("usage", 2)].join("\n");
  const deep = md(text, { headingDepth: 2 });
  assert.deepEqual(deep.chunks.map((c) => c.headingPath), [["Guide", "Setup"], ["Guide", "Usage"]]);
  assert.ok(deep.chunks[0].text.includes("\n\n### Linux\nThe linux rule"));
  assert.ok(deep.chunks[0].text.includes("#### Debian\n"));
  assertExactLines(deep.chunks, deep.source);

  const fine = md(text, { headingDepth: 4 });
  assert.deepEqual(fine.chunks.map((c) => c.headingPath.at(-1)), ["Setup", "Linux", "Debian", "Usage"]);
  assertExactLines(fine.chunks, fine.source);
});

test("a bare heading introducing its subsection does not become a chunk of its own", () => {
  const { chunks } = md(["# Billing", "", "## Refunds", "", para("refund", 2), "", "## Invoices", "", para("invoice", 2)].join("\n"));
  assert.deepEqual(chunks.map((c) => c.headingPath), [["Billing", "Refunds"], ["Billing", "Invoices"]]);
  assert.ok(chunks[0].text.startsWith("The refund rule"));
});

const section = (headingPath: string[], text: string, line: number, level = headingPath.length): Section => ({
  headingPath,
  text,
  lineStart: line + 1,
  lineEnd: line + 1 + (text.match(/\n/g)?.length ?? 0),
  level,
  heading: `${"#".repeat(level)} ${headingPath.at(-1)}`,
  headingLine: line,
});

test("tiny sections merge forward under the same parent, back when last, never across parents", () => {
  const doc: LoadedDocument = {
    title: "Doc",
    meta: { updated: "2026-01-01" },
    sections: [
      section(["A"], para("alpha", 3), 1),
      section(["A", "Tiny1"], "Short.", 3),
      section(["A", "Tiny2"], "Also short.", 5),
      section(["A", "Big"], para("big", 4), 7),
      section(["A", "LastTiny"], "Bye.", 9),
      section(["B"], para("beta", 3), 11),
      section(["B", "Only"], "Tiny child.", 13),
      section(["C"], "Tiny top.", 15),
      section(["D"], para("delta", 3), 17),
    ],
  };
  const chunks = chunkDocument(doc, ctx, opts({ minTokens: 10 }));
  assert.deepEqual(chunks.map((c) => c.headingPath), [["A"], ["A", "Tiny1"], ["B"], ["C"]]);
  // Tiny1 + Tiny2 + Big form one chunk headed by the first of them; LastTiny was folded back in.
  assert.equal(chunks[1].text, `Short.\n\n## Tiny2\nAlso short.\n\n## Big\n${para("big", 4)}\n\n## LastTiny\nBye.`);
  assert.deepEqual([chunks[1].lineStart, chunks[1].lineEnd], [4, 10]);
  // "Only" is last under B: back into B. "C" has a same-parent successor (D): forward into it.
  assert.ok(chunks[2].text.endsWith("## Only\nTiny child."));
  assert.equal(chunks[3].text, `Tiny top.\n\n# D\n${para("delta", 3)}`);
  assert.deepEqual(chunks[0].meta, { updated: "2026-01-01" });
  assert.notEqual(chunks[0].meta, chunks[1].meta, "each chunk gets its own meta object");

  // minTokens 0 keeps every section apart.
  assert.equal(chunkDocument(doc, ctx, opts({ minTokens: 0 })).length, 9);
});

test("long sections become windows ≤ maxTokens with overlap, cut at sentence/paragraph ends, exact lines", () => {
  const lines = ["# Long", ""];
  for (let p = 0; p < 25; p++) {
    for (let s = 0; s < 3; s++) lines.push(`Paragraph ${p} sentence ${s} discusses configuration item ${p * 3 + s} carefully.`);
    lines.push("");
  }
  const { chunks, source } = md(lines.join("\n"), { maxTokens: 80, overlapTokens: 16 });
  assert.ok(chunks.length > 10);
  assertExactLines(chunks, source);
  for (const c of chunks) {
    assert.ok(c.tokens <= 80, `${c.id} has ${c.tokens} tokens`);
    assert.deepEqual(c.headingPath, ["Long"]);
    assert.match(c.text, /\.$/, "windows end at a sentence end");
    assert.match(c.text, /^Paragraph \d+ sentence \d/, "windows start at a sentence start");
  }
  for (let i = 1; i < chunks.length; i++) {
    const prev = chunks[i - 1].text;
    const firstLine = chunks[i].text.split("\n")[0];
    assert.ok(prev.includes(firstLine), `window ${i} starts inside window ${i - 1} (overlap)`);
    assert.ok(countTokens(firstLine) <= 16);
    assert.ok(chunks[i].lineStart <= chunks[i - 1].lineEnd);
  }
  // Together the windows cover every line of the section.
  const covered = new Set<number>();
  for (const c of chunks) for (let l = c.lineStart; l <= c.lineEnd; l++) covered.add(l);
  for (let l = 3; l < source.length; l++) if (source[l - 1].trim()) assert.ok(covered.has(l), `line ${l} covered`);
});

test("overlap inside one long line; zero overlap; text without spaces still splits", () => {
  const sentences = Array.from({ length: 120 }, (_, i) => `Fact ${i} is stated here.`).join(" ");
  const { chunks } = md(`# One line\n\n${sentences}`, { maxTokens: 60, overlapTokens: 12 });
  assert.ok(chunks.length > 5);
  for (const c of chunks) {
    assert.ok(c.tokens <= 60);
    assert.deepEqual([c.lineStart, c.lineEnd], [3, 3]);
    assert.match(c.text, /^Fact \d+ is stated here\./);
  }
  for (let i = 1; i < chunks.length; i++) {
    const shared = chunks[i].text.match(/^Fact (\d+)/)![1];
    assert.ok(chunks[i - 1].text.includes(`Fact ${shared} `));
  }

  const noOverlap = md(`# One line\n\n${sentences}`, { maxTokens: 60, overlapTokens: 0 }).chunks;
  const joined = noOverlap.map((c) => c.text).join(" ");
  assert.equal(joined, sentences);

  const blob = "x9Qz".repeat(2000);
  const b = md(`# Blob\n\n${blob}`, { maxTokens: 50, overlapTokens: 0 }).chunks;
  assert.ok(b.every((c) => c.tokens <= 50));
  assert.equal(b.map((c) => c.text).join(""), blob);
});

test("tokenWindows never exceeds max and always progresses, for any overlap", () => {
  const text = Array.from({ length: 400 }, (_, i) => `w${i}${i % 7 === 0 ? "." : ""}`).join(" ");
  for (const [max, overlap] of [[16, 0], [16, 15], [40, 10], [100, 99]]) {
    const wins = tokenWindows(text, max, overlap);
    let last = -1;
    for (const w of wins) {
      assert.ok(countTokens(text.slice(w.start, w.end)) <= max);
      assert.ok(w.start > last, "each window starts after the previous one");
      last = w.start;
    }
    assert.equal(wins.at(-1)!.end, text.length);
  }
});

test("HTML sections get line ranges inside their section even without exact line mapping", () => {
  const items = Array.from({ length: 60 }, (_, i) => `<li>Item ${i} describes a supported payment option.</li>`).join("\n");
  const html = `<html><head><title>Pay</title></head><body>\n<h1>Payments</h1>\n<p>Intro text for payments.</p>\n<h2>Options</h2>\n<ul>\n${items}\n</ul>\n</body></html>`;
  const doc = loaderFor("p.html")!.load({ path: "p.html", text: html, bytes: Buffer.from(html) }) as LoadedDocument;
  const chunks = chunkDocument(doc, { path: "p.html", version: "" }, opts({ maxTokens: 100, overlapTokens: 10 }));
  const options = chunks.filter((c) => c.headingPath.at(-1) === "Options");
  assert.ok(options.length > 3);
  const lines = html.split("\n");
  for (const c of options) {
    assert.ok(c.lineStart >= 5 && c.lineEnd <= lines.length && c.lineStart <= c.lineEnd);
    // Proportional mapping lands near the item's real line.
    const n = Number(/Item (\d+)/.exec(c.text)![1]);
    assert.ok(Math.abs(c.lineStart - (7 + n)) <= 3, `${c.id}: item ${n} mapped to line ${c.lineStart}`);
  }
  for (let i = 1; i < options.length; i++) assert.ok(options[i].lineStart >= options[i - 1].lineStart);
});

test("deterministic, empty documents give no chunks, bad options are refused", () => {
  const text = ["# T", para("det", 40), "## U", para("more", 5)].join("\n");
  const a = md(text, { maxTokens: 64, overlapTokens: 8 }).chunks;
  const b = md(text, { maxTokens: 64, overlapTokens: 8 }).chunks;
  assert.deepEqual(a, b);
  assert.ok(a.length > 3);

  const empty: LoadedDocument = { title: "E", meta: {}, sections: [section(["E"], "", 1), section(["E", "F"], "   \n  ", 2)] };
  assert.deepEqual(chunkDocument(empty, ctx, opts()), []);
  assert.deepEqual(chunkDocument({ title: "N", meta: {}, sections: [] }, ctx, opts()), []);

  const doc: LoadedDocument = { title: "x", meta: {}, sections: [section(["x"], "y", 1)] };
  assert.throws(() => chunkDocument(doc, ctx, opts({ overlapTokens: 300 })), RangeError);
  assert.throws(() => chunkDocument(doc, ctx, opts({ maxTokens: 0 })), RangeError);
  assert.throws(() => chunkDocument(doc, ctx, opts({ headingDepth: 7 })), RangeError);
});

// Linear time comes from cutting long runs before BPE (textPieces, tested in tokens.test.ts); this
// test checks the chunks are still right. No wall-clock assertion: speed belongs to benchmarks.
test("pathological runs (long separators, whitespace, emoji) chunk correctly", () => {
  const { tokenCount } = chunkModule;
  const prose = "Ordinary prose, with punctuation; and numbers 12345 — stays exact.";
  assert.equal(tokenCount(prose), countTokens(prose));
  for (const run of ["=".repeat(200_000), " ".repeat(200_000), "\n".repeat(100_000), "😀".repeat(50_000), " \t\n".repeat(60_000)]) {
    const { chunks } = md(`# Runs\n\nbefore ${run} after\n\n## Next\n\n${para("next", 2)}`, { maxTokens: 200, overlapTokens: 20 });
    assert.ok(chunks.every((c) => c.tokens <= 200 && c.text === c.text.trimEnd() && c.text.trim().length > 0));
    assert.ok(chunks[0].text.startsWith("before"));
    assert.equal(chunks.at(-1)!.headingPath.at(-1), "Next");
  }
});
