/**
 * The fine-tuning loop inside a project: memoriser, train → gate → register → promote, and the
 * fine-tuned / hybrid variants resolving the promoted models in eval.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults } from "../src/evaluate/runs.ts";
import { NearestExampleMemoriser } from "../src/finetune/memoriser.ts";
import { trainAndRegister } from "../src/finetune/train.ts";
import { SqliteModelRegistry } from "../src/finetune/registry.ts";
import { measuredGain, Evidence } from "../src/decide/rules.ts";

const qa = (input: string, output: string, i = 0) => ({ input, output, source: `history.jsonl:${i + 1}` });

test("memoriser: answers a paraphrase of a seen question, abstains on an unseen one, round-trips", () => {
  const m = new NearestExampleMemoriser([
    qa("How long do deleted cards stay in the trash?", "30 days", 0),
    qa("What is the API rate limit per key?", "60 requests per minute", 1),
  ]);
  const hit = m.answer("how long are deleted cards kept in trash");
  assert.equal(hit?.answer, "30 days");
  assert.ok(hit!.similarity >= m.threshold && hit!.similarity <= 1);
  assert.equal(hit?.source, "history.jsonl:1");
  assert.equal(m.answer("Can I pay with PayPal?"), undefined);
  assert.ok((m.nearest("Can I pay with PayPal?")?.similarity ?? 0) < m.threshold);
  const copy = NearestExampleMemoriser.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
  assert.deepEqual(copy.answer("how long are deleted cards kept in trash"), hit);
  assert.throws(() => NearestExampleMemoriser.fromJSON({ format: "other" }, "x.json"), /x\.json: not a ragtune memoriser/);
  assert.throws(() => new NearestExampleMemoriser([], { threshold: 2 }), /threshold must be in \[0, 1\]/);
});

/** 60 tickets per queue, phrased around the queue's words, plus one that duplicates a suite input. */
function writeTickets(root: string): void {
  const billing = ["charged twice on my invoice", "refund my annual plan payment", "update the card on file for billing", "invoice shows the wrong VAT number", "cancel my subscription and refund"];
  const bugs = ["the board page crashes with an error", "cards do not load, spinner forever", "app shows error 500 when saving", "drag and drop is broken on firefox", "notifications crash the mobile app"];
  const rows = ["id,text,queue"];
  let n = 0;
  for (let i = 0; i < 60; i++) {
    rows.push(`T${++n},"${billing[i % 5]} (ticket ${i})",billing`);
    rows.push(`T${++n},"${bugs[i % 5]} (report ${i})",bug_report`);
  }
  // Exactly a suite input: decontamination must drop it.
  rows.push(`T${++n},"I was charged twice on my invoice, please refund one payment",billing`);
  writeFileSync(join(root, "tickets.csv"), rows.join("\n") + "\n");
}

/** The tiny project with a classify dataset over tickets.csv, ingested. */
async function ticketProject() {
  const root = makeTinyProject(`finetune:\n  datasets:\n    - task: classify\n      file: tickets.csv\n      inputField: text\n      outputField: queue\n`);
  writeTickets(root);
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  return { root, project };
}

test("train → gate → register → promote; the fine-tuned and hybrid variants then use the classifier", async () => {
  const { root, project } = await ticketProject();
  try {
    const d = project.config.finetune.datasets[0];
    const outcome = await trainAndRegister(project, {
      task: "classify",
      dataset: { name: "classify", files: [{ path: join(root, d.file), task: "classify", inputField: d.inputField, outputField: d.outputField }] },
    });
    const decon = outcome.build.steps.find((s) => s.step.startsWith("decontam"));
    assert.equal(decon?.removed, 1, "the ticket equal to a suite input is dropped");
    assert.equal(outcome.record.trainer, "classifier");
    assert.equal(outcome.record.datasetHash, outcome.build.hash);
    assert.ok(outcome.gate.n > 0);
    assert.match(outcome.gate.comparisons[0].against, /prompt baseline/);
    assert.equal(outcome.promoted, outcome.gate.passed);
    if (!outcome.promoted) {
      const registry = new SqliteModelRegistry(project.indexFile);
      registry.promote(outcome.record.id, { force: { reason: "test" } });
      registry.close();
    }
    assert.deepEqual(project.promotedModels().map((m) => m.id), [outcome.record.id]);

    const suite = loadSuite(join(root, "suite.yaml"));
    const { summary, runDir } = await runEval({ project, suite, variants: ["rag", "fine-tuned", "hybrid"] });
    assert.deepEqual(summary.variants.map((v) => v.name), ["rag", "fine-tuned", "hybrid"]);
    assert.deepEqual(summary.notConfigured, []);
    const cases = readCaseResults(runDir);
    for (const variant of ["fine-tuned", "hybrid"]) {
      const routed = cases.filter((c) => c.variant === variant && c.task === "classify");
      assert.ok(routed.length > 0 && routed.every((c) => c.generator === `classifier:${outcome.record.id}`), variant);
      assert.ok(routed.every((c) => c.passed), `${variant}: the trained classifier routes both tickets`);
      // Tasks without a trained model go to the base generator.
      assert.ok(cases.filter((c) => c.variant === variant && c.task === "qa").every((c) => c.generator === "offline:extractive"));
    }
    assert.ok(cases.filter((c) => c.variant === "hybrid" && c.task === "qa").some((c) => c.retrieved.length > 0), "hybrid retrieves");
  } finally {
    project.close();
  }
});

