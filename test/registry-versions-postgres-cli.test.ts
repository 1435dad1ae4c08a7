/**
 * The model registry and index versions of a Postgres project through the CLI: what one project
 * folder (one machine) records, another folder on the same database — with no `<storeDir>` files
 * of its own — lists, rolls back and promotes; and `store migrate` carries both over, verified.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { PostgresModelRegistry } from "../src/finetune/registry-postgres.ts";
import { SqliteModelRegistry, type ModelRegistry } from "../src/finetune/registry.ts";
import type { TrainedArtifact } from "../src/finetune/index.ts";
import { RequestLog } from "../src/serve/log.ts";

const skip = postgresSkipReason();
const PG_CONFIG = `store:\n  kind: postgres\n  urlEnv: RAGTUNE_TEST_PG\n`;
const artifact: TrainedArtifact = { trainer: "classifier", task: "classify", artifact: "/tmp/m", baseModel: "none", metrics: { accuracy: 0.9 }, config: {} };

function seedModels(reg: ModelRegistry): string[] {
  try {
    return [0, 1].map(() => reg.register(artifact, { datasetHash: "h" }).id);
  } finally {
    reg.close();
  }
}

describe("registry and index versions of a Postgres project, across folders and processes", { skip }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots });

  test("ingest twice in one folder: another folder lists both versions and rolls back; models promoted in one are seen in the other", async () => {
    const a = makeTinyProject(PG_CONFIG);
    const b = makeTinyProject(PG_CONFIG);
    roots.push(a, b);
    const env = { RAGTUNE_TEST_PG: server.createDatabase("cli_reg_versions") };
    assert.equal((await runCli(["ingest"], a, env)).code, 0);
    appendFileSync(join(a, "docs/v2/trash.md"), "\n## Limits\n\nThe trash holds at most 500 cards per board.\n");
    const second = await runCli(["ingest"], a, env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /index version v2 recorded/);
    assert.equal(existsSync(join(a, ".ragtune", "index-versions")), false, "versions are in Postgres, not in storeDir");
    assert.equal(existsSync(join(b, ".ragtune", "index-versions")), false);

    const listed = await runCli(["index", "versions", "--json"], b, env);
    assert.equal(listed.code, 0, listed.stderr);
    const versions = JSON.parse(listed.stdout);
    assert.deepEqual(versions.versions.map((v: { version: number; note: string; snapshot: string | null }) => [v.version, v.note, v.snapshot]), [[1, "ingest", "v1.db"], [2, "ingest", "v2.db"]]);
    assert.equal(versions.live.fingerprint, versions.versions[1].identity.fingerprint);
    const hits = async (root: string) => JSON.parse((await runCli(["search", "most 500 cards", "--json", "--raw"], root, env)).stdout).hits as { text: string }[];
    assert.equal((await hits(b)).filter((h) => h.text.includes("500 cards")).length, 1);
    const rb = await runCli(["index", "rollback", "1"], b, env);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /index rolled back to v1/);
    assert.equal((await hits(a)).filter((h) => h.text.includes("500 cards")).length, 0, "folder a serves the rolled-back index");
    const after = JSON.parse((await runCli(["index", "versions", "--json"], a, env)).stdout);
    assert.deepEqual(after.versions.map((v: { note: string }) => v.note), ["ingest", "ingest", "rollback to v1"]);
    assert.equal(after.live.fingerprint, versions.versions[0].identity.fingerprint);
    const missing = await runCli(["index", "rollback", "9"], a, env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /index version 9 does not exist \(versions: v1, v2, v3\)/);

    // Models: registered by this process, promoted from folder a, seen and rolled back from folder b.
    const c = PostgresConnection.acquire(env.RAGTUNE_TEST_PG);
    const [m1, m2] = seedModels(new PostgresModelRegistry(c, { release: () => c.release() }));
    for (const id of [m1, m2]) {
      const p = await runCli(["models", "promote", id, "--force", "--reason", "cli test"], a, env);
      assert.equal(p.code, 0, p.stderr);
    }
    const seen = JSON.parse((await runCli(["models", "list", "--json"], b, env)).stdout) as { id: string; status: string }[];
    assert.deepEqual(Object.fromEntries(seen.map((m) => [m.id, m.status])), { [m1]: "retired", [m2]: "promoted" });
    const back = await runCli(["models", "rollback", "--task", "classify", "--json"], b, env);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(JSON.parse(back.stdout).retired, m2);
    const shown = JSON.parse((await runCli(["models", "show", m1, "--json"], a, env)).stdout);
    assert.equal(shown.status, "promoted");
    assert.deepEqual(shown.history.map((e: { action: string }) => e.action), ["promote", "promote", "rollback"]);
    const refused = await runCli(["models", "rollback", "--task", "classify"], a, env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /nothing to roll back to/);
    assert.equal(existsSync(join(a, ".ragtune", "index.db")), false, "no SQLite registry written");
  });

  test("store migrate copies the registry and the index versions, verified; the migrated project lists and rolls back", async () => {
    const root = makeTinyProject();
    roots.push(root);
    assert.equal((await runCli(["ingest"], root)).code, 0);
    appendFileSync(join(root, "docs/v2/trash.md"), "\n## Limits\n\nThe trash holds at most 500 cards per board.\n");
    assert.equal((await runCli(["ingest"], root)).code, 0);
    const index = join(root, ".ragtune", "index.db");
    const [m1] = seedModels(new SqliteModelRegistry(index));
    assert.equal((await runCli(["models", "promote", m1, "--force", "--reason", "seed"], root)).code, 0);
    // A key and a logged request next to the index: migrate carries them too.
    const created = await runCli(["keys", "create", "--scope", "query", "--name", "ci"], root);
    assert.equal(created.code, 0, created.stderr);
    const log = new RequestLog(join(root, ".ragtune", "requests.db"));
    log.record({ id: "r1", time: new Date().toISOString(), route: "/v1/ask", status: 200, query: "how long is the trash kept?", retrieved: [], answer: "60 days", confidence: 0.9, fallback: false, support: 1, latencyMs: 5, inputTokens: 10, outputTokens: 3, costUsd: null, model: "offline:extractive", indexGeneration: 1, indexFingerprint: "f" });
    log.close();
    const url = server.createDatabase("cli_reg_migrate");
    const m = await runCli(["store", "migrate", "--to", url, "--json"], root);
    assert.equal(m.code, 0, m.stderr);
    const report = JSON.parse(m.stdout) as { requestLog?: { requests: number }; keys?: { keys: number } };
    assert.equal(report.requestLog?.requests, 1);
    assert.equal(report.keys?.keys, 1);
    const copied = JSON.parse(m.stdout).copied as { name: string; counts: Record<string, number> }[];
    assert.deepEqual(copied.map((p) => [p.name, p.counts]), [
      ["model registry", { models: 2, promotions: 1 }],
      ["index versions", { versions: 2, copies: 2 }],
      // The seeded models' artifact /tmp/m does not exist: nothing to store, counted.
      ["model artifacts", { artifacts: 0, bytes: 0, "folders not found": 2, "over the limit": 0 }],
    ]);
    const text = await runCli(["store", "migrate", "--to", server.createDatabase("cli_reg_migrate2")], root);
    assert.match(text.stdout, /copied model registry: 2 models, 1 promotions; verified/);
    const sqliteVersions = JSON.parse((await runCli(["index", "versions", "--json"], root)).stdout).versions;
    appendFileSync(join(root, "ragtune.yaml"), `store:\n  kind: postgres\n  url: "${url}"\n`);
    rmSync(join(root, ".ragtune"), { recursive: true, force: true });
    const pgVersions = JSON.parse((await runCli(["index", "versions", "--json"], root)).stdout).versions;
    assert.deepEqual(pgVersions, sqliteVersions, "entries copied unchanged");
    const models = JSON.parse((await runCli(["models", "list", "--json"], root)).stdout) as { id: string; status: string }[];
    assert.equal(models.find((x) => x.id === m1)?.status, "promoted");
    const rb = await runCli(["index", "rollback", "1"], root);
    assert.equal(rb.code, 0, rb.stderr);
    const keys = JSON.parse((await runCli(["keys", "list", "--json"], root)).stdout) as { name: string | null }[];
    assert.deepEqual(keys.map((k) => k.name), ["ci"], "the key is in Postgres");
    const logs = JSON.parse((await runCli(["logs", "list", "--json", "--since", "1h"], root)).stdout) as { requests: { query: string }[] };
    assert.deepEqual(logs.requests.map((r) => r.query), ["how long is the trash kept?"], "the request log is in Postgres");
    assert.ok(!existsSync(join(root, ".ragtune", "keys.db")) && !existsSync(join(root, ".ragtune", "requests.db")), "and no files were written back");
  });
});
