/**
 * API keys for `ragtune serve`, kept in a small SQLite file (`<storeDir>/keys.db` by default).
 *
 * A key reads `rt_<id>_<secret>`: the id (12 hex characters) finds the row with one primary-key
 * lookup, so a presented key is never compared against every stored hash, and a key whose id is
 * unknown costs no hashing at all. The secret is 32 random bytes (256 bits). Only a salted hash of
 * the secret is stored; the plain key is returned once by `createKey` and never stored or logged.
 *
 * Every write is one transaction. A file that is missing (when not creating), not SQLite, or not a
 * ragtune key store is refused with an error naming the file.
 *
 * Two implementations of `ApiKeyStore`: `KeyStore` here (SQLite) and `PostgresKeyStore`
 * (keys-postgres.ts, table `api_keys` in the project's Postgres database, shared by every replica).
 * Both use the same key format, salts and hashes (a row copies between them as is); callers get
 * the one `config.store` names from `openKeyStore` (keys-open.ts).
 */
import crypto from "node:crypto";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { InputError } from "../util/errors.ts";

export type KeyScope = "query" | "admin";
export const KEY_SCOPES: readonly KeyScope[] = ["query", "admin"];

/** What is known about a key; never its secret or hash. */
export interface ApiKeyRecord {
  id: string;
  scope: KeyScope;
  /** A label for people ("support bot"); null when none was given. */
  name: string | null;
  /** Requests a minute this key may make; null means the server's default. */
  rateLimitPerMinute: number | null;
  createdAt: string;
  /** When the key was revoked; null while it is valid. */
  revokedAt: string | null;
}

export interface CreateKeyOptions {
  name?: string;
  rateLimitPerMinute?: number;
}

export interface KeyStoreOptions {
  /** Create the file (and its folder) when missing; otherwise a missing file is an error. */
  create?: boolean;
  now?: () => Date;
}

/** Highest per-key rate accepted (a request every 60 µs): above it a limit means nothing. */
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000;
export const MAX_KEY_NAME_LENGTH = 200;

