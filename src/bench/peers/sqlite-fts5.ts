/**
 * SQLite FTS5 (https://sqlite.org/fts5.html), the full-text engine already inside better-sqlite3,
 * set up as its documentation shows for a two-field table:
 *
 * - an in-memory database with `CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text,
 *   tokenize = 'porter unicode61')` — the `porter` tokenizer wrapping `unicode61` (Unicode-aware
 *   case folding and splitting on non-alphanumerics, diacritics removed, the default; then the
 *   Porter stemmer). FTS5 has no stop-word list;
 * - documents inserted in one transaction;
 * - ranking by `bm25(docs)`, FTS5's built-in Okapi BM25 (k1 = 1.2, b = 0.75 hard-coded; every
 *   column weight 1, the function's default), `ORDER BY rank LIMIT k`;
 * - the query: FTS5 query syntax gives meaning to `"`, `*`, `-`, `:`, `^`, `(`, `)`, `+` and to
 *   the bare words AND / OR / NOT / NEAR, so a question is never passed as is: each
 *   whitespace-separated word that holds a letter or digit becomes a quoted string (inner quotes
 *   doubled), and the strings are joined with OR (any term may match, like the other BM25 peers).
 */
import type { BeirDocument } from "../beir.ts";
import { importOptional, packageVersion, type PeerRetriever } from "./index.ts";

export const FTS5_SETTINGS =
  "fts5(id UNINDEXED, title, text) tokenize='porter unicode61' (Unicode folding, diacritics removed, Porter stemming, no stop words); bm25(docs) ranking (k1=1.2 b=0.75 built in, column weights 1 = default); query: each word quoted, OR-joined";

/** A free-text query as an FTS5 MATCH expression: every word a quoted string, OR-joined ("" when no word has a letter or digit). */
export function fts5Query(text: string): string {
  const words = text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  return words.map((w) => `"${w.replace(/"/g, '""')}"`).join(" OR ");
}

interface Statement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface DatabaseLike {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  transaction<T extends (...args: any[]) => void>(fn: T): T;
  close(): void;
}

export async function createSqliteFts5Peer(): Promise<PeerRetriever> {
  const Database = (await importOptional("better-sqlite3")).default as new (file: string) => DatabaseLike;
  let db: DatabaseLike | undefined;
  let select: Statement | undefined;
  return {
    name: "sqlite-fts5",
    version: `better-sqlite3 ${packageVersion("better-sqlite3")}`,
    settings: FTS5_SETTINGS,
    async index(docs: BeirDocument[]) {
      db?.close();
      db = new Database(":memory:");
      db.exec("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize = 'porter unicode61')");
      const insert = db.prepare("INSERT INTO docs (id, title, text) VALUES (?, ?, ?)");
      db.transaction((all: BeirDocument[]) => {
        for (const d of all) insert.run(d.id, d.title, d.text);
      })(docs);
      select = db.prepare("SELECT id FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?");
    },
    search(query: string, k: number) {
      if (!select) throw new Error("sqlite-fts5: index() must be called before search()");
      const match = fts5Query(query);
      if (!match) return [];
      return (select.all(match, k) as { id: string }[]).map((r) => r.id);
    },
  };
}
