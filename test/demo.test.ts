import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/ragtune.js", import.meta.url));

test("`ragtune demo` runs the whole loop offline and writes a complete report", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-demo-test-"));
  const out = join(dir, "demo");
  const r = spawnSync(process.execPath, [BIN, "demo", "--out", out], {
    cwd: dir,
    encoding: "utf8",
    // No network: no proxy, no keys; the offline generator must not need them.
    env: { ...process.env, NO_COLOR: "1", OPENAI_API_KEY: "", HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9" },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /recommendation:/);
  assert.match(r.stdout, /report\.md/);

  const runs = readdirSync(join(out, "runs"));
  assert.equal(runs.length, 1);
  const runDir = join(out, "runs", runs[0]);
  for (const f of ["config.json", "cases.jsonl", "summary.json", "report.json", "report.md", "report.html"]) assert.ok(existsSync(join(runDir, f)), f);

  const report = JSON.parse(readFileSync(join(runDir, "report.json"), "utf8"));
  assert.equal(report.runId, runs[0]);
  assert.ok(["prompt-only", "long-context", "rag", "fine-tune", "hybrid", "stronger-model"].includes(report.recommendation.architecture));
  assert.ok(["high", "medium", "low"].includes(report.recommendation.confidence));
  assert.ok(report.recommendation.rationale.length >= 2);
  assert.ok(report.recommendation.rationale.some((l: string) => /\d/.test(l)), "rationale quotes numbers");
  assert.ok(report.recommendation.whatWouldChange.length >= 1);
  assert.match(JSON.stringify(report.generator), /offline:extractive/);

  const names = report.variants.map((v: { name: string }) => v.name);
  assert.deepEqual(names, ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"]);
  const suiteCases = report.variants[0].cases;
  assert.ok(suiteCases >= 60, `suite has ≥ 60 cases (got ${suiteCases})`);
  for (const v of report.variants) {
    assert.equal(v.cases, suiteCases);
    assert.ok(v.passed >= 0 && v.passed <= v.cases);
    assert.equal(typeof v.latencyMs.p50, "number");
    assert.equal(typeof v.latencyMs.p95, "number");
    assert.equal(typeof v.costUsd, "number");
    const failed = Object.values(v.failures as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.equal(failed, v.cases - v.passed, `${v.name}: every failure has exactly one cause`);
  }
  const byName = Object.fromEntries(report.variants.map((v: any) => [v.name, v]));
  // The example is built so that documents matter: rag must beat prompt-only by a wide margin.
  assert.ok(byName.rag.passed > byName["prompt-only"].passed + 15, `rag ${byName.rag.passed} vs prompt-only ${byName["prompt-only"].passed}`);
  assert.ok((byName["prompt-only"].failures.missing_knowledge ?? 0) > 0);
  assert.deepEqual(report.notConfigured, []);
  // The fine-tuning step trained, gated and registered a model per declared dataset: the classifier
  // passes its gate; the memoriser is refused by it (memorising does not generalise) and promoted
  // for the demonstration, recorded as forced.
  assert.match(r.stdout, /2\. fine-tune/);
  assert.match(r.stdout, /classify: classifier m-\d{8}-\d{6}-[0-9a-f]{4}/);
  assert.match(r.stdout, /recorded as forced/);
  // fine-tuned answers classify cases with the classifier and qa cases from memory (stale on changed
  // facts); hybrid = classifier + retrieval.
  const cases = readFileSync(join(runDir, "cases.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const ft = cases.filter((c) => c.variant === "fine-tuned");
  assert.ok(ft.some((c) => c.task === "classify" && /^classifier:m-/.test(c.generator)));
  assert.ok(ft.some((c) => c.task === "qa" && /^memoriser:m-/.test(c.generator)));
  assert.ok((byName["fine-tuned"].failures.stale_knowledge ?? 0) > 0, "the memoriser answers changed facts from last year's docs");
  assert.ok(byName.hybrid.passed > byName["fine-tuned"].passed);
  const routing = (name: string) => cases.filter((c) => c.variant === name && c.task === "classify" && c.passed).length;
  assert.ok(routing("hybrid") > routing("rag"), `the classifier routes better than the offline zero-shot: ${routing("hybrid")} vs ${routing("rag")}`);

  const md = readFileSync(join(runDir, "report.md"), "utf8");
  assert.match(md, /offline:extractive/);
  assert.match(md, /rag/);
});
