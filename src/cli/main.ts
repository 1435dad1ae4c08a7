/**
 * The `ragtune` command line. Commands are thin: parse flags, call the stage modules, print.
 * Exit codes: 0 ok, 1 the job failed (e.g. a quality gate), 2 bad usage or input.
 *
 * Every option value is checked before any work starts: numbers against their bounds, names
 * against what exists (did-you-mean), files and folders on disk, and flag combinations that
 * contradict each other. Usage errors print `error: <what>` on stderr and exit 2.
 */
import { Command, CommanderError, Option } from "commander";
import { ingestCommand } from "./commands/ingest.ts";
import { searchCommand, askCommand } from "./commands/query.ts";
import { registerDataset } from "./commands/dataset.ts";
import { registerFinetune, registerFinetuneTrain } from "./commands/finetune.ts";
import { registerModels } from "./commands/models.ts";
import { registerKeys } from "./commands/keys.ts";
import { cacheClearCommand, cacheStatsCommand, evalCommand, runsCommand } from "./commands/eval.ts";
import { decideCommand, reportCommand } from "./commands/decide.ts";
import { initCommand } from "./commands/init.ts";
import { demoCommand } from "./commands/demo.ts";
import { addFilterOptions } from "./commands/common.ts";
import { registerBench } from "./commands/bench.ts";
import { registerView } from "./commands/view.ts";
import { registerPilot } from "./commands/pilot.ts";
import { registerIndex } from "./commands/index-versions.ts";
import { registerStore } from "./commands/store.ts";
import { registerServe } from "./commands/serve.ts";
import { registerMonitor } from "./commands/monitor.ts";
import { queueUrlArg, registerWorker } from "./commands/worker.ts";
import { registerLogs, sinceArg } from "./commands/logs.ts";
import { RAGTUNE_VERSION } from "../evaluate/runner.ts";
import { VARIANT_NAMES } from "../config/index.ts";
import { existingFileArg, hintFor, intArg, listArg, outFileArg, outFolderArg, textArg, textListArg, usdArg } from "./options.ts";
import { registerExport } from "./commands/export.ts";
import { registerImport } from "./commands/import.ts";
import { red } from "./output.ts";

/** Bounds shared with the config schema (retrieval.k, evaluate.repeats). */
const K = intArg(1, 200);
const REPEATS = intArg(1, 20);

export function buildProgram(): Command {
  const program = new Command();
  // Set before adding subcommands: commander copies these settings to commands created afterwards,
  // so every usage error reaches main() as exit code 2 (commander's own default is 1).
  program.exitOverride((err) => {
    throw err.exitCode === 0 ? err : new CommanderError(2, err.code, err.message);
  });
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => {
      reported.add(s.trim());
      write(s);
    },
  });
  program
    .name("ragtune")
    .description(
      "Measure prompt-only vs long-context vs RAG vs fine-tuning on your own documents, label every failure by cause, and get a recommendation.",
    )
    .version(RAGTUNE_VERSION)
    .option("-c, --config <file>", "project config file (default: ./ragtune.yaml); must exist")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 the job failed (e.g. an eval gate), 2 bad usage or input.
