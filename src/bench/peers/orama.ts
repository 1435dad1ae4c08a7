/**
 * Orama (https://docs.orama.com/) with its documented defaults:
 *
 * - schema `{ title: "string", text: "string" }`, both searched, no boost;
 * - default tokenizer: language "english", stemming off (Orama's default), no stop words
 *   (the v3 default list is empty), lower-cased;
 * - full-text search with the default BM25 relevance `{ k: 1.2, b: 0.75, d: 0.5 }` and the default
 *   `threshold: 1` (every document matching any query term is a candidate), `limit` = k.
 */
import type { BeirDocument } from "../beir.ts";
import { importOptional, packageVersion, type PeerRetriever } from "./index.ts";

export const ORAMA_SETTINGS =
  "schema title+text (no boost), tokenizer english, stemming off, no stop words (v3 defaults); BM25 k=1.2 b=0.75 d=0.5, threshold 1 (library defaults)";

interface OramaResults {
  hits: { id: string }[];
}

export async function createOramaPeer(): Promise<PeerRetriever> {
  const orama = await importOptional("@orama/orama");
  let db: unknown;
  return {
    name: "orama",
    version: packageVersion("@orama/orama"),
    settings: ORAMA_SETTINGS,
    async index(docs: BeirDocument[]) {
      db = orama.create({ schema: { title: "string", text: "string" } });
      for (const d of docs) {
        // insert() is synchronous unless a plugin/hook makes it async; await only a promise.
        const r = orama.insert(db, { id: d.id, title: d.title, text: d.text });
        if (r instanceof Promise) await r;
      }
    },
    search(query: string, k: number) {
      if (!db) throw new Error("orama: index() must be called before search()");
      const toIds = (r: OramaResults) => r.hits.map((h) => String(h.id));
      const res = orama.search(db, { term: query, properties: ["title", "text"], limit: k }) as OramaResults | Promise<OramaResults>;
      return res instanceof Promise ? res.then(toIds) : toIds(res);
    },
  };
}
