/**
 * The Postgres service "vectors" (host.ts): the async vector store of vectors.ts in the process's
 * Postgres worker, addressed as `vectors.<method>` by the synchronous facade (vectors-sync.ts).
 *
 * The vector store is opened on first need, not when the service is: a snapshot of a lexical
 * project asks for `dump` and must not create vector tables (or try `CREATE EXTENSION vector`) on
 * a database that never had any. Options (`noPgvector`, `efSearch`, `hnsw`) come from `__open` and
 * from `describe`, which re-opens the store when they changed.
 *
 * The worker does not print: the notice that pgvector is missing is returned by `describe`, and
 * the main thread shows it once (vectors-sync.ts) where the CLI and the server write their notices.
 */
import type { ChunkFilter } from "../index.ts";
import type { VectorRow } from "../vectors.ts";
import type { SqlDatabase } from "./executor.ts";
import { openPgVectorStore, type PgVectorStore, type PgVectorStoreOptions } from "./vectors.ts";
import { bytesOf, parseVectorText } from "./vectors-sql.ts";

/** What the facade passes when it opens the service (plain data: it crosses the thread boundary). */
export interface VectorServiceOptions {
  noPgvector?: boolean;
  efSearch?: number;
  hnsw?: { m?: number; efConstruction?: number };
}

export interface VectorServiceDescription {
  mode: PgVectorStore["mode"];
  server: string;
  /** The one-line notice of the plain mode, for the main thread to show (undefined with pgvector). */
  notice?: string;
}

export async function openService(db: SqlDatabase, options: VectorServiceOptions & { server: string }) {
  let opts: VectorServiceOptions = pick(options);
  let notice: string | undefined;
  let opened: Promise<PgVectorStore> | undefined;
  const store = (): Promise<PgVectorStore> => {
    if (!opened) {
      const o: PgVectorStoreOptions = { ...opts, server: options.server, notice: (line) => (notice = line) };
      opened = openPgVectorStore(db, o);
      // a failed open (no chunks table yet, server down) is retried by the next call
      opened.catch(() => (opened = undefined));
    }
    return opened;
  };
  const exists = async () => (await db.query<{ ok: boolean }>("SELECT to_regclass('chunk_vectors') IS NOT NULL AS ok")).rows[0]?.ok === true;

  return {
    /** Open the vector store (with these options when it is not open yet) and say in which mode. */
    async describe(o?: VectorServiceOptions): Promise<VectorServiceDescription> {
      // Options differ from those the store was opened with (a snapshot's `dump` opened it first,
      // with none): open again with these; the schema statements are idempotent, the mode follows the table.
      if (o && JSON.stringify(pick(o)) !== JSON.stringify(opts)) {
        opts = pick(o);
        opened = undefined;
      }
      const s = await store();
      return { mode: s.mode, server: options.server, ...(notice ? { notice } : {}) };
    },
    pending: async (embedderId: string) => (await store()).pending(embedderId),
    pendingCount: async (embedderId: string) => (await store()).pendingCount(embedderId),
    put: async (rows: VectorRow[]) => (await store()).put(rows),
    load: async (embedderId: string) => (await store()).load(embedderId),
    chunkCount: async () => (await store()).chunkCount(),
    summary: async () => (await store()).summary(),
    search: async (embedderId: string, query: Float32Array, k: number, filter?: ChunkFilter) => (await store()).search(embedderId, query, k, filter),
    indexes: async () => (await store()).indexes(),
    /**
     * Every stored vector with its text hash, ordered by chunk id (snapshots and checksums); [] when
     * the database has no vector table. Read in one snapshot.
     */
    async dump(): Promise<VectorRow[]> {
      if (!(await exists())) return [];
      const mode = (await store()).mode;
      return db.transaction(
        async (tx) => {
          const rows = (
            await tx.query<{ chunk_id: string; embedder: string; text_hash: string; dims: number; embedding: unknown }>(
              `SELECT chunk_id, embedder, text_hash, dims, embedding FROM chunk_vectors ORDER BY chunk_id COLLATE "C"`,
            )
          ).rows;
          return rows.map((r) => {
            const vector = new Float32Array(r.dims);
            if (mode === "pgvector") parseVectorText(String(r.embedding), vector, 0);
            else vector.set(new Float32Array(Uint8Array.from(bytesOf(r.embedding)).buffer));
            return { chunkId: r.chunk_id, embedder: r.embedder, textHash: r.text_hash, vector };
          });
        },
        { isolation: "repeatable read", readOnly: true },
      );
    },
  };
}

function pick(o: VectorServiceOptions): VectorServiceOptions {
  return {
    ...(o.noPgvector !== undefined ? { noPgvector: o.noPgvector } : {}),
    ...(o.efSearch !== undefined ? { efSearch: o.efSearch } : {}),
    ...(o.hnsw !== undefined ? { hnsw: o.hnsw } : {}),
  };
}

export type VectorService = Awaited<ReturnType<typeof openService>>;
