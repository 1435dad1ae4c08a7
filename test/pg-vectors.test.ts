/**
 * Vectors on PostgreSQL (src/store/postgres/vectors.ts) on PGlite: with its pgvector extension
 * (HNSW path) and without it (plain table, exact search). The `chunks` table is a stand-in with
 * the SQLite store's columns (bench/lib/pg-chunks.ts); the Postgres Store adapter is tested elsewhere.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { openPgVectorStore, type PgVectorStore } from "../src/store/postgres/vectors.ts";
import { createChunksTable, exactTopIds, insertChunks, randomUnitVectors, syntheticChunks, textHashOf, type TestChunkRow } from "../bench/lib/pg-chunks.ts";

async function fresh(withPgvector: boolean, n: number, opts: { efSearch?: number } = {}) {
  const db = withPgvector ? new PGlite({ extensions: { vector } }) : new PGlite();
  await createChunksTable(db);
  const chunks = syntheticChunks(n, 10);
  await insertChunks(db, chunks);
  const notices: string[] = [];
  const store = await openPgVectorStore(db, { server: "pglite-test", notice: (l) => notices.push(l), ...opts });
  return { db, store, chunks, notices };
}

const rowsFor = (chunks: TestChunkRow[], vectors: Float32Array[], embedder = "e1") =>
  chunks.map((c, i) => ({ chunkId: c.id, embedder, vector: vectors[i], textHash: textHashOf(c) }));

/** Sorted by path then ordinal, as `load` and `pending` order them. */
const byPathOrdinal = (chunks: TestChunkRow[]) => [...chunks].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.ordinal - b.ordinal));

async function contractChecks(store: PgVectorStore, chunks: TestChunkRow[], dims: number) {
  const vectors = randomUnitVectors(chunks.length, dims, 7);
  assert.equal(await store.pendingCount("e1"), chunks.length);
  const pending = await store.pending("e1");
  assert.deepEqual(pending.map((p) => p.id), byPathOrdinal(chunks).map((c) => c.id));
  assert.equal(pending[0].textHash, textHashOf(byPathOrdinal(chunks)[0]));

  // put half, then the rest: pending shrinks, load returns exactly the stored floats in path/ordinal order
  const half = Math.floor(chunks.length / 2);
  assert.equal(await store.put(rowsFor(chunks, vectors).slice(0, half)), half);
  assert.equal(await store.pendingCount("e1"), chunks.length - half);
  assert.equal(await store.put(rowsFor(chunks, vectors).slice(half)), chunks.length - half);
  assert.equal(await store.pendingCount("e1"), 0);
  assert.deepEqual(await store.pending("e1"), []);
  const loaded = await store.load("e1");
  assert.equal(loaded.dims, dims);
  assert.deepEqual(loaded.ids, byPathOrdinal(chunks).map((c) => c.id));
  const index = new Map(chunks.map((c, i) => [c.id, i]));
  loaded.ids.forEach((id, r) => assert.deepEqual(loaded.matrix.subarray(r * dims, (r + 1) * dims), vectors[index.get(id)!], `vector of ${id}`));
  assert.deepEqual(await store.summary(), [{ embedder: "e1", dims, vectors: chunks.length }]);
  return vectors;
}

async function deletionChecks(db: PGlite, store: PgVectorStore, chunks: TestChunkRow[], vectors: Float32Array[]) {
  const gone = chunks[3];
  await db.query("DELETE FROM chunks WHERE id = $1", [gone.id]);
  // a row for the deleted chunk is skipped, not an error
  assert.equal(await store.put([{ chunkId: gone.id, embedder: "e1", vector: vectors[3], textHash: textHashOf(gone) }]), 0);
  const loaded = await store.load("e1");
  assert.ok(!loaded.ids.includes(gone.id));
  const hits = await store.search("e1", vectors[3], 5);
  assert.ok(!hits.some((h) => h.chunkId === gone.id), "search skips the deleted chunk");
  // re-inserting the same text restores the parked vector: nothing to embed again
  await insertChunks(db, [gone]);
  assert.equal(await store.pendingCount("e1"), 0);
  assert.ok((await store.load("e1")).ids.includes(gone.id));
  // a text changed in place drops the vector; a put computed from the old text is refused
  const edited = chunks[4];
  await db.query("UPDATE chunks SET text = 'new words' WHERE id = $1", [edited.id]);
  assert.deepEqual((await store.pending("e1")).map((p) => p.id), [edited.id]);
  assert.equal(await store.put([{ chunkId: edited.id, embedder: "e1", vector: vectors[4], textHash: textHashOf(edited) }]), 0);
  assert.equal(await store.pendingCount("e1"), 1);
  const [p] = await store.pending("e1");
  assert.equal(await store.put([{ chunkId: edited.id, embedder: "e1", vector: vectors[4], textHash: p.textHash }]), 1);
  assert.equal(await store.pendingCount("e1"), 0);
}

