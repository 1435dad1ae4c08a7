/**
 * Chunk vectors on PostgreSQL: the `VectorStore` semantics of src/store/vectors.ts (pending,
 * put in one transaction, load as one matrix, summary, parked vectors of unchanged text) as async
 * code over an executor (`pg` in the store's worker thread, PGlite in tests), plus `search`, so a
 * replica can answer a dense query without loading every vector.
 *
 * Two modes, chosen when the store opens (schema in vectors-sql.ts):
 * - **pgvector** (`CREATE EXTENSION vector` succeeds, or is already there): a `vector` column and a
 *   partial HNSW index (cosine) per embedder and size; `search` is an index scan.
 * - **plain** (no pgvector on the server): a `bytea` column and exact search over an in-memory
 *   matrix, reloaded only when the vectors changed. One notice line says so at open.
 * An existing table keeps the mode it was created in.
 *
 * The text-hash rule differs from SQLite's in where it runs: PostgreSQL has no built-in SHA-1 and
 * the embedding input is assembled in JS (`embeddingInput`), so `pending` and `put` hash chunk
 * texts here, and the database keeps the invariant "a stored vector is of the chunk's current
 * text": `put` stores a row only when its `textHash` matches the chunk's text at that moment, and a
 * trigger drops (parks) the vector when a chunk's text changes in place. So `load`, `search` and
 * `pendingCount` need no text.
 */
import { chunkFilterPredicate, isEmptyFilter } from "../filter.ts";
import type { ChunkFilter } from "../index.ts";
import type { Chunk } from "../../ingest/index.ts";
import { embeddingInput, embeddingInputHash, type LoadedVectors, type PendingChunk, type VectorRow, type VectorSearchHit, type VectorStoreSummary } from "../vectors.ts";
import { exactTopK } from "../../retrieve/dense.ts";
import { createHash } from "node:crypto";
import {
  HNSW_MAX_DIMS,
  SCHEMA_LOCK_KEY,
  bytesOf,
  jsonValue,
  parseVectorText,
  schemaSql,
  sqlLiteral,
  toHex,
  toVectorText,
  withTransaction,
  type SqlDatabase,
  type SqlExecutor,
  type VectorMode,
} from "./vectors-sql.ts";

export type { SqlDatabase, SqlExecutor, VectorMode } from "./vectors-sql.ts";
export type { VectorSearchHit } from "../vectors.ts";

export interface PgVectorStoreOptions {
  /** Where the notice says the server is ("postgres://db:5432/rag" without credentials). */
  server?: string;
  /** One-line notices (pgvector missing). Default: stderr. */
  notice?: (line: string) => void;
  /**
   * Never try `CREATE EXTENSION vector` (use the plain table even where pgvector could be
   * installed). For tests and for servers where the role may not create extensions quietly.
   */
  noPgvector?: boolean;
  /** HNSW build parameters for new indexes (pgvector defaults: m 16, ef_construction 64). */
  hnsw?: { m?: number; efConstruction?: number };
  /** HNSW candidate list per query (pgvector default 40; raised to k when k is larger). */
  efSearch?: number;
}

export interface PgVectorStore {
  readonly mode: VectorMode;
  pending(embedderId: string): Promise<PendingChunk[]>;
  pendingCount(embedderId: string): Promise<number>;
  /** One transaction; rows of deleted chunks, or of text that changed since `pending`, are skipped. Returns rows stored. */
  put(rows: VectorRow[]): Promise<number>;
  load(embedderId: string): Promise<LoadedVectors>;
  chunkCount(): Promise<number>;
  summary(): Promise<VectorStoreSummary[]>;
  /** Best k chunks for a query vector of this embedder, best first; `filter` as everywhere (store/filter.ts). */
  search(embedderId: string, query: Float32Array, k: number, filter?: ChunkFilter): Promise<VectorSearchHit[]>;
  /** Names of the HNSW indexes on chunk_vectors (empty in plain mode). */
  indexes(): Promise<string[]>;
}

const PUT_BATCH = 500;

interface ChunkTextRow {
  id: string;
  title: string;
  heading_path: unknown;
  text: string;
}

function inputOf(r: ChunkTextRow): string {
  return embeddingInput({ title: r.title, headingPath: jsonValue<string[]>(r.heading_path, []), text: r.text });
}

function indexName(embedder: string, dims: number): string {
  return `chunk_vectors_hnsw_${createHash("sha1").update(`${embedder}\0${dims}`).digest("hex").slice(0, 16)}`;
}

