/**
 * `ragtune export junit|ragas [run]`: a recorded run in the formats other tools read. The writers
 * live in report/; this file resolves the run, picks the output and writes it atomically.
 */
import type { Command } from "commander";
import { relative, resolve } from "node:path";
import { readCaseResults, readSummary } from "../../evaluate/runs.ts";
import { junitXml } from "../../report/junit.ts";
import { writeFileAtomic } from "../../util/fs.ts";
import { resolveRunFlag } from "../checks.ts";
import { loadedFrom } from "./common.ts";
import { dim } from "../output.ts";
import { outFileArg } from "../options.ts";

/** Write `text` to `out` atomically (and say so on stderr), or print it on stdout. */
export function emit(text: string, out: string | undefined, what: string): void {
  if (out === undefined) {
    process.stdout.write(text);
    return;
  }
  const abs = resolve(out);
  writeFileAtomic(abs, text);
  console.error(dim(`wrote ${what} to ${relative(process.cwd(), abs) || abs}`));
}

export async function exportJunitCommand(run: string | undefined, opts: { out?: string }, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const runDir = resolveRunFlag("export junit [run]", loaded.root, loaded.config, run);
  const summary = readSummary(runDir);
  emit(junitXml(summary, readCaseResults(runDir)), opts.out, "JUnit XML");
}

/** `ragtune eval --junit <file>`: the run just recorded, as JUnit XML (written before any gate is checked). */
export function writeJunitFile(runDir: string, file: string): void {
  emit(junitXml(readSummary(runDir), readCaseResults(runDir)), file, "JUnit XML");
}

export function registerExport(program: Command): void {
  const exp = program.command("export").description("write a recorded run in another tool's format (JUnit XML for CI, RAGAS rows)");
  exp
    .command("junit")
    .description("JUnit XML of a run: one testsuite per variant, one testcase per case; failures (with cause, signal, evidence) apart from judge errors; cases not run are skipped")
    .argument("[run]", "run id, run folder or 'latest' (default: latest); must exist")
    .option("--out <file>", "write to this file (atomically) instead of stdout", outFileArg)
    .action(exportJunitCommand);
}
