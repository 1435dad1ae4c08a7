import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkDocument, type Chunk, type ChunkingOptions } from "../src/ingest/index.ts";
import { fixedWindows, sentenceStarts } from "../src/ingest/chunk.ts";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";
import { loadHtml } from "../src/ingest/loaders/html.ts";
import { countTokens } from "../src/models/tokens.ts";

const PATH = "docs/guide.md";
const opts = (o: Partial<ChunkingOptions> = {}): ChunkingOptions => ({ maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 0, ...o });

const longParagraph = Array.from(
  { length: 14 },
  (_, i) => `Sentence ${i + 1} of the long paragraph says that step ${i + 1} of the migration, e.g. moving v2.1 data, costs $1,200.00 at most.`,
).join(" ");

/** Headings, a loose list, a table, a code fence with blank lines and a '#' comment, a long paragraph. */
const FIXTURE = [
  "---", // 1
  "title: Guide", // 2
  "---", // 3
  "# Guide", // 4
  "", // 5
  "Welcome to the guide. It covers billing, refunds and exports.", // 6
  "", // 7
  "## Billing", // 8
  "", // 9
  "Invoices are issued monthly. They list every seat.", // 10
  "", // 11
  "- Pro plan: billed per seat", // 12
  "- Team plan: billed per workspace", // 13
  "  with a yearly option", // 14
  "", // 15
  "- Enterprise: custom contract", // 16
  "", // 17
  "| Plan | Price | Seats |", // 18
  "|------|-------|-------|", // 19
  "| Pro | $10 | 5 |", // 20
  "| Team | $20 | 50 |", // 21
  "| Enterprise | call | unlimited |", // 22
  "", // 23
  "```bash", // 24
  "# not a heading", // 25
  "acme invoices list", // 26
  "", // 27
  "acme invoices download --all", // 28
  "```", // 29
  "", // 30
  "## Refunds", // 31
  "", // 32
  longParagraph, // 33
  "", // 34
  "### Partial refunds", // 35
  "Partial refunds are prorated. Contact support first.", // 36
  "", // 37
  "## Exports", // 38
  "", // 39
  "Exports are CSV files. They include archived cards.", // 40
].join("\n");
const SOURCE = FIXTURE.split("\n");

function chunk(o: Partial<ChunkingOptions>, text = FIXTURE, path = PATH): Chunk[] {
  const doc = loadMarkdown(text, path);
  return chunkDocument(doc, { path, version: "v2" }, opts(o));
}

/** Every chunk's text is the exact source slice its line range names. */
function assertExactLines(chunks: Chunk[], source: string[]): void {
  for (const c of chunks) {
    const lines = c.text.split("\n");
    assert.equal(c.lineEnd - c.lineStart + 1, lines.length, `line count of ${c.id}`);
    if (lines.length === 1) {
      assert.ok(source[c.lineStart - 1].includes(c.text), `${c.id} is inside line ${c.lineStart}`);
      continue;
    }
    assert.ok(source[c.lineStart - 1].endsWith(lines[0]), `${c.id} starts on line ${c.lineStart}: ${JSON.stringify(lines[0])}`);
    assert.ok(source[c.lineEnd - 1].startsWith(lines[lines.length - 1]), `${c.id} ends on line ${c.lineEnd}`);
    for (let i = 1; i < lines.length - 1; i++) assert.equal(lines[i], source[c.lineStart - 1 + i], `${c.id} line ${c.lineStart + i}`);
  }
}

