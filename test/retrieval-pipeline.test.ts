import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigSchema, type RagtuneConfig } from "../src/config/schema.ts";
import type { Chunk } from "../src/ingest/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import type { Hit, Reranker } from "../src/retrieve/index.ts";
import { reciprocalRankFusion, weightedScoreFusion } from "../src/retrieve/fusion.ts";
import { createRetrievalPipeline, type DenseSearcher, type LexicalSearcher, type PrfOptions } from "../src/retrieve/pipeline.ts";
import { OfflineReranker } from "../src/retrieve/rerank/offline.ts";
import type { ChunkFilter } from "../src/store/index.ts";
import { testChunk } from "./helpers/chunks.ts";

type Retrieval = RagtuneConfig["retrieval"];
const DEFAULTS: Retrieval = ConfigSchema.parse({ sources: [{ include: "docs/**/*.md" }] }).retrieval;
const config = (over: Partial<Retrieval> = {}): Retrieval => ({ ...DEFAULTS, collapseVersions: false, ...over });

const chunk = (id: string, text: string, extra: Partial<Chunk> = {}): Chunk => testChunk(id, text, { title: id, ...extra });
const ids = (hits: Hit[]) => hits.map((h) => h.chunk.id);

const corpus: Chunk[] = [
  chunk("refunds", "Annual plans can be refunded within 30 days of payment. Monthly plans are not refundable."),
  chunk("payments", "We accept cards and bank transfer for annual plans and monthly plans."),
  chunk("trash", "Deleted cards stay in the trash for 60 days."),
  chunk("export", "Export a board to CSV or JSON from the board menu."),
  chunk("sso", "Single sign-on is available on the Enterprise plan."),
  chunk("api", "The REST API has a rate limit of 100 requests per minute per token."),
];
const bm25 = new Bm25Index(corpus, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
const byId = new Map(corpus.map((c) => [c.id, c]));

/** A dense retriever stand-in: a fixed ranking, filtered like a real one would be. */
function fakeDense(order: string[], name = "hashing:384"): DenseSearcher & { calls: { k: number; filter?: ChunkFilter }[] } {
  const calls: { k: number; filter?: ChunkFilter }[] = [];
  return {
    name,
    calls,
    async search(_query, options) {
      calls.push(options);
      return order.slice(0, options.k).map((id, i) => ({ chunk: byId.get(id)!, score: 1 - i * 0.1, rank: i + 1 }));
    },
  };
}

test("lexical mode returns exactly the Bm25Index results", async () => {
  const pipeline = createRetrievalPipeline({ lexical: bm25, config: config() });
  for (const query of ["annual plans refund", "cards", "rate limit per minute"]) {
    const got = await pipeline.retrieve(query, { k: 3 });
    assert.deepEqual(got, bm25.search(query, { k: 3 }), query);
  }
  assert.equal(pipeline.name, bm25.name);
  assert.deepEqual(await pipeline.retrieve("cards", { k: 0 }), []);
});

test("lexical mode passes prf settings when enabled, and the config filter when the call has none", async () => {
  const seen: { k: number; filter?: ChunkFilter; prf?: PrfOptions }[] = [];
  const lexical: LexicalSearcher = {
    name: "bm25",
    search(query, options) {
      seen.push(options);
      return bm25.search(query, { k: options.k, filter: options.filter });
    },
  };
  const prf = { enabled: true, docs: 3, terms: 7, weight: 0.6 };
  const pipeline = createRetrievalPipeline({ lexical, config: config({ prf, versions: ["v2"], tags: ["billing"] }) });
  await pipeline.retrieve("refund", { k: 2 });
  assert.deepEqual(seen[0], { k: 2, filter: { versions: ["v2"], tags: ["billing"] }, prf: { docs: 3, terms: 7, weight: 0.6 } });
  await pipeline.retrieve("refund", { k: 2, filter: { pathPrefix: "docs/" } });
  assert.deepEqual(seen[1].filter, { pathPrefix: "docs/" }, "an explicit filter wins");
  assert.match(pipeline.name, /^bm25\+prf\(3 docs, 7 terms, w=0\.6\)$/);
  const off = createRetrievalPipeline({ lexical, config: config() });
  await off.retrieve("refund", { k: 2 });
  assert.equal(seen[2].prf, undefined);
  assert.equal(seen[2].filter, undefined);
});

test("hybrid mode fuses `fusion.candidates` from each retriever with RRF (or weighted fusion)", async () => {
  const denseOrder = ["sso", "export", "refunds", "trash"];
  const dense = fakeDense(denseOrder);
  const query = "annual plans refund";
  const cfg = config({ mode: "hybrid", fusion: { method: "rrf", rrfK: 60, lexicalWeight: 0.5, candidates: 4 } });
  const pipeline = createRetrievalPipeline({ lexical: bm25, dense, config: cfg });
  const got = await pipeline.retrieve(query, { k: 3 });
  assert.deepEqual(dense.calls[0].k, 4, "each retriever fetches fusion.candidates");
  const lex = bm25.search(query, { k: 4 });
  const expected = reciprocalRankFusion([lex, await fakeDense(denseOrder).search(query, { k: 4 })], { k: 60 }).slice(0, 3);
  assert.deepEqual(ids(got), ids(expected));
  assert.deepEqual(
    got.map((h) => h.rank),
    [1, 2, 3],
  );
  // refunds: lexical rank 1 + dense rank 3 → first; sso only dense rank 1 beats chunks found by one list lower down.
  assert.equal(got[0].chunk.id, "refunds");
  assert.ok(ids(got).includes("sso"), "a dense-only hit enters the top k");
  assert.equal(pipeline.name, `hybrid(rrf 60: ${bm25.name} + hashing:384)`);

  const weighted = createRetrievalPipeline({
    lexical: bm25,
    dense: fakeDense(denseOrder),
    config: config({ mode: "hybrid", fusion: { method: "weighted", rrfK: 60, lexicalWeight: 0.7, candidates: 4 } }),
  });
  const w = await weighted.retrieve(query, { k: 4 });
  assert.deepEqual(ids(w), ids(weightedScoreFusion([lex, await fakeDense(denseOrder).search(query, { k: 4 })], [0.7, 1 - 0.7]).slice(0, 4)));
  assert.match(weighted.name, /^hybrid\(weighted 0\.7\/0\.3: /);

  const denseOnly = createRetrievalPipeline({ lexical: bm25, dense: fakeDense(denseOrder), config: config({ mode: "dense" }) });
  assert.deepEqual(ids(await denseOnly.retrieve(query, { k: 2 })), ["sso", "export"]);
  assert.equal(denseOnly.name, "hashing:384");
});

test("dense or hybrid mode without a dense retriever is a clear error", () => {
  assert.throws(
    () => createRetrievalPipeline({ lexical: bm25, config: config({ mode: "hybrid" }) }),
    /retrieval\.mode is 'hybrid' but models\.embedder is 'none'/,
  );
  assert.throws(
    () => createRetrievalPipeline({ lexical: bm25, config: config({ mode: "dense" }), embedder: "none" }),
    /retrieval\.mode is 'dense' but models\.embedder is 'none'/,
  );
  assert.throws(
    () => createRetrievalPipeline({ lexical: bm25, config: config({ mode: "dense" }), embedder: "onnx:models/x" }),
    /no dense retriever is available for models\.embedder 'onnx:models\/x'/,
  );
});

/** A reranker that reverses its input and records what it saw. */
function reversing(): Reranker & { seen: string[][] } {
  const seen: string[][] = [];
  return {
    id: "reverse",
    seen,
    async rerank(_q, hits, k) {
      seen.push(ids(hits));
      return [...hits]
        .reverse()
        .slice(0, k)
        .map((h, i) => ({ chunk: h.chunk, score: 100 - i, rank: i + 1 }));
    },
  };
}

test("rerank sees the top rerankCandidates; the rest follow in first-stage order", async () => {
  const reranker = reversing();
  const query = "plans cards";
  const first = ids(bm25.search(query, { k: 6 }));
  assert.ok(first.length >= 4);
  const pipeline = createRetrievalPipeline({ lexical: bm25, reranker, config: config({ rerankCandidates: 3 }) });
  const got = await pipeline.retrieve(query, { k: 4 });
  assert.deepEqual(reranker.seen[0], first.slice(0, 3));
  assert.deepEqual(ids(got), [first[2], first[1], first[0], first[3]]);
  assert.deepEqual(
    got.map((h) => h.rank),
    [1, 2, 3, 4],
  );
  assert.equal(pipeline.name, `${bm25.name} → rerank(reverse, top 3)`);
});

test("composition order: candidates → rerank → collapse versions → small-to-big → top k", async () => {
  const v1 = chunk("trash-v1", "Deleted cards stay in the trash for 30 days before they are deleted.", { path: "docs/v1/trash.md", version: "v1", headingPath: ["Trash"] });
  const v2 = chunk("trash-v2", "Deleted cards stay in the trash for 60 days before they are deleted.", { path: "docs/v2/trash.md", version: "v2", headingPath: ["Trash"] });
  const restore = chunk("restore-v2", "Restore deleted cards from the trash page.", { path: "docs/v2/trash.md", ordinal: 1, version: "v2", headingPath: ["Trash"] });
  const other = chunk("billing-v2", "Annual plans can be refunded within 30 days.", { path: "docs/v2/billing.md", version: "v2" });
  const chunks = [v1, v2, restore, other];
  const index = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
  const trace: string[] = [];
  // The reranker puts the archived copy first; collapse must then swap in the v2 copy at rank 1.
  const reranker: Reranker = {
    id: "prefer-v1",
    async rerank(_q, hits, k) {
      trace.push(`rerank:${ids(hits).join(",")}`);
      const sorted = [...hits].sort((a, b) => Number(b.chunk.version === "v1") - Number(a.chunk.version === "v1"));
      return sorted.slice(0, k).map((h, i) => ({ chunk: h.chunk, score: 10 - i, rank: i + 1 }));
    },
  };
  const expandToParents = (hits: Hit[], chunksOfPath: (p: string) => Chunk[]): Hit[] => {
    trace.push(`expand:${ids(hits).join(",")}`);
    // Stand-in: one hit per document, carrying the document's first chunk.
    const seen = new Set<string>();
    return hits.filter((h) => !seen.has(h.chunk.path) && seen.add(h.chunk.path)).map((h) => ({ ...h, chunk: chunksOfPath(h.chunk.path)[0] }));
  };
  const chunksOfPath = (p: string) => chunks.filter((c) => c.path === p).sort((a, b) => a.ordinal - b.ordinal);
  const cfg = config({ collapseVersions: true, smallToBig: true, rerankCandidates: 10 });
  const pipeline = createRetrievalPipeline({ lexical: index, reranker, chunksOfPath, expandToParents, config: cfg });
  const got = await pipeline.retrieve("how many days do deleted cards stay in the trash", { k: 2 });

  assert.equal(trace.length, 2);
  assert.match(trace[0], /^rerank:/);
  assert.ok(trace[0].includes("trash-v1") && trace[0].includes("trash-v2"), "the reranker sees both versions: collapse comes after it");
  assert.ok(trace[1].startsWith("expand:trash-v2,"), `collapse ran before small-to-big and kept v2 at the top: ${trace[1]}`);
  assert.ok(!trace[1].includes("trash-v1"), "the archived copy was collapsed away");
  assert.equal(got.length, 2);
  assert.equal(got[0].chunk.path, "docs/v2/trash.md");
  assert.deepEqual(
    got.map((h) => h.rank),
    [1, 2],
  );
  assert.equal(pipeline.name, `${index.name} → rerank(prefer-v1, top 10) → prefer-newest-version → small-to-big`);

  // Small-to-big needs chunksOfPath; without it the stage is skipped.
  const noParents = createRetrievalPipeline({ lexical: index, config: cfg });
  assert.doesNotMatch(noParents.name, /small-to-big/);
});

test("the offline reranker in the pipeline: a real rerank changes the BM25 order", async () => {
  const docs = [
    chunk("scattered", "Refund requests reach the billing team. Weather reports mention storms. Annual reviews happen each spring. A window of time exists for every plan."),
    chunk("together", "The annual plan refund window is thirty days. Billing team reports storms. Weather reviews happen each spring. Requests reach us every time."),
  ];
  const index = new Bm25Index(docs, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
  const query = "annual plan refund window";
  const plain = createRetrievalPipeline({ lexical: index, config: config() });
  const reranked = createRetrievalPipeline({ lexical: index, reranker: new OfflineReranker({ idf: (t) => index.idf(t) }), config: config() });
  const before = ids(await plain.retrieve(query, { k: 2 }));
  const after = ids(await reranked.retrieve(query, { k: 2 }));
  assert.equal(after[0], "together");
  assert.deepEqual([...after].sort(), [...before].sort());
});

test("small-to-big (the real expandToParents) returns the parent section of a matched small chunk", async () => {
  const section = ["Billing", "Refunds"];
  const a = chunk("billing#0", "Annual plans can be refunded within 30 days of payment.", { path: "docs/billing.md", ordinal: 0, headingPath: section, lineStart: 1, lineEnd: 1 });
  const b = chunk("billing#1", "Contact support with your invoice number to start a refund.", { path: "docs/billing.md", ordinal: 1, headingPath: section, lineStart: 3, lineEnd: 3 });
  const c = chunk("trash#0", "Deleted cards stay in the trash for 60 days.", { path: "docs/trash.md", headingPath: ["Trash"] });
  const chunks = [a, b, c];
  const index = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
  const chunksOfPath = (p: string) => chunks.filter((x) => x.path === p);
  const query = "invoice number support";
  const small = await createRetrievalPipeline({ lexical: index, chunksOfPath, config: config() }).retrieve(query, { k: 1 });
  assert.equal(small[0].chunk.id, "billing#1", "small-to-big off: the small chunk");
  const big = await createRetrievalPipeline({ lexical: index, chunksOfPath, config: config({ smallToBig: true }) }).retrieve(query, { k: 1 });
  assert.equal(big.length, 1);
  assert.equal(big[0].chunk.path, "docs/billing.md");
  assert.ok(big[0].chunk.text.includes(a.text) && big[0].chunk.text.includes(b.text), big[0].chunk.text);
  assert.equal(big[0].rank, 1);
});
