/**
 * Dense retrieval on `store: {kind: postgres}` through the CLI on a real PostgreSQL 15 (no
 * pgvector: the plain table): ingest embeds into the database (no SQLite file), search and ask
 * return the same dense hits as the SQLite project, answered by the server (`store.vectors.search`
 * server) or from memory, a re-ingest of one changed file embeds only its chunk, and eval's pinned
 * copy (and every index version) carries the vectors.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { PostgresIndexVersions } from "../src/store/versions-postgres.ts";
import { runCli } from "./helpers/cli.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";
import { readSqliteVectors } from "../src/store/postgres/snapshots.ts";

const skip = postgresSkipReason();
const DENSE = `models:\n  embedder: hashing:64\nretrieval:\n  mode: dense\n`;
const PG = (search: string) => `store:\n  kind: postgres\n  urlEnv: RAGTUNE_TEST_PG\n  vectors:\n    search: ${search}\n`;
const NOTICE = /pgvector not installed on 127\.0\.0\.1:\d+\/\w+: vectors kept in a plain table, exact search/g;

describe("dense retrieval on the Postgres store through the CLI", { skip }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots });

  test("ingest, search, ask: the same dense hits as SQLite, from the server or from memory; one changed file re-embeds one chunk; eval pins with vectors", async () => {
    const lite = makeTinyProject(DENSE);
    const pgRoot = makeTinyProject(DENSE + PG("server"));
    const memRoot = makeTinyProject(DENSE + PG("memory"));
    const autoRoot = makeTinyProject(DENSE + PG("auto"));
    roots.push(lite, pgRoot, memRoot, autoRoot);
    const url = server.createDatabase("dense_cli");
    const env = { RAGTUNE_TEST_PG: url };

    const first = await runCli(["ingest", "--json"], pgRoot, env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((first.stderr.match(NOTICE) ?? []).length, 1, `the notice once at start: ${first.stderr}`);
    assert.deepEqual(JSON.parse(first.stdout).embedded.embedded, 3);
    assert.equal(existsSync(join(pgRoot, ".ragtune", "index.db")), false, "no SQLite index for a postgres store");
    assert.equal((await runCli(["ingest"], lite, env)).code, 0);

    const hits = (out: string) => JSON.parse(out).hits.map((h: { id: string; score: number }) => [h.id, h.score.toFixed(5)]);
    for (const q of ["refund annual plan", "deleted cards trash"]) {
      const a = await runCli(["search", q, "--json"], lite, env);
      const b = await runCli(["search", q, "--json"], pgRoot, env);
      const m = await runCli(["search", q, "--json"], memRoot, env);
      const auto = await runCli(["search", q, "--json"], autoRoot, env);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(m.code, 0, m.stderr);
      assert.match(JSON.parse(b.stdout).retriever, /^dense\(hashing:64, server\(hashing:64, dims=64\)\)/, "answered by the database");
      assert.match(JSON.parse(m.stdout).retriever, /^dense\(hashing:64, exact\(dot,dims=64\)\)/, "loaded into memory");
      assert.match(JSON.parse(auto.stdout).retriever, /^dense\(hashing:64, exact\(dot,dims=64\)\)/, "auto without pgvector: in memory");
      assert.ok(hits(a.stdout).length > 0);
      assert.deepEqual(hits(b.stdout), hits(a.stdout), q);
      assert.deepEqual(hits(m.stdout), hits(a.stdout), q);
    }
    const ask = await runCli(["ask", "How long are deleted cards kept in the trash?", "--json"], pgRoot, env);
    assert.equal(ask.code, 0, ask.stderr);
    assert.match(ask.stdout, /docs\/v2\/trash\.md/);

    // change one file: only its chunk is embedded again, the two others keep their vectors
    const trash = join(pgRoot, "docs/v2/trash.md");
    writeFileSync(trash, readFileSync(trash, "utf8").replace("60 days", "90 days"));
    const again = JSON.parse((await runCli(["ingest", "--json"], pgRoot, env)).stdout);
    assert.deepEqual([again.changed, again.embedded.embedded, again.embedded.upToDate], [1, 1, 2]);

    // eval pins a SQLite copy; every snapshot (run copy, index versions) carries the vectors
    const ev = await runCli(["eval", "--variants", "rag"], pgRoot, env);
    assert.equal(ev.code, 0, ev.stderr + ev.stdout);
    // (index versions live in Postgres: each kept copy is fetched and read)
    const connection = PostgresConnection.acquire(url);
    const versions = new PostgresIndexVersions(connection, () => connection.release());
    const dir = mkdtempSync(join(tmpdir(), "ragtune-versions-"));
    try {
      const kept = versions.list().filter((v) => v.snapshot);
      assert.ok(kept.length >= 2, `kept copies: ${kept.length}`);
      for (const v of kept) {
        const file = versions.materialise(v, dir);
        assert.ok(file, `v${v.version} has a copy`);
        assert.equal(readSqliteVectors(file).length, 3, `v${v.version} carries the vectors`);
      }
      assert.ok(!existsSync(join(pgRoot, ".ragtune", "index-versions")), "no version files next to a Postgres project");
    } finally {
      versions.close();
      rmSync(dir, { recursive: true, force: true });
    }

  });
});
