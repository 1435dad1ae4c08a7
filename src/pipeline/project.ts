/**
 * An opened project: config + store + lazily built retrieval pipeline and generator. CLI commands,
 * the evaluator and (later) the server all start from here so they answer the same way.
 */
import { dirname, join, resolve } from "node:path";
import { loadConfig, type LoadedConfig, type RagtuneConfig } from "../config/index.ts";
import { openStore, type Store } from "../store/index.ts";
import { openVectorStoreFor, serverSearchOf } from "../store/vectors-open.ts";
import { ServerVectorIndex } from "../retrieve/dense-server.ts";
import { openStoreFromConfig } from "../store/open.ts";
import { openIndexVersions } from "../store/open-versions.ts";
import type { IndexVersions } from "../store/versions.ts";
import { Bm25Index } from "../retrieve/index.ts";
import { assembleRetrievalPipeline, type RetrievalPipeline } from "../retrieve/pipeline.ts";
import { DenseRetriever, chunksForIds, embedPending } from "../retrieve/dense.ts";
import { chooseVectorIndex, HnswVectorIndex } from "../retrieve/ann.ts";
import { createGenerator, type ChatProvider, type Generator, type Embedder } from "../models/index.ts";
import { createChatProvider } from "../models/registry.ts";
import { ResponseCache, type ResponseCacheBackend } from "../models/cache.ts";
import { TRAINING_TASKS } from "../finetune/registry.ts";
import { openModelRegistry } from "../finetune/open-registry.ts";
import type { ModelRecord } from "../finetune/index.ts";
import { createEmbedder } from "../models/embedders/index.ts";
import { versionOrder, type VersionOrder } from "../core/versions.ts";

export interface Project {
  config: RagtuneConfig;
  configPath: string;
  root: string;
  /** The SQLite index file. */
  indexFile: string;
  store: Store;
  /** BM25 over the current store contents; rebuilt when the store generation changes. */
  retriever(): Bm25Index;
  /** The configured embedder, or undefined when `models.embedder` is 'none'. */
  embedder(): Embedder | undefined;
  /**
   * The full answering retrieval (lexical/dense/hybrid → rerank → collapse versions → small-to-big)
   * as configured; rebuilt when the store changes. Dense vectors missing for new chunks are computed first.
   */
  retrieval(): Promise<RetrievalPipeline>;
  /** The version order of the project's labels (config `versionOrder` / `current`, else natural). */
  versions(): VersionOrder;
  /** The configured generator (or the `--model` override). */
  generator(): Generator;
  /** Its id, without creating it (a dry run needs no API key). */
  generatorId(): string;
  /**
   * The same project (config object, model overrides) reading another index file, e.g. a run's
   * pinned snapshot (evaluate/snapshot.ts). Close it separately.
   */
  withIndex(indexFile: string): Project;
  /** The judge model as a chat provider (`models.judge` or the `--judge` override); undefined when none. */
  judge(): ChatProvider | undefined;
  /** The response cache (undefined when disabled by `cache.enabled: false` or `--no-cache`). */
  cache(): ResponseCacheBackend | undefined;
  /** Recorded versions of the index (files next to the SQLite index, or the Postgres database), opened on first use. */
  indexVersions(): IndexVersions;
  /** The promoted fine-tuned model of each task, from the model registry next to the index (none → []). */
  promotedModels(): ModelRecord[];
  /** A generator for a model id with the project's providers, limits and cache (fine-tuned models served by id). */
  generatorFor(id: string): Generator;
  close(): void;
}

export interface OpenProjectOptions {
  /** Override `models.generator` (the `--model` flag). */
  model?: string;
  /** Override `models.judge` (the `--judge` flag). */
  judge?: string;
  /** Bypass the response cache for this process (the `--no-cache` flag). */
  noCache?: boolean;
  /** Read this index file instead of `storeDir/index.db` (a run's pinned snapshot). */
  indexFile?: string;
  /** Use this response cache instead of the on-disk one (a queue worker's shared Redis cache); `noCache` still wins. */
  cacheBackend?: ResponseCacheBackend;
}

