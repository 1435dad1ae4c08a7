/**
 * The model registry's contract: one list of cases run on the SQLite registry and on the Postgres
 * registry on a real PostgreSQL server (skipped with a message when the binaries are absent).
 * Plus, on Postgres: two processes promoting at once leave one consistent history, and rows copy
 * both ways unchanged (store migrate, a run's pinned snapshot).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { SqliteModelRegistry, type ModelRegistry, type RegistryOptions } from "../src/finetune/registry.ts";
import { PostgresModelRegistry } from "../src/finetune/registry-postgres.ts";
import type { GateReport, TrainedArtifact } from "../src/finetune/index.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { carryRegistryInto } from "../src/finetune/open-registry.ts";
import { InputError, JobFailure } from "../src/util/errors.ts";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";

type Open = (options?: RegistryOptions) => ModelRegistry;

const steppingClock = (start = Date.UTC(2026, 10, 21, 17, 12, 0)) => {
  let t = start;
  return () => new Date((t += 1000));
};
const artifact = (task: TrainedArtifact["task"] = "classify", extra: Partial<TrainedArtifact> = {}): TrainedArtifact => ({
  trainer: "classifier",
  task,
  artifact: "/tmp/model",
  baseModel: "none",
  metrics: { accuracy: 0.9 },
  config: { epochs: 3 },
  ...extra,
});
const passed = (against: string[] = ["baseline"]): GateReport => ({
  passed: true,
  n: 100,
  comparisons: against.map((a) => ({ against: a, candidateAccuracy: 0.9, referenceAccuracy: 0.8, pValue: 0.01, onlyCandidate: 12, onlyReference: 2, better: true })),
  reason: "passed: candidate 90.0% vs baseline 80.0%",
});
const refused: GateReport = {
  passed: false,
  n: 300,
  comparisons: [{ against: "baseline", candidateAccuracy: 0.88, referenceAccuracy: 0.891, pValue: 0.41, onlyCandidate: 10, onlyReference: 13, better: false }],
  reason: "refused: candidate 88.0% vs baseline 89.1% on 300 held-out examples, McNemar p = 0.41: not better",
};

const cases: [string, (open: Open) => void][] = [
  [
    "register / get / list round-trip every field; list is newest first in byte order; tasks filter",
    (open) => {
      // Same second for all three: the order falls to the id, compared byte-wise ("B" < "a").
      const suffixes = ["aaaa", "BBBB", "cccc"];
      const reg = open({ now: () => new Date(Date.UTC(2026, 0, 1)), randomSuffix: () => suffixes.shift()! });
      const a = reg.register(artifact("classify", { generatorId: "llamacpp:base.gguf?lora=a.gguf", metrics: { accuracy: 0.91, f1: 0.88 } }), { datasetHash: "sha256:aa", gate: passed() });
      const b = reg.register(artifact("qa", { trainer: "memoriser" }), { datasetHash: "sha256:bb" });
      const c = reg.register(artifact("classify"), { datasetHash: "sha256:cc", parent: a.id });
      assert.deepEqual(reg.get(a.id), a);
      assert.deepEqual(a.metrics, { accuracy: 0.91, f1: 0.88 });
      assert.deepEqual(a.gate, passed());
      assert.equal(a.generatorId, "llamacpp:base.gguf?lora=a.gguf");
      assert.equal(c.parent, a.id);
      assert.equal(b.parent, undefined);
      assert.equal(a.status, "candidate");
      assert.deepEqual(reg.list().map((m) => m.id), [c.id, a.id, b.id]);
      assert.deepEqual(reg.list({ task: "classify" }).map((m) => m.id), [c.id, a.id]);
      assert.throws(() => reg.list({ task: "clasify" }), (e: unknown) => e instanceof InputError && /unknown task "clasify" — did you mean "classify"\?/.test(e.message));
      assert.equal(reg.find("m-none"), undefined);
      assert.throws(() => reg.register(artifact(), { datasetHash: "" }), (e: unknown) => e instanceof InputError && /datasetHash is required/.test(e.message));
      const g = reg.setGate(b.id, refused);
      assert.deepEqual(g.gate, refused);
      reg.close();
    },
  ],
  [
    "promote: one promoted per task, the previous retired, history kept; gates refuse as JobFailures; stale gates too",
    (open) => {
      const reg = open({ now: steppingClock() });
      const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
      const q = reg.register(artifact("qa"), { datasetHash: "h", gate: passed() });
      reg.promote(a.id);
      reg.promote(q.id);
      assert.equal(reg.promoted("classify")?.id, a.id);
      assert.equal(reg.promoted("qa")?.id, q.id);
      const b = reg.register(artifact(), { datasetHash: "h2", parent: a.id, gate: passed(["baseline", a.id]) });
      const pb = reg.promote(b.id);
      assert.equal(pb.status, "promoted");
      assert.ok(pb.promotedAt);
      assert.equal(reg.get(a.id).status, "retired");
      assert.deepEqual(reg.history("classify").map((e) => [e.action, e.modelId, e.previousId ?? null]), [["promote", a.id, null], ["promote", b.id, a.id]]);
      assert.deepEqual(reg.history().map((e) => e.task), ["classify", "qa", "classify"]);
      assert.throws(() => reg.promote(b.id), (e: unknown) => e instanceof InputError && /already the promoted classify model/.test(e.message));
      const bad = reg.register(artifact(), { datasetHash: "h", gate: refused });
      assert.throws(() => reg.promote(bad.id), (e: unknown) => e instanceof JobFailure && /McNemar p = 0\.41: not better/.test(e.message));
      const none = reg.register(artifact(), { datasetHash: "h" });
      assert.throws(() => reg.promote(none.id), (e: unknown) => e instanceof JobFailure && /no promotion gate report/.test(e.message));
      const stale = reg.register(artifact(), { datasetHash: "h", gate: passed() });
      assert.throws(() => reg.promote(stale.id), (e: unknown) => e instanceof JobFailure && new RegExp(`re-run the gate against ${b.id}`).test(e.message));
      assert.equal(reg.promoted("classify")?.id, b.id, "refusals change nothing");
      assert.throws(() => reg.promote(bad.id, { force: { reason: "  " } }), InputError);
      const forced = reg.promote(bad.id, { force: { reason: "legal asked" } });
      assert.equal(forced.forced?.reason, "legal asked");
      assert.equal(forced.gate?.passed, false);
      assert.equal(reg.history("classify").at(-1)?.forcedReason, "legal asked");
      reg.close();
    },
  ],
  [
    "rollback walks the history as a stack and errors when nothing is left",
    (open) => {
      const reg = open({ now: steppingClock() });
      assert.throws(() => reg.rollback("classify"), (e: unknown) => e instanceof InputError && /no classify model is promoted/.test(e.message));
      const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
      reg.promote(a.id);
      assert.throws(() => reg.rollback("classify"), (e: unknown) => e instanceof InputError && /nothing to roll back to/.test(e.message));
      const b = reg.register(artifact(), { datasetHash: "h", parent: a.id, gate: passed() });
      reg.promote(b.id);
      const c = reg.register(artifact(), { datasetHash: "h", parent: b.id, gate: passed() });
      reg.promote(c.id);
      const r1 = reg.rollback("classify");
      assert.deepEqual([r1.promoted.id, r1.retired.id, r1.retired.status], [b.id, c.id, "retired"]);
      assert.equal(reg.rollback("classify").promoted.id, a.id);
      assert.throws(() => reg.rollback("classify"), /nothing to roll back to/);
      assert.deepEqual(reg.history("classify").map((e) => `${e.action}:${e.modelId}`), [`promote:${a.id}`, `promote:${b.id}`, `promote:${c.id}`, `rollback:${b.id}`, `rollback:${a.id}`]);
      assert.equal(reg.list().filter((m) => m.status === "promoted").length, 1);
      reg.close();
    },
  ],
  [
    "unknown ids: an InputError with a did-you-mean; a taken id gets another suffix",
    (open) => {
      const reg = open({ randomSuffix: () => "3f2a", now: () => new Date(Date.UTC(2026, 10, 21, 17, 12, 0)) });
      assert.throws(() => reg.get("m-nope"), (e: unknown) => e instanceof InputError && /unknown model "m-nope" \(the registry is empty/.test(e.message));
      const m = reg.register(artifact(), { datasetHash: "h" });
      assert.equal(m.id, "m-20261121-171200-3f2a");
      assert.throws(() => reg.get("m-20261121-171200-3f2b"), /did you mean "m-20261121-171200-3f2a"\?/);
      assert.throws(() => reg.promote("zzz"), /unknown model "zzz" \(run `ragtune models list`\)/);
      assert.throws(() => reg.register(artifact(), { datasetHash: "h", parent: "m-x" }), /unknown model "m-x"/);
      assert.notEqual(reg.register(artifact(), { datasetHash: "h" }).id, m.id);
      reg.close();
    },
  ],
  [
    "exportRows / importRows copy every row unchanged into a SQLite registry, and the copy keeps working",
    (open) => {
      const reg = open({ now: steppingClock() });
      const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
      reg.promote(a.id);
      const b = reg.register(artifact(), { datasetHash: "h", parent: a.id, gate: passed() });
      reg.promote(b.id);
      reg.rollback("classify");
      const rows = reg.exportRows();
      assert.equal(rows.models.length, 2);
      assert.equal(rows.promotions.length, 3);
      const copy = new SqliteModelRegistry(join(mkdtempSync(join(tmpdir(), "ragtune-regcopy-")), "index.db"), { now: steppingClock(Date.UTC(2027, 0, 1)) });
      copy.importRows(rows);
      assert.deepEqual(copy.exportRows(), rows);
      assert.deepEqual(copy.list(), reg.list());
      assert.deepEqual(copy.history(), reg.history());
      // Re-importing into the source (as a migrate does into a new database) keeps the sequence going.
      reg.importRows(rows);
      reg.promote(b.id);
      assert.deepEqual(reg.history().map((e) => e.seq), [1, 2, 3, 4]);
      copy.close();
      reg.close();
    },
  ],
];

const skip = postgresSkipReason();
let server: PostgresServer | undefined;
let dbCount = 0;

const backends: { name: string; skip?: string; setup(): Promise<void>; open(): Open }[] = [
  {
    name: "sqlite",
    setup: async () => undefined,
    open: () => {
      const file = join(mkdtempSync(join(tmpdir(), "ragtune-regc-")), ".ragtune", "index.db");
      return (options) => new SqliteModelRegistry(file, options);
    },
  },
  {
    name: "postgres",
    skip,
    setup: async () => {
      server ??= await startPostgres();
    },
    open: () => {
      const url = server!.createDatabase(`registry_${dbCount++}`);
      return (options) => {
        const c = PostgresConnection.acquire(url);
        return new PostgresModelRegistry(c, { ...options, release: () => c.release() });
      };
    },
  },
];

after(() => server?.stop());

for (const backend of backends) {
  describe(`model registry contract: ${backend.name}`, { skip: backend.skip }, () => {
    before(() => backend.setup());
    for (const [name, run] of cases) test(name, () => run(backend.open()));
  });
}

describe("model registry on postgres: processes", { skip }, () => {
  before(async () => {
    server ??= await startPostgres();
  });

  test("two processes promoting at once leave one promoted model and an unbroken history", async () => {
    const url = server!.createDatabase(`registry_race_${dbCount++}`);
    const c = PostgresConnection.acquire(url);
    const reg = new PostgresModelRegistry(c, { release: () => c.release() });
    try {
      const ids = [0, 1, 2].map(() => reg.register(artifact(), { datasetHash: "h" }).id);
      const race = (order: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(process.execPath, ["--import", "tsx", new URL("./helpers/pg-registry-racer.ts", import.meta.url).pathname, url, "150", ...order], (err, stdout, stderr) =>
            err ? reject(new Error(stderr || err.message)) : resolve(stdout),
          ),
        );
      assert.deepEqual(await Promise.all([race(ids), race([...ids].reverse())]), ["done\n", "done\n"]);
      const history = reg.history("classify");
      assert.ok(history.length >= 150, `promotions recorded: ${history.length}`);
      // Each promotion names the model promoted just before it: no two read the same "current".
      for (let i = 1; i < history.length; i++) assert.equal(history[i].previousId, history[i - 1].modelId, `event ${history[i].seq}`);
      assert.equal(reg.list().filter((m) => m.status === "promoted").length, 1);
      assert.equal(reg.promoted("classify")?.id, history.at(-1)!.modelId);
    } finally {
      reg.close();
    }
  });

  test("a SQLite snapshot of a Postgres project's index carries its registry (a run's pinned copy)", () => {
    const url = server!.createDatabase(`registry_carry_${dbCount++}`);
    const c = PostgresConnection.acquire(url);
    const reg = new PostgresModelRegistry(c, { release: () => c.release() });
    const store = openPostgresStore(url);
    try {
      const a = reg.register(artifact(), { datasetHash: "h" });
      reg.promote(a.id, { force: { reason: "pin" } });
      const file = join(mkdtempSync(join(tmpdir(), "ragtune-carry-")), "snapshot.db");
      store.snapshotTo(file);
      carryRegistryInto({ store: { kind: "postgres", url }, storeDir: ".ragtune" } as never, tmpdir(), file);
      const copy = new SqliteModelRegistry(file);
      assert.equal(copy.promoted("classify")?.id, a.id);
      assert.deepEqual(copy.exportRows(), reg.exportRows());
      copy.close();
    } finally {
      store.close();
      reg.close();
    }
  });

  test("the database itself refuses two promoted models of one task, and a newer registry schema is refused", async () => {
    const url = server!.createDatabase(`registry_db_${dbCount++}`);
    const c = PostgresConnection.acquire(url);
    const reg = new PostgresModelRegistry(c, { release: () => c.release() });
    const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
    const b = reg.register(artifact(), { datasetHash: "h", gate: passed() });
    reg.promote(a.id);
    reg.close();
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      await assert.rejects(raw.query("UPDATE ft_models SET status = 'promoted' WHERE id = $1", [b.id]), /unique|duplicate/i);
      await raw.query("UPDATE ft_schema SET version = 99");
    } finally {
      await raw.end();
    }
    const c2 = PostgresConnection.acquire(url, { poolSize: 1 });
    const again = new PostgresModelRegistry(c2, { release: () => c2.release() });
    try {
      assert.throws(() => again.list(), /newer ragtune \(registry schema 99/);
    } finally {
      again.close();
    }
  });
});
