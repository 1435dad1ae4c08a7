import type { Command } from "commander";
import { reindexProject } from "../../pipeline/reindex.ts";
import { readFileSync } from "node:fs";
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { IngestRefused, type IngestStats } from "../../ingest/index.ts";
import type { Project } from "../../pipeline/index.ts";
import { InputError } from "../../util/errors.ts";
import { projectFrom, printJson } from "./common.ts";
import { yellow, dim, progress, progressDone } from "../output.ts";
import { EMBED_ESTIMATE_THRESHOLD_MS, estimateLine, progressLine } from "../embed-progress.ts";
import type { EmbedEstimate, EmbedProgress } from "../../retrieve/dense.ts";

export interface IngestFlags {
  json?: boolean;
  /** Confirm removals held back by the safety checks (`--yes` is the same). */
  prune?: boolean;
  yes?: boolean;
}

export async function ingestCommand(opts: IngestFlags, cmd: Command): Promise<void> {
  const project = projectFrom(cmd);
  try {
    let stats: IngestStats;
    try {
      stats = await runIngest(project, !opts.json, { prune: opts.prune === true || opts.yes === true });
    } catch (err) {
      // A refused run still says, in JSON, what it would have removed.
      if (opts.json && err instanceof IngestRefused) printJson({ refused: err.message, wouldRemove: err.removals });
      throw err;
    }
    if (opts.json) printJson(stats);
    else printIngestStats(stats);
    if (stats.documents === 0) {
      throw new InputError(
        `the index holds no documents after this ingest: ${stats.skipped.length} selected file(s) were skipped (reasons above); check sources and the files they select`,
      );
    }
  } finally {
    project.close();
  }
}

/**
 * Config location of `sources[i].include` (item j when it is a list), e.g.
 * "/p/ragtune.yaml:7: sources[1].include[0]". The config already parsed, so a failure here only
 * loses the line number.
 */
export function includeLocator(configPath: string): (source: number, include: number) => string {
  let doc: ReturnType<typeof parseDocument> | undefined;
  const lines = new LineCounter();
  try {
    doc = parseDocument(readFileSync(configPath, "utf8"), { lineCounter: lines });
  } catch {
    doc = undefined;
  }
  return (i, j) => {
    const key = `sources[${i}].include`;
    const sources = doc && isMap(doc.contents) ? (doc.contents.get("sources", true) as Node | undefined) : undefined;
    const source = isSeq(sources) ? (sources.items[i] as Node | undefined) : undefined;
    const include = isMap(source) ? (source.get("include", true) as Node | undefined) : undefined;
    const node = isSeq(include) ? (include.items[j] as Node | undefined) : include;
    const at = node?.range?.[0];
    const name = isSeq(include) ? `${key}[${j}]` : key;
    return at === undefined ? `${configPath}: ${name}` : `${configPath}:${lines.linePos(at).line}: ${name}`;
  };
}

export async function runIngest(
  project: Project,
  showProgress: boolean,
  options: {
    prune?: boolean;
    /** Print the embedding estimate for jobs expected to take longer than this (default 10 s). */
    estimateThresholdMs?: number;
    embedBatchSize?: number;
  } = {},
): Promise<IngestStats> {
  try {
    return await reindexProject(project, {
      prune: options.prune,
      embedBatchSize: options.embedBatchSize,
      locate: includeLocator(project.configPath),
      ...(showProgress
        ? {
            onIngestProgress: (done: number, total: number, path: string) => progress(`ingest ${done}/${total} ${path}`),
            onEmbedProgress: (p: EmbedProgress) => progress(progressLine(p)),
            onEmbedEstimate: (e: EmbedEstimate) => {
              // A line of its own (stderr: --json stdout stays JSON), kept above the progress bar.
              if (e.totalMs > (options.estimateThresholdMs ?? EMBED_ESTIMATE_THRESHOLD_MS)) {
                progressDone();
                process.stderr.write(`${estimateLine(e)}\n`);
              }
            },
          }
        : {}),
    });
  } finally {
    progressDone();
  }
}

const LISTED = 20;

export function printIngestStats(stats: IngestStats): void {
  console.log(
    `ingested: ${stats.added} added, ${stats.changed} changed, ${stats.removed} removed, ${stats.unchanged} unchanged, ${stats.skipped.length} skipped — ${stats.documents} documents, ${stats.chunks} chunks in the index ${dim(`(${Math.round(stats.ms)} ms)`)}`,
  );
  if (stats.indexVersion !== undefined) console.log(dim(`index version v${stats.indexVersion} recorded (ragtune index versions; ragtune index rollback <v>)`));
  if (stats.embedded) {
    const e = stats.embedded;
    console.log(`embedded: ${e.embedded} chunks with ${e.embedder}, ${e.upToDate} already up to date ${dim(`(${Math.round(e.ms)} ms)`)}`);
  }
  for (const s of stats.skipped) console.log(`  ${yellow("skipped")} ${s.path}: ${s.reason}`);
  for (const r of stats.removedDocuments.slice(0, LISTED)) console.log(`  ${dim("removed")} ${r.path}: ${r.reason}`);
  if (stats.removedDocuments.length > LISTED) console.log(`  ${dim("removed")} … and ${stats.removedDocuments.length - LISTED} more (--json lists all)`);
  for (const k of stats.kept.slice(0, LISTED)) console.log(`  ${yellow("kept")} ${k.path}: ${k.reason}`);
  if (stats.kept.length > LISTED) console.log(`  ${yellow("kept")} … and ${stats.kept.length - LISTED} more (--json lists all)`);
}
