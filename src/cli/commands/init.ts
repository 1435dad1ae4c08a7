import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve, relative } from "node:path";
import { STARTER_CONFIG, STARTER_SUITE } from "../../config/template.ts";
import { CONFIG_FILE } from "../../config/index.ts";
import { InputError } from "../../util/errors.ts";

export async function initCommand(dir: string, opts: { force?: boolean }): Promise<void> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const files: [string, string][] = [
    [join(root, CONFIG_FILE), STARTER_CONFIG],
    [join(root, "suite.yaml"), STARTER_SUITE],
  ];
  const existing = files.filter(([f]) => existsSync(f)).map(([f]) => f);
  if (existing.length && !opts.force) {
    throw new InputError(`${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""} — use --force to overwrite`);
  }
  for (const [file, text] of files) {
    writeFileSync(file, text);
    console.log(`wrote ${relative(process.cwd(), file) || file}`);
  }
  console.log("next: put your documents under docs/, edit ragtune.yaml, then run `ragtune ingest` and `ragtune eval`");
}
