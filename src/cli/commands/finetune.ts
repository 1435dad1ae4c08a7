/**
 * `ragtune finetune classify`: train the in-process text classifier on a labelled file and score it
 * on a test file next to the offline prompt baseline. Thin: parse flags, call
 * src/finetune/classify-eval.ts, print.
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { runClassifyExperiment } from "../../finetune/classify-eval.ts";
import { trainAndRegister, type TrainerName, type TrainOutcome, type TrainRequest } from "../../finetune/train.ts";
import type { Trainer, TrainingTask } from "../../finetune/index.ts";
import { OpenAIFineTuneTrainer } from "../../finetune/trainers/openai.ts";
import { CommandTrainer } from "../../finetune/trainers/command.ts";
import { resolveRunFlag } from "../checks.ts";
import { configKeyError, type LoadedConfig } from "../../config/index.ts";
import { TRAINING_TASKS } from "../../finetune/registry.ts";
import { choiceArg, existingFileArg, hintFor, outFolderArg, textArg, textListArg } from "../options.ts";
import type { Project } from "../../pipeline/index.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import { bold, dim, green, pct, red, table, yellow } from "../output.ts";
import { openFrom, printJson } from "./common.ts";

interface ClassifyOpts {
  train: string;
  test: string;
  textField: string;
  labelField: string;
  out?: string;
  json?: boolean;
}

/** Add `finetune` with its `classify` subcommand to the program. */
export function registerFinetune(program: Command): void {
  const finetune = program.command("finetune").description("train in-process models on labelled data and measure them");
  finetune
    .command("classify")
    .description("train the text classifier on --train, score it and the offline prompt baseline on --test")
    .requiredOption("--train <file>", "labelled training examples (CSV with a header row, or JSONL); must exist", existingFileArg)
    .requiredOption("--test <file>", "labelled test examples (same format); must exist", existingFileArg)
    .option("--text-field <name>", "column / key holding the text", textArg("a field name"), "text")
    .option("--label-field <name>", "column / key holding the label", textArg("a field name"), "label")
    .option("--out <dir>", "save the trained model here (model.json + weights.bin); must not be a file", outFolderArg)
    .option("--json", "print {accuracy, macroF1, trainMs, predictP95Ms, labels, baseline: {name, accuracy}}")
    .action(finetuneClassifyCommand);
}

export async function finetuneClassifyCommand(opts: ClassifyOpts): Promise<void> {
  const r = runClassifyExperiment({ train: opts.train, test: opts.test, textField: opts.textField, labelField: opts.labelField, outDir: opts.out });
  if (opts.json) {
    printJson({
      accuracy: r.accuracy,
      macroF1: r.macroF1,
      trainMs: r.trainMs,
      predictP95Ms: r.predictP95Ms,
      labels: r.labels,
      baseline: { name: r.baseline.name, accuracy: r.baseline.accuracy },
    });
    return;
  }
  const lines = [
    table(
      ["model", "accuracy", "macro-F1"],
      [
        ["classifier (tf-idf word+char n-grams, linear SVM)", pct(r.accuracy), pct(r.macroF1)],
        [`prompt baseline: ${r.baseline.name}`, pct(r.baseline.accuracy), pct(r.baselineMacroF1)],
      ],
    ),
    "",
    `${bold(String(r.labels))} labels · trained in ${(r.trainMs / 1000).toFixed(1)} s · predict p50 ${r.predictP50Ms} ms, p95 ${r.predictP95Ms} ms`,
  ];
  if (r.testLabelsUnseen > 0) lines.push(dim(`${r.testLabelsUnseen} test label(s) never appear in --train; those examples cannot be right`));
  if (opts.out) lines.push(`model saved to ${opts.out}`);
  process.stdout.write(lines.join("\n") + "\n");
}

// ---------------------------------------------------------------------------------------------
// finetune train: the project loop (dataset → train → gate → register → promote)

interface TrainOpts {
  task?: string;
  file?: string;
  inputField?: string;
  outputField?: string;
  run?: string[];
  trainer?: TrainerName;
  setting?: string[];
  baseModel?: string;
  provider?: string;
  command?: string;
  artifactGlob?: string;
  decontaminate?: boolean;
  promote?: boolean;
  force?: boolean;
  reason?: string;
  json?: boolean;
}

