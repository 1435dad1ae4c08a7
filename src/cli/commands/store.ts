/**
 * `ragtune store migrate --to postgres://…`: copy the project's SQLite index into a Postgres
 * database and verify the copy (store/migrate.ts). Then set `store: {kind: postgres, url}` in
 * ragtune.yaml to serve from it.
 */
import type { Command } from "commander";
import { join, resolve } from "node:path";
import { migrateSqliteToPostgres } from "../../store/migrate.ts";
import { InputError } from "../../util/errors.ts";
import { loadedFrom, printJson } from "./common.ts";
import { dim, green } from "../output.ts";
import { existingFileArg, invalid } from "../options.ts";

export function registerStore(program: Command): void {
  const store = program.command("store").description("the index's store: move a SQLite index to PostgreSQL");
  store
    .command("migrate")
    .description("copy the SQLite index (documents, chunks, index settings) into an empty Postgres database, then compare counts and checksums")
    .requiredOption("--to <url>", "target database, postgres://user@host:5432/database (the tables are created)", postgresUrlArg)
    .option("--from <file>", "SQLite index to copy (default: <storeDir>/index.db of the project)", existingFileArg)
    .option("--json", "machine-readable output")
    .action(migrateCommand);
}

/** `--to`: a postgres:// URL, checked before anything connects. */
function postgresUrlArg(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid("not a URL; expected postgres://user@host:5432/database.");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") throw invalid(`expected a postgres:// URL, got scheme ${url.protocol.replace(/:$/, "")}.`);
  return v;
}

function migrateCommand(opts: { to: string; from?: string; json?: boolean }, cmd: Command): void {
  let file = opts.from;
  let projectRoot: string | undefined;
  if (!file) {
    const { config, root } = loadedFrom(cmd);
    file = join(resolve(root, config.storeDir), "index.db");
    projectRoot = root;
  }
  let report;
  try {
    report = migrateSqliteToPostgres(resolve(file), opts.to, projectRoot ? { root: projectRoot } : {});
  } catch (err) {
    throw new InputError(`store migrate: ${(err as Error).message}`);
  }
  if (opts.json) {
    printJson(report);
    return;
  }
  const s = report.source;
  console.log(`${green("copied")} ${s.documents} documents, ${s.chunks} chunks from ${report.from} to ${report.to}`);
  console.log(`verified: counts equal, checksum ${s.checksum.slice(0, 16)} and fingerprint ${s.fingerprint} equal on both sides`);
  if (report.vectors) console.log(`vectors: ${report.vectors.source.vectors} copied (${report.vectors.target.mode}), checksum ${report.vectors.source.checksum.slice(0, 16)} equal on both sides`);
  if (report.requestLog) console.log(`${green("copied")} the request log: ${report.requestLog.requests} requests, ${report.requestLog.labels} labels (checksum ${report.requestLog.checksum.slice(0, 16)} equal)`);
  if (report.keys) console.log(`${green("copied")} ${report.keys.keys} API keys (same salted hashes: issued keys keep working; checksum ${report.keys.checksum.slice(0, 16)} equal)`);
  for (const part of report.copied ?? []) {
    console.log(`${green("copied")} ${part.name}: ${Object.entries(part.counts).map(([k, n]) => `${n} ${k}`).join(", ")}; verified: counts and checksum ${part.checksum.slice(0, 16)} equal`);
  }
  console.log(dim(`index settings copied: ${report.meta.join(", ") || "(none)"} (docs/store.md)`));
  console.log(dim(`to use it: store: { kind: postgres, url: ${report.to} } in ragtune.yaml (or urlEnv)`));
}
