/**
 * The one way callers get a project's vector store: the SQLite vector table of the index file, or,
 * when the project's store is the Postgres store, the vectors in that database (over the store's
 * shared connection). Keyed on the opened store rather than `config.store`, because a project
 * over a run's pinned copy (`withIndex`) reads a SQLite file even when its config names Postgres.
 */
import type { RagtuneConfig } from "../config/index.ts";
import type { Store } from "./index.ts";
import type { PostgresStore } from "./postgres/sync.ts";
import { openPgVectorFacade, type PgVectorFacade, type PgVectorFacadeOptions } from "./postgres/vectors-sync.ts";
import { isSearchable, openVectorStore, type SearchableVectorStore, type VectorStore } from "./vectors.ts";

export interface VectorStoreOwner {
  store: Store;
  /** The SQLite index file (used when the store is not Postgres). */
  indexFile: string;
  config: Pick<RagtuneConfig, "store">;
}

/** `store.vectors` of a Postgres config, defaults applied (undefined for SQLite). */
export function postgresVectorSettings(config: Pick<RagtuneConfig, "store">): { search: "auto" | "server" | "memory"; pgvector: "auto" | "off"; efSearch: number } | undefined {
  const s = config.store;
  if (s.kind !== "postgres") return undefined;
  return { search: s.vectors?.search ?? "auto", pgvector: s.vectors?.pgvector ?? "auto", efSearch: s.vectors?.efSearch ?? 40 };
}

/**
 * The store to answer dense queries itself, or undefined to load the vectors into memory.
 * `store.vectors.search: auto` (default) asks the server only when it has pgvector: without it the
 * server's search is exact over a matrix its worker holds in this process anyway, measured slower
 * than the same search here (bench/pg-dense-search.ts, docs/store-vectors.md).
 */
export function serverSearchOf(owner: VectorStoreOwner, vectors: VectorStore): SearchableVectorStore | undefined {
  if (!isSearchable(vectors)) return undefined;
  const want = postgresVectorSettings(owner.config)?.search ?? "auto";
  if (want === "memory") return undefined;
  if (want === "auto" && (vectors as Partial<PgVectorFacade>).mode !== "pgvector") return undefined;
  return vectors;
}

export function isPostgresStore(store: Store): store is PostgresStore {
  return (store as Partial<PostgresStore>).kind === "postgres" && (store as Partial<PostgresStore>).connection !== undefined;
}

/** Close it when done (the Postgres one leaves the shared connection to the store). */
export function openVectorStoreFor(owner: VectorStoreOwner, options: Pick<PgVectorFacadeOptions, "notice"> = {}): VectorStore {
  if (!isPostgresStore(owner.store)) return openVectorStore(owner.indexFile);
  const settings = postgresVectorSettings(owner.config);
  return openPgVectorFacade(owner.store.connection, {
    ...(settings ? { noPgvector: settings.pgvector === "off", efSearch: settings.efSearch } : {}),
    ...options,
  });
}
