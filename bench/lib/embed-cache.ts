/**
 * Sentence embeddings for benchmarks, cached on disk outside the repo (the OS temp folder), so a
 * benchmark rerun does not pay use-lite's ~20 ms a text again. The cache key is the embedder id
 * plus a hash of the texts in order; the file is Float32 little-endian, texts × dims.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Embedder } from "../../src/models/index.ts";

const DIR = join(tmpdir(), "ragtune-bench-embeddings");

export interface CachedEmbeddings {
  vectors: Float32Array[];
  /** Wall and CPU milliseconds spent embedding (0 when read from the cache). */
  wallMs: number;
  cpuMs: number;
  fromCache: boolean;
}

export async function embedCached(embedder: Embedder, texts: string[], label = ""): Promise<CachedEmbeddings> {
  const h = createHash("sha256").update(embedder.id + "\n");
  for (const t of texts) h.update(t + "\u0000");
  const file = join(DIR, `${embedder.id.replace(/[^\w.-]+/g, "_")}-${h.digest("hex").slice(0, 16)}.f32`);
  if (existsSync(file)) {
    const buf = readFileSync(file);
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const dims = all.length / texts.length;
    if (Number.isInteger(dims) && dims > 0) return { vectors: texts.map((_, i) => all.subarray(i * dims, (i + 1) * dims)), wallMs: 0, cpuMs: 0, fromCache: true };
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const vectors: Float32Array[] = [];
  const step = 512;
  for (let i = 0; i < texts.length; i += step) {
    vectors.push(...(await embedder.embed(texts.slice(i, i + step), "document")));
    if (label && texts.length > step) process.stderr.write(`\r  embedding ${label}: ${Math.min(texts.length, i + step)}/${texts.length}`);
  }
  if (label && texts.length > step) process.stderr.write("\n");
  const cpu = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  mkdirSync(DIR, { recursive: true });
  const dims = vectors[0]?.length ?? 0;
  const all = new Float32Array(texts.length * dims);
  vectors.forEach((v, i) => all.set(v, i * dims));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, Buffer.from(all.buffer));
  renameSync(tmp, file);
  return { vectors, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, fromCache: false };
}
