/**
 * The VectorStore contract (src/store/vectors.ts) as one list of cases, run on the SQLite vector
 * table, on the Postgres store's vectors on a real PostgreSQL 15 (no pgvector there: the plain
 * table, and its notice asserted), and on PGlite with pgvector (the async store the worker runs;
 * the cases await every call, so they fit both). Plus Postgres snapshots and migrate carrying vectors.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { openStore } from "../src/store/index.ts";
import { openVectorStore, type VectorRow } from "../src/store/vectors.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { openPgVectorFacade, resetVectorNotices } from "../src/store/postgres/vectors-sync.ts";
import { openPgVectorStore } from "../src/store/postgres/vectors.ts";
import { AsyncPostgresStore } from "../src/store/postgres/store.ts";
import { pgliteDatabase } from "../src/store/postgres/executor.ts";
import { readSqliteVectors, withVectorSnapshots } from "../src/store/postgres/snapshots.ts";
import { migrateSqliteToPostgres } from "../src/store/migrate.ts";
import type { IngestBatch } from "../src/store/index.ts";
import { chunk, doc, upsert } from "./helpers/store-fixtures.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

type MaybeAsync<T> = T | Promise<T>;
/** The VectorStore methods, sync or async, plus search where the store has it. */
interface AnyVectors {
  pending(e: string): MaybeAsync<{ id: string; text: string; textHash: string }[]>;
  pendingCount(e: string): MaybeAsync<number>;
  put(rows: VectorRow[]): MaybeAsync<number>;
  load(e: string): MaybeAsync<{ ids: string[]; matrix: Float32Array; dims: number }>;
  chunkCount(): MaybeAsync<number>;
  summary(): MaybeAsync<{ embedder: string; dims: number; vectors: number }[]>;
  search?(e: string, q: Float32Array, k: number, filter?: { versions?: string[] }): MaybeAsync<{ chunkId: string; score: number }[]>;
}
interface Backend {
  ingest(batch: Pick<IngestBatch, "upserts" | "removals">): Promise<void>;
  vectors: AnyVectors;
  close(): Promise<void>;
}

/** A unit vector per chunk id, deterministic (different ids → different directions). */
function unit(id: string, dims = 8): Float32Array {
  const v = new Float32Array(dims);
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 13), 1540483477);
    v[i] = ((h >>> 0) / 2 ** 32) * 2 - 1;
  }
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

async function embedAll(v: AnyVectors, embedder: string, dims = 8): Promise<number> {
  const pending = await v.pending(embedder);
  return v.put(pending.map((p) => ({ chunkId: p.id, embedder, textHash: p.textHash, vector: unit(p.id + embedder, dims) })));
}

