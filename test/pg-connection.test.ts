/**
 * The process's shared Postgres connection (src/store/postgres/connection.ts): one worker per
 * URL for every service, released with its last user, and reconnecting on its own after a call
 * timed out (the worker is stopped then, so a late reply cannot be taken for the next call's).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

const skip = postgresSkipReason();

describe("postgres connection", { skip }, () => {
  let server: PostgresServer | undefined;
  let n = 0;
  before(async () => {
    server = await startPostgres({ durable: true });
  });
  after(async () => {
    await server?.stop();
  });

  test("two stores on one URL share one connection; it closes with the last", () => {
    const url = server!.createDatabase(`conn_${n++}`);
    const a = openPostgresStore(url);
    const b = openPostgresStore(url);
    assert.equal(a.connection, b.connection, "one worker for both");
    a.applyIngest({ upserts: [], removals: [], meta: { k: "v" } });
    a.close();
    assert.throws(() => a.generation(), /store at .* is closed/);
    assert.equal(b.getMeta("k"), "v", "the other user keeps working");
    b.close();
    assert.throws(() => b.connection.call("store.generation"), /closed/);
    const c = openPostgresStore(url);
    assert.notEqual(c.connection, a.connection, "a new connection after the last release");
    assert.equal(c.getMeta("k"), "v");
    c.close();
  });

  test("a call that times out fails clearly; the next call reconnects and works", async () => {
    const url = server!.createDatabase(`conn_${n++}`);
    const store = openPostgresStore(url, { timeoutMs: 1_000 });
    const before = store.generation();
    const locker = new pg.Client(url);
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE meta IN ACCESS EXCLUSIVE MODE");
      assert.throws(() => store.generation(), /no answer to store\.generation within 1 s/);
      await locker.query("ROLLBACK");
      assert.equal(store.generation(), before, "answered by a new worker");
      assert.equal(store.connection.reconnects, 1);
      store.applyIngest({ upserts: [], removals: [] });
      assert.equal(store.generation(), before + 1);
    } finally {
      await locker.end();
      store.close();
    }
  });

  test("a server that is gone fails each call with its message; back up, the next call works", async () => {
    const url = server!.createDatabase(`conn_${n++}`);
    const store = openPostgresStore(url, { timeoutMs: 2_000, startTimeoutMs: 5_000, connectTimeoutMs: 1_000 });
    try {
      const gen = store.generation();
      server!.crashAfter(0);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.throws(() => store.generation(), /ECONNREFUSED|terminat|connect|closed the connection|shutting down/i);
      server!.start();
      let value: number | undefined;
      const errors: string[] = [];
      for (let i = 0; i < 3 && value === undefined; i++) {
        try {
          value = store.generation();
        } catch (err) {
          // a pooled connection cut by the restart is dropped on its first use
          errors.push((err as Error).message);
        }
      }
      assert.equal(value, gen, errors.join(" | "));
    } finally {
      store.close();
    }
  });

  test("an unknown service or method is a clear error", () => {
    const url = server!.createDatabase(`conn_${n++}`);
    const c = PostgresConnection.acquire(url);
    try {
      assert.throws(() => c.call("nosuch.method"), /no Postgres service named nosuch; known: store/);
      assert.throws(() => c.call("store.nosuch"), /service store has no method nosuch/);
      assert.throws(() => c.call("generation"), /"<service>\.<method>"/);
    } finally {
      c.release();
    }
  });
});
