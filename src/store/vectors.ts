/**
 * Chunk vectors in the project's SQLite file, next to the chunks they embed:
 *
 *   chunk_vectors(chunk_id PRIMARY KEY → chunks(id) ON DELETE CASCADE, embedder, dims, text_hash, vector BLOB)
 *
 * One vector per chunk, for one embedder id at a time: switching `models.embedder` makes every
 * chunk pending again and each `put` replaces the old vector. A chunk is *pending* for an
 * embedder when it has no vector, a vector from another embedder, or a vector of different text
 * (`text_hash` of the embedded input, checked in SQL). Deleting or changing a document deletes its
 * chunks, and the cascade their vectors, so a re-ingest leaves exactly the new and changed chunks
 * pending. Vectors are little-endian float32 BLOBs (4·dims bytes per chunk).
 *
 * The store re-ingests a changed document by deleting and re-inserting all its chunks, which
 * would cascade away the vectors of its unchanged sections too. A trigger parks each deleted
 * chunk's vector in `chunk_vector_cache` keyed by (embedder, text hash), and `pending` first
 * restores cached vectors whose text reappears (same section, possibly under a new id after an
 * insertion shifted the ordinals) and then empties the cache. So only genuinely new text is
 * embedded again — what an API embedder bills for.
 *
 * The vector store opens its own connection to the index file (WAL lets it read while the main
 * store writes); each `put` is one transaction, so an interrupted embedding run keeps what it
 * finished and a rerun resumes with the rest.
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter } from "./index.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chunk_vectors (
  chunk_id  TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  embedder  TEXT NOT NULL,
  dims      INTEGER NOT NULL,
  text_hash TEXT NOT NULL,
  vector    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunk_vectors_embedder ON chunk_vectors(embedder);
CREATE TABLE IF NOT EXISTS chunk_vector_cache (
  embedder  TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  dims      INTEGER NOT NULL,
  vector    BLOB NOT NULL,
  PRIMARY KEY (embedder, text_hash)
);
CREATE TRIGGER IF NOT EXISTS chunk_vectors_keep BEFORE DELETE ON chunks BEGIN
  INSERT OR REPLACE INTO chunk_vector_cache (embedder, text_hash, dims, vector)
    SELECT embedder, text_hash, dims, vector FROM chunk_vectors WHERE chunk_id = OLD.id;
END;
`;

/**
 * The text an embedder sees for a chunk: title and heading path (context a section body often
 * lacks: "Refunds" under "Billing") then the body. The title is skipped when it repeats the top heading.
 */
export function embeddingInput(chunk: Pick<Chunk, "title" | "headingPath" | "text">): string {
  const heads = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  const head = heads.filter((h) => h && h.trim()).join(" › ");
  return head ? `${head}\n${chunk.text}` : chunk.text;
}

/** Hash of the embedding input: a stored vector is current only while this matches. */
export function embeddingInputHash(input: string): string {
  return createHash("sha1").update(input).digest("base64url").slice(0, 16);
}

export interface PendingChunk {
  id: string;
  /** The embedding input (`embeddingInput(chunk)`). */
  text: string;
  /** `embeddingInputHash(text)`; pass it back to `put`. */
  textHash: string;
}

export interface VectorRow {
  chunkId: string;
  embedder: string;
  vector: Float32Array;
  /** Hash of the text that was embedded (from `pending`). */
  textHash: string;
}

export interface LoadedVectors {
  /** Chunk ids, row i of the matrix is the vector of ids[i]; ordered by path then ordinal. */
  ids: string[];
  /** ids.length × dims, row-major. */
  matrix: Float32Array;
  /** 0 when there are no vectors. */
  dims: number;
}

export interface VectorStoreSummary {
  embedder: string;
  dims: number;
  vectors: number;
}

