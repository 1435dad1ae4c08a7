/**
 * The index as one SQLite file (better-sqlite3). WAL keeps readers unblocked during an ingest,
 * and `applyIngest` is a single transaction, so a crash leaves either the old or the new index.
 */
import Database from "better-sqlite3";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Chunk, ChunkSpan } from "../ingest/index.ts";
import { ChunkAnalyzer, encodeContent, encodeTerms, LEXICAL_ANALYZER, type LexicalStatsSource, type StoredLexicalRow } from "../retrieve/lexical-cache.ts";
import type { ChunkFilter, IndexIdentity, IngestBatch, ManifestEntry, SnapshotSource, Store, StoredDocument } from "./index.ts";
import { createHash } from "node:crypto";
import { chunkFilterPredicate } from "./filter.ts";

/** Bump when the table layout changes; older binaries refuse newer files instead of corrupting them. */
export const SCHEMA_VERSION = 1;

/** The tables that make up the retrieval state, parents before children (index rollback restores these, not the model registry). */
const RETRIEVAL_TABLES = ["documents", "chunks", "lexical_terms", "chunk_terms", "chunk_vectors", "chunk_vector_cache"] as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
  path        TEXT PRIMARY KEY,
  hash        TEXT NOT NULL,
  version     TEXT NOT NULL,
  title       TEXT NOT NULL,
  bytes       INTEGER NOT NULL,
  chunks      INTEGER NOT NULL,
  ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  id           TEXT PRIMARY KEY,
  path         TEXT NOT NULL REFERENCES documents(path) ON DELETE CASCADE,
  ordinal      INTEGER NOT NULL,
  title        TEXT NOT NULL,
  heading_path TEXT NOT NULL,
  text         TEXT NOT NULL,
  line_start   INTEGER NOT NULL,
  line_end     INTEGER NOT NULL,
  version      TEXT NOT NULL,
  tokens       INTEGER NOT NULL,
  meta         TEXT NOT NULL,
  spans        TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_path_ordinal ON chunks(path, ordinal);
CREATE INDEX IF NOT EXISTS chunks_version ON chunks(version);
`;

/**
 * Per-chunk term statistics for BM25 (retrieve/lexical-cache.ts), written with the chunks so a
 * re-ingest re-tokenizes only changed documents. `tokenizer` is the analyzer key the row was
 * written with; rows under another key are re-analysed. `lexical_terms` is the store's term
 * dictionary (ids are never reused, so an id cached by any connection stays valid). Created on
 * open as well, so indexes written before these tables existed gain them (their chunks are
 * analysed on the next ingest or index build). `content` holds the chunk's content-token
 * sequences for the offline reranker (lexical-cache.ts `encodeContent`), computed at ingest so no
 * query tokenizes a chunk; tables from before it gain the column (their rows are stale by analyzer
 * key and get rewritten).
 */
const LEXICAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS lexical_terms (
  id   INTEGER PRIMARY KEY,
  term TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS chunk_terms (
  chunk_id  TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  tokenizer TEXT NOT NULL,
  body_len  INTEGER NOT NULL,
  head_len  INTEGER NOT NULL,
  terms     BLOB NOT NULL,
  content   BLOB
);
`;

interface ChunkRow {
  id: string;
  path: string;
  ordinal: number;
  title: string;
  heading_path: string;
  text: string;
  line_start: number;
  line_end: number;
  version: string;
  tokens: number;
  meta: string;
  spans: string;
}

interface LexicalRow extends ChunkRow {
  ct_tokenizer: string | null;
  ct_body_len: number | null;
  ct_head_len: number | null;
  ct_terms: Buffer | null;
  ct_content: Buffer | null;
}

interface DocumentRow {
  path: string;
  hash: string;
  version: string;
  title: string;
  bytes: number;
  chunks: number;
  ingested_at: string;
}

const CHUNK_COLUMNS = "id, path, ordinal, title, heading_path, text, line_start, line_end, version, tokens, meta, spans";