const cases: [string, (b: Backend) => Promise<void>][] = [
  [
    "pending in path/ordinal order; put; load returns exactly the stored floats; summary; nothing pending after",
    async ({ ingest, vectors: v }) => {
      await ingest({ upserts: [upsert("b.md", 2), upsert("a.md", 2)], removals: [] });
      assert.equal(await v.pendingCount("e1"), 4);
      const pending = await v.pending("e1");
      assert.deepEqual(pending.map((p) => p.id), ["a.md#0", "a.md#1", "b.md#0", "b.md#1"]);
      assert.match(pending[0].text, /text of a\.md chunk 0/);
      assert.equal(await embedAll(v, "e1"), 4);
      assert.equal(await v.pendingCount("e1"), 0);
      const loaded = await v.load("e1");
      assert.deepEqual(loaded.ids, ["a.md#0", "a.md#1", "b.md#0", "b.md#1"]);
      assert.equal(loaded.dims, 8);
      loaded.ids.forEach((id, r) => assert.deepEqual(loaded.matrix.subarray(r * 8, r * 8 + 8), unit(id + "e1"), id));
      assert.deepEqual(await v.summary(), [{ embedder: "e1", dims: 8, vectors: 4 }]);
      assert.equal(await v.chunkCount(), 4);
    },
  ],
  [
    "re-ingesting a changed document leaves only its changed chunk pending; unchanged text keeps its vector",
    async ({ ingest, vectors: v }) => {
      await ingest({ upserts: [upsert("a.md", 3), upsert("b.md", 1)], removals: [] });
      await embedAll(v, "e1");
      const before = await v.load("e1");
      const changed = [chunk("a.md", 0), { ...chunk("a.md", 1), text: "entirely new words" }, chunk("a.md", 2)];
      await ingest({ upserts: [{ doc: doc("a.md", 3, "v1", "h2"), chunks: changed }], removals: [] });
      assert.deepEqual((await v.pending("e1")).map((p) => p.id), ["a.md#1"]);
      assert.equal(await v.pendingCount("e1"), 1);
      const kept = await v.load("e1");
      assert.deepEqual(kept.ids, ["a.md#0", "a.md#2", "b.md#0"]);
      assert.deepEqual(kept.matrix.subarray(0, 8), before.matrix.subarray(0, 8), "a.md#0's vector survived the re-ingest");
    },
  ],
  [
    "a removed document takes its vectors; a put for a deleted chunk or for stale text stores nothing",
    async ({ ingest, vectors: v }) => {
      await ingest({ upserts: [upsert("a.md", 1), upsert("b.md", 2)], removals: [] });
      const pending = await v.pending("e1");
      await ingest({ upserts: [], removals: ["b.md"] });
      const rows = pending.map((p) => ({ chunkId: p.id, embedder: "e1", textHash: p.textHash, vector: unit(p.id) }));
      assert.equal(await v.put(rows), 1, "only a.md#0 is stored");
      assert.deepEqual((await v.load("e1")).ids, ["a.md#0"]);
      assert.deepEqual(await v.summary(), [{ embedder: "e1", dims: 8, vectors: 1 }]);
      await assert.rejects(async () => v.put([{ chunkId: "a.md#0", embedder: "e1", textHash: "x", vector: new Float32Array([1, NaN]) }]), /non-finite value/);
    },
  ],
  [
    "switching embedder makes every chunk pending again; put replaces the old vector",
    async ({ ingest, vectors: v }) => {
      await ingest({ upserts: [upsert("a.md", 2)], removals: [] });
      await embedAll(v, "e1");
      assert.equal(await v.pendingCount("e2"), 2);
      assert.equal(await embedAll(v, "e2", 4), 2);
      assert.deepEqual(await v.summary(), [{ embedder: "e2", dims: 4, vectors: 2 }]);
      assert.equal((await v.load("e1")).ids.length, 0);
      assert.equal(await v.pendingCount("e1"), 2);
    },
  ],
  [
    "search (where the store answers it): best first, own vector on top with cosine 1, filters respected",
    async ({ ingest, vectors: v }) => {
      if (!v.search) return;
      await ingest({ upserts: [upsert("a.md", 3, "v1"), upsert("b.md", 3, "v2")], removals: [] });
      await embedAll(v, "e1");
      const hits = await v.search("e1", unit("b.md#1e1"), 4);
      assert.equal(hits.length, 4);
      assert.equal(hits[0].chunkId, "b.md#1");
      assert.ok(Math.abs(hits[0].score - 1) < 1e-5, String(hits[0].score));
      for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score - 1e-6);
      const filtered = await v.search("e1", unit("b.md#1e1"), 10, { versions: ["v1"] });
      assert.deepEqual(filtered.map((h) => h.chunkId).sort(), ["a.md#0", "a.md#1", "a.md#2"]);
    },
  ],
];