export interface VectorStore {
  /**
   * Chunks that need a (new) vector from this embedder, ordered by path then ordinal. Restores
   * parked vectors of unchanged text first (see above), so this writes.
   */
  pending(embedderId: string): PendingChunk[];
  /** Number of pending chunks (same rule as `pending`, without reading the texts out). */
  pendingCount(embedderId: string): number;
  /**
   * Store vectors in one transaction (replacing any previous vector of the chunk). Rows for
   * chunks deleted meanwhile are skipped; returns the number stored.
   */
  put(rows: VectorRow[]): number;
  /** All current vectors of this embedder as one contiguous matrix. */
  load(embedderId: string): LoadedVectors;
  /** Chunks in the index. */
  chunkCount(): number;
  /** What is stored, per embedder id. */
  summary(): VectorStoreSummary[];
  close(): void;
}

export interface VectorSearchHit {
  chunkId: string;
  /** Cosine similarity (= dot product for the normalised vectors every embedder returns); higher is better. */
  score: number;
}

/**
 * A vector store that answers a dense query itself (the Postgres one: pgvector HNSW or exact over
 * its plain table), so the caller need not `load` every vector into memory.
 */
export interface SearchableVectorStore extends VectorStore {
  /** Best k chunks for a query vector of this embedder, best first; `filter` as everywhere (store/filter.ts). */
  search(embedderId: string, query: Float32Array, k: number, filter?: ChunkFilter): VectorSearchHit[];
}

export function isSearchable(v: VectorStore): v is SearchableVectorStore {
  return typeof (v as Partial<SearchableVectorStore>).search === "function";
}

