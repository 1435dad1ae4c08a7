import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkDocument, type Chunk, type ChunkingOptions } from "../src/ingest/index.ts";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";
import { countTokens } from "../src/models/tokens.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { expandToParents, mergeChunks, sharedOverlap } from "../src/retrieve/small-to-big.ts";

const sentences = (topic: string, n: number) => Array.from({ length: n }, (_, i) => `The ${topic} rule ${i + 1} applies to plan ${i + 1}.`).join(" ");

/** Billing with two subsections, then Exports: every section long enough to need several small chunks. */
const DOC = [
  "# Billing", // 1
  "", // 2
  sentences("billing", 8), // 3
  "", // 4
  "## Refunds", // 5
  "", // 6
  sentences("refund", 10), // 7
  "", // 8
  sentences("chargeback", 6), // 9
  "", // 10
  "## Invoices", // 11
  "", // 12
  sentences("invoice", 9), // 13
  "", // 14
  "# Exports", // 15
  "", // 16
  sentences("export", 9), // 17
].join("\n");
const SOURCE = DOC.split("\n");

function chunks(o: Partial<ChunkingOptions>, path = "docs/billing.md"): Chunk[] {
  return chunkDocument(loadMarkdown(DOC, path), { path, version: "v2" }, { maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 0, ...o });
}

const hitsOf = (cs: Chunk[], picks: number[]): Hit[] => picks.map((i, r) => ({ chunk: cs[i], score: 10 - r, rank: r + 1 }));
const byPath = (cs: Chunk[]) => (path: string) => cs.filter((c) => c.path === path);
const squash = (s: string) => s.replace(/\s+/g, " ").trim();

test("sharedOverlap finds the repeated text at word boundaries only", () => {
  assert.equal(sharedOverlap("one two three four", "three four five"), "three four".length);
  assert.equal(sharedOverlap("alpha beta", "gamma"), 0);
  // "a" ending one and starting the other is a coincidence, not an overlap.
  assert.equal(sharedOverlap("pick a", "apple pie"), 0);
  assert.equal(sharedOverlap("pick a", "a pie"), 1);
  // Long borders count even mid-word (token windows cut between "$" and "20").
  assert.equal(sharedOverlap("total is | Team plan | $", "| Team plan | $20 | 50"), "| Team plan | $".length);
  assert.equal(sharedOverlap("x y z", "x y z"), 5);
});

test("a hit's parent is its heading section: windows merged in order without repeated overlap", () => {
  // The headings strategy with a small budget windows each section with overlap.
  const small = chunks({ maxTokens: 40, overlapTokens: 12 });
  const whole = chunks({ maxTokens: 2000, overlapTokens: 0 });
  const refunds = small.filter((c) => c.headingPath.join("/") === "Billing/Refunds");
  assert.ok(refunds.length >= 3, "Refunds is windowed");
  const [out] = expandToParents(hitsOf(small, [small.indexOf(refunds[1])]), byPath(small));
  const parent = out.chunk;
  const expected = whole.find((c) => c.headingPath.join("/") === "Billing/Refunds")!;
  assert.equal(squash(parent.text), squash(expected.text), "the whole section, overlap written once");
  assert.equal(parent.id, `${refunds[0].id}..${refunds.at(-1)!.ordinal}`);
  assert.equal(parent.ordinal, refunds[0].ordinal);
  assert.deepEqual([parent.lineStart, parent.lineEnd], [7, 9]);
  assert.deepEqual(parent.headingPath, ["Billing", "Refunds"]);
  assert.ok(Math.abs(parent.tokens - countTokens(parent.text)) <= 2, `token estimate ${parent.tokens} vs ${countTokens(parent.text)}`);
  assert.ok(parent.tokens < refunds.reduce((s, c) => s + c.tokens, 0), "overlaps are not counted twice");
  assert.equal(out.score, 10);
  assert.equal(out.rank, 1);
  assert.equal(parent.path, "docs/billing.md");
  assert.equal(parent.version, "v2");
  // The source lines say the same: the merged text is lines 7–9 of the file.
  assert.equal(squash(parent.text), squash(SOURCE.slice(6, 9).join("\n")));
});

