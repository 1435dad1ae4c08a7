/**
 * Index versions on PostgreSQL (service "versions", hosted by host.ts; the synchronous facade is
 * store/versions-postgres.ts): the entries of versions.json as rows of `index_versions`, and each
 * kept copy — the SQLite snapshot file the store's `snapshotTo` writes, gzip-compressed — as a
 * bytea in `index_version_copies`, so every replica and machine on the database sees the same
 * versions and can roll back without a shared disk.
 *
 * Why a gzip'd SQLite file rather than copying rows into shadow tables server-side: it is what
 * `snapshotTo` / `restoreRetrievalFrom` already produce and consume on both stores (one code path
 * for record and rollback, the same copy a run pins), it does not tie this service to the store's
 * table layout, and gzip makes it ~3-4x smaller (measured in the docs). The cost is that a copy
 * crosses the connection once each way.
 *
 * Numbering: `insert` takes a transaction-scoped advisory lock, then numbers the entry max + 1
 * and prunes copies beyond KEEP_SNAPSHOTS in the same transaction, so two processes recording at
 * once get distinct, consecutive numbers, and the "same content as the newest" check is re-done
 * under the lock (two replicas recording one ingest record it once).
 */
import type { IndexVersion } from "../versions.ts";
import type { SqlDatabase } from "./executor.ts";
import { createSchema, stampOrCheckVersionRow } from "./schema.ts";

