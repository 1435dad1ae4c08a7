import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Chunk } from "../src/ingest/index.ts";
import type { Embedder } from "../src/models/index.ts";
import { HashingEmbedder } from "../src/models/embedders/hashing.ts";
import { openStore } from "../src/store/index.ts";
import { embeddingInput, openVectorStore } from "../src/store/vectors.ts";
import { DenseRetriever, embedPending, ExactVectorIndex, exactTopK } from "../src/retrieve/dense.ts";
import { chooseVectorIndex, HnswVectorIndex, measureAnnRecall } from "../src/retrieve/ann.ts";
import type { Hit, VectorSearcher } from "../src/retrieve/index.ts";
import { testChunk } from "./helpers/chunks.ts";

function chunk(path: string, ordinal: number, text: string, extra: Partial<Chunk> = {}): Chunk {
  return testChunk(`${path}#${ordinal}`, text, { path, ordinal, title: `T ${path}`, headingPath: [`H${ordinal}`], lineEnd: 2, tokens: 5, ...extra });
}

// ---------------------------------------------------------------------------------------------
// exact search on a hand-computed fixture
// ---------------------------------------------------------------------------------------------

const fixture: Chunk[] = [
  chunk("docs/v1/a.md", 0, "c0", { version: "v1", meta: { tags: ["billing"] } }),
  chunk("docs/v2/a.md", 0, "c1", { version: "v2", meta: { tags: ["Billing", "faq"] } }),
  chunk("docs/v2/b.md", 0, "c2", { version: "v2", meta: { tags: "trash" } }),
  chunk("guides/c.md", 0, "c3", { version: "v2" }),
  chunk("docs/v1/b.md", 0, "c4", { version: "v1" }),
];
// Unit vectors; with q = (0.8, 0.6, 0) the dot products are c0 0.8, c1 0.96, c2 0.6, c3 0, c4 0.64.
const fixtureMatrix = new Float32Array([1, 0, 0, 0.6, 0.8, 0, 0, 1, 0, 0, 0, 1, 0.8, 0, 0.6]);
const q = new Float32Array([0.8, 0.6, 0]);
const ids = (hits: Hit[]) => hits.map((h) => h.chunk.text);

test("exact search: hand-computed order, scores and ranks; k larger than the corpus", () => {
  const index = new ExactVectorIndex(fixture, fixtureMatrix, 3);
  assert.equal(index.size, 5);
  const top3 = index.search(q, { k: 3 });
  assert.deepEqual(ids(top3), ["c1", "c0", "c4"]);
  assert.deepEqual(top3.map((h) => h.rank), [1, 2, 3]);
  [0.96, 0.8, 0.64].forEach((s, i) => assert.ok(Math.abs(top3[i].score - s) < 1e-6, `${top3[i].score} vs ${s}`));
  assert.deepEqual(ids(index.search(q, { k: 10 })), ["c1", "c0", "c4", "c2", "c3"]);
  assert.deepEqual(index.search(q, { k: 0 }), []);
});

test("exact search: filters by version, path glob, path prefix and tags (the shared ChunkFilter semantics)", () => {
  const index = new ExactVectorIndex(fixture, fixtureMatrix, 3);
  assert.deepEqual(ids(index.search(q, { k: 10, filter: { versions: ["v2"] } })), ["c1", "c2", "c3"]);
  assert.deepEqual(ids(index.search(q, { k: 2, filter: { versions: ["v1"] } })), ["c0", "c4"]);
  assert.deepEqual(ids(index.search(q, { k: 10, filter: { paths: ["docs/**"] } })), ["c1", "c0", "c4", "c2"]);
  assert.deepEqual(ids(index.search(q, { k: 10, filter: { pathPrefix: "docs/v1/" } })), ["c0", "c4"]);
  assert.deepEqual(ids(index.search(q, { k: 10, filter: { tags: ["billing"] } })), ["c1", "c0"], "tags are case-insensitive");
  assert.deepEqual(ids(index.search(q, { k: 10, filter: { tags: ["trash"], versions: ["v2"] } })), ["c2"]);
  assert.deepEqual(index.search(q, { k: 10, filter: { versions: [] } }), [], "versions: [] matches nothing");
  assert.deepEqual(ids(index.search(q, { k: 10, filter: {} })).length, 5);
});

