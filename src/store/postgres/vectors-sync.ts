/**
 * The synchronous `VectorStore` on Postgres: each method is one blocking call to the "vectors"
 * service (vectors-service.ts) over the process's shared Postgres connection (connection.ts), plus
 * `search`, which answers a dense query in the database (pgvector HNSW, or exact over the plain
 * table) so a replica need not hold every vector.
 *
 * Opening it opens the vector tables and, when the server has no pgvector, shows the notice
 * "pgvector not installed on <server>: vectors kept in a plain table, exact search" once per
 * process and server (stderr by default: stdout stays the command's output).
 */
import type { ChunkFilter } from "../index.ts";
import type { SearchableVectorStore, VectorSearchHit } from "../vectors.ts";
import type { PostgresConnection } from "./connection.ts";
import type { VectorServiceDescription, VectorServiceOptions } from "./vectors-service.ts";

export interface PgVectorFacadeOptions extends VectorServiceOptions {
  /** Where the plain-mode notice goes (default: a line on stderr). */
  notice?: (line: string) => void;
}

export type PgVectorFacade = SearchableVectorStore & {
  readonly mode: VectorServiceDescription["mode"];
  /** Names of the HNSW indexes (empty in plain mode). */
  indexes(): string[];
};

const noticed = new Set<string>();

/** For tests: show the notice again in this process. */
export function resetVectorNotices(): void {
  noticed.clear();
}

/**
 * The vector store on a Postgres connection the caller holds (the Postgres store's
 * `store.connection`); closing the facade does not release it.
 */
export function openPgVectorFacade(connection: PostgresConnection, options: PgVectorFacadeOptions = {}): PgVectorFacade {
  const { notice, ...serviceOptions } = options;
  // Replayed after a reconnect, so a new worker opens the store with the same options.
  connection.openService("vectors", { ...serviceOptions });
  const described = connection.call<VectorServiceDescription>("vectors.describe", [serviceOptions]);
  if (described.notice && !noticed.has(described.server)) {
    noticed.add(described.server);
    (notice ?? ((l: string) => process.stderr.write(l + "\n")))(described.notice);
  }
  let closed = false;
  const call = <T>(method: string, args: unknown[] = []): T => {
    if (closed) throw new Error(`the vector store on ${connection.server} is closed (call ${method})`);
    return connection.call<T>(`vectors.${method}`, args);
  };
  return {
    mode: described.mode,
    pending: (embedderId) => call("pending", [embedderId]),
    pendingCount: (embedderId) => call("pendingCount", [embedderId]),
    put: (rows) => (rows.length ? call("put", [rows]) : 0),
    load: (embedderId) => call("load", [embedderId]),
    chunkCount: () => call("chunkCount"),
    summary: () => call("summary"),
    search: (embedderId: string, query: Float32Array, k: number, filter?: ChunkFilter) => call<VectorSearchHit[]>("search", [embedderId, query, k, filter]),
    indexes: () => call("indexes"),
    close: () => {
      closed = true;
    },
  };
}