export const VERSIONS_SCHEMA_VERSION = 1;
const SCHEMA_LOCK = 4242201;
const WRITE_LOCK = 4242202;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS index_versions_schema (
  one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS index_versions (
  version              INTEGER PRIMARY KEY,
  created_at           TEXT NOT NULL,
  note                 TEXT NOT NULL,
  fingerprint          TEXT NOT NULL,
  identity             TEXT NOT NULL,
  config_hash          TEXT NOT NULL,
  documents_by_version TEXT NOT NULL,
  snapshot             TEXT
);
CREATE INDEX IF NOT EXISTS index_versions_fingerprint ON index_versions(fingerprint, version);
CREATE TABLE IF NOT EXISTS index_version_copies (
  version INTEGER PRIMARY KEY REFERENCES index_versions(version) ON DELETE CASCADE,
  gz      BYTEA NOT NULL,
  bytes   BIGINT NOT NULL,
  sha256  TEXT NOT NULL
)
`;

interface VersionRow {
  version: number;
  created_at: string;
  note: string;
  fingerprint: string;
  identity: string;
  config_hash: string;
  documents_by_version: string;
  snapshot: string | null;
}

const toVersion = (r: VersionRow): IndexVersion => ({
  version: Number(r.version),
  createdAt: r.created_at,
  note: r.note,
  identity: JSON.parse(r.identity) as IndexVersion["identity"],
  configHash: r.config_hash,
  documentsByVersion: JSON.parse(r.documents_by_version) as Record<string, number>,
  snapshot: r.snapshot,
});

/** A copy as it crosses the worker boundary: the gzip'd SQLite file and the sha256 of the file itself. */
export interface VersionCopy {
  gz: Uint8Array;
  bytes: number;
  sha256: string;
}

export type NewVersion = Omit<IndexVersion, "version" | "snapshot">;

export class AsyncPostgresVersions {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<AsyncPostgresVersions> {
    await db.transaction(async (tx) => {
      await createSchema(tx, SCHEMA_LOCK, SCHEMA);
      await stampOrCheckVersionRow(tx, "index_versions_schema", { subject: "the database's index versions were", label: "versions", readsUpTo: VERSIONS_SCHEMA_VERSION });
    });
    return new AsyncPostgresVersions(db);
  }

  async list(): Promise<IndexVersion[]> {
    return (await this.db.query<VersionRow>("SELECT * FROM index_versions ORDER BY version")).rows.map(toVersion);
  }

  async last(): Promise<IndexVersion | null> {
    const { rows } = await this.db.query<VersionRow>("SELECT * FROM index_versions ORDER BY version DESC LIMIT 1");
    return rows[0] ? toVersion(rows[0]) : null;
  }

  async versionOf(fingerprint: string): Promise<number | null> {
    const { rows } = await this.db.query<{ v: number | null }>("SELECT max(version) AS v FROM index_versions WHERE fingerprint = $1", [fingerprint]);
    return rows[0]?.v === null || rows[0]?.v === undefined ? null : Number(rows[0].v);
  }

  /**
   * Number and store a version with its copy, then prune copies beyond `keep`; null when `force`
   * is off and the newest version already has this content (another process recorded it first).
   */
  insert(entry: NewVersion, copy: VersionCopy, force: boolean, keep: number): Promise<IndexVersion | null> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [WRITE_LOCK]);
      const { rows } = await tx.query<{ version: number; fingerprint: string }>("SELECT version, fingerprint FROM index_versions ORDER BY version DESC LIMIT 1");
      if (!force && rows[0] && rows[0].fingerprint === entry.identity.fingerprint) return null;
      const version = (rows[0] ? Number(rows[0].version) : 0) + 1;
      const saved: IndexVersion = { version, ...entry, snapshot: `v${version}.db` };
      await insertRow(tx, saved);
      await tx.query("INSERT INTO index_version_copies (version, gz, bytes, sha256) VALUES ($1, $2, $3, $4)", [version, Buffer.from(copy.gz), copy.bytes, copy.sha256]);
      // Prune copies beyond the newest `keep`; their entries stay listed without a copy.
      const { rows: drop } = await tx.query<{ version: number }>("SELECT version FROM index_version_copies ORDER BY version DESC OFFSET $1", [keep]);
      if (drop.length) {
        const versions = drop.map((d) => Number(d.version));
        await tx.query("DELETE FROM index_version_copies WHERE version = ANY($1::int[])", [versions]);
        await tx.query("UPDATE index_versions SET snapshot = NULL WHERE version = ANY($1::int[])", [versions]);
      }
      return saved;
    });
  }

  async copy(version: number): Promise<VersionCopy | null> {
    const { rows } = await this.db.query<{ gz: Uint8Array; bytes: string | number; sha256: string }>("SELECT gz, bytes, sha256 FROM index_version_copies WHERE version = $1", [version]);
    return rows[0] ? { gz: rows[0].gz, bytes: Number(rows[0].bytes), sha256: rows[0].sha256 } : null;
  }

  /** Copy versions in as they are (numbers kept), for store migrate; refuses a database that has versions. */
  async importVersions(items: { entry: IndexVersion; copy: VersionCopy | null }[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [WRITE_LOCK]);
      const n = Number((await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM index_versions")).rows[0].n);
      if (n > 0) throw new Error(`the target database already holds ${n} index versions; migrate into an empty database`);
      for (const { entry, copy } of items) {
        await insertRow(tx, { ...entry, snapshot: copy ? entry.snapshot : null });
        if (copy) await tx.query("INSERT INTO index_version_copies (version, gz, bytes, sha256) VALUES ($1, $2, $3, $4)", [entry.version, Buffer.from(copy.gz), copy.bytes, copy.sha256]);
      }
    });
  }
}

async function insertRow(tx: { query: SqlDatabase["query"] }, v: IndexVersion): Promise<void> {
  await tx.query(
    `INSERT INTO index_versions (version, created_at, note, fingerprint, identity, config_hash, documents_by_version, snapshot)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [v.version, v.createdAt, v.note, v.identity.fingerprint, JSON.stringify(v.identity), v.configHash, JSON.stringify(v.documentsByVersion), v.snapshot],
  );
}

/** The host's entry (host.ts): create the tables if needed. The pool is the host's to close. */
export function openService(db: SqlDatabase): Promise<AsyncPostgresVersions> {
  return AsyncPostgresVersions.open(db);
}