Every option is checked before anything runs; a bad value names the option and what is allowed (exit 2).
Quick start: ragtune demo    (offline, no API key; writes a full example run and report)`,
    );

  program
    .command("init")
    .description("write a commented starter ragtune.yaml and suite.yaml into a folder")
    .argument("[dir]", "project folder (created if missing; must not be a file)", outFolderArg, ".")
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
    .option("--watch", "after the ingest, keep watching the sources and re-index on every change (Ctrl-C stops; see docs/ingest.md)")
    .option("--debounce-ms <n>", "with --watch: quiet time after the last change before re-indexing, 0–60000 ms (default: 300)", intArg(0, 60_000))
    .option("--queue <url>", "parse changed files and embed chunks on `ragtune worker` processes through this Redis (redis://host:port); this process still decides what changed and writes the index in one transaction (docs/queue.md)", queueUrlArg)
    .option("--queue-name <name>", "bullmq queue name with --queue (default ragtune-ingest; the workers' --ingest-queue-name)", textArg("a queue name"))
    .action(ingestCommand);

  addFilterOptions(
    program
      .command("search")
      .description(
        "ranked chunks for a query, with source, lines and score — the same retrieval `ask` and eval's rag use (rerank, version collapsing, small-to-big as configured); --raw for plain BM25",
      )
      .argument("<query>", "search text (not empty)", textArg("search text"))
      .option("-k, --k <n>", "number of results, 1–200 (default: retrieval.k)", K)
      .option("--raw", "plain BM25 scores, without reranking or version collapsing"),
  )
    .option("--json", "machine-readable output")
    .action(searchCommand);

  addFilterOptions(
    program
      .command("ask")
      .description("answer a question from the index with cited sources, or abstain when the evidence is weak")
      .argument("<question>", "the question (not empty)", textArg("a question"))
      .option("-k, --k <n>", "chunks to retrieve, 1–200 (default: retrieval.k)", K),
  )
    .option(
      "--model <id>",
      "generator override, e.g. offline:extractive, openai:gpt-4.1-mini, anthropic:claude-sonnet-4, ollama:llama3.2, openai-compatible:<provider>/<model> (provider declared in models.providers)",
    )
    .option("--stream", "print the answer as the model streams it (LLM generators; not with --json)")
    .option("--json", "machine-readable output")
    .action(askCommand);

  addFilterOptions(
    program
      .command("eval")
      .description("run the suite on every configured variant and record runs/<id>/"),
  )
    .option("--suite <file>", "suite file, relative to the current folder (default: `suite` in the config)", existingFileArg)
    .addOption(
      new Option(
        "--variants <names>",
        `comma-separated subset of: ${VARIANT_NAMES.join(", ")} (fine-tuned and hybrid need a promoted model; not with --resume)`,
      ).argParser(listArg(VARIANT_NAMES, "variant")),
    )
    .option("--tags <tags>", "only cases with any of these comma-separated tags; each must be on a case of the suite", listArg(undefined, "tag"))
    .option("--resume <run>", "continue an interrupted run (a run id, a run folder or 'latest'; not with --variants or --dry-run) against the index copy it pinned at start; refused, naming what changed, when that copy is gone and the index differs", textArg("a run id"))
    .option("--model <id>", "generator override for every variant (same forms as ask --model)")
    .option("--judge <id>", "LLM judge model (overrides models.judge), e.g. openai:gpt-4.1; not offline:extractive")
    .option("--allow-self-judge", "permit judging with the model under test (refused by default; needs a judge)")
    .option("--repeats <n>", "runs of generation and judging per case, 1–20; pass^N and agreement are reported", REPEATS)
    .option("--dry-run", "print calls, estimated tokens and cost per variant; call no model, write no run")
    .option("--max-cost <usd>", "refuse a run estimated above this, stop one whose spend would pass it (0–10,000,000)", usdArg())
    .option("--no-cache", "bypass the response cache for this run")
    .option(
      "--gate <variant=rate...>",
      "fail (exit 1) if a variant's pass rate is below rate (0–1), e.g. --gate rag=0.8 hybrid=0.85; each variant must be run, once; not with --dry-run",
      textListArg("variant=rate"),
    )
    .option("--junit <file>", "also write the run as JUnit XML to this file (written before the gates are checked; not with --dry-run)", outFileArg)
    .option("--json", "print the run summary as JSON")
    .option("--queue <url>", "run the cases on `ragtune worker` processes through this Redis (redis://host:port); results land in runs/<id>/ as usual (docs/queue.md)", queueUrlArg)
    .option("--queue-name <name>", "bullmq queue name with --queue (default ragtune-eval)", textArg("a queue name"))
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
    .argument("[run]", "run id, run folder or 'latest' (default: latest); must exist")
    .option("--from-logs", "also weigh the labelled live failures of the request log (labels the window first, as `ragtune logs label`)")
    .option("--since <duration>", "window of the request log for --from-logs, e.g. 24h, 7d (default 7d)", sinceArg)
    .option("--json", "machine-readable output")
    .action(decideCommand);

  program
    .command("report")
    .description("write report.md, report.json and report.html (self-contained, opens offline) for a run")
    .argument("[run]", "run id, run folder or 'latest' (default: latest); must exist")
    .option("--out <dir>", "also copy the reports to this folder (created if missing; must not be a file)", outFolderArg)
    .option("--from-logs", "decide with the labelled live failures of the request log too (as `ragtune decide --from-logs`)")
    .option("--since <duration>", "window of the request log for --from-logs, e.g. 24h, 7d (default 7d)", sinceArg)
    .action(reportCommand);

  registerExport(program);
  registerImport(program);

  program
    .command("demo")
    .description("copy the bundled example project, then ingest → fine-tune → eval → decide → report, offline")
    .option("--out <dir>", "folder for the demo project (default: ./ragtune-demo, or -2, -3 … if taken); must not hold a project already", outFolderArg)
    .option("--json", "print the recommendation as JSON")
    .action(demoCommand);

  registerBench(program);
  registerDataset(program);
  registerFinetune(program);
  registerFinetuneTrain(program);
  registerModels(program);
  registerKeys(program);
  registerView(program);
  registerServe(program);
  registerMonitor(program);
  registerWorker(program);
  registerLogs(program);
  registerPilot(program);
  registerIndex(program);
  registerStore(program);

  return program;
}

/** Messages commander has already printed (so main() does not print them twice). */
const reported = new Set<string>();

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  reported.clear();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      if (err.exitCode === 0) return 0;
      // A group command without its subcommand (`ragtune cache`) prints its help; say what is missing.
      if (err.code === "commander.help") process.stderr.write(`${red("error:")} ${missingCommand(program, argv)}\n`);
      // Commander prints its own usage errors; anything else thrown as a CommanderError is printed here.
      else if (!reported.has(err.message.trim()) && err.code !== "commander.helpDisplayed") {
        process.stderr.write(`${red("error:")} ${err.message.replace(/^error:\s*/, "")}\n`);
      }
      return 2;
    }
    const e = err as Error & { exitCode?: number };
    process.stderr.write(`${red("error:")} ${e.message}\n`);
    if (process.env.RAGTUNE_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
    return e.exitCode === 1 || e.exitCode === 2 ? e.exitCode : 1;
  }
}

/** What is missing when commander shows help as an error: the subcommand of a group, or a known name after `help`. */
function missingCommand(program: Command, argv: string[]): string {
  const operands: string[] = [];
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-c" || args[i] === "--config") i++;
    else if (!args[i].startsWith("-")) operands.push(args[i]);
  }
  if (operands[0] === "help") operands.shift();
  let cmd = program;
  let depth = 0;
  for (; depth < operands.length; depth++) {
    const next = cmd.commands.find((c) => c.name() === operands[depth] || c.aliases().includes(operands[depth]));
    if (!next) break;
    cmd = next;
  }
  const names = cmd.commands.map((c) => c.name()).filter((n) => n !== "help");
  if (depth < operands.length) return `unknown command '${operands[depth]}'${hintFor(operands[depth], names)}; commands: ${names.join(", ")}`;
  const path = [program.name(), ...operands.slice(0, depth)].join(" ");
  return `'${path}' needs a command: ${names.join(", ")} (listed above)`;
}
