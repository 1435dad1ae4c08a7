/**
 * LanceDB full-text search (@lancedb/lancedb, https://lancedb.github.io/lancedb/fts/) on a local
 * table in a temporary folder:
 *
 * - a table of `{ id, title, text }` rows, one FTS index per text column built with
 *   `Index.fts({ baseTokenizer: "simple", language: "English", lowercase: true, stem: true,
 *   removeStopWords: true, asciiFolding: true, withPosition: false })` — the documented tokenizer
 *   options spelled out (simple = split on whitespace and punctuation; English stemming and stop
 *   words; no positions, since no phrase query is made);
 * - the query: `MultiMatchQuery(query, ["title", "text"])`, the library's way to search several
 *   columns (BM25 per column, boosts 1 = default, operator OR = default), `limit(k)`, reading
 *   `id` and `_score` (the score is selected to silence a deprecation warning). The query is
 *   plain text to MultiMatchQuery (no query-syntax parsing).
 *
 * The native binary is loaded on first use; a platform without one fails with the library's error.
 * The temporary folder is removed when the process exits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BeirDocument } from "../beir.ts";
import { importOptional, packageVersion, type PeerRetriever } from "./index.ts";

export const LANCEDB_FTS_OPTIONS = {
  baseTokenizer: "simple",
  language: "English",
  lowercase: true,
  stem: true,
  removeStopWords: true,
  asciiFolding: true,
  withPosition: false,
} as const;

export const LANCEDB_SETTINGS =
  "local table {id, title, text}; Index.fts per column: simple tokenizer, lowercase, English stemming + stop words, ASCII folding, no positions; MultiMatchQuery over title+text (boost 1 each, OR = defaults), BM25 scoring as built in";

interface LanceTable {
  createIndex(column: string, options: { config: unknown }): Promise<void>;
  query(): { fullTextSearch(q: unknown): { select(cols: string[]): { limit(k: number): { toArray(): Promise<{ id: string; _score: number }[]> } } } };
}

export async function createLanceDbPeer(): Promise<PeerRetriever> {
  const lancedb = await importOptional("@lancedb/lancedb", "npm i -D @lancedb/lancedb@0.31.0");
  let table: LanceTable | undefined;
  let dir: string | undefined;
  const cleanup = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  };
  return {
    name: "lancedb",
    version: packageVersion("@lancedb/lancedb"),
    settings: LANCEDB_SETTINGS,
    async index(docs: BeirDocument[]) {
      cleanup();
      dir = mkdtempSync(join(tmpdir(), "ragtune-lancedb-"));
      process.once("exit", cleanup);
      const db = await lancedb.connect(dir);
      table = (await db.createTable(
        "docs",
        docs.map((d) => ({ id: d.id, title: d.title, text: d.text })),
      )) as LanceTable;
      for (const column of ["title", "text"]) await table.createIndex(column, { config: lancedb.Index.fts(LANCEDB_FTS_OPTIONS) });
    },
    async search(query: string, k: number) {
      if (!table) throw new Error("lancedb: index() must be called before search()");
      if (!/[\p{L}\p{N}]/u.test(query)) return [];
      const rows = await table.query().fullTextSearch(new lancedb.MultiMatchQuery(query, ["title", "text"])).select(["id", "_score"]).limit(k).toArray();
      return rows.map((r) => String(r.id));
    },
  };
}
