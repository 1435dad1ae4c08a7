/**
 * The labeller benchmark's core (bench/lib/label-injection.ts) on the tiny two-version project:
 * each injection goes through the real pipeline and makes a passing case fail for the injected
 * reason, and the confusion matrix counts what the labeller assigned.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { loadConfig } from "../src/config/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { confusion, goldFamily, indexWithout, injectAll, INJECTIONS, pageKey, runRagCase, type InjectionOutcome } from "../bench/lib/label-injection.ts";

async function tiny() {
  const root = makeTinyProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  const suite = loadSuite(join(root, "suite.yaml"));
  const scratch = mkdtempSync(join(tmpdir(), "ragtune-labels-test-"));
  const env = { project, suite, withoutDocuments: indexWithout(project, scratch) };
  const done = () => {
    project.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  };
  return { env, done, byId: (id: string) => suite.cases.find((c) => c.id === id)! };
}

test("confusion: counts injected × assigned, leaves still-passing injections out of the accuracy", () => {
  const o = (injected: InjectionOutcome["injected"], assigned: InjectionOutcome["assigned"]): InjectionOutcome => ({ caseId: "c", file: "s.yaml", injected, assigned });
  const r = confusion([o("stale_knowledge", "stale_knowledge"), o("stale_knowledge", "wrong_retrieval"), o("stale_knowledge", "passed"), o("bad_format", "bad_format")]);
  assert.equal(r.matrix.stale_knowledge.stale_knowledge, 1);
  assert.equal(r.matrix.stale_knowledge.wrong_retrieval, 1);
  const stale = r.perCause.find((p) => p.cause === "stale_knowledge")!;
  assert.deepEqual([stale.failed, stale.correct, stale.accuracy, stale.stillPassed], [2, 1, 0.5, 1]);
  assert.equal(r.perCause.find((p) => p.cause === "hallucination")!.accuracy, null);
  assert.deepEqual(r.overall, { failed: 3, correct: 2, accuracy: 2 / 3 });
});

test("goldFamily: the gold page and its copies in other versions, nothing else", async () => {
  const { env, done, byId } = await tiny();
  try {
    assert.equal(pageKey("docs/v1/billing.md", "v1"), "docs/billing.md");
    assert.deepEqual(goldFamily(env.project, byId("refund-window")).sort(), ["docs/v1/billing.md", "docs/v2/billing.md"]);
    assert.deepEqual(goldFamily(env.project, byId("trash")), ["docs/v2/trash.md"]);
  } finally {
    done();
  }
});

test("each injection fails a passing case through the pipeline, and the labeller names the injected cause", async () => {
  const { env, done, byId } = await tiny();
  try {
    const run = async (cause: string, id: string) => {
      const c = byId(id);
      const baseline = await runRagCase(env.project, env.suite, c);
      assert.equal(baseline.passed, true, `${id} passes before the injection`);
      const inj = INJECTIONS.find((i) => i.cause === cause)!;
      assert.equal(inj.applies(c, baseline), true, `${cause} applies to ${id}`);
      const r = await inj.run(env, c, baseline, 0);
      assert.equal(r.passed, false, `${cause} makes ${id} fail`);
      return r;
    };
    // The index copy lacks the gold page (both versions); the live index still has it.
    const missing = await run("missing_knowledge", "trash");
    assert.deepEqual([missing.failure?.cause, missing.failure?.signal], ["missing_knowledge", "gold_not_in_corpus"]);
    assert.ok(env.project.store.documents().some((d) => d.path === "docs/v2/trash.md"));
    // Old version only: the reader answers 14 days from v1.
    const stale = await run("stale_knowledge", "refund-window");
    assert.ok(stale.context.every((ch) => ch.version === "v1"));
    assert.deepEqual([stale.failure?.cause, stale.failure?.signal], ["stale_knowledge", "stale_answer_match"]);
    const wrong = await run("wrong_retrieval", "refund-window");
    assert.ok(wrong.context.every((ch) => !ch.path.endsWith("billing.md")));
    assert.equal(wrong.failure?.cause, "wrong_retrieval");
    const made = await run("hallucination", "unanswerable");
    assert.deepEqual([made.failure?.cause, made.failure?.signal], ["hallucination", "answered_unanswerable"]);
    const unsupported = await run("hallucination", "trash");
    assert.deepEqual([unsupported.failure?.cause, unsupported.failure?.signal], ["hallucination", "unsupported_claims"]);
    assert.deepEqual([(await run("bad_format", "extract-email")).failure?.signal], ["not_json"]);
    assert.deepEqual([(await run("wrong_tone", "trash")).failure?.cause], ["wrong_tone"]);
    assert.deepEqual([(await run("policy_violation", "trash")).failure?.cause], ["policy_violation"]);
    const weak = await run("weak_reasoning", "route-billing");
    assert.deepEqual([weak.output.label, weak.failure?.signal], ["bug_report", "wrong_label"]);
    const weakJson = await run("weak_reasoning", "extract-email");
    assert.deepEqual([weakJson.failure?.cause, weakJson.failure?.signal], ["weak_reasoning", "wrong_fields"]);
  } finally {
    done();
  }
});

test("injectAll: only passing cases are injected; every cause of the tiny suite is labelled as injected", async () => {
  const { env, done } = await tiny();
  try {
    const { outcomes, baselinePassed, baselineTotal } = await injectAll(env);
    assert.equal(baselineTotal, env.suite.cases.length);
    assert.ok(baselinePassed > 0 && baselinePassed <= baselineTotal);
    const r = confusion(outcomes);
    for (const p of r.perCause) if (p.failed > 0) assert.equal(p.accuracy, 1, `${p.cause}: ${JSON.stringify(outcomes.filter((o) => o.injected === p.cause))}`);
    assert.ok(r.perCause.filter((p) => p.failed > 0).length >= 7, "at least seven causes injected on the tiny suite");
  } finally {
    done();
  }
});
