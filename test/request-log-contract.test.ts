/**
 * The request log's contract (src/serve/log.ts `RequestLogStore`), the same cases on SQLite
 * (`requests.db`) and on Postgres (table `requests`, a private real server from
 * test/helpers/postgres.ts; skipped with its reason when the binaries are absent). A "replica" is
 * a second, independent handle: another SQLite connection to the file, another Postgres worker.
 * Plus the live labels kept next to it, and `store migrate` copying a SQLite log losslessly.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RagtuneConfig } from "../src/config/index.ts";
import { openLabelStore } from "../src/logs/labels-db.ts";
import type { LiveLabel } from "../src/logs/index.ts";
import { openRequestLogStore } from "../src/serve/log-open.ts";
import { migrateRequestLog, PostgresRequestLog } from "../src/serve/log-postgres.ts";
import { RequestLog, type RequestLogStore, type RequestRow } from "../src/serve/log.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { InputError } from "../src/util/errors.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

function row(id: string, time: string, over: Partial<RequestRow> = {}): RequestRow {
  return {
    id,
    time,
    route: "/v1/ask",
    status: 200,
    query: `question ${id}`,
    retrieved: [{ id: "a.md#0", score: 1.25 }, { id: "b.md#3", score: 0.5 }],
    answer: `answer ${id} "quoted" é`,
    confidence: 0.75,
    fallback: false,
    support: 0.5,
    latencyMs: 12.345678,
    inputTokens: 1234,
    outputTokens: 56,
    costUsd: 0.000123,
    model: "extractive",
    indexGeneration: 7,
    indexFingerprint: "fp-1",
    traffic: "live",
    citations: 2,
    staleCitation: false,
    ...over,
  };
}

const T = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

interface Backend {
  name: string;
  skip: string | undefined;
  setup(): Promise<void>;
  /** A fresh project (own file / own database). */
  project(): { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> };
  /** Another process's handle on the same log. */
  replica(p: { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> }): RequestLogStore;
}

const pgSkip = postgresSkipReason();
let server: PostgresServer | undefined;
let n = 0;
const dirs: string[] = [];
const tempRoot = () => {
  const d = mkdtempSync(join(tmpdir(), "ragtune-log-contract-"));
  dirs.push(d);
  return d;
};

const sqlite: Backend = {
  name: "sqlite",
  skip: undefined,
  setup: async () => undefined,
  project: () => ({ root: tempRoot(), config: { store: { kind: "sqlite" }, storeDir: ".ragtune" } as never }),
  replica: (p) => new RequestLog(join(p.root, ".ragtune", "requests.db")),
};

const postgres: Backend = {
  name: "postgres",
  skip: pgSkip,
  setup: async () => {
    server ??= await startPostgres();
  },
  project: () => ({ root: tempRoot(), config: { store: { kind: "postgres", url: server!.createDatabase(`log_${n++}`) }, storeDir: ".ragtune" } as never }),
  // A different pool size is a different shared connection: its own worker and pool, as another process.
  replica: (p) => {
    const c = PostgresConnection.acquire((p.config.store as { url: string }).url, { poolSize: 3 });
    return new PostgresRequestLog(c, { create: false, release: () => c.release() });
  },
};

type Case = [string, (b: Backend) => void];