function toBlob(v: Float32Array): Buffer {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("vector store: big-endian platforms are not supported");
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Open the vector table of an index file (created by `openStore`; run ingest first). The table is
 * created on first use. Pass a better-sqlite3 Database instead of a path to share a connection.
 */
export function openVectorStore(dbFile: string | Database.Database): VectorStore {
  let db: Database.Database;
  const own = typeof dbFile === "string";
  if (typeof dbFile === "string") {
    if (dbFile === ":memory:" || dbFile === "") {
      throw new Error("openVectorStore needs the index file path (an in-memory store is private to its connection; pass its Database instead)");
    }
    if (!existsSync(dbFile)) throw new Error(`no index at ${dbFile}: run \`ragtune ingest\` first`);
    try {
      db = new Database(dbFile, { fileMustExist: true });
    } catch (err) {
      throw new Error(`cannot open index ${dbFile}: ${(err as Error).message}`);
    }
  } else {
    db = dbFile;
  }
  const name = typeof dbFile === "string" ? dbFile : db.name;
  try {
    const hasChunks = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'").get();
    if (!hasChunks) throw new Error(`${name} is not a ragtune index (no chunks table); run \`ragtune ingest\` first`);
    if (own) {
      db.pragma("busy_timeout = 5000");
      db.pragma("synchronous = NORMAL");
    }
    db.pragma("foreign_keys = ON");
    db.exec(SCHEMA);
    db.function("ragtune_input_hash", { deterministic: true }, (title: unknown, headingPath: unknown, text: unknown) =>
      embeddingInputHash(embeddingInput({ title: String(title), headingPath: JSON.parse(String(headingPath)) as string[], text: String(text) })),
    );
  } catch (err) {
    if (own) db.close();
    throw err;
  }

  const STALE = `(v.chunk_id IS NULL OR v.embedder != @embedder OR v.text_hash != ragtune_input_hash(c.title, c.heading_path, c.text))`;
  const stmt = {
    pending: db.prepare(
      `SELECT c.id, c.title, c.heading_path, c.text FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
       WHERE ${STALE} ORDER BY c.path, c.ordinal`,
    ),
    restore: db.prepare(
      `INSERT INTO chunk_vectors (chunk_id, embedder, dims, text_hash, vector)
       SELECT c.id, k.embedder, k.dims, k.text_hash, k.vector FROM chunks c
         LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
         JOIN chunk_vector_cache k ON k.embedder = @embedder AND k.text_hash = ragtune_input_hash(c.title, c.heading_path, c.text)
       WHERE ${STALE}
       ON CONFLICT(chunk_id) DO UPDATE SET embedder = excluded.embedder, dims = excluded.dims,
         text_hash = excluded.text_hash, vector = excluded.vector`,
    ),
    cacheSize: db.prepare("SELECT count(*) AS n FROM chunk_vector_cache"),
    clearCache: db.prepare("DELETE FROM chunk_vector_cache"),
    pendingCount: db.prepare(`SELECT count(*) AS n FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id WHERE ${STALE}`),
    put: db.prepare(
      `INSERT INTO chunk_vectors (chunk_id, embedder, dims, text_hash, vector)
       SELECT @chunkId, @embedder, @dims, @textHash, @vector WHERE EXISTS (SELECT 1 FROM chunks WHERE id = @chunkId)
       ON CONFLICT(chunk_id) DO UPDATE SET embedder = excluded.embedder, dims = excluded.dims,
         text_hash = excluded.text_hash, vector = excluded.vector`,
    ),
    load: db.prepare(
      `SELECT v.chunk_id AS id, v.dims AS dims, v.vector AS vector FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id
       WHERE v.embedder = @embedder AND v.text_hash = ragtune_input_hash(c.title, c.heading_path, c.text)
       ORDER BY c.path, c.ordinal`,
    ),
    chunkCount: db.prepare("SELECT count(*) AS n FROM chunks"),
    summary: db.prepare("SELECT embedder, dims, count(*) AS vectors FROM chunk_vectors GROUP BY embedder, dims ORDER BY embedder, dims"),
  };

  const putAll = db.transaction((rows: VectorRow[]) => {
    let stored = 0;
    for (const row of rows) {
      if (row.vector.length === 0) throw new Error(`vector store: empty vector for chunk ${row.chunkId}`);
      for (let i = 0; i < row.vector.length; i++) {
        if (!Number.isFinite(row.vector[i])) throw new Error(`vector store: non-finite value in the vector of chunk ${row.chunkId} (${row.embedder})`);
      }
      stored += stmt.put.run({ chunkId: row.chunkId, embedder: row.embedder, dims: row.vector.length, textHash: row.textHash, vector: toBlob(row.vector) }).changes;
    }
    return stored;
  });

  const restore = db.transaction((embedder: string) => {
    if ((stmt.cacheSize.get() as { n: number }).n === 0) return;
    stmt.restore.run({ embedder });
    stmt.clearCache.run();
  });

  return {
    pending(embedderId) {
      restore.immediate(embedderId);
      return (stmt.pending.all({ embedder: embedderId }) as { id: string; title: string; heading_path: string; text: string }[]).map((r) => {
        const text = embeddingInput({ title: r.title, headingPath: JSON.parse(r.heading_path) as string[], text: r.text });
        return { id: r.id, text, textHash: embeddingInputHash(text) };
      });
    },
    pendingCount(embedderId) {
      restore.immediate(embedderId);
      return (stmt.pendingCount.get({ embedder: embedderId }) as { n: number }).n;
    },
    put(rows) {
      if (rows.length === 0) return 0;
      return putAll.immediate(rows);
    },
    load(embedderId) {
      const ids: string[] = [];
      const blobs: Buffer[] = [];
      let dims = 0;
      for (const row of stmt.load.iterate({ embedder: embedderId }) as IterableIterator<{ id: string; dims: number; vector: Buffer }>) {
        if (dims === 0) dims = row.dims;
        if (row.dims !== dims || row.vector.byteLength !== 4 * dims) {
          throw new Error(`vector store: chunk ${row.id} has a ${row.dims}-dimensional vector, others of ${embedderId} have ${dims}; re-run ingest to re-embed`);
        }
        ids.push(row.id);
        blobs.push(row.vector);
      }
      const matrix = new Float32Array(ids.length * dims);
      const bytes = new Uint8Array(matrix.buffer);
      blobs.forEach((b, i) => bytes.set(b, i * 4 * dims));
      return { ids, matrix, dims };
    },
    chunkCount() {
      return (stmt.chunkCount.get() as { n: number }).n;
    },
    summary() {
      return stmt.summary.all() as VectorStoreSummary[];
    },
    close() {
      if (own && db.open) db.close();
    },
  };
}