function assertInvariants(chunks: Chunk[], max: number, label: string): void {
  assert.ok(chunks.length > 0, label);
  chunks.forEach((c, i) => {
    assert.equal(c.id, `${PATH}#${i}`, label);
    assert.equal(c.ordinal, i);
    assert.ok(c.text.trim().length > 0 && c.text === c.text.trim(), `${label}: ${c.id} is trimmed and not empty`);
    assert.equal(c.tokens, countTokens(c.text), `${label}: ${c.id} token count`);
    assert.ok(c.tokens <= max, `${label}: ${c.id} has ${c.tokens} > ${max} tokens`);
    assert.ok(c.lineStart <= c.lineEnd);
    assert.equal(c.title, "Guide");
    assert.equal(c.version, "v2");
  });
  assertExactLines(chunks, SOURCE);
  for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i].lineStart >= chunks[i - 1].lineStart, `${label}: chunks in document order`);
  // Nothing is lost: every non-blank body line (front matter excluded) is in some chunk.
  for (let l = 4; l <= SOURCE.length; l++) {
    if (SOURCE[l - 1].trim()) assert.ok(chunks.some((c) => c.lineStart <= l && l <= c.lineEnd), `${label}: line ${l} covered`);
  }
}

/** The text chunk `next` repeats from the end of `prev` ("" when they share nothing); whole words unless `anyCut`. */
function repeated(prev: Chunk, next: Chunk, anyCut = false): string {
  for (let k = Math.min(prev.text.length, next.text.length); k > 0; k--) {
    if (prev.text.endsWith(next.text.slice(0, k)) && (anyCut || k === next.text.length || /\s/.test(next.text[k]))) return next.text.slice(0, k);
  }
  return "";
}

const isHeadingLine = (line: string) => /^#{1,6} /.test(line) && line !== "# not a heading";
/** Lines that hold a whole block/sentence boundary: the chunk's first line is the whole source line. */
const startsLine = (c: Chunk) => SOURCE[c.lineStart - 1].trim() === c.text.split("\n")[0].trim();

test("headings strategy: explicit 'headings' equals the default output", () => {
  for (const maxTokens of [40, 120, 300]) {
    const byDefault = chunk({ maxTokens, overlapTokens: 10 });
    const explicit = chunk({ maxTokens, overlapTokens: 10, strategy: "headings" });
    assert.deepEqual(explicit, byDefault);
  }
});

test("sentence splitting keeps abbreviations, versions and amounts together", () => {
  const text = "Use pnpm, e.g. Version 9. It costs $1,200.00 in v2.1 today! Really? Yes… Dr. Smith agrees. 是的。好的 Then i.e. More";
  const parts = [0, ...sentenceStarts(text)].map((s, i, all) => text.slice(s, all[i + 1] ?? text.length).trim());
  assert.deepEqual(parts, ["Use pnpm, e.g. Version 9.", "It costs $1,200.00 in v2.1 today!", "Really?", "Yes…", "Dr. Smith agrees.", "是的。", "好的 Then i.e. More"]);
  // A lower-case continuation is not a new sentence; a blank line always is.
  assert.deepEqual(sentenceStarts("See the docs. then continue"), []);
  assert.deepEqual(sentenceStarts("no punctuation\n\nnext block"), [16]);
});

