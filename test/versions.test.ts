import { test } from "node:test";
import assert from "node:assert/strict";
import { collapseVersions, compareVersionsDesc, jaccard } from "../src/retrieve/versions.ts";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";

const chunk = (id: string, version: string, text: string): Chunk => ({
  id, path: `docs/${version || "x"}/${id}.md`, ordinal: 0, title: "T", headingPath: ["Trash"], text,
  lineStart: 1, lineEnd: 2, version, tokens: 10, meta: {},
});
const hits = (...cs: Chunk[]): Hit[] => cs.map((c, i) => ({ chunk: c, score: 10 - i, rank: i + 1 }));

const v1 = chunk("trash-v1", "v1", "Deleted cards stay in the trash for 30 days before they are permanently deleted.");
const v2 = chunk("trash-v2", "v2", "Deleted cards stay in the trash for 60 days before they are permanently deleted.");
const other = chunk("billing", "v2", "Annual plans can be refunded within 30 days of payment.");
const third = chunk("export", "v2", "Exports are available as CSV, JSON and XLSX files.");

test("version labels sort naturally, newest first", () => {
  assert.deepEqual(["v1", "v10", "", "v2"].sort(compareVersionsDesc), ["v10", "v2", "v1", ""]);
});

test("the archived copy ranked first is replaced by the newer copy at its rank; the slot refills", () => {
  const out = collapseVersions(hits(v1, other, v2, third), 3);
  assert.deepEqual(out.map((h) => h.chunk.id), ["trash-v2", "billing", "export"]);
  assert.deepEqual(out.map((h) => h.rank), [1, 2, 3]);
  assert.equal(out[0].score, 10, "the group keeps its best score");
});

test("the newer copy ranked first drops the older one", () => {
  assert.deepEqual(collapseVersions(hits(v2, v1, other), 5).map((h) => h.chunk.id), ["trash-v2", "billing"]);
});

test("different sections, same version, or unlabelled chunks are never collapsed", () => {
  const a = chunk("a", "v2", "Deleted cards stay in the trash for 60 days before they are permanently deleted.");
  assert.equal(collapseVersions(hits(v2, a), 5).length, 2, "same label: both kept");
  const u1 = chunk("u1", "", v1.text);
  const u2 = chunk("u2", "", v2.text);
  assert.equal(collapseVersions(hits(u1, u2), 5).length, 2);
  assert.equal(collapseVersions(hits(v1, other), 5).length, 2, "dissimilar text is not a duplicate");
  assert.ok(jaccard(new Set(["a", "b"]), new Set(["b", "c"])) === 1 / 3);
});
