/**
 * `ragtune import <format> <file>`: a suite from another tool's test file. The suite goes to stdout
 * (or --out, written atomically; an existing file only with --force); what could not be converted
 * is listed on stderr with file:line. The written suite is loaded back with the suite loader first,
 * so what we print is a suite ragtune accepts.
 */
import type { Command } from "commander";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { formatNote, notConverted, suiteYaml, type Importer, type ImportOptions } from "../../interop/index.ts";
import { promptfooImporter } from "../../interop/promptfoo.ts";
import { ragasImporter } from "../../interop/ragas.ts";
import { openaiEvalsImporter } from "../../interop/openai-evals.ts";
import { openStore } from "../../store/sqlite.ts";
import { loadedFrom } from "./common.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { InputError } from "../../util/errors.ts";
import { writeFileAtomic } from "../../util/fs.ts";
import { existingFileArg, outFileArg, textArg } from "../options.ts";
import { dim, yellow } from "../output.ts";

interface ImportFlags {
  out?: string;
  force?: boolean;
  inputVar?: string;
}

function runImport(importer: Importer, file: string, flags: ImportFlags, options: ImportOptions = {}, read = () => importer.read(file, options)): void {
  if (flags.out !== undefined && existsSync(resolve(flags.out)) && !flags.force) {
    throw new InputError(`--out: ${resolve(flags.out)} exists; pass --force to replace it (nothing was written)`);
  }
  const result = read();
  for (const n of result.notes) process.stderr.write(`${yellow(n.kind === "warning" ? "check:" : "not converted:")} ${formatNote(n)}\n`);
  if (result.cases.length === 0) throw new InputError(`${file}: no test could be converted into a ragtune case${result.notes.length ? " (see the list above)" : ""}`);
  const yaml = suiteYaml(result, file);
  // Proof that the suite loads: the same loader `ragtune eval` uses, on a scratch copy.
  const scratch = mkdtempSync(join(tmpdir(), "ragtune-import-"));
  try {
    writeFileSync(join(scratch, "suite.yaml"), yaml);
    loadSuite(join(scratch, "suite.yaml"));
  } catch (e) {
    throw Object.assign(new Error(`the converted suite does not load (a bug in the ${importer.format} importer, please report it): ${(e as Error).message}`), { exitCode: 1 });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (flags.out === undefined) process.stdout.write(yaml);
  else {
    writeFileAtomic(resolve(flags.out), yaml);
    process.stderr.write(dim(`wrote ${result.cases.length} case(s) to ${relative(process.cwd(), resolve(flags.out)) || flags.out}\n`));
  }
  process.stderr.write(dim(`${result.cases.length} case(s) converted from ${file}${notConverted(result) ? `; ${notConverted(result)} item(s) not converted (listed above)` : ""}\n`));
}

const squash = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();

/**
 * RAGAS contexts are texts; a suite's sources are paths. Inside a ragtune project with an index,
 * a context is located by the chunk that contains it (or that it contains, or that holds its longest
 * sentence); outside one, contexts are listed as not converted.
 */
function withContextLocator<T>(cmd: Command, use: (locate?: (text: string) => string | undefined) => T): T {
  const { config } = cmd.optsWithGlobals() as { config?: string };
  if (config === undefined && !existsSync(resolve("ragtune.yaml"))) return use(undefined);
  const loaded = loadedFrom(cmd);
  const db = join(resolve(loaded.root, loaded.config.storeDir), "index.db");
  if (!existsSync(db)) return use(undefined);
  const store = openStore(db);
  try {
    const chunks = store.chunks().map((c) => ({ path: c.path, text: squash(c.text) }));
    if (chunks.length === 0) return use(undefined);
    return use((context) => {
      const ctx = squash(context);
      if (ctx.length < 12) return undefined;
      const hit = chunks.find((c) => c.text.includes(ctx)) ?? chunks.find((c) => c.text.length >= 40 && ctx.includes(c.text));
      if (hit) return hit.path;
      const longest = ctx.split(/(?<=[.!?])\s+/).sort((a, b) => b.length - a.length)[0];
      return longest && longest.length >= 40 ? chunks.find((c) => c.text.includes(longest))?.path : undefined;
    });
  } finally {
    store.close();
  }
}

export function registerImport(program: Command): void {
  const imp = program.command("import").description("write a ragtune suite from another tool's test file (suite on stdout; what could not be converted on stderr)");
  const common = (c: Command) =>
    c
      .option("--out <file>", "write the suite to this file (atomically) instead of stdout", outFileArg)
      .option("--force", "replace an existing --out file");
  common(
    imp
      .command("promptfoo")
      .description("a promptfooconfig (YAML/JSON; tests, defaultTest, file:// test files) or tests CSV → suite; see docs/interop.md for the assertion mapping")
      .argument("<file>", "promptfooconfig.yaml|.json or tests.csv; must exist", existingFileArg)
      .option("--input-var <name>", "the var holding the question (default: the only var, else question, query or input)", textArg("a var name")),
  ).action((file: string, flags: ImportFlags) => runImport(promptfooImporter, file, flags, { inputVar: flags.inputVar }));
  common(
    imp
      .command("ragas")
      .description("RAGAS / Hugging Face-style rows (user_input|question, reference|ground_truth|answer, reference_contexts|contexts) → suite; contexts become sources when found in the project's index")
      .argument("<file>", ".jsonl, .json or .csv; must exist", existingFileArg),
  ).action((file: string, flags: ImportFlags, cmd: Command) =>
    withContextLocator(cmd, (locateContext) => runImport(ragasImporter, file, flags, {}, () => ragasImporter.read(file, { locateContext }))),
  );
  common(
    imp
      .command("openai-evals")
      .description("OpenAI Evals samples (JSONL: input as a string or chat messages, ideal as a string or list) → suite")
      .argument("<file>", ".jsonl; must exist", existingFileArg),
  ).action((file: string, flags: ImportFlags) => runImport(openaiEvalsImporter, file, flags));
}