test("exact search: ties go to the earlier chunk; bad shapes are clear errors", () => {
  const twins = new ExactVectorIndex(fixture.slice(0, 3), new Float32Array([0, 1, 1, 0, 1, 0]), 2);
  assert.deepEqual(ids(twins.search(new Float32Array([1, 0]), { k: 2 })), ["c1", "c2"]);
  assert.throws(() => new ExactVectorIndex(fixture, new Float32Array(14), 3), /matrix has 14 values, expected 5 chunks × 3 dims = 15/);
  assert.throws(() => new ExactVectorIndex(fixture, fixtureMatrix, 3).search(new Float32Array(4), { k: 1 }), /query vector has 4 dimensions but the index has 3.*re-run `ragtune ingest`/);
  assert.deepEqual(new ExactVectorIndex([], new Float32Array(0), 0).search(new Float32Array(3), { k: 5 }), []);
});

test("exactTopK agrees with a full sort (random data, with and without a mask)", () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  const n = 1000;
  const dims = 13; // not a multiple of the 4-way unrolling
  const matrix = Float32Array.from({ length: n * dims }, rand);
  const query = Float32Array.from({ length: dims }, rand);
  const mask = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const score = (r: number) => {
    let s = 0;
    for (let j = 0; j < dims; j++) s += matrix[r * dims + j] * query[j];
    return s;
  };
  for (const m of [undefined, mask]) {
    const expected = Array.from({ length: n }, (_, r) => r)
      .filter((r) => !m || m[r])
      .sort((a, b) => score(b) - score(a) || a - b)
      .slice(0, 25);
    const got = exactTopK(matrix, dims, query, 25, m);
    assert.deepEqual(Array.from(got.rows), expected);
    got.scores.forEach((s, i) => assert.ok(Math.abs(s - score(expected[i])) < 1e-5));
  }
});

test("DenseRetriever embeds the query and searches (hashing embedder)", async () => {
  const chunks = [
    chunk("billing.md", 0, "Annual plans can be refunded within 30 days of payment."),
    chunk("trash.md", 0, "Deleted cards stay in the trash for 60 days before they are removed."),
    chunk("cards.md", 0, "We accept Visa, Mastercard and American Express cards."),
  ];
  const embedder = new HashingEmbedder({ dims: 256 });
  const vectors = await embedder.embed(chunks.map(embeddingInput), "document");
  const matrix = new Float32Array(chunks.length * 256);
  vectors.forEach((v, i) => matrix.set(v, i * 256));
  const retriever = new DenseRetriever(embedder, new ExactVectorIndex(chunks, matrix, 256));
  assert.equal(retriever.name, "dense(hashing:256, exact(dot,dims=256))");
  assert.equal((await retriever.search("How long do refunds take on an annual plan?", { k: 1 }))[0].chunk.path, "billing.md");
  assert.equal((await retriever.search("when are deleted cards removed from the trash", { k: 1 }))[0].chunk.path, "trash.md");
  assert.deepEqual((await retriever.search("refund", { k: 3, filter: { paths: ["t*.md"] } })).map((h) => h.chunk.path), ["trash.md"]);
});

// ---------------------------------------------------------------------------------------------
// vector store: incremental, embedder changes, resume
// ---------------------------------------------------------------------------------------------

function doc(path: string, texts: string[]) {
  return {
    doc: { path, hash: texts.join("|"), version: "", title: `T ${path}`, bytes: 1, chunks: texts.length, ingestedAt: "2026-01-01T00:00:00.000Z" },
    chunks: texts.map((t, i) => chunk(path, i, t, { headingPath: ["S"] })),
  };
}

