/**
 * `ragtune dataset build`: collect training examples (eval-run failures, labelled files, served
 * logs), clean, decontaminate against the project's suite, split, write the data card and the
 * exports. Thin: parse flags, call src/finetune/dataset, print.
 */
import { existsSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { Command } from "commander";
import { configKeyError, loadConfig, type LoadedConfig } from "../../config/index.ts";
import { resolveRunFlag } from "../checks.ts";
import { choiceArg, choiceListArg, existingFilesArg, intArg, invalid, listArg, outFolderArg, textArg, textListArg } from "../options.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import type { TrainingTask } from "../../finetune/index.ts";
import {
  buildDataset,
  buildDatasetSemantic,
  DEFAULT_SEMANTIC_DUP_THRESHOLD,
  EXPORT_FORMATS,
  parseSplit,
  TRAINING_TASKS,
  writeDataset,
  type BuildOptions,
  type DatasetBuild,
  type ExportFormat,
} from "../../finetune/dataset/index.ts";
import { InputError } from "../../util/errors.ts";
import { UseLiteEmbedder } from "../../models/embedders/use-lite.ts";
import { bold, dim, green, table, yellow } from "../output.ts";
import { printJson } from "./common.ts";
import { sinceArg } from "./logs.ts";
import { examplesFromRequests, openRequestLog, requestsSince, type RequestExamples } from "../../logs/index.ts";

interface DatasetBuildOpts {
  run?: string[];
  file?: string[];
  task?: string[];
  inputField?: string[];
  outputField?: string[];
  systemField?: string[];
  logs?: string[];
  correctedOnly?: boolean;
  fromLogs?: boolean;
  since?: number;
  includePassed?: boolean;
  nearDup?: number | false;
  /** Cosine threshold of the semantic near-duplicate steps (use-lite), or true for the default. */
  semanticDup?: number | true;
  pii?: boolean;
  minTokens?: number;
  maxTokens?: number;
  conflicts?: "drop" | "keep" | "majority";
  split?: [number, number, number];
  seed?: number;
  /** true (project suite), a suite path, or false (--no-decontaminate). */
  decontaminate?: boolean | string;
  format?: ExportFormat[];
  baseModel?: string;
  name?: string;
  out?: string;
  json?: boolean;
}

export function registerDataset(program: Command): void {
  const dataset = program.command("dataset").description("fine-tuning datasets: build, clean, split, data card, exports");
  dataset
    .command("build")
    .description("collect examples (eval failures, labelled files, served logs) → clean → decontaminate → split → card → exports")
    .option("--run <id...>", "eval runs to take failed cases from (id, folder or 'latest'); each must exist", textListArg("a run id"))
    .option("--include-passed", "also take cases the run passed (with --run)")
    .option("--file <path>", "labelled CSV or JSONL file (repeatable); must exist", existingFilesArg)
    .option(
      "--task <task>",
      `task of each --file, in order, or one for all (${TRAINING_TASKS.join("|")}); also the task of --logs entries without one`,
      choiceListArg(TRAINING_TASKS, "task"),
    )
    .option("--input-field <name>", "input column/key of each --file, in order, or one for all (default: input)", textListArg("a field name"))
    .option("--output-field <name>", "output column/key of each --file, in order, or one for all (default: output)", textListArg("a field name"))
    .option("--system-field <name>", "optional system-prompt column/key of each --file", textListArg("a field name"))
    .option("--logs <path>", "served log JSONL {input, output, correction?} (repeatable; must exist); a correction wins", existingFilesArg)
    .option("--corrected-only", "from --logs, only entries a user corrected")
    .option("--from-logs", "corrected answers in the project's request log (requests.db of `ragtune serve`) become qa examples: query → corrected answer")
    .option("--since <duration>", "window of the request log for --from-logs, e.g. 24h, 7d (default 7d)", sinceArg)
    .option("--near-dup <jaccard>", "near-duplicate Jaccard threshold in (0, 1], or 'off' (default 0.8)", nearDupArg)
    .option(
      "--semantic-dup [cosine]",
      `also drop semantic near copies (use-lite embedding cosine ≥ threshold, default ${DEFAULT_SEMANTIC_DUP_THRESHOLD}) when cleaning and decontaminating; embeds every input (~10 ms CPU each, ~290 MB)`,
      cosineArg,
    )
    .option("--pii", "replace emails, phone numbers and Luhn-valid card numbers with placeholders")
    .option("--min-tokens <n>", "drop examples under this many tokens, 0–100,000 (default 1); at most --max-tokens", intArg(0, 100_000))
    .option("--max-tokens <n>", "drop examples over this many tokens, 1–1,000,000; also the export limit and sequence_len (default 2048)", intArg(1, 1_000_000))
    .option("--conflicts <mode>", "same input with different outputs: drop (default), keep, majority", choiceArg(["drop", "keep", "majority"], "conflict mode"))
    .option("--split <train,val,test>", "split proportions (default 80,10,10)", parseSplit)
    .option("--seed <n>", "split seed, 0–4294967295 (default 42)", intArg(0, 4_294_967_295))
    .option("--decontaminate [suite]", "drop examples that copy eval inputs (default on: the project's suite; or this suite file, which must exist)")
    .option("--no-decontaminate", "keep examples even when they copy eval inputs")
    .option("--format <list>", `exports, comma-separated: ${EXPORT_FORMATS.join(",")} (default openai)`, listArg(EXPORT_FORMATS, "format"))
    .option("--base-model <id>", "base_model written into axolotl.yaml (with --format axolotl; default: a placeholder)", textArg("a model name"))
    .option("--name <name>", "dataset name, a folder name (default: the task, or 'mixed')", textArg("a name"))
    .option("--out <dir>", "output folder (default .ragtune/datasets/<name> in the project); must not be a file", outFolderArg)
    .option("--json", "machine-readable output")
    .action(datasetBuildCommand);
}

function cosineArg(v: string): number {
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw invalid("expected a cosine threshold in (0, 1].");
  return n;
}

function nearDupArg(v: string): number | false {
  if (v === "off" || v === "0") return false;
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw invalid("expected a Jaccard threshold in (0, 1] or 'off'.");
  return n;
}

/** Flags that only mean something next to another flag. */
function checkCombinations(opts: DatasetBuildOpts): void {
  const needs = (present: unknown, flag: string, other: string, otherPresent: unknown) => {
    if (present && !otherPresent) throw new InputError(`${flag} goes with ${other} (without it there is nothing for it to apply to)`);
  };
  needs(opts.includePassed, "--include-passed", "--run", opts.run?.length);
  needs(opts.correctedOnly, "--corrected-only", "--logs", opts.logs?.length);
  needs(opts.since !== undefined, "--since", "--from-logs", opts.fromLogs);
  needs(opts.inputField?.length, "--input-field", "--file", opts.file?.length);
  needs(opts.outputField?.length, "--output-field", "--file", opts.file?.length);
  needs(opts.systemField?.length, "--system-field", "--file", opts.file?.length);
  needs(opts.baseModel, "--base-model", "--format axolotl", opts.format?.includes("axolotl"));
  if (opts.minTokens !== undefined && opts.maxTokens !== undefined && opts.minTokens > opts.maxTokens) {
    throw new InputError(`--min-tokens ${opts.minTokens} is larger than --max-tokens ${opts.maxTokens}: every example would be dropped`);
  }
  if (opts.task && opts.task.length > 1 && !opts.file?.length) throw new InputError("several --task values go with --file (one per file); --logs takes a single --task");
}

/** The i-th value of a per-file flag: one value applies to every file; otherwise one per file. */
function perFile(values: string[] | undefined, flag: string, files: number, i: number, fallback?: string): string | undefined {
  if (!values || values.length === 0) return fallback;
  if (values.length === 1) return values[0];
  if (values.length !== files) throw new InputError(`${flag}: give one value for all --file or one per --file (${files}), got ${values.length}`);
  return values[i];
}

function asTask(v: string | undefined, what: string): TrainingTask {
  if (!v) throw new InputError(`${what}: --task is required (${TRAINING_TASKS.join("|")})`);
  return v as TrainingTask;
}

export async function datasetBuildCommand(opts: DatasetBuildOpts, cmd: Command): Promise<void> {
  checkCombinations(opts);
  const { config: configFlag } = cmd.optsWithGlobals() as { config?: string };
  let loaded: LoadedConfig | undefined;
  let configError: unknown;
  try {
    loaded = loadConfig(configFlag);
  } catch (e) {
    // A project is needed only for runs, the default decontamination suite and the default out dir.
    if (configFlag) throw e;
    configError = e;
  }
  const needProject = (why: string): LoadedConfig => {
    if (loaded) return loaded;
    throw configError instanceof Error ? new InputError(`${configError.message} (needed for ${why})`) : new InputError(`no project config (needed for ${why})`);
  };

  const files = opts.file ?? [];
  const build: BuildOptions = {
    runs: (opts.run ?? []).map((ref) => {
      const p = needProject("--run");
      return resolveRunFlag("--run", p.root, p.config, ref);
    }),
    run: { includePassed: opts.includePassed },
    files: files.map((path, i) => ({
      path: resolve(path),
      displayName: path,
      task: asTask(perFile(opts.task, "--task", files.length, i), `--file ${path}`),
      inputField: perFile(opts.inputField, "--input-field", files.length, i, "input"),
      outputField: perFile(opts.outputField, "--output-field", files.length, i, "output"),
      systemField: perFile(opts.systemField, "--system-field", files.length, i),
    })),
    logs: (opts.logs ?? []).map((path) => ({
      path: resolve(path),
      task: opts.task?.length === 1 ? asTask(opts.task[0], `--logs ${path}`) : undefined,
      correctedOnly: opts.correctedOnly,
    })),
    clean: {
      nearDup: opts.nearDup === false ? false : { threshold: opts.nearDup ?? 0.8 },
      pii: opts.pii,
      minTokens: opts.minTokens,
      maxTokens: opts.maxTokens,
      conflicts: opts.conflicts,
    },
    split: { ratios: opts.split, seed: opts.seed },
  };
  let fromLogs: (RequestExamples & { file: string; requests: number }) | undefined;
  if (opts.fromLogs) {
    const p = needProject("--from-logs");
    const log = openRequestLog({ root: p.root, config: p.config });
    try {
      const window = requestsSince(log, opts.since ?? 7 * 86_400_000);
      fromLogs = { ...examplesFromRequests(window.rows, relative(process.cwd(), log.location) || log.location), file: log.location, requests: window.rows.length };
    } finally {
      log.close();
    }
    const skippedText = fromLogs.skipped.map((s) => `${s.count} ${s.reason}`).join("; ");
    if (fromLogs.examples.length === 0 && build.runs!.length === 0 && files.length === 0 && build.logs!.length === 0) {
      throw new InputError(`--from-logs: no corrected answers among the ${fromLogs.requests} logged requests of the window${skippedText ? ` (${skippedText})` : ""}; only corrected answers are training data`);
    }
    build.examples = fromLogs.examples;
  }
  if (build.runs!.length === 0 && files.length === 0 && build.logs!.length === 0 && !fromLogs) {
    throw new InputError("nothing to build from: give --run, --file, --logs or --from-logs");
  }
  if (opts.decontaminate !== false) {
    const explicit = typeof opts.decontaminate === "string";
    let suitePath: string;
    if (explicit) suitePath = resolve(opts.decontaminate as string);
    else {
      const p = needProject("decontamination against the project's suite (or pass --no-decontaminate)");
      suitePath = resolve(p.root, p.config.suite);
    }
    if (!existsSync(suitePath) || !statSync(suitePath).isFile()) {
      if (explicit) throw new InputError(`--decontaminate: suite file not found: ${suitePath}`);
      throw configKeyError(needProject("the suite"), ["suite"], `the project's suite ${suitePath} does not exist; pass --decontaminate FILE or --no-decontaminate`);
    }
    const suite = loadSuite(suitePath);
    build.decontaminate = { inputs: suite.cases.map((c) => c.input), label: relative(process.cwd(), suitePath) || suitePath };
  }

  if (opts.name !== undefined && (/[/\\]|^\.\.?$/.test(opts.name) || !opts.name.trim())) throw new InputError(`--name: '${opts.name}' is not a folder name`);
  build.name = opts.name;
  const result =
    opts.semanticDup === undefined
      ? buildDataset(build)
      : await buildDatasetSemantic(build, new UseLiteEmbedder(), opts.semanticDup === true ? DEFAULT_SEMANTIC_DUP_THRESHOLD : opts.semanticDup);
  // The request log's examples come in as given examples: name the log they came from.
  if (fromLogs) for (const s of result.sources) if (s.kind === "given") s.path = relative(process.cwd(), fromLogs.file) || fromLogs.file;
  const root = loaded?.root ?? process.cwd();
  const outDir = resolve(opts.out ?? resolve(root, ".ragtune", "datasets", result.name));
  const formats = opts.format ?? ["openai"];
  const written = writeDataset(outDir, result, formats, { maxTokens: opts.maxTokens, axolotl: { baseModel: opts.baseModel } });

  const fromLogsJson = fromLogs ? { file: fromLogs.file, requests: fromLogs.requests, examples: fromLogs.examples.length, skipped: fromLogs.skipped } : undefined;
  if (opts.json) {
    printJson({
      ...(fromLogsJson ? { fromLogs: fromLogsJson } : {}),
      name: result.name,
      outDir,
      hash: result.hash,
      sources: result.sources,
      steps: result.steps,
      conflicts: result.conflicts,
      splits: result.card.splits,
      card: result.card,
      notes: result.notes,
      files: written.map((f) => relative(outDir, f)),
    });
    return;
  }
  if (fromLogsJson) {
    console.log(`request log ${relative(process.cwd(), fromLogsJson.file) || fromLogsJson.file}: ${fromLogsJson.examples} corrected answer(s) → example(s) of ${fromLogsJson.requests} request(s)`);
    for (const s of fromLogsJson.skipped) console.log(dim(`  skipped ${s.count}: ${s.reason} (not training data)`));
  }
  printHuman(result, outDir, written);
}

function printHuman(result: DatasetBuild, outDir: string, written: string[]): void {
  for (const s of result.sources) {
    console.log(`${s.kind} ${s.path}: ${s.examples} example(s)${s.skipped.length ? dim(` · ${s.skipped.length} skipped (${s.skipped[0].reason}${s.skipped.length > 1 ? ", …" : ""})`) : ""}`);
  }
  console.log("");
  const detail = (s: DatasetBuild["steps"][number]) => {
    const parts: string[] = [];
    if (s.changed) parts.push(`${s.changed} changed`);
    for (const [k, v] of Object.entries(s.counts ?? {})) if (v) parts.push(`${k} ${v}`);
    return parts.join(", ");
  };
  console.log(table(["step", "in", "out", "removed", "details"], result.steps.map((s) => [s.step, s.in, s.out, s.removed, detail(s)])));
  for (const s of result.steps) {
    for (const x of s.samples.slice(0, 2)) {
      if (s.removed === 0 && s.step !== "pii") continue;
      console.log(dim(`  ${s.step}: ${x.id} — ${x.reason}${x.keptId ? ` (kept ${x.keptId})` : ""}: ${JSON.stringify(x.input.slice(0, 80))}`));
    }
  }
  if (result.conflicts.length) {
    console.log(yellow(`\n${result.conflicts.length} conflicting input(s) — the same input with different outputs (review them; see report.json):`));
    for (const c of result.conflicts.slice(0, 5)) {
      console.log(`  ${JSON.stringify(c.input.slice(0, 80))}: ${c.outputs.map((o) => `${JSON.stringify(o.output.slice(0, 40))} ×${o.ids.length}`).join(" vs ")}`);
    }
  }
  const card = result.card;
  console.log(`\n${bold(`data card: ${card.name}`)} · train ${card.splits.train} · validation ${card.splits.validation} · test ${card.splits.test}`);
  for (const t of card.tasks) {
    const balance = t.labels ? ` · ${t.labels.length} labels, imbalance ${t.imbalanceRatio}:1` : "";
    console.log(`  ${t.task}: ${t.total} examples${balance} · tokens p50 ${t.tokens.total.p50}, max ${t.tokens.total.max}`);
    console.log(`  ${t.adequacy.adequate ? green("adequate") : yellow("not adequate")}: ${t.adequacy.note}`);
  }
  for (const n of result.notes) console.log(yellow(`note: ${n}`));
  console.log(dim(`\nhash ${result.hash.slice(0, 16)}… · ${written.length} files in ${relative(process.cwd(), outDir) || outDir}`));
}
