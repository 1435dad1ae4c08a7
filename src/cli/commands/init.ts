import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve, relative } from "node:path";
import { SCHEMA_FILE, starterConfig, STARTER_SUITE } from "../../config/template.ts";
import { CONFIG_FILE } from "../../config/index.ts";
import { InputError } from "../../util/errors.ts";

export async function initCommand(dir: string, opts: { force?: boolean }): Promise<void> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const files: [string, string][] = [
    [join(root, CONFIG_FILE), starterConfig()],
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
  if (existsSync(SCHEMA_FILE)) console.log(`editors validate ragtune.yaml against ${SCHEMA_FILE} (see the first lines of the file)`);
  console.log("next: put your documents under docs/, edit ragtune.yaml, then run `ragtune ingest` and `ragtune eval`");
}
