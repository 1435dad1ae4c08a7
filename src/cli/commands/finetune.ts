/**
 * `ragtune finetune classify`: train the in-process text classifier on a labelled file and score it
 * on a test file next to the offline prompt baseline. Thin: parse flags, call
 * src/finetune/classify-eval.ts, print.
 */
import { Option, type Command } from "commander";
import { resolve } from "node:path";
import { runClassifyExperiment } from "../../finetune/classify-eval.ts";
import { trainAndRegister, type TrainerName, type TrainOutcome, type TrainRequest } from "../../finetune/train.ts";
import type { Trainer, TrainingTask } from "../../finetune/index.ts";
import { OpenAIFineTuneTrainer } from "../../finetune/trainers/openai.ts";
import { CommandTrainer } from "../../finetune/trainers/command.ts";
import { resolveRunDir } from "../../evaluate/runs.ts";
import type { Project } from "../../pipeline/index.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import { bold, dim, green, pct, red, table, yellow } from "../output.ts";
import { printJson, projectFrom } from "./common.ts";

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
    .requiredOption("--train <file>", "labelled training examples (CSV with a header row, or JSONL)")
    .requiredOption("--test <file>", "labelled test examples (same format)")
    .option("--text-field <name>", "column / key holding the text", "text")
    .option("--label-field <name>", "column / key holding the label", "label")
    .option("--out <dir>", "save the trained model here (model.json + weights.bin)")
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
    .option("--task <task>", "classify | qa | extract (with --file or --run)")
    .option("--file <file>", "labelled CSV/JSONL (default: every finetune.datasets entry of the config)")
    .option("--input-field <name>", "column / key of the input", "input")
    .option("--output-field <name>", "column / key of the expected output", "output")
    .option("--run <run...>", "also learn from these eval runs' failed cases (id, folder or latest)")
    .addOption(new Option("--trainer <name>", "trainer (default: classifier for classify, memoriser for qa)").choices(["classifier", "memoriser", "openai", "command"]))
    .option("--setting <key=value...>", "trainer setting (numbers and true/false are parsed)")
    .option("--base-model <model>", "openai/command trainers: the model to fine-tune")
    .option("--provider <name>", "openai trainer: a models.providers entry instead of OPENAI_BASE_URL")
    .option("--command <cmd>", "command trainer: training command with {train} {validation} {outDir} {baseModel}")
    .option("--artifact-glob <glob>", "command trainer: where the produced adapter/model is, under {outDir}")
    .option("--no-decontaminate", "keep training examples that duplicate eval suite inputs")
    .option("--no-promote", "register the model without promoting it")
    .option("--force", "promote even if the gate refuses (needs --reason; recorded)")
    .option("--reason <text>", "why a promotion is forced")
    .option("--json", "machine-readable output")
    .action(finetuneTrainCommand);
}

function parseSettings(pairs: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new InputError(`--setting expects key=value, got '${p}'`);
    const raw = p.slice(eq + 1);
    out[p.slice(0, eq)] = raw === "true" ? true : raw === "false" ? false : raw !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

export async function finetuneTrainCommand(opts: TrainOpts, cmd: Command): Promise<void> {
  if (opts.force && !opts.reason?.trim()) throw new InputError("--force needs --reason: forced promotions are recorded with why");
  const project = projectFrom(cmd);
  try {
    const jobs = trainJobs(project, opts);
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
export function trainJobs(project: Project, opts: TrainOpts): TrainRequest[] {
  const settings = parseSettings(opts.setting);
  const trainerInstance = (task: string, trainer?: TrainerName): Trainer | undefined => {
    if (trainer === "openai") {
      if (!opts.baseModel) throw new InputError("--trainer openai needs --base-model (e.g. gpt-4.1-mini-2025-04-14)");
      const p = opts.provider ? project.config.models.providers[opts.provider] : undefined;
      if (opts.provider && !p) throw new InputError(`--provider ${opts.provider}: no models.providers.${opts.provider} in the config`);
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
    if (!["classify", "qa", "extract"].includes(task)) throw new InputError(`--task must be classify, qa or extract, got '${opts.task}'`);
    const runs = (opts.run ?? []).map((r) => resolveRunDir(project.root, project.config, r));
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
