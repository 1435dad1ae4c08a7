/**
 * A writer process for the replica test: alternately replaces the whole index with state "A" and
 * state "B" (test/helpers/store-fixtures.ts), `rounds` times, through the Postgres store, then
 * prints "done <generation>". Usage: node --import tsx pg-flip-writer.ts <url> <rounds>
 */
import { openPostgresStore } from "../../src/store/postgres/sync.ts";
import { indexState } from "./store-fixtures.ts";

const [url, rounds] = process.argv.slice(2);
const store = openPostgresStore(url);
for (let i = 0; i < Number(rounds); i++) store.applyIngest({ upserts: indexState(i % 2 === 0 ? "B" : "A"), removals: [], meta: { round: String(i) } });
process.stdout.write(`done ${store.generation()}\n`);
store.close();
