/**
 * The `ragtune` command line. Commands are thin: parse flags, call the stage modules, print.
 * Exit codes: 0 ok, 1 the job failed (e.g. a quality gate), 2 bad usage or input.
 */
import { Command, CommanderError, Option } from "commander";
import { ingestCommand } from "./commands/ingest.ts";
import { searchCommand, askCommand } from "./commands/query.ts";
import { registerDataset } from "./commands/dataset.ts";
import { registerFinetune, registerFinetuneTrain } from "./commands/finetune.ts";
import { registerModels } from "./commands/models.ts";
import { cacheClearCommand, cacheStatsCommand, evalCommand, runsCommand } from "./commands/eval.ts";
import { decideCommand, reportCommand } from "./commands/decide.ts";
import { initCommand } from "./commands/init.ts";
import { demoCommand } from "./commands/demo.ts";
import { addFilterOptions } from "./commands/common.ts";
import { registerBench } from "./commands/bench.ts";
import { RAGTUNE_VERSION } from "../evaluate/runner.ts";
import { VARIANT_NAMES } from "../config/index.ts";
import { red } from "./output.ts";

export function buildProgram(): Command {
  const program = new Command();
  // Set before adding subcommands: commander copies these settings to commands created afterwards,
  // so every usage error reaches main() and becomes exit code 2.
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .name("ragtune")
    .description(
      "Measure prompt-only vs long-context vs RAG vs fine-tuning on your own documents, label every failure by cause, and get a recommendation.",
    )
    .version(RAGTUNE_VERSION)
    .option("-c, --config <file>", "project config file (default: ./ragtune.yaml)")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 the job failed (e.g. an eval gate), 2 bad usage or input.
Quick start: ragtune demo    (offline, no API key; writes a full example run and report)`,
    );

  program
    .command("init")
    .description("write a commented starter ragtune.yaml and suite.yaml into a folder")
    .argument("[dir]", "project folder", ".")
    .option("--force", "overwrite existing files")
    .action(initCommand);

  program
    .command("ingest")
    .description(
      "load, chunk and index the configured sources; only changed files are re-indexed. A file that cannot be indexed is listed with the reason; " +
        "a pattern that matches nothing is an error (nothing changes); documents are removed only when their file is gone (see docs/ingest.md)",
    )
    .option("--json", "print stats as JSON")
    .option("--prune", "also remove documents no longer selected by any source, and allow removing more than half of the index")
    .option("--yes", "same as --prune (confirm the removals, e.g. in CI)")
    .action(ingestCommand);

  addFilterOptions(
    program
      .command("search")
      .description("BM25 search over the index; prints ranked chunks with source and score")
      .argument("<query>", "search text")
      .option("-k, --k <n>", "number of results", toInt),
  )
    .option("--json", "machine-readable output")
    .action(searchCommand);

  addFilterOptions(
    program
      .command("ask")
      .description("answer a question from the index with cited sources, or abstain when the evidence is weak")
      .argument("<question>", "the question")
      .option("-k, --k <n>", "chunks to retrieve", toInt),
  )
    .option("--model <id>", "generator override, e.g. offline:extractive, openai:gpt-4.1-mini, anthropic:claude-sonnet-4, ollama:llama3.2")
    .option("--stream", "print the answer as the model streams it (LLM generators)")
    .option("--json", "machine-readable output")
    .action(askCommand);

  addFilterOptions(
    program
      .command("eval")
      .description("run the suite on every configured variant and record runs/<id>/"),
  )
    .option("--suite <file>", "suite file (default: `suite` in the config)")
    .addOption(
      new Option("--variants <names>", `comma-separated subset of: ${VARIANT_NAMES.join(", ")}`).argParser((v) =>
        v.split(",").map((s) => s.trim()).filter(Boolean),
      ),
    )
    .option("--tags <tags>", "only cases with any of these comma-separated tags", (v: string) => v.split(","))
    .option("--resume <run>", "continue an interrupted run (id or folder)")
    .option("--model <id>", "generator override for every variant")
    .option("--judge <id>", "LLM judge model (overrides models.judge), e.g. openai:gpt-4.1")
    .option("--allow-self-judge", "permit judging with the model under test (refused by default)")
    .option("--repeats <n>", "runs of generation and judging per case; pass^N and agreement are reported", toInt)
    .option("--dry-run", "print calls, estimated tokens and cost per variant; call no model")
    .option("--max-cost <usd>", "refuse a run estimated above this, stop one whose spend would pass it", toUsd)
    .option("--no-cache", "bypass the response cache for this run")
    .option("--gate <variant=rate...>", "fail (exit 1) if a variant's pass rate is below rate, e.g. --gate rag=0.8")
    .option("--json", "print the run summary as JSON")
    .action(evalCommand);

  const cache = program.command("cache").description("the response cache of model calls");
  cache
    .command("stats")
    .description("entries and size of the response cache")
    .option("--json", "machine-readable output")
    .action(cacheStatsCommand);
  cache.command("clear").description("delete every cached response").action(cacheClearCommand);

  program
    .command("runs")
    .description("list recorded runs with their pass rates")
    .option("--json", "machine-readable output")
    .action(runsCommand);

  program
    .command("decide")
    .description("recommend an architecture from a run's failure distribution and the declared constraints")
    .argument("[run]", "run id or folder (default: latest)")
    .option("--json", "machine-readable output")
    .action(decideCommand);

  program
    .command("report")
    .description("write report.md and report.json for a run")
    .argument("[run]", "run id or folder (default: latest)")
    .option("--out <dir>", "also copy the reports to this folder")
    .action(reportCommand);

  program
    .command("demo")
    .description("copy the bundled example project, then ingest → fine-tune → eval → decide → report, offline")
    .option("--out <dir>", "folder for the demo project (default: ./ragtune-demo, or -2, -3 … if taken)")
    .option("--json", "print the recommendation as JSON")
    .action(demoCommand);

  registerBench(program);
  registerDataset(program);
  registerFinetune(program);
  registerFinetuneTrain(program);
  registerModels(program);

  return program;
}

function toUsd(v: string): number {
  const n = Number(v.replace(/^\$/, ""));
  if (!Number.isFinite(n) || n < 0) throw new CommanderError(2, "ragtune.badUsd", `expected an amount in USD, got '${v}'`);
  return n;
}

function toInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new CommanderError(2, "ragtune.badInt", `expected a positive integer, got '${v}'`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      if (err.exitCode === 0) return 0;
      return 2;
    }
    const e = err as Error & { exitCode?: number };
    process.stderr.write(`${red("error:")} ${e.message}\n`);
    if (process.env.RAGTUNE_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
    return e.exitCode === 1 || e.exitCode === 2 ? e.exitCode : 1;
  }
}