async function embedderChangeChecks(store: PgVectorStore, chunks: TestChunkRow[]) {
  assert.equal(await store.pendingCount("e2"), chunks.length, "every chunk is pending for a new embedder");
  const v2 = randomUnitVectors(chunks.length, 16, 99);
  // hashes from `pending` (one chunk's text was edited by deletionChecks)
  const hash = new Map((await store.pending("e2")).map((p) => [p.id, p.textHash]));
  const rows = rowsFor(chunks, v2, "e2").map((r) => ({ ...r, textHash: hash.get(r.chunkId)! }));
  assert.equal(await store.put(rows.slice(0, 10)), 10);
  assert.deepEqual(
    (await store.summary()).map((s) => [s.embedder, s.dims, s.vectors]),
    [
      ["e1", 32, chunks.length - 10],
      ["e2", 16, 10],
    ],
  );
  assert.equal((await store.load("e2")).ids.length, 10);
  assert.equal((await store.load("e1")).ids.length, chunks.length - 10);
  const hits = await store.search("e2", v2[0], 3);
  assert.equal(hits[0].chunkId, chunks[0].id);
  assert.ok(hits.length === 3 && hits.every((h) => chunks.slice(0, 10).some((c) => c.id === h.chunkId)), "e2 search sees only e2 rows");
  await assert.rejects(store.search("e2", new Float32Array(32).fill(0.1), 3), /query has 32 dimensions, e2's vectors have 16/);
}

test("pgvector on PGlite: put/pending/load, deletions, parked vectors, embedder change", async () => {
  const { db, store, chunks, notices } = await fresh(true, 60);
  assert.equal(store.mode, "pgvector");
  assert.deepEqual(notices, []);
  const vectors = await contractChecks(store, chunks, 32);
  const format = (await db.query<{ t: string }>("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'chunk_vectors'::regclass AND attname = 'embedding'")).rows[0].t;
  assert.equal(format, "vector");
  await deletionChecks(db, store, chunks, vectors);
  await embedderChangeChecks(store, chunks);
  assert.equal((await store.indexes()).length, 2, "one HNSW index per embedder and size");
  await db.close();
});

test("pgvector on PGlite: HNSW index used; recall@10 vs exact cosine on random unit vectors; filters", async () => {
  const n = 3000;
  const dims = 48;
  const { db, store, chunks } = await fresh(true, n, { efSearch: 64 });
  const vectors = randomUnitVectors(n, dims, 11);
  assert.equal(await store.put(rowsFor(chunks, vectors)), n);
  const [index] = await store.indexes();
  assert.ok(index, "an HNSW index exists");
  const def = (await db.query<{ d: string }>("SELECT indexdef AS d FROM pg_indexes WHERE indexname = $1", [index])).rows[0].d;
  assert.match(def, /USING hnsw .*vector_cosine_ops/);
  const queries = randomUnitVectors(50, dims, 12);
  const plan = (await db.query<{ "QUERY PLAN": string }>(
    `EXPLAIN SELECT chunk_id FROM chunk_vectors v WHERE v.embedder = 'e1' AND v.dims = ${dims}
     ORDER BY v.embedding::vector(${dims}) <=> $1::vector(${dims}) LIMIT 10`,
    [`[${Array.from(queries[0]).join(",")}]`],
  )).rows.map((r) => r["QUERY PLAN"]).join("\n");
  assert.match(plan, new RegExp(`Index Scan using ${index}`), "the search query is an HNSW index scan");

  const ids = chunks.map((c) => c.id);
  let found = 0;
  for (const q of queries) {
    const hits = await store.search("e1", q, 10);
    assert.equal(hits.length, 10);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score - 1e-6, "best first");
    const exact = new Set(exactTopIds(ids, vectors, q, 10));
    found += hits.filter((h) => exact.has(h.chunkId)).length;
  }
  const recall = found / (10 * queries.length);
  // Measured 0.99+ here (m 16, ef_construction 64, ef_search 64); 48-d random vectors are a hard case for a graph index.
  assert.ok(recall >= 0.9, `recall@10 ${recall}`);
  // the score is the cosine similarity
  const top = (await store.search("e1", vectors[5], 1))[0];
  assert.equal(top.chunkId, chunks[5].id);
  assert.ok(Math.abs(top.score - 1) < 1e-5);

  // filters: only admitted chunks come back, and still k of them (iterative scan), the same set as exact on the subset
  const filtered = await store.search("e1", queries[1], 10, { versions: ["v2"], pathPrefix: "doc-3" });
  assert.equal(filtered.length, 10);
  const admitted = (i: number) => chunks[i].version === "v2" && chunks[i].path.startsWith("doc-3");
  assert.ok(filtered.every((h) => admitted(ids.indexOf(h.chunkId))));
  const exactFiltered = new Set(exactTopIds(ids, vectors, queries[1], 10, admitted));
  assert.ok(filtered.filter((h) => exactFiltered.has(h.chunkId)).length >= 8);
  const globbed = await store.search("e1", queries[2], 5, { paths: ["doc-7.md"] });
  assert.ok(globbed.length === 5 && globbed.every((h) => h.chunkId.startsWith("doc-7.md#")));
  assert.deepEqual(await store.search("e1", queries[2], 5, { versions: [] }), []);
  await db.close();
});

