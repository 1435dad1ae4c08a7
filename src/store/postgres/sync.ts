/**
 * The Postgres store behind the synchronous `Store` contract: the async implementation (store.ts,
 * node `pg`) runs in a worker thread and each method is one blocking call over bridge.ts.
 * A SnapshotSource whose snapshots are SQLite files (snapshots.ts), so run pinning and index
 * versions work as on SQLite.
 */
import type { Chunk } from "../../ingest/index.ts";
import type { LexicalStatsSource, StoredLexicalRow } from "../../retrieve/lexical-cache.ts";
import type { ChunkFilter, IngestBatch, SnapshotSource, Store, StoredDocument } from "../index.ts";
import { PostgresConnection, type ConnectionOptions } from "./connection.ts";
import { isConnectionLoss } from "./errors.ts";
import type { WireIngestBatch } from "./store.ts";
import { restoreFromSqlite, snapshotToSqlite, withVectorSnapshots, type StoreCaller } from "./snapshots.ts";

export type PostgresStore = Store &
  LexicalStatsSource &
  SnapshotSource & {
    readonly kind: "postgres";
    /** The process's shared connection (connection.ts) other Postgres services of this project use too. */
    readonly connection: PostgresConnection;
  };

/** `postgres://user:secret@host/db` → `postgres://user@host/db`: URLs end up in error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "";
    return u.toString().replace(/:@/, "@");
  } catch {
    return "(an unparsable URL)";
  }
}

export function openPostgresStore(url: string, options: ConnectionOptions = {}): PostgresStore {
  const connection = PostgresConnection.acquire(url, options);
  let closed = false;
  let lastGeneration: number | undefined;
  const bridge: StoreCaller = {
    call: (method, args = []) => {
      if (closed) throw new Error(`the Postgres store at ${connection.server} is closed (call ${method})`);
      return connection.call(`store.${method}`, args);
    },
  };
  try {
    // Opens the index's tables (and checks the schema version) now, not on the first read.
    connection.openService("store");
  } catch (err) {
    connection.release();
    throw err;
  }
  // Snapshots carry the chunk vectors too, as SQLite's VACUUM INTO copies do (snapshots.ts).
  return withVectorSnapshots({
    kind: "postgres",
    connection,
    applyIngest(batch: IngestBatch) {
      const wire: WireIngestBatch = { upserts: batch.upserts, removals: batch.removals, meta: batch.meta, perDocumentErrors: !!batch.onDocumentError };
      const { failed } = bridge.call<{ failed: { path: string; message: string }[] }>("applyIngest", [wire]);
      // Reported after the commit (the callback cannot cross into the worker); each failed
      // document was rolled back alone, as with SQLite.
      for (const f of failed) batch.onDocumentError?.(f.path, new Error(f.message));
    },
    documents: () => bridge.call<StoredDocument[]>("documents"),
    chunks: (filter?: ChunkFilter) => bridge.call<Chunk[]>("chunks", [filter]),
    chunk: (id: string) => bridge.call<Chunk | undefined>("chunk", [id]),
    getMeta: (key: string) => bridge.call<string | undefined>("getMeta", [key]),
    generation: () => {
      if (closed) throw new Error(`the Postgres store at ${connection.server} is closed (call generation)`);
      const known = connection.knownGeneration();
      if (known !== undefined) return (lastGeneration = known);
      try {
        return (lastGeneration = bridge.call<number>("generation"));
      } catch (err) {
        // The server is unreachable: what this process last saw still names the index it holds
        // in memory, so serving goes on from it (the next reachable read catches up).
        if (lastGeneration !== undefined && isConnectionLoss(err)) return lastGeneration;
        throw err;
      }
    },
    lexicalRows: () => bridge.call<{ rows: StoredLexicalRow[]; terms: string[] }>("lexicalRows"),
    identity: () => bridge.call("identity"),
    snapshotTo: (file: string) => snapshotToSqlite(bridge, file),
    restoreRetrievalFrom: (file: string) => restoreFromSqlite(bridge, file),
    close: () => {
      if (closed) return;
      closed = true;
      connection.release();
    },
  });
}
