import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { testChunk } from "./helpers/chunks.ts";

const chunk = testChunk;

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

test("BM25F: headingB 'body' (default) is the boosted-tf form; a number normalises the heading by its own length", () => {
  // Bodies: long = 6 tokens, short = 2 tokens (avgdl 4); heading field "Refund" (1 token) in both.
  const chunks = [
    chunk("long", "alpha beta gamma delta epsilon zeta", { title: "Refund" }),
    chunk("short", "alpha beta", { title: "Refund" }),
  ];
  const k1 = 1.2;
  const b = 0.75;
  const hb = 2;
  const idf = Math.log(1 + 0.5 / 2.5); // refund in both chunks
  const sat = (tf: number) => (tf * (k1 + 1)) / (tf + k1);
  // Default ("body"): tf = hb·tf_head over the body norm 1 − b + b·|d|/avgdl = 1.375 (long), 0.625 (short).
  const body = new Bm25Index(chunks, { k1, b, headingBoost: hb });
  const bh = body.search("refund", { k: 2 });
  assert.deepEqual(bh.map((h) => h.chunk.id), ["short", "long"]);
  close(bh[0].score, (idf * hb * (k1 + 1)) / (hb + k1 * 0.625));
  close(bh[1].score, (idf * hb * (k1 + 1)) / (hb + k1 * 1.375));
  assert.deepEqual(new Bm25Index(chunks, { k1, b, headingBoost: hb, headingB: "body" }).search("refund", { k: 2 }), bh);
  // headingB 0: the heading count is not length-normalised at all, so both chunks tie.
  const f = new Bm25Index(chunks, { k1, b, headingBoost: hb, headingB: 0 });
  const hits = f.search("refund", { k: 2 });
  close(hits[0].score, idf * sat(hb * 1));
  close(hits[1].score, idf * sat(hb * 1));
  // headingB 1: normalised by heading length (both 1 = the average), still a tie.
  const one = new Bm25Index(chunks, { k1, b, headingBoost: hb, headingB: 1 });
  close(one.search("refund", { k: 1 })[0].score, idf * sat(hb));
  // A body-only term is the same in every form: tf̃ = tf_body / B_body = 1/1.375 in the long chunk.
  const alpha = Math.log(1 + 0.5 / 2.5);
  for (const index of [body, f, one]) close(index.search("alpha", { k: 2 }).find((h) => h.chunk.id === "long")!.score, alpha * sat(1 / 1.375));
  assert.match(one.name, /headingB=1/);
  assert.doesNotMatch(body.name, /headingB=/);
});

function tagged(id: string, text: string, path: string, tags: unknown, version = "v2"): Chunk {
  return { ...chunk(id, text, { path, version }), meta: tags === undefined ? {} : { tags } };
}

test("filters: path globs and tags via chunkFilterPredicate; filtered search = unfiltered hits that pass", async () => {
  const { chunkFilterPredicate } = await import("../src/store/filter.ts");
  const chunks = [
    tagged("a", "refund policy for annual plans refund", "docs/v2/billing/refunds.md", ["billing", "Payments"]),
    tagged("b", "refund requests via support", "docs/v2/support/contact.md", "support, refunds"),
    tagged("c", "refund window was shorter", "docs/v1/billing/refunds.md", ["billing"], "v1"),
    tagged("d", "refunds and credits explained in the blog", "blog/2024/refunds.md", undefined, ""),
    tagged("e", "shipping times", "docs/v2/shipping.md", ["shipping"]),
  ];
  const index = new Bm25Index(chunks, opts);
  const ids = (filter: object) => index.search("refund", { k: 10, filter }).map((h) => h.chunk.id);
  assert.deepEqual(ids({ paths: ["docs/**/billing/**"] }).sort(), ["a", "c"]);
  assert.deepEqual(ids({ paths: ["blog/**", "docs/v2/support/*.md"] }).sort(), ["b", "d"]);
  assert.deepEqual(ids({ tags: ["payments"] }), ["a"]); // case-insensitive
  assert.deepEqual(ids({ tags: ["refunds"] }), ["b"]); // comma-separated front matter string
  assert.deepEqual(ids({ tags: ["billing"], versions: ["v2"] }), ["a"]);
  assert.deepEqual(ids({ tags: ["billing"], paths: ["docs/v1/**"] }), ["c"]);
  assert.deepEqual(ids({ versions: [] }), []);
  assert.deepEqual(ids({ tags: ["nope"] }), []);

  // Against the brute-force definition, for many filters: same chunks, same scores, same order.
  const all = index.search("refund", { k: 10 });
  for (const filter of [{ paths: ["docs/**"] }, { tags: ["billing", "shipping"] }, { pathPrefix: "docs/v2", tags: ["support"] }, { versions: ["v2", ""] }]) {
    const admit = chunkFilterPredicate(filter);
    const expected = all.filter((h) => admit(h.chunk)).map((h) => [h.chunk.id, h.score]);
    assert.deepEqual(index.search("refund", { k: 10, filter }).map((h) => [h.chunk.id, h.score]), expected, JSON.stringify(filter));
    // Second call hits the cached mask and agrees.
    assert.deepEqual(index.search("refund", { k: 10, filter }).map((h) => [h.chunk.id, h.score]), expected);
  }
});

// PRF fixture. Query "jaguar": a and b (the animal) tie at the top, c (the car) is longer and
// ranks third, and d — about the animal but never saying "jaguar" — is not retrieved at all.
// RM3 over the top 2 (a, b) learns cat/predator/rainforest, which lifts d above c.
const prfFixture = [
  chunk("a", "jaguar big cat rainforest predator"),
  chunk("b", "jaguar cat rainforest predator hunts"),
  chunk("c", "jaguar car dealer engine sale price discount"),
  chunk("d", "big cat rainforest predator panthera onca"),
  chunk("e", "car engine repair garage"),
  chunk("f", "weather report sunny skies"),
  chunk("g", "stock market news today"),
  chunk("h", "football match results"),
];

