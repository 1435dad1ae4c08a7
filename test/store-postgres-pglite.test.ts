/**
 * The async Postgres store's SQL on PGlite through the executor adapter (store/postgres/executor.ts):
 * the same code the worker runs on node `pg`, in-process, so SQL that needs an extension Debian's
 * server lacks (pgvector) can share this path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { AsyncPostgresStore } from "../src/store/postgres/store.ts";
import { pgliteDatabase } from "../src/store/postgres/executor.ts";
import { LEXICAL_ANALYZER } from "../src/retrieve/lexical-cache.ts";
import { chunk, doc, upsert } from "./helpers/store-fixtures.ts";

test("on PGlite: ingest, replace, a failing batch rolled back, per-document savepoints, lexical rows and identity", async () => {
  const db = pgliteDatabase(new PGlite());
  const store = await AsyncPostgresStore.open(db);
  try {
    await store.applyIngest({ upserts: [upsert("b.md", 2), upsert("a.md", 1)], removals: [], meta: { chunking_hash: "c" } });
    assert.deepEqual((await store.chunks()).map((c) => c.id), ["a.md#0", "b.md#0", "b.md#1"]);
    await assert.rejects(store.applyIngest({ upserts: [upsert("c.md", 1), { doc: doc("d.md", 1), chunks: [chunk("x.md", 0)] }], removals: ["a.md"] }), /belongs to document d\.md/);
    assert.deepEqual((await store.documents()).map((d) => d.path), ["a.md", "b.md"], "the failed batch changed nothing");
    assert.equal(await store.generation(), 1);
    const { failed } = await store.applyIngest({ upserts: [upsert("c.md", 1), { doc: doc("d.md", 1), chunks: [chunk("x.md", 0)] }], removals: [], perDocumentErrors: true });
    assert.deepEqual(failed.map((f) => f.path), ["d.md"]);
    assert.deepEqual((await store.documents()).map((d) => d.path), ["a.md", "b.md", "c.md"]);
    const { rows, terms } = await store.lexicalRows();
    assert.equal(rows.length, 4);
    assert.ok(rows.every((r) => r.analyzer === LEXICAL_ANALYZER && r.terms!.length > 0));
    assert.ok(terms.filter(Boolean).length > 5);
    const { identity } = await store.identity();
    assert.deepEqual([identity.documents, identity.chunks, identity.generation], [3, 4, 2]);
  } finally {
    await store.close();
  }
});
