/**
 * store/ — the durable index. One SQLite file per project (`.ragtune/index.db`).
 *
 * Every mutation of the index happens inside one transaction, so a crash mid-ingest leaves the
 * previous index readable (SQLite WAL + a single `applyIngest` transaction).
 */
import type { Chunk } from "../ingest/index.ts";

export interface StoredDocument {
  path: string;
  /** sha256 of the file bytes. */
  hash: string;
  version: string;
  title: string;
  bytes: number;
  chunks: number;
  ingestedAt: string;
}

/** A batch of changes from one ingest run, applied atomically. */
export interface IngestBatch {
  /** Documents (with their chunks) to insert or replace. */
  upserts: { doc: StoredDocument; chunks: Chunk[] }[];
  /** Paths of documents to delete with their chunks. */
  removals: string[];
  /** Key/value metadata to record (e.g. chunking config hash). */
  meta?: Record<string, string>;
  /**
   * When set, an upsert whose rows cannot be written is rolled back alone (its previous version,
   * if any, stays) and reported here, and the rest of the batch commits. Without it, any failure
   * aborts the whole batch.
   */
  onDocumentError?: (path: string, error: Error) => void;
}

export interface Store {
  /** Apply a batch atomically: either all of it is visible afterwards or none. */
  applyIngest(batch: IngestBatch): void;
  documents(): StoredDocument[];
  /** All chunks, optionally filtered. Ordered by path then ordinal. */
  chunks(filter?: ChunkFilter): Chunk[];
  chunk(id: string): Chunk | undefined;
  getMeta(key: string): string | undefined;
  /** Monotonic counter bumped by every applyIngest, used to invalidate in-memory indexes. */
  generation(): number;
  close(): void;
}

/**
 * What a run pins and records of the index it read: the generation counter at that moment and a
 * content fingerprint (documents' paths, hashes and version labels, the chunking settings, the
 * chunk count). Two indexes with the same fingerprint answer the same way.
 */
export interface IndexIdentity {
  generation: number;
  fingerprint: string;
  documents: number;
  chunks: number;
}

/** One document of an index as its identity sees it (a run's manifest, to name what changed). */
export interface ManifestEntry {
  path: string;
  hash: string;
  version: string;
}

/** A store that can report its identity and write a consistent copy of itself (the SQLite store). */
export interface SnapshotSource {
  /** Identity and document manifest, read in one transaction (consistent with each other). */
  identity(): { identity: IndexIdentity; manifest: ManifestEntry[]; chunkingHash: string | undefined };
  /**
   * Write a consistent copy of the whole index (chunks, term statistics, vectors, model registry)
   * to `file`, which must not exist. A concurrent ingest neither blocks it nor leaks into it.
   */
  snapshotTo(file: string): void;
  /**
   * Replace the retrieval state (documents, chunks, term statistics, vectors and the index's meta)
   * with that of a snapshot file, in one transaction, leaving everything else (the model
   * registry) as it is; the generation moves forward so every reader sees the change.
   */
  restoreRetrievalFrom(file: string): void;
}

export function hasSnapshots(store: object): store is SnapshotSource {
  return typeof (store as Partial<SnapshotSource>).snapshotTo === "function" && typeof (store as Partial<SnapshotSource>).identity === "function";
}

export interface ChunkFilter {
  /** Keep only chunks whose version label is one of these. */
  versions?: string[];
  /** Keep only chunks whose path starts with this prefix. */
  pathPrefix?: string;
  /** Keep only chunks whose path matches one of these globs (picomatch syntax). */
  paths?: string[];
  /** Keep only chunks whose document front matter `tags` include one of these. */
  tags?: string[];
}

export { openStore } from "./sqlite.ts";
export { chunkFilterPredicate, isEmptyFilter } from "./filter.ts";
