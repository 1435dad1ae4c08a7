import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import type { Chunk } from "../src/ingest/index.ts";
import { ingestProject } from "../src/ingest/ingest.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import {
  analyzeChunks,
  ChunkAnalyzer,
  corpusFromRows,
  decodeTerms,
  encodeTerms,
  LEXICAL_ANALYZER,
  type LexicalCorpus,
} from "../src/retrieve/lexical-cache.ts";
import { openStore, type Store } from "../src/store/index.ts";
import type { SqliteStore } from "../src/store/sqlite.ts";

const opts = { k1: 1.2, b: 0.75, headingBoost: 1 };
const chunking = { strategy: "headings" as const, maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 0, maxFileBytes: 1_000_000 };
const sources = [
  { include: "docs/v2/**/*.md", exclude: [], version: "v2" },
  { include: "docs/v1/**/*.md", exclude: [], version: "v1" },
];

function project(): string {
  const root = mkdtempSync(join(tmpdir(), "ragtune-lexical-"));
  const w = (p: string, s: string) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), s);
  };
  w("docs/v2/billing.md", "# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 30 days of payment.\n\n## Cards\n\nWe accept Visa and Mastercard.\n");
  w("docs/v1/billing.md", "# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 14 days of payment.\n");
  w("docs/v2/trash.md", "# Trash\n\n## Retention\n\nDeleted cards stay in the trash for 60 days. Admins restore them from the trash page.\n");
  w("docs/v2/setup.md", "# Setup\n\nSet `auto-install-peers=true` (autoInstallPeers) in .npmrc, then upgrade to v2.1.\n");
  return root;
}

