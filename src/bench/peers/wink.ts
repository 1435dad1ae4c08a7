/**
 * wink-bm25-text-search (https://github.com/winkjs/wink-bm25-text-search) configured as in its
 * README (the wink-nlp-utils example of v3.0.x):
 *
 * - `defineConfig({ fldWeights: { title: 4, body: 1 }, bm25Params: { k1: 1.2, b: 0.75, k: 1 } })`
 *   — the README's title/body weights (it also weights a `tags` field, which BEIR does not have)
 *   and the library's default BM25 parameters (`k` smooths the idf: ln((N − n + 0.5)/(n + 0.5) + k));
 * - prep tasks from wink-nlp-utils, the README's body pipeline: `string.lowerCase`,
 *   `string.removeExtraSpaces`, `string.tokenize0`, `tokens.propagateNegations`,
 *   `tokens.removeWords` (stop words), `tokens.stem` (Porter2). The README's default pipeline
 *   (used for the title and the query) omits `removeWords`, so query stop words would only ever
 *   match titles; we use the full pipeline for every field and the query, which can only help wink.
 * - `consolidate()` with the default precision (4 decimals), `search(query, k)`.
 */
import type { BeirDocument } from "../beir.ts";
import { importOptional, packageVersion, type PeerRetriever } from "./index.ts";

export const WINK_TITLE_WEIGHT = 4;

export const WINK_SETTINGS = `fldWeights title=${WINK_TITLE_WEIGHT} body=1 (README example), BM25F k1=1.2 b=0.75 k=1 (library defaults); wink-nlp-utils prep: lowerCase, removeExtraSpaces, tokenize0, propagateNegations, removeWords, stem (README pipeline, for fields and query)`;

interface WinkEngine {
  defineConfig(cfg: { fldWeights: Record<string, number>; bm25Params?: { k1?: number; b?: number; k?: number } }): boolean;
  definePrepTasks(tasks: ((x: any) => any)[], field?: string): number;
  addDoc(doc: Record<string, string>, id: string): number;
  consolidate(fp?: number): boolean;
  search(text: string, limit?: number): [string, number][];
}

export async function createWinkPeer(): Promise<PeerRetriever> {
  const bm25 = (await importOptional("wink-bm25-text-search")).default as () => WinkEngine;
  const nlp = (await importOptional("wink-nlp-utils")).default;
  let engine: WinkEngine | undefined;
  return {
    name: "wink-bm25-text-search",
    version: packageVersion("wink-bm25-text-search"),
    settings: WINK_SETTINGS,
    async index(docs: BeirDocument[]) {
      engine = bm25();
      engine.defineConfig({ fldWeights: { title: WINK_TITLE_WEIGHT, body: 1 }, bm25Params: { k1: 1.2, b: 0.75, k: 1 } });
      engine.definePrepTasks([
        nlp.string.lowerCase,
        nlp.string.removeExtraSpaces,
        nlp.string.tokenize0,
        nlp.tokens.propagateNegations,
        nlp.tokens.removeWords,
        nlp.tokens.stem,
      ]);
      for (const d of docs) engine.addDoc({ title: d.title, body: d.text }, d.id);
      // wink refuses to consolidate fewer than 3 documents.
      engine.consolidate();
    },
    search(query: string, k: number) {
      if (!engine) throw new Error("wink: index() must be called before search()");
      return engine.search(query, k).map(([id]) => String(id));
    },
  };
}
