/**
 * `ragtune store migrate` for vectors: every chunk vector of the SQLite index (with its embedder
 * and text hash) into the Postgres database, in one transaction, then verified: the count and a
 * checksum over chunk id, embedder, text hash and the float32 bytes must be equal on both sides
 * (pgvector's text form keeps 9 significant digits, which round-trips every float32 exactly).
 */
import { createHash } from "node:crypto";
import type { VectorRow } from "../vectors.ts";
import type { PostgresStore } from "./sync.ts";
import { readSqliteVectors } from "./snapshots.ts";
import { openPgVectorFacade } from "./vectors-sync.ts";

export interface VectorChecksum {
  vectors: number;
  /** sha256 over (chunk id, embedder, text hash, little-endian float32 bytes), in chunk id order. */
  checksum: string;
}

export interface VectorMigration {
  source: VectorChecksum;
  target: VectorChecksum & { mode: "pgvector" | "plain" };
}

/** Rows must be in chunk id order (BINARY / COLLATE "C"), as readSqliteVectors and `vectors.dump` return them. */
export function vectorChecksum(rows: readonly VectorRow[]): VectorChecksum {
  const h = createHash("sha256");
  for (const r of rows) {
    h.update(JSON.stringify([r.chunkId, r.embedder, r.textHash]) + "\n");
    h.update(new Uint8Array(r.vector.buffer, r.vector.byteOffset, r.vector.byteLength));
  }
  return { vectors: rows.length, checksum: h.digest("hex") };
}

/**
 * Copy the vectors after the chunks were copied (a vector is stored only on its chunk, with the
 * chunk's current text). Throws when the copy differs. No vectors in the source: nothing is
 * created on the target (a lexical project gets no vector tables).
 */
export function migrateVectors(file: string, target: PostgresStore, options: { noPgvector?: boolean } = {}): VectorMigration | undefined {
  const rows = readSqliteVectors(file);
  if (!rows.length) return undefined;
  const vectors = openPgVectorFacade(target.connection, options);
  try {
    vectors.put(rows);
    const source = vectorChecksum(rows);
    const copied = vectorChecksum(target.connection.call<VectorRow[]>("vectors.dump"));
    for (const k of ["vectors", "checksum"] as const) {
      if (source[k] !== copied[k]) throw new Error(`the vector copy differs from the source (${k}: ${source[k]} vs ${copied[k]}); drop the target's tables before retrying`);
    }
    return { source, target: { ...copied, mode: vectors.mode } };
  } finally {
    vectors.close();
  }
}
