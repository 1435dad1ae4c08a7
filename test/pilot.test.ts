import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { runPilot, PILOT_STEPS, type PilotOptions } from "../src/pilot/index.ts";
import { retrievalCandidates } from "../src/pilot/candidates.ts";
import { openStore } from "../src/store/index.ts";
import { hasSnapshots } from "../src/store/index.ts";
import { InputError } from "../src/util/errors.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

const EXAMPLE = fileURLToPath(new URL("../examples/acme-support/", import.meta.url));

function exampleCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-pilot-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !/[/\\](runs|\.ragtune)([/\\]|$)/.test(src) });
  return dir;
}

const opts = (dir: string, extra: Partial<PilotOptions> = {}): PilotOptions => ({ loaded: loadConfig(join(dir, "ragtune.yaml")), candidates: "quick", ...extra });

function fingerprint(dir: string): string {
  const store = openStore(join(dir, ".ragtune", "index.db"));
  try {
    assert.ok(hasSnapshots(store));
    return store.identity().identity.fingerprint;
  } finally {
    store.close();
  }
}

test("pilot end to end on the example: every step recorded, report written, the project's index and ragtune.yaml untouched by the candidates", async () => {
  const dir = exampleCopy();
  try {
    const yaml = readFileSync(join(dir, "ragtune.yaml"));
    const lines: string[] = [];
    const r = await runPilot(opts(dir, { onProgress: (l) => lines.push(l) }));
    assert.deepEqual(r.state.steps.map((s) => s.name), [...PILOT_STEPS]);
    assert.equal(r.state.complete, true);
    assert.deepEqual(r.ran, [...PILOT_STEPS]);
    // The record on disk is what was returned.
    const onDisk = JSON.parse(readFileSync(join(r.dir, "pilot.json"), "utf8"));
    assert.deepEqual(onDisk, r.state);
    // Progress names each step as n/7.
    for (const [i, name] of PILOT_STEPS.entries()) assert.ok(lines.some((l) => l.startsWith(`[${i + 1}/7] ${name}:`)), name);

    const improved = r.state.steps.find((s) => s.name === "improved-rag")!;
    const scores = improved.data.candidates as { name: string; runId: string; vsBasic: { why: string } }[];
    assert.equal(scores.length, retrievalCandidates(r.state && opts(dir).loaded.config, "quick").length);
    for (const s of scores) assert.match(s.vsBasic.why, /paired bootstrap|no case has gold|McNemar/);
    // A re-chunking candidate built its own index inside the pilot folder.
    const rechunked = scores.find((s) => s.name.startsWith("chunk-"));
    assert.ok(rechunked && existsSync(join(r.dir, "candidates", rechunked.name, "index.db")));

    const decision = r.state.steps.find((s) => s.name === "decision")!;
    assert.ok(["prompt-only", "long-context", "rag", "fine-tune", "hybrid", "stronger-model"].includes(decision.data.architecture as string));
    for (const f of ["report.md", "report.json", "report.html"]) assert.ok(existsSync(join(decision.data.runDir as string, f)), f);
    assert.ok((decision.data.watch as string[]).length > 0, "rollout metrics to watch");

    const failures = r.state.steps.find((s) => s.name === "failures")!;
    const f = failures.data as { failed: number; byGroup: Record<string, number> };
    assert.equal(Object.values(f.byGroup).reduce((a, b) => a + b, 0), f.failed);
    // The example declares labelled data: the fine-tune step trained through the gate.
    const ft = r.state.steps.find((s) => s.name === "fine-tune")!;
    assert.equal(ft.data.justified, true);

    assert.deepEqual(readFileSync(join(dir, "ragtune.yaml")), yaml, "ragtune.yaml unchanged");
    const base = r.state.inputs.indexFingerprint;
    assert.equal(fingerprint(dir), base, "the project's index is the one the ingest step built");
    // Every run the pilot made is a normal run under runs/.
    const runs = readdirSync(join(dir, "runs"));
    for (const s of r.state.steps) for (const id of s.runIds) assert.ok(runs.includes(id), id);

    // Running again after completion starts a new pilot (the finished one is kept).
    const again = await runPilot(opts(dir, { until: "ingest" }));
    assert.notEqual(again.state.id, r.state.id);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pilot resumes after the last recorded step without re-running finished ones", async () => {
  const dir = makeTinyProject();
  try {
    const first = await runPilot(opts(dir, { until: "basic-rag" }));
    assert.deepEqual(first.state.steps.map((s) => s.name), ["ingest", "baseline", "basic-rag"]);
    assert.equal(first.state.complete, false);
    const recorded = first.state.steps.map((s) => ({ name: s.name, runIds: s.runIds, finishedAt: s.finishedAt }));
    const second = await runPilot(opts(dir));
    assert.equal(second.state.id, first.state.id, "the unfinished pilot continues");
    assert.deepEqual(second.ran, ["improved-rag", "failures", "fine-tune", "decision"]);
    assert.deepEqual(second.state.steps.slice(0, 3).map((s) => ({ name: s.name, runIds: s.runIds, finishedAt: s.finishedAt })), recorded);
    assert.equal(second.state.complete, true);
    // The tiny project has no labelled data: fine-tuning is skipped with the reason.
    const ft = second.state.steps.find((s) => s.name === "fine-tune")!;
    assert.equal(ft.status, "skipped");
    assert.match(ft.summary, /labelledExamples is 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pilot refuses to continue on changed documents or config, naming the change; --restart starts over", async () => {
  const dir = makeTinyProject();
  try {
    const first = await runPilot(opts(dir, { until: "baseline" }));
    appendFileSync(join(dir, "docs/v2/trash.md"), "\nAdmins can empty the trash at any time.\n");
    await assert.rejects(runPilot(opts(dir)), (e: Error) => e instanceof InputError && /documents changed since its steps ran \(0 added, 1 changed, 0 removed/.test(e.message) && /--restart/.test(e.message));
    const restarted = await runPilot(opts(dir, { restart: true, until: "ingest" }));
    assert.notEqual(restarted.state.id, first.state.id);
    appendFileSync(join(dir, "ragtune.yaml"), "\n# a comment\n");
    await assert.rejects(runPilot(opts(dir)), /ragtune\.yaml changed/);
    await assert.rejects(runPilot(opts(dir, { resume: "nope" })), /--resume: no pilot 'nope'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pilot asks before a step that may cost money; without a terminal it needs --yes", async () => {
  const dir = makeTinyProject();
  try {
    const paid = (extra: Partial<PilotOptions>) => {
      const o = opts(dir, extra);
      return { ...o, loaded: { ...o.loaded, config: { ...o.loaded.config, models: { ...o.loaded.config.models, generator: "openai:gpt-4.1-mini" } } } };
    };
    await assert.rejects(runPilot(paid({ interactive: false })), /prompt-only baseline calls openai:gpt-4\.1-mini, which may cost money.*pass --yes \(or set CI=true\)/);
    const asked: string[] = [];
    await assert.rejects(
      runPilot(paid({ interactive: true, ask: async (q) => (asked.push(q), false) })),
      /stopped before prompt-only baseline .*answered no/,
    );
    assert.equal(asked.length, 1);
    // The ingest step ran and was recorded; nothing was called.
    const resumed = await runPilot(opts(dir, { until: "ingest" }));
    assert.deepEqual(resumed.ran, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ragtune pilot on the command line: progress on stderr, the step table on stdout, CI=true answers yes", async () => {
  const dir = makeTinyProject();
  try {
    const r = await runCli(["pilot", "--until", "baseline", "--candidates", "quick"], dir, { CI: "true" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[2\/7\] baseline: prompt-only passes/);
    assert.match(r.stdout, /✓ ingest/);
    assert.match(r.stdout, /stopped before basic-rag; run `ragtune pilot` again to continue/);
    const done = await runCli(["pilot", "--candidates", "quick", "--json"], dir);
    assert.equal(done.code, 0, done.stderr);
    const state = JSON.parse(done.stdout);
    assert.equal(state.complete, true);
    assert.deepEqual(state.ran, ["basic-rag", "improved-rag", "failures", "fine-tune", "decision"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a candidate wins only with a significant recall gain and no significant pass-rate loss", async () => {
  const { compareToBasic } = await import("../src/pilot/candidates.ts");
  const ids = Array.from({ length: 30 }, (_, i) => `c${i}`);
  const basic = new Map(ids.map((id) => [id, { recall: 0.5, passed: true }]));
  const better = new Map(ids.map((id) => [id, { recall: 1, passed: true }]));
  const same = new Map(ids.map((id) => [id, { recall: 0.5, passed: true }]));
  const betterButFails = new Map(ids.map((id, i) => [id, { recall: 1, passed: i < 10 }]));
  const worse = new Map(ids.map((id) => [id, { recall: 0, passed: true }]));
  const a = compareToBasic(basic, better, 0.05, 1);
  assert.equal(a.better, true, a.why);
  assert.match(a.why, /recall \+0\.500 \(paired bootstrap p = /);
  const b = compareToBasic(basic, same, 0.05, 1);
  assert.equal(b.better, false);
  assert.match(b.why, /not a significant gain/);
  const c = compareToBasic(basic, betterButFails, 0.05, 1);
  assert.equal(c.better, false);
  assert.match(c.why, /significantly worse \(McNemar/);
  const d = compareToBasic(basic, worse, 0.05, 1);
  assert.match(d.why, /significantly lower/);
  const none = compareToBasic(new Map(ids.map((id) => [id, { passed: true }])), new Map(ids.map((id) => [id, { passed: true }])), 0.05, 1);
  assert.match(none.why, /no case has gold sources/);
});
