/**
 * `ragtune export junit|ragas [run]`: a recorded run in the formats other tools read. The writers
 * live in report/; this file resolves the run, picks the output and writes it atomically.
 */
import type { Command } from "commander";
import { relative, resolve } from "node:path";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readCaseResults, readSnapshot, readSummary } from "../../evaluate/runs.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { SNAPSHOT_FILE } from "../../evaluate/snapshot.ts";
import { openStore } from "../../store/sqlite.ts";
import { ragasJsonl, ragasRows } from "../../report/ragas.ts";
import { InputError } from "../../util/errors.ts";
import { hintFor, textArg } from "../options.ts";
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

export async function exportRagasCommand(run: string | undefined, opts: { variant?: string; out?: string }, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const runDir = resolveRunFlag("export ragas [run]", loaded.root, loaded.config, run);
  const summary = readSummary(runDir);
  const snapshot = readSnapshot(runDir);
  const ran = summary.variants.map((v) => v.name);
  const variant = opts.variant ?? (ran.includes("rag") ? "rag" : ran.length === 1 ? ran[0] : undefined);
  if (variant === undefined) throw new InputError(`--variant: the run has several variants and no 'rag'; pick one of: ${ran.join(", ")}`);
  if (!ran.includes(variant)) throw new InputError(`--variant: the run has no variant '${variant}'${hintFor(variant, ran)}; variants in the run: ${ran.join(", ")}`);
  const notes: string[] = [];

  // Expected answers come from the suite the run used; a suite that no longer loads gives no references.
  const references = new Map<string, { input: string; answers: string[] }>();
  try {
    for (const c of loadSuite(snapshot.suitePath).cases) references.set(c.id, { input: c.input, answers: c.answer ?? [] });
  } catch (e) {
    notes.push(`the run's suite ${snapshot.suitePath} does not load (${(e as Error).message.split("\n")[0]}) — rows have no reference`);
  }

  // Chunk texts: the run's own pinned index while it is kept, else the live index (which may have moved on).
  const pinned = join(runDir, snapshot.index?.file ?? SNAPSHOT_FILE);
  const live = join(resolve(loaded.root, loaded.config.storeDir), "index.db");
  const file = existsSync(pinned) ? pinned : existsSync(live) ? live : undefined;
  const store = file ? openStore(file) : undefined;
  try {
    if (!store) notes.push("no index found — retrieved_contexts are empty (run `ragtune ingest`)");
    else if (file === live && snapshot.index && store.generation() !== snapshot.index.generation) {
      notes.push(`contexts read from the current index (generation ${store.generation()}); the run read generation ${snapshot.index.generation}, so re-indexed chunks may read differently`);
    }
    const out = ragasRows({ cases: readCaseResults(runDir), variant, chunkText: (id) => store?.chunk(id)?.text, references });
    notes.push(...out.notes);
    if (out.rows.length === 0) notes.push(`variant '${variant}' has no qa cases in this run: nothing to export`);
    emit(ragasJsonl(out.rows), opts.out, `${out.rows.length} RAGAS rows (${variant})`);
  } finally {
    store?.close();
  }
  for (const n of notes) console.error(dim(`note: ${n}`));
}

export function registerExport(program: Command): void {
  const exp = program.command("export").description("write a recorded run in another tool's format (JUnit XML for CI, RAGAS rows)");
  exp
    .command("junit")
    .description("JUnit XML of a run: one testsuite per variant, one testcase per case; failures (with cause, signal, evidence) apart from judge errors; cases not run are skipped")
    .argument("[run]", "run id, run folder or 'latest' (default: latest); must exist")
    .option("--out <file>", "write to this file (atomically) instead of stdout", outFileArg)
    .action(exportJunitCommand);
  exp
    .command("ragas")
    .description("RAGAS-style rows (JSONL: user_input, response, retrieved_contexts, reference; ragtune's fields under 'ragtune') of one variant's qa cases")
    .argument("[run]", "run id, run folder or 'latest' (default: latest); must exist")
    .option("--variant <name>", "the variant whose answers to export (default: rag, or the run's only variant); must be in the run", textArg("a variant name"))
    .option("--out <file>", "write to this file (atomically) instead of stdout", outFileArg)
    .action(exportRagasCommand);
}