describe("vector store contract on SQLite", () => {
  for (const [name, run] of cases) {
    test(name, async () => {
      const dir = mkdtempSync(join(tmpdir(), "ragtune-vc-"));
      const store = openStore(join(dir, "index.db"));
      const vectors = openVectorStore(join(dir, "index.db"));
      try {
        await run({ ingest: async (b) => store.applyIngest(b), vectors, close: async () => undefined });
      } finally {
        vectors.close();
        store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("vector store contract on PGlite with pgvector (async store)", () => {
  for (const [name, run] of cases) {
    test(name, async () => {
      const db = pgliteDatabase(new PGlite({ extensions: { vector } }));
      const store = await AsyncPostgresStore.open({ ...db, close: async () => undefined });
      const notices: string[] = [];
      const vectors = await openPgVectorStore(db, { server: "pglite", notice: (l) => notices.push(l) });
      try {
        assert.equal(vectors.mode, "pgvector");
        await run({ ingest: async (b) => void (await store.applyIngest({ ...b, perDocumentErrors: false })), vectors, close: async () => undefined });
        assert.deepEqual(notices, []);
      } finally {
        await db.close();
      }
    });
  }
});

const skip = postgresSkipReason();
let server: PostgresServer | undefined;
let dbCount = 0;

describe("vector store contract on PostgreSQL 15 (plain table: no pgvector here)", { skip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });
  after(() => server?.stop());

  for (const [name, run] of cases) {
    test(name, async () => {
      const store = openPostgresStore(server!.createDatabase(`vc_${dbCount++}`));
      const notices: string[] = [];
      resetVectorNotices();
      const vectors = openPgVectorFacade(store.connection, { notice: (l) => notices.push(l) });
      try {
        assert.equal(vectors.mode, "plain");
        assert.equal(notices.length, 1);
        assert.match(notices[0], /^pgvector not installed on 127\.0\.0\.1:\d+\/vc_\d+: vectors kept in a plain table, exact search$/);
        await run({ ingest: async (b) => store.applyIngest(b), vectors, close: async () => undefined });
      } finally {
        vectors.close();
        store.close();
      }
    });
  }

  test("the notice is shown once per process and server, not on every open", () => {
    const url = server!.createDatabase(`vc_${dbCount++}`);
    const store = openPostgresStore(url);
    const notices: string[] = [];
    resetVectorNotices();
    try {
      for (let i = 0; i < 3; i++) openPgVectorFacade(store.connection, { notice: (l) => notices.push(l) }).close();
      assert.equal(notices.length, 1);
    } finally {
      store.close();
    }
  });

  test("a snapshot carries the vectors (as VACUUM INTO does on SQLite), a restore puts them back; migrate copies them verified", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragtune-vsnap-"));
    const store = withVectorSnapshots(openPostgresStore(server!.createDatabase(`vc_${dbCount++}`)));
    try {
      store.applyIngest({ upserts: [upsert("a.md", 2), upsert("b.md", 1)], removals: [] });
      const v = openPgVectorFacade(store.connection, { notice: () => undefined });
      const pending = v.pending("e1");
      v.put(pending.map((p) => ({ chunkId: p.id, embedder: "e1", textHash: p.textHash, vector: unit(p.id) })));
      const snap = join(dir, "snap.db");
      store.snapshotTo(snap);
      const copied = readSqliteVectors(snap);
      assert.deepEqual(copied.map((r) => r.chunkId), ["a.md#0", "a.md#1", "b.md#0"]);
      assert.deepEqual(copied[1].vector, unit("a.md#1"));
      // the copy's own vector store sees them as current (text hashes agree across backends)
      const lite = openVectorStore(snap);
      assert.equal(lite.pendingCount("e1"), 0);
      lite.close();

      // change the live index (a.md dropped, c.md added), then restore the snapshot: a.md's vectors are back
      store.applyIngest({ upserts: [upsert("c.md", 1)], removals: ["a.md"] });
      v.put(v.pending("e1").map((p) => ({ chunkId: p.id, embedder: "e1", textHash: p.textHash, vector: unit("other") })));
      store.restoreRetrievalFrom(snap);
      assert.equal(v.pendingCount("e1"), 0);
      const back = v.load("e1");
      assert.deepEqual(back.ids, ["a.md#0", "a.md#1", "b.md#0"]);
      assert.deepEqual(back.matrix.subarray(8, 16), unit("a.md#1"));
      v.close();

      // migrate: the SQLite snapshot into an empty database, vectors counted and checksummed
      const report = migrateSqliteToPostgres(snap, server!.createDatabase(`vc_${dbCount++}`));
      assert.equal(report.vectors?.source.vectors, 3);
      assert.equal(report.vectors?.target.checksum, report.vectors?.source.checksum);
      assert.equal(report.vectors?.target.mode, "plain");
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a lexical project's snapshot creates no vector tables on the database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragtune-vsnap-"));
    const url = server!.createDatabase(`vc_${dbCount++}`);
    const store = withVectorSnapshots(openPostgresStore(url));
    const raw = new pg.Client(url);
    await raw.connect();
    try {
      store.applyIngest({ upserts: [upsert("a.md", 1)], removals: [] });
      store.snapshotTo(join(dir, "s.db"));
      assert.deepEqual(readSqliteVectors(join(dir, "s.db")), []);
      const r = await raw.query("SELECT to_regclass('chunk_vectors') IS NULL AS none, to_regclass('chunk_vector_cache') IS NULL AS nocache");
      assert.deepEqual(r.rows[0], { none: true, nocache: true });
    } finally {
      await raw.end();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


test("serverSearchOf: auto asks the server only with pgvector; server/memory force it; SQLite never", async () => {
  const { serverSearchOf } = await import("../src/store/vectors-open.ts");
  const fake = (mode: "pgvector" | "plain") => ({ mode, search: () => [] }) as never;
  const owner = (search?: "auto" | "server" | "memory") =>
    ({ store: {} as never, indexFile: "", config: { store: { kind: "postgres", url: "postgres://x/y", ...(search ? { vectors: { search, pgvector: "auto", efSearch: 40 } } : {}) } } }) as never;
  assert.ok(serverSearchOf(owner(), fake("pgvector")), "default auto + pgvector → server");
  assert.equal(serverSearchOf(owner(), fake("plain")), undefined, "default auto + plain → memory");
  assert.ok(serverSearchOf(owner("server"), fake("plain")));
  assert.equal(serverSearchOf(owner("memory"), fake("pgvector")), undefined);
  assert.equal(serverSearchOf({ store: {} as never, indexFile: "", config: { store: { kind: "sqlite" } } }, { pending() {} } as never), undefined);
});

test("the vectors service (PGlite with pgvector): dump on a database without vector tables creates none; describe opens with its options and returns the notice", async () => {
  const { openService } = await import("../src/store/postgres/vectors-service.ts");
  const db = pgliteDatabase(new PGlite({ extensions: { vector } }));
  try {
    const store = await AsyncPostgresStore.open({ ...db, close: async () => undefined });
    await store.applyIngest({ upserts: [upsert("a.md", 1)], removals: [], perDocumentErrors: false });
    const svc = await openService(db, { server: "pglite-svc" });
    assert.deepEqual(await svc.dump(), []);
    assert.equal((await db.query<{ ok: boolean }>("SELECT to_regclass('chunk_vectors') IS NULL AS ok")).rows[0].ok, true, "no table made by dump");
    const d = await svc.describe({ noPgvector: true });
    assert.deepEqual(d, { mode: "plain", server: "pglite-svc", notice: "pgvector not installed on pglite-svc: vectors kept in a plain table, exact search" });
    const [p] = await svc.pending("e1");
    await svc.put([{ chunkId: p.id, embedder: "e1", textHash: p.textHash, vector: unit("x") }]);
    assert.deepEqual((await svc.dump()).map((r) => [r.chunkId, Array.from(r.vector)]), [["a.md#0", Array.from(unit("x"))]]);
  } finally {
    await db.close();
  }
});

test("ServerVectorIndex: passes k and the filter to the store, skips chunks not in its generation, ranks from 1, checks dims", async () => {
  const { ServerVectorIndex } = await import("../src/retrieve/dense-server.ts");
  const calls: unknown[] = [];
  const store = {
    summary: () => [{ embedder: "e1", dims: 8, vectors: 3 }, { embedder: "other", dims: 4, vectors: 9 }],
    search: (...args: unknown[]) => {
      calls.push(args);
      return [{ chunkId: "a.md#0", score: 0.9 }, { chunkId: "new.md#0", score: 0.8 }, { chunkId: "b.md#0", score: 0.7 }];
    },
  } as never;
  const byId = new Map([chunk("a.md", 0), chunk("b.md", 0)].map((c) => [c.id, c]));
  const idx = new ServerVectorIndex(store, "e1", byId);
  assert.deepEqual([idx.size, idx.dims], [3, 8]);
  const q = unit("q");
  const hits = idx.search(q, { k: 5, filter: { versions: ["v1"] } });
  assert.deepEqual(hits.map((h) => [h.chunk.id, h.score, h.rank]), [["a.md#0", 0.9, 1], ["b.md#0", 0.7, 2]]);
  assert.deepEqual(calls, [["e1", q, 5, { versions: ["v1"] }]]);
  assert.throws(() => idx.search(new Float32Array(4), { k: 5 }), /has 4 dimensions but the index has 8/);
});
