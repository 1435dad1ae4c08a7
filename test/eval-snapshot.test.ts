/**
 * One run reads one index. An `ingest` in a second process commits while the eval runs (from the
 * progress hook, between cases): every case of the run must still see the index as it was when the
 * run started — same generation, chunk ids and facts of that version only — and a resume after
 * the re-ingest must run against that version too, or refuse naming what changed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults, readSnapshot, readSummary } from "../src/evaluate/runs.ts";
import { openStore } from "../src/store/index.ts";
import type { CaseResult } from "../src/evaluate/types.ts";

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "bin", "ragtune.js");

const FACTS_V1: Record<string, string> = {
  "docs/uploads.md": "# Uploads\n\n## Limits\n\nThe upload limit for widget files is 10 MB per file.\n",
  "docs/sessions.md": "# Sessions\n\n## Timeout\n\nIdle sessions expire after 15 minutes without activity.\n",
  "docs/exports.md": "# Exports\n\n## Formats\n\nBoard exports are written as CSV files with one row per card.\n",
  "docs/legacy.md": "# Legacy\n\n## Fax gateway\n\nThe fax gateway accepts documents at extension 4411 of the office line.\n",
  "docs/audit.md": "# Audit\n\n## Retention\n\nAudit log entries are kept for 90 days and then purged.\n",
};

/** The second version: two facts change, one page is removed, one is added. */
function applyVersion2(root: string): void {
  writeFileSync(join(root, "docs/uploads.md"), "# Uploads\n\n## Limits\n\nThe upload limit for widget files is 250 MB per file.\n");
  writeFileSync(join(root, "docs/sessions.md"), "# Sessions\n\n## Timeout\n\nIdle sessions expire after 45 minutes without activity.\n");
  rmSync(join(root, "docs/legacy.md"));
  writeFileSync(join(root, "docs/gizmos.md"), "# Gizmos\n\n## Colour\n\nThe gizmo widget files are painted teal for the fax gateway launch.\n");
}

const SUITE = `cases:
  - id: upload-limit
    task: qa
    input: What is the upload limit for widget files?
    answer: "10 MB"
    sources: [docs/uploads.md]
  - id: session-timeout
    task: qa
    input: After how many minutes do idle sessions expire?
    answer: "15 minutes"
    sources: [docs/sessions.md]
  - id: export-format
    task: qa
    input: In which format are board exports written?
    answer: "CSV"
    sources: [docs/exports.md]
  - id: fax-extension
    task: qa
    input: At which extension does the fax gateway accept documents?
    answer: "4411"
    sources: [docs/legacy.md]
  - id: audit-retention
    task: qa
    input: How long are audit log entries kept?
    answer: "90 days"
    sources: [docs/audit.md]
  - id: upload-limit-again
    task: qa
    input: How large may one widget file upload be?
    answer: "10 MB"
    sources: [docs/uploads.md]
`;

async function makeProject(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "ragtune-snapshot-"));
  for (const [path, text] of Object.entries(FACTS_V1)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  writeFileSync(
    join(root, "ragtune.yaml"),
    'name: snapshot-test\nsources:\n  - include: "docs/**/*.md"\nsuite: suite.yaml\nvariants: [rag, long-context]\nevaluate:\n  concurrency: 1\n',
  );
  writeFileSync(join(root, "suite.yaml"), SUITE);
  ingestInAnotherProcess(root);
  return root;
}

function open(root: string): { project: Project; suite: ReturnType<typeof loadSuite> } {
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  return { project, suite: loadSuite(join(root, "suite.yaml")) };
}

/** A real second process commits the ingest (synchronously, so it lands between two cases). */
function ingestInAnotherProcess(root: string): void {
  execFileSync(process.execPath, [BIN, "ingest", "-c", join(root, "ragtune.yaml")], { stdio: "pipe" });
}

function liveGeneration(root: string): number {
  const store = openStore(join(root, ".ragtune", "index.db"));
  try {
    return store.generation();
  } finally {
    store.close();
  }
}

const V1_PATHS = new Set(Object.keys(FACTS_V1));

/** Every case read the pinned version: one generation, chunks of v1 documents only, v1 facts in the answers. */
function assertPinned(cases: CaseResult[], generation: number): void {
  for (const r of cases) {
    assert.equal(r.indexGeneration, generation, `${r.variant}/${r.caseId} was served by generation ${r.indexGeneration}, not the run's ${generation}`);
    for (const h of r.retrieved) assert.ok(V1_PATHS.has(h.path), `${r.variant}/${r.caseId} retrieved ${h.id}, which is not in the pinned index`);
    for (const p of r.contextPaths) assert.ok(V1_PATHS.has(p), `${r.variant}/${r.caseId} saw ${p} in its context`);
    assert.doesNotMatch(r.output, /250 MB|45 minutes|teal/, `${r.variant}/${r.caseId} quoted the new version: ${r.output}`);
  }
  const rag = cases.filter((r) => r.variant === "rag");
  // The removed page keeps answering, the changed facts keep their first-version values.
  assert.ok(rag.find((r) => r.caseId === "fax-extension")?.retrieved.some((h) => h.path === "docs/legacy.md"));
  assert.match(rag.find((r) => r.caseId === "upload-limit-again")!.output, /10 MB/);
}

