import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";

function chunk(id: string, text: string, extra: Partial<Chunk> = {}): Chunk {
  return {
    id,
    path: extra.path ?? `docs/${id}.md`,
    ordinal: 0,
    title: extra.title ?? "",
    headingPath: extra.headingPath ?? [],
    text,
    lineStart: 1,
    lineEnd: 1,
    version: extra.version ?? "",
    tokens: 0,
    meta: {},
  };
}

// Bodies tokenize to A = [refund, polici, refund, window] (4 tokens),
// B = [ship, window, is, five, day] (5; stop words are indexed) and C = [refund] (1).
const fixture = [
  chunk("a", "refund policy refund window"),
  chunk("b", "shipping window is five days"),
  chunk("c", "refund"),
];
const opts = { k1: 1.2, b: 0.75, headingBoost: 0 };
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-5, `${actual} ≉ ${expected}`);

test("scores match hand-computed BM25", () => {
  const index = new Bm25Index(fixture, opts);
  assert.equal(index.size, 3);
  close(index.avgLength, 10 / 3);
  // N = 3; refund is in A and C (df 2), window in A and B (df 2), ship only in B (df 1).
  const idf2 = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)); // ln 1.6
  const idf1 = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5)); // ln (8/3)
  close(index.idf("refund"), idf2);
  close(index.idf("ship"), idf1);
  close(index.idf("absent"), Math.log(1 + 3.5 / 0.5));

  // Length term k1·(1 − b + b·|d|/avgdl): A = 1.2·(0.25 + 0.75·4·3/10) = 1.38,
  // B = 1.2·(0.25 + 0.75·5·3/10) = 1.65, C = 1.2·(0.25 + 0.75·1·3/10) = 0.57.
  const expectA = (idf2 * 2 * 2.2) / (2 + 1.38) + (idf2 * 1 * 2.2) / (1 + 1.38);
  const expectB = (idf2 * 1 * 2.2) / (1 + 1.65);
  const expectC = (idf2 * 1 * 2.2) / (1 + 0.57);
  const hits = index.search("refund window", { k: 10 });
  assert.deepEqual(hits.map((h) => h.chunk.id), ["a", "c", "b"]);
  assert.deepEqual(hits.map((h) => h.rank), [1, 2, 3]);
  close(hits[0].score, expectA);
  close(hits[1].score, expectC);
  close(hits[2].score, expectB);

  // Query normalisation: inflections and stop words; duplicate terms count once.
  const again = index.search("The refunds, the windows, the refund!", { k: 10 });
  assert.deepEqual(again.map((h) => h.score), hits.map((h) => h.score));
  // "ship" (idf1) only in B, tf 1.
  close(index.search("shipping", { k: 3 })[0].score, (idf1 * 2.2) / (1 + 1.65));
  assert.deepEqual(index.search("nothing matches", { k: 3 }), []);
});

test("heading boost adds weighted heading tf (BM25F) and lifts matching chunks", () => {
  const chunks = [
    chunk("plain", "refund requests go to support", { title: "Support", headingPath: ["Support"] }),
    chunk("headed", "requests go to support team", { title: "Guide", headingPath: ["Guide", "Refunds"] }),
  ];
  const noBoost = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 0 });
  const boosted = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 2 });
  assert.deepEqual(noBoost.search("refund", { k: 2 }).map((h) => h.chunk.id), ["plain"]);
  const hits = boosted.search("refund", { k: 2 });
  assert.deepEqual(hits.map((h) => h.chunk.id), ["headed", "plain"]);

  // Both bodies have 5 tokens (avgdl 5), so the length term is k1 = 1.2; refund has df 2 of N 2.
  const idf = Math.log(1 + 0.5 / 2.5);
  close(hits[0].score, (idf * 2 * 2.2) / (2 + 1.2)); // tf = 0 + 2·1
  close(hits[1].score, (idf * 1 * 2.2) / (1 + 1.2)); // tf = 1 + 2·0
  // A title equal to the first heading is not counted twice.
  const dup = new Bm25Index([chunk("x", "body", { title: "Refunds", headingPath: ["Refunds"] })], { k1: 1.2, b: 0, headingBoost: 1 });
  close(dup.search("refunds", { k: 1 })[0].score, (dup.idf("refund") * 1 * 2.2) / (1 + 1.2));
});

test("filters apply before top-k", () => {
  const chunks = [
    chunk("v1-top", "install install install guide", { version: "v1", path: "docs/v1/install.md" }),
    chunk("v2-low", "install guide for the new release notes", { version: "v2", path: "docs/v2/install.md" }),
    chunk("v2-blog", "install", { version: "v2", path: "blog/install.md" }),
  ];
  const index = new Bm25Index(chunks, opts);
  assert.equal(index.search("install", { k: 1 })[0].chunk.id, "v1-top");
  assert.deepEqual(index.search("install", { k: 1, filter: { versions: ["v2"] } }).map((h) => h.chunk.id), ["v2-blog"]);
  assert.deepEqual(index.search("install", { k: 5, filter: { pathPrefix: "docs/" } }).map((h) => h.chunk.id), ["v1-top", "v2-low"]);
  assert.deepEqual(index.search("install", { k: 5, filter: { versions: ["v2"], pathPrefix: "docs/" } }).map((h) => h.chunk.id), ["v2-low"]);
  assert.deepEqual(index.search("install", { k: 5, filter: { versions: ["v3"] } }), []);
  // An empty filter object means no filtering.
  assert.equal(index.search("install", { k: 5, filter: {} }).length, 3);
});

test("k bounds results; ranking is sorted with stable ties", () => {
  const chunks = Array.from({ length: 50 }, (_, i) => chunk(`d${i}`, `alpha ${"beta ".repeat(i % 7)}gamma${i}`));
  const index = new Bm25Index(chunks, opts);
  for (const k of [1, 3, 10, 50, 80]) {
    const hits = index.search("alpha beta", { k });
    assert.equal(hits.length, Math.min(k, 50));
    for (let i = 1; i < hits.length; i++) {
      assert.ok(hits[i - 1].score >= hits[i].score);
      if (hits[i - 1].score === hits[i].score) assert.ok(Number(hits[i - 1].chunk.id.slice(1)) < Number(hits[i].chunk.id.slice(1)));
    }
    assert.deepEqual(hits.map((h) => h.rank), hits.map((_, i) => i + 1));
  }
  // Partial selection agrees with a full sort.
  const all = index.search("alpha beta", { k: 50 });
  assert.deepEqual(index.search("alpha beta", { k: 7 }), all.slice(0, 7));
  assert.deepEqual(index.search("alpha", { k: 0 }), []);
  assert.deepEqual(new Bm25Index([], opts).search("alpha", { k: 3 }), []);
  assert.equal(new Bm25Index([], opts).avgLength, 0);
});

test("compound identifiers match exactly and by part", () => {
  const index = new Bm25Index(
    [chunk("exact", "set auto-install-peers=true in .npmrc"), chunk("parts", "peers are not installed automatically; auto mode")],
    opts,
  );
  const hits = index.search("autoInstallPeers auto-install-peers", { k: 2 });
  assert.equal(hits[0].chunk.id, "exact");
  assert.match(index.name, /^bm25\(k1=1.2,b=0.75,headingBoost=0\)$/);
});