/** Add `finetune train` (call after registerFinetune). */
export function registerFinetuneTrain(program: Command): void {
  const finetune = program.commands.find((c) => c.name() === "finetune");
  if (!finetune) throw new Error("registerFinetune must run first");
  finetune
    .command("train")
    .description("build a dataset, train, gate against the prompt baseline and the promoted model, register, promote")
    .option("--task <task>", `${TRAINING_TASKS.join(" | ")} (with --file or --run)`, choiceArg(TRAINING_TASKS, "task"))
    .option("--file <file>", "labelled CSV/JSONL; must exist (default: every finetune.datasets entry of the config)", existingFileArg)
    .option("--input-field <name>", "column / key of the input (with --file)", textArg("a field name"), "input")
    .option("--output-field <name>", "column / key of the expected output (with --file)", textArg("a field name"), "output")
    .option("--run <run...>", "also learn from these eval runs' failed cases (id, folder or latest); each must exist", textListArg("a run id"))
    .option("--trainer <name>", `trainer: ${TRAINERS.join(", ")} (default: classifier for classify, memoriser for qa)`, choiceArg(TRAINERS, "trainer"))
    .option("--setting <key=value...>", "trainer setting (numbers and true/false are parsed)", textListArg("key=value"))
    .option("--base-model <model>", "openai/command trainers: the model to fine-tune", textArg("a model name"))
    .option("--provider <name>", "openai trainer: a models.providers entry instead of OPENAI_BASE_URL", textArg("a provider name"))
    .option("--command <cmd>", "command trainer: training command with {train} {validation} {outDir} {baseModel}", textArg("a command"))
    .option("--artifact-glob <glob>", "command trainer: where the produced adapter/model is, under {outDir}", textArg("a glob"))
    .option("--no-decontaminate", "keep training examples that duplicate eval suite inputs")
    .option("--no-promote", "register the model without promoting it (not with --force)")
    .option("--force", "promote even if the gate refuses (needs --reason; recorded)")
    .option("--reason <text>", "why a promotion is forced (with --force)", textArg("a reason"))
    .option("--json", "machine-readable output")
    .action(finetuneTrainCommand);
}

const TRAINERS: readonly TrainerName[] = ["classifier", "memoriser", "openai", "command"];