function toChunk(r: ChunkRow): Chunk {
  return {
    id: r.id,
    path: r.path,
    ordinal: r.ordinal,
    title: r.title,
    headingPath: JSON.parse(r.heading_path) as string[],
    text: r.text,
    lineStart: r.line_start,
    lineEnd: r.line_end,
    version: r.version,
    tokens: r.tokens,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    ...(r.spans && r.spans !== "[]" ? { spans: JSON.parse(r.spans) as ChunkSpan[] } : {}),
  };
}

function toDocument(r: DocumentRow): StoredDocument {
  return { path: r.path, hash: r.hash, version: r.version, title: r.title, bytes: r.bytes, chunks: r.chunks, ingestedAt: r.ingested_at };
}

/** Refuse files that are not ours (or are from a newer ragtune) before touching them. */
function checkOrInit(db: Database.Database, file: string): void {
  let tables: string[];
  try {
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
  } catch (err) {
    throw new Error(`${file} is not a ragtune index (not an SQLite database: ${(err as Error).message})`);
  }
  if (tables.length === 0) {
    db.exec("PRAGMA journal_mode = WAL");
    db.transaction(() => {
      db.exec(SCHEMA);
      db.exec(LEXICAL_SCHEMA);
      const put = db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
      put.run("schema_version", String(SCHEMA_VERSION));
      put.run("generation", "0");
    }).immediate();
    return;
  }
  const row = tables.includes("meta")
    ? (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)
    : undefined;
  if (!row || !["documents", "chunks"].every((t) => tables.includes(t))) {
    throw new Error(`${file} is not a ragtune index (an SQLite database without ragtune's tables); point storeDir elsewhere or delete it`);
  }
  const version = Number(row.value);
  if (!Number.isInteger(version) || version > SCHEMA_VERSION) {
    throw new Error(`${file} was written by a newer ragtune (index schema_version ${row.value}, this ragtune reads up to ${SCHEMA_VERSION}); upgrade ragtune or delete the index to rebuild it`);
  }
  db.exec("PRAGMA journal_mode = WAL");
  if (!tables.includes("chunk_terms") || !tables.includes("lexical_terms")) db.exec(LEXICAL_SCHEMA);
  const termColumns = (db.prepare("PRAGMA table_info(chunk_terms)").all() as { name: string }[]).map((c) => c.name);
  if (!termColumns.includes("content")) db.exec("ALTER TABLE chunk_terms ADD COLUMN content BLOB");
  // Indexes written before chunk spans existed gain the column; their chunks get spans when the
  // next ingest re-chunks them (PIPELINE_VERSION), and read as having none until then.
  const columns = (db.prepare("PRAGMA table_info(chunks)").all() as { name: string }[]).map((c) => c.name);
  if (!columns.includes("spans")) db.exec("ALTER TABLE chunks ADD COLUMN spans TEXT NOT NULL DEFAULT '[]'");
}

/** The SQLite store also persists BM25 term statistics (see retrieve/lexical-cache.ts). */
export type SqliteStore = Store & LexicalStatsSource & SnapshotSource;

/**
 * The content fingerprint of an index (see IndexIdentity): sha256 of the sorted manifest, the
 * chunking settings' hash and the chunk count, first 16 hex digits.
 */
