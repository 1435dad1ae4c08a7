/**
 * The decision scenario bank (bench/lib/scenarios/bank.ts), every scenario built as a real project
 * and run through ingest → finetune train → eval (offline generator) → decide. Each test checks the
 * scenario's premise on the run, then the architecture written down before it ran. The whole bank
 * takes a few seconds, so all of it runs here (bench/decisions.ts prints the same as a table).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SCENARIOS } from "../bench/lib/scenarios/bank.ts";
import { runScenario } from "../bench/lib/scenarios/build.ts";

test("the bank has the 8 classic scenarios and at least 4 more, each with its answer and reason", () => {
  assert.ok(SCENARIOS.length >= 12, `${SCENARIOS.length} scenarios`);
  const expected = new Set(SCENARIOS.map((s) => s.expected));
  for (const a of ["rag", "fine-tune", "hybrid", "long-context", "stronger-model", "prompt-only"]) assert.ok(expected.has(a as never), `no scenario expects ${a}`);
  assert.equal(new Set(SCENARIOS.map((s) => s.id)).size, SCENARIOS.length, "scenario ids are unique");
  for (const s of SCENARIOS) {
    assert.ok(s.reason.length > 20, `${s.id} has a reason`);
    assert.ok(s.premise, `${s.id} checks its premise on the run`);
  }
});

for (const s of SCENARIOS) {
  test(`scenario ${s.id}: ${s.expected}`, async () => {
    const r = await runScenario(s);
    assert.equal(r.generator, "offline:extractive");
    assert.equal(s.premise?.(r.summary), undefined, `${s.id}: premise`);
    assert.equal(r.got, s.expected, `${s.id}: rule ${r.rule}\n${r.decision.rationale.join("\n")}`);
    assert.equal(r.problem, undefined, r.problem);
    assert.equal(r.pass, true);
  });
}

test("too few labels: never training, and the advice is to collect labelled examples", async () => {
  const r = await runScenario(SCENARIOS.find((s) => s.id === "too-few-labels")!);
  assert.notEqual(r.got, "fine-tune");
  assert.notEqual(r.got, "hybrid");
  assert.ok(r.decision.whatWouldChange.some((l) => /Collect ≥ 300 labelled examples \(you have 60\)/.test(l)), r.decision.whatWouldChange.join("\n"));
});

test("weekly-changing knowledge is never trained into a model, even when the memoriser passes most", async () => {
  for (const id of ["weekly-knowledge-no-store", "weekly-knowledge-corpus-over-budget"]) {
    const r = await runScenario(SCENARIOS.find((s) => s.id === id)!);
    assert.ok(r.passRates["fine-tuned"] > r.passRates["long-context"], `${id}: the memoriser should pass more (${JSON.stringify(r.passRates)})`);
    assert.notEqual(r.got, "fine-tune", id);
    assert.ok(r.decision.rationale.some((l) => /knowledge changes weekly/.test(l)), `${id}: says why not fine-tune`);
  }
});

test("a scenario whose decision differs from its expected answer fails (the bank can fail)", async () => {
  const s = SCENARIOS.find((x) => x.id === "nothing-fails")!;
  const r = await runScenario({ ...s, expected: "rag" });
  assert.equal(r.pass, false);
  assert.match(r.problem ?? "", /expected rag, got prompt-only/);
});

test("runs are deterministic: the same scenario gives the same decision twice", async () => {
  const s = SCENARIOS.find((x) => x.id === "citations-and-strict-format")!;
  const a = await runScenario(s);
  const b = await runScenario(s);
  assert.deepEqual(b.passRates, a.passRates);
  assert.equal(b.rule, a.rule);
  assert.deepEqual(b.decision.rationale, a.decision.rationale);
});
