/** Documents and chunks for the shared store tests (store-contract.test.ts) and the replica writer. */
import type { Chunk } from "../../src/ingest/index.ts";
import type { StoredDocument } from "../../src/store/index.ts";

export function doc(path: string, chunks: number, version = "v1", hash = "h-" + path): StoredDocument {
  return { path, hash, version, title: `T ${path}`, bytes: 100, chunks, ingestedAt: "2026-01-01T00:00:00.000Z" };
}

export function chunk(path: string, ordinal: number, version = "v1", extra: Partial<Chunk> = {}): Chunk {
  return {
    id: `${path}#${ordinal}`,
    path,
    ordinal,
    title: `T ${path}`,
    headingPath: ["Top", `S${ordinal}`],
    text: `text of ${path} chunk ${ordinal} release ${version}`,
    lineStart: ordinal * 10 + 1,
    lineEnd: ordinal * 10 + 9,
    version,
    tokens: 7,
    meta: { tags: ["a"], n: ordinal },
    ...extra,
  };
}

export function upsert(path: string, n: number, version = "v1", hash?: string) {
  return { doc: doc(path, n, version, hash ?? `h-${path}-${version}`), chunks: Array.from({ length: n }, (_, i) => chunk(path, i, version)) };
}

/** A whole index state: `docs` documents of `per` chunks, every one labelled `label`. */
export function indexState(label: string, docs = 8, per = 3) {
  return Array.from({ length: docs }, (_, d) => upsert(`docs/d${d}.md`, per, label));
}
