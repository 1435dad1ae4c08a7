import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandTrainer, fillPlaceholders, metricsInLine, shellQuote } from "../src/finetune/trainers/command.ts";
import type { TrainerEvent, TrainingExample } from "../src/finetune/index.ts";
import { InputError, JobFailure } from "../src/util/errors.ts";
import { relocateArtifact } from "../src/finetune/train.ts";

const ex = (id: string, input: string, output: string): TrainingExample => ({ id, task: "qa", input, output, source: `qa.jsonl:${id}` });
const data = { train: [ex("1", "How long is the refund window?", "30 days"), ex("2", "Trash retention?", "60 days")], validation: [ex("3", "Payment methods?", "Visa, Mastercard")] };
const tmp = (prefix = "ragtune-ft-cmd-") => mkdtempSync(join(tmpdir(), prefix));
const node = process.execPath;

/** A fake base model: the GGUF magic and some bytes. */
function fakeBase(): string {
  const file = join(tmp(), "base model.gguf");
  writeFileSync(file, Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(16)]));
  return file;
}

/** A "training tool": reads the train file, prints progress on stdout and stderr, writes an adapter. */
const TRAIN_SCRIPT = `
const fs = require("fs"), path = require("path");
const [train, out] = process.argv.slice(-2);
const n = fs.readFileSync(train, "utf8").trim().split("\\n").length;
console.log("loaded " + n + " examples from " + path.basename(train));
console.log("{'loss': 1.5, 'learning_rate': 0.0002, 'epoch': 0.5}");
console.error("warning: no GPU, this will be slow");
console.log("step 2 loss=0.75");
fs.mkdirSync(path.join(out, "lora"), { recursive: true });
fs.writeFileSync(path.join(out, "lora", "adapter.gguf"), Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(8)]));
console.log("saved adapter");
`;

test("placeholders, shell quoting and metric parsing", () => {
  assert.equal(fillPlaceholders("x {train} {outDir} {keep}", { train: "/a b/t.jsonl", outDir: "/o" }, shellQuote), "x '/a b/t.jsonl' /o {keep}");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.deepEqual(metricsInLine("{'loss': 1.5, 'learning_rate': 0.0002, 'epoch': 0.5}").map((m) => [m.name, m.value]), [["loss", 1.5], ["learning_rate", 0.0002], ["epoch", 0.5]]);
  assert.deepEqual(metricsInLine("Iter 20: Train loss 1.234, It/sec 0.5"), [{ name: "train_loss", value: 1.234, step: 20 }]);
  assert.deepEqual(metricsInLine("nothing to see"), []);
});

test("runs the command (argv form), streams logs to onEvent and train.log, finds the GGUF adapter", async () => {
  const outDir = tmp();
  const base = fakeBase();
  const events: TrainerEvent[] = [];
  const trainer = new CommandTrainer({ command: [node, "-e", TRAIN_SCRIPT, "{train}", "{outDir}"], baseModel: base });
  const result = await trainer.train(data, { outDir, onEvent: (e) => events.push(e) });

  const adapter = join(outDir, "lora", "adapter.gguf");
  assert.equal(result.trainer, "command");
  assert.equal(result.task, "qa");
  assert.equal(result.artifact, adapter);
  assert.equal(result.baseModel, base);
  assert.equal(result.generatorId, `llamacpp:${base}?lora=${adapter}`);
  assert.deepEqual(result.metrics, { loss: 0.75, learning_rate: 0.0002, epoch: 0.5 });

  // The data was written as chat JSONL and given to the command.
  const lines = readFileSync(join(outDir, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.messages.at(-1).content), ["30 days", "60 days"]);
  assert.equal(JSON.parse(readFileSync(join(outDir, "validation.jsonl"), "utf8")).messages.at(-1).content, "Visa, Mastercard");

  const logs = events.filter((e) => e.type === "log").map((e) => (e as { message: string }).message);
  assert.ok(logs.includes("loaded 2 examples from train.jsonl"), logs.join("\n"));
  assert.ok(logs.includes("warning: no GPU, this will be slow"), "stderr lines are streamed too");
  assert.ok(logs.indexOf("loaded 2 examples from train.jsonl") < logs.indexOf("saved adapter"));
  assert.deepEqual(events.filter((e) => e.type === "metric").map((e) => (e as { name: string }).name), ["loss", "learning_rate", "epoch", "loss"]);
  assert.deepEqual(events.filter((e) => e.type === "status").map((e) => (e as { status: string }).status), ["running", "succeeded"]);
  const log = readFileSync(join(outDir, "train.log"), "utf8");
  assert.match(log, /loaded 2 examples[\s\S]*saved adapter/);
  assert.match(log, /warning: no GPU/);
});

