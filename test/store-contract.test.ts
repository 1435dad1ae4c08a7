/**
 * The shared store tests: one list of contract cases run against the SQLite store and against the
 * Postgres store on a real PostgreSQL server (test/helpers/postgres.ts; skipped with a message
 * when the server binaries are absent). Plus replica visibility on Postgres: a second connection
 * sees the old or the new index while a batch commits, never a mix.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStore, type SnapshotSource, type Store } from "../src/store/index.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { hasLexicalStats, LEXICAL_ANALYZER } from "../src/retrieve/lexical-cache.ts";
import { chunk, doc, indexState, upsert } from "./helpers/store-fixtures.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

type Identified = Store & SnapshotSource;
type Open = () => Identified;

const BM25 = { k1: 1.2, b: 0.75, headingBoost: 2, rerankTokens: true };

const cases: [string, (open: Open) => void][] = [
  [
    "upsert, replace and remove: documents and chunks come back exactly, ordered by path then ordinal",
    (open) => {
      const s = open();
      s.applyIngest({ upserts: [upsert("b.md", 2), upsert("a.md", 3)], removals: [] });
      assert.deepEqual(s.documents().map((d) => [d.path, d.chunks]), [["a.md", 3], ["b.md", 2]]);
      assert.deepEqual(s.chunks().map((c) => c.id), ["a.md#0", "a.md#1", "a.md#2", "b.md#0", "b.md#1"]);
      assert.deepEqual(s.chunk("a.md#1"), chunk("a.md", 1));
      assert.deepEqual(s.documents()[0], { ...doc("a.md", 3, "v1", "h-a.md-v1") });
      // Replace a.md with one chunk: its old chunks are gone; the stored count is what was inserted.
      s.applyIngest({ upserts: [{ doc: doc("a.md", 99, "v2"), chunks: [chunk("a.md", 0, "v2")] }], removals: [] });
      assert.deepEqual(s.chunks().map((c) => c.id), ["a.md#0", "b.md#0", "b.md#1"]);
      assert.equal(s.chunk("a.md#0")!.version, "v2");
      assert.equal(s.documents()[0].chunks, 1);
      assert.equal(s.chunk("a.md#2"), undefined);
      s.applyIngest({ upserts: [], removals: ["b.md"] });
      assert.deepEqual(s.documents().map((d) => d.path), ["a.md"]);
      assert.deepEqual(s.chunks().map((c) => c.id), ["a.md#0"]);
    },
  ],
  [
    "text round-trips byte for byte (quotes, braces, commas, backslashes, unicode) and order is byte order",
    (open) => {
      const s = open();
      const nasty = `he said "{a,b}" \\ 'x' , NULL ; \u00e9\u4e2d\ud83d\ude00 \t end`;
      const paths = ["Z.md", "a.md", "\u00e9.md", "_.md"];
      s.applyIngest({
        upserts: paths.map((p) => ({ doc: doc(p, 1), chunks: [chunk(p, 0, "v1", { text: nasty, headingPath: ["{x}", "a,b", '"q"'], meta: { tags: ["t,1", "{}"], nested: { k: [1, null] } }, spans: [{ start: 0, end: 3, line: 1 } as never] })] })),
        removals: [],
      });
      assert.deepEqual(s.documents().map((d) => d.path), [...paths].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
      const c = s.chunk("\u00e9.md#0")!;
      assert.equal(c.text, nasty);
      assert.deepEqual(c.headingPath, ["{x}", "a,b", '"q"']);
      assert.deepEqual(c.meta, { tags: ["t,1", "{}"], nested: { k: [1, null] } });
      assert.deepEqual(c.spans, [{ start: 0, end: 3, line: 1 }]);
    },
  ],
  [
    "a failing batch leaves the previous state, and its generation",
    (open) => {
      const s = open();
      s.applyIngest({ upserts: [upsert("a.md", 2)], removals: [], meta: { chunking_hash: "c1" } });
      const before = { docs: s.documents(), chunks: s.chunks(), gen: s.generation(), meta: s.getMeta("chunking_hash") };
      const bad = { doc: doc("c.md", 1), chunks: [chunk("elsewhere.md", 0)] };
      assert.throws(() => s.applyIngest({ upserts: [upsert("a.md", 1, "v9"), upsert("b.md", 2), bad], removals: [], meta: { chunking_hash: "c2" } }), /belongs to document c\.md/);
      assert.deepEqual({ docs: s.documents(), chunks: s.chunks(), gen: s.generation(), meta: s.getMeta("chunking_hash") }, before);
    },
  ],
  [
    "onDocumentError rolls back the failing document alone (its previous version stays) and commits the rest",
    (open) => {
      const s = open();
      s.applyIngest({ upserts: [upsert("c.md", 1)], removals: [] });
      const failed: [string, string][] = [];
      s.applyIngest({
        upserts: [upsert("a.md", 2), { doc: doc("c.md", 1, "v2"), chunks: [chunk("other.md", 0, "v2")] }, upsert("b.md", 1)],
        removals: [],
        onDocumentError: (path, err) => failed.push([path, err.message]),
      });
      assert.equal(failed.length, 1);
      assert.equal(failed[0][0], "c.md");
      assert.match(failed[0][1], /belongs to document c\.md/);
      assert.deepEqual(s.chunks().map((c) => `${c.id}@${c.version}`), ["a.md#0@v1", "a.md#1@v1", "b.md#0@v1", "c.md#0@v1"]);
    },
  ],
  [
    "the generation starts at 0 and grows by one per batch; meta is recorded in the batch",
    (open) => {
      const s = open();
      assert.equal(s.generation(), 0);
      s.applyIngest({ upserts: [upsert("a.md", 1)], removals: [], meta: { chunking_hash: "x", other: "1" } });
      assert.equal(s.generation(), 1);
      s.applyIngest({ upserts: [], removals: [], meta: { other: "2" } });
      assert.equal(s.generation(), 2);
      assert.equal(s.getMeta("chunking_hash"), "x");
      assert.equal(s.getMeta("other"), "2");
      assert.equal(s.getMeta("missing"), undefined);
    },
  ],
  [
    "filters: versions (an empty list keeps nothing), path prefix, globs and tags",
    (open) => {
      const s = open();
      const tagged = (path: string, version: string, tags: string[]) => ({ doc: doc(path, 1, version), chunks: [chunk(path, 0, version, { meta: { tags } })] });
      s.applyIngest({ upserts: [tagged("docs/a.md", "v1", ["Install"]), tagged("docs/sub/b.md", "v2", ["api"]), tagged("docsx/c.md", "v2", []), tagged("d_%.md", "v1", ["x"])], removals: [] });
      const ids = (f: Parameters<Store["chunks"]>[0]) => s.chunks(f).map((c) => c.path);
      assert.deepEqual(ids({ versions: ["v2"] }), ["docs/sub/b.md", "docsx/c.md"]);
      assert.deepEqual(ids({ versions: [] }), []);
      assert.deepEqual(ids({ pathPrefix: "docs/" }), ["docs/a.md", "docs/sub/b.md"]);
      assert.deepEqual(ids({ pathPrefix: "d_%" }), ["d_%.md"], "a prefix is literal, not a LIKE pattern");
      assert.deepEqual(ids({ paths: ["docs/**/*.md"] }), ["docs/a.md", "docs/sub/b.md"]);
      assert.deepEqual(ids({ tags: ["install", "x"] }), ["d_%.md", "docs/a.md"]);
      assert.deepEqual(ids({ versions: ["v2"], pathPrefix: "docs" , tags: ["api"] }), ["docs/sub/b.md"]);
    },
  ],
  [
    "lexical rows round-trip: every chunk has current statistics, and BM25 from them equals BM25 from the chunks",
    (open) => {
      const s = open();
      s.applyIngest({
        upserts: [
          { doc: doc("a.md", 2), chunks: [chunk("a.md", 0, "v1", { text: "install the package with pnpm add" }), chunk("a.md", 1, "v1", { text: "configure the proxy settings" })] },
          { doc: doc("b.md", 1), chunks: [chunk("b.md", 0, "v1", { text: "pnpm workspaces link packages together", headingPath: ["Workspaces"] })] },
        ],
        removals: [],
      });
      // A second batch reuses known terms and adds new ones: ids from both batches must decode.
      s.applyIngest({ upserts: [{ doc: doc("c.md", 1), chunks: [chunk("c.md", 0, "v1", { text: "proxy workspaces zebra" })] }], removals: ["a.md"] });
      assert.ok(hasLexicalStats(s));
      const { rows, terms } = s.lexicalRows();
      assert.deepEqual(rows.map((r) => r.chunk), s.chunks());
      assert.ok(rows.every((r) => r.analyzer === LEXICAL_ANALYZER && r.terms && r.terms.length > 0 && r.content));
      assert.ok(terms.filter(Boolean).length >= 10, `a dictionary of both batches' terms: ${terms.filter(Boolean).join(" ")}`);
      const fromStore = Bm25Index.fromStore(s, BM25);
      const fromChunks = new Bm25Index(s.chunks(), BM25);
      for (const q of ["pnpm workspaces", "proxy", "zebra", "install"]) {
        const a = fromStore.search(q, { k: 5 }).map((h) => [h.chunk.id, h.score.toFixed(9)]);
        const b = fromChunks.search(q, { k: 5 }).map((h) => [h.chunk.id, h.score.toFixed(9)]);
        assert.deepEqual(a, b, q);
      }
      assert.equal(fromStore.search("install", { k: 5 }).length, 0, "a removed document's terms score nothing");
    },
  ],
  [
    "identity: equal content gives an equal fingerprint, and any change (hash, version, chunking) changes it",
    (open) => {
      const a = open();
      const b = open();
      a.applyIngest({ upserts: [upsert("x.md", 2), upsert("y.md", 1)], removals: [], meta: { chunking_hash: "c" } });
      // Same content in another order, over two batches: same fingerprint, other generation.
      b.applyIngest({ upserts: [upsert("y.md", 1)], removals: [] });
      b.applyIngest({ upserts: [upsert("x.md", 2)], removals: [], meta: { chunking_hash: "c" } });
      const ia = a.identity().identity;
      const ib = b.identity().identity;
      assert.equal(ia.fingerprint, ib.fingerprint);
      assert.deepEqual([ia.documents, ia.chunks, ia.generation, ib.generation], [2, 3, 1, 2]);
      b.applyIngest({ upserts: [], removals: [], meta: { chunking_hash: "d" } });
      assert.notEqual(b.identity().identity.fingerprint, ia.fingerprint);
      a.applyIngest({ upserts: [upsert("x.md", 2, "v1", "other-hash")], removals: [] });
      assert.notEqual(a.identity().identity.fingerprint, ia.fingerprint);
    },
  ],
  [
    "snapshotTo writes a consistent SQLite copy; restoreRetrievalFrom brings that state back in one step and moves the generation forward",
    (open) => {
      const dir = mkdtempSync(join(tmpdir(), "ragtune-contract-snap-"));
      try {
        const s = open();
        s.applyIngest({ upserts: indexState("A", 4, 2), removals: [], meta: { chunking_hash: "c1" } });
        const before = { identity: s.identity().identity, chunks: s.chunks(), docs: s.documents() };
        const snap = join(dir, "v1.db");
        s.snapshotTo(snap);
        assert.throws(() => s.snapshotTo(snap), "an existing target is refused");
        const copy = openStore(snap);
        assert.equal(copy.identity().identity.fingerprint, before.identity.fingerprint);
        assert.deepEqual(copy.chunks(), before.chunks);
        copy.close();
        s.applyIngest({ upserts: [upsert("docs/d0.md", 1, "B"), upsert("new.md", 1)], removals: ["docs/d3.md"], meta: { chunking_hash: "c2" } });
        const gen = s.generation();
        assert.notEqual(s.identity().identity.fingerprint, before.identity.fingerprint);
        s.restoreRetrievalFrom(snap);
        assert.ok(s.generation() > gen, "readers see the change");
        assert.equal(s.identity().identity.fingerprint, before.identity.fingerprint);
        assert.deepEqual(s.chunks(), before.chunks);
        assert.deepEqual(s.documents(), before.docs);
        assert.equal(s.getMeta("chunking_hash"), "c1");
        const fromStore = Bm25Index.fromStore(s, BM25).search("release A", { k: 10 }).map((h) => [h.chunk.id, h.score.toFixed(9)]);
        const fresh = new Bm25Index(s.chunks(), BM25).search("release A", { k: 10 }).map((h) => [h.chunk.id, h.score.toFixed(9)]);
        assert.deepEqual(fromStore, fresh);
        assert.throws(() => s.restoreRetrievalFrom(join(dir, "missing.db")), /does not exist/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
];

interface Backend {
  name: string;
  skip?: string;
  setup(): Promise<void>;
  open: Open;
  closeAll(): void;
  teardown(): void;
}

function sqliteBackend(): Backend {
  let dir = "";
  let n = 0;
  const opened: Store[] = [];
  return {
    name: "sqlite",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "ragtune-contract-"));
    },
    open() {
      const s = openStore(join(dir, `i${n++}.db`));
      opened.push(s);
      return s;
    },
    closeAll: () => opened.splice(0).forEach((s) => s.close()),
    teardown: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const pgSkip = postgresSkipReason();
let server: PostgresServer | undefined;
let dbCount = 0;

function postgresBackend(): Backend {
  const opened: Store[] = [];
  return {
    name: "postgres",
    skip: pgSkip,
    async setup() {
      server ??= await startPostgres();
    },
    open() {
      const s = openPostgresStore(server!.createDatabase(`contract_${dbCount++}`));
      opened.push(s);
      return s;
    },
    closeAll: () => opened.splice(0).forEach((s) => s.close()),
    teardown: () => undefined,
  };
}

after(() => server?.stop());

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`store contract: ${backend.name}`, { skip: backend.skip }, () => {
    before(() => backend.setup());
    after(() => backend.teardown());
    for (const [name, run] of cases) {
      test(name, () => {
        try {
          run(backend.open);
        } finally {
          backend.closeAll();
        }
      });
    }
  });
}

