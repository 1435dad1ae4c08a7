import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { registerModels } from "../src/cli/commands/models.ts";
import { SqliteModelRegistry } from "../src/finetune/registry.ts";
import type { GateReport, TrainedArtifact } from "../src/finetune/index.ts";

function project(): { config: string; registry: () => SqliteModelRegistry } {
  const root = mkdtempSync(join(tmpdir(), "ragtune-models-cli-"));
  const config = join(root, "ragtune.yaml");
  writeFileSync(config, "name: t\nsources:\n  - include: 'docs/**/*.md'\nstoreDir: store\n");
  return { config, registry: () => new SqliteModelRegistry(join(root, "store", "index.db")) };
}

/** Run `ragtune -c <config> models …` in-process; returns stdout and the error (if any). */
async function run(config: string, args: string[]): Promise<{ out: string; error?: Error & { exitCode?: number } }> {
  const program = new Command();
  program.exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  program.option("-c, --config <file>");
  registerModels(program);
  let out = "";
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "ragtune", "-c", config, "models", ...args]);
    return { out };
  } catch (err) {
    return { out, error: err as Error & { exitCode?: number } };
  } finally {
    process.stdout.write = write;
  }
}

const art: TrainedArtifact = { trainer: "classifier", task: "classify", artifact: "models/clf", baseModel: "none", metrics: { accuracy: 0.9 }, config: {} };
const gate = (passed: boolean): GateReport => ({
  passed,
  n: 300,
  comparisons: [{ against: "baseline", candidateAccuracy: passed ? 0.93 : 0.88, referenceAccuracy: 0.891, pValue: passed ? 0.004 : 0.41, onlyCandidate: passed ? 20 : 10, onlyReference: passed ? 8 : 13, better: passed }],
  reason: passed ? "passed: candidate 93.0% vs baseline 89.1% on 300 held-out examples, McNemar p = 0.0040: better" : "refused: candidate 88.0% vs baseline 89.1% on 300 held-out examples, McNemar p = 0.41: not better",
});

test("models list / show, text and JSON", async () => {
  const p = project();
  const empty = await run(p.config, ["list"]);
  assert.match(empty.out, /no models/);
  const reg = p.registry();
  const a = reg.register(art, { datasetHash: "sha256:abc", gate: gate(true) });
  reg.register({ ...art, task: "qa", trainer: "memoriser" }, { datasetHash: "sha256:def" });
  reg.close();
  const list = await run(p.config, ["list", "--json"]);
  assert.equal(JSON.parse(list.out).length, 2);
  const onlyClassify = await run(p.config, ["list", "--task", "classify", "--json"]);
  assert.deepEqual(JSON.parse(onlyClassify.out).map((m: { id: string }) => m.id), [a.id]);
  const text = await run(p.config, ["list"]);
  assert.match(text.out, new RegExp(a.id));
  assert.match(text.out, /memoriser/);
  const show = await run(p.config, ["show", a.id]);
  assert.match(show.out, /dataset hash: sha256:abc/);
  assert.match(show.out, /vs baseline: 93\.0% vs 89\.1%, 20 vs 8 discordant, McNemar p = 0\.0040/);
  const showJson = JSON.parse((await run(p.config, ["show", a.id, "--json"])).out);
  assert.equal(showJson.datasetHash, "sha256:abc");
  const bad = await run(p.config, ["show", a.id.slice(0, -1) + "z"]);
  assert.equal(bad.error?.exitCode, 2);
  assert.match(bad.error!.message, /did you mean/);
  const badTask = await run(p.config, ["list", "--task", "nope"]);
  assert.equal(badTask.error?.exitCode, 2);
});

test("models promote: gated (exit 1 with the numbers), --force needs --reason (exit 2), forced is recorded; rollback", async () => {
  const p = project();
  const reg = p.registry();
  const good = reg.register(art, { datasetHash: "h", gate: gate(true) });
  reg.close();
  const ok = await run(p.config, ["promote", good.id]);
  assert.equal(ok.error, undefined);
  assert.match(ok.out, new RegExp(`promoted ${good.id} for classify`));

  const reg2 = p.registry();
  const worse = reg2.register(art, { datasetHash: "h2", parent: good.id, gate: gate(false) });
  reg2.close();
  const refused = await run(p.config, ["promote", worse.id]);
  assert.equal(refused.error?.exitCode, 1);
  assert.match(refused.error!.message, /candidate 88\.0% vs baseline 89\.1% on 300 held-out examples, McNemar p = 0\.41: not better/);

  const noReason = await run(p.config, ["promote", worse.id, "--force"]);
  assert.equal(noReason.error?.exitCode, 2);
  assert.match(noReason.error!.message, /--force needs --reason/);
  const reasonOnly = await run(p.config, ["promote", worse.id, "--reason", "x"]);
  assert.equal(reasonOnly.error?.exitCode, 2);

  const forced = await run(p.config, ["promote", worse.id, "--force", "--reason", "new label set required by support"]);
  assert.equal(forced.error, undefined);
  assert.match(forced.out, /forced despite the gate: new label set required by support/);
  assert.match(forced.out, new RegExp(`retired ${good.id}`));
  const rec = JSON.parse((await run(p.config, ["show", worse.id, "--json"])).out);
  assert.equal(rec.status, "promoted");
  assert.equal(rec.forced.reason, "new label set required by support");
  assert.equal(rec.history[0].forcedReason, "new label set required by support");

  const missingTask = await run(p.config, ["rollback"]);
  assert.ok(missingTask.error instanceof CommanderError, "--task is required (a usage error: exit 2 in main)");
  const back = await run(p.config, ["rollback", "--task", "classify"]);
  assert.match(back.out, new RegExp(`${good.id} is promoted again, ${worse.id} is retired`));
  const nothing = await run(p.config, ["rollback", "--task", "classify"]);
  assert.equal(nothing.error?.exitCode, 2);
  assert.match(nothing.error!.message, /nothing to roll back to/);
});