test("a section's parent includes its subsections; sentence chunks merge with their separators", () => {
  const small = chunks({ strategy: "sentences", maxTokens: 40, overlapTokens: 0 });
  const billingFirst = small.findIndex((c) => c.headingPath.join("/") === "Billing");
  const [out] = expandToParents(hitsOf(small, [billingFirst]), byPath(small), { maxTokens: 5000 });
  // Billing's parent: every chunk whose headingPath starts with ["Billing"], i.e. up to "# Exports".
  const members = small.filter((c) => c.headingPath[0] === "Billing");
  assert.equal(out.chunk.id, `${members[0].id}..${members.at(-1)!.ordinal}`);
  assert.equal(out.chunk.lineEnd, 13);
  assert.ok(out.chunk.text.includes("## Refunds") && out.chunk.text.includes("## Invoices"));
  assert.ok(!out.chunk.text.includes("export rule"));
  // Without overlap the parent is exactly the source text of lines 1–13.
  assert.equal(squash(out.chunk.text), squash(SOURCE.slice(0, 13).join("\n")));
  // Same-line sentence chunks are joined by a space, not glued.
  assert.ok(out.chunk.text.includes("plan 1. The billing rule 2"));
});

test("hits sharing a parent are deduplicated (better rank kept), ranks renumbered, scores kept", () => {
  const small = chunks({ maxTokens: 40, overlapTokens: 12 });
  const exportsIdx = small.map((c, i) => [c, i] as const).filter(([c]) => c.headingPath[0] === "Exports").map(([, i]) => i);
  const invoicesIdx = small.findIndex((c) => c.headingPath.at(-1) === "Invoices");
  const hits = hitsOf(small, [exportsIdx[2], invoicesIdx, exportsIdx[0]]);
  const out = expandToParents(hits, byPath(small));
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((h) => [h.rank, h.score]), [[1, 10], [2, 9]]);
  assert.ok(out[0].chunk.text.includes("export rule 1 ") && out[0].chunk.text.includes("export rule 9"));
  assert.ok(out[1].chunk.text.includes("invoice rule 1 ") && out[1].chunk.text.includes("invoice rule 9"));
  // Input order does not matter, rank does.
  const shuffled = expandToParents([hits[2], hits[0], hits[1]], byPath(small));
  assert.deepEqual(shuffled, out);
});

test("parents over maxTokens are trimmed around the hit, and a later parent never repeats an earlier one", () => {
  const small = chunks({ strategy: "sentences", maxTokens: 30, overlapTokens: 0 });
  const refunds = small.map((c, i) => [c, i] as const).filter(([c]) => c.headingPath.at(-1) === "Refunds");
  assert.ok(refunds.length >= 8);
  const mid = refunds[Math.floor(refunds.length / 2)][1];
  const [out] = expandToParents(hitsOf(small, [mid]), byPath(small), { maxTokens: 80 });
  assert.ok(out.chunk.tokens <= 80, `${out.chunk.tokens} tokens`);
  assert.ok(countTokens(out.chunk.text) <= 82);
  assert.ok(out.chunk.text.includes(small[mid].text), "the hit is inside its trimmed parent");
  // Grown on both sides of the hit.
  assert.ok(out.chunk.text.indexOf(small[mid].text) > 0);
  assert.ok(!out.chunk.text.endsWith(small[mid].text));
  const [first, last] = out.chunk.id.split("#")[1].split("..").map(Number);
  assert.ok(first < mid && mid < last);

  // A second hit just after the trimmed window gets the rest of the section, without the first's chunks.
  const next = last + 1;
  const both = expandToParents(hitsOf(small, [mid, next]), byPath(small), { maxTokens: 80 });
  assert.equal(both.length, 2);
  const secondFirst = Number(both[1].chunk.id.split("#")[1].split("..")[0]);
  assert.ok(secondFirst > last, "no chunk returned twice");

  // The hit alone over the cap: returned unchanged.
  const [alone] = expandToParents(hitsOf(small, [mid]), byPath(small), { maxTokens: 5 });
  assert.equal(alone.chunk, small[mid]);
  assert.throws(() => expandToParents([], byPath(small), { maxTokens: 0 }), RangeError);
});

test("a hit that is its own parent, or is unknown to the store, is returned unchanged", () => {
  const big = chunks({ maxTokens: 2000, overlapTokens: 0, headingDepth: 2 });
  const refunds = big.findIndex((c) => c.headingPath.at(-1) === "Refunds");
  const out = expandToParents(hitsOf(big, [refunds]), byPath(big));
  assert.equal(out[0].chunk, big[refunds]);
  const stale: Chunk = { ...big[0], id: "docs/gone.md#0", path: "docs/gone.md" };
  const kept = expandToParents([{ chunk: stale, score: 1, rank: 1 }], byPath(big));
  assert.equal(kept[0].chunk, stale);
  assert.equal(mergeChunks([big[0]]), big[0]);
});