/** Log every write to chunk_terms (through any connection) into a table the test reads. */
function logTermWrites(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE IF NOT EXISTS ct_log (chunk_id TEXT);
    CREATE TRIGGER IF NOT EXISTS ct_ins AFTER INSERT ON chunk_terms BEGIN INSERT INTO ct_log VALUES (NEW.chunk_id); END;
    CREATE TRIGGER IF NOT EXISTS ct_upd AFTER UPDATE ON chunk_terms BEGIN INSERT INTO ct_log VALUES (NEW.chunk_id); END;
  `);
  db.close();
}

function takeLog(file: string): string[] {
  const db = new Database(file);
  const ids = (db.prepare("SELECT chunk_id FROM ct_log").all() as { chunk_id: string }[]).map((r) => r.chunk_id).sort();
  db.exec("DELETE FROM ct_log");
  db.close();
  return ids;
}

function sql<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** A corpus as comparable data: per doc, the sorted (term, body tf, heading tf) triples and lengths. */
function canonical(c: LexicalCorpus): unknown[] {
  const docs: unknown[] = [];
  for (let d = 0; d + 1 < c.docStart.length; d++) {
    const entries: [string, number, number][] = [];
    for (let e = c.docStart[d]; e < c.docStart[d + 1]; e++) entries.push([c.terms[c.entryTerm[e]], c.entryBody[e], c.entryHead[e]]);
    entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    docs.push({ body: c.bodyLen[d], head: c.headLen[d], entries });
  }
  return docs;
}

function sameIndex(store: Store, queries = ["refund annual plan", "trash retention days", "autoInstallPeers", "cards"]): void {
  const a = new Bm25Index(store.chunks(), opts);
  const b = Bm25Index.fromStore(store, opts);
  for (const q of queries) {
    assert.deepEqual(
      b.search(q, { k: 10 }).map((h) => [h.chunk.id, h.score]),
      a.search(q, { k: 10 }).map((h) => [h.chunk.id, h.score]),
      q,
    );
  }
}

test("packed term encoding round-trips, including large ids and counts, and rejects truncation", () => {
  const stats = { ids: [7, 0, 300, 2 ** 31 + 5, 128], body: [1, 0, 2 ** 20, 3, 127], head: [0, 2, 0, 1, 128] };
  const encoded = encodeTerms(stats);
  const back: number[][] = [];
  decodeTerms(encoded, (id, body, head) => back.push([id, body, head]));
  assert.deepEqual(back, [[0, 0, 2], [7, 1, 0], [128, 127, 128], [300, 2 ** 20, 0], [2 ** 31 + 5, 3, 1]]);
  assert.ok(encoded.length < 5 * 12, `${encoded.length} bytes`);
  assert.throws(() => decodeTerms(encoded.subarray(0, encoded.length - 1), () => {}), /truncated/);
  decodeTerms(new Uint8Array(0), () => assert.fail("no entries"));
});

test("the analyzer counts body and heading terms separately; stop words are counted", () => {
  const terms: string[] = [];
  const analyzer = new ChunkAnalyzer((t) => (terms.includes(t) ? terms.indexOf(t) : terms.push(t) - 1));
  const s = analyzer.analyze({ title: "Refunds", headingPath: ["Billing", "Refund window"], text: "The refund window: refunds within 30 days." });
  const got = Object.fromEntries(s.ids.map((id, i) => [terms[id], [s.body[i], s.head[i]]]));
  assert.deepEqual(got, { the: [1, 0], refund: [2, 2], window: [1, 1], within: [1, 0], "30": [1, 0], day: [1, 0], bill: [0, 1] });
  assert.equal(s.bodyLen, 7);
  assert.equal(s.headLen, 4); // Refunds / Billing / Refund window (title differs from the top heading)
});

test("term statistics are written with the chunks, survive reopen, and are what fromStore reads", async () => {
  const root = project();
  const file = join(root, ".ragtune/index.db");
  try {
    let store: SqliteStore = openStore(file);
    await ingestProject({ root, sources, chunking, store });
    store.close();

    store = openStore(file);
    const { rows, terms } = store.lexicalRows();
    assert.equal(rows.length, store.chunks().length);
    assert.ok(rows.every((r) => r.analyzer === LEXICAL_ANALYZER && r.terms && r.terms.length > 0));
    // Persisted statistics decode to exactly what tokenizing the chunks gives.
    const { chunks, corpus } = corpusFromRows(rows, terms);
    assert.deepEqual(chunks, store.chunks());
    assert.deepEqual(canonical(corpus), canonical(analyzeChunks(store.chunks())));
    sameIndex(store);
    store.close();

    // Proof that fromStore uses the stored statistics rather than re-tokenizing: swap one chunk's
    // row for the statistics of other text, and only the store-built index sees the change.
    const trash = "docs/v2/trash.md#0";
    sql(file, (db) => {
      const dict = new Map((db.prepare("SELECT id, term FROM lexical_terms").all() as { id: number; term: string }[]).map((r) => [r.term, r.id]));
      const add = db.prepare("INSERT INTO lexical_terms (term) VALUES (?) RETURNING id");
      const analyzer = new ChunkAnalyzer((t) => dict.get(t) ?? dict.set(t, (add.get(t) as { id: number }).id).get(t)!);
      const s = analyzer.analyze({ title: "", headingPath: [], text: "zebra zebra crossing" });
      db.prepare("UPDATE chunk_terms SET body_len = ?, head_len = ?, terms = ? WHERE chunk_id = ?").run(s.bodyLen, s.headLen, encodeTerms(s), trash);
    });
    store = openStore(file);
    assert.deepEqual(Bm25Index.fromStore(store, opts).search("zebra", { k: 3 }).map((h) => h.chunk.id), [trash]);
    assert.deepEqual(new Bm25Index(store.chunks(), opts).search("zebra", { k: 3 }), []);
    store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("incremental: a re-ingest rewrites only the changed document's rows; removals delete theirs", async () => {
  const root = project();
  const file = join(root, ".ragtune/index.db");
  try {
    let store = openStore(file);
    await ingestProject({ root, sources, chunking, store });
    store.close();
    logTermWrites(file);

    store = openStore(file);
    writeFileSync(join(root, "docs/v2/trash.md"), "# Trash\n\n## Retention\n\nDeleted cards stay in the trash for 90 days, then they are purged.\n");
    const stats = await ingestProject({ root, sources, chunking, store });
    assert.equal(stats.changed, 1);
    const trashChunks = store.chunks({ pathPrefix: "docs/v2/trash.md" }).map((c) => c.id).sort();
    assert.ok(trashChunks.length > 0);
    assert.deepEqual(takeLog(file), trashChunks);
    sameIndex(store, ["trash retention 90 days purged", "refund"]);
    assert.equal(Bm25Index.fromStore(store, opts).search("purged", { k: 1 })[0].chunk.path, "docs/v2/trash.md");

    // Nothing changed: nothing written, not even by the index build.
    await ingestProject({ root, sources, chunking, store });
    Bm25Index.fromStore(store, opts);
    assert.deepEqual(takeLog(file), []);

    // docs/v1 keeps a file: a pattern that matches nothing is an error, not a removal.
    writeFileSync(join(root, "docs/v1/other.md"), "# Other\n\nAnother archived page.\n");
    await ingestProject({ root, sources, chunking, store });
    takeLog(file);
    rmSync(join(root, "docs/v1/billing.md"));
    await ingestProject({ root, sources, chunking, store });
    assert.deepEqual(takeLog(file), []);
    const orphans = sql(file, (db) => db.prepare("SELECT count(*) AS n FROM chunk_terms WHERE chunk_id NOT IN (SELECT id FROM chunks)").get() as { n: number });
    assert.equal(orphans.n, 0);
    const count = sql(file, (db) => db.prepare("SELECT count(*) AS n FROM chunk_terms").get() as { n: number });
    assert.equal(count.n, store.chunks().length);
    sameIndex(store);
    store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a tokenizer (analyzer) change re-analyses every chunk: on the next ingest or the next index build", async () => {
  const root = project();
  const file = join(root, ".ragtune/index.db");
  const ageRows = () => {
    sql(file, (db) => {
      db.prepare("UPDATE chunk_terms SET tokenizer = 'ragtune-tok-0;old'").run();
      db.prepare("UPDATE meta SET value = 'ragtune-tok-0;old' WHERE key = 'lexical_analyzer'").run();
    });
    takeLog(file); // the ageing itself is not a rewrite
  };
  try {
    let store = openStore(file);
    await ingestProject({ root, sources, chunking, store });
    const all = store.chunks().map((c) => c.id).sort();
    store.close();
    logTermWrites(file);

    // (1) Rows written by an older tokenizer: the next ingest, even if it changes one file,
    // rewrites every row in its transaction.
    ageRows();
    store = openStore(file);
    writeFileSync(join(root, "docs/v2/setup.md"), "# Setup\n\nRun the installer, then upgrade.\n");
    await ingestProject({ root, sources, chunking, store });
    assert.deepEqual(takeLog(file), all);
    assert.equal(store.getMeta("lexical_analyzer"), LEXICAL_ANALYZER);
    sameIndex(store);
    store.close();

    // (2) No ingest at all: building the index refreshes the stale rows once, then reads them.
    ageRows();
    store = openStore(file);
    const generation = store.generation();
    sameIndex(store);
    assert.deepEqual(takeLog(file), all);
    Bm25Index.fromStore(store, opts);
    assert.deepEqual(takeLog(file), []);
    assert.equal(store.generation(), generation); // same contents, no new generation
    store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an index from before term statistics gains them; unwritable stale or damaged rows are analysed in memory", async () => {
  const root = project();
  const file = join(root, ".ragtune/index.db");
  try {
    let store = openStore(file);
    await ingestProject({ root, sources, chunking, store });
    store.close();
    sql(file, (db) => {
      db.exec("DROP TABLE chunk_terms; DROP TABLE lexical_terms; DELETE FROM meta WHERE key = 'lexical_analyzer'");
    });
    store = openStore(file);
    sameIndex(store);
    assert.equal(sql(file, (db) => (db.prepare("SELECT count(*) AS n FROM chunk_terms").get() as { n: number }).n), store.chunks().length);

    // A reader that cannot write (read-only, or another process holds the write lock) analyses
    // the stale rows in memory against the stored dictionary: same corpus as tokenizing.
    const { rows, terms } = store.lexicalRows();
    const stale = rows.map((r, i) => (i % 2 === 0 ? { ...r, analyzer: "old" } : i % 3 === 0 ? { ...r, analyzer: undefined, terms: undefined } : r));
    // Damaged rows too: a truncated encoding, and one naming a term id the dictionary lacks.
    stale[1] = { ...stale[1], analyzer: LEXICAL_ANALYZER, terms: Buffer.from([0x85]) };
    stale[stale.length - 1] = { ...stale[stale.length - 1], analyzer: LEXICAL_ANALYZER, terms: encodeTerms({ ids: [terms.length + 7], body: [1], head: [0] }) };
    const { chunks, corpus } = corpusFromRows(stale, [...terms]);
    assert.deepEqual(chunks, store.chunks());
    assert.deepEqual(canonical(corpus), canonical(analyzeChunks(store.chunks())));
    store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