test("paragraphs: blocks stay whole, are packed up to maxTokens, overlap is whole trailing paragraphs", () => {
  for (const [maxTokens, overlapTokens] of [[60, 20], [120, 30], [300, 40], [1000, 0]]) {
    const chunks = chunk({ strategy: "paragraphs", maxTokens, overlapTokens });
    const label = `paragraphs ${maxTokens}/${overlapTokens}`;
    assertInvariants(chunks, maxTokens, label);
    assert.deepEqual(chunks, chunk({ strategy: "paragraphs", maxTokens, overlapTokens }), `${label}: deterministic`);
    for (const [i, c] of chunks.entries()) {
      const lines = c.text.split("\n");
      // The list (lines 12–16), the table (18–22) and the code fence (24–29) are never cut.
      for (const [a, b] of [[12, 16], [18, 22], [24, 29]]) {
        const overlaps = c.lineStart <= b && c.lineEnd >= a;
        if (overlaps) assert.ok(c.lineStart <= a && c.lineEnd >= b, `${label}: ${c.id} (${c.lineStart}-${c.lineEnd}) holds lines ${a}-${b} whole`);
      }
      // Boundaries are block boundaries, except inside the long paragraph (line 33), which is
      // over these budgets and falls back to sentences.
      if (c.lineStart !== 33) assert.ok(startsLine(c), `${label}: ${c.id} starts a block`);
      if (c.lineStart === 33 && maxTokens < countTokens(longParagraph)) assert.match(c.text, /^Sentence \d+ of/);
      // A chunk never ends on a heading line.
      assert.ok(!isHeadingLine(lines[lines.length - 1]), `${label}: ${c.id} ends on a heading`);
      // headingPath is that of the first paragraph: a chunk starting at "## Refunds" is under Refunds.
      const first = lines[0];
      if (isHeadingLine(first)) assert.equal(c.headingPath.at(-1), first.replace(/^#+ /, ""));
      if (c.lineStart === 33 || c.lineStart === 36) assert.deepEqual(c.headingPath, c.lineStart === 33 ? ["Guide", "Refunds"] : ["Guide", "Refunds", "Partial refunds"]);
      if (i === 0) continue;
      const prev = chunks[i - 1];
      const shared = c.lineStart <= prev.lineEnd ? repeated(prev, c) : "";
      // No overlap into a chunk whose new content starts a section.
      if (shared) assert.ok(!isHeadingLine(c.text.slice(shared.length).trimStart().split("\n")[0]), `${label}: no overlap into a new section`);
      assert.ok(countTokens(shared) <= overlapTokens, `${label}: overlap of ${c.id} within budget`);
    }
  }
  // With room for everything, the document is one chunk under the first heading.
  const whole = chunk({ strategy: "paragraphs", maxTokens: 2000, overlapTokens: 0 });
  assert.equal(whole.length, 1);
  assert.deepEqual(whole[0].headingPath, ["Guide"]);
  assert.deepEqual([whole[0].lineStart, whole[0].lineEnd], [4, 40]);
  // Overlap repeats whole trailing paragraphs: the largest run of them within the budget.
  const paras = Array.from({ length: 12 }, (_, i) => `Short paragraph ${i} about topic ${i}.`);
  const text = ["# Notes", "", ...paras.flatMap((p) => [p, ""])].join("\n");
  const notes = chunk({ strategy: "paragraphs", maxTokens: 40, overlapTokens: 20 }, text);
  assert.ok(notes.length >= 3);
  const perPara = countTokens(paras[0]);
  const carried = Math.floor(20 / perPara);
  for (let i = 1; i < notes.length; i++) {
    const shared = repeated(notes[i - 1], notes[i]);
    assert.equal(shared.split("\n\n").length, carried, `chunk ${i} repeats ${carried} whole paragraph(s): ${JSON.stringify(shared)}`);
    assert.ok(paras.includes(shared.split("\n\n")[0]));
  }
  assert.deepEqual(notes[1].headingPath, ["Notes"]);
});

test("sentences: packed sentences, list items and table rows whole, overlap as whole trailing sentences", () => {
  for (const [maxTokens, overlapTokens] of [[30, 10], [60, 20], [150, 40]]) {
    const chunks = chunk({ strategy: "sentences", maxTokens, overlapTokens });
    const label = `sentences ${maxTokens}/${overlapTokens}`;
    assertInvariants(chunks, maxTokens, label);
    assert.deepEqual(chunks, chunk({ strategy: "sentences", maxTokens, overlapTokens }), `${label}: deterministic`);
    for (const [i, c] of chunks.entries()) {
      const lines = c.text.split("\n");
      // A chunk starts at a line start or right after a sentence end on its line.
      const src = SOURCE[c.lineStart - 1];
      const before = src.slice(0, lines.length === 1 ? src.indexOf(c.text) : src.length - lines[0].length).trimEnd();
      assert.ok(before === "" || /[.!?]$/.test(before), `${label}: ${c.id} starts a sentence (${JSON.stringify(lines[0].slice(0, 30))})`);
      assert.ok(!/^(g\.|1 |00|1\b)/.test(c.text), `${label}: ${c.id} does not start inside e.g./v2.1/$1,200.00`);
      // Table rows and list items are never cut: first and last lines are whole source lines
      // when they are rows or items.
      for (const [line, at] of [[lines[0], c.lineStart], [lines[lines.length - 1], c.lineEnd]] as const) {
        if (/^\s*[|-]/.test(SOURCE[at - 1])) assert.equal(line.trim(), SOURCE[at - 1].trim(), `${label}: ${c.id} keeps row/item whole`);
      }
      assert.ok(!isHeadingLine(lines[lines.length - 1]), `${label}: ${c.id} ends on a heading`);
      if (i === 0) continue;
      const prev = chunks[i - 1];
      const shared = c.lineStart <= prev.lineEnd ? repeated(prev, c) : "";
      assert.ok(countTokens(shared) <= overlapTokens, `${label}: overlap within budget`);
      if (shared) assert.ok(!isHeadingLine(c.text.slice(shared.length).trimStart().split("\n")[0]), `${label}: no overlap into a new section`);
    }
    // The long paragraph is spread over several chunks, each starting at a sentence.
    if (maxTokens < 150) assert.ok(chunks.filter((c) => c.lineStart === 33).length >= 2, label);
  }
  // Overlap really happens inside the long paragraph and repeats whole sentences.
  // Sentences there are 36 tokens: at 100/40 a chunk holds two, the second repeated by the next.
  const chunks = chunk({ strategy: "sentences", maxTokens: 100, overlapTokens: 40 });
  const inLong = chunks.filter((c) => c.lineStart === 33 && c.lineEnd === 33);
  assert.ok(inLong.length >= 5);
  for (let i = 1; i < inLong.length; i++) {
    const shared = repeated(inLong[i - 1], inLong[i]);
    assert.match(shared, /^Sentence \d+ of [^S]*at most\.$/, "one whole sentence repeated");
    assert.equal(inLong[i].text.match(/Sentence/g)!.length, 2);
  }
  // Code fences are one unit at this size.
  assert.ok(chunks.some((c) => c.text.includes("```bash\n# not a heading\nacme invoices list\n\nacme invoices download --all\n```")));
});

test("fixed: plain token windows over the whole text, exact overlap, heading path where the window starts", () => {
  for (const [maxTokens, overlapTokens] of [[25, 5], [64, 16], [128, 0]]) {
    const chunks = chunk({ strategy: "fixed", maxTokens, overlapTokens });
    const label = `fixed ${maxTokens}/${overlapTokens}`;
    assertInvariants(chunks, maxTokens, label);
    assert.deepEqual(chunks, chunk({ strategy: "fixed", maxTokens, overlapTokens }));
    // Structure is ignored: windows run across headings (heading lines are plain text here).
    assert.ok(chunks.some((c) => c.text.includes("\n## ")), `${label}: a window spans a heading`);
    chunks.forEach((c, i) => {
      // Full windows except the last: trimming whitespace may only cost a token or two.
      if (i < chunks.length - 1) assert.ok(c.tokens >= maxTokens - 3, `${label}: ${c.id} is a full window (${c.tokens})`);
      // The heading path is the section of the window's first line.
      let l = c.lineStart;
      while (l > 4 && !isHeadingLine(SOURCE[l - 1])) l--;
      assert.equal(c.headingPath.at(-1), SOURCE[l - 1].replace(/^#+ /, ""), `${label}: ${c.id} heading path`);
      if (i > 0 && overlapTokens > 0) {
        const shared = repeated(chunks[i - 1], c, true);
        assert.ok(shared.length > 0, `${label}: ${c.id} repeats the end of the previous window`);
        assert.ok(Math.abs(countTokens(shared) - overlapTokens) <= 2, `${label}: overlap ≈ ${overlapTokens} (${countTokens(shared)})`);
      }
    });
    if (overlapTokens === 0) {
      const squash = (s: string) => s.replace(/\s+/g, "");
      assert.equal(squash(chunks.map((c) => c.text).join("")), squash(SOURCE.slice(3).join("\n")), "windows tile the text");
    }
  }
  const wins = fixedWindows("a b c d e f g h i j", 4, 1);
  assert.deepEqual(
    wins.map((w) => "a b c d e f g h i j".slice(w.start, w.end)),
    ["a b c d", "d e f g", "g h i j"],
  );
});

test("oversized units fall back to finer units, then token windows; never over maxTokens", () => {
  const blob = "x9Qz".repeat(600);
  const bigItem = `- ${Array.from({ length: 30 }, (_, i) => `Item clause ${i} is long enough.`).join(" ")}`;
  const bigRow = `| ${Array.from({ length: 40 }, (_, i) => `cell${i}`).join(" | ")} |`;
  const text = ["# Big", "", blob, "", bigItem, "- small item", "", "| a | b |", "|---|---|", bigRow, "", "Tail sentence."].join("\n");
  const source = text.split("\n");
  for (const strategy of ["paragraphs", "sentences", "fixed"] as const) {
    for (const overlapTokens of [0, 8]) {
      const chunks = chunk({ strategy, maxTokens: 40, overlapTokens }, text);
      assert.ok(chunks.every((c) => c.tokens <= 40 && c.tokens === countTokens(c.text)), strategy);
      assertExactLines(chunks, source);
      assert.ok(chunks.filter((c) => c.lineStart === 3 && c.lineEnd === 3).length > 1, `${strategy}: the run is windowed`);
      // "# Big" cannot share a chunk with a full window after it; a heading alone is no chunk, and
      // it stays in the headingPath of what follows.
      for (let l = 2; l <= source.length; l++) if (source[l - 1].trim()) assert.ok(chunks.some((c) => c.lineStart <= l && l <= c.lineEnd), `${strategy}: line ${l}`);
      assert.ok(chunks.every((c) => c.headingPath[0] === "Big"));
      // Without overlap the chunks tile the document: nothing lost, nothing repeated.
      const squash = (s: string) => s.replace(/\s+/g, "");
      const expected = chunks[0].text.startsWith("# Big") ? text : text.replace("# Big", "");
      if (overlapTokens === 0) assert.equal(squash(chunks.map((c) => c.text).join("")), squash(expected), strategy);
    }
  }
});

test("heading-only documents give no chunks; HTML sections get line ranges in order; bad strategy is refused", () => {
  for (const strategy of ["paragraphs", "sentences"] as const) {
    assert.deepEqual(chunk({ strategy }, "# A\n\n## B\n"), []);
  }
  const items = Array.from({ length: 40 }, (_, i) => `<li>Item ${i} describes a supported payment option.</li>`).join("\n");
  const html = `<html><head><title>Pay</title></head><body>\n<h1>Payments</h1>\n<p>Intro text for payments. It is short.</p>\n<h2>Options</h2>\n<ul>\n${items}\n</ul>\n</body></html>`;
  const lines = html.split("\n").length;
  for (const strategy of ["paragraphs", "sentences", "fixed"] as const) {
    const doc = loadHtml(html, "p.html");
    const chunks = chunkDocument(doc, { path: "p.html", version: "" }, opts({ strategy, maxTokens: 60, overlapTokens: 10 }));
    assert.ok(chunks.length > 3, strategy);
    for (const [i, c] of chunks.entries()) {
      assert.ok(c.lineStart >= 2 && c.lineEnd <= lines && c.lineStart <= c.lineEnd, `${strategy}: ${c.id} ${c.lineStart}-${c.lineEnd}`);
      if (i > 0) assert.ok(c.lineStart >= chunks[i - 1].lineStart);
      const n = /Item (\d+)/.exec(c.text);
      if (n && c.text.startsWith("- Item")) assert.ok(Math.abs(c.lineStart - (7 + Number(n[1]))) <= 3, `${strategy}: ${c.id} near item ${n[1]}`);
      assert.ok(c.tokens <= 60);
    }
    // Intro is under Payments; the items under Options.
    assert.deepEqual(chunks[0].headingPath, ["Payments"]);
    assert.deepEqual(chunks.at(-1)!.headingPath, ["Payments", "Options"]);
  }
  assert.throws(() => chunk({ strategy: "words" as never }), /chunking.strategy must be one of headings, paragraphs, sentences, fixed/);
});
