import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openStore } from "../src/store/index.ts";
import { KEEP_SNAPSHOTS, listIndexVersions, recordIndexVersion, rollbackIndex, versionsDir } from "../src/store/versions.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";
import { testChunk } from "./helpers/chunks.ts";

test("every ingest that changes the index records a version; rollback restores retrieval, not the model registry, and can be undone", async () => {
  const dir = makeTinyProject();
  try {
    const index = join(dir, ".ragtune", "index.db");
    let r = await runCli(["ingest"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /index version v1 recorded/);
    r = await runCli(["ingest"], dir);
    assert.doesNotMatch(r.stdout, /index version/, "an unchanged re-ingest records nothing");
    appendFileSync(join(dir, "docs/v2/trash.md"), "\n## Emptying\n\nAdmins can empty the trash with the purge button.\n");
    r = await runCli(["ingest"], dir);
    assert.match(r.stdout, /index version v2 recorded/);
    assert.deepEqual(listIndexVersions(index).map((v) => [v.version, v.note]), [[1, "ingest"], [2, "ingest"]]);

    // Something outside retrieval lives in the same file (the model registry does).
    const db = new Database(index);
    db.exec("CREATE TABLE IF NOT EXISTS keep_me (x TEXT); INSERT INTO keep_me VALUES ('model row')");
    db.close();

    const before = await runCli(["search", "purge button", "--json"], dir);
    assert.match(before.stdout, /with the purge button\./);
    r = await runCli(["index", "rollback", "v1"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /index rolled back to v1/);
    assert.match(r.stdout, /models are untouched/);
    const after = await runCli(["search", "purge button", "--json"], dir);
    assert.doesNotMatch(after.stdout, /with the purge button\./, "v1 did not have the new section");
    const check = new Database(index, { readonly: true });
    assert.deepEqual(check.prepare("SELECT x FROM keep_me").all(), [{ x: "model row" }]);
    check.close();

    const listed = await runCli(["index", "versions"], dir);
    assert.match(listed.stdout, /v3 .*rollback to v1.*← live/);
    // Undo: v2 is still there and restorable.
    r = await runCli(["index", "rollback", "2"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await runCli(["search", "purge button", "--json"], dir)).stdout, /with the purge button\./);

    r = await runCli(["index", "rollback", "99"], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /index version 99 does not exist \(versions: v1, v2, v3, v4\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("only the newest copies are kept; an older version stays listed and says it cannot be restored", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-versions-"));
  try {
    const file = join(dir, "index.db");
    const store = openStore(file);
    for (let i = 0; i < KEEP_SNAPSHOTS + 2; i++) {
      store.applyIngest({ upserts: [{ doc: { path: `d${i}.md`, hash: `h${i}`, version: "v1", title: `D${i}`, bytes: 1, chunks: 1, ingestedAt: "" }, chunks: [testChunk(`d${i}.md#0`, `text ${i}`, { path: `d${i}.md` })] }], removals: [] });
      recordIndexVersion(store, file, { note: "ingest", configHash: "x", force: true });
    }
    const versions = listIndexVersions(file);
    assert.equal(versions.length, KEEP_SNAPSHOTS + 2);
    assert.deepEqual(versions.slice(0, 2).map((v) => v.snapshot), [null, null]);
    assert.ok(!existsSync(join(versionsDir(file), "v1.db")));
    assert.ok(versions.slice(2).every((v) => v.snapshot && existsSync(join(versionsDir(file), v.snapshot))));
    assert.throws(() => rollbackIndex(store, file, 1, "x"), /index version 1 has no copy left \(only the newest 5 are kept\); restorable: v3, v4/);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