test("RM3 feedback: expansion retrieves a relevant chunk the query misses, with hand-computed weights", () => {
  const index = new Bm25Index(prfFixture, opts);
  const plain = index.search("jaguar", { k: 3 });
  assert.deepEqual(plain.map((h) => h.chunk.id), ["a", "b", "c"]);
  const relevant = new Set(["a", "b", "d"]);
  const recall = (hits: { chunk: Chunk }[]) => hits.filter((h) => relevant.has(h.chunk.id)).length / relevant.size;
  assert.equal(recall(plain), 2 / 3);

  const prf = { docs: 2, terms: 4, weight: 0.3 };
  const expanded = index.search("jaguar", { k: 3, prf });
  assert.deepEqual(expanded.map((h) => h.chunk.id), ["a", "b", "d"]);
  assert.equal(recall(expanded), 1);

  // Feedback model: a and b have equal scores (P(d) = ½) and 5 tokens each, so P(t|R) is 0.2 for
  // jaguar, cat, rainforest and predator (in both) and 0.1 for big and hunt. The top 4 (ties by
  // term text: cat, jaguar, predat, rainforest) renormalise to ¼ each; with weight 0.3 the query
  // is jaguar 0.3 + 0.7·¼ = 0.475 and cat, predat, rainforest 0.7·¼ = 0.175 each. A doc's score
  // is Σ weight(t) · (its single-term BM25 score for t).
  const single = (term: string, id: string) => index.search(term, { k: 8 }).find((h) => h.chunk.id === id)?.score ?? 0;
  const expect = (id: string) => 0.475 * single("jaguar", id) + 0.175 * (single("cat", id) + single("predator", id) + single("rainforest", id));
  for (const h of index.search("jaguar", { k: 8, prf })) close(h.score, expect(h.chunk.id));
  // "big" (0.1) is not an expansion term: e shares nothing and f, g, h are never retrieved.
  assert.deepEqual(index.search("jaguar", { k: 8, prf }).map((h) => h.chunk.id), ["a", "b", "d", "c"]);

  // weight 1 = the original query; feedback respects filters (d filtered out → c again).
  assert.deepEqual(index.search("jaguar", { k: 3, prf: { ...prf, weight: 1 } }), plain);
  const filtered = index.search("jaguar", { k: 3, prf, filter: { paths: ["docs/[abc].md"] } });
  assert.deepEqual(filtered.map((h) => h.chunk.id), ["a", "b", "c"]);
});

test("fromStore builds the same index as the chunks: same df, idf, hits and scores, with and without PRF", async () => {
  const { openStore } = await import("../src/store/index.ts");
  const store = openStore(":memory:");
  const docs = [
    { path: "docs/v2/billing.md", version: "v2", sections: [["Billing", "Refunds", "Annual plans can be refunded within 30 days. Refunds go to the card."], ["Billing", "Invoices", "Invoices are emailed monthly; download them as PDF."]] },
    { path: "docs/v1/billing.md", version: "v1", sections: [["Billing", "Refunds", "Annual plans can be refunded within 14 days."]] },
    { path: "docs/v2/setup.md", version: "v2", sections: [["Setup", "Install", "Run npm install and set auto-install-peers=true in .npmrc (autoInstallPeers)."], ["Setup", "Upgrade", "Upgrade to v2.1 with 1,000 users."]] },
    ...prfFixture.map((c) => ({ path: c.path, version: "", sections: [["Animals", c.id, c.text]] })),
  ];
  store.applyIngest({
    upserts: docs.map((d) => ({
      doc: { path: d.path, hash: "h", version: d.version, title: d.sections[0][0], bytes: 1, chunks: d.sections.length, ingestedAt: "2026-01-01T00:00:00.000Z" },
      chunks: d.sections.map(([title, heading, text], i) => ({
        id: `${d.path}#${i}`, path: d.path, ordinal: i, title, headingPath: [title, heading], text,
        lineStart: 1, lineEnd: 2, version: d.version, tokens: 5, meta: {},
      })),
    })),
    removals: [],
  });
  const queries = ["refund annual plan", "How do I get my invoices?", "autoInstallPeers", "jaguar", "v2.1 upgrade users", "the", "billing refunds"];
  for (const o of [opts, { k1: 0.9, b: 0.4, headingBoost: 2, headingB: 0 }, { k1: 1.5, b: 1, headingBoost: 10 }, { k1: 1.2, b: 0.75, headingBoost: 3, headingB: 0.5 }]) {
    const a = new Bm25Index(store.chunks(), o);
    const b = Bm25Index.fromStore(store, o);
    assert.equal(b.size, a.size);
    assert.equal(b.avgLength, a.avgLength);
    for (const term of ["refund", "instal", "autoinstallpeers", "absent"]) {
      assert.equal(b.df(term), a.df(term));
      assert.equal(b.idf(term), a.idf(term));
    }
    for (const q of queries) {
      for (const prf of [undefined, { docs: 3, terms: 5, weight: 0.6 }]) {
        const ha = a.search(q, { k: 20, prf });
        const hb = b.search(q, { k: 20, prf });
        assert.deepEqual(hb.map((h) => [h.chunk.id, h.score, h.rank]), ha.map((h) => [h.chunk.id, h.score, h.rank]), `${q} ${JSON.stringify(prf)}`);
        assert.deepEqual(hb.map((h) => h.chunk), ha.map((h) => h.chunk));
      }
    }
  }
  store.close();
});
