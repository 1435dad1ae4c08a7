/**
 * The retrieval pipeline: one configured path from a query to k ranked chunks, in this order:
 *
 *   1. candidates   lexical (BM25, + RM3 feedback when `prf.enabled`), dense, or hybrid: both
 *                   retrievers fetch `fusion.candidates` hits and are fused (RRF or weighted)
 *   2. rerank       the top `rerankCandidates` are reordered by the reranker (if any); the rest
 *                   keep their order below them
 *   3. versions     copies of one section in several version labels keep only the preferred one:
 *                   the newest by the project's version order, or the versions the question
 *                   names (`preferNewestVersions`; off with `collapseVersions: false`)
 *   4. small-to-big each hit is replaced by its parent section (`smallToBig`, needs `chunksOfPath`)
 *   5. top k        ranked 1..k
 *
 * Each stage after the first can drop or merge hits, so the candidate stage fetches enough for
 * the later stages to still fill k (see `candidateDepth`).
 */
import type { RagtuneConfig } from "../config/schema.ts";
import type { Chunk } from "../ingest/index.ts";
import type { ChunkFilter } from "../store/index.ts";
import { InputError } from "../util/errors.ts";
import { reciprocalRankFusion, weightedScoreFusion } from "./fusion.ts";
import type { Hit, Reranker } from "./index.ts";
import { expandToParents as defaultExpandToParents } from "./small-to-big.ts";
import { preferNewestVersions, specificHeadings, type HeadingSpecificity } from "./versions.ts";
import { NATURAL_VERSION_ORDER, type VersionOrder } from "../core/versions.ts";
import { createReranker } from "./rerank/index.ts";
import type { RerankTokenSource } from "./rerank-tokens.ts";

/** Pseudo-relevance feedback settings passed to the lexical retriever. */
export interface PrfOptions {
  docs: number;
  terms: number;
  weight: number;
}

/** What the pipeline needs of the BM25 index (`Bm25Index` satisfies it). */
export interface LexicalSearcher {
  readonly name: string;
  search(query: string, options: { k: number; filter?: ChunkFilter; prf?: PrfOptions }): Hit[];
}

/** What the pipeline needs of a dense retriever (embed the query, nearest neighbours). */
export interface DenseSearcher {
  /** e.g. "hashing:384" or "onnx:models/bge-small"; used in the pipeline name. */
  readonly name?: string;
  search(query: string, options: { k: number; filter?: ChunkFilter }): Promise<Hit[]>;
}

/** Small-to-big expansion: replace hits by their parent sections. */
export type ExpandToParents = (hits: Hit[], chunksOfPath: (path: string) => Chunk[]) => Hit[];

export interface RetrievalPipelineDeps {
  lexical: LexicalSearcher;
  /** Required when `config.mode` is dense or hybrid. */
  dense?: DenseSearcher;
  reranker?: Reranker;
  /** All chunks of a document in ordinal order; enables small-to-big when `config.smallToBig`. */
  chunksOfPath?: (path: string) => Chunk[];
  /** The small-to-big implementation; default: `expandToParents` from ./small-to-big.ts. */
  expandToParents?: ExpandToParents;
  config: RagtuneConfig["retrieval"];
  /** Embedder id for the error message when a dense retriever is missing (`models.embedder`). */
  embedder?: string;
  /** The project's version order (default: natural order of the labels). */
  versions?: VersionOrder;
  /** Section headings that identify a section across versions (`specificHeadings` of the corpus). */
  specificHeadings?: HeadingSpecificity;
}

export interface RetrieveOptions {
  k: number;
  filter?: ChunkFilter;
  /**
   * Version labels the question names ("in v7 …"): their chunks join the candidates (a second,
   * filtered search) and their copy of a section is preferred over the newest. A preference, not
   * a filter: other versions still answer what the named one does not cover.
   */
  preferVersions?: readonly string[];
  /** Called when the reranker ran, with its input and output (serve's traces show them). */
  onRerank?: (stage: RerankStage) => void;
}

/** What the reranker received and returned in one retrieval (times: epoch ms). */
export interface RerankStage {
  reranker: string;
  input: Hit[];
  output: Hit[];
  start: number;
  end: number;
}

export interface RetrievalPipeline {
  /** The configuration in words, e.g. "hybrid(rrf 60: bm25(…) + hashing:384) → rerank(offline) → collapse-versions". */
  readonly name: string;
  retrieve(query: string, options: RetrieveOptions): Promise<Hit[]>;
}

