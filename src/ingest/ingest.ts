/**
 * Incremental ingest: expand the sources (walk.ts), read and parse only files whose bytes,
 * version label or chunking config changed (parsing runs in the bounded worker, sandbox.ts), and
 * hand every change to the store in ONE atomic batch — after checking that the batch loses
 * nothing by mistake (removals.ts). One bad file never fails the run: whatever goes wrong with it
 * (reading, parsing, chunking, writing its rows) skips that file with its path and the reason.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { IngestBatch, Store, StoredDocument } from "../store/index.ts";
import type { Chunk, ChunkingOptions, IngestStats, SkippedFile } from "./index.ts";
import { extensionOf, loaderFor, loaders } from "./loaders/registry.ts";
import type { ParsedChunk, ParseResult } from "./parse.ts";
import { readSelected } from "./read.ts";
import { checkPatterns, planRemovals } from "./removals.ts";
import { parserSandbox, type ParserSandbox } from "./sandbox.ts";
import { expandSources, type FoundFile, type IncludeLocator, type WalkSource } from "./walk.ts";

export { decodeText } from "./parse.ts";

/**
 * Bump when a loader or the chunker produces different chunks for the same input: it is part of
 * the chunking hash, so existing indexes are re-chunked instead of mixing old and new output.
 */
export const PIPELINE_VERSION = 4; // 4: one-line HTML and setext headings head sections; 3: chunk spans (section and lines of every stretch, for citations); headings unwrap nested links ("[![badge](img)](url) X" → "badge X"); titles cut at 1,000 chars

export type IngestSource = WalkSource;

export interface IngestOptions {
  /** Project folder; globs and stored paths are relative to it, and nothing outside it is read. */
  root: string;
  sources: IngestSource[];
  chunking: ChunkingOptions & { maxFileBytes: number };
  store: Store;
  onProgress?: (done: number, total: number, path: string) => void;
  /**
   * Confirm removals the safety checks hold back: documents no longer selected by any source, and
   * a run that would remove more than half of the index (`ragtune ingest --prune`).
   */
  prune?: boolean;
  /** Config location of include j of source i, for error messages ("ragtune.yaml:7: sources[1].include"). */
  locate?: IncludeLocator;
  /** Where files are parsed (default: the process's shared worker). */
  sandbox?: ParserSandbox;
  /** Parse changed files elsewhere instead (`ragtune ingest --queue`); deciding what changed and writing stay here. */
  remoteParser?: RemoteParser;
}

