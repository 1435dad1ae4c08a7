import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openStore, type StoredDocument } from "../src/store/index.ts";
import { SCHEMA_VERSION } from "../src/store/sqlite.ts";
import type { Chunk } from "../src/ingest/index.ts";
import { doc } from "./helpers/store-fixtures.ts";

function chunk(path: string, ordinal: number, version = "v1", extra: Partial<Chunk> = {}): Chunk {
  return {
    id: `${path}#${ordinal}`,
    path,
    ordinal,
    title: `T ${path}`,
    headingPath: ["Top", `S${ordinal}`],
    text: `text of ${path} chunk ${ordinal}`,
    lineStart: ordinal * 10 + 1,
    lineEnd: ordinal * 10 + 9,
    version,
    tokens: 7,
    meta: { tags: ["a"], n: ordinal },
    ...extra,
  };
}

function upsert(path: string, n: number, version = "v1", hash?: string) {
  return { doc: doc(path, n, version, hash), chunks: Array.from({ length: n }, (_, i) => chunk(path, i, version)) };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "ragtune-store-"));
}

test("round trip: documents and chunks come back exactly, ordered by path then ordinal", () => {
  const store = openStore(":memory:");
  assert.equal(store.generation(), 0);
  store.applyIngest({ upserts: [upsert("b/two.md", 3, "v2"), upsert("a/one.md", 2)], removals: [], meta: { chunking_hash: "abc" } });

  const docs = store.documents();
  assert.deepEqual(docs.map((d) => d.path), ["a/one.md", "b/two.md"]);
  assert.deepEqual(docs[0], doc("a/one.md", 2));

  const all = store.chunks();
  assert.deepEqual(all.map((c) => c.id), ["a/one.md#0", "a/one.md#1", "b/two.md#0", "b/two.md#1", "b/two.md#2"]);
  assert.deepEqual(all[4], chunk("b/two.md", 2, "v2"));
  assert.deepEqual(store.chunk("a/one.md#1"), chunk("a/one.md", 1));
  assert.equal(store.chunk("nope#0"), undefined);
  assert.equal(store.getMeta("chunking_hash"), "abc");
  assert.equal(store.getMeta("missing"), undefined);
  assert.equal(store.getMeta("schema_version"), String(SCHEMA_VERSION));
  store.close();
  store.close(); // idempotent
});

test("stored chunk count is what was inserted, not what the caller claimed", () => {
  const store = openStore(":memory:");
  const u = upsert("a.md", 2);
  store.applyIngest({ upserts: [{ doc: { ...u.doc, chunks: 99 }, chunks: u.chunks }], removals: [] });
  assert.equal(store.documents()[0].chunks, 2);
  store.close();
});

test("filters: versions, pathPrefix, both, and an empty version list", () => {
  const store = openStore(":memory:");
  store.applyIngest({
    upserts: [upsert("docs/v1/a.md", 2, "v1"), upsert("docs/v2/a.md", 2, "v2"), upsert("docs/v2/b.md", 1, "v2"), upsert("notes/x.md", 1, "")],
    removals: [],
  });
  const ids = (f: Parameters<typeof store.chunks>[0]) => store.chunks(f).map((c) => c.id);
  assert.deepEqual(ids({ versions: ["v2"] }), ["docs/v2/a.md#0", "docs/v2/a.md#1", "docs/v2/b.md#0"]);
  assert.deepEqual(ids({ versions: ["v1", ""] }), ["docs/v1/a.md#0", "docs/v1/a.md#1", "notes/x.md#0"]);
  assert.deepEqual(ids({ pathPrefix: "docs/" }).length, 5);
  assert.deepEqual(ids({ pathPrefix: "docs/v2/b" }), ["docs/v2/b.md#0"]);
  assert.deepEqual(ids({ pathPrefix: "docs/v2/", versions: ["v1"] }), []);
  assert.deepEqual(ids({ pathPrefix: "docs/v2/", versions: ["v2"] }).length, 3);
  assert.deepEqual(ids({ versions: [] }), []);
  assert.deepEqual(ids({}).length, 6);
  // Prefix matching is literal: no LIKE wildcards, case-sensitive.
  assert.deepEqual(ids({ pathPrefix: "docs/v_" }), []);
  assert.deepEqual(ids({ pathPrefix: "DOCS/" }), []);
  store.close();
});

test("upsert replaces a document's chunks; removals cascade; generation bumps per batch", () => {
  const store = openStore(":memory:");
  store.applyIngest({ upserts: [upsert("a.md", 3), upsert("b.md", 2)], removals: [] });
  assert.equal(store.generation(), 1);
  store.applyIngest({ upserts: [upsert("a.md", 1, "v1", "new-hash")], removals: [] });
  assert.equal(store.generation(), 2);
  assert.deepEqual(store.chunks({ pathPrefix: "a.md" }).map((c) => c.id), ["a.md#0"]);
  assert.equal(store.documents().find((d) => d.path === "a.md")!.hash, "new-hash");
  assert.equal(store.chunk("a.md#2"), undefined);

  store.applyIngest({ upserts: [], removals: ["b.md", "not-there.md"] });
  assert.equal(store.generation(), 3);
  assert.deepEqual(store.documents().map((d) => d.path), ["a.md"]);
  assert.deepEqual(store.chunks().map((c) => c.id), ["a.md#0"]);
  store.close();
});

