/**
 * The one implementation of `ChunkFilter` semantics, shared by the store, BM25, dense search and
 * the evaluator, so a filter means the same thing everywhere.
 */
import picomatch from "picomatch";
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter } from "./index.ts";

export function isEmptyFilter(filter: ChunkFilter | undefined): boolean {
  return !filter || (filter.versions === undefined && !filter.pathPrefix && !filter.paths?.length && !filter.tags?.length);
}

/** Compile a filter into a predicate (globs compiled once). `versions: []` matches nothing. */
export function chunkFilterPredicate(filter: ChunkFilter | undefined): (chunk: Chunk) => boolean {
  if (isEmptyFilter(filter)) return () => true;
  const f = filter!;
  const versions = f.versions ? new Set(f.versions) : undefined;
  const glob = f.paths?.length ? picomatch(f.paths, { dot: true }) : undefined;
  const tags = f.tags?.length ? new Set(f.tags.map((t) => t.toLowerCase())) : undefined;
  return (chunk) => {
    if (versions && !versions.has(chunk.version)) return false;
    if (f.pathPrefix && !chunk.path.startsWith(f.pathPrefix)) return false;
    if (glob && !glob(chunk.path)) return false;
    if (tags) {
      const own = chunk.meta?.tags;
      const list = Array.isArray(own) ? own : typeof own === "string" ? own.split(",") : [];
      if (!list.some((t) => tags.has(String(t).trim().toLowerCase()))) return false;
    }
    return true;
  };
}