test("without pgvector: plain bytea table, one notice, exact search that follows writes", async () => {
  const { db, store, chunks, notices } = await fresh(false, 60);
  assert.equal(store.mode, "plain");
  assert.deepEqual(notices, ["pgvector not installed on pglite-test: vectors kept in a plain table, exact search"]);
  const vectors = await contractChecks(store, chunks, 32);
  const format = (await db.query<{ t: string }>("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'chunk_vectors'::regclass AND attname = 'embedding'")).rows[0].t;
  assert.equal(format, "bytea");
  const ids = chunks.map((c) => c.id);
  for (const q of randomUnitVectors(20, 32, 5)) {
    assert.deepEqual((await store.search("e1", q, 10)).map((h) => h.chunkId), exactTopIds(ids, vectors, q, 10), "exact top-10, same order");
  }
  const admitted = (i: number) => chunks[i].version === "v1";
  const q = randomUnitVectors(1, 32, 6)[0];
  assert.deepEqual((await store.search("e1", q, 7, { versions: ["v1"] })).map((h) => h.chunkId), exactTopIds(ids, vectors, q, 7, admitted));
  // the cached matrix is refreshed after a write: chunk 0 moved onto the query
  await store.put([{ chunkId: chunks[0].id, embedder: "e1", vector: q, textHash: textHashOf(chunks[0]) }]);
  assert.equal((await store.search("e1", q, 1))[0].chunkId, chunks[0].id);
  await store.put([{ chunkId: chunks[0].id, embedder: "e1", vector: vectors[0], textHash: textHashOf(chunks[0]) }]);
  await deletionChecks(db, store, chunks, vectors);
  await embedderChangeChecks(store, chunks);
  assert.deepEqual(await store.indexes(), []);
  // reopening keeps the mode of the existing table, quietly-or-not as before
  const again = await openPgVectorStore(db, { server: "pglite-test", notice: () => undefined });
  assert.equal(again.mode, "plain");
  await db.close();
});

test("open refuses a database without a chunks table; bad vectors are clear errors", async () => {
  const bare = new PGlite();
  await assert.rejects(openPgVectorStore(bare, { server: "bare", notice: () => undefined }), /bare has no chunks table/);
  await bare.close();
  const { db, store, chunks } = await fresh(true, 3);
  await assert.rejects(store.put([{ chunkId: chunks[0].id, embedder: "e1", vector: new Float32Array([1, NaN]), textHash: textHashOf(chunks[0]) }]), /non-finite/);
  await assert.rejects(store.put([{ chunkId: chunks[0].id, embedder: "e1", vector: new Float32Array(0), textHash: textHashOf(chunks[0]) }]), /empty vector/);
  assert.equal(await store.pendingCount("e1"), 3, "nothing stored by a rejected put");
  await db.close();
});