/** `--setting key=value` pairs; a null-prototype map, so a key like 'constructor' is just a key. */
function parseSettings(pairs: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new InputError(`--setting: expected key=value, got '${p}'`);
    const key = p.slice(0, eq).trim();
    if (!key || key === "__proto__") throw new InputError(`--setting: '${key}' is not a setting name`);
    if (Object.hasOwn(out, key)) throw new InputError(`--setting: '${key}' is set twice`);
    const raw = p.slice(eq + 1);
    out[key] = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

/** Flags that contradict each other or need another flag, refused before the project opens. */
function checkTrainFlags(opts: TrainOpts, cmd: Command): void {
  const fromCli = (name: string) => cmd.getOptionValueSource(name) === "cli";
  if (opts.force && !opts.reason?.trim()) throw new InputError("--force needs --reason: forced promotions are recorded with why");
  if (opts.reason !== undefined && !opts.force) throw new InputError("--reason goes with --force (a reason is recorded for forced promotions only)");
  if (opts.force && opts.promote === false) throw new InputError("--force and --no-promote contradict each other: --force promotes, --no-promote never does");
  if (opts.task && !opts.file && !opts.run?.length) throw new InputError("--task goes with --file or --run (without them every finetune.datasets entry of the config is trained, each with its own task)");
  for (const f of ["inputField", "outputField"]) {
    if (fromCli(f) && !opts.file) throw new InputError(`--${f === "inputField" ? "input" : "output"}-field goes with --file`);
  }
  if (opts.command !== undefined && opts.trainer !== "command") throw new InputError("--command goes with --trainer command");
  if (opts.artifactGlob !== undefined && opts.trainer !== "command") throw new InputError("--artifact-glob goes with --trainer command");
  if (opts.provider !== undefined && opts.trainer !== "openai") throw new InputError("--provider goes with --trainer openai");
  if (opts.baseModel !== undefined && opts.trainer !== undefined && opts.trainer !== "openai" && opts.trainer !== "command") {
    throw new InputError(`--base-model goes with --trainer openai or command; the ${opts.trainer} trainer trains in-process from scratch`);
  }
}

export async function finetuneTrainCommand(opts: TrainOpts, cmd: Command): Promise<void> {
  checkTrainFlags(opts, cmd);
  const { loaded, project } = openFrom(cmd);
  try {
    const jobs = trainJobs(project, opts, loaded);
    const outcomes = [];
    for (const job of jobs) {
      const outcome = await trainAndRegister(project, {
        ...job,
        decontaminate: opts.decontaminate !== false && project.config.finetune.decontaminate,
        promote: opts.force ? "force" : opts.promote === false ? "never" : "gate",
        forceReason: opts.reason,
        onEvent: opts.json ? undefined : (e) => e.type === "log" && console.log(dim(`  ${e.message}`)),
      });
      outcomes.push(outcome);
      if (!opts.json) printTrainOutcome(outcome);
    }
    if (opts.json) {
      printJson(
        outcomes.map((o) => ({
          model: o.record,
          promoted: o.promoted,
          gate: o.gate,
          baseline: o.baselineName,
          dataset: { hash: o.build.hash, steps: o.build.steps.map((s) => ({ step: s.step, in: s.in, out: s.out, removed: s.removed })), card: o.build.card },
        })),
      );
    }
    const refused = outcomes.filter((o) => !o.promoted && opts.promote !== false);
    if (refused.length > 0) throw new JobFailure(`promotion refused for ${refused.map((o) => `${o.record.task} (${o.record.id})`).join(", ")}: ${refused.map((o) => o.gate.reason).join("; ")}`);
  } finally {
    project.close();
  }
}

/** The training jobs of a command line: one from --file/--run, else one per config dataset. */
export function trainJobs(project: Project, opts: TrainOpts, loaded?: Pick<LoadedConfig, "where" | "path">): TrainRequest[] {
  const settings = parseSettings(opts.setting);
  const providers = project.config.models.providers;
  const trainerInstance = (task: string, trainer?: TrainerName): Trainer | undefined => {
    if (trainer === "openai") {
      if (!opts.baseModel) throw new InputError("--trainer openai needs --base-model (e.g. gpt-4.1-mini-2025-04-14)");
      const known = Object.keys(providers);
      if (opts.provider !== undefined && !Object.hasOwn(providers, opts.provider)) {
        throw new InputError(
          `--provider: unknown provider '${opts.provider}'${hintFor(opts.provider, known)}: ` +
            (known.length ? `providers in the config: ${known.join(", ")}` : "the config declares no models.providers"),
        );
      }
      const p = opts.provider !== undefined ? providers[opts.provider] : undefined;
      return new OpenAIFineTuneTrainer({ model: opts.baseModel, provider: p && { name: opts.provider!, baseUrl: p.baseUrl, apiKeyEnv: p.apiKeyEnv } });
    }
    if (trainer === "command") {
      if (!opts.command) throw new InputError("--trainer command needs --command");
      return new CommandTrainer({ command: opts.command, baseModel: opts.baseModel, artifactGlob: opts.artifactGlob, tasks: [task as TrainingTask] });
    }
    return undefined;
  };
  if (opts.file || opts.run?.length) {
    if (!opts.task) throw new InputError("--task is required with --file or --run (classify, qa or extract)");
    const task = opts.task as TrainingTask;
    const runs = (opts.run ?? []).map((r) => resolveRunFlag("--run", project.root, project.config, r));
    return [
      {
        task,
        trainer: opts.trainer,
        settings,
        trainerInstance: trainerInstance(task, opts.trainer),
        dataset: {
          name: task,
          files: opts.file ? [{ path: resolve(opts.file), task, inputField: opts.inputField, outputField: opts.outputField }] : [],
          runs,
        },
      },
    ];
  }
  const declared = project.config.finetune.datasets;
  if (declared.length === 0) throw new InputError("nothing to train: pass --file/--run with --task, or declare finetune.datasets in ragtune.yaml");
  declared.forEach((d, i) => {
    const abs = resolve(project.root, d.file);
    if (!existsSync(abs)) throw configKeyError(loaded ?? { path: project.configPath }, ["finetune", "datasets", i, "file"], `file not found: ${abs}`);
  });
  return declared.map((d) => ({
    task: d.task,
    trainer: d.trainer,
    settings: { ...d.settings, ...settings },
    trainerInstance: trainerInstance(d.task, d.trainer),
    dataset: { name: d.task, files: [{ path: resolve(project.root, d.file), task: d.task, inputField: d.inputField, outputField: d.outputField, displayName: d.file }] },
  }));
}

export function printTrainOutcome(o: TrainOutcome): void {
  const { record, gate } = o;
  const kept = o.build.steps.map((s) => `${s.step} ${s.in}→${s.out}`).join(" · ");
  console.log(`${bold(record.task)}: ${record.trainer} ${record.id} · dataset ${o.build.hash.slice(0, 12)} (${kept})`);
  console.log(dim(`  data card: ${o.build.card.adequacy.note}`));
  for (const c of gate.comparisons) {
    console.log(`  vs ${c.against}: ${pct(c.candidateAccuracy)} vs ${pct(c.referenceAccuracy)} on ${gate.n} held-out, McNemar p = ${c.pValue.toPrecision(2)} → ${c.better ? green("better") : red("not better")}`);
  }
  if (o.promoted && record.forced) console.log(yellow(`  the gate refused it (${gate.reason}); promoted anyway, recorded as forced: ${record.forced.reason}`));
  else console.log(o.promoted ? green(`  promoted ${record.id}`) : yellow(`  not promoted: ${gate.reason}`));
}