test("a shell string with quoted placeholders (paths with spaces); caller-given data files are used as is", async () => {
  const outDir = join(tmp(), "out dir");
  mkdirSync(outDir);
  const scriptDir = tmp();
  const script = join(scriptDir, "train.cjs");
  writeFileSync(script, TRAIN_SCRIPT);
  const given = join(scriptDir, "exported train.jsonl");
  writeFileSync(given, '{"messages":[]}\n{"messages":[]}\n{"messages":[]}\n');
  const trainer = new CommandTrainer({ command: `"${node}" ${shellQuote(script)} {train} {outDir}` });
  const events: string[] = [];
  const result = await trainer.train(data, { outDir, settings: { trainFile: given }, onEvent: (e) => e.type === "log" && events.push(e.message) });
  assert.ok(events.includes("loaded 3 examples from exported train.jsonl"), events.join("\n"));
  assert.ok(!existsSync(join(outDir, "train.jsonl")), "no export when the caller gave the file");
  // No GGUF base model and no serveAs: the artifact path, no generator id, a note.
  assert.equal(result.generatorId, undefined);
  assert.match(String(result.config.note), /needs serving/);
});

test("serveAs gives an openai-compatible generator id; an adapter_model.safetensors stands for its folder", async () => {
  const outDir = tmp();
  const script = `const fs=require("fs"),p=require("path");const o=process.argv.at(-1);fs.mkdirSync(p.join(o,"checkpoint-final"),{recursive:true});fs.writeFileSync(p.join(o,"checkpoint-final","adapter_model.safetensors"),"x");`;
  const trainer = new CommandTrainer({ command: [node, "-e", script + "console.log(process.env.RAGTUNE_OUT_DIR + '|' + process.env.RAGTUNE_BASE_MODEL)", "{outDir}"], baseModel: "meta-llama/Llama-3.1-8B", serveAs: { provider: "vllm", model: "acme-lora" } });
  const logs: string[] = [];
  const result = await trainer.train(data, { outDir, onEvent: (e) => e.type === "log" && logs.push(e.message) });
  assert.ok(logs.includes(`${outDir}|meta-llama/Llama-3.1-8B`), "the placeholders are in the environment too");
  assert.equal(result.artifact, join(outDir, "checkpoint-final"));
  assert.equal(result.generatorId, "openai-compatible:vllm/acme-lora");
});

test("a non-zero exit fails with the code and the last 20 log lines", async () => {
  const outDir = tmp();
  const script = `for (let i = 1; i <= 30; i++) console.log("line " + i); console.error("CUDA out of memory"); process.exit(3);`;
  const trainer = new CommandTrainer({ command: [node, "-e", script] });
  await assert.rejects(trainer.train(data, { outDir }), (e: unknown) => {
    assert.ok(e instanceof JobFailure);
    assert.match(e.message, /training command exited with code 3/);
    assert.match(e.message, /last 20 log lines/);
    assert.match(e.message, /line 30/);
    assert.match(e.message, /line 12\n/);
    assert.doesNotMatch(e.message, /line 11\n/);
    assert.match(e.message, /CUDA out of memory/);
    assert.ok(e.message.includes(join(outDir, "train.log")));
    return true;
  });
  assert.match(readFileSync(join(outDir, "train.log"), "utf8"), /line 1\n[\s\S]*line 11\n/, "the full log is kept");
});

test("aborting kills the whole process group, grandchildren included", async () => {
  const outDir = tmp();
  const pidFile = join(outDir, "grandchild.pid");
  // The "tool" starts a helper process (as accelerate/torchrun do), then both wait forever.
  const script = `
    const { spawn } = require("child_process");
    const g = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
    console.log("started");
    setInterval(() => {}, 1000);`;
  const controller = new AbortController();
  const trainer = new CommandTrainer({ command: [node, "-e", script], killGraceMs: 2000 });
  const started = Date.now();
  await assert.rejects(
    trainer.train(data, { outDir, signal: controller.signal, onEvent: (e) => e.type === "log" && e.message === "started" && controller.abort() }),
    (e: unknown) => e instanceof JobFailure && /aborted/.test(e.message),
  );
  assert.ok(Date.now() - started < 10_000);
  const pid = Number(readFileSync(pidFile, "utf8"));
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(), false, "the grandchild was killed with its group");
});

