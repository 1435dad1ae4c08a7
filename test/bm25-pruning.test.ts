/**
 * MaxScore pruning is exact: on random corpora and queries it returns the same hits, in the same
 * order, with the same scores as scoring every posting — for several k, with filters, with
 * weighted (RM3) queries, and on corpora full of tied scores.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import { Bm25Index, PRUNE_MIN_DOCS } from "../src/retrieve/bm25.ts";

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x / 2 ** 32;
  };
}

/** Zipf-ish vocabulary of `vocab` words; docs of 1–`maxLen` words; a title of 1–3 words. */
function corpus(seed: number, n: number, vocab: number, maxLen: number): { chunks: Chunk[]; queries: string[]; words: string[] } {
  const r = rng(seed);
  const words = Array.from({ length: vocab }, (_, i) => `w${i.toString(36)}x`);
  const zipf = () => words[Math.min(vocab - 1, Math.floor(vocab ** r() - 1))];
  const chunks: Chunk[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(r() * maxLen);
    const text = Array.from({ length: len }, zipf).join(" ");
    const title = Array.from({ length: 1 + Math.floor(r() * 3) }, zipf).join(" ");
    chunks.push({ id: `d${i}`, path: `p${i % 5}.md`, ordinal: i, title, headingPath: [], text, lineStart: 1, lineEnd: 1, version: i % 3 === 0 ? "v1" : "v2", tokens: len, meta: {} });
  }
  const queries = Array.from({ length: 40 }, () => Array.from({ length: 1 + Math.floor(r() * 6) }, zipf).join(" "));
  return { chunks, queries, words };
}

const hits = (index: Bm25Index, q: string, k: number, extra: object = {}) => index.search(q, { k, ...extra }).map((h) => [h.chunk.id, h.score]);

test("pruning is exact: same top k and scores as exhaustive on random corpora", () => {
  for (const [seed, n, vocab, maxLen] of [
    [1, 300, 50, 30],
    [2, 2000, 400, 60],
    [3, 1500, 20, 8], // tiny vocabulary: long lists, many ties
    [4, 800, 2000, 120],
  ] as const) {
    const { chunks, queries } = corpus(seed, n, vocab, maxLen);
    const options = { k1: 1.5, b: 0.75, headingBoost: 10 };
    const exhaustive = new Bm25Index(chunks, { ...options, pruning: false });
    const pruned = new Bm25Index(chunks, { ...options, pruning: true });
    assert.equal(pruned.pruning, true);
    assert.equal(exhaustive.pruning, false);
    let compared = 0;
    for (const q of queries) {
      for (const k of [1, 3, 10, 100]) {
        const want = hits(exhaustive, q, k);
        assert.deepEqual(hits(pruned, q, k), want, `seed ${seed}, k ${k}: ${q}`);
        compared += want.length;
      }
      const filter = { versions: ["v2"] };
      assert.deepEqual(hits(pruned, q, 10, { filter }), hits(exhaustive, q, 10, { filter }), `filtered: ${q}`);
      const prf = { docs: 5, terms: 5, weight: 0.5 };
      assert.deepEqual(hits(pruned, q, 10, { prf }), hits(exhaustive, q, 10, { prf }), `prf: ${q}`);
    }
    assert.ok(compared > 100, `compared ${compared} hits`);
  }
});

test("pruning is exact with all-equal scores (ties broken by lower doc id)", () => {
  const chunks: Chunk[] = Array.from({ length: 500 }, (_, i) => ({
    id: `t${i}`, path: "t.md", ordinal: i, title: "same", headingPath: [], text: i % 2 ? "alpha beta" : "alpha gamma", lineStart: 1, lineEnd: 1, version: "", tokens: 2, meta: {},
  }));
  const options = { k1: 1.2, b: 0.75, headingBoost: 1 };
  const a = new Bm25Index(chunks, { ...options, pruning: false });
  const b = new Bm25Index(chunks, { ...options, pruning: true });
  for (const q of ["alpha", "alpha beta", "beta gamma", "same alpha gamma"]) for (const k of [1, 7, 30]) assert.deepEqual(hits(b, q, k), hits(a, q, k), q);
});

test("pruning is on by default only for large corpora", () => {
  const { chunks } = corpus(5, 50, 30, 10);
  assert.equal(new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 1 }).pruning, chunks.length >= PRUNE_MIN_DOCS);
  assert.equal(new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 1 }).pruning, false);
});
