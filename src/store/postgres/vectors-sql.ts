/**
 * SQL for chunk vectors on PostgreSQL (used by vectors.ts): the executor interface both `pg` and
 * PGlite satisfy, the schema in its two forms (pgvector / plain table), and the value encodings.
 *
 * One table holds every embedder's vectors, one row per chunk (as in the SQLite store):
 *
 *   chunk_vectors(chunk_id PK → chunks(id) ON DELETE CASCADE, embedder, dims, text_hash, embedding)
 *
 * With pgvector `embedding` is an untyped `vector`, so embedders of different sizes share the
 * table, and each (embedder, dims) gets its own partial HNSW index over `embedding::vector(d)`
 * (pgvector's recipe for mixed dimensions: the index needs a fixed size; the partial predicate
 * keeps one embedder's graph free of another's rows). Without pgvector `embedding` is `bytea`
 * (little-endian float32, 4·dims bytes: the same bytes as the SQLite BLOB) and search is exact, in
 * memory, over a matrix cached until a statement trigger bumps `chunk_vector_generation`.
 *
 * Triggers on `chunks` park a deleted (or re-texted) chunk's vector in `chunk_vector_cache` keyed
 * by (embedder, text hash), so re-ingesting a changed document re-embeds only its changed text
 * (see src/store/vectors.ts for the SQLite version of the same rule).
 */

/** What vectors.ts needs from a connection: `pg`'s Client/PoolClient and PGlite both fit. */
export interface SqlExecutor {
  query(text: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

/**
 * A database handle. With `transaction` (PGlite; a pool wrapper) the callback runs on one
 * connection inside BEGIN/COMMIT; without it the handle must be a single connection (a `pg`
 * Client), and BEGIN/COMMIT are sent on it.
 */
export interface SqlDatabase extends SqlExecutor {
  transaction?<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
}

export async function withTransaction<T>(db: SqlDatabase, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  if (typeof db.transaction === "function") return db.transaction(fn);
  await db.query("BEGIN");
  try {
    const out = await fn(db);
    await db.query("COMMIT");
    return out;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

export type VectorMode = "pgvector" | "plain";

/** pgvector's HNSW index takes `vector` columns up to 2000 dimensions; above that search is a scan. */
export const HNSW_MAX_DIMS = 2000;

/** Any key for pg_advisory_xact_lock, so replicas starting together create the schema once. */
export const SCHEMA_LOCK_KEY = 7_413_013;

/** The schema as single statements (PGlite's `query`, like any extended-protocol call, takes one at a time). */
export function schemaSql(mode: VectorMode): string[] {
  const type = mode === "pgvector" ? "vector" : "bytea";
  const generation =
    mode === "plain"
      ? [
          `CREATE TABLE IF NOT EXISTS chunk_vector_generation (id INT PRIMARY KEY, n BIGINT NOT NULL)`,
          `INSERT INTO chunk_vector_generation VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
          `CREATE OR REPLACE FUNCTION ragtune_bump_vector_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chunk_vector_generation SET n = n + 1 WHERE id = 1;
  RETURN NULL;
END $$`,
          `CREATE OR REPLACE TRIGGER chunk_vectors_generation AFTER INSERT OR UPDATE OR DELETE ON chunk_vectors
  FOR EACH STATEMENT EXECUTE FUNCTION ragtune_bump_vector_generation()`,
        ]
      : [];
  return [
    `
CREATE TABLE IF NOT EXISTS chunk_vectors (
  chunk_id  TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  embedder  TEXT NOT NULL,
  dims      INTEGER NOT NULL,
  text_hash TEXT NOT NULL,
  embedding ${type} NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS chunk_vectors_embedder ON chunk_vectors(embedder)`,
    `CREATE TABLE IF NOT EXISTS chunk_vector_cache (
  embedder  TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  dims      INTEGER NOT NULL,
  embedding ${type} NOT NULL,
  PRIMARY KEY (embedder, text_hash)
)`,
    `CREATE OR REPLACE FUNCTION ragtune_park_chunk_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_vector_cache (embedder, text_hash, dims, embedding)
    SELECT embedder, text_hash, dims, embedding FROM chunk_vectors WHERE chunk_id = OLD.id
  ON CONFLICT (embedder, text_hash) DO UPDATE SET dims = excluded.dims, embedding = excluded.embedding;
  IF TG_OP = 'UPDATE' THEN
    -- the text changed in place: the vector no longer describes it
    DELETE FROM chunk_vectors WHERE chunk_id = OLD.id;
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$`,
    `CREATE OR REPLACE TRIGGER chunk_vectors_keep BEFORE DELETE ON chunks
  FOR EACH ROW EXECUTE FUNCTION ragtune_park_chunk_vector()`,
    `CREATE OR REPLACE TRIGGER chunk_vectors_retext BEFORE UPDATE OF title, heading_path, text ON chunks
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.heading_path IS DISTINCT FROM NEW.heading_path OR OLD.text IS DISTINCT FROM NEW.text)
  EXECUTE FUNCTION ragtune_park_chunk_vector()`,
    ...generation,
  ];
}

/** A SQL string literal (for partial-index predicates, which must be constants). */
export function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * pgvector's text form. Nine significant digits identify every float32 exactly (pgvector parses
 * with strtof), and are 37% shorter than `String()` of the widened double (17 digits): less to
 * send and parse (2,000×384: 165 vs 195 ms to format here).
 */
export function toVectorText(v: Float32Array): string {
  let s = "[";
  for (let i = 0; i < v.length; i++) s += (i ? "," : "") + v[i].toPrecision(9);
  return s + "]";
}

export function parseVectorText(text: string, out: Float32Array, offset: number): number {
  let n = 0;
  let start = 1;
  const end = text.length - 1;
  for (let i = 1; i <= end; i++) {
    if (i === end || text.charCodeAt(i) === 44 /* , */) {
      if (i > start) out[offset + n++] = Number(text.slice(start, i));
      start = i + 1;
    }
  }
  return n;
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("vector store: big-endian platforms are not supported");
}

/** bytea as hex text (`decode(h, 'hex')` in SQL): the one bytea parameter form pg and PGlite both accept inside arrays. */
export function toHex(v: Float32Array): string {
  assertLittleEndian();
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
}

/** A bytea value as returned by pg (Buffer) or PGlite (Uint8Array). */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string" && value.startsWith("\\x")) return Buffer.from(value.slice(2), "hex");
  throw new Error(`vector store: unexpected bytea value of type ${typeof value}`);
}

/** `heading_path`/`meta` may come back as JSON text (TEXT column) or already parsed (jsonb). */
export function jsonValue<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined) return fallback;
  if (typeof value === "string") return (value ? JSON.parse(value) : fallback) as T;
  return value as T;
}
