/**
 * What travels through the ingest queue (`ragtune ingest --queue`, served by `ragtune worker`):
 *
 * - a **parse** job: a batch of changed files (stored path, where to open it, the folders it may
 *   be read from, the sha256 the coordinator read); the worker reads each file itself from the
 *   shared project folder, parses and chunks it with the project's own code and returns the chunks;
 * - an **embed** job: a batch of pending chunk texts for the configured embedder; returns vectors.
 *
 * Job ids are content hashes (files + digests + chunking, or embedder + text hashes), so adding a
 * job again (a rerun) is a no-op that finds the earlier job and its result, and a result is
 * always the one its id describes.
 */
import { createHash } from "node:crypto";
import type { ChunkingOptions } from "../index.ts";
import type { DeferredFile, RemoteParseResult } from "../ingest.ts";

/** Its own queue, not the eval one: an ingest does not wait behind thousands of eval cases, and parse jobs get their own concurrency. */
export const DEFAULT_INGEST_QUEUE_NAME = "ragtune-ingest";

export interface ParseJobFile {
  path: string;
  version: string;
  /** FoundFile.open as base64 (file names are bytes, not always UTF-8). */
  open: string;
  allowed: string[];
  digest: string;
}

export interface ParseJobData {
  root: string;
  chunking: ChunkingOptions & { maxFileBytes: number };
  files: ParseJobFile[];
}

export interface ParseJobResult {
  results: { path: string; result: RemoteParseResult }[];
}

export interface EmbedJobData {
  /** The project's config: the worker builds the embedder from it (keys from its own environment). */
  configPath: string;
  root: string;
  embedder: string;
  texts: string[];
  textHashes: string[];
}

export interface EmbedJobResult {
  /** Little-endian float32 vectors, base64. */
  vectors: string[];
  /** Texts whose vector came from the Redis embedding cache (not paid again). */
  cached: number;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Files per parse job and bytes per parse job: small enough to spread, big enough that bullmq's round trips do not dominate. */
export const PARSE_BATCH = { files: 16, bytes: 2_000_000 };

/** Changed files (path order) → job batches; deterministic, so a rerun with the same changes builds the same jobs. */
export function parseBatches(files: readonly DeferredFile[], limits = PARSE_BATCH): DeferredFile[][] {
  const batches: DeferredFile[][] = [];
  let batch: DeferredFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (batch.length > 0 && (batch.length >= limits.files || bytes + f.size > limits.bytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(f);
    bytes += f.size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export function parseJobData(root: string, chunking: ParseJobData["chunking"], batch: readonly DeferredFile[]): ParseJobData {
  return {
    root,
    chunking,
    files: batch.map((f) => ({ path: f.path, version: f.version, open: f.file.open.toString("base64"), allowed: f.file.allowed, digest: f.digest })),
  };
}

/** `parse-<sha256>` of everything the result depends on (bullmq refuses ':' in ids). */
export function parseJobId(data: ParseJobData): string {
  const key = JSON.stringify({ root: data.root, chunking: data.chunking, files: data.files.map((f) => [f.path, f.version, f.digest, f.open, f.allowed]) });
  return `parse-${sha(key)}`;
}

export function embedJobId(embedder: string, textHashes: readonly string[]): string {
  return `embed-${sha(JSON.stringify([embedder, textHashes]))}`;
}

export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
}

export function decodeVector(s: string): Float32Array {
  const b = Buffer.from(s, "base64");
  // Copy into an aligned buffer of its own.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
