/**
 * API keys on Postgres behind the synchronous `ApiKeyStore` contract (keys.ts): each method is one
 * blocking call to the "keys" service (store/postgres/keys.ts) over the process's shared Postgres
 * connection. Secrets are drawn, hashed and compared here, in this process; only rows cross over.
 *
 * Revocation: `verify` reads the key's row on every call (no cache), so a `ragtune keys revoke`
 * from any machine refuses the very next request to every replica. Cost: one round trip per
 * authenticated request (measured in docs/keys.md).
 *
 * Outage: when the database cannot be reached, a key whose row was read within the last
 * OUTAGE_GRACE_MS is judged by that row (a key revoked before then stays refused), so a replica
 * keeps serving its recent clients through a restart or failover; an unseen key is an error.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { PostgresConnection } from "../store/postgres/connection.ts";
import { isConnectionLoss } from "../store/postgres/errors.ts";
import {
  checkedCreate,
  newKeyId,
  newSecret,
  noKeyStoreError,
  parseKey,
  toRecord,
  unknownKeyError,
  verifyRow,
  KeyStore,
  type ApiKeyRecord,
  type ApiKeyStore,
  type CreateKeyOptions,
  type KeyRow,
  type KeyScope,
} from "./keys.ts";

/** How old a key's last read row may be to stand in for the database during an outage. */
export const OUTAGE_GRACE_MS = 5 * 60_000;
/** Rows kept for the outage fallback (the most recently verified keys). */
const RECENT_KEYS = 10_000;

export class PostgresKeyStore implements ApiKeyStore {
  private readonly recent = new Map<string, { row: KeyRow | undefined; at: number }>();
  readonly location: string;
  private closed = false;
  private readonly now: () => Date;
  private readonly release: () => void;

  /** `create`: make the table (keys create); otherwise a database without one is `noKeyStoreError`. */
  constructor(
    readonly connection: PostgresConnection,
    options: { create?: boolean; now?: () => Date; release?: () => void } = {},
  ) {
    this.location = `postgres ${connection.server} (table api_keys)`;
    this.now = options.now ?? (() => new Date());
    this.release = options.release ?? (() => undefined);
    if (options.create) this.call("ensure");
    else if (!this.call<boolean>("exists")) throw noKeyStoreError(this.location);
  }

  private call<T>(method: string, args: unknown[] = []): T {
    if (this.closed) throw new Error(`the API key store at ${this.location} is closed (call ${method})`);
    return this.connection.call<T>(`keys.${method}`, args);
  }

  createKey(scope: KeyScope, opts: CreateKeyOptions = {}): { key: string; record: ApiKeyRecord } {
    const { name, rate } = checkedCreate(scope, opts);
    const { secret, salt, hash } = newSecret();
    const createdAt = this.now().toISOString();
    // 48-bit ids: a collision is unlikely; the insert refuses a taken id atomically and we draw again.
    for (;;) {
      const id = newKeyId();
      const row: KeyRow = { id, scope, name, rate_limit_per_minute: rate, salt, hash, created_at: createdAt, revoked_at: null };
      if (this.call<boolean>("insert", [row])) return { key: `rt_${id}_${secret}`, record: toRecord(row) };
    }
  }

  verify(presented: string): ApiKeyRecord | undefined {
    const parsed = parseKey(presented);
    if (!parsed) return undefined;
    let row: KeyRow | undefined;
    try {
      row = this.call<KeyRow | undefined>("row", [parsed.id]);
    } catch (err) {
      const seen = this.recent.get(parsed.id);
      if (!seen || !isConnectionLoss(err) || Date.now() - seen.at > OUTAGE_GRACE_MS) throw err;
      return verifyRow(seen.row, parsed.secret);
    }
    if (row) {
      this.recent.delete(parsed.id); // re-inserted: the map's order is recency
      this.recent.set(parsed.id, { row, at: Date.now() });
      if (this.recent.size > RECENT_KEYS) this.recent.delete(this.recent.keys().next().value!);
    }
    return verifyRow(row, parsed.secret);
  }

  get(id: string): ApiKeyRecord | undefined {
    const row = this.call<KeyRow | undefined>("row", [id]);
    return row ? toRecord(row) : undefined;
  }

  list(): ApiKeyRecord[] {
    return this.call<KeyRow[]>("list").map(toRecord);
  }

  revoke(id: string): ApiKeyRecord {
    const row = this.call<KeyRow | undefined>("revoke", [id, this.now().toISOString()]);
    if (!row) throw unknownKeyError(id, this.location, this.call<string[]>("ids"));
    return toRecord(row);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}

export interface KeysMigration {
  from: string;
  keys: number;
  /** sha256 over every column of every key (salts and hashes included), equal on both sides. */
  checksum: string;
}

export function keysChecksum(rows: KeyRow[]): string {
  const h = createHash("sha256");
  for (const r of rows) {
    h.update(JSON.stringify([r.id, r.scope, r.name, r.rate_limit_per_minute, Buffer.from(r.salt).toString("hex"), Buffer.from(r.hash).toString("hex"), r.created_at, r.revoked_at]) + "\n");
  }
  return h.digest("hex");
}

const COLUMNS = "id, scope, name, rate_limit_per_minute, salt, hash, created_at, revoked_at";

/**
 * `store migrate`: copy `<storeDir>/keys.db` into the target's `api_keys` verbatim (same salts and
 * hashes, so every issued key keeps working), then compare counts and checksums. Undefined when the
 * project has no key store file.
 */
export function migrateKeys(file: string, connection: PostgresConnection): KeysMigration | undefined {
  if (!existsSync(file)) return undefined;
  // Checks the file is a ragtune key store (application_id) before anything is copied.
  new KeyStore(file).close();
  const raw = new Database(file, { readonly: true });
  try {
    const rows = raw.prepare(`SELECT ${COLUMNS} FROM api_keys ORDER BY rowid`).all() as KeyRow[];
    connection.call("keys.importRows", [rows]);
    const order = (a: KeyRow, b: KeyRow) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const source = keysChecksum([...rows].sort(order));
    const copied = connection.call<KeyRow[]>("keys.list").sort(order);
    const target = keysChecksum(copied);
    if (copied.length !== rows.length || source !== target) {
      throw new Error(`the API key copy differs from ${file} (keys ${rows.length} vs ${copied.length}, checksum ${source.slice(0, 12)} vs ${target.slice(0, 12)})`);
    }
    return { from: file, keys: rows.length, checksum: source };
  } finally {
    raw.close();
  }
}
