/**
 * Snapshots of the Postgres store are SQLite files, so everything built on SQLite snapshots works
 * unchanged: a run's pinned copy (evaluate/snapshot.ts) and index versions / rollback
 * (store/versions.ts). `snapshotTo` reads one REPEATABLE READ snapshot of Postgres and writes it
 * into a new SQLite index; `restoreRetrievalFrom` reads a SQLite index and replaces the Postgres
 * retrieval state with it in one transaction. Vectors are not in these copies (they are not in
 * the Postgres store either): a dense run embeds into its copy.
 *
 * Vectors ride along (`withVectorSnapshots`, applied where the store is opened): a snapshot gets
 * the database's chunk vectors in its `chunk_vectors` table, as SQLite's `VACUUM INTO` copies
 * them, and a restore puts the snapshot's vectors back (those whose chunk text matches). The
 * vectors are read in their own snapshot just after the store's (no vector write can fall between
 * on a quiet index; a vector of a chunk or text not in the copy is dropped by the copy's rules).
 */
import { existsSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import type { Chunk } from "../../ingest/index.ts";
import type { StoredDocument } from "../index.ts";
import { openStore } from "../sqlite.ts";
import { OWN_META } from "./store.ts";
import type { PostgresConnection } from "./connection.ts";
import type { PostgresStore } from "./sync.ts";
import { openVectorStore, type VectorRow } from "../vectors.ts";

/** The store's methods in the worker (connection.ts, service "store"). */
export interface StoreCaller {
  call<T = unknown>(method: string, args?: unknown[]): T;
}

type State = { upserts: { doc: StoredDocument; chunks: Chunk[] }[]; meta: Record<string, string> };

/** The index's own meta of a SQLite index file (store-owned keys left out). */
export function readSqliteMeta(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[];
    return Object.fromEntries(rows.filter((r) => !OWN_META.has(r.key)).map((r) => [r.key, r.value]));
  } finally {
    db.close();
  }
}

/** Documents and chunks of a SQLite index, grouped for applyIngest. */
export function readSqliteState(file: string): State {
  const store = openStore(file);
  try {
    const byPath = new Map<string, Chunk[]>();
    for (const c of store.chunks()) {
      const list = byPath.get(c.path);
      if (list) list.push(c);
      else byPath.set(c.path, [c]);
    }
    return { upserts: store.documents().map((doc) => ({ doc, chunks: byPath.get(doc.path) ?? [] })), meta: readSqliteMeta(file) };
  } finally {
    store.close();
  }
}

export function snapshotToSqlite(bridge: StoreCaller, file: string): void {
  if (existsSync(file)) throw new Error(`snapshot target ${file} already exists`);
  const state = bridge.call<State>("dump");
  try {
    const copy = openStore(file);
    try {
      copy.applyIngest({ upserts: state.upserts, removals: [], meta: state.meta });
    } finally {
      copy.close();
    }
  } catch (err) {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    throw err;
  }
}

export function restoreFromSqlite(bridge: StoreCaller, file: string): void {
  if (!existsSync(file)) throw new Error(`index snapshot ${file} does not exist`);
  bridge.call("replaceRetrieval", [readSqliteState(file)]);
}

/** The vectors of a SQLite index (none when it has no vector table), ordered by chunk id (BINARY). */
export function readSqliteVectors(file: string): VectorRow[] {
  const db = new Database(file, { readonly: true });
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunk_vectors'").get()) return [];
    const rows = db.prepare("SELECT chunk_id, embedder, text_hash, vector FROM chunk_vectors ORDER BY chunk_id").all() as {
      chunk_id: string;
      embedder: string;
      text_hash: string;
      vector: Buffer;
    }[];
    // a copy: the BLOB's buffer may be unaligned for a Float32Array view
    return rows.map((r) => ({ chunkId: r.chunk_id, embedder: r.embedder, textHash: r.text_hash, vector: new Float32Array(Uint8Array.from(r.vector).buffer) }));
  } finally {
    db.close();
  }
}

/** Copy the database's vectors into a SQLite snapshot just written by `snapshotToSqlite`. */
export function snapshotVectorsToSqlite(connection: PostgresConnection, file: string): number {
  const rows = connection.call<VectorRow[]>("vectors.dump");
  if (!rows.length) return 0;
  const vectors = openVectorStore(file);
  try {
    return vectors.put(rows);
  } finally {
    vectors.close();
  }
}

/** Put a SQLite snapshot's vectors back into the database after `restoreFromSqlite`. */
export function restoreVectorsFromSqlite(connection: PostgresConnection, file: string): number {
  const rows = readSqliteVectors(file);
  return rows.length ? connection.call<number>("vectors.put", [rows]) : 0;
}

/** The Postgres store with snapshots and restores that carry the vectors (see the header). */
export function withVectorSnapshots(store: PostgresStore): PostgresStore {
  const snapshotTo = store.snapshotTo.bind(store);
  const restoreRetrievalFrom = store.restoreRetrievalFrom.bind(store);
  return Object.assign(store, {
    snapshotTo(file: string) {
      snapshotTo(file);
      try {
        snapshotVectorsToSqlite(store.connection, file);
      } catch (err) {
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
        throw err;
      }
    },
    restoreRetrievalFrom(file: string) {
      restoreRetrievalFrom(file);
      restoreVectorsFromSqlite(store.connection, file);
    },
  });
}
