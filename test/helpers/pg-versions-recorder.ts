/**
 * A recording process for the versions contract test: `rounds` forced version records of the
 * Postgres store at `url`, then prints the numbers it got. Usage: node --import tsx pg-versions-recorder.ts <url> <rounds>
 */
import { openPostgresStore } from "../../src/store/postgres/sync.ts";
import { PostgresIndexVersions } from "../../src/store/versions-postgres.ts";

const [url, rounds] = process.argv.slice(2);
const store = openPostgresStore(url);
const versions = new PostgresIndexVersions(store.connection);
const got: number[] = [];
for (let i = 0; i < Number(rounds); i++) got.push(versions.record(store, { note: `race ${process.pid}`, configHash: "x", force: true })!.version);
process.stdout.write(JSON.stringify(got) + "\n");
versions.close();
store.close();