test("no artifact, a stale artifact, a missing command: clear errors", async () => {
  const empty = new CommandTrainer({ command: [node, "-e", "console.log('done')"] });
  await assert.rejects(empty.train(data, { outDir: tmp() }), (e: unknown) => e instanceof JobFailure && /produced no artifact matching \*\*\/\*\.gguf, \*\*\/adapter_model\.safetensors/.test(e.message));

  const custom = new CommandTrainer({ command: [node, "-e", "require('fs').writeFileSync(process.argv.at(-1) + '/model.bin', 'x')", "{outDir}"], artifactGlob: "*.bin" });
  const outDir = tmp();
  assert.equal((await custom.train(data, { outDir })).artifact, join(outDir, "model.bin"));

  const staleDir = tmp();
  writeFileSync(join(staleDir, "old.gguf"), "GGUF");
  utimesSync(join(staleDir, "old.gguf"), new Date(2020, 0, 1), new Date(2020, 0, 1));
  await assert.rejects(empty.train(data, { outDir: staleDir }), /old\.gguf predates this run/);

  const missing = new CommandTrainer({ command: ["definitely-not-a-training-tool-xyz", "{train}"] });
  await assert.rejects(missing.train(data, { outDir: tmp() }), (e: unknown) => e instanceof InputError && /training command not found: definitely-not-a-training-tool-xyz/.test(e.message));

  const shellMissing = new CommandTrainer({ command: "definitely-not-a-training-tool-xyz {train}" });
  await assert.rejects(shellMissing.train(data, { outDir: tmp() }), /exited with code 127 — command not found/);

  assert.throws(() => new CommandTrainer({ command: "  " }), /command is empty/);
});

test("after the temp folder is renamed, every path the trainer reported inside it points into the final folder", () => {
  const root = "/proj";
  const tmpDir = join(root, ".ragtune/models/.tmp-qa-command-x");
  const finalDir = join(root, ".ragtune/models/qa-command-x");
  const moved = relocateArtifact(
    {
      trainer: "command",
      task: "qa",
      artifact: join(tmpDir, "lora", "adapter.gguf"),
      baseModel: "/models/base.gguf",
      metrics: {},
      config: { trainFile: join(tmpDir, "train.jsonl"), cwd: "/elsewhere", trainExamples: 3 },
      generatorId: `llamacpp:/models/base.gguf?lora=${join(tmpDir, "lora", "adapter.gguf")}`,
    },
    tmpDir,
    finalDir,
    root,
  );
  assert.equal(moved.artifact, ".ragtune/models/qa-command-x/lora/adapter.gguf");
  assert.equal(moved.generatorId, "llamacpp:/models/base.gguf?lora=.ragtune/models/qa-command-x/lora/adapter.gguf");
  assert.deepEqual(moved.config, { trainFile: ".ragtune/models/qa-command-x/train.jsonl", cwd: "/elsewhere", trainExamples: 3 });
  // The folder itself (classifier, memoriser) and paths elsewhere are handled as before.
  assert.equal(relocateArtifact({ trainer: "classifier", task: "classify", artifact: tmpDir, baseModel: "none", metrics: {}, config: {} }, tmpDir, finalDir, root).artifact, ".ragtune/models/qa-command-x");
  assert.equal(relocateArtifact({ trainer: "openai", task: "qa", artifact: "openai:ft:gpt-4.1-mini:acme", baseModel: "gpt-4.1-mini", metrics: {}, config: {} }, tmpDir, finalDir, root).artifact, "openai:ft:gpt-4.1-mini:acme");
  // A sibling whose name merely starts with the temp folder's is not moved.
  assert.equal(relocateArtifact({ trainer: "command", task: "qa", artifact: `${tmpDir}-other/a.gguf`, baseModel: "b", metrics: {}, config: {} }, tmpDir, finalDir, root).artifact, `${tmpDir}-other/a.gguf`);
});
