/**
 * Incremental ingest: expand the source globs, load and chunk only files whose bytes, version
 * label or chunking config changed, and hand every change to the store in ONE atomic batch.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { glob } from "tinyglobby";
import type { IngestBatch, Store } from "../store/index.ts";
import { chunkDocument } from "./chunk.ts";
import type { ChunkingOptions, IngestStats, LoaderInput, SkippedFile } from "./index.ts";
import { extensionOf, loaderFor, loaders } from "./loaders/registry.ts";

/**
 * Bump when a loader or the chunker produces different chunks for the same input: it is part of
 * the chunking hash, so existing indexes are re-chunked instead of mixing old and new output.
 */
export const PIPELINE_VERSION = 3;

export interface IngestSource {
  include: string | string[];
  exclude: string[];
  version: string;
}

export interface IngestOptions {
  /** Project folder; globs and stored paths are relative to it. */
  root: string;
  sources: IngestSource[];
  chunking: ChunkingOptions & { maxFileBytes: number };
  store: Store;
  onProgress?: (done: number, total: number, path: string) => void;
}

/** Hash of everything that changes chunk output (maxFileBytes only decides what is skipped). */
export function chunkingHash(opts: ChunkingOptions): string {
  const { maxTokens, overlapTokens, headingDepth, minTokens } = opts;
  const strategy = opts.strategy ?? "headings";
  const key = JSON.stringify({ strategy, maxTokens, overlapTokens, headingDepth, minTokens, pipeline: PIPELINE_VERSION });
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** Decode file bytes as text, or say why they are not text. */
export function decodeText(bytes: Uint8Array): { text: string } | { binary: string } {
  // UTF-16 files (common from Windows tools) are full of NULs but are text: honour their BOM.
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder("utf-16le").decode(bytes) };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const swapped = new Uint8Array(bytes.length - (bytes.length % 2));
    for (let i = 0; i + 1 < bytes.length; i += 2) {
      swapped[i] = bytes[i + 1];
      swapped[i + 1] = bytes[i];
    }
    return { text: new TextDecoder("utf-16le").decode(swapped) };
  }
  if (bytes.subarray(0, 8192).includes(0)) return { binary: "binary file (NUL bytes)" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder("utf-8").decode(bytes);
    const bad = text.match(/\uFFFD/g)?.length ?? 0;
    // Legacy 8-bit text stays well under this share of undecodable bytes; binary data does not.
    if (bad / Math.max(text.length, 1) > 0.3) return { binary: "binary file (mostly invalid UTF-8)" };
    // Invalid bytes but no valid multi-byte character at all: a legacy 8-bit encoding, not damage.
    if (!/[^\x00-\x7f\uFFFD]/.test(text)) text = Buffer.from(bytes).toString("latin1");
  }
  const controls = text.match(/[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]/g)?.length ?? 0;
  if (controls / Math.max(text.length, 1) > 0.1) return { binary: "binary file (control characters)" };
  return { text };
}

const toPosix = (p: string) => p.replace(/\\/g, "/").replace(/^\.\//, "");

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A loader's error as a skip reason that names the file, even when a library's message does not. */
function namingFile(path: string, message: string): string {
  return message.startsWith(path) ? message : `${path}: ${message}`;
}

/** Files matched by the sources (first source wins), plus skip entries for patterns that found nothing. */
async function expandSources(root: string, sources: IngestSource[], skipped: SkippedFile[]): Promise<Map<string, string>> {
  const owner = new Map<string, string>();
  for (const source of sources) {
    const includes = Array.isArray(source.include) ? source.include : [source.include];
    for (const pattern of includes) {
      // Dependency and VCS folders are never documentation, unless a pattern names them.
      const ignore = [...source.exclude, ...["node_modules", ".git"].filter((d) => !pattern.includes(d)).map((d) => `**/${d}/**`)];
      const found = (await glob(pattern, { cwd: root, ignore, onlyFiles: true })).map(toPosix).sort();
      if (found.length === 0) skipped.push({ path: pattern, reason: "pattern matched no files" });
      for (const path of found) if (!owner.has(path)) owner.set(path, source.version);
    }
  }
  return owner;
}

export async function ingestProject(opts: IngestOptions): Promise<IngestStats> {
  const started = performance.now();
  const { store, chunking } = opts;
  const root = resolve(opts.root);
  const skipped: SkippedFile[] = [];
  const files = await expandSources(root, opts.sources, skipped);
  const paths = [...files.keys()].sort();

  const hash = chunkingHash(chunking);
  const rechunkAll = store.getMeta("chunking_hash") !== hash;
  const stored = new Map(store.documents().map((d) => [d.path, d]));
  const keep = new Set<string>();
  const upserts: IngestBatch["upserts"] = [];
  const stats = { added: 0, changed: 0, unchanged: 0 };
  const supported = loaders.flatMap((l) => l.extensions).join(", ");

  let done = 0;
  for (const path of paths) {
    const version = files.get(path)!;
    const reason = await (async (): Promise<string | undefined> => {
      const loader = loaderFor(path);
      if (!loader) return `unsupported file type "${extensionOf(path) || "(no extension)"}" (supported: ${supported})`;
      const abs = join(root, path);
      let bytes: Buffer;
      try {
        const info = await stat(abs);
        if (info.size > chunking.maxFileBytes) return `file is ${info.size} bytes, larger than chunking.maxFileBytes (${chunking.maxFileBytes})`;
        bytes = await readFile(abs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === "EACCES" || code === "EPERM" ? "unreadable: permission denied" : `unreadable: ${errorMessage(err)}`;
      }
      const digest = createHash("sha256").update(bytes).digest("hex");
      const prev = stored.get(path);
      if (prev && !rechunkAll && prev.hash === digest && prev.version === version) {
        stats.unchanged++;
        keep.add(path);
        return undefined;
      }
      let input: LoaderInput;
      if (loader.binary) {
        // PDF, DOCX: the loader parses the bytes itself; text sniffing would call them binary.
        if (bytes.length === 0) return "empty file";
        input = { path, bytes };
      } else {
        const decoded = decodeText(bytes);
        if ("binary" in decoded) return decoded.binary;
        if (!decoded.text.trim()) return "empty file";
        input = { path, bytes, text: decoded.text };
      }
      let chunks;
      let title: string;
      try {
        const doc = await loader.load(input);
        title = doc.title;
        chunks = chunkDocument(doc, { path, version }, chunking);
      } catch (err) {
        return namingFile(path, errorMessage(err));
      }
      if (chunks.length === 0) return "produced no chunks (no text content)";
      upserts.push({
        doc: { path, hash: digest, version, title, bytes: bytes.length, chunks: chunks.length, ingestedAt: new Date().toISOString() },
        chunks,
      });
      keep.add(path);
      if (prev) stats.changed++;
      else stats.added++;
      return undefined;
    })();
    if (reason !== undefined) skipped.push({ path, reason });
    opts.onProgress?.(++done, paths.length, path);
  }

  // Gone from the sources, or now skipped: either way its old chunks no longer describe the file.
  const removals = [...stored.keys()].filter((p) => !keep.has(p));
  if (upserts.length > 0 || removals.length > 0 || rechunkAll) {
    store.applyIngest({ upserts, removals, meta: { chunking_hash: hash } });
  }
  const chunks = store.documents().reduce((n, d) => n + d.chunks, 0);
  return { ...stats, removed: removals.length, skipped, chunks, ms: performance.now() - started };
}
