import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { reciprocalRankFusion, weightedScoreFusion } from "../src/retrieve/fusion.ts";
import { testChunk } from "./helpers/chunks.ts";

const chunk = (id: string): Chunk => testChunk(id, id, { path: `${id}.md`, title: id, tokens: 1 });
const list = (...entries: [string, number][]): Hit[] => entries.map(([id, score], i) => ({ chunk: chunk(id), score, rank: i + 1 }));
const ids = (hits: Hit[]) => hits.map((h) => h.chunk.id);
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

// Lexical: a, b, c. Dense: c, a, d.
const lexical = list(["a", 10], ["b", 6], ["c", 2]);
const dense = list(["c", 0.9], ["a", 0.5], ["d", 0.1]);

test("RRF sums 1/(k + rank) over the lists and de-duplicates by chunk id", () => {
  const fused = reciprocalRankFusion([lexical, dense], { k: 60 });
  // a = 1/61 + 1/62 = 0.032522, c = 1/63 + 1/61 = 0.032266, b = 1/62, d = 1/63
  assert.deepEqual(ids(fused), ["a", "c", "b", "d"]);
  close(fused[0].score, 1 / 61 + 1 / 62);
  close(fused[1].score, 1 / 63 + 1 / 61);
  close(fused[2].score, 1 / 62);
  close(fused[3].score, 1 / 63);
  assert.deepEqual(
    fused.map((h) => h.rank),
    [1, 2, 3, 4],
  );
});

test("RRF weights scale each list's contribution and can change the order", () => {
  const fused = reciprocalRankFusion([lexical, dense], { k: 60, weights: [1, 2] });
  // a = 1/61 + 2/62 = 0.048651, c = 2/61 + 1/63 = 0.048660, d = 2/63 = 0.031746, b = 1/62 = 0.016129
  assert.deepEqual(ids(fused), ["c", "a", "d", "b"]);
  close(fused[0].score, 2 / 61 + 1 / 63);
  close(fused[1].score, 1 / 61 + 2 / 62);
});

test("RRF: a small k sharpens rank differences; ties keep first-appearance order", () => {
  const fused = reciprocalRankFusion([list(["x", 1]), list(["y", 1])], { k: 1 });
  assert.deepEqual(ids(fused), ["x", "y"]);
  close(fused[0].score, 0.5);
  // A chunk repeated inside one list counts once, at its best rank.
  const dup = reciprocalRankFusion([list(["x", 3], ["x", 2], ["y", 1])], { k: 0 });
  assert.deepEqual(ids(dup), ["x", "y"]);
  close(dup[0].score, 1);
  close(dup[1].score, 1 / 3);
  assert.throws(() => reciprocalRankFusion([lexical, dense], { k: 60, weights: [1] }), /2 lists but 1 weights/);
  assert.deepEqual(reciprocalRankFusion([[], []], { k: 60 }), []);
});

test("weighted fusion min-max normalises each list; a missing chunk counts 0", () => {
  // lexical norms: a 1, b 0.5, c 0; dense norms: c 1, a 0.5, d 0
  const even = weightedScoreFusion([lexical, dense], [0.5, 0.5]);
  // a = .5·1 + .5·.5 = .75, c = .5·0 + .5·1 = .5, b = .5·.5 = .25, d = 0
  assert.deepEqual(ids(even), ["a", "c", "b", "d"]);
  close(even[0].score, 0.75);
  close(even[1].score, 0.5);
  close(even[2].score, 0.25);
  close(even[3].score, 0);

  const denseHeavy = weightedScoreFusion([lexical, dense], [0.2, 0.8]);
  // a = .2 + .4 = .6, c = .8, b = .1, d = 0
  assert.deepEqual(ids(denseHeavy), ["c", "a", "b", "d"]);
  close(denseHeavy[0].score, 0.8);
  close(denseHeavy[1].score, 0.6);
  close(denseHeavy[2].score, 0.1);
});

test("weighted fusion: a list of equal scores normalises to 1; raw score scale does not matter", () => {
  const flat = weightedScoreFusion([list(["p", 3], ["q", 3]), list(["q", 100], ["r", 50])], [1, 1]);
  // p = 1, q = 1 + 1 = 2, r = 0
  assert.deepEqual(ids(flat), ["q", "p", "r"]);
  close(flat[0].score, 2);
  close(flat[1].score, 1);
  const scaled = weightedScoreFusion([list(["a", 1000], ["b", 600], ["c", 200]), dense], [0.5, 0.5]);
  assert.deepEqual(ids(scaled), ids(weightedScoreFusion([lexical, dense], [0.5, 0.5])));
  assert.throws(() => weightedScoreFusion([lexical, dense], [0.5, -1]), /weight 1/);
});
