/**
 * API keys on PostgreSQL (service "keys", hosted by host.ts): table `api_keys` with the columns of
 * `<storeDir>/keys.db` (serve/keys.ts), salt and hash as BYTEA. Secrets never reach this side:
 * the main thread hashes and compares (keys-postgres.ts); here are only rows.
 *
 * Races between processes: ids are inserted with ON CONFLICT DO NOTHING (a collision is retried
 * by the caller with a new id), a revoke is one UPDATE that keeps the first revocation time
 * (COALESCE), so two replicas revoking at once agree on it.
 */
import type { KeyRow } from "../../serve/keys.ts";
import type { SqlDatabase } from "./executor.ts";
import { MetaVersionedTables } from "./schema.ts";

export const KEYS_SCHEMA_VERSION = 1;
const LOCK = 4242022;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('query', 'admin')),
  name TEXT,
  rate_limit_per_minute INTEGER,
  salt BYTEA NOT NULL,
  hash BYTEA NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
`;

const COLUMNS = "id, scope, name, rate_limit_per_minute, salt, hash, created_at, revoked_at";

export class AsyncKeyStore {
  private readonly tables: MetaVersionedTables;
  constructor(private readonly db: SqlDatabase) {
    this.tables = new MetaVersionedTables(db, { lock: LOCK, ddl: SCHEMA, metaTable: "api_keys_meta", mainTable: "api_keys", owner: { subject: "the API key store was", label: "api_keys", readsUpTo: KEYS_SCHEMA_VERSION } });
  }

  /** Create the table if needed (serialised across processes); refuse a newer schema. */
  ensure(): Promise<void> {
    return this.tables.ensure();
  }

  /** Whether a key store was ever created here (`keys create` creates it; serve and `keys revoke` do not). */
  exists(): Promise<boolean> {
    return this.tables.exists();
  }

  /** False when the id is taken (the caller draws another). */
  async insert(row: KeyRow): Promise<boolean> {
    const { rows } = await this.db.query(
      `INSERT INTO api_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [row.id, row.scope, row.name, row.rate_limit_per_minute, Buffer.from(row.salt), Buffer.from(row.hash), row.created_at, row.revoked_at],
    );
    return rows.length > 0;
  }

  /** The row of one id: read on every verify, so a revoke elsewhere is seen by the next request. */
  async row(id: string): Promise<KeyRow | undefined> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return rows[0];
  }

  async list(): Promise<KeyRow[]> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at COLLATE "C", id COLLATE "C"`);
    return rows;
  }

  /** Ids in byte order, as SQLite returns them (from its primary-key index); the unknown-id message lists the first ten. */
  async ids(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(`SELECT id FROM api_keys ORDER BY id COLLATE "C"`);
    return rows.map((r) => r.id);
  }

  /** Revoke at `at` unless already revoked; the row after, or undefined for an unknown id. */
  async revoke(id: string, at: string): Promise<KeyRow | undefined> {
    const { rows } = await this.db.query<KeyRow>(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`, [id, at]);
    return rows[0];
  }

  /** Migration: copy rows verbatim (in their order) into an empty table, in one transaction. */
  async importRows(rows: KeyRow[]): Promise<void> {
    await this.ensure();
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`);
      const { rows: n } = await tx.query<{ n: string }>("SELECT count(*) AS n FROM api_keys");
      if (Number(n[0].n) > 0) throw new Error(`the target already holds ${n[0].n} API keys; migrate into an empty database`);
      for (const r of rows) {
        await tx.query(`INSERT INTO api_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
          r.id, r.scope, r.name, r.rate_limit_per_minute, Buffer.from(r.salt), Buffer.from(r.hash), r.created_at, r.revoked_at,
        ]);
      }
    });
  }
}

export async function openService(db: SqlDatabase): Promise<AsyncKeyStore> {
  return new AsyncKeyStore(db);
}
