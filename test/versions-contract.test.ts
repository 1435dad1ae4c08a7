/**
 * The index versions' contract: one list of cases run on the file backend (SQLite store,
 * `<storeDir>/index-versions/`) and on the Postgres backend (Postgres store, versions in the
 * database) on a real PostgreSQL server (skipped with a message when the binaries are absent).
 * Plus, on Postgres: two processes recording at once get unique, consecutive numbers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type SnapshotSource, type Store } from "../src/store/index.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { FileIndexVersions, KEEP_SNAPSHOTS, type IndexVersions } from "../src/store/versions.ts";
import { PostgresIndexVersions } from "../src/store/versions-postgres.ts";
import { InputError } from "../src/util/errors.ts";
import { upsert } from "./helpers/store-fixtures.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

type Opened = { store: Store & SnapshotSource; versions: IndexVersions; close(): void };

const paths = (s: Store) => s.documents().map((d) => `${d.path}@${d.version}`);

const cases: [string, (open: () => Opened) => void][] = [
  [
    "record: one version per content change (unchanged records nothing, force does); list oldest first; versionOf the newest match",
    (open) => {
      const { store, versions, close } = open();
      try {
        assert.deepEqual(versions.list(), []);
        store.applyIngest({ upserts: [upsert("a.md", 2), upsert("b.md", 1, "v2")], removals: [] });
        const v1 = versions.record(store, { note: "ingest", configHash: "c1" })!;
        assert.equal(v1.version, 1);
        assert.equal(v1.snapshot, "v1.db");
        assert.deepEqual(v1.documentsByVersion, { v1: 1, v2: 1 });
        assert.deepEqual([v1.identity.documents, v1.identity.chunks], [2, 3]);
        assert.equal(versions.record(store, { note: "ingest", configHash: "c1" }), undefined, "same content: nothing recorded");
        store.applyIngest({ upserts: [upsert("c.md", 1)], removals: [] });
        const v2 = versions.record(store, { note: "ingest", configHash: "c2" })!;
        assert.equal(v2.version, 2);
        const v3 = versions.record(store, { note: "forced", configHash: "c2", force: true })!;
        assert.equal(v3.version, 3);
        assert.deepEqual(versions.list().map((v) => [v.version, v.note, v.configHash]), [[1, "ingest", "c1"], [2, "ingest", "c2"], [3, "forced", "c2"]]);
        assert.deepEqual(versions.list()[0], v1);
        assert.equal(versions.versionOf(v2.identity.fingerprint), 3, "the newest version with that content");
        assert.equal(versions.versionOf(v1.identity.fingerprint), 1);
        assert.equal(versions.versionOf("nope"), null);
      } finally {
        close();
      }
    },
  ],
  [
    "rollback restores an earlier state, records the state before (undoable) and after; unknown versions are InputErrors",
    (open) => {
      const { store, versions, close } = open();
      try {
        assert.throws(() => versions.rollback(store, 1, "c"), (e: unknown) => e instanceof InputError && /index version 1 does not exist \(no versions recorded yet/.test(e.message));
        store.applyIngest({ upserts: [upsert("a.md", 2)], removals: [] });
        versions.record(store, { note: "ingest", configHash: "c1" });
        const state1 = { docs: paths(store), chunks: store.chunks() };
        store.applyIngest({ upserts: [upsert("a.md", 1, "v2"), upsert("b.md", 2)], removals: [] });
        versions.record(store, { note: "ingest", configHash: "c2" });
        const state2 = { docs: paths(store), chunks: store.chunks() };
        const gen = store.generation();
        const r = versions.rollback(store, 1, "c2");
        assert.equal(r.restored.version, 1);
        assert.equal(r.saved, undefined, "the state before is v2 already");
        assert.equal(r.now?.version, 3);
        assert.equal(r.now?.note, "rollback to v1");
        assert.equal(r.now?.configHash, "c1", "the restored version's settings");
        assert.deepEqual({ docs: paths(store), chunks: store.chunks() }, state1);
        assert.ok(store.generation() > gen, "readers see the change");
        const back = versions.rollback(store, 2, "c1");
        assert.deepEqual({ docs: paths(store), chunks: store.chunks() }, state2);
        assert.equal(back.now?.version, 4);
        assert.throws(() => versions.rollback(store, 99, "c"), (e: unknown) => e instanceof InputError && /index version 99 does not exist \(versions: v1, v2, v3, v4\)/.test(e.message));
      } finally {
        close();
      }
    },
  ],
  [
    `only the newest ${KEEP_SNAPSHOTS} copies are kept; older versions stay listed, cannot be restored and say so; the oldest kept one still restores`,
    (open) => {
      const { store, versions, close } = open();
      try {
        const states: string[][] = [];
        for (let i = 0; i < KEEP_SNAPSHOTS + 2; i++) {
          store.applyIngest({ upserts: [upsert(`d${i}.md`, 1)], removals: [] });
          versions.record(store, { note: "ingest", configHash: "x" });
          states.push(paths(store));
        }
        const listed = versions.list();
        assert.equal(listed.length, KEEP_SNAPSHOTS + 2);
        assert.deepEqual(listed.map((v) => v.snapshot), [null, null, "v3.db", "v4.db", "v5.db", "v6.db", "v7.db"]);
        assert.throws(
          () => versions.rollback(store, 1, "x"),
          (e: unknown) => e instanceof InputError && /index version 1 has no copy left \(only the newest 5 are kept\); restorable: v3, v4, v5, v6, v7$/.test(e.message),
        );
        // Recording the state before this rollback prunes v3's copy: the restore must still work.
        store.applyIngest({ upserts: [upsert("extra.md", 1)], removals: [] });
        const r = versions.rollback(store, 3, "x");
        assert.equal(r.saved?.version, 8);
        assert.deepEqual(paths(store), states[2]);
        assert.equal(versions.list().filter((v) => v.snapshot).length, KEEP_SNAPSHOTS);
      } finally {
        close();
      }
    },
  ],
];

const skip = postgresSkipReason();
let server: PostgresServer | undefined;
let dbCount = 0;

const backends: { name: string; skip?: string; setup(): Promise<void>; open(): Opened }[] = [
  {
    name: "files (sqlite store)",
    setup: async () => undefined,
    open: () => {
      const file = join(mkdtempSync(join(tmpdir(), "ragtune-verc-")), "index.db");
      const store = openStore(file);
      const versions = new FileIndexVersions(file);
      return { store, versions, close: () => (versions.close(), store.close()) };
    },
  },
  {
    name: "postgres",
    skip,
    setup: async () => {
      server ??= await startPostgres();
    },
    open: () => {
      const store = openPostgresStore(server!.createDatabase(`versions_${dbCount++}`));
      const versions = new PostgresIndexVersions(store.connection);
      return { store, versions, close: () => (versions.close(), store.close()) };
    },
  },
];

after(() => server?.stop());

for (const backend of backends) {
  describe(`index versions contract: ${backend.name}`, { skip: backend.skip }, () => {
    before(() => backend.setup());
    for (const [name, run] of cases) test(name, () => run(() => backend.open()));
  });
}

describe("index versions on postgres: processes", { skip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });

  test("two processes recording at once get unique, consecutive version numbers", async () => {
    const url = server!.createDatabase(`versions_race_${dbCount++}`);
    const seed = openPostgresStore(url);
    seed.applyIngest({ upserts: [upsert("a.md", 3)], removals: [] });
    seed.close();
    const run = () =>
      new Promise<number[]>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", new URL("./helpers/pg-versions-recorder.ts", import.meta.url).pathname, url, "25"], (err, stdout, stderr) =>
          err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout) as number[]),
        ),
      );
    const [a, b] = await Promise.all([run(), run()]);
    const all = [...a, ...b].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i + 1));
    const store = openPostgresStore(url);
    const versions = new PostgresIndexVersions(store.connection);
    try {
      assert.deepEqual(versions.list().map((v) => v.version), all);
      assert.equal(versions.list().filter((v) => v.snapshot).length, KEEP_SNAPSHOTS);
    } finally {
      versions.close();
      store.close();
    }
  });
});