describe("store contract: sqlite and postgres agree", { skip: pgSkip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });
  test("the same batches give the same fingerprint, documents, chunks and lexical rows on both", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragtune-contract-"));
    const lite = openStore(join(dir, "i.db"));
    const pgs = openPostgresStore(server!.createDatabase(`agree_${dbCount++}`));
    try {
      for (const s of [lite, pgs]) {
        s.applyIngest({ upserts: indexState("A"), removals: [], meta: { chunking_hash: "h" } });
        s.applyIngest({ upserts: [upsert("docs/d1.md", 1, "B")], removals: ["docs/d3.md"] });
      }
      assert.deepEqual(pgs.identity().identity, lite.identity().identity);
      assert.deepEqual(pgs.documents(), lite.documents());
      assert.deepEqual(pgs.chunks(), lite.chunks());
      const decode = (s: typeof lite | typeof pgs) => {
        const { rows, terms } = s.lexicalRows();
        return rows.map((r) => [r.chunk.id, r.bodyLen, r.headLen, Buffer.from(r.terms!).length]).concat([[terms.filter(Boolean).sort().join(" ")]]);
      };
      assert.deepEqual(decode(pgs), decode(lite));
    } finally {
      lite.close();
      pgs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("postgres replicas: a reader sees the old or the new index, never a mix", { skip: pgSkip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });

  /** The label of a consistent read, or a description of the mix. */
  const stateOf = (s: ReturnType<typeof openPostgresStore>): string => {
    const { rows } = s.lexicalRows();
    const labels = new Set(rows.map((r) => r.chunk.version));
    const ok = rows.length === 24 && labels.size === 1 && rows.every((r) => r.analyzer === LEXICAL_ANALYZER);
    return ok ? [...labels][0] : `mixed: ${rows.length} rows, labels ${[...labels].join(",")}`;
  };

  test("while a transaction is open on another connection, the reader sees the committed state; after COMMIT, the new one", async () => {
    const url = server!.createDatabase(`replica_${dbCount++}`);
    const writer = openPostgresStore(url);
    const reader = openPostgresStore(url);
    const raw = new pg.Client(url);
    await raw.connect();
    try {
      writer.applyIngest({ upserts: indexState("A"), removals: [] });
      assert.equal(stateOf(reader), "A");
      await raw.query("BEGIN");
      await raw.query("UPDATE chunks SET version = 'B' WHERE path IN ('docs/d0.md', 'docs/d1.md')");
      await raw.query("DELETE FROM chunk_terms WHERE chunk_id LIKE 'docs/d2.md%'");
      assert.equal(stateOf(reader), "A", "uncommitted changes are invisible");
      await raw.query("UPDATE chunks SET version = 'B'");
      await raw.query("COMMIT");
      // d2's statistics, deleted by that transaction, are rewritten by the reader's lexicalRows.
      assert.equal(stateOf(reader), "B");
    } finally {
      await raw.end();
      writer.close();
      reader.close();
    }
  });

  test("another process commits 30 full replacements while this one reads: every read is all A or all B", async () => {
    const url = server!.createDatabase(`replica_${dbCount++}`);
    const reader = openPostgresStore(url);
    try {
      const seed = openPostgresStore(url);
      seed.applyIngest({ upserts: indexState("A"), removals: [] });
      seed.close();
      const fingerprintOf = (label: string) => {
        const lite = openStore(":memory:");
        lite.applyIngest({ upserts: indexState(label), removals: [] });
        const fp = lite.identity().identity.fingerprint;
        lite.close();
        return fp;
      };
      const expected = new Set([fingerprintOf("A"), fingerprintOf("B")]);
      const fingerprints = new Set<string>();
      const seen = new Map<string, number>();
      const child = new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ["--import", "tsx", new URL("./helpers/pg-flip-writer.ts", import.meta.url).pathname, url, "30"], (err, stdout, stderr) =>
          err ? reject(new Error(stderr || err.message)) : resolve(stdout),
        ),
      );
      let done = false;
      void child.then(() => (done = true), () => (done = true));
      while (!done) {
        const state = stateOf(reader);
        seen.set(state, (seen.get(state) ?? 0) + 1);
        // The manifest and counts of one identity read come from one snapshot: state A's or B's fingerprint.
        fingerprints.add(reader.identity().identity.fingerprint);
        await new Promise((r) => setImmediate(r)); // let the child's exit be noticed
      }
      assert.match(await child, /^done 31\n$/);
      assert.deepEqual([...seen.keys()].filter((k) => k !== "A" && k !== "B"), [], `mixed reads: ${JSON.stringify([...seen])}`);
      assert.ok((seen.get("A") ?? 0) + (seen.get("B") ?? 0) > 3, `enough reads during the writes: ${JSON.stringify([...seen])}`);
      assert.deepEqual([...fingerprints].filter((f) => !expected.has(f)), [], "every identity read is state A's or B's");
      assert.equal(stateOf(reader), "A", "the last round (the 30th, state A) is committed");
    } finally {
      reader.close();
    }
  });
});