export function indexFingerprint(manifest: ManifestEntry[], chunkingHash: string | undefined, chunks: number): string {
  const h = createHash("sha256");
  for (const d of [...manifest].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${d.path}\u0000${d.hash}\u0000${d.version}\n`);
  h.update(`chunking\u0000${chunkingHash ?? ""}\nchunks\u0000${chunks}\n`);
  return h.digest("hex").slice(0, 16);
}

export function openStore(file: string): SqliteStore {
  const memory = file === ":memory:" || file === "";
  if (!memory) mkdirSync(dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    throw new Error(`cannot open index ${file}: ${(err as Error).message}`);
  }
  try {
    checkOrInit(db, file);
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
  } catch (err) {
    db.close();
    throw err;
  }

  const stmt = {
    deleteChunksOf: db.prepare("DELETE FROM chunks WHERE path = ?"),
    upsertDoc: db.prepare(
      `INSERT INTO documents (path, hash, version, title, bytes, chunks, ingested_at) VALUES (@path, @hash, @version, @title, @bytes, @chunks, @ingestedAt)
       ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, version = excluded.version, title = excluded.title,
         bytes = excluded.bytes, chunks = excluded.chunks, ingested_at = excluded.ingested_at`,
    ),
    insertChunk: db.prepare(`INSERT INTO chunks (${CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    deleteDoc: db.prepare("DELETE FROM documents WHERE path = ?"),
    setMeta: db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
    bumpGeneration: db.prepare(
      "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
    ),
    documents: db.prepare("SELECT * FROM documents ORDER BY path"),
    chunk: db.prepare(`SELECT ${CHUNK_COLUMNS} FROM chunks WHERE id = ?`),
    deleteTermsOf: db.prepare("DELETE FROM chunk_terms WHERE chunk_id IN (SELECT id FROM chunks WHERE path = ?)"),
    upsertTerms: db.prepare(
      `INSERT INTO chunk_terms (chunk_id, tokenizer, body_len, head_len, terms, content) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(chunk_id) DO UPDATE SET tokenizer = excluded.tokenizer, body_len = excluded.body_len,
         head_len = excluded.head_len, terms = excluded.terms, content = excluded.content`,
    ),
    allTerms: db.prepare("SELECT id, term FROM lexical_terms"),
    termId: db.prepare("SELECT id FROM lexical_terms WHERE term = ?"),
    insertTerm: db.prepare("INSERT OR IGNORE INTO lexical_terms (term) VALUES (?) RETURNING id"),
    staleChunks: db.prepare(
      `SELECT ${CHUNK_COLUMNS.split(", ").map((c) => `c.${c}`).join(", ")} FROM chunks c LEFT JOIN chunk_terms t ON t.chunk_id = c.id
       WHERE t.chunk_id IS NULL OR t.tokenizer != ?`,
    ),
    lexicalRows: db.prepare(
      `SELECT ${CHUNK_COLUMNS.split(", ").map((c) => `c.${c}`).join(", ")},
         t.tokenizer AS ct_tokenizer, t.body_len AS ct_body_len, t.head_len AS ct_head_len, t.terms AS ct_terms, t.content AS ct_content
       FROM chunks c LEFT JOIN chunk_terms t ON t.chunk_id = c.id ORDER BY c.path, c.ordinal`,
    ),
  };

  // Term dictionary cache (term → id). Loaded on first use; dropped when a transaction that may
  // have added terms rolls back, since those ids no longer exist.
  let termCache: Map<string, number> | undefined;
  const termIdFor = (term: string): number => {
    if (!termCache) {
      termCache = new Map();
      for (const r of stmt.allTerms.iterate() as IterableIterator<{ id: number; term: string }>) termCache.set(r.term, r.id);
    }
    let id = termCache.get(term);
    if (id === undefined) {
      // Another connection may have added it since the cache was loaded.
      const inserted = stmt.insertTerm.get(term) as { id: number } | undefined;
      id = inserted?.id ?? (stmt.termId.get(term) as { id: number }).id;
      termCache.set(term, id);
    }
    return id;
  };
  let analyzer = new ChunkAnalyzer(termIdFor, true);
  const writeTerms = (c: Chunk): void => {
    const stats = analyzer.analyze(c);
    stmt.upsertTerms.run(c.id, LEXICAL_ANALYZER, stats.bodyLen, stats.headLen, encodeTerms(stats), encodeContent(stats.content!, stats.headContent!));
  };
  /** (Re)write the statistics of chunks without a row or with a row from another analyzer. */
  const refreshLexical = (): number => {
    let n = 0;
    for (const row of stmt.staleChunks.all(LEXICAL_ANALYZER) as ChunkRow[]) {
      writeTerms(toChunk(row));
      n++;
    }
    stmt.setMeta.run("lexical_analyzer", LEXICAL_ANALYZER);
    return n;
  };
  const refreshLexicalTx = db.transaction(refreshLexical);
  const filtered = new Map<string, Database.Statement>();
  const countChunks = db.prepare("SELECT count(*) AS n FROM chunks");
  // One (deferred, read-only) transaction: the counter, the manifest and the count see one commit.
  const readIdentity = db.transaction(() => {
    const generation = Number((stmt.getMeta.get("generation") as { value: string } | undefined)?.value ?? 0);
    const manifest = (stmt.documents.all() as DocumentRow[]).map((d) => ({ path: d.path, hash: d.hash, version: d.version }));
    const chunkingHash = (stmt.getMeta.get("chunking_hash") as { value: string } | undefined)?.value;
    const chunks = (countChunks.get() as { n: number }).n;
    const identity: IndexIdentity = { generation, fingerprint: indexFingerprint(manifest, chunkingHash, chunks), documents: manifest.length, chunks };
    return { identity, manifest, chunkingHash };
  });

  const writeDocument = (doc: IngestBatch["upserts"][number]["doc"], chunks: Chunk[]) => {
    stmt.deleteTermsOf.run(doc.path);
    stmt.deleteChunksOf.run(doc.path);
    // The stored count is what was actually inserted, whatever the caller put in doc.chunks.
    stmt.upsertDoc.run({ ...doc, chunks: chunks.length });
    for (const c of chunks) {
      // A chunk filed under another document would survive that document's deletion wrongly.
      if (c.path !== doc.path) throw new Error(`chunk ${c.id} has path ${c.path} but belongs to document ${doc.path}`);
      stmt.insertChunk.run(
        c.id, c.path, c.ordinal, c.title, JSON.stringify(c.headingPath), c.text,
        c.lineStart, c.lineEnd, c.version, c.tokens, JSON.stringify(c.meta ?? {}), JSON.stringify(c.spans ?? []),
      );
      writeTerms(c);
    }
  };
  // Nested in the batch's transaction, better-sqlite3 runs this as a SAVEPOINT: a failure rolls
  // back this one document only.
  const writeDocumentAlone = db.transaction(writeDocument);

  const apply = db.transaction((batch: IngestBatch) => {
    for (const upsert of batch.upserts) {
      if (!batch.onDocumentError) {
        writeDocument(upsert.doc, upsert.chunks);
        continue;
      }
      try {
        writeDocumentAlone(upsert.doc, upsert.chunks);
      } catch (err) {
        // Terms this document added are gone with its savepoint: their cached ids with them; and an
        // analysis cut short leaves counts in the analyzer's scratch arrays.
        termCache = undefined;
        analyzer = new ChunkAnalyzer(termIdFor, true);
        batch.onDocumentError(upsert.doc.path, err instanceof Error ? err : new Error(String(err)));
      }
    }
    for (const path of batch.removals) {
      // Explicit as well as cascaded: correct even on a connection where foreign_keys is off.
      stmt.deleteTermsOf.run(path);
      stmt.deleteChunksOf.run(path);
      stmt.deleteDoc.run(path);
    }
    // A new tokenizer (or an index from before term statistics) re-analyses every other chunk too,
    // so all rows agree on one analyzer after the commit.
    if ((stmt.getMeta.get("lexical_analyzer") as { value: string } | undefined)?.value !== LEXICAL_ANALYZER) refreshLexical();
    for (const [key, value] of Object.entries(batch.meta ?? {})) stmt.setMeta.run(key, value);
    stmt.bumpGeneration.run();
  });

  return {
    applyIngest(batch) {
      // IMMEDIATE takes the write lock up front, so a concurrent ingest fails fast instead of mid-way.
      try {
        apply.immediate(batch);
      } catch (err) {
        termCache = undefined;
        throw err;
      }
    },
    lexicalRows() {
      const read = () => stmt.lexicalRows.all() as LexicalRow[];
      let rows = read();
      if (rows.some((r) => r.ct_tokenizer !== LEXICAL_ANALYZER)) {
        try {
          refreshLexicalTx.immediate();
          rows = read();
        } catch {
          // Read-only or busy: the caller analyses the stale rows in memory instead.
          termCache = undefined;
        }
      }
      const terms: string[] = [];
      for (const r of stmt.allTerms.iterate() as IterableIterator<{ id: number; term: string }>) terms[r.id] = r.term;
      const out: StoredLexicalRow[] = rows.map((r) => ({
        chunk: toChunk(r),
        analyzer: r.ct_tokenizer ?? undefined,
        bodyLen: r.ct_body_len ?? 0,
        headLen: r.ct_head_len ?? 0,
        terms: r.ct_terms ?? undefined,
        content: r.ct_content ?? undefined,
      }));
      return { rows: out, terms };
    },
    documents() {
      return (stmt.documents.all() as DocumentRow[]).map(toDocument);
    },
    chunks(filter?: ChunkFilter) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (filter?.versions) {
        // An empty list keeps nothing, as "only these versions" literally says.
        if (filter.versions.length === 0) return [];
        where.push(`version IN (${filter.versions.map(() => "?").join(", ")})`);
        params.push(...filter.versions);
      }
      if (filter?.pathPrefix) {
        // instr, not substr/LIKE: exact, case-sensitive and counts characters the same way for any text.
        where.push("instr(path, ?) = 1");
        params.push(filter.pathPrefix);
      }
      const sql = `SELECT ${CHUNK_COLUMNS} FROM chunks${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY path, ordinal`;
      let s = filtered.get(sql);
      if (!s) {
        s = db.prepare(sql);
        filtered.set(sql, s);
      }
      const chunks = (s.all(...params) as ChunkRow[]).map(toChunk);
      // Globs and tags in memory, with the one definition of their meaning (filter.ts).
      return filter?.paths?.length || filter?.tags?.length ? chunks.filter(chunkFilterPredicate(filter)) : chunks;
    },
    chunk(id) {
      const row = stmt.chunk.get(id) as ChunkRow | undefined;
      return row ? toChunk(row) : undefined;
    },
    getMeta(key) {
      return (stmt.getMeta.get(key) as { value: string } | undefined)?.value;
    },
    generation() {
      return Number((stmt.getMeta.get("generation") as { value: string } | undefined)?.value ?? 0);
    },
    identity() {
      return readIdentity();
    },
    restoreRetrievalFrom(file) {
      if (memory) throw new Error("an in-memory index cannot be restored from a file");
      if (!existsSync(file)) throw new Error(`index snapshot ${file} does not exist`);
      db.prepare("ATTACH DATABASE ? AS snap").run(file);
      try {
        const has = (schema: "main" | "snap", t: string) => !!db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(t);
        db.transaction(() => {
          // Children first (foreign keys), then parents; copy parents first.
          // The term dictionary only grows and never reuses an id (other connections cache ids), so it
          // is kept and only gains the snapshot's terms; everything else is replaced.
          for (const t of [...RETRIEVAL_TABLES].reverse()) if (t !== "lexical_terms" && has("main", t)) db.prepare(`DELETE FROM main.${t}`).run();
          for (const t of RETRIEVAL_TABLES) {
            if (!has("main", t) || !has("snap", t)) continue;
            const cols = (db.prepare(`PRAGMA main.table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
            const theirs = new Set((db.prepare(`PRAGMA snap.table_info(${t})`).all() as { name: string }[]).map((c) => c.name));
            const shared = cols.filter((c) => theirs.has(c)).join(", ");
            db.prepare(`INSERT ${t === "lexical_terms" ? "OR IGNORE " : ""}INTO main.${t} (${shared}) SELECT ${shared} FROM snap.${t}`).run();
          }
          const keep = new Set(["generation", "schema_version"]);
          for (const row of db.prepare("SELECT key FROM main.meta").all() as { key: string }[]) if (!keep.has(row.key)) db.prepare("DELETE FROM main.meta WHERE key = ?").run(row.key);
          for (const row of db.prepare("SELECT key, value FROM snap.meta").all() as { key: string; value: string }[]) if (!keep.has(row.key)) stmt.setMeta.run(row.key, row.value);
          stmt.bumpGeneration.run();
        })();
      } finally {
        db.prepare("DETACH DATABASE snap").run();
      }
    },
    snapshotTo(file) {
      if (memory) throw new Error("an in-memory index cannot be snapshotted to a file");
      // VACUUM INTO reads one consistent snapshot (a WAL reader: concurrent ingests are not blocked).
      db.prepare("VACUUM INTO ?").run(file);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