async function chooseMode(db: SqlDatabase, options: PgVectorStoreOptions): Promise<VectorMode> {
  const existing = await db.query(
    `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
     WHERE a.attrelid = to_regclass('chunk_vectors') AND a.attname = 'embedding' AND NOT a.attisdropped`,
  );
  if (existing.rows.length) return existing.rows[0].type === "bytea" ? "plain" : "pgvector";
  if (options.noPgvector) return "plain";
  try {
    // Outside any transaction: a failed CREATE EXTENSION aborts the transaction it runs in.
    await db.query("CREATE EXTENSION IF NOT EXISTS vector");
    return "pgvector";
  } catch {
    return "plain";
  }
}

/**
 * Open (creating on first use) the vector tables next to the store's `chunks` table, which must
 * exist (the Postgres store creates it). `db` must stay open while the vector store is used.
 */
export async function openPgVectorStore(db: SqlDatabase, options: PgVectorStoreOptions = {}): Promise<PgVectorStore> {
  const hasChunks = (await db.query("SELECT to_regclass('chunks') IS NOT NULL AS ok")).rows[0]?.ok;
  if (!hasChunks) throw new Error(`${options.server ?? "the database"} has no chunks table: open the Postgres store (and run \`ragtune ingest\`) first`);
  const mode = await chooseMode(db, options);
  await withTransaction(db, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK_KEY]);
    for (const statement of schemaSql(mode)) await tx.query(statement);
  });
  // hnsw.iterative_scan exists from pgvector 0.8.0 (setting an unknown one would abort the search's transaction)
  const iterativeScan =
    mode === "pgvector" &&
    (await db.query("SELECT string_to_array(extversion, '.')::int[] >= '{0,8,0}'::int[] AS ok FROM pg_extension WHERE extname = 'vector'")).rows[0]?.ok === true;
  if (mode === "plain") {
    (options.notice ?? ((l) => process.stderr.write(l + "\n")))(
      `pgvector not installed on ${options.server ?? "the database server"}: vectors kept in a plain table, exact search`,
    );
  }
  const hnsw = { m: options.hnsw?.m ?? 16, efConstruction: options.hnsw?.efConstruction ?? 64 };
  const efSearch = options.efSearch ?? 40;
  const knownIndexes = new Set<string>();
  // plain mode: the last matrix loaded per embedder and the generation it was loaded at
  const cached = new Map<string, { generation: string; vectors: LoadedVectors }>();

  async function ensureIndex(tx: SqlExecutor, embedder: string, dims: number): Promise<void> {
    if (mode !== "pgvector" || dims > HNSW_MAX_DIMS) return;
    const name = indexName(embedder, dims);
    if (knownIndexes.has(name)) return;
    // Built over the rows already there on first put (faster than growing the graph row by row);
    // later puts add to it incrementally.
    await tx.query(
      `CREATE INDEX IF NOT EXISTS ${name} ON chunk_vectors USING hnsw ((embedding::vector(${dims})) vector_cosine_ops)
       WITH (m = ${hnsw.m | 0}, ef_construction = ${hnsw.efConstruction | 0}) WHERE embedder = ${sqlLiteral(embedder)} AND dims = ${dims}`,
    );
    knownIndexes.add(name);
  }

  /** Put parked vectors back on chunks whose text reappeared, then empty the park (as in SQLite). */
  async function restore(embedder: string): Promise<void> {
    await withTransaction(db, async (tx) => {
      const parked = await tx.query("SELECT EXISTS (SELECT 1 FROM chunk_vector_cache) AS any");
      if (!parked.rows[0]?.any) return;
      const stale = (
        await tx.query(
          `SELECT c.id, c.title, c.heading_path, c.text FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
           WHERE v.chunk_id IS NULL OR v.embedder <> $1`,
          [embedder],
        )
      ).rows as ChunkTextRow[];
      if (stale.length) {
        await tx.query(
          `INSERT INTO chunk_vectors (chunk_id, embedder, dims, text_hash, embedding)
           SELECT u.id, k.embedder, k.dims, k.text_hash, k.embedding
             FROM unnest($1::text[], $2::text[]) AS u(id, h) JOIN chunk_vector_cache k ON k.embedder = $3 AND k.text_hash = u.h
           ON CONFLICT (chunk_id) DO UPDATE SET embedder = excluded.embedder, dims = excluded.dims,
             text_hash = excluded.text_hash, embedding = excluded.embedding`,
          [stale.map((r) => r.id), stale.map((r) => embeddingInputHash(inputOf(r))), embedder],
        );
      }
      await tx.query("DELETE FROM chunk_vector_cache");
    });
  }

  /** Chunk ids passing a filter: versions and prefix in SQL, globs and tags through the shared predicate. */
  async function allowedIds(tx: SqlExecutor, filter: ChunkFilter): Promise<string[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.versions) where.push(`version = ANY($${params.push(filter.versions)}::text[])`);
    if (filter.pathPrefix) where.push(`starts_with(path, $${params.push(filter.pathPrefix)})`);
    const needsJs = !!(filter.paths?.length || filter.tags?.length);
    const rows = (
      await tx.query(`SELECT id, path, version${needsJs ? ", meta" : ""} FROM chunks${where.length ? " WHERE " + where.join(" AND ") : ""}`, params)
    ).rows as { id: string; path: string; version: string; meta?: unknown }[];
    if (!needsJs) return rows.map((r) => r.id);
    const keep = chunkFilterPredicate(filter);
    return rows.filter((r) => keep({ path: r.path, version: r.version, meta: jsonValue(r.meta, {}) } as Chunk)).map((r) => r.id);
  }

  async function loadVectors(tx: SqlExecutor, embedder: string): Promise<LoadedVectors> {
    const rows = (
      await tx.query(
        `SELECT v.chunk_id AS id, v.dims, v.embedding FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id
         WHERE v.embedder = $1 ORDER BY c.path, c.ordinal`,
        [embedder],
      )
    ).rows as { id: string; dims: number; embedding: unknown }[];
    const dims = rows.length ? rows[0].dims : 0;
    const matrix = new Float32Array(rows.length * dims);
    const bytes = new Uint8Array(matrix.buffer);
    const ids: string[] = [];
    rows.forEach((row, i) => {
      const wrong = () => new Error(`vector store: chunk ${row.id} has a ${row.dims}-dimensional vector, others of ${embedder} have ${dims}; re-run ingest to re-embed`);
      if (row.dims !== dims) throw wrong();
      if (mode === "pgvector") {
        if (parseVectorText(String(row.embedding), matrix, i * dims) !== dims) throw wrong();
      } else {
        const b = bytesOf(row.embedding);
        if (b.byteLength !== 4 * dims) throw wrong();
        bytes.set(b, i * 4 * dims);
      }
      ids.push(row.id);
    });
    return { ids, matrix, dims };
  }

  async function searchPgvector(embedder: string, query: Float32Array, k: number, filter?: ChunkFilter): Promise<VectorSearchHit[]> {
    const d = query.length;
    return withTransaction(db, async (tx) => {
      const params: unknown[] = [toVectorText(query), k];
      let join = "";
      if (!isEmptyFilter(filter)) {
        const ids = await allowedIds(tx, filter!);
        if (!ids.length) return [];
        params.push(ids);
        join = "AND v.chunk_id = ANY($3::text[])";
        // Keep walking the graph until k rows pass the filter (pgvector ≥ 0.8), instead of
        // filtering only the first ef_search candidates and returning fewer than k.
        if (iterativeScan) await tx.query("SET LOCAL hnsw.iterative_scan = strict_order");
      }
      await tx.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(efSearch, k)) | 0}`);
      // Literal embedder and dims, so the planner matches the partial index without a custom plan.
      const dist = `v.embedding::vector(${d}) <=> $1::vector(${d})`;
      const rows = (
        await tx.query(
          `SELECT v.chunk_id AS id, 1 - (${dist}) AS score FROM chunk_vectors v
           WHERE v.embedder = ${sqlLiteral(embedder)} AND v.dims = ${d} ${join}
           ORDER BY ${dist} LIMIT $2`,
          params,
        )
      ).rows as { id: string; score: number }[];
      if (!rows.length) {
        // nothing of this size: say so when the embedder's vectors have another one (as the plain mode does)
        const other = (await tx.query("SELECT dims FROM chunk_vectors WHERE embedder = $1 AND dims <> $2 LIMIT 1", [embedder, d])).rows[0];
        if (other) throw new Error(`vector store: query has ${d} dimensions, ${embedder}'s vectors have ${other.dims}`);
      }
      return rows.map((r) => ({ chunkId: r.id, score: Number(r.score) }));
    });
  }

  async function searchPlain(embedder: string, query: Float32Array, k: number, filter?: ChunkFilter): Promise<VectorSearchHit[]> {
    const { vectors, allowed } = await withTransaction(db, async (tx) => {
      const generation = String((await tx.query("SELECT n FROM chunk_vector_generation WHERE id = 1")).rows[0]?.n ?? "0");
      let entry = cached.get(embedder);
      if (!entry || entry.generation !== generation) {
        entry = { generation, vectors: await loadVectors(tx, embedder) };
        cached.set(embedder, entry);
      }
      return { vectors: entry.vectors, allowed: isEmptyFilter(filter) ? undefined : await allowedIds(tx, filter!) };
    });
    if (!vectors.ids.length) return [];
    if (vectors.dims !== query.length) throw new Error(`vector store: query has ${query.length} dimensions, ${embedder}'s vectors have ${vectors.dims}`);
    let mask: Uint8Array | undefined;
    if (allowed) {
      const set = new Set(allowed);
      mask = Uint8Array.from(vectors.ids, (id) => (set.has(id) ? 1 : 0));
    }
    const { rows, scores } = exactTopK(vectors.matrix, vectors.dims, query, k, mask);
    return Array.from(rows, (r, i) => ({ chunkId: vectors.ids[r], score: scores[i] }));
  }

  return {
    mode,
    async pending(embedderId) {
      await restore(embedderId);
      const rows = (
        await db.query(
          `SELECT c.id, c.title, c.heading_path, c.text, v.embedder, v.text_hash FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id
           ORDER BY c.path, c.ordinal`,
        )
      ).rows as (ChunkTextRow & { embedder: string | null; text_hash: string | null })[];
      const out: PendingChunk[] = [];
      for (const r of rows) {
        const text = inputOf(r);
        const textHash = embeddingInputHash(text);
        if (r.embedder !== embedderId || r.text_hash !== textHash) out.push({ id: r.id, text, textHash });
      }
      return out;
    },
    async pendingCount(embedderId) {
      await restore(embedderId);
      const r = await db.query(
        `SELECT count(*)::int AS n FROM chunks c LEFT JOIN chunk_vectors v ON v.chunk_id = c.id WHERE v.chunk_id IS NULL OR v.embedder <> $1`,
        [embedderId],
      );
      return Number(r.rows[0].n);
    },
    async put(rows) {
      if (rows.length === 0) return 0;
      for (const row of rows) {
        if (row.vector.length === 0) throw new Error(`vector store: empty vector for chunk ${row.chunkId}`);
        for (let i = 0; i < row.vector.length; i++) {
          if (!Number.isFinite(row.vector[i])) throw new Error(`vector store: non-finite value in the vector of chunk ${row.chunkId} (${row.embedder})`);
        }
      }
      return withTransaction(db, async (tx) => {
        let stored = 0;
        const sizes = new Map<string, Set<number>>();
        for (let at = 0; at < rows.length; at += PUT_BATCH) {
          const batch = rows.slice(at, at + PUT_BATCH);
          // Current text of each chunk, locked so a concurrent re-ingest cannot change it under us.
          const current = (
            await tx.query("SELECT id, title, heading_path, text FROM chunks WHERE id = ANY($1::text[]) FOR SHARE", [batch.map((r) => r.chunkId)])
          ).rows as ChunkTextRow[];
          const hashOf = new Map(current.map((c) => [c.id, embeddingInputHash(inputOf(c))]));
          const keep = batch.filter((r) => hashOf.get(r.chunkId) === r.textHash);
          if (!keep.length) continue;
          const value = mode === "pgvector" ? "u.v::vector" : "decode(u.v, 'hex')";
          const res = await tx.query(
            `INSERT INTO chunk_vectors (chunk_id, embedder, dims, text_hash, embedding)
             SELECT u.id, u.e, u.d, u.h, ${value} FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) AS u(id, e, d, h, v)
             ON CONFLICT (chunk_id) DO UPDATE SET embedder = excluded.embedder, dims = excluded.dims,
               text_hash = excluded.text_hash, embedding = excluded.embedding
             RETURNING 1`,
            [
              keep.map((r) => r.chunkId),
              keep.map((r) => r.embedder),
              keep.map((r) => r.vector.length),
              keep.map((r) => r.textHash),
              keep.map((r) => (mode === "pgvector" ? toVectorText(r.vector) : toHex(r.vector))),
            ],
          );
          stored += res.rows.length;
          for (const r of keep) {
            if (!sizes.has(r.embedder)) sizes.set(r.embedder, new Set());
            sizes.get(r.embedder)!.add(r.vector.length);
          }
        }
        for (const [embedder, dims] of sizes) for (const d of dims) await ensureIndex(tx, embedder, d);
        return stored;
      });
    },
    async load(embedderId) {
      return loadVectors(db, embedderId);
    },
    async chunkCount() {
      return Number((await db.query("SELECT count(*)::int AS n FROM chunks")).rows[0].n);
    },
    async summary() {
      const rows = (await db.query("SELECT embedder, dims, count(*)::int AS vectors FROM chunk_vectors GROUP BY embedder, dims ORDER BY embedder, dims")).rows;
      return rows.map((r) => ({ embedder: String(r.embedder), dims: Number(r.dims), vectors: Number(r.vectors) }));
    },
    async search(embedderId, query, k, filter) {
      if (k <= 0) return [];
      for (let i = 0; i < query.length; i++) if (!Number.isFinite(query[i])) throw new Error("vector store: non-finite value in the query vector");
      return mode === "pgvector" ? searchPgvector(embedderId, query, k, filter) : searchPlain(embedderId, query, k, filter);
    },
    async indexes() {
      const rows = (
        await db.query("SELECT indexname FROM pg_indexes WHERE tablename = 'chunk_vectors' AND indexdef ILIKE '%USING hnsw%' ORDER BY indexname")
      ).rows;
      return rows.map((r) => String(r.indexname));
    },
  };
}