/** Counts what it is asked to embed, so tests can see exactly which texts were (re-)embedded. */
class CountingEmbedder implements Embedder {
  readonly inner: HashingEmbedder;
  embedded: string[] = [];
  failOnCall?: number;
  private calls = 0;
  constructor(dims = 64) {
    this.inner = new HashingEmbedder({ dims });
  }
  get id() {
    return this.inner.id;
  }
  get dimensions() {
    return this.inner.dimensions;
  }
  async embed(texts: string[], kind: "query" | "document") {
    if (++this.calls === this.failOnCall) throw new Error("embedding server went away");
    this.embedded.push(...texts);
    return this.inner.embed(texts, kind);
  }
}

function tempIndex() {
  const file = join(mkdtempSync(join(tmpdir(), "ragtune-vec-")), "index.db");
  const store = openStore(file);
  return { file, store };
}

test("vector store: embeds everything once, then only new and changed chunks", async () => {
  const { file, store } = tempIndex();
  store.applyIngest({ upserts: [doc("a.md", ["alpha one", "alpha two"]), doc("b.md", ["beta one", "beta two"])], removals: [] });
  const vectors = openVectorStore(file);
  const embedder = new CountingEmbedder();

  const pending = vectors.pending(embedder.id);
  assert.deepEqual(pending.map((p) => p.id), ["a.md#0", "a.md#1", "b.md#0", "b.md#1"]);
  assert.equal(pending[0].text, embeddingInput(store.chunk("a.md#0")!));
  assert.equal(pending[0].text, "T a.md › S\nalpha one");

  const progress: number[] = [];
  const first = await embedPending(file, embedder, { batchSize: 3, onProgress: (p) => progress.push(p.done) });
  assert.deepEqual([first.embedded, first.upToDate], [4, 0]);
  assert.deepEqual(progress, [3, 4]);
  assert.deepEqual(vectors.pending(embedder.id), []);
  assert.deepEqual((await embedPending(file, embedder)).embedded, 0);

  const loaded = vectors.load(embedder.id);
  assert.deepEqual(loaded.ids, ["a.md#0", "a.md#1", "b.md#0", "b.md#1"]);
  assert.equal(loaded.dims, 64);
  assert.equal(loaded.matrix.length, 4 * 64);
  assert.deepEqual(loaded.matrix.subarray(64, 128), embedder.inner.embedOne(embeddingInput(store.chunk("a.md#1")!)));

  // Re-ingest: b.md's second chunk changes, c.md is new, a.md gets a new first section, which
  // shifts its old sections to new ids (a.md#1, a.md#2) with unchanged text.
  embedder.embedded = [];
  store.applyIngest({
    upserts: [doc("b.md", ["beta one", "beta two, edited"]), doc("c.md", ["gamma"]), doc("a.md", ["alpha zero", "alpha one", "alpha two"])],
    removals: [],
  });
  assert.deepEqual(vectors.pending(embedder.id).map((p) => p.id), ["a.md#0", "b.md#1", "c.md#0"], "unchanged text keeps its vector, even under a new id");
  const second = await embedPending(file, embedder);
  assert.deepEqual([second.embedded, second.upToDate], [3, 3]);
  assert.deepEqual(embedder.embedded, ["T a.md › S\nalpha zero", "T b.md › S\nbeta two, edited", "T c.md › S\ngamma"]);
  const after = vectors.load(embedder.id);
  assert.deepEqual(after.ids, ["a.md#0", "a.md#1", "a.md#2", "b.md#0", "b.md#1", "c.md#0"]);
  for (const [i, id] of after.ids.entries()) {
    assert.deepEqual(after.matrix.subarray(i * 64, (i + 1) * 64), embedder.inner.embedOne(embeddingInput(store.chunk(id)!)), id);
  }

  // Removing a document removes its vectors (cascade).
  store.applyIngest({ upserts: [], removals: ["b.md"] });
  assert.deepEqual(vectors.load(embedder.id).ids, ["a.md#0", "a.md#1", "a.md#2", "c.md#0"]);
  assert.deepEqual(vectors.summary(), [{ embedder: "hashing:64", dims: 64, vectors: 4 }]);
  vectors.close();
  store.close();
});

