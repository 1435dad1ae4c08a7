/**
 * minisearch (https://lucaong.github.io/minisearch/) with its documented defaults:
 *
 * - fields `title` and `text`, no field boost (each field weighs 1; scores are summed over fields);
 * - default tokenizer (split on Unicode spaces and punctuation) and `processTerm` (lower-case
 *   only: no stemming, no stop words);
 * - search options default: `combineWith: "OR"`, no prefix, no fuzzy matching;
 * - BM25+ with the library's defaults `{ k: 1.2, b: 0.7, d: 0.5 }` (per-field length
 *   normalisation; `d` is the BM25+ lower bound for one occurrence).
 */
import type { BeirDocument } from "../beir.ts";
import { importOptional, packageVersion, type PeerRetriever } from "./index.ts";

export const MINISEARCH_SETTINGS =
  "fields title+text (boost 1 each), default tokenizer (Unicode space/punctuation) + lower-case, no stemming, no stop words; OR query, no prefix/fuzzy; BM25+ k=1.2 b=0.7 d=0.5 (library defaults)";

interface MiniSearchLike {
  addAll(docs: { id: string; title: string; text: string }[]): void;
  search(query: string): { id: string }[];
}

export async function createMiniSearchPeer(): Promise<PeerRetriever> {
  const mod = await importOptional("minisearch");
  const MiniSearch = mod.default as new (options: { fields: string[]; idField: string }) => MiniSearchLike;
  let index: MiniSearchLike | undefined;
  return {
    name: "minisearch",
    version: packageVersion("minisearch"),
    settings: MINISEARCH_SETTINGS,
    async index(docs: BeirDocument[]) {
      index = new MiniSearch({ fields: ["title", "text"], idField: "id" });
      index.addAll(docs.map((d) => ({ id: d.id, title: d.title, text: d.text })));
    },
    search(query: string, k: number) {
      if (!index) throw new Error("minisearch: index() must be called before search()");
      // minisearch returns every match, sorted; the benchmark keeps the top k.
      const results = index.search(query);
      const n = Math.min(k, results.length);
      const ids = new Array<string>(n);
      for (let i = 0; i < n; i++) ids[i] = String(results[i].id);
      return ids;
    },
  };
}