const ID_BYTES = 6;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;
/** `rt_` + 12 hex id + `_` + 43 base64url characters (32 bytes). Anything else is malformed. */
const KEY_FORMAT = /^rt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** Marks the file as a ragtune key store (SQLite `application_id`, "rtk1"). */
const APPLICATION_ID = 0x72746b31;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('query', 'admin')),
  name TEXT,
  rate_limit_per_minute INTEGER,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);`;

/**
 * The key store's contract, the same on SQLite and Postgres. `verify` reads the key's row on every
 * call (no cache), so a revocation is seen by the next request of every process sharing the store.
 */
export interface ApiKeyStore {
  /** Where the keys live, for messages: a file path, or `postgres <host:port/db> (table api_keys)`. */
  readonly location: string;
  /** A new key. The returned `key` is the only copy of the secret: show it once, then drop it. */
  createKey(scope: KeyScope, opts?: CreateKeyOptions): { key: string; record: ApiKeyRecord };
  /** The record of a valid, unrevoked key, or undefined. */
  verify(presented: string): ApiKeyRecord | undefined;
  /** One key's record (revoked ones included), or undefined. */
  get(id: string): ApiKeyRecord | undefined;
  /** Every key, oldest first (created_at, then id), revoked ones included. */
  list(): ApiKeyRecord[];
  /** Revoke a key (idempotent: revoking twice keeps the first time). Unknown ids are an InputError. */
  revoke(id: string): ApiKeyRecord;
  close(): void;
}

/** A stored key row: what both backends keep (salt and hash as bytes). */
export interface KeyRow {
  id: string;
  scope: KeyScope;
  name: string | null;
  rate_limit_per_minute: number | null;
  salt: Uint8Array;
  hash: Uint8Array;
  created_at: string;
  revoked_at: string | null;
}

export const toRecord = (r: KeyRow): ApiKeyRecord => ({
  id: r.id,
  scope: r.scope,
  name: r.name,
  rateLimitPerMinute: r.rate_limit_per_minute,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/**
 * SHA-256 over a per-key salt and the secret, not scrypt: the secret is 256 random bits, so no
 * work factor is needed against guessing (scrypt protects low-entropy passwords), and a slow hash
 * would add tens of milliseconds of CPU to every authenticated request. The salt keeps two stores
 * (or a precomputed table) from sharing hashes.
 */
export function hashSecret(salt: Uint8Array, secret: string): Buffer {
  return crypto.createHash("sha256").update(salt).update(secret, "utf8").digest();
}

/** The id and secret of a well-formed key, or undefined. Cheap: one anchored regex. */
export function parseKey(presented: string): { id: string; secret: string } | undefined {
  const m = KEY_FORMAT.exec(presented);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

/** Checks `createKey`'s input; the InputErrors are the same on every backend. */
export function checkedCreate(scope: KeyScope, opts: CreateKeyOptions): { name: string | null; rate: number | null } {
  if (!KEY_SCOPES.includes(scope)) throw new InputError(`unknown key scope '${String(scope)}'; expected one of: ${KEY_SCOPES.join(", ")}`);
  const rate = opts.rateLimitPerMinute;
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE_LIMIT_PER_MINUTE)) {
    throw new InputError(`rate limit must be an integer from 1 to ${MAX_RATE_LIMIT_PER_MINUTE} requests a minute, got ${rate}`);
  }
  const name = opts.name?.trim() || null;
  if (name !== null && name.length > MAX_KEY_NAME_LENGTH) throw new InputError(`key name is longer than ${MAX_KEY_NAME_LENGTH} characters`);
  return { name, rate: rate ?? null };
}

/** A fresh secret, salt, hash and candidate id (the store retries the id on a collision). */
export function newSecret(): { secret: string; salt: Buffer; hash: Buffer } {
  const secret = crypto.randomBytes(SECRET_BYTES).toString("base64url");
  const salt = crypto.randomBytes(SALT_BYTES);
  return { secret, salt, hash: hashSecret(salt, secret) };
}

export const newKeyId = (): string => crypto.randomBytes(ID_BYTES).toString("hex");

/** The record when `secret` matches the row and the key is not revoked (constant-time compare). */
export function verifyRow(row: KeyRow | undefined, secret: string): ApiKeyRecord | undefined {
  if (!row) return undefined;
  const actual = hashSecret(row.salt, secret);
  const stored = Buffer.from(row.hash.buffer, row.hash.byteOffset, row.hash.byteLength);
  // Both are SHA-256 digests (32 bytes), as timingSafeEqual requires equal lengths.
  if (stored.length !== actual.length || !crypto.timingSafeEqual(stored, actual)) return undefined;
  if (row.revoked_at !== null) return undefined;
  return toRecord(row);
}

/** The InputError for revoking an id the store does not hold (same wording on every backend). */
export function unknownKeyError(id: string, location: string, known: string[]): InputError {
  return new InputError(`unknown API key id '${id}' in ${location}${known.length ? `; ids: ${known.slice(0, 10).join(", ")}` : "; the store has no keys"}`);
}

/** The InputError for a store no key was ever created in. */
export const noKeyStoreError = (location: string) => new InputError(`no API key store at ${location}; create a key first: ragtune keys create --scope query`);

/** The SQLite key store (`<storeDir>/keys.db`). */
export class KeyStore implements ApiKeyStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private readonly byId: Database.Statement<[string], KeyRow>;

  constructor(file: string, options: KeyStoreOptions = {}) {
    this.file = file;
    this.now = options.now ?? (() => new Date());
    const fresh = !existsSync(file) || statSync(file).size === 0;
    if (fresh && !options.create) throw noKeyStoreError(file);
    if (existsSync(file) && !statSync(file).isFile()) throw new InputError(`the API key store ${file} is not a file`);
    if (fresh) mkdirSync(dirname(file), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (err) {
      throw new InputError(`cannot open the API key store ${file}: ${(err as Error).message}`);
    }
    try {
      db.pragma("busy_timeout = 5000");
      if (fresh) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`application_id = ${APPLICATION_ID}`);
        }).immediate();
        // Hashes only, but still nobody else's business.
        if (process.platform !== "win32") chmodSync(file, 0o600);
      } else if (db.pragma("application_id", { simple: true }) !== APPLICATION_ID) {
        throw new Error("not a ragtune API key store (another SQLite file?)");
      }
    } catch (err) {
      db.close();
      const msg = (err as Error).message;
      throw new InputError(`cannot open the API key store ${file}: ${/not a database/i.test(msg) ? "the file is corrupt or not SQLite" : msg}`);
    }
    this.db = db;
    this.byId = db.prepare<[string], KeyRow>("SELECT * FROM api_keys WHERE id = ?");
  }

  get location(): string {
    return this.file;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A new key. The returned `key` is the only copy of the secret: show it once, then drop it. */
  createKey(scope: KeyScope, opts: CreateKeyOptions = {}): { key: string; record: ApiKeyRecord } {
    const { name, rate } = checkedCreate(scope, opts);
    const { secret, salt, hash } = newSecret();
    const createdAt = this.now().toISOString();
    const insert = this.db.prepare(
      "INSERT INTO api_keys (id, scope, name, rate_limit_per_minute, salt, hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const id = this.db
      .transaction(() => {
        // 48-bit ids: a collision is unlikely but cheap to rule out inside the transaction.
        for (;;) {
          const candidate = newKeyId();
          if (this.byId.get(candidate)) continue;
          insert.run(candidate, scope, name, rate, salt, hash, createdAt);
          return candidate;
        }
      })
      .immediate();
    return { key: `rt_${id}_${secret}`, record: { id, scope, name, rateLimitPerMinute: rate, createdAt, revokedAt: null } };
  }

  /**
   * The record of a valid, unrevoked key, or undefined. A malformed key or an unknown id returns
   * before any hashing; a known id costs one SHA-256 and a constant-time comparison.
   */
  verify(presented: string): ApiKeyRecord | undefined {
    const parsed = parseKey(presented);
    if (!parsed) return undefined;
    return verifyRow(this.byId.get(parsed.id), parsed.secret);
  }

  /** One key's record (revoked ones included), or undefined. */
  get(id: string): ApiKeyRecord | undefined {
    const row = this.byId.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Every key, oldest first, revoked ones included. */
  list(): ApiKeyRecord[] {
    return this.db.prepare<[], KeyRow>("SELECT * FROM api_keys ORDER BY created_at, id").all().map(toRecord);
  }

  /** Revoke a key (idempotent: revoking twice keeps the first time). Unknown ids are an error. */
  revoke(id: string): ApiKeyRecord {
    return this.db
      .transaction(() => {
        const row = this.byId.get(id);
        if (!row) {
          const known = this.db.prepare<[], { id: string }>("SELECT id FROM api_keys").all().map((r) => r.id);
          throw unknownKeyError(id, this.file, known);
        }
        if (row.revoked_at === null) {
          const at = this.now().toISOString();
          this.db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").run(at, id);
          return toRecord({ ...row, revoked_at: at });
        }
        return toRecord(row);
      })
      .immediate();
  }
}
