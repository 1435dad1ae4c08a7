/**
 * retrieve/ — find the chunks that answer a query.
 *
 * Contract: a `Retriever` returns ranked `Hit`s. The lexical BM25 retriever is built in memory
 * from the store's chunks (fast for project-sized corpora) and rebuilt when the store's
 * generation changes.
 */
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter } from "../store/index.ts";

export interface Hit {
  chunk: Chunk;
  /** Retriever score; higher is better. Not comparable across retrievers. */
  score: number;
  /** 1-based rank. */
  rank: number;
}

/** A hit as `search --json` and `POST /v1/search` show it. */
export function hitJson(h: Hit) {
  return {
    rank: h.rank,
    score: h.score,
    id: h.chunk.id,
    path: h.chunk.path,
    headingPath: h.chunk.headingPath,
    lines: [h.chunk.lineStart, h.chunk.lineEnd] as [number, number],
    version: h.chunk.version,
    text: h.chunk.text,
  };
}

export interface SearchOptions {
  /** Number of hits to return. */
  k: number;
  filter?: ChunkFilter;
}

export interface Retriever {
  /** e.g. "bm25(k1=1.2,b=0.75)". */
  readonly name: string;
  search(query: string, options: SearchOptions): Hit[];
}

export interface Bm25Options {
  /** Term-frequency saturation. */
  k1: number;
  /** Length normalisation (0 = none, 1 = full). */
  b: number;
  /** Extra weight for terms found in the title and heading path (BM25F-style field boost). */
  headingBoost: number;
}

/** Reorders retrieved hits using the query (cross-encoder, API, or offline features). */
export interface Reranker {
  /** e.g. "offline", "onnx:models/ms-marco-MiniLM", "cohere:rerank-v3.5". */
  readonly id: string;
  /** Return the best `k` of `hits`, re-ranked 1..k, with the reranker's score. */
  rerank(query: string, hits: Hit[], k: number): Promise<Hit[]>;
  /** The same as `rerank`, synchronously, for a reranker that does no I/O (the pipeline then skips an await). */
  rerankSync?(query: string, hits: Hit[], k: number): Hit[];
}

/** Nearest-neighbour search over chunk vectors (exact or ANN). */
export interface VectorSearcher {
  readonly name: string;
  /** Number of vectors indexed. */
  readonly size: number;
  search(query: Float32Array, options: SearchOptions): Hit[];
}

export { Bm25Index } from "./bm25.ts";
export { tokenize, contentTokens } from "./tokenize.ts";
