/**
 * Per-key limits on a Postgres project hold for the whole fleet (serve/rate-limit-shared.ts,
 * store/postgres/rate-buckets.ts): a key allowed R a minute gets R across replicas, not R each;
 * with the database down each replica falls back to its own buckets. Real server and real
 * `ragtune serve` processes.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { runCli } from "./helpers/cli.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { SharedRateLimiter } from "../src/serve/rate-limit-shared.ts";

describe("shared per-key rate limits on Postgres", { skip: postgresSkipReason() }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots, durable: true });

  test("two limiters on separate connections spend from one bucket; a changed rate applies at once", () => {
    const url = server.createDatabase("rate_unit");
    const ca = PostgresConnection.acquire(url);
    const cb = PostgresConnection.acquire(url, { poolSize: 1 }); // its own worker, as another replica
    try {
      const a = new SharedRateLimiter(ca, 5);
      const b = new SharedRateLimiter(cb, 5);
      const got = Array.from({ length: 8 }, (_, i) => (i % 2 ? b : a).take("k1", Date.now()));
      assert.deepEqual(got.map((r) => r.ok), [true, true, true, true, true, false, false, false], "5 a minute across both");
      const refused = got[5];
      assert.ok(!refused.ok && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 12, JSON.stringify(refused));
      assert.equal(a.take("other", Date.now()).ok, true, "buckets are per key");
      assert.equal(a.take("k1", Date.now(), 600).ok, false, "a raised limit refills at its rate, not at once");
      assert.throws(() => a.take("k1", Date.now(), 0), /rate must be a positive number/);
      assert.equal(a.fallbacks + b.fallbacks, 0);
    } finally {
      ca.release();
      cb.release();
    }
  });

  test("two processes taking from one bucket at the same time never grant more than it holds", async () => {
    const url = server.createDatabase("rate_race");
    const run = () =>
      new Promise<number>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", new URL("./helpers/rate-taker.ts", import.meta.url).pathname, url, "race", "50", "60"], (err, stdout, stderr) =>
          err ? reject(new Error(stderr || err.message)) : resolve(Number(stdout.trim())),
        ),
      );
    const t0 = Date.now();
    const [x, y] = await Promise.all([run(), run()]);
    const refill = Math.ceil((50 * (Date.now() - t0)) / 60_000);
    assert.ok(x + y >= 50, `the bucket's 50 were all used (${x} + ${y})`);
    assert.ok(x + y <= 50 + refill, `${x} + ${y} granted: at most 50 + ${refill} refilled`);
  });

  test("two serve replicas: a key limited to 3 a minute gets 3 answers across both, then 429", async () => {
    const url = server.createDatabase("rate_serve");
    const config = `store:\n  kind: postgres\n  url: "${url}"\n`;
    const [admin, rootA, rootB] = [makeTinyProject(config), makeTinyProject(config), makeTinyProject(config)];
    roots.push(admin, rootA, rootB);
    assert.equal((await runCli(["ingest"], admin)).code, 0);
    const created = await runCli(["keys", "create", "--scope", "query", "--rate-limit", "3"], admin);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split("\n").pop()!;
    const [a, b] = await Promise.all([rootA, rootB].map(async (r) => startServe(r, ["--port", String(await freePort())], 60_000)));
    try {
      const ask = (base: string) =>
        fetch(`${base}/v1/search`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query: "trash" }) });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await ask(i % 2 ? b.url : a.url)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429], "3 across the fleet, not 3 per replica");
      const last = await ask(a.url);
      assert.ok(Number(last.headers.get("retry-after")) >= 1, "Retry-After is set");

      // The database down: each replica answers from its own buckets (3 each) instead of failing.
      server.crashAfter(0);
      await new Promise((r) => setTimeout(r, 1_500));
      const during = [(await ask(a.url)).status, (await ask(b.url)).status];
      server.start();
      assert.deepEqual(during, [200, 200], "per-replica limits during the outage (the key was verified recently)");
    } finally {
      a.stop();
      b.stop();
    }
  });
});