test("vector store: a new embedder id makes every chunk pending and replaces the vectors", async () => {
  const { file, store } = tempIndex();
  store.applyIngest({ upserts: [doc("a.md", ["alpha one", "alpha two"]), doc("b.md", ["beta"])], removals: [] });
  await embedPending(file, new CountingEmbedder(64));
  const vectors = openVectorStore(file);
  assert.equal(vectors.pending("hashing:64").length, 0);
  assert.equal(vectors.pending("hashing:32").length, 3);
  assert.equal(vectors.pendingCount("hashing:32"), 3);
  const other = new CountingEmbedder(32);
  assert.equal((await embedPending(vectors, other)).embedded, 3);
  assert.equal(other.embedded.length, 3);
  assert.deepEqual(vectors.load("hashing:64"), { ids: [], matrix: new Float32Array(0), dims: 0 });
  assert.equal(vectors.load("hashing:32").dims, 32);
  assert.equal(vectors.pending("hashing:64").length, 3, "switching back re-embeds again");
  vectors.close();
  store.close();
});

test("vector store: text changed behind its back is pending and never loaded; deleted chunks are skipped", async () => {
  const { file, store } = tempIndex();
  store.applyIngest({ upserts: [doc("a.md", ["alpha one", "alpha two"])], removals: [] });
  const embedder = new CountingEmbedder();
  await embedPending(file, embedder);
  // Another writer edits a chunk in place (no delete, so no cascade): the text hash catches it.
  const raw = new Database(file);
  raw.prepare("UPDATE chunks SET text = 'alpha two, rewritten' WHERE id = 'a.md#1'").run();
  raw.close();
  const vectors = openVectorStore(file);
  assert.deepEqual(vectors.pending(embedder.id).map((p) => p.id), ["a.md#1"]);
  assert.deepEqual(vectors.load(embedder.id).ids, ["a.md#0"], "a stale vector is not served");
  assert.equal(vectors.put([{ chunkId: "gone.md#0", embedder: embedder.id, vector: new Float32Array([1, 0]), textHash: "x" }]), 0);
  assert.throws(() => vectors.put([{ chunkId: "a.md#0", embedder: "e", vector: new Float32Array([NaN]), textHash: "x" }]), /non-finite value in the vector of chunk a\.md#0/);
  vectors.close();
  store.close();
});

test("vector store: an interrupted embedding run keeps finished batches and the rerun resumes", async () => {
  const { file, store } = tempIndex();
  store.applyIngest({ upserts: [doc("a.md", ["one", "two", "three", "four", "five"])], removals: [] });
  const embedder = new CountingEmbedder();
  embedder.failOnCall = 2;
  await assert.rejects(embedPending(file, embedder, { batchSize: 2 }), /embedding server went away/);
  const vectors = openVectorStore(file);
  assert.deepEqual(vectors.load(embedder.id).ids, ["a.md#0", "a.md#1"]);
  embedder.embedded = [];
  const resumed = await embedPending(vectors, embedder, { batchSize: 2 });
  assert.deepEqual([resumed.embedded, resumed.upToDate], [3, 2]);
  assert.deepEqual(embedder.embedded.map((t) => t.split("\n")[1]), ["three", "four", "five"]);
  vectors.close();
  store.close();
});

test("openVectorStore: clear errors for a missing index and a foreign database", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-vec-"));
  assert.throws(() => openVectorStore(join(dir, "nope.db")), /no index at .*nope\.db: run `ragtune ingest` first/);
  const foreign = join(dir, "other.db");
  new Database(foreign).exec("CREATE TABLE t (x)").close();
  assert.throws(() => openVectorStore(foreign), /is not a ragtune index \(no chunks table\)/);
  writeFileSync(join(dir, "junk.db"), "not sqlite at all, just text ".repeat(10));
  assert.throws(() => openVectorStore(join(dir, "junk.db")));
  assert.throws(() => openVectorStore(":memory:"), /needs the index file path/);
});

