/**
 * A stand-in for the Postgres store's `chunks` table (same columns as the SQLite store's, JSON as
 * TEXT), so the vector store can be tested and benchmarked on PGlite without the Store adapter;
 * plus seeded random unit vectors and the exact cosine top-k they are checked against.
 */
import { mulberry32 } from "./rng.ts";
import { embeddingInput, embeddingInputHash } from "../../src/store/vectors.ts";
import type { SqlExecutor } from "../../src/store/postgres/vectors.ts";
import type { Chunk } from "../../src/core/chunk.ts";

export const CHUNKS_TABLE = [
  `CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, ordinal INTEGER NOT NULL, title TEXT NOT NULL,
    heading_path TEXT NOT NULL, text TEXT NOT NULL, version TEXT NOT NULL DEFAULT '', meta TEXT NOT NULL DEFAULT '{}',
    UNIQUE (path, ordinal))`,
];

/** The chunk fields the vector store reads (version and meta optional here). */
export type TestChunkRow = Pick<Chunk, "id" | "path" | "ordinal" | "title" | "headingPath" | "text"> & Partial<Pick<Chunk, "version" | "meta">>;

export async function createChunksTable(db: SqlExecutor): Promise<void> {
  for (const s of CHUNKS_TABLE) await db.query(s);
}

export async function insertChunks(db: SqlExecutor, rows: TestChunkRow[]): Promise<void> {
  for (let at = 0; at < rows.length; at += 1000) {
    const b = rows.slice(at, at + 1000);
    await db.query(
      `INSERT INTO chunks (id, path, ordinal, title, heading_path, text, version, meta)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])`,
      [
        b.map((r) => r.id),
        b.map((r) => r.path),
        b.map((r) => r.ordinal),
        b.map((r) => r.title),
        b.map((r) => JSON.stringify(r.headingPath)),
        b.map((r) => r.text),
        b.map((r) => r.version ?? ""),
        b.map((r) => JSON.stringify(r.meta ?? {})),
      ],
    );
  }
}

/** `n` chunks `doc-<i % docs>.md#<ordinal>` with distinct texts. */
export function syntheticChunks(n: number, docs = 100): TestChunkRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${i % docs}.md#${Math.floor(i / docs)}`,
    path: `doc-${i % docs}.md`,
    ordinal: Math.floor(i / docs),
    title: `Doc ${i % docs}`,
    headingPath: [`Section ${i}`],
    text: `chunk text number ${i}`,
    version: i % 2 ? "v2" : "v1",
  }));
}

export function textHashOf(r: TestChunkRow): string {
  return embeddingInputHash(embeddingInput({ title: r.title, headingPath: r.headingPath, text: r.text }));
}

/** Seeded unit vectors (Gaussian-ish via the sum of uniforms, then L2-normalised). */
export function randomUnitVectors(n: number, dims: number, seed: number): Float32Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dims);
    let norm = 0;
    for (let i = 0; i < dims; i++) {
      v[i] = rand() + rand() + rand() - 1.5;
      norm += v[i] * v[i];
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dims; i++) v[i] /= norm;
    return v;
  });
}

/**
 * Unit vectors from a mixture of 200 Gaussians (centre + noise·N(0,1), noise 0.6 being the shape bench/dense.ts calls
 * "clustered": closer to real embeddings than isotropic noise). Draw data and queries in one call so
 * they share the centres.
 */
export function clusteredUnitVectors(n: number, dims: number, seed: number, noise = 0.6, clusters = 200): Float32Array[] {
  const rand = mulberry32(seed);
  const g = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dims }, g));
  return Array.from({ length: n }, (_, i) => {
    const c = centres[((i * 2654435761) >>> 0) % clusters];
    const v = new Float32Array(dims);
    let norm = 0;
    for (let j = 0; j < dims; j++) {
      v[j] = c[j] + noise * g();
      norm += v[j] * v[j];
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dims; j++) v[j] /= norm;
    return v;
  });
}

/** Exact top-k ids by dot product (ties: lower index first). */
export function exactTopIds(ids: readonly string[], vectors: readonly Float32Array[], q: Float32Array, k: number, keep?: (i: number) => boolean): string[] {
  const scored: { i: number; s: number }[] = [];
  for (let i = 0; i < vectors.length; i++) {
    if (keep && !keep(i)) continue;
    let s = 0;
    for (let j = 0; j < q.length; j++) s += vectors[i][j] * q[j];
    scored.push({ i, s });
  }
  scored.sort((a, b) => b.s - a.s || a.i - b.i);
  return scored.slice(0, k).map((x) => ids[x.i]);
}