test("an ingest committed by another process mid-run does not reach the run: every case reads the pinned index", async () => {
  const root = await makeProject();
  const { project, suite } = open(root);
  try {
    const before = liveGeneration(root);
    let ingestedAfter = -1;
    const result = await runEval({
      project,
      suite,
      onProgress: (e) => {
        if (e.done === 2) {
          applyVersion2(root);
          ingestInAnotherProcess(root);
          ingestedAfter = e.done;
        }
      },
    });
    assert.equal(ingestedAfter, 2, "the ingest ran between cases");
    assert.ok(liveGeneration(root) > before, "the live index moved on");
    const recorded = readSnapshot(result.runDir).index!;
    assert.equal(recorded.generation, before);
    assert.equal(recorded.documents, 5);
    const cases = readCaseResults(result.runDir);
    assert.equal(cases.length, 12);
    assertPinned(cases, recorded.generation);
    // 10 of the 12 cases ran after the ingest had committed, and still read the pinned copy.
    const summary = readSummary(result.runDir);
    assert.deepEqual(summary.index, { generation: recorded.generation, fingerprint: recorded.fingerprint, documents: 5, chunks: recorded.chunks });
    assert.equal(summary.corpus.documents, 5);
    // Complete: the copy is released, the manifest stays to name changes later.
    assert.equal(existsSync(join(result.runDir, "index.db")), false);
    assert.ok(existsSync(join(result.runDir, "index-manifest.json")));
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a run interrupted, then re-ingested, resumes against its own version", async () => {
  const root = await makeProject();
  const { project, suite } = open(root);
  try {
    const crash = new Error("simulated crash");
    await assert.rejects(
      runEval({
        project,
        suite,
        onProgress: (e) => {
          if (e.done === 3) throw crash;
        },
      }),
      (err) => err === crash,
    );
    const runDir = join(root, "runs", readdirSync(join(root, "runs"))[0]);
    assert.ok(existsSync(join(runDir, "index.db")), "an interrupted run keeps its copy");
    const recorded = readSnapshot(runDir).index!;
    applyVersion2(root);
    ingestInAnotherProcess(root);
    assert.ok(liveGeneration(root) > recorded.generation);

    const { project: again } = open(root);
    try {
      const resumed = await runEval({ project: again, suite, resumeDir: runDir });
      assert.equal(resumed.index?.fingerprint, recorded.fingerprint);
      assert.ok(resumed.index?.live && resumed.index.live.fingerprint !== recorded.fingerprint, "the result says the live index differs");
      const cases = readCaseResults(runDir);
      assert.equal(cases.length, 12);
      assertPinned(cases, recorded.generation);
    } finally {
      again.close();
    }
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("resume refuses, naming what changed, when the run's copy is gone and the live index differs (exit 2)", async () => {
  const root = await makeProject();
  const { project, suite } = open(root);
  try {
    const first = await runEval({ project, suite, variants: ["rag"] });
    applyVersion2(root);
    ingestInAnotherProcess(root);
    // The run completed, so its copy is gone; resuming it (e.g. for other cases) needs the same index.
    await assert.rejects(runEval({ project, suite, resumeDir: first.runDir, variants: ["rag"] }), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /the index changed since the run started/);
      assert.match(err.message, /2 documents changed \(docs\/sessions\.md, docs\/uploads\.md\)/);
      assert.match(err.message, /1 document added \(docs\/gizmos\.md\)/);
      assert.match(err.message, /1 document removed \(docs\/legacy\.md\)/);
      assert.match(err.message, /generation \d+ → \d+/);
      return true;
    });
    // The CLI says the same and exits 2.
    const cli = spawnSync(process.execPath, [BIN, "eval", "--resume", first.summary.runId, "-c", join(root, "ragtune.yaml")], { encoding: "utf8" });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /1 document added \(docs\/gizmos\.md\)/);
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});


test("the manifest names the documents of the pinned copy", async () => {
  const root = await makeProject();
  const { project, suite } = open(root);
  try {
    const { runDir } = await runEval({ project, suite, variants: ["rag"] });
    const manifest = JSON.parse(readFileSync(join(runDir, "index-manifest.json"), "utf8")) as { documents: { path: string }[] };
    assert.deepEqual(manifest.documents.map((d) => d.path).sort(), [...V1_PATHS].sort());
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});
