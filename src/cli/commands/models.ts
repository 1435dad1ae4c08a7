/**
 * `ragtune models list|show|promote|rollback` — the model registry (src/finetune/registry.ts) of
 * the project named by -c/--config. No training happens here: `promote` uses the gate report the
 * training command stored on the candidate, refuses (exit 1) with its numbers unless --force, and
 * records a forced promotion with its --reason.
 */
import type { Command } from "commander";
import { formatP } from "../../finetune/gate.ts";
import type { ModelRecord, TrainingTask } from "../../finetune/index.ts";
import { TRAINING_TASKS, type ModelRegistry } from "../../finetune/registry.ts";
import { openModelRegistry } from "../../finetune/open-registry.ts";
import { choiceArg, textArg } from "../options.ts";
import { InputError } from "../../util/errors.ts";
import { bold, dim, green, pct, table, yellow } from "../output.ts";
import { loadedFrom, printJson } from "./common.ts";

/** The registry of the project named by the global --config flag (`<storeDir>/index.db`, or its Postgres database). */
export function registryFrom(cmd: Command): ModelRegistry {
  const { config, root } = loadedFrom(cmd);
  return openModelRegistry(config, root);
}

function withRegistry<T>(cmd: Command, fn: (registry: ModelRegistry) => T): T {
  const registry = registryFrom(cmd);
  try {
    return fn(registry);
  } finally {
    registry.close();
  }
}

const statusText = (m: ModelRecord) => (m.status === "promoted" ? green("promoted") : m.status === "retired" ? dim("retired") : "candidate");

