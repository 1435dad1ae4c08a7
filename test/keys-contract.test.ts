/**
 * The API key store's contract (src/serve/keys.ts `ApiKeyStore`), the same cases on SQLite
 * (`keys.db`) and on Postgres (table `api_keys`, a private real server; skipped with its reason
 * when the binaries are absent). A "replica" is another independent handle (another SQLite
 * connection, another Postgres worker): a revoke through one is refused by the other's next verify.
 * Plus `store migrate` copying keys.db so issued keys keep working.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RagtuneConfig } from "../src/config/index.ts";
import { keyStoreFile, openKeyStore } from "../src/serve/keys-open.ts";
import { migrateKeys, PostgresKeyStore } from "../src/serve/keys-postgres.ts";
import { KeyStore, type ApiKeyStore } from "../src/serve/keys.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { InputError } from "../src/util/errors.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

type ProjectLike = { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> };

interface Backend {
  name: string;
  skip: string | undefined;
  setup(): Promise<void>;
  project(): ProjectLike;
  replica(p: ProjectLike): ApiKeyStore;
}

const pgSkip = postgresSkipReason();
let server: PostgresServer | undefined;
let n = 0;
const dirs: string[] = [];
const tempRoot = () => {
  const d = mkdtempSync(join(tmpdir(), "ragtune-keys-contract-"));
  dirs.push(d);
  return d;
};

const sqlite: Backend = {
  name: "sqlite",
  skip: undefined,
  setup: async () => undefined,
  project: () => ({ root: tempRoot(), config: { store: { kind: "sqlite" }, storeDir: ".ragtune" } as never }),
  replica: (p) => new KeyStore(keyStoreFile(p)),
};

const postgres: Backend = {
  name: "postgres",
  skip: pgSkip,
  setup: async () => {
    server ??= await startPostgres();
  },
  project: () => ({ root: tempRoot(), config: { store: { kind: "postgres", url: server!.createDatabase(`keys_${n++}`) }, storeDir: ".ragtune" } as never }),
  replica: (p) => {
    const c = PostgresConnection.acquire((p.config.store as { url: string }).url, { poolSize: 3 });
    return new PostgresKeyStore(c, { release: () => c.release() });
  },
};

const isInput = (re: RegExp) => (e: Error) => e instanceof InputError && re.test(e.message);

const cases: [string, (b: Backend) => void][] = [
  [
    "a created key verifies (on another replica too); a wrong secret, a malformed key or an unknown id do not",
    (b) => {
      const p = b.project();
      let t = 0;
      const store = openKeyStore(p, { create: true, now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, t++)) });
      const other = b.replica(p);
      try {
        const { key, record } = store.createKey("query", { name: "  bot  ", rateLimitPerMinute: 30 });
        assert.match(key, /^rt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
        assert.deepEqual(record, { id: key.slice(3, 15), scope: "query", name: "bot", rateLimitPerMinute: 30, createdAt: "2025-01-01T00:00:00.000Z", revokedAt: null });
        assert.deepEqual(other.verify(key), record);
        assert.deepEqual(other.get(record.id), record);
        const wrong = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
        assert.equal(other.verify(wrong), undefined);
        assert.equal(other.verify("rt_000000000000_" + key.slice(16)), undefined);
        assert.equal(other.verify("hello"), undefined);
        assert.equal(other.get("000000000000"), undefined);
      } finally {
        store.close();
        other.close();
      }
    },
  ],
  [
    "a revoke through one replica is refused by the other's next verify; revoking twice keeps the first time",
    (b) => {
      const p = b.project();
      let t = 0;
      const store = openKeyStore(p, { create: true, now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, t++)) });
      const other = b.replica(p);
      try {
        const a = store.createKey("admin");
        const q = store.createKey("query");
        assert.ok(store.verify(a.key));
        const revoked = other.revoke(a.record.id);
        assert.ok(revoked.revokedAt);
        assert.equal(store.verify(a.key), undefined, "revoked elsewhere: refused at once");
        assert.ok(store.verify(q.key), "the other key still works");
        assert.equal(store.revoke(a.record.id).revokedAt, revoked.revokedAt);
        assert.equal(store.get(a.record.id)!.revokedAt, revoked.revokedAt);
      } finally {
        store.close();
        other.close();
      }
    },
  ],
  [
    "list is oldest first (created time, then id), revoked keys included; unknown ids name the location and the known ids",
    (b) => {
      const p = b.project();
      const store = openKeyStore(p, { create: true, now: () => new Date(Date.UTC(2025, 0, 1)) });
      try {
        assert.throws(() => store.revoke("abcdefabcdef"), isInput(/^unknown API key id 'abcdefabcdef' in .*; the store has no keys$/));
        const ids = [store.createKey("query"), store.createKey("admin"), store.createKey("query")].map((k) => k.record.id);
        store.revoke(ids[1]);
        assert.deepEqual(store.list().map((r) => r.id), [...ids].sort());
        assert.deepEqual(store.list().map((r) => r.revokedAt !== null), [...ids].sort().map((id) => id === ids[1]));
        assert.throws(() => store.revoke("abcdefabcdef"), isInput(new RegExp(`^unknown API key id 'abcdefabcdef' in ${store.location.replace(/[().]/g, "\\$&")}; ids: ${[...ids].sort().join(", ")}$`)));
      } finally {
        store.close();
      }
    },
  ],
  [
    "bad input is the same InputError on both: scope, rate limit, name length",
    (b) => {
      const store = openKeyStore(b.project(), { create: true });
      try {
        assert.throws(() => store.createKey("root" as never), isInput(/^unknown key scope 'root'; expected one of: query, admin$/));
        assert.throws(() => store.createKey("query", { rateLimitPerMinute: 0 }), isInput(/^rate limit must be an integer from 1 to 1000000 requests a minute, got 0$/));
        assert.throws(() => store.createKey("query", { name: "x".repeat(201) }), isInput(/^key name is longer than 200 characters$/));
        assert.deepEqual(store.list(), []);
      } finally {
        store.close();
      }
    },
  ],
  [
    "no store yet: opening without create is 'no API key store at …' (or undefined with ifMissing); keys create makes it",
    (b) => {
      const p = b.project();
      assert.throws(() => openKeyStore(p, { create: false }), isInput(/^no API key store at .*; create a key first: ragtune keys create --scope query$/));
      assert.equal(openKeyStore(p, { create: false, ifMissing: "undefined" }), undefined);
      openKeyStore(p, { create: true }).close();
      const s = openKeyStore(p, { create: false });
      assert.deepEqual(s.list(), []);
      s.close();
    },
  ],
];

after(() => {
  server?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const backend of [sqlite, postgres]) {
  describe(`API key store contract: ${backend.name}`, { skip: backend.skip }, () => {
    before(() => backend.setup());
    for (const [name, run] of cases) test(name, () => run(backend));
  });
}

describe("store migrate copies keys.db to Postgres", { skip: pgSkip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });
  test("the same salted hashes: keys issued on SQLite verify on Postgres, revocations kept; a second copy is refused", () => {
    const src = sqlite.project();
    const lite = openKeyStore(src, { create: true });
    const keys = [lite.createKey("query", { name: "a", rateLimitPerMinute: 5 }), lite.createKey("admin"), lite.createKey("query")];
    lite.revoke(keys[2].record.id);
    const before = lite.list();
    lite.close();
    const dst = postgres.project();
    const c = PostgresConnection.acquire((dst.config.store as { url: string }).url);
    try {
      const report = migrateKeys(keyStoreFile(src), c)!;
      assert.equal(report.keys, 3);
      const pgs = openKeyStore(dst, { create: false });
      try {
        assert.deepEqual(pgs.list(), before);
        assert.deepEqual(pgs.verify(keys[0].key), keys[0].record);
        assert.deepEqual(pgs.verify(keys[1].key), keys[1].record);
        assert.equal(pgs.verify(keys[2].key), undefined, "revoked stays revoked");
      } finally {
        pgs.close();
      }
      assert.throws(() => migrateKeys(keyStoreFile(src), c), /already holds 3 API keys/);
    } finally {
      c.release();
    }
  });
});
