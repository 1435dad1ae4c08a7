// The corpus benchmark judges ragtune's citations with its own markdown reading
// (bench/corpora/lib): a mistake there would make the citation-section numbers wrong.
import { test } from "node:test";
import assert from "node:assert/strict";
import { outline, normalizeHeading, sameHeadingPath } from "../bench/corpora/lib/sections.ts";
import { checkCitation, citedQuotes, parseSourceFile } from "../bench/corpora/lib/citations.ts";

const doc = [
  "---", //                                   1
  "title: Settings", //                        2
  "# not a heading: front matter", //          3
  "---", //                                    4
  '<h1 align="center">Fastify</h1>', //        5
  "", //                                       6
  "## Factory {#factory}", //                  7
  "", //                                       8
  "```sh", //                                  9
  "# a shell comment, not a heading", //      10
  "```", //                                   11
  "", //                                      12
  "### `bodyLimit` ###", //                   13
  "", //                                      14
  "+ Default: `1048576` (1MiB)", //           15
  "", //                                      16
  "Setext Title", //                          17
  "============", //                          18
  "", //                                      19
  "Body under the setext title.", //          20
  "", //                                      21
  "### --filter &lt;package_name>", //         22
  "Select by *name*.", //                      23
  "- a list item", //                         24
  "---", //                                   25
  "after a list, --- is a rule", //           26
].join("\n");

test("outline: ATX, HTML and setext headings; front matter and fences are not headings", () => {
  const o = outline(doc);
  assert.deepEqual(
    o.headings.map((h) => [h.line, h.level, h.text]),
    [
      [5, 1, "Fastify"],
      [7, 2, "Factory"],
      [13, 3, "`bodyLimit`"],
      [17, 1, "Setext Title"],
      [22, 3, "--filter &lt;package_name>"],
    ],
  );
  assert.deepEqual(o.pathAtLine[3], []);
  assert.deepEqual(o.pathAtLine[10], ["Fastify", "Factory"]);
  assert.deepEqual(o.pathAtLine[15], ["Fastify", "Factory", "`bodyLimit`"]);
  // A level-1 heading closes everything open; the heading line is in its own section.
  assert.deepEqual(o.pathAtLine[17], ["Setext Title"]);
  assert.deepEqual(o.pathAtLine[26], ["Setext Title", "--filter &lt;package_name>"]);
});

test("normalizeHeading: markup, entities and case do not matter", () => {
  assert.equal(normalizeHeading("`bodyLimit`"), "bodylimit");
  assert.equal(normalizeHeading("--filter &lt;package_name>"), normalizeHeading("--filter <package_name>"));
  assert.equal(normalizeHeading("[Postgres](https://x.y/z) **now**"), "postgres now");
  assert.ok(sameHeadingPath(["Fastify", "`http2`"], ["fastify", "http2"]));
  assert.ok(!sameHeadingPath(["Factory", "http2"], ["Fastify", "Factory", "http2"]));
});

test("citedQuotes: the text before each marker, one entry per occurrence", () => {
  const cit = (marker: number) => ({ marker, path: "a.md", headingPath: [], lineStart: 1, lineEnd: 2 });
  const q = citedQuotes("First fact here. [1] Second fact [2] third one [1]", [cit(1), cit(2)]);
  assert.deepEqual(
    q.map((x) => [x.citation.marker, x.quote]),
    [
      [1, "First fact here."],
      [2, "Second fact"],
      [1, "third one"],
    ],
  );
  const withQuote = citedQuotes("whatever [1]", [{ ...cit(1), quote: "the exact words" }]);
  assert.deepEqual(withQuote.map((x) => x.quote), ["the exact words"]);
});

test("checkCitation: right and wrong sections, range, fuzzy and unlocated quotes", () => {
  const file = parseSourceFile(doc);
  const cite = (headingPath: string[], lineStart: number, lineEnd: number) => ({ marker: 1, path: "x.md", headingPath, lineStart, lineEnd });

  const right = checkCitation(cite(["Fastify", "Factory", "bodyLimit"], 13, 16), "Default: 1048576 (1MiB)", file);
  assert.equal(right.located?.how, "exact-in-range");
  assert.equal(right.located?.lineStart, 15);
  assert.ok(right.sectionRight && right.innermostRight && right.rangeContains);

  // The chunk's first heading instead of the sentence's own (issue 9, part 4).
  const wrong = checkCitation(cite(["Fastify", "Factory"], 7, 16), "+ Default: **1048576** (1MiB)", file);
  assert.ok(wrong.located && !wrong.sectionRight && !wrong.innermostRight && wrong.rangeContains);

  // Cited range elsewhere: found in the file, range does not contain it.
  const elsewhere = checkCitation(cite(["Setext Title"], 17, 20), "Default: 1048576 (1MiB)", file);
  assert.equal(elsewhere.located?.how, "exact-in-file");
  assert.ok(!elsewhere.rangeContains && !elsewhere.sectionRight);

  const fuzzy = checkCitation(cite(["Setext Title"], 17, 21), "In short: body under the setext title.", file);
  assert.equal(fuzzy.located?.how, "fuzzy-in-range");
  assert.ok(fuzzy.sectionRight);

  const missing = checkCitation(cite(["Setext Title"], 17, 21), "Nothing like this is in the file at all.", file);
  assert.ok(missing.unlocated && !missing.sectionRight && !missing.rangeContains);
});
