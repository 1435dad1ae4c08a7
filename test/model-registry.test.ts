import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SqliteModelRegistry, modelId } from "../src/finetune/registry.ts";
import type { GateReport, TrainedArtifact } from "../src/finetune/index.ts";
import { openStore } from "../src/store/index.ts";
import { InputError, JobFailure } from "../src/util/errors.ts";

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), "ragtune-registry-")), ".ragtune", "index.db");
}

/** A clock that advances one second per call, so ids and timestamps are distinct and ordered. */
function steppingClock(start = Date.UTC(2026, 10, 21, 17, 12, 0)) {
  let t = start;
  return () => new Date((t += 1000));
}

function artifact(task: TrainedArtifact["task"] = "classify", extra: Partial<TrainedArtifact> = {}): TrainedArtifact {
  return { trainer: "classifier", task, artifact: "/tmp/model", baseModel: "none", metrics: { accuracy: 0.9 }, config: { epochs: 3 }, ...extra };
}

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

test("model ids look like m-YYYYMMDD-HHMMSS-xxxx (UTC)", () => {
  assert.equal(modelId(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), "3f2a"), "m-20260102-030405-3f2a");
  const reg = new SqliteModelRegistry(tempDb());
  const m = reg.register(artifact(), { datasetHash: "h1" });
  assert.match(m.id, /^m-\d{8}-\d{6}-[0-9a-f]{4}$/);
  reg.close();
});

test("register / get / list round-trip every field; list filters by task, newest first", () => {
  const file = tempDb();
  const reg = new SqliteModelRegistry(file, { now: steppingClock() });
  const a = reg.register(artifact("classify", { generatorId: "llamacpp:base.gguf?lora=a.gguf", metrics: { accuracy: 0.91, f1: 0.88 } }), { datasetHash: "sha256:aa", gate: passed() });
  const b = reg.register(artifact("qa", { trainer: "memoriser" }), { datasetHash: "sha256:bb" });
  const c = reg.register(artifact("classify"), { datasetHash: "sha256:cc", parent: a.id });
  assert.equal(a.status, "candidate");
  assert.deepEqual(reg.get(a.id), a);
  assert.equal(a.generatorId, "llamacpp:base.gguf?lora=a.gguf");
  assert.deepEqual(a.metrics, { accuracy: 0.91, f1: 0.88 });
  assert.deepEqual(a.config, { epochs: 3 });
  assert.equal(a.datasetHash, "sha256:aa");
  assert.deepEqual(a.gate, passed());
  assert.equal(c.parent, a.id);
  assert.equal(b.parent, undefined);
  assert.deepEqual(reg.list().map((m) => m.id), [c.id, b.id, a.id]);
  assert.deepEqual(reg.list({ task: "classify" }).map((m) => m.id), [c.id, a.id]);
  assert.throws(() => reg.list({ task: "clasify" }), /unknown task "clasify" — did you mean "classify"\?/);
  reg.close();
  // Persisted in the project's index file, which stays a valid ragtune index.
  const again = new SqliteModelRegistry(file);
  assert.equal(again.list().length, 3);
  again.close();
  const store = openStore(file);
  store.close();
});

test("promote: one promoted model per task; the previous one is retired; history is kept", () => {
  const reg = new SqliteModelRegistry(tempDb(), { now: steppingClock() });
  const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
  const q = reg.register(artifact("qa"), { datasetHash: "h", gate: passed() });
  reg.promote(a.id);
  reg.promote(q.id);
  assert.equal(reg.promoted("classify")?.id, a.id);
  assert.equal(reg.promoted("qa")?.id, q.id, "tasks are independent");
  const b = reg.register(artifact(), { datasetHash: "h2", parent: a.id, gate: passed(["baseline", a.id]) });
  const pb = reg.promote(b.id);
  assert.equal(pb.status, "promoted");
  assert.ok(pb.promotedAt);
  assert.equal(reg.get(a.id).status, "retired");
  assert.equal(reg.list({ task: "classify" }).filter((m) => m.status === "promoted").length, 1);
  assert.deepEqual(
    reg.history("classify").map((e) => [e.action, e.modelId, e.previousId ?? null]),
    [["promote", a.id, null], ["promote", b.id, a.id]],
  );
  assert.throws(() => reg.promote(b.id), /already the promoted classify model/);
  reg.close();
});

test("the database itself refuses two promoted models of one task", () => {
  const file = tempDb();
  const reg = new SqliteModelRegistry(file);
  const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
  const b = reg.register(artifact(), { datasetHash: "h", gate: passed() });
  reg.promote(a.id);
  reg.close();
  const db = new Database(file);
  assert.throws(() => db.prepare("UPDATE ft_models SET status = 'promoted' WHERE id = ?").run(b.id), /UNIQUE/);
  db.close();
});