// ---------------------------------------------------------------------------------------------
// HNSW
// ---------------------------------------------------------------------------------------------

function randomUnitVectors(n: number, dims: number, seed: number): Float32Array {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dims; j++) {
      // Box–Muller: isotropic Gaussian directions.
      const x = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      out[i * dims + j] = x;
      norm += x * x;
    }
    for (let j = 0; j < dims; j++) out[i * dims + j] /= Math.sqrt(norm);
  }
  return out;
}
const syntheticChunks = (n: number) => Array.from({ length: n }, (_, i) => chunk(`d${i % 7}.md`, i, `c${i}`, { version: i % 2 ? "odd" : "even", meta: { tags: i % 50 === 0 ? ["rare"] : [] } }));

test("HNSW: recall@10 ≥ 0.95 against exact search on 2,000 random vectors, filtered too", () => {
  const n = 2000;
  const dims = 24;
  const chunks = syntheticChunks(n);
  const matrix = randomUnitVectors(n, dims, 1);
  const queries = Array.from({ length: 100 }, (_, i) => randomUnitVectors(1, dims, 1000 + i));
  const exact = new ExactVectorIndex(chunks, matrix, dims);
  const hnsw = new HnswVectorIndex(chunks, matrix, dims, { exactFilterRows: 0, exactFilterFraction: 0 });
  assert.equal(hnsw.size, n);
  assert.match(hnsw.name, /^hnsw\(ip,M=16,efConstruction=200,efSearch=128\)$/);
  const recall = measureAnnRecall(hnsw, exact, queries, 10);
  assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  // Over-fetch + filter path (half the chunks pass).
  const filtered = measureAnnRecall(hnsw, exact, queries, 10, { versions: ["odd"] });
  assert.ok(filtered >= 0.95, `filtered recall@10 ${filtered}`);
  for (const h of hnsw.search(queries[0], { k: 10, filter: { versions: ["odd"] } })) assert.equal(h.chunk.version, "odd");
  // HNSW scores are the same dot products exact search reports.
  const [best] = hnsw.search(queries[0], { k: 1 });
  const [truth] = exact.search(queries[0], { k: 1 });
  assert.ok(Math.abs(best.score - truth.score) < 1e-5);
  // Selective filters (40 of 2000 pass) go to the exact path by default: identical results.
  const selective = new HnswVectorIndex(chunks, matrix, dims);
  assert.equal(measureAnnRecall(selective, exact, queries, 10, { tags: ["rare"] }), 1);
  assert.deepEqual(selective.search(queries[0], { k: 100, filter: { tags: ["rare"] } }).length, 40);
  assert.deepEqual(hnsw.search(queries[0], { k: 5, filter: { versions: [] } }), []);
});

test("chooseVectorIndex: exact below the threshold in auto mode, as asked otherwise", () => {
  const dims = 8;
  const build = (n: number, mode: "auto" | "on" | "off") => chooseVectorIndex(mode, 100, syntheticChunks(n), randomUnitVectors(n, dims, 3), dims);
  assert.ok(build(100, "auto") instanceof ExactVectorIndex, "threshold itself stays exact");
  assert.ok(build(101, "auto") instanceof HnswVectorIndex);
  assert.ok(build(500, "off") instanceof ExactVectorIndex);
  assert.ok(build(5, "on") instanceof HnswVectorIndex);
  assert.ok(build(0, "on") instanceof ExactVectorIndex, "nothing to index");
});

