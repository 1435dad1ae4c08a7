/**
 * A racing process for the registry contract test: `rounds` forced promotions through the
 * Postgres registry, alternating between the given model ids (one already promoted is skipped),
 * then prints "done". Usage: node --import tsx pg-registry-racer.ts <url> <rounds> <id>...
 */
import { PostgresConnection } from "../../src/store/postgres/connection.ts";
import { PostgresModelRegistry } from "../../src/finetune/registry-postgres.ts";

const [url, rounds, ...ids] = process.argv.slice(2);
const connection = PostgresConnection.acquire(url);
const reg = new PostgresModelRegistry(connection, { release: () => connection.release() });
for (let i = 0; i < Number(rounds); i++) {
  const id = ids[i % ids.length];
  try {
    reg.promote(id, { force: { reason: `race ${process.pid} ${i}` } });
  } catch (err) {
    if (!/already the promoted/.test((err as Error).message)) throw err;
  }
}
process.stdout.write("done\n");
reg.close();
