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
import { formatNote, suiteYaml, type Importer, type ImportOptions } from "../../interop/index.ts";
import { promptfooImporter } from "../../interop/promptfoo.ts";
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

function runImport(importer: Importer, file: string, flags: ImportFlags, options: ImportOptions = {}): void {
  if (flags.out !== undefined && existsSync(resolve(flags.out)) && !flags.force) {
    throw new InputError(`--out: ${resolve(flags.out)} exists; pass --force to replace it (nothing was written)`);
  }
  const result = importer.read(file, options);
  for (const n of result.notes) process.stderr.write(`${yellow("not converted:")} ${formatNote(n)}\n`);
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
  process.stderr.write(dim(`${result.cases.length} case(s) converted from ${file}${result.notes.length ? `; ${result.notes.length} item(s) not converted (listed above)` : ""}\n`));
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
}