/** Hash of everything that changes chunk output (maxFileBytes only decides what is skipped). */
export function chunkingHash(opts: ChunkingOptions): string {
  const { maxTokens, overlapTokens, headingDepth, minTokens } = opts;
  const strategy = opts.strategy ?? "headings";
  const key = JSON.stringify({ strategy, maxTokens, overlapTokens, headingDepth, minTokens, pipeline: PIPELINE_VERSION });
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

const defaultLocator: IncludeLocator = (i, j) => `sources[${i}].include[${j}]`;

/**
 * Parsed chunks wait in a temporary file until the store's transaction reads them back, one
 * document at a time: memory holds one document's chunks, not the whole corpus's.
 */
class ChunkSpill {
  private dir?: string;
  private fd = -1;
  private size = 0;

  put(meta: Record<string, unknown>, chunks: ParsedChunk[]): { offset: number; length: number } {
    if (this.fd < 0) {
      this.dir = mkdtempSync(join(tmpdir(), "ragtune-ingest-"));
      this.fd = openSync(join(this.dir, "chunks.jsonl"), "w+", 0o600);
    }
    const data = Buffer.from(JSON.stringify({ meta, chunks }));
    writeSync(this.fd, data, 0, data.length, this.size);
    const slot = { offset: this.size, length: data.length };
    this.size += data.length;
    return slot;
  }

  get(slot: { offset: number; length: number }): Chunk[] {
    const data = Buffer.alloc(slot.length);
    readSync(this.fd, data, 0, slot.length, slot.offset);
    const { meta, chunks } = JSON.parse(data.toString("utf8")) as { meta: Record<string, unknown>; chunks: ParsedChunk[] };
    return chunks.map((c) => ({ ...c, meta: { ...meta } }));
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** What pass 1 of an ingest found for one selected file. */
type FileOutcome =
  | { kind: "skip"; reason: string; transient?: boolean }
  | { kind: "unchanged" }
  | { kind: "parsed"; doc: StoredDocument; slot: { offset: number; length: number } }
  /** Listed for the remote parser; replaced by its result before pass 2. */
  | { kind: "deferred" };

/** A changed file as the remote parser gets it: where to read it, and what the coordinator read. */
export interface DeferredFile {
  path: string;
  version: string;
  file: FoundFile;
  /** sha256 of the bytes the coordinator read (a queue job's id is built from it). */
  digest: string;
  size: number;
}

/** A remote parse: the worker's read (digest, size) and the same ParseResult a local parse gives. */
export type RemoteParseResult = (Extract<ParseResult, { ok: true }> & { digest: string; size: number }) | Extract<ParseResult, { ok: false }>;

/**
 * Parses changed files somewhere else (ingest/queue/: bullmq jobs on `ragtune worker` processes).
 * It calls `onResult` once per file, in any order, and resolves when every file has its result;
 * it never writes the store: the ingest applies one batch as a local run does.
 */
export interface RemoteParser {
  parseAll(files: DeferredFile[], chunking: IngestOptions["chunking"], onResult: (path: string, result: RemoteParseResult) => void): Promise<void>;
}

/**
 * A selected file's bytes and their sha256, or why it was not read (`transient`: this run's
 * conditions, e.g. permissions, not the file's content). Local ingest and queue workers both read
 * through this.
 */
export async function readHashed(file: FoundFile, maxBytes: number): Promise<{ bytes: Uint8Array; digest: string } | { reason: string; transient: boolean }> {
  const read = await readSelected(file, maxBytes);
  if ("reason" in read) return { reason: read.reason, transient: read.reason.startsWith("unreadable:") };
  return { bytes: read.bytes, digest: createHash("sha256").update(read.bytes).digest("hex") };
}

export async function ingestProject(opts: IngestOptions): Promise<IngestStats> {
  const started = performance.now();
  const { store, chunking } = opts;
  const root = resolve(opts.root);
  const locate = opts.locate ?? defaultLocator;
  const expansion = await expandSources(root, opts.sources, locate);
  // A pattern that selects nothing is a config mistake: stop before anything changes.
  checkPatterns(expansion, locate);
  const { files } = expansion;
  const skipped: SkippedFile[] = [...expansion.skipped];
  const paths = [...files.keys()].sort();

  const hash = chunkingHash(chunking);
  const rechunkAll = store.getMeta("chunking_hash") !== hash;
  const stored = new Map(store.documents().map((d) => [d.path, d]));
  const keep = new Set<string>();
  const upserts: IngestBatch["upserts"] = [];
  const stats = { added: 0, changed: 0, unchanged: 0 };
  const supported = loaders.flatMap((l) => l.extensions).join(", ");
  const sandbox = opts.sandbox ?? parserSandbox();
  const spill = new ChunkSpill();
  const parsedOutcome = (path: string, version: string, digest: string, size: number, parsed: ParseResult): FileOutcome => {
    if (!parsed.ok) return { kind: "skip", reason: parsed.reason, transient: parsed.transient === true };
    const slot = spill.put(parsed.meta, parsed.chunks);
    const doc: StoredDocument = { path, hash: digest, version, title: parsed.title, bytes: size, chunks: parsed.chunks.length, ingestedAt: new Date().toISOString() };
    return { kind: "parsed", doc, slot };
  };

  try {
    // Pass 1, in path order: what each file needs. Changed files are parsed here (local) or
    // listed for the remote parser (the queue), which reads and parses them on its workers.
    const outcomes = new Map<string, FileOutcome>();
    const deferred: DeferredFile[] = [];
    let done = 0;
    for (const path of paths) {
      const file = files.get(path)!;
      const { version } = file;
      const outcome = await (async (): Promise<FileOutcome> => {
        if (!loaderFor(path)) return { kind: "skip", reason: `unsupported file type "${extensionOf(path) || "(no extension)"}" (supported: ${supported})` };
        const read = await readHashed(file, chunking.maxFileBytes);
        if ("reason" in read) return { kind: "skip", reason: read.reason, transient: read.transient };
        const { bytes, digest } = read;
        const prev = stored.get(path);
        if (prev && !rechunkAll && prev.hash === digest && prev.version === version) return { kind: "unchanged" };
        // Taken before parsing: the bytes are transferred to the parser thread (detached here).
        const size = bytes.length;
        if (opts.remoteParser) {
          deferred.push({ path, version, file, digest, size });
          return { kind: "deferred" };
        }
        return parsedOutcome(path, version, digest, size, await sandbox.parse({ path, version, bytes, chunking }));
      })();
      outcomes.set(path, outcome);
      opts.onProgress?.(++done, paths.length, path);
    }
    // The worker's own read is what gets indexed: its digest and size describe the chunks it made.
    if (deferred.length > 0) {
      await opts.remoteParser!.parseAll(deferred, chunking, (path, r) => {
        const file = files.get(path);
        if (!file || outcomes.get(path)?.kind !== "deferred") throw new Error(`remote parser: unexpected result for ${path}`);
        outcomes.set(path, r.ok ? parsedOutcome(path, file.version, r.digest, r.size, r) : parsedOutcome(path, file.version, "", 0, r));
      });
    }

    // Pass 2, in path order: the batch and the report, the same whoever parsed.
    for (const path of paths) {
      const outcome = outcomes.get(path)!;
      const prev = stored.get(path);
      if (outcome.kind === "deferred") throw new Error(`remote parser: no result for ${path}`);
      if (outcome.kind === "skip") {
        skipped.push({ path, reason: outcome.reason, ...(outcome.transient ? { transient: true } : {}) });
        continue;
      }
      keep.add(path);
      if (outcome.kind === "unchanged") {
        stats.unchanged++;
        continue;
      }
      const { slot } = outcome;
      upserts.push({
        doc: outcome.doc,
        get chunks() {
          return spill.get(slot);
        },
      });
      if (prev) stats.changed++;
      else stats.added++;
    }

    // What leaves the index, and whether that may happen without --prune (throws IngestRefused).
    const plan = planRemovals({ stored, keep, expansion, skipped, prune: opts.prune === true });
    const writeFailed: SkippedFile[] = [];
    if (upserts.length > 0 || plan.removals.length > 0 || rechunkAll) {
      store.applyIngest({
        upserts,
        removals: plan.removals.map((r) => r.path),
        meta: { chunking_hash: hash },
        // One document's rows that cannot be written roll back alone; the rest commits.
        onDocumentError: (path, err) => writeFailed.push({ path, reason: err.message.split("\n")[0] }),
      });
    }
    for (const failure of writeFailed) {
      const prev = stored.get(failure.path);
      if (prev) stats.changed--;
      else stats.added--;
      skipped.push({
        path: failure.path,
        reason: `${failure.path}: its chunks could not be written to the index (${failure.reason})${prev ? "; the previous version stays indexed" : ""}`,
      });
    }
    const documents = store.documents();
    return {
      ...stats,
      removed: plan.removals.length,
      removedDocuments: plan.removals,
      kept: plan.kept,
      skipped,
      documents: documents.length,
      chunks: documents.reduce((n, d) => n + d.chunks, 0),
      ms: performance.now() - started,
    };
  } finally {
    spill.close();
  }
}