const cases: Case[] = [
  [
    "record → get round-trips every field (nulls, booleans, floats, unicode); unknown ids are undefined",
    (b) => {
      const log = openRequestLogStore(b.project(), { create: true });
      try {
        const full = row("r1", T(1));
        const nulls = row("r2", T(2), { answer: null, confidence: null, fallback: null, support: null, costUsd: null, citations: null, staleCitation: null, route: "/v1/search", traffic: "eval", status: 503 });
        const legacy = row("r3", T(3), { fallback: true, staleCitation: true });
        delete legacy.traffic;
        delete legacy.citations;
        delete legacy.staleCitation;
        for (const r of [full, nulls, legacy]) log.record(r);
        assert.deepEqual(log.get("r1"), { ...full, feedback: null });
        assert.deepEqual(log.get("r2"), { ...nulls, feedback: null });
        assert.deepEqual(log.get("r3"), { ...legacy, traffic: "live", citations: null, staleCitation: null, feedback: null });
        assert.equal(log.get("nope"), undefined);
        assert.equal(log.count(), 3);
        assert.throws(() => log.record(full), "a duplicate id is refused");
        assert.equal(log.count(), 3);
      } finally {
        log.close();
      }
    },
  ],
  [
    "between is [from, to), oldest first, ties in arrival order; monitoredWithIds newest first with a bounded, flagged limit",
    (b) => {
      const log = openRequestLogStore(b.project(), { create: true });
      try {
        // Arrival order differs from id order; r-b and r-a share a time.
        log.record(row("r-c", T(5)));
        log.record(row("r-b", T(3)));
        log.record(row("r-a", T(3)));
        log.record(row("r-e", T(4), { traffic: "synthetic" }));
        log.record(row("r-d", T(9)));
        assert.deepEqual(log.between(T(3), T(9)).map((r) => r.id), ["r-b", "r-a", "r-e", "r-c"]);
        assert.deepEqual(log.between(T(0), T(100)).map((r) => r.id), ["r-b", "r-a", "r-e", "r-c", "r-d"]);
        const live = log.monitoredWithIds(T(0), T(100));
        assert.deepEqual(live.rows.map((r) => r.id), ["r-d", "r-c", "r-a", "r-b"]);
        assert.equal(live.truncated, false);
        const all = log.monitoredWithIds(T(0), T(100), { includeEval: true, limit: 3 });
        assert.deepEqual(all.rows.map((r) => r.id), ["r-d", "r-c", "r-e"]);
        assert.equal(all.truncated, true);
        assert.equal(log.monitoredWithIds(T(0), T(100), { includeEval: true, limit: 5 }).truncated, false);
        const m = log.monitored(T(5), T(6)).rows;
        assert.deepEqual(m, [
          { route: "/v1/ask", status: 200, retrieved: { length: 2 }, fallback: false, support: 0.5, latencyMs: 12.345678, costUsd: 0.000123, feedback: null, traffic: "live", citations: 2, staleCitation: false },
        ]);
      } finally {
        log.close();
      }
    },
  ],
  [
    "feedback sent to another replica updates the row this one wrote (redacted on the way in); unknown ids are false",
    (b) => {
      const p = b.project();
      const a = openRequestLogStore(p, { create: true, redact: (t) => t.replace(/secret/g, "[x]") });
      const other = b.replica(p);
      try {
        a.record(row("r1", T(1), { query: "my secret question" }));
        assert.equal(other.get("r1")!.query, "my [x] question", "the writer redacts before writing");
        assert.equal(other.setFeedback("r1", { thumbs: "down", correctedAnswer: "fixed", text: "it was wrong", at: T(2) }), true);
        assert.equal(other.setFeedback("missing", { thumbs: "up", at: T(2) }), false);
        assert.deepEqual(a.get("r1")!.feedback, { thumbs: "down", correctedAnswer: "fixed", text: "it was wrong", at: T(2) });
        assert.deepEqual(a.monitored(T(0), T(9)).rows[0].feedback, { thumbs: "down", correctedAnswer: "fixed" });
        // Redaction applies to feedback written through a redacting log.
        a.setFeedback("r1", { thumbs: "up", text: "secret stuff", at: T(3) });
        assert.deepEqual(other.get("r1")!.feedback, { thumbs: "up", text: "[x] stuff", at: T(3) });
        assert.deepEqual(other.monitored(T(0), T(9)).rows[0].feedback, { thumbs: "up" });
        assert.equal(other.count(), 1);
      } finally {
        a.close();
        other.close();
      }
    },
  ],
  [
    "a reader of a log no server wrote gets the InputError 'no request log at …'; after a write it reads",
    (b) => {
      const p = b.project();
      assert.throws(() => openRequestLogStore(p, { create: false }), (e: Error) => e instanceof InputError && /^no request log at .*start `ragtune serve`/.test(e.message));
      const w = openRequestLogStore(p, { create: true });
      w.record(row("r1", T(1)));
      const r = openRequestLogStore(p, { create: false });
      try {
        assert.equal(r.count(), 1);
      } finally {
        r.close();
        w.close();
      }
    },
  ],
  [
    "live labels: replace makes a window's labels exact (stale ones removed), forRequests returns them in the order asked",
    (b) => {
      const p = b.project();
      const log = openRequestLogStore(p, { create: true });
      const labels = openLabelStore(p);
      try {
        const label = (id: string, cause: string): LiveLabel => ({ requestId: id, cause: cause as never, signal: "thumbs down", evidence: `e ${id}`, triggers: ["thumbs_down", "low_support"], rule: "correction" as never, labelledAt: T(1), labellerVersion: "1" });
        assert.deepEqual(labels.replace(["r1", "r2", "r3"], [label("r1", "retrieval_miss"), label("r3", "reader")]), { written: 2, removed: 0 });
        assert.deepEqual(labels.replace(["r1", "r3"], [label("r3", "stale")]), { written: 1, removed: 1 });
        assert.equal(labels.count(), 1);
        const got = labels.forRequests(["r9", "r3", "r1"]);
        assert.deepEqual([...got.keys()], ["r3"]);
        assert.deepEqual(got.get("r3"), label("r3", "stale"));
      } finally {
        labels.close();
        log.close();
      }
    },
  ],
];

