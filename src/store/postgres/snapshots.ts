/**
 * Snapshots of the Postgres store are SQLite files, so everything built on SQLite snapshots works
 * unchanged: a run's pinned copy (evaluate/snapshot.ts) and index versions / rollback
 * (store/versions.ts). `snapshotTo` reads one REPEATABLE READ snapshot of Postgres and writes it
 * into a new SQLite index; `restoreRetrievalFrom` reads a SQLite index and replaces the Postgres
 * retrieval state with it in one transaction. Vectors are not in these copies (they are not in
 * the Postgres store either): a dense run embeds into its copy.
 */
import { existsSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import type { Chunk } from "../../ingest/index.ts";
import type { StoredDocument } from "../index.ts";
import { openStore } from "../sqlite.ts";
import { OWN_META } from "./store.ts";

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