/** The filter implied by `retrieval.versions/paths/tags`, or undefined when none is set. */
export function configFilter(config: Pick<RagtuneConfig["retrieval"], "versions" | "paths" | "tags">): ChunkFilter | undefined {
  const filter: ChunkFilter = {};
  if (config.versions) filter.versions = config.versions;
  if (config.paths?.length) filter.paths = config.paths;
  if (config.tags?.length) filter.tags = config.tags;
  return Object.keys(filter).length > 0 ? filter : undefined;
}

/**
 * Hits the first stage must produce for `k` final hits: collapsing versions and merging chunks
 * into parent sections can each remove hits (3× headroom, as in retrieveForAnswer), and the
 * reranker sees `rerankCandidates`.
 */
export function candidateDepth(k: number, config: RagtuneConfig["retrieval"], reranking: boolean, expanding: boolean): number {
  let depth = k;
  if (config.collapseVersions || expanding) depth = k * 3;
  if (reranking) depth = Math.max(depth, config.rerankCandidates);
  return depth;
}

export function createRetrievalPipeline(deps: RetrievalPipelineDeps): RetrievalPipeline {
  const { lexical, dense, reranker, config } = deps;
  const mode = config.mode;
  if ((mode === "dense" || mode === "hybrid") && !dense) {
    const embedder = deps.embedder ?? "none";
    throw new InputError(
      embedder === "none"
        ? `retrieval.mode is '${mode}' but models.embedder is 'none': set models.embedder (e.g. 'hashing' or 'onnx:<folder>') or use retrieval.mode 'lexical'`
        : `retrieval.mode is '${mode}' but no dense retriever is available for models.embedder '${embedder}'`,
    );
  }
  const prf: PrfOptions | undefined = config.prf.enabled ? { docs: config.prf.docs, terms: config.prf.terms, weight: config.prf.weight } : undefined;
  const expanding = config.smallToBig && deps.chunksOfPath !== undefined;
  const expand: ExpandToParents = deps.expandToParents ?? defaultExpandToParents;
  const fusion = config.fusion;

  const lexicalName = prf ? `${lexical.name}+prf(${prf.docs} docs, ${prf.terms} terms, w=${prf.weight})` : lexical.name;
  const denseName = dense?.name ?? "dense";
  const stages: string[] = [];
  if (mode === "lexical") stages.push(lexicalName);
  else if (mode === "dense") stages.push(denseName);
  else {
    const how = fusion.method === "rrf" ? `rrf ${fusion.rrfK}` : `weighted ${fusion.lexicalWeight}/${+(1 - fusion.lexicalWeight).toFixed(6)}`;
    stages.push(`hybrid(${how}: ${lexicalName} + ${denseName})`);
  }
  if (reranker) stages.push(`rerank(${reranker.id}, top ${config.rerankCandidates})`);
  if (config.collapseVersions) stages.push("prefer-newest-version");
  if (expanding) stages.push("small-to-big");
  const name = stages.join(" → ");

  // Lexical candidates are returned synchronously (BM25 does no I/O), saving a promise and a
  // microtask per query; dense and hybrid candidates are awaited.
  function candidates(query: string, depth: number, filter: ChunkFilter | undefined): Hit[] | Promise<Hit[]> {
    if (mode === "lexical") return lexical.search(query, { k: depth, filter, prf });
    if (mode === "dense") return dense!.search(query, { k: depth, filter });
    return fusedCandidates(query, depth, filter);
  }

  async function fusedCandidates(query: string, depth: number, filter: ChunkFilter | undefined): Promise<Hit[]> {
    const n = Math.max(depth, fusion.candidates);
    const [lex, den] = await Promise.all([Promise.resolve(lexical.search(query, { k: n, filter, prf })), dense!.search(query, { k: n, filter })]);
    const fused =
      fusion.method === "rrf"
        ? reciprocalRankFusion([lex, den], { k: fusion.rrfK })
        : weightedScoreFusion([lex, den], [fusion.lexicalWeight, 1 - fusion.lexicalWeight]);
    return fused.slice(0, depth);
  }

  const versions = deps.versions ?? NATURAL_VERSION_ORDER;
  // The config is fixed for the pipeline's life (mode, prf and fusion are read once above too).
  const defaultFilter = configFilter(config);
  /** The candidates of the named versions merged into the unfiltered ones, best score first. */
  async function withNamedVersions(query: string, depth: number, filter: ChunkFilter | undefined, named: readonly string[], hits: Hit[]): Promise<Hit[]> {
    const allowed = filter?.versions ? named.filter((v) => filter.versions!.includes(v)) : [...named];
    if (allowed.length === 0) return hits;
    const extra = await candidates(query, depth, { ...filter, versions: allowed });
    const seen = new Set(hits.map((h) => h.chunk.id));
    const merged = [...hits, ...extra.filter((h) => !seen.has(h.chunk.id))];
    // Scores come from the same retriever over the same index, so they order the union.
    return merged.sort((a, b) => b.score - a.score);
  }

  return {
    name,
    async retrieve(query, options) {
      const k = Math.floor(options.k);
      if (!(k > 0)) return [];
      const filter = options.filter ?? defaultFilter;
      const depth = candidateDepth(k, config, reranker !== undefined, expanding);
      const first = candidates(query, depth, filter);
      let hits = first instanceof Promise ? await first : first;
      const named = config.collapseVersions ? (options.preferVersions ?? []) : [];
      if (named.length > 0) hits = await withNamedVersions(query, depth, filter, named, hits);
      if (reranker && hits.length > 0) {
        const head = hits.slice(0, config.rerankCandidates);
        const start = options.onRerank ? performance.timeOrigin + performance.now() : 0;
        const reranked = reranker.rerankSync ? reranker.rerankSync(query, head, head.length) : await reranker.rerank(query, head, head.length);
        options.onRerank?.({ reranker: reranker.id, input: head, output: reranked, start, end: performance.timeOrigin + performance.now() });
        hits = reranked.concat(hits.length > head.length ? hits.slice(head.length) : []);
      }
      // Only the head can reach the top k: 3k candidates leave ≥ 1.5k distinct ones even when every
      // hit has a twin in another version (the pairwise check is quadratic, so the tail is not scanned).
      if (config.collapseVersions) {
        // The preferred copy of a top hit may rank anywhere among the candidates: all are searched.
        hits = preferNewestVersions(hits, expanding ? hits.length : k * 3, { order: versions, named, specific: deps.specificHeadings });
      }
      // Ranks 1..n in the current order: small-to-big orders hits by rank.
      if (expanding) hits = expand(hits.map((h, i) => ({ ...h, rank: i + 1 })), deps.chunksOfPath!);
      // Hits already ranked at their final place are returned as they are (the reranked head and
      // an untouched tail are), so the common path builds no second set of hit objects.
      const n = Math.min(k, hits.length);
      const out = new Array<Hit>(n);
      for (let i = 0; i < n; i++) {
        const h = hits[i];
        out[i] = h.rank === i + 1 ? h : { chunk: h.chunk, score: h.score, rank: i + 1 };
      }
      return out;
    },
  };
}