test("a failing batch changes nothing: old documents, chunks, meta and generation stay", () => {
  const store = openStore(":memory:");
  store.applyIngest({ upserts: [upsert("a.md", 2), upsert("b.md", 2)], removals: [], meta: { chunking_hash: "one" } });
  const before = { docs: store.documents(), chunks: store.chunks(), gen: store.generation() };

  // Duplicate chunk id half-way through the batch: the earlier deletes/inserts must roll back.
  const dup = upsert("c.md", 2);
  dup.chunks[1] = { ...dup.chunks[1], id: dup.chunks[0].id };
  assert.throws(
    () => store.applyIngest({ upserts: [upsert("a.md", 1, "v1", "changed"), dup], removals: ["b.md"], meta: { chunking_hash: "two" } }),
    /UNIQUE/,
  );
  // A chunk filed under the wrong document is refused too.
  const wrong = upsert("d.md", 1);
  wrong.chunks[0] = { ...wrong.chunks[0], path: "a.md" };
  assert.throws(() => store.applyIngest({ upserts: [wrong], removals: [] }), /belongs to document d\.md/);

  assert.deepEqual(store.documents(), before.docs);
  assert.deepEqual(store.chunks(), before.chunks);
  assert.equal(store.generation(), before.gen);
  assert.equal(store.getMeta("chunking_hash"), "one");
  store.close();
});

test("file store: creates its folder, uses WAL, persists across reopen", () => {
  const dir = tempDir();
  try {
    const file = join(dir, "nested", ".ragtune", "index.db");
    const store = openStore(file);
    store.applyIngest({ upserts: [upsert("a.md", 2)], removals: [], meta: { chunking_hash: "x" } });
    store.close();
    assert.ok(existsSync(file));

    const raw = new Database(file, { readonly: true });
    assert.equal(raw.pragma("journal_mode", { simple: true }), "wal");
    raw.close();

    const again = openStore(file);
    assert.equal(again.generation(), 1);
    assert.deepEqual(again.chunks().map((c) => c.id), ["a.md#0", "a.md#1"]);
    assert.equal(again.getMeta("chunking_hash"), "x");
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("refuses files that are not a ragtune index, or a newer one, naming the file", () => {
  const dir = tempDir();
  try {
    const text = join(dir, "notes.db");
    writeFileSync(text, "this is not a database at all, just some text that is long enough to not be a header".repeat(20));
    assert.throws(() => openStore(text), (e: Error) => e.message.includes(text) && /not a ragtune index/.test(e.message));

    const foreign = join(dir, "foreign.db");
    const f = new Database(foreign);
    f.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
    f.close();
    assert.throws(() => openStore(foreign), (e: Error) => e.message.includes(foreign) && /not a ragtune index/.test(e.message));
    // And it was not converted to WAL behind the user's back.
    const check = new Database(foreign, { readonly: true });
    assert.equal(check.pragma("journal_mode", { simple: true }), "delete");
    check.close();

    const newer = join(dir, "newer.db");
    openStore(newer).close();
    const n = new Database(newer);
    n.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    n.close();
    assert.throws(() => openStore(newer), (e: Error) => e.message.includes(newer) && /newer ragtune/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Speed is measured by the benchmarks (bench/scale.ts, bench/lexical-tuning.ts), not asserted here.
test("bulk insert of 100k chunks in one transaction, replaced in one more, and read back", () => {
  const dir = tempDir();
  try {
    const store = openStore(join(dir, "index.db"));
    const upserts = Array.from({ length: 2000 }, (_, d) => ({
      doc: doc(`docs/file-${String(d).padStart(4, "0")}.md`, 50),
      chunks: Array.from({ length: 50 }, (_, i) =>
        chunk(`docs/file-${String(d).padStart(4, "0")}.md`, i, "v1", { text: `Chunk ${i} of file ${d}. `.repeat(20) }),
      ),
    }));
    const generation = store.generation();
    store.applyIngest({ upserts, removals: [] });
    assert.equal(store.chunks().length, 100_000);
    assert.equal(store.generation(), generation + 1, "one batch, one generation");
    // Replacing all of them (delete + insert) is the same single transaction.
    store.applyIngest({ upserts, removals: [] });
    assert.equal(store.chunks().length, 100_000, "replaced, not duplicated");
    assert.equal(store.generation(), generation + 2);
    assert.equal(store.chunks({ pathPrefix: "docs/file-001" }).length, 50 * 10);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
