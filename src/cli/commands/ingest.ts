import type { Command } from "commander";
import { ingestProject, type IngestStats } from "../../ingest/index.ts";
import type { Project } from "../../pipeline/index.ts";
import { embedPending } from "../../retrieve/dense.ts";
import { projectFrom, printJson } from "./common.ts";
import { yellow, dim, progress, progressDone } from "../output.ts";

export async function ingestCommand(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const project = projectFrom(cmd);
  try {
    const stats = await runIngest(project, !opts.json);
    if (opts.json) printJson(stats);
    else printIngestStats(stats);
  } finally {
    project.close();
  }
}

export async function runIngest(project: Project, showProgress: boolean): Promise<IngestStats> {
  const { config } = project;
  const stats = await ingestProject({
    root: project.root,
    sources: config.sources,
    chunking: config.chunking,
    store: project.store,
    onProgress: showProgress ? (done, total, path) => progress(`ingest ${done}/${total} ${path}`) : undefined,
  });
  progressDone();
  // Dense/hybrid retrieval: embed only the chunks that are new or changed (vectors persist per embedder).
  const embedder = config.retrieval.mode === "lexical" ? undefined : project.embedder();
  if (embedder) {
    const result = await embedPending(project.indexFile, embedder, {
      onProgress: showProgress ? (p) => progress(`embed ${p.done}/${p.total} with ${p.embedder}`) : undefined,
    });
    progressDone();
    stats.embedded = { embedder: result.embedder, embedded: result.embedded, upToDate: result.upToDate, ms: result.ms };
  }
  return stats;
}

export function printIngestStats(stats: IngestStats): void {
  console.log(
    `ingested: ${stats.added} added, ${stats.changed} changed, ${stats.removed} removed, ${stats.unchanged} unchanged, ${stats.skipped.length} skipped — ${stats.chunks} chunks in the index ${dim(`(${Math.round(stats.ms)} ms)`)}`,
  );
  if (stats.embedded) {
    const e = stats.embedded;
    console.log(`embedded: ${e.embedded} chunks with ${e.embedder}, ${e.upToDate} already up to date ${dim(`(${Math.round(e.ms)} ms)`)}`);
  }
  for (const s of stats.skipped) console.log(`  ${yellow("skipped")} ${s.path}: ${s.reason}`);
}