test("measureAnnRecall: 1 for identical results, the overlap fraction otherwise", () => {
  const dims = 8;
  const chunks = syntheticChunks(50);
  const exact = new ExactVectorIndex(chunks, randomUnitVectors(50, dims, 9), dims);
  const queries = [randomUnitVectors(1, dims, 10), randomUnitVectors(1, dims, 11)];
  assert.equal(measureAnnRecall(exact, exact, queries, 10), 1);
  // A searcher that gets the top 4 of every 10 right and fills the rest with the worst chunks.
  const halfWrong: VectorSearcher = {
    name: "bad",
    size: 50,
    search: (v, o) => {
      const all = exact.search(v, { k: 50 });
      return [...all.slice(0, 4), ...all.slice(-(o.k - 4))];
    },
  };
  assert.ok(Math.abs(measureAnnRecall(halfWrong, exact, queries, 10) - 0.4) < 1e-9);
});

test("HNSW: save/open round trip; a graph built for other vectors or settings is not reused", () => {
  const n = 300;
  const dims = 8;
  const chunks = syntheticChunks(n);
  const matrix = randomUnitVectors(n, dims, 5);
  const built = new HnswVectorIndex(chunks, matrix, dims, { M: 8, efConstruction: 50 });
  const file = join(mkdtempSync(join(tmpdir(), "ragtune-ann-")), "ann", "hashing-8.hnsw");
  assert.equal(HnswVectorIndex.open(file, chunks, matrix, dims, { M: 8, efConstruction: 50 }), undefined, "nothing saved yet");
  built.save(file);
  const reopened = HnswVectorIndex.open(file, chunks, matrix, dims, { M: 8, efConstruction: 50 });
  assert.ok(reopened);
  const query = randomUnitVectors(1, dims, 77);
  assert.deepEqual(reopened.search(query, { k: 10 }), built.search(query, { k: 10 }));
  const changed = matrix.slice();
  changed[0] = -changed[0];
  assert.equal(HnswVectorIndex.open(file, chunks, changed, dims, { M: 8, efConstruction: 50 }), undefined, "other vectors");
  assert.equal(HnswVectorIndex.open(file, chunks.slice().reverse(), matrix, dims, { M: 8, efConstruction: 50 }), undefined, "other chunk order");
  assert.equal(HnswVectorIndex.open(file, chunks, matrix, dims, { M: 16, efConstruction: 50 }), undefined, "other M");
});

test("HNSW: a filter correlated with the query's neighbourhood still finds the right chunks", () => {
  // 10 tight clusters of 200; cluster 0 is version "b", the rest "a". Queries sit in cluster 5
  // and ask for "b": none of their graph neighbours pass, the matching chunks are all far away.
  const n = 2000;
  const dims = 24;
  const centres = randomUnitVectors(10, dims, 21);
  const noise = randomUnitVectors(n + 20, dims, 22);
  const point = (c: number, i: number) => {
    const v = new Float32Array(dims);
    for (let j = 0; j < dims; j++) v[j] = centres[c * dims + j] + 0.3 * noise[i * dims + j];
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const matrix = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) matrix.set(point(i % 10, i), i * dims);
  const chunks = syntheticChunks(n).map((c, i) => ({ ...c, version: i % 10 === 0 ? "b" : "a" }));
  const queries = Array.from({ length: 20 }, (_, i) => point(5, n + i));
  const exact = new ExactVectorIndex(chunks, matrix, dims);
  // Default: the failed post-filter falls back to scanning the 200 passing rows exactly.
  const hnsw = new HnswVectorIndex(chunks, matrix, dims, { exactFilterRows: 0, exactFilterFraction: 0 });
  assert.equal(measureAnnRecall(hnsw, exact, queries, 10, { versions: ["b"] }), 1);
  // Above fallbackExactRows: hnswlib's in-graph filtered search.
  const inGraph = new HnswVectorIndex(chunks, matrix, dims, { exactFilterRows: 0, exactFilterFraction: 0, fallbackExactRows: 0 });
  const recall = measureAnnRecall(inGraph, exact, queries, 10, { versions: ["b"] });
  assert.ok(recall >= 0.95, `correlated filter, in-graph search: recall@10 ${recall}`);
  for (const h of inGraph.search(queries[0], { k: 10, filter: { versions: ["b"] } })) assert.equal(h.chunk.version, "b");
});