/**
 * The answering pipeline as the config declares it over a lexical index and an optional dense
 * retriever: the configured reranker (the offline one with the index's idf), small-to-big parents
 * looked up by path among `chunks`. One assembly for projects and the benchmark, so the benchmark
 * measures exactly what `ragtune ask` runs.
 */
export function assembleRetrievalPipeline(parts: {
  lexical: LexicalSearcher & { idf(term: string): number; rerankTokens?(): RerankTokenSource<Chunk> | undefined };
  dense?: DenseSearcher;
  chunks: readonly Chunk[];
  retrieval: RagtuneConfig["retrieval"];
  models: Pick<RagtuneConfig["models"], "providers" | "embedder">;
  /** Folder local reranker models resolve against. */
  root?: string;
  versions?: VersionOrder;
}): RetrievalPipeline {
  const byPath = new Map<string, Chunk[]>();
  for (const c of parts.chunks) {
    const list = byPath.get(c.path);
    if (list) list.push(c);
    else byPath.set(c.path, [c]);
  }
  const { lexical } = parts;
  return createRetrievalPipeline({
    lexical,
    dense: parts.dense,
    reranker: createReranker(parts.retrieval.rerank, parts.models, process.env, { root: parts.root, idf: (t) => lexical.idf(t), tokens: lexical.rerankTokens?.() }),
    chunksOfPath: (path) => byPath.get(path) ?? [],
    config: parts.retrieval,
    embedder: parts.models.embedder,
    versions: parts.versions,
    specificHeadings: parts.retrieval.collapseVersions ? specificHeadings(parts.chunks) : undefined,
  });
}
