/**
 * The Postgres services' shared table creation and version check (store/postgres/schema.ts), on
 * PGlite: each service creates its tables twice without error (replicas starting together), and
 * refuses tables a newer ragtune wrote with a message naming them and the version found.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { pgliteDatabase, type SqlDatabase } from "../src/store/postgres/executor.ts";
import { AsyncKeyStore } from "../src/store/postgres/keys.ts";
import { AsyncRequestLog } from "../src/store/postgres/requests.ts";
import { AsyncPostgresRegistry } from "../src/store/postgres/registry.ts";
import { AsyncPostgresVersions } from "../src/store/postgres/versions.ts";

async function withDb(fn: (db: SqlDatabase) => Promise<void>): Promise<void> {
  const db = pgliteDatabase(new PGlite());
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

test("key store and request log: created once, an absent store is not created by exists(), a newer or garbled schema_version is refused", async () => {
  await withDb(async (db) => {
    assert.equal(await new AsyncKeyStore(db).exists(), false);
    assert.equal(await new AsyncRequestLog(db).exists(), false);
    await new AsyncKeyStore(db).ensure();
    await new AsyncKeyStore(db).ensure();
    await new AsyncRequestLog(db).ensure();
    await new AsyncRequestLog(db).ensure();
    assert.deepEqual((await db.query("SELECT value FROM api_keys_meta WHERE key = 'schema_version'")).rows, [{ value: "1" }]);
    assert.deepEqual((await db.query("SELECT value FROM requests_meta WHERE key = 'schema_version'")).rows, [{ value: "1" }]);
    assert.equal(await new AsyncKeyStore(db).exists(), true);
    await db.query("UPDATE api_keys_meta SET value = '99'");
    await db.query("UPDATE requests_meta SET value = 'x'");
    await assert.rejects(new AsyncKeyStore(db).exists(), /^Error: the API key store was written by a newer ragtune \(api_keys schema_version 99, this ragtune reads up to 1\)$/);
    await assert.rejects(new AsyncKeyStore(db).ensure(), /api_keys schema_version 99/);
    await assert.rejects(new AsyncRequestLog(db).ensure(), /^Error: the request log was written by a newer ragtune \(requests schema_version x, this ragtune reads up to 1\)$/);
  });
});

test("model registry and index versions: one version row written once, a newer one refused", async () => {
  await withDb(async (db) => {
    await AsyncPostgresRegistry.open(db);
    await AsyncPostgresRegistry.open(db);
    await AsyncPostgresVersions.open(db);
    await AsyncPostgresVersions.open(db);
    assert.deepEqual((await db.query("SELECT version FROM ft_schema")).rows, [{ version: 1 }]);
    assert.deepEqual((await db.query("SELECT version FROM index_versions_schema")).rows, [{ version: 1 }]);
    await db.query("UPDATE ft_schema SET version = 7");
    await db.query("UPDATE index_versions_schema SET version = 8");
    await assert.rejects(AsyncPostgresRegistry.open(db), /^Error: the database's model registry was written by a newer ragtune \(registry schema 7, this ragtune reads up to 1\)$/);
    await assert.rejects(AsyncPostgresVersions.open(db), /^Error: the database's index versions were written by a newer ragtune \(versions schema 8, this ragtune reads up to 1\)$/);
  });
});
