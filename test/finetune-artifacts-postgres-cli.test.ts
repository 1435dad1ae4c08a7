/**
 * Fine-tuned model artifacts on a Postgres project, through the CLI: a memoriser trained and
 * promoted in one project folder (one machine) is served by `ragtune serve` in another folder on
 * the same database, which has no `<storeDir>/models` of its own — the artifact comes from
 * Postgres (`ft_artifacts`) into `<storeDir>/models-cache/<id>`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";

const skip = postgresSkipReason();

/** 30 question/answer pairs the memoriser learns (none of them is a suite input). */
function writeHistory(root: string): void {
  const lines: string[] = [];
  for (let i = 0; i < 30; i++) lines.push(JSON.stringify({ input: `What is the colour code of swatch number ${i}?`, output: `swatch ${i} is colour C-${1000 + i}` }));
  writeFileSync(join(root, "history.jsonl"), lines.join("\n") + "\n");
}

describe("fine-tuned artifacts of a Postgres project, across folders", { skip }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  const stops: (() => void)[] = [];
  usePostgres((s) => (server = s), { roots, stops });

  /** `ragtune serve --variant fine-tuned` in `root` answers a memorised question with model `id`. */
  async function assertServesMemorised(root: string, id: string): Promise<void> {
    const port = await freePort();
    const served = await startServe(root, ["--variant", "fine-tuned", "--port", String(port), "--no-auth"]);
    stops.push(served.stop);
    try {
      const res = await fetch(`${served.url}/v1/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: "What is the colour code of swatch number 7?" }) });
      const body = (await res.json()) as { answer: string; generator: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.generator, `memoriser:${id}`);
      assert.match(body.answer, /C-1007/);
    } finally {
      served.stop();
    }
  }

  test("train + promote a memoriser in folder a; `ragtune serve --variant fine-tuned` in folder b answers with it", async () => {
    const url = server.createDatabase("art_two_folders");
    const config = `store:\n  kind: postgres\n  url: "${url}"\n`;
    const a = makeTinyProject(config);
    const b = makeTinyProject(config);
    roots.push(a, b);
    writeHistory(a);
    assert.equal((await runCli(["ingest"], a)).code, 0);
    const trained = await runCli(["finetune", "train", "--task", "qa", "--file", "history.jsonl", "--force", "--reason", "two-folder test", "--json"], a);
    assert.equal(trained.code, 0, trained.stderr);
    const id = JSON.parse(trained.stdout)[0].model.id as string;
    assert.ok(existsSync(join(a, ".ragtune", "models")), "trained on folder a's disk");
    assert.equal(existsSync(join(b, ".ragtune", "models")), false, "folder b has no local models");

    await assertServesMemorised(b, id);
    assert.deepEqual(readdirSync(join(b, ".ragtune", "models-cache")), [id], "materialised under its id, no temp folder left");
  });

  test("store migrate copies the artifact of a locally trained model (counts + checksum); a Postgres folder without it then serves it", async () => {
    const root = makeTinyProject();
    roots.push(root);
    writeHistory(root);
    assert.equal((await runCli(["ingest"], root)).code, 0);
    const trained = await runCli(["finetune", "train", "--task", "qa", "--file", "history.jsonl", "--force", "--reason", "migrate test", "--json"], root);
    assert.equal(trained.code, 0, trained.stderr);
    const id = JSON.parse(trained.stdout)[0].model.id as string;
    const url = server.createDatabase("art_migrate");
    const m = await runCli(["store", "migrate", "--to", url, "--json"], root);
    assert.equal(m.code, 0, m.stderr);
    const part = (JSON.parse(m.stdout).copied as { name: string; counts: Record<string, number>; checksum: string }[]).find((p) => p.name === "model artifacts");
    assert.ok(part, m.stdout);
    assert.deepEqual({ ...part.counts, bytes: part.counts.bytes > 0 }, { artifacts: 1, bytes: true, "folders not found": 0, "over the limit": 0 });
    assert.match(part.checksum, /^[0-9a-f]{64}$/);
    const b = makeTinyProject(`store:\n  kind: postgres\n  url: "${url}"\n`);
    roots.push(b);
    await assertServesMemorised(b, id);
    assert.deepEqual(readdirSync(join(b, ".ragtune", "models-cache")), [id]);
  });
});
