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
import type { ParsedChunk } from "./parse.ts";
import { readSelected } from "./read.ts";
import { checkPatterns, planRemovals } from "./removals.ts";
import { parserSandbox, type ParserSandbox } from "./sandbox.ts";
import { expandSources, type IncludeLocator, type WalkSource } from "./walk.ts";

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

  try {
    let done = 0;
    for (const path of paths) {
      const file = files.get(path)!;
      const { version } = file;
      let transient = false;
      const reason = await (async (): Promise<string | undefined> => {
        if (!loaderFor(path)) return `unsupported file type "${extensionOf(path) || "(no extension)"}" (supported: ${supported})`;
        const read = await readSelected(file, chunking.maxFileBytes);
        if ("reason" in read) {
          transient = read.reason.startsWith("unreadable:");
          return read.reason;
        }
        const { bytes } = read;
        const digest = createHash("sha256").update(bytes).digest("hex");
        const prev = stored.get(path);
        if (prev && !rechunkAll && prev.hash === digest && prev.version === version) {
          stats.unchanged++;
          keep.add(path);
          return undefined;
        }
        const size = bytes.length;
        const parsed = await sandbox.parse({ path, version, bytes, chunking });
        if (!parsed.ok) {
          transient = parsed.transient === true;
          return parsed.reason;
        }
        const slot = spill.put(parsed.meta, parsed.chunks);
        const doc: StoredDocument = { path, hash: digest, version, title: parsed.title, bytes: size, chunks: parsed.chunks.length, ingestedAt: new Date().toISOString() };
        upserts.push({
          doc,
          get chunks() {
            return spill.get(slot);
          },
        });
        keep.add(path);
        if (prev) stats.changed++;
        else stats.added++;
        return undefined;
      })();
      if (reason !== undefined) skipped.push({ path, reason, ...(transient ? { transient } : {}) });
      opts.onProgress?.(++done, paths.length, path);
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
