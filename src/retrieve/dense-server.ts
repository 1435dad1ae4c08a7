/**
 * Dense search answered by the vector store itself (`SearchableVectorStore.search`: the Postgres
 * store's pgvector HNSW index, or exact search over its plain table), so the process holds the
 * chunks but not the vectors. Chosen by `store.vectors.search: server` (docs/store-vectors.md).
 */
import type { Chunk } from "../ingest/index.ts";
import type { SearchableVectorStore } from "../store/vectors.ts";
import { checkQuery } from "./dense.ts";
import type { Hit, SearchOptions, VectorSearcher } from "./index.ts";

export class ServerVectorIndex implements VectorSearcher {
  readonly name: string;
  readonly size: number;
  readonly dims: number;

  /**
   * `byId`: the chunks of the index generation this searcher serves; a hit on a chunk ingested
   * since (not in it) is skipped, the pipeline is rebuilt for the new generation anyway.
   */
  constructor(
    private readonly vectors: SearchableVectorStore,
    private readonly embedderId: string,
    private readonly byId: ReadonlyMap<string, Chunk>,
  ) {
    const mine = vectors.summary().filter((s) => s.embedder === embedderId);
    this.size = mine.reduce((n, s) => n + s.vectors, 0);
    // several sizes only after an embedder changed dims mid-way; the search reports that as an error
    this.dims = mine[0]?.dims ?? 0;
    this.name = `server(${embedderId}, dims=${this.dims})`;
  }

  search(query: Float32Array, options: SearchOptions): Hit[] {
    if (this.size === 0 || options.k <= 0) return [];
    checkQuery(this.name, query, this.dims);
    const hits: Hit[] = [];
    for (const h of this.vectors.search(this.embedderId, query, options.k, options.filter)) {
      const chunk = this.byId.get(h.chunkId);
      if (chunk) hits.push({ chunk, score: h.score, rank: hits.length + 1 });
    }
    return hits;
  }
}