export function openProject(loaded: LoadedConfig, options: OpenProjectOptions = {}): Project {
  const { config, root } = loaded;
  const indexFile = options.indexFile ?? join(resolve(root, config.storeDir), "index.db");
  // A pinned snapshot is always a SQLite file; otherwise the store the config names (store.kind).
  const store = options.indexFile ? openStore(indexFile) : openStoreFromConfig(config, root);
  let index: Bm25Index | undefined;
  let indexGeneration = -1;
  let pipeline: Promise<RetrievalPipeline> | undefined;
  let pipelineGeneration = -1;
  let generator: Generator | undefined;
  let judge: ChatProvider | undefined | null = null;
  let cache: ResponseCacheBackend | undefined | null = null;
  let embedder: Embedder | undefined | null = null;
  let versions: VersionOrder | undefined;
  let versionsGeneration = -1;
  let indexVersions: IndexVersions | undefined;

  const project: Project = {
    config,
    configPath: loaded.path,
    root,
    indexFile,
    store,
    retriever() {
      const gen = store.generation();
      if (!index || gen !== indexGeneration) {
        const r = config.retrieval;
        // Built from the persisted term statistics: no re-tokenizing on every start.
        index = Bm25Index.fromStore(store, { k1: r.k1, b: r.b, headingBoost: r.headingBoost, rerankTokens: r.rerank === "offline" });
        indexGeneration = gen;
      }
      return index;
    },
    embedder() {
      if (embedder === null) embedder = createEmbedder(config.models.embedder, config.models, process.env, { baseDir: root });
      return embedder;
    },
    retrieval() {
      const gen = store.generation();
      if (!pipeline || gen !== pipelineGeneration) {
        pipeline = buildRetrieval(project);
        pipelineGeneration = gen;
      }
      return pipeline;
    },
    versions() {
      const gen = store.generation();
      if (!versions || gen !== versionsGeneration) {
        const labels = new Set([...config.sources.map((s) => s.version), ...store.documents().map((d) => d.version)]);
        versions = versionOrder({
          labels,
          declared: config.versionOrder,
          current: config.sources.filter((s) => s.current).map((s) => s.version),
        });
        versionsGeneration = gen;
      }
      return versions;
    },
    generator() {
      generator ??= createGenerator(options.model ?? config.models.generator, config.models, config.answer, process.env, { cache: project.cache(), baseDir: root });
      return generator;
    },
    generatorId() {
      return (options.model ?? config.models.generator).trim();
    },
    withIndex(file) {
      return openProject(loaded, { ...options, indexFile: file });
    },
    judge() {
      if (judge === null) {
        const id = options.judge ?? config.models.judge;
        judge = id ? createChatProvider(id, config.models, process.env, { cache: project.cache(), baseDir: root }) : undefined;
      }
      return judge ?? undefined;
    },
    indexVersions() {
      indexVersions ??= openIndexVersions(config, root, options.indexFile ? { indexFile } : {});
      return indexVersions;
    },
    promotedModels() {
      const registry = openModelRegistry(config, root, options.indexFile ? { indexFile } : {});
      try {
        // localArtifact: on Postgres, a model trained on another machine is fetched from the database.
        return TRAINING_TASKS.map((t) => registry.promoted(t))
          .filter((r): r is ModelRecord => r !== undefined)
          .map((r) => registry.localArtifact(r));
      } finally {
        registry.close();
      }
    },
    generatorFor(id) {
      return createGenerator(id, config.models, config.answer, process.env, { cache: project.cache(), baseDir: root });
    },
    cache() {
      if (cache === null) cache = config.cache.enabled && !options.noCache ? (options.cacheBackend ?? new ResponseCache(resolve(root, config.cache.dir))) : undefined;
      return cache ?? undefined;
    },
    close() {
      indexVersions?.close();
      store.close();
    },
  };
  return project;
}

async function buildRetrieval(project: Project): Promise<RetrievalPipeline> {
  const { config, root } = project;
  const lexical = project.retriever();
  const chunks = project.store.chunks();
  let dense: DenseRetriever | undefined;
  const embedder = config.retrieval.mode === "lexical" ? undefined : project.embedder();
  if (embedder) {
    const vectors = openVectorStoreFor(project);
    // server-side search keeps the vector store for the pipeline's life (it holds no vectors, only the shared connection)
    let keepOpen = false;
    try {
      // Incremental: only chunks added or changed since the last embedding are embedded.
      if (vectors.pendingCount(embedder.id) > 0) await embedPending(vectors, embedder);
      const server = serverSearchOf(project, vectors);
      if (server) {
        // The database answers each query: no vector is held here (docs/store-vectors.md).
        const dense = new DenseRetriever(embedder, new ServerVectorIndex(server, embedder.id, new Map(chunks.map((c) => [c.id, c]))));
        keepOpen = true;
        return assembleRetrievalPipeline({ lexical, dense, chunks, retrieval: config.retrieval, models: config.models, root, versions: project.versions() });
      }
      const loaded = vectors.load(embedder.id);
      const byId = new Map(chunks.map((c) => [c.id, c]));
      const vectorChunks = chunksForIds(loaded.ids, byId);
      // A saved HNSW graph is reused when its fingerprint matches these vectors (building one
      // costs ~80 s at 100k chunks); otherwise it is built once and saved next to the index.
      const annFile = join(dirname(project.indexFile), `ann-${embedder.id.replace(/[^a-z0-9._-]+/gi, "_")}.hnsw`);
      const searcher = HnswVectorIndex.open(annFile, vectorChunks, loaded.matrix, loaded.dims);
      const wantAnn =
        config.retrieval.ann === "on" || (config.retrieval.ann === "auto" && vectorChunks.length > config.retrieval.annThreshold);
      if (!searcher || !wantAnn) {
        const built = chooseVectorIndex(config.retrieval.ann, config.retrieval.annThreshold, vectorChunks, loaded.matrix, loaded.dims);
        if (built instanceof HnswVectorIndex) built.save(annFile);
        dense = new DenseRetriever(embedder, built);
      } else {
        dense = new DenseRetriever(embedder, searcher);
      }
    } finally {
      if (!keepOpen) vectors.close();
    }
  }
  return assembleRetrievalPipeline({ lexical, dense, chunks, retrieval: config.retrieval, models: config.models, root, versions: project.versions() });
}

export function openProjectFromPath(configPath?: string, options: OpenProjectOptions = {}): Project {
  return openProject(loadConfig(configPath), options);
}
