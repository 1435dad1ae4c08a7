import type { Command } from "commander";
import { reindexProject, type ReindexOptions } from "../../pipeline/reindex.ts";
import { readFileSync } from "node:fs";
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { IngestRefused, type IngestStats } from "../../ingest/index.ts";
import type { Project } from "../../pipeline/index.ts";
import { InputError } from "../../util/errors.ts";
import { projectFrom, printJson } from "./common.ts";
import { yellow, dim, red, progress, progressDone } from "../output.ts";
import { DEFAULT_DEBOUNCE_MS, projectWriteFolders, WatchLoop } from "../../ingest/watch.ts";
import { EMBED_ESTIMATE_THRESHOLD_MS, estimateLine, progressLine } from "../embed-progress.ts";
import type { EmbedEstimate, EmbedProgress } from "../../retrieve/dense.ts";

export interface IngestFlags {
  json?: boolean;
  /** Confirm removals held back by the safety checks (`--yes` is the same). */
  prune?: boolean;
  yes?: boolean;
  /** Keep watching the sources after the ingest and re-index on changes. */
  watch?: boolean;
  debounceMs?: number;
  /** Parse and embed on `ragtune worker` processes through this Redis (docs/queue.md). */
  queue?: string;
  queueName?: string;
}

export async function ingestCommand(opts: IngestFlags, cmd: Command): Promise<void> {
  if (opts.debounceMs !== undefined && !opts.watch) throw new InputError("--debounce-ms only applies with --watch");
  if (opts.queueName !== undefined && opts.queue === undefined) throw new InputError("--queue-name needs --queue");
  if (opts.queue !== undefined && opts.watch) throw new InputError("--queue cannot be combined with --watch (a watched project re-indexes locally; run `ragtune ingest --queue` again instead)");
  const project = projectFrom(cmd);
  try {
    let stats: IngestStats;
    try {
      const prune = opts.prune === true || opts.yes === true;
      stats = opts.queue ? await runQueuedIngest(project, !opts.json, { prune, url: opts.queue, queueName: opts.queueName }) : await runIngest(project, !opts.json, { prune });
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
    if (opts.watch) await watchAndReindex(project, opts);
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

/**
 * `ragtune ingest --queue`: the same reindex, with parsing and embedding on queue workers
 * (ingest/queue/). The jobs stay in Redis until the index is written, so a rerun after a crash
 * collects them instead of redoing them.
 */
async function runQueuedIngest(project: Project, showProgress: boolean, options: { prune: boolean; url: string; queueName?: string }): Promise<IngestStats> {
  // Loaded only for --queue: ioredis is an optional dependency.
  const { IngestQueue } = await import("../../ingest/queue/coordinator.ts");
  const queue = await IngestQueue.start({
    url: options.url,
    queueName: options.queueName,
    root: project.root,
    configPath: project.configPath,
    ...(showProgress ? { onProgress: (kind: string, done: number, total: number) => progress(`${kind} on workers ${done}/${total}`) } : {}),
  });
  let complete = false;
  try {
    const stats = await runIngest(project, showProgress, { prune: options.prune, queue: { remoteParser: queue, embedPending: (file, embedder, o) => queue.embedPending(file, embedder, o) } });
    complete = true;
    stats.queue = { ...queue.stats };
    if (showProgress) {
      progressDone();
      const s = queue.stats;
      console.error(dim(`queue: ${s.parseJobs} parse job(s), ${s.embedJobs} embed job(s), ${s.collected} collected from an earlier run, ${s.cachedVectors} vector(s) from the Redis cache`));
    }
    return stats;
  } finally {
    await queue.close(complete);
  }
}

export async function runIngest(
  project: Project,
  showProgress: boolean,
  options: {
    queue?: ReindexOptions["queue"];
    prune?: boolean;
    /** Print the embedding estimate for jobs expected to take longer than this (default 10 s). */
    estimateThresholdMs?: number;
    embedBatchSize?: number;
  } = {},
): Promise<IngestStats> {
  try {
    return await reindexProject(project, {
      prune: options.prune,
      ...(options.queue ? { queue: options.queue } : {}),
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

/** One line per re-index: what changed, the version recorded, how long it took. */
export function watchLine(stats: IngestStats, info: { paths: string[]; ms: number }): string {
  const version = stats.indexVersion !== undefined ? `index version v${stats.indexVersion}` : "no new version (nothing changed)";
  const shown = info.paths.slice(0, 3).join(", ") + (info.paths.length > 3 ? ` … +${info.paths.length - 3}` : "");
  return `reindexed: ${stats.added} added, ${stats.changed} changed, ${stats.removed} removed, ${stats.skipped.length} skipped — ${version}, ${stats.documents} documents, ${stats.chunks} chunks (${Math.round(info.ms)} ms) ${dim(`after changes to ${shown}`)}`;
}

/**
 * `ragtune ingest --watch`: re-run the same reindex on source changes until SIGINT/SIGTERM, which
 * stop after a running re-index commits or rolls back. A failing re-index prints its error and
 * keeps the previous index; a skipped file prints its reason (file and line where known).
 */
async function watchAndReindex(project: Project, opts: IngestFlags): Promise<void> {
  const { config } = project;
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const prune = opts.prune === true || opts.yes === true;
  const loop = new WatchLoop<IngestStats>({
    root: project.root,
    sources: config.sources,
    ignore: projectWriteFolders(config),
    debounceMs,
    reindex: () => runIngest(project, false, { prune }),
    onReindexed: (stats, info) => {
      if (opts.json) printJson({ reindexed: { ...info, ms: Math.round(info.ms) }, stats });
      else {
        console.log(watchLine(stats, info));
        for (const s of stats.skipped) console.log(`  ${yellow("skipped")} ${s.path}: ${s.reason}`);
        for (const r of stats.removedDocuments.slice(0, LISTED)) console.log(`  ${dim("removed")} ${r.path}: ${r.reason}`);
      }
    },
    onError: (err, info) => {
      const message = err instanceof Error ? err.message : String(err);
      if (opts.json) printJson({ failed: message, paths: info.paths });
      else console.log(`${red("re-index failed")} (the previous index is kept; still watching): ${message}`);
    },
  });
  console.error(
    dim(`watching ${loop.folders.length} folder(s) with ${loop.mode}, debounce ${debounceMs} ms; Ctrl-C to stop (a running re-index finishes first)`),
  );
  await new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void loop.stop().then(done);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
