/**
 * The labeller benchmark's core (bench/lib/label-injection.ts) on the tiny two-version project:
 * each injection goes through the real pipeline and makes a passing case fail for the injected
 * reason, and the confusion matrix counts what the labeller assigned.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { loadConfig } from "../src/config/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { confusion, goldFamily, HOUSE_POLICY, HOUSE_RUBRIC, indexWithout, injectAll, INJECTIONS, pageKey, runRagCase, type InjectionOutcome } from "../bench/lib/label-injection.ts";
import { flipVerdict, heuristicVerdict, startJudgeServer } from "../bench/lib/judge-server.ts";
import { createChatProvider } from "../src/models/registry.ts";
import { JUDGE_NAMES } from "../src/config/schema.ts";
import { judgeMessages } from "../src/evaluate/judges/index.ts";

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

// Judge mode ---------------------------------------------------------------------------------------
// The same injections with the five judges answered by the local heuristic judge server
// (bench/lib/judge-server.ts) through the real provider stack; tone and policy rules are in words
// only, so those labels can only come from judge evidence.

async function localJudge(project: Awaited<ReturnType<typeof tiny>>["env"]["project"], noise = 0) {
  const server = await startJudgeServer({ noise, seed: 1 });
  const models = { ...project.config.models, providers: { ...project.config.models.providers, local: { kind: "openai" as const, baseUrl: server.url, apiKeyEnv: "RAGTUNE_TEST_NO_KEY", timeoutMs: 10_000, maxRetries: 0, maxConcurrency: 2 } } };
  const provider = createChatProvider("openai-compatible:local/heuristic-judge", models, {}, { baseDir: project.root });
  return { server, judge: { provider, judges: [...JUDGE_NAMES] } };
}

test("heuristic judge: verdicts computed from the rendered judge prompts only", () => {
  const c = { id: "x", task: "qa" as const, input: "How long is the refund window for annual plans?", answer: ["30 days"], tone: { rubric: HOUSE_RUBRIC }, file: "s.yaml", line: 1 };
  const context = [{ id: "docs/v2/billing.md#0", path: "docs/v2/billing.md", headingPath: ["Billing"], text: "Annual plans can be refunded within 30 days of purchase.", score: 1, lineStart: 1, lineEnd: 1, version: "v2" }];
  const prompt = (name: (typeof JUDGE_NAMES)[number], text: string) =>
    judgeMessages(name, { case: c, suite: { policies: [HOUSE_POLICY] }, output: { text, abstained: false, citations: [] }, context: context as never })[1].content;
  const good = "Annual plans can be refunded within 30 days of purchase. [1]";
  assert.equal(heuristicVerdict("correctness", prompt("correctness", good)).verdict, "pass");
  assert.equal(heuristicVerdict("correctness", prompt("correctness", "Annual plans can be refunded within 14 days. [1]")).verdict, "fail");
  const faithful = heuristicVerdict("faithfulness", prompt("faithfulness", `${good} Each workspace gets 4,096 bonus credits per quarter for this [1].`)) as { claims: { claim: string; supported: boolean }[] };
  assert.deepEqual(faithful.claims.map((x) => x.supported), [true, false]);
  assert.equal(heuristicVerdict("tone", prompt("tone", `Obviously, ${good}`)).verdict, "fail");
  assert.equal(heuristicVerdict("tone", prompt("tone", good)).verdict, "pass");
  const policy = heuristicVerdict("policy", prompt("policy", `${good} As a one-off, we will waive the fee for you.`)) as { verdict: string; violations: string[] };
  assert.deepEqual([policy.verdict, policy.violations.length], ["fail", 1]);
  assert.equal(heuristicVerdict("policy", prompt("policy", good)).verdict, "pass");
  assert.equal(heuristicVerdict("relevance", prompt("relevance", good)).verdict, "pass");
  assert.equal(heuristicVerdict("relevance", prompt("relevance", "Hello there, have a nice weekend.")).verdict, "fail");
  // the flip reverses each kind of reply
  assert.equal(flipVerdict("policy", policy).verdict, "pass");
  assert.equal((flipVerdict("faithfulness", faithful) as typeof faithful).claims.every((x) => x.supported), true);
});

test("judge mode: tone and policy in words are labelled from judge evidence; the other causes keep their labels", async () => {
  const { env, done, byId } = await tiny();
  const { server, judge } = await localJudge(env.project);
  try {
    const judged = { ...env, judge };
    const run = async (cause: string, id: string) => {
      const c = byId(id);
      const baseline = await runRagCase(env.project, env.suite, c);
      assert.equal(baseline.passed, true, `${id} passes before the injection`);
      return INJECTIONS.find((i) => i.cause === cause)!.run(judged, c, baseline, 0);
    };
    const tone = await run("wrong_tone", "trash");
    assert.deepEqual([tone.passed, tone.failure?.cause, tone.failure?.signal, tone.failure?.source], [false, "wrong_tone", "judge.tone", "judge"]);
    assert.ok(!tone.scores.some((s) => s.name === "tone"), "no deterministic tone rule in judge mode");
    const policy = await run("policy_violation", "trash");
    assert.deepEqual([policy.failure?.cause, policy.failure?.signal], ["policy_violation", "judge.policy"]);
    assert.match(policy.failure!.evidence, /waive the fee/);
    const stale = await run("stale_knowledge", "refund-window");
    assert.equal(stale.failure?.cause, "stale_knowledge");
    assert.ok(stale.judges?.some((v) => v.judge === "correctness" && v.pass === false), "the correctness judge failed the stale answer");
    assert.equal((await run("hallucination", "trash")).failure?.cause, "hallucination");
    assert.equal((await run("wrong_retrieval", "refund-window")).failure?.cause, "wrong_retrieval");
    assert.ok(server.stats.requests > 0 && server.stats.byJudge.tone > 0 && server.stats.byJudge.policy > 0);
    // The whole tiny suite in judge mode: no false alarm on the passing baselines, every cause right.
    const all = await injectAll(judged);
    assert.deepEqual([all.falseAlarms?.failed, all.falseAlarms?.judged], [0, all.baselinePassed]);
    for (const p of confusion(all.outcomes).perCause) if (p.failed > 0) assert.equal(p.accuracy, 1, `${p.cause}: ${JSON.stringify(all.outcomes.filter((o) => o.injected === p.cause))}`);
  } finally {
    await server.close();
    done();
  }
});

test("judge mode with noise: flipped verdicts reach the labels (false alarms, judge-only causes missed)", async () => {
  const { env, done } = await tiny();
  const { server, judge } = await localJudge(env.project, 1);
  try {
    const all = await injectAll({ ...env, judge });
    assert.ok(server.stats.flipped > 0 && server.stats.flipped === server.stats.requests, "noise 1 flips every verdict");
    // Every judged qa baseline now fails on a flipped judge, and gets a (wrong) label.
    assert.ok((all.falseAlarms?.failed ?? 0) > 0);
    const tone = all.outcomes.filter((o) => o.injected === "wrong_tone");
    assert.ok(tone.length > 0 && tone.every((o) => o.assigned !== "wrong_tone"), `flipped tone verdicts hide the tone injection: ${JSON.stringify(tone)}`);
  } finally {
    await server.close();
    done();
  }
});

test("bench/labels.ts: bad judge options and an unreachable --judge-model exit 2 with the reason", () => {
  const bench = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "bench/labels.ts", ...args], { cwd: join(import.meta.dirname, ".."), encoding: "utf8" });
  const noise = bench(["--judge-noise", "1.5"]);
  assert.equal(noise.status, 2);
  assert.match(noise.stderr, /--judge-noise: '1\.5' must be a number from 0 to 1/);
  const mixed = bench(["--judge-model", "openai:gpt-4o-mini", "--judge-noise", "0.1"]);
  assert.equal(mixed.status, 2);
  assert.match(mixed.stderr, /cannot be combined with --judge-model/);
  // A configured endpoint nobody listens on (port 9, no retries): stops before any case runs.
  const dir = mkdtempSync(join(tmpdir(), "ragtune-labels-judgecfg-"));
  try {
    writeFileSync(join(dir, "ragtune.yaml"), 'name: x\nsources: [{include: "*.md"}]\nmodels:\n  judge: openai-compatible:mine/m\n  providers:\n    mine:\n      baseUrl: http://127.0.0.1:9/v1\n      maxRetries: 0\n');
    const down = bench(["--suite", "demo", "--judge-config", join(dir, "ragtune.yaml"), "--label", "test-unreachable"]);
    assert.equal(down.status, 2, down.stderr);
    assert.match(down.stderr, /--judge-model openai-compatible:mine\/m is unreachable or refused the request: .*127\.0\.0\.1:9/);
    assert.doesNotMatch(down.stdout, /labelled as injected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
