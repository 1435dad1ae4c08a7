/**
 * `ragtune index versions` / `ragtune index rollback <v>`: the retrieval state's own history
 * (store/versions.ts), separate from the model registry's (`ragtune models rollback`).
 */
import type { Command } from "commander";
import { hasSnapshots } from "../../store/index.ts";
import { indexConfigHash } from "../../pipeline/reindex.ts";
import { intArg } from "../options.ts";
import { projectFrom, printJson } from "./common.ts";
import { bold, dim, green } from "../output.ts";
import { InputError } from "../../util/errors.ts";

const VERSION = intArg(1, 1_000_000_000);

export function registerIndex(program: Command): void {
  const index = program.command("index").description("index versions: list them, roll retrieval back to one (models are untouched)");
  index
    .command("versions")
    .description("every recorded version of the index (one per ingest that changed it), newest last")
    .option("--json", "machine-readable output")
    .action(versionsCommand);
  index
    .command("rollback")
    .description("restore the documents, chunks and vectors of an earlier version (the current state is recorded first, so this can be undone; the model registry is not touched)")
    .argument("<version>", "version number from `ragtune index versions` (1–1,000,000,000)", (v: string) => VERSION(v.replace(/^v/i, "")))
    .option("--json", "machine-readable output")
    .action(rollbackCommand);
}

function versionsCommand(opts: { json?: boolean }, cmd: Command): void {
  const project = projectFrom(cmd);
  try {
    const versions = project.indexVersions().list();
    const live = hasSnapshots(project.store) ? project.store.identity().identity : undefined;
    if (opts.json) {
      printJson({ versions, live });
      return;
    }
    if (!versions.length) {
      console.log("no index versions recorded yet: each `ragtune ingest` that changes the index records one");
      return;
    }
    for (const v of versions) {
      const current = live && v.identity.fingerprint === live.fingerprint ? green(" ← live") : "";
      const labels = Object.entries(v.documentsByVersion).map(([k, n]) => `${k} ${n}`).join(", ");
      console.log(
        `v${v.version}  ${v.createdAt}  ${v.identity.documents} documents, ${v.identity.chunks} chunks (${labels})  ${dim(v.note)}${v.snapshot ? "" : dim(" · no copy kept")}${current}`,
      );
    }
  } finally {
    project.close();
  }
}

function rollbackCommand(version: number, opts: { json?: boolean }, cmd: Command): void {
  const project = projectFrom(cmd);
  try {
    if (!hasSnapshots(project.store)) throw new InputError("this index cannot be rolled back (it is not a SQLite file)");
    const configHash = indexConfigHash(project);
    const r = project.indexVersions().rollback(project.store, version, configHash);
    if (opts.json) {
      printJson(r);
      return;
    }
    console.log(`${bold("index rolled back")} to v${r.restored.version} (${r.restored.identity.documents} documents, ${r.restored.identity.chunks} chunks, recorded ${r.restored.createdAt})`);
    if (r.saved) console.log(dim(`the state before was recorded as v${r.saved.version}: \`ragtune index rollback ${r.saved.version}\` undoes this`));
    if (r.restored.configHash !== configHash) {
      console.log(dim("note: ragtune.yaml's sources or chunking differ from the ones that version was built with; the next `ragtune ingest` re-indexes to the current config"));
    }
    console.log(dim("models are untouched (ragtune models rollback rolls a model back)"));
  } finally {
    project.close();
  }
}