after(() => {
  server?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const backend of [sqlite, postgres]) {
  describe(`request log contract: ${backend.name}`, { skip: backend.skip }, () => {
    before(() => backend.setup());
    for (const [name, run] of cases) test(name, () => run(backend));
  });
}

describe("store migrate copies a SQLite request log to Postgres", { skip: pgSkip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });
  test("every request and label, checksums equal, reads the same; a second copy into it is refused", () => {
    const src = sqlite.project();
    const log = openRequestLogStore(src, { create: true });
    for (let i = 0; i < 40; i++) log.record(row(`r${String(i).padStart(2, "0")}`, T(i % 7), { fallback: i % 3 === 0 ? null : i % 2 === 0, traffic: i % 5 === 0 ? "eval" : "live" }));
    log.setFeedback("r03", { thumbs: "down", correctedAnswer: "c", at: T(8) });
    const labels = openLabelStore(src);
    labels.replace(["r03"], [{ requestId: "r03", cause: "reader" as never, signal: "s", evidence: "e", triggers: ["t"], rule: "correction" as never, labelledAt: T(9), labellerVersion: "1" }]);
    labels.close();
    const expected = log.between("", "\uffff");
    const expectedMonitored = log.monitoredWithIds("", "\uffff", { includeEval: true });
    log.close();

    const dst = postgres.project();
    const url = (dst.config.store as { url: string }).url;
    const c = PostgresConnection.acquire(url);
    try {
      const report = migrateRequestLog(join(src.root, ".ragtune", "requests.db"), c)!;
      assert.equal(report.requests, 40);
      assert.equal(report.labels, 1);
      const copied = openRequestLogStore(dst, { create: false });
      assert.deepEqual(copied.between("", "\uffff"), expected);
      assert.deepEqual(copied.monitoredWithIds("", "\uffff", { includeEval: true }), expectedMonitored);
      copied.close();
      const lab = openLabelStore(dst);
      assert.equal(lab.forRequests(["r03"]).get("r03")?.cause, "reader");
      lab.close();
      assert.throws(() => migrateRequestLog(join(src.root, ".ragtune", "requests.db"), c), /already holds 41 rows/);
      assert.equal(migrateRequestLog(join(src.root, ".ragtune", "none.db"), c), undefined);
    } finally {
      c.release();
    }
  });
});
