/**
 * An opened project: config + store + lazily built retriever and generator. CLI commands, the
 * evaluator and (later) the server all start from here so they answer the same way.
 */
import { join, resolve } from "node:path";
import { loadConfig, type LoadedConfig, type RagtuneConfig } from "../config/index.ts";
import { openStore, type Store } from "../store/index.ts";
import { Bm25Index } from "../retrieve/index.ts";
import { createGenerator, type Generator } from "../models/index.ts";

export interface Project {
  config: RagtuneConfig;
  configPath: string;
  root: string;
  store: Store;
  /** BM25 over the current store contents; rebuilt when the store generation changes. */
  retriever(): Bm25Index;
  /** The configured generator (or the `--model` override). */
  generator(): Generator;
  close(): void;
}

export interface OpenProjectOptions {
  /** Override `models.generator` (the `--model` flag). */
  model?: string;
}

export function openProject(loaded: LoadedConfig, options: OpenProjectOptions = {}): Project {
  const { config, root } = loaded;
  const store = openStore(join(resolve(root, config.storeDir), "index.db"));
  let index: Bm25Index | undefined;
  let indexGeneration = -1;
  let generator: Generator | undefined;
  return {
    config,
    configPath: loaded.path,
    root,
    store,
    retriever() {
      const gen = store.generation();
      if (!index || gen !== indexGeneration) {
        const r = config.retrieval;
        index = new Bm25Index(store.chunks(), { k1: r.k1, b: r.b, headingBoost: r.headingBoost });
        indexGeneration = gen;
      }
      return index;
    },
    generator() {
      generator ??= createGenerator(options.model ?? config.models.generator, config.models, config.answer);
      return generator;
    },
    close() {
      store.close();
    },
  };
}

export function openProjectFromPath(configPath?: string, options: OpenProjectOptions = {}): Project {
  return openProject(loadConfig(configPath), options);
}
