/**
 * `store: {kind: postgres}` end to end: `ragtune ingest` and `ragtune search` on a real PostgreSQL
 * (test/helpers/postgres.ts) give the same results as on SQLite; a bad URL or an unreachable
 * server is exit 2 naming the config field and carrying the server's message.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";

const skip = postgresSkipReason();

describe("store kind postgres through the CLI", { skip }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots });

  test("ingest then search: same hits as the SQLite store, and the index is in Postgres, not in storeDir", async () => {
    const lite = makeTinyProject();
    const pgRoot = makeTinyProject(`store:\n  kind: postgres\n  urlEnv: RAGTUNE_TEST_PG\n`);
    roots.push(lite, pgRoot);
    const env = { RAGTUNE_TEST_PG: server.createDatabase("cli_e2e") };
    for (const root of [lite, pgRoot]) {
      const r = await runCli(["ingest"], root, env);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(existsSync(join(pgRoot, ".ragtune", "index.db")), false, "no SQLite index written for a postgres store");
    for (const q of ["refund annual plan", "trash retention days"]) {
      const a = await runCli(["search", q, "--json"], lite, env);
      const b = await runCli(["search", q, "--json"], pgRoot, env);
      assert.equal(b.code, 0, b.stderr);
      assert.ok(JSON.parse(a.stdout).hits.length > 0, a.stdout);
      assert.equal(b.stdout, a.stdout, q);
    }
    // Re-ingest with no change is incremental there too: nothing re-chunked.
    const again = await runCli(["ingest", "--json"], pgRoot, env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([JSON.parse(again.stdout).changed, JSON.parse(again.stdout).unchanged], [0, 3]);
  });

  test("eval pins a SQLite copy of the Postgres index and completes; ingest records index versions, rollback restores one", async () => {
    const root = makeTinyProject(`store:\n  kind: postgres\n  urlEnv: RAGTUNE_TEST_PG\nvariants: [prompt-only, rag]\n`);
    roots.push(root);
    const env = { RAGTUNE_TEST_PG: server.createDatabase("cli_eval") };
    const hits = async () => (JSON.parse((await runCli(["search", "most 500 cards", "--json", "--raw"], root, env)).stdout).hits as unknown[]).map((h) => JSON.stringify(h));
    assert.equal((await runCli(["ingest"], root, env)).code, 0);
    const ev = await runCli(["eval"], root, env);
    assert.equal(ev.code, 0, ev.stderr + ev.stdout);
    // A second ingest after a change records another version; rollback to v1 restores the first state.
    appendFileSync(join(root, "docs/v2/trash.md"), "\n## Limits\n\nThe trash holds at most 500 cards per board.\n");
    assert.equal((await runCli(["ingest"], root, env)).code, 0);
    assert.equal((await hits()).filter((h) => h.includes("500 cards")).length, 1, "the new section is indexed");
    const versions = JSON.parse((await runCli(["index", "versions", "--json"], root, env)).stdout);
    assert.deepEqual(versions.versions.map((v: { version: number }) => v.version), [1, 2]);
    assert.equal(versions.live.fingerprint, versions.versions[1].identity.fingerprint);
    const rb = await runCli(["index", "rollback", "1"], root, env);
    assert.equal(rb.code, 0, rb.stderr);
    const after = JSON.parse((await runCli(["index", "versions", "--json"], root, env)).stdout);
    assert.equal(after.live.fingerprint, versions.versions[0].identity.fingerprint);
    assert.equal((await hits()).filter((h) => h.includes("500 cards")).length, 0, "the rolled-back section is gone");
  });

  test("store migrate copies a SQLite project losslessly, verified; the migrated project answers the same; a non-empty target is refused", async () => {
    const root = makeTinyProject();
    roots.push(root);
    assert.equal((await runCli(["ingest"], root)).code, 0);
    const url = server.createDatabase("cli_migrate");
    const m = await runCli(["store", "migrate", "--to", url, "--json"], root);
    assert.equal(m.code, 0, m.stderr);
    const report = JSON.parse(m.stdout);
    assert.ok(report.source.chunks > 0);
    assert.deepEqual(
      [report.target.documents, report.target.chunks, report.target.checksum, report.target.fingerprint],
      [report.source.documents, report.source.chunks, report.source.checksum, report.source.fingerprint],
    );
    assert.ok(report.meta.includes("chunking_hash"), `index settings copied: ${report.meta}`);
    const before = await runCli(["search", "refund annual plan", "--json"], root);
    appendFileSync(join(root, "ragtune.yaml"), `store:\n  kind: postgres\n  url: "${url}"\n`);
    const afterSearch = await runCli(["search", "refund annual plan", "--json"], root);
    assert.equal(afterSearch.code, 0, afterSearch.stderr);
    assert.equal(afterSearch.stdout, before.stdout);
    // Nothing to re-index after the move: the copied chunking settings and hashes match.
    const ingest = await runCli(["ingest", "--json"], root);
    assert.equal(ingest.code, 0, ingest.stderr);
    const stats = JSON.parse(ingest.stdout);
    assert.deepEqual([stats.added, stats.changed, stats.removed, stats.unchanged], [0, 0, 0, 3]);
    const again = await runCli(["store", "migrate", "--to", url, "--from", join(root, ".ragtune", "index.db")], root);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds 3 documents/);
  });

  test("an unreachable server and a wrong scheme are exit 2, naming the field and the cause", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = makeTinyProject(`store:\n  kind: postgres\n  url: "postgres://ragtune:secret@127.0.0.1:${port}/x"\n`);
    const scheme = makeTinyProject(`store:\n  kind: postgres\n  url: "mysql://127.0.0.1/x"\n`);
    const missingDb = makeTinyProject(`store:\n  kind: postgres\n  url: "${server.url.replace(/\/postgres$/, "/no_such_db")}"\n`);
    roots.push(down, scheme, missingDb);
    const r1 = await runCli(["ingest"], down);
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /store\.url: cannot open the Postgres store at postgres:\/\/ragtune@127\.0\.0\.1:\d+\/x: .*ECONNREFUSED/);
    assert.doesNotMatch(r1.stderr, /secret/, "the password is not printed");
    const r2 = await runCli(["ingest"], scheme);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /store\.url: .*is not a postgres:\/\/ URL/);
    const r3 = await runCli(["ingest"], missingDb);
    assert.equal(r3.code, 2, r3.stderr);
    assert.match(r3.stderr, /database "no_such_db" does not exist/);
  });
});

test("store.kind postgres without url or urlEnv is a config error", async () => {
  const root = makeTinyProject(`store:\n  kind: postgres\n`);
  try {
    const r = await runCli(["ingest"], root);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /store.*needs store\.url or store\.urlEnv/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
