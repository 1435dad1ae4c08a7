/**
 * A `ragtune serve` replica on PostgreSQL rides out a database outage (issue 13, hardening): it
 * answers from the index it holds in memory while the server is down (no request waits on the
 * database, readiness stays green), and after the restart it picks up an ingest made by another
 * process. Real server from test/helpers/postgres.ts, crashed (immediate shutdown) and restarted.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";

describe("serve on Postgres through a database outage", { skip: postgresSkipReason() }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots, durable: true });

  test("answers from memory while Postgres is down, then serves what was ingested after the restart", async () => {
    const url = server.createDatabase("outage");
    const config = `store:\n  kind: postgres\n  url: "${url}"\n`;
    const writer = makeTinyProject(config);
    const replica = makeTinyProject(config);
    roots.push(writer, replica);
    assert.equal((await runCli(["ingest"], writer)).code, 0);
    const served = await startServe(replica, ["--no-auth", "--port", String(await freePort())], 60_000);
    const search = async () => {
      const t0 = Date.now();
      const res = await fetch(`${served.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "trash days", k: 3 }) });
      const body = (await res.json()) as { hits?: { text: string }[] };
      return { status: res.status, ms: Date.now() - t0, text: (body.hits ?? []).map((h) => h.text).join("\n") };
    };
    try {
      const first = await search();
      assert.equal(first.status, 200);
      assert.match(first.text, /60 days/);

      const outage = server.outage(3_000);
      await new Promise((r) => setTimeout(r, 400));
      const during = [await search(), await search(), await search()];
      const ready = await fetch(`${served.url}/readyz`);
      await outage;
      for (const d of during) {
        assert.equal(d.status, 200, "answered during the outage");
        assert.equal(d.text, first.text, "from the index in memory");
        assert.ok(d.ms < 2_000, `without waiting for the database (${d.ms} ms)`);
      }
      assert.equal(ready.status, 200, "still ready: it can answer");

      // After the restart another process ingests a change; the replica serves it.
      const trash = join(writer, "docs/v2/trash.md");
      writeFileSync(trash, readFileSync(trash, "utf8").replace("60 days", "75 days"));
      const ing = await runCli(["ingest"], writer);
      assert.equal(ing.code, 0, ing.stderr);
      const deadline = Date.now() + 10_000;
      let now = await search();
      while (!/75 days/.test(now.text) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        now = await search();
      }
      assert.equal(now.status, 200);
      assert.match(now.text, /75 days/, "the ingest committed after the restart is served");
    } finally {
      served.stop();
    }
  });
});