test("settings.encoder: the candidate reads embeddings, the gate's prompt baseline uses the same encoder, and the promoted model serves", async () => {
  const { root, project } = await ticketProject();
  try {
    const d = project.config.finetune.datasets[0];
    // hashing:64 is an offline encoder with no model, so the real code path runs in a unit test.
    const outcome = await trainAndRegister(project, {
      task: "classify",
      settings: { encoder: "hashing:64" },
      promote: "force",
      forceReason: "test",
      dataset: { name: "classify", files: [{ path: join(root, d.file), task: "classify", inputField: d.inputField, outputField: d.outputField }] },
    });
    assert.equal(outcome.record.config.encoder, "hashing:64");
    assert.equal(outcome.baselineName, "prompt baseline: few-shot-knn(k=5, hashing:64)");
    const suite = loadSuite(join(root, "suite.yaml"));
    const { runDir } = await runEval({ project, suite, variants: ["fine-tuned"] });
    const routed = readCaseResults(runDir).filter((c) => c.task === "classify");
    assert.ok(routed.length > 0 && routed.every((c) => c.generator === `classifier:${outcome.record.id}` && c.output.length > 0));
  } finally {
    project.close();
  }
});

test("no promoted model: fine-tuned and hybrid are listed as not configured, never simulated", async () => {
  const root = makeTinyProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
    const { summary } = await runEval({ project, suite: loadSuite(join(root, "suite.yaml")), variants: ["rag", "fine-tuned", "hybrid"] });
    assert.deepEqual(summary.notConfigured.map((n) => n.name), ["fine-tuned", "hybrid"]);
    assert.match(summary.notConfigured[0].reason, /ragtune finetune train/);
  } finally {
    project.close();
  }
});

test("CLI: finetune train refuses --force without --reason and says what to declare when there is nothing to train", async () => {
  const root = makeTinyProject();
  const forced = await runCli(["finetune", "train", "--force"], root);
  assert.equal(forced.code, 2);
  assert.match(forced.stderr, /--force needs --reason/);
  const nothing = await runCli(["finetune", "train"], root);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /finetune\.datasets/);
});

test("decide: a measured gain qualifies by significance when the run has a paired comparison, else by the 5-point margin", () => {
  const variant = (name: string, passRate: number) => ({ name, generator: "g", cases: 100, passed: passRate * 100, passRate, metrics: {}, failures: {}, failuresByTask: {}, latencyMs: { p50: 1, p95: 1 }, costUsd: 0, projectedCostUsd: 0, tokens: { input: 1, output: 1 }, perQuery: { inputTokens: 1, outputTokens: 1, costUsd: 0, projectedCostUsd: 0 } });
  const summary = (comparisons?: unknown[]) =>
    ({ runId: "r", createdAt: "", project: "p", generator: "g", suite: { path: "s", cases: 100, byTask: {} }, corpus: { documents: 1, chunks: 1, tokens: 1, versions: [] }, retrievalK: 5, variants: [variant("rag", 0.53), variant("hybrid", 0.579)], notConfigured: [], complete: true, comparisons }) as any;
  const config = loadConfig(join(makeTinyProject(), "ragtune.yaml")).config;
  const significant = new Evidence(summary([{ a: "rag", b: "hybrid", metric: "passRate", test: "mcnemar-exact", n: 100, diff: 0.049, pValue: 0.039, significant: true }]), [], config as any);
  assert.deepEqual(measuredGain(significant, "rag", "hybrid").qualifies, true);
  assert.match(measuredGain(significant, "rag", "hybrid").text, /\+4\.9 points, significant \(McNemar p = 0\.039, n = 100\)/);
  const noise = new Evidence(summary([{ a: "rag", b: "hybrid", metric: "passRate", test: "mcnemar-exact", n: 100, diff: 0.049, pValue: 0.3, significant: false }]), [], config as any);
  assert.equal(measuredGain(noise, "rag", "hybrid").qualifies, false);
  const none = new Evidence(summary(), [], config as any);
  assert.equal(measuredGain(none, "rag", "hybrid").qualifies, false, "4.9 points < 5 without a test");
});