function metricSummary(metrics: Record<string, number>): string {
  const entries = Object.entries(metrics).slice(0, 3);
  return entries.map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`).join(" ");
}

function gateSummary(m: ModelRecord): string {
  if (m.forced) return yellow("forced");
  if (!m.gate) return dim("—");
  return m.gate.passed ? green("passed") : yellow("refused");
}

export function modelsListCommand(opts: { task?: string; json?: boolean }, cmd: Command): void {
  const task = opts.task as TrainingTask | undefined;
  withRegistry(cmd, (registry) => {
    const models = registry.list({ task });
    if (opts.json) return printJson(models);
    if (models.length === 0) {
      process.stdout.write(`no models${task ? ` for task ${task}` : ""} in the registry yet\n`);
      return;
    }
    const rows = models.map((m) => [m.id, m.task, m.trainer, statusText(m), gateSummary(m), m.baseModel, metricSummary(m.metrics), m.createdAt.slice(0, 19).replace("T", " ")]);
    process.stdout.write(table(["id", "task", "trainer", "status", "gate", "base model", "metrics", "created (UTC)"], rows) + "\n");
  });
}

export function modelsShowCommand(id: string, opts: { json?: boolean }, cmd: Command): void {
  withRegistry(cmd, (registry) => {
    const m = registry.get(id);
    if (opts.json) return printJson({ ...m, history: registry.history(m.task).filter((e) => e.modelId === m.id || e.previousId === m.id) });
    const lines = [
      `${bold(m.id)}  ${m.task}  ${statusText(m)}`,
      `trainer:      ${m.trainer}`,
      `base model:   ${m.baseModel}`,
      `artifact:     ${m.artifact}`,
      ...(m.generatorId ? [`generator:    ${m.generatorId}`] : [`generator:    ${dim("none — the artifact needs serving")}`]),
      `dataset hash: ${m.datasetHash}`,
      `created:      ${m.createdAt}`,
      ...(m.parent ? [`parent:       ${m.parent} (promoted when this model was trained)`] : []),
      ...(m.promotedAt ? [`promoted at:  ${m.promotedAt}`] : []),
      ...(m.forced ? [`${yellow("forced")}:       ${m.forced.reason} (${m.forced.at})`] : []),
      `metrics:      ${Object.keys(m.metrics).length ? Object.entries(m.metrics).map(([k, v]) => `${k}=${v}`).join(", ") : dim("none")}`,
    ];
    if (m.gate) {
      lines.push(`gate:         ${m.gate.passed ? green("passed") : yellow("refused")} on ${m.gate.n} held-out examples`);
      for (const c of m.gate.comparisons) {
        lines.push(
          `  vs ${c.against}: ${pct(c.candidateAccuracy)} vs ${pct(c.referenceAccuracy)}, ${c.onlyCandidate} vs ${c.onlyReference} discordant, McNemar p = ${formatP(c.pValue)}${c.better ? "" : dim(" (not better)")}`,
        );
      }
      lines.push(`  ${m.gate.reason}`);
    } else {
      lines.push(`gate:         ${dim("none recorded")}`);
    }
    lines.push(`config:       ${JSON.stringify(m.config)}`);
    process.stdout.write(lines.join("\n") + "\n");
  });
}

export function modelsPromoteCommand(id: string, opts: { force?: boolean; reason?: string; json?: boolean }, cmd: Command): void {
  if (opts.reason !== undefined && !opts.force) throw new InputError("--reason goes with --force (a reason is recorded for forced promotions only)");
  if (opts.force && !opts.reason?.trim()) throw new InputError('--force needs --reason "…": forced promotions are recorded with why');
  withRegistry(cmd, (registry) => {
    const before = registry.get(id);
    const previous = registry.promoted(before.task);
    const promoted = registry.promote(id, opts.force ? { force: { reason: opts.reason! } } : {});
    if (opts.json) return printJson({ promoted, retired: previous?.id ?? null });
    const gateNote = promoted.gate ? `gate: ${promoted.gate.reason}` : "no gate report";
    process.stdout.write(
      `${green("promoted")} ${promoted.id} for ${promoted.task}${previous ? ` (retired ${previous.id}; \`ragtune models rollback --task ${promoted.task}\` restores it)` : ""}\n` +
        (promoted.forced ? `${yellow("forced")} despite the gate: ${promoted.forced.reason}\n${dim(gateNote)}\n` : `${dim(gateNote)}\n`),
    );
  });
}

export function modelsRollbackCommand(opts: { task: string; json?: boolean }, cmd: Command): void {
  const task = opts.task as TrainingTask;
  withRegistry(cmd, (registry) => {
    const { promoted, retired } = registry.rollback(task);
    if (opts.json) return printJson({ promoted, retired: retired.id });
    process.stdout.write(`${green("rolled back")} ${task}: ${promoted.id} is promoted again, ${retired.id} is retired\n`);
  });
}

/** Add `models` and its subcommands to the program. */
export function registerModels(program: Command): void {
  const models = program.command("models").description("the fine-tuned model registry: list, show, promote (gated), rollback");
  models
    .command("list")
    .description("models in the registry, newest first")
    .option("--task <task>", `only models of this task (${TRAINING_TASKS.join(", ")})`, choiceArg(TRAINING_TASKS, "task"))
    .option("--json", "machine-readable output")
    .action(modelsListCommand);
  models
    .command("show")
    .description("one model: artifact, generator, data hash, settings, metrics, gate")
    .argument("<id>", "model id, e.g. m-20261121-171200-3f2a; must be in the registry", textArg("a model id"))
    .option("--json", "machine-readable output")
    .action(modelsShowCommand);
  models
    .command("promote")
    .description("make a model the one served for its task, if its stored promotion gate passed (exit 1 when refused)")
    .argument("<id>", "model id; must be in the registry", textArg("a model id"))
    .option("--force", "promote even though the gate refused (needs --reason; recorded)")
    .option("--reason <text>", "why the gate is overridden (with --force)", textArg("a reason"))
    .option("--json", "machine-readable output")
    .action(modelsPromoteCommand);
  models
    .command("rollback")
    .description("re-promote the model promoted before the current one of a task")
    .requiredOption("--task <task>", `task to roll back (${TRAINING_TASKS.join(", ")})`, choiceArg(TRAINING_TASKS, "task"))
    .option("--json", "machine-readable output")
    .action(modelsRollbackCommand);
}