test("a refused or missing gate blocks promotion (JobFailure with the numbers); a stale gate too", () => {
  const reg = new SqliteModelRegistry(tempDb(), { now: steppingClock() });
  const bad = reg.register(artifact(), { datasetHash: "h", gate: refused });
  assert.throws(
    () => reg.promote(bad.id),
    (e: unknown) => e instanceof JobFailure && /candidate 88\.0% vs baseline 89\.1% on 300 held-out examples, McNemar p = 0\.41: not better/.test(e.message),
  );
  const none = reg.register(artifact(), { datasetHash: "h" });
  assert.throws(() => reg.promote(none.id), (e: unknown) => e instanceof JobFailure && /no promotion gate report/.test(e.message));
  // A gate passed explicitly is used (and stored).
  const p = reg.promote(none.id, { gate: passed() });
  assert.equal(p.gate?.passed, true);
  // `bad` was refused; a gate passed before `none` was promoted is stale for a model trained then.
  const old = reg.register(artifact(), { datasetHash: "h", gate: passed() });
  assert.throws(() => reg.promote(old.id), /re-run the gate against m-/);
  assert.equal(reg.promoted("classify")?.id, none.id, "refusals change nothing");
  reg.close();
});

test("forced promotion: needs a reason, is recorded on the model and in the history", () => {
  const reg = new SqliteModelRegistry(tempDb(), { now: steppingClock() });
  const bad = reg.register(artifact(), { datasetHash: "h", gate: refused });
  assert.throws(() => reg.promote(bad.id, { force: { reason: "  " } }), InputError);
  const forced = reg.promote(bad.id, { force: { reason: "legal asked for the new labels today" } });
  assert.equal(forced.status, "promoted");
  assert.equal(forced.forced?.reason, "legal asked for the new labels today");
  assert.ok(forced.forced?.at);
  assert.equal(forced.gate?.passed, false, "the refused gate stays on record");
  const h = reg.history("classify");
  assert.equal(h.length, 1);
  assert.equal(h[0].forcedReason, "legal asked for the new labels today");
  reg.close();
});

test("rollback walks the promotion history as a stack and errors when nothing is left", () => {
  const reg = new SqliteModelRegistry(tempDb(), { now: steppingClock() });
  assert.throws(() => reg.rollback("classify"), /no classify model is promoted/);
  const a = reg.register(artifact(), { datasetHash: "h", gate: passed() });
  reg.promote(a.id);
  assert.throws(() => reg.rollback("classify"), (e: unknown) => e instanceof InputError && /nothing to roll back to/.test(e.message));
  const b = reg.register(artifact(), { datasetHash: "h", parent: a.id, gate: passed() });
  reg.promote(b.id);
  const c = reg.register(artifact(), { datasetHash: "h", parent: b.id, gate: passed() });
  reg.promote(c.id);

  const r1 = reg.rollback("classify");
  assert.equal(r1.promoted.id, b.id);
  assert.equal(r1.retired.id, c.id);
  assert.equal(reg.get(c.id).status, "retired");
  const r2 = reg.rollback("classify");
  assert.equal(r2.promoted.id, a.id);
  assert.equal(reg.promoted("classify")?.id, a.id);
  assert.throws(() => reg.rollback("classify"), /nothing to roll back to/);
  assert.deepEqual(
    reg.history("classify").map((e) => `${e.action}:${e.modelId}`),
    [`promote:${a.id}`, `promote:${b.id}`, `promote:${c.id}`, `rollback:${b.id}`, `rollback:${a.id}`],
  );
  assert.equal(reg.list({ task: "classify" }).filter((m) => m.status === "promoted").length, 1);
  reg.close();
});

test("unknown ids: a clear InputError with a did-you-mean", () => {
  const reg = new SqliteModelRegistry(tempDb(), { randomSuffix: () => "3f2a", now: () => new Date(Date.UTC(2026, 10, 21, 17, 12, 0)) });
  assert.throws(() => reg.get("m-nope"), /unknown model "m-nope" \(the registry is empty/);
  const m = reg.register(artifact(), { datasetHash: "h" });
  assert.equal(m.id, "m-20261121-171200-3f2a");
  assert.throws(() => reg.get("m-20261121-171200-3f2b"), (e: unknown) => e instanceof InputError && /did you mean "m-20261121-171200-3f2a"\?/.test(e.message));
  assert.throws(() => reg.promote("zzz"), /unknown model "zzz" \(run `ragtune models list`\)/);
  assert.throws(() => reg.register(artifact(), { datasetHash: "h", parent: "m-x" }), /unknown model "m-x"/);
  // The second register in the same second with the same suffix still gets a free id.
  const m2 = reg.register(artifact(), { datasetHash: "h" });
  assert.notEqual(m2.id, m.id);
  reg.close();
});

test("a file that is not a ragtune index is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-registry-"));
  const file = join(dir, "index.db");
  writeFileSync(file, "this is not sqlite at all, just text ".repeat(40));
  assert.throws(() => new SqliteModelRegistry(file), /not a ragtune index|cannot open/);
});

test("an SQLite file of another program is refused, not written to", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-registry-"));
  const file = join(dir, "other.db");
  const db = new Database(file);
  db.exec("CREATE TABLE t (x)");
  db.close();
  assert.throws(() => new SqliteModelRegistry(file), /not a ragtune index/);
  const check = new Database(file);
  assert.deepEqual((check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name), ["t"]);
  check.close();
});
