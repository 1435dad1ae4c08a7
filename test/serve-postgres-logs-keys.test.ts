/**
 * Two `ragtune serve` processes (separate project folders, as on two machines) on one Postgres
 * project, with API keys and the request log in that database: a key made by `ragtune keys create`
 * works on both, a revoke is refused by both at once, requests to both land in one log, feedback
 * sent to replica B for a request A answered updates it, and `ragtune logs list` / `ragtune
 * monitor` from a third process see all of it. Then the server goes down: what a request gets.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { createServeApp } from "../src/serve/index.ts";
import { RECORD_TIMEOUT_MS } from "../src/serve/log-postgres.ts";
import { runCli } from "./helpers/cli.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";

describe("two serve replicas share API keys and the request log on Postgres", { skip: postgresSkipReason() }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  const stops: (() => void)[] = [];
  // Durable: the database crashes mid-test and must keep what was committed before.
  usePostgres((s) => (server = s), { roots, stops, durable: true });

  test("keys, revocation, one log, cross-replica feedback, a third process reads it", async () => {
    const url = server.createDatabase("logs_keys");
    const config = `store:\n  kind: postgres\n  url: "${url}"\n`;
    const [admin, rootA, rootB] = [makeTinyProject(config), makeTinyProject(config), makeTinyProject(config)];
    roots.push(admin, rootA, rootB);
    assert.equal((await runCli(["ingest"], admin)).code, 0);

    const created = await runCli(["keys", "create", "--scope", "query", "--name", "bot"], admin);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split("\n").pop()!;
    assert.match(key, /^rt_[0-9a-f]{12}_/);
    assert.match(created.stderr, /in postgres 127\.0\.0\.1:\d+\/logs_keys \(table api_keys\)/);

    const [a, b] = await Promise.all([rootA, rootB].map(async (r) => startServe(r, ["--port", String(await freePort())], 60_000)));
    stops.push(a.stop, b.stop);
    const ask = (base: string, k: string | undefined, question: string) =>
      fetch(`${base}/v1/ask`, { method: "POST", headers: { "content-type": "application/json", ...(k ? { authorization: `Bearer ${k}` } : {}) }, body: JSON.stringify({ question }) });

    const ra = await ask(a.url, key, "how long until trash is deleted?");
    assert.equal(ra.status, 200, await ra.clone().text());
    const rb = await ask(b.url, key, "when are payments refunded?");
    assert.equal(rb.status, 200);
    assert.equal((await ask(b.url, "rt_000000000000_" + "A".repeat(43), "x")).status, 401);
    const idA = ((await ra.json()) as { requestId: string }).requestId;
    const idB = ((await rb.json()) as { requestId: string }).requestId;

    // Feedback to B for the request A answered.
    const fb = await fetch(`${b.url}/v1/feedback`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ requestId: idA, thumbs: "down", correctedAnswer: "after 60 days" }) });
    assert.equal(fb.status, 200, await fb.clone().text());

    // A third process reads one log with both replicas' requests and the feedback.
    const listed = await runCli(["logs", "list", "--json", "--since", "1h"], admin);
    assert.equal(listed.code, 0, listed.stderr);
    const requests = (JSON.parse(listed.stdout) as { requests: { id: string; feedback: { thumbs: string; correctedAnswer?: string } | null }[] }).requests;
    assert.deepEqual(requests.map((r) => r.id).sort(), [idA, idB].sort());
    assert.deepEqual(requests.find((r) => r.id === idA)!.feedback?.correctedAnswer, "after 60 days");
    const monitor = await runCli(["monitor", "--json", "--since", "1h"], admin);
    assert.equal(monitor.code, 0, monitor.stderr);
    const report = JSON.parse(monitor.stdout) as { window: { requests: number; answered: number } };
    assert.equal(report.window.requests, 2);
    for (const r of [admin, rootA, rootB]) {
      assert.equal(existsSync(join(r, ".ragtune", "requests.db")), false, "no SQLite log on a Postgres project");
      assert.equal(existsSync(join(r, ".ragtune", "keys.db")), false, "no SQLite key store on a Postgres project");
    }

    // Revoke from the third process: both replicas refuse the key on its next request.
    const id = key.slice(3, 15);
    const revoked = await runCli(["keys", "revoke", id], admin);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await ask(a.url, key, "trash?")).status, 401);
    assert.equal((await ask(b.url, key, "trash?")).status, 401);
    const keys = JSON.parse((await runCli(["keys", "list", "--json"], admin)).stdout) as { id: string; revokedAt: string | null }[];
    assert.deepEqual(keys.map((k) => [k.id, k.revokedAt !== null]), [[id, true]]);

    // The database goes down while A serves. A key A verified a moment ago is judged by the row it
    // read (OUTAGE_GRACE_MS): answered from memory, without waiting; the failed log write does not
    // fail it. A key A never saw cannot be checked: an error, fast, not a hang. Once the server is
    // back, A answers and logs again without a restart.
    const second = await runCli(["keys", "create", "--scope", "query"], admin);
    const key2 = second.stdout.trim().split("\n").pop()!;
    const third = await runCli(["keys", "create", "--scope", "query"], admin);
    const unseen = third.stdout.trim().split("\n").pop()!;
    assert.equal((await ask(a.url, key2, "trash?")).status, 200);
    server.crashAfter(0);
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    const down = await ask(a.url, key2, "trash?");
    const downMs = Date.now() - started;
    assert.equal(down.status, 200, `a recently verified key is served through the outage: ${await down.clone().text()}`);
    assert.ok(downMs < 2_000, `answered in ${downMs} ms`);
    assert.equal((await ask(a.url, key, "trash?")).status, 401, "a key revoked before the outage stays refused");
    const t1 = Date.now();
    const unknown = await ask(a.url, unseen, "trash?");
    assert.ok([500, 503].includes(unknown.status), `an unseen key with the database down: ${unknown.status} ${await unknown.text()}`);
    assert.ok(Date.now() - t1 < 15_000, "without hanging");
    server.start();
    let back = 0;
    for (let i = 0; i < 20 && back !== 200; i++) {
      back = (await ask(a.url, key2, "trash again?")).status;
      if (back !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(back, 200, "A recovers once the database is back");
    const after = JSON.parse((await runCli(["logs", "list", "--json", "--since", "1h"], admin)).stdout) as { requests: { query: string }[] };
    assert.ok(after.requests.some((r) => r.query === "trash again?"), "logged again after the outage");
  });

  test("a request log that cannot be written does not fail the request: answered, error logged and counted", async () => {
    // The index on SQLite, the log on Postgres (the server then goes down): isolates the log write.
    const root = makeTinyProject();
    roots.push(root);
    assert.equal((await runCli(["ingest"], root)).code, 0);
    const url = server.createDatabase("log_down");
    const project = openProject(loadConfig(join(root, "ragtune.yaml")));
    (project as { config: unknown }).config = { ...project.config, store: { kind: "postgres", url } };
    const errors: string[] = [];
    const app = createServeApp({ project, logError: (m) => errors.push(m) });
    const ask = () => app.request("/v1/ask", { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify({ question: "how long until trash is deleted?" }) });
    try {
      assert.equal((await ask()).status, 200);
      assert.equal(app.requestLog!.count(), 1);
      server.crashAfter(0);
      await new Promise((r) => setTimeout(r, 1500));
      const started = Date.now();
      const res = await ask();
      assert.equal(res.status, 200, await res.clone().text());
      assert.ok(((await res.json()) as { answer: string }).answer.length > 0);
      assert.ok(Date.now() - started < RECORD_TIMEOUT_MS + 3_000, "bounded by the write timeout");
      assert.match(errors.join("\n"), /could not write request .* to postgres 127\.0\.0\.1:\d+\/log_down \(table requests\)/);
      assert.match(await app.metrics.registry.metrics(), /ragtune_request_log_errors_total 1/);
      server.start();
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) {
        try {
          ok = (await ask()).status === 200 && app.requestLog!.count() >= 2;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      assert.ok(ok, "writes again once the server is back");
    } finally {
      app.close();
      project.close();
    }
  });
});
