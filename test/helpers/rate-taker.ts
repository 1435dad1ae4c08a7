/** `node --import tsx rate-taker.ts <url> <id> <rate> <n>`: n shared takes; prints how many were granted. */
import { PostgresConnection } from "../../src/store/postgres/connection.ts";
import { SharedRateLimiter } from "../../src/serve/rate-limit-shared.ts";

const [url, id, rate, n] = process.argv.slice(2);
const connection = PostgresConnection.acquire(url);
const limiter = new SharedRateLimiter(connection, Number(rate));
let granted = 0;
for (let i = 0; i < Number(n); i++) if (limiter.take(id, Date.now()).ok) granted++;
if (limiter.fallbacks) throw new Error(`${limiter.fallbacks} takes fell back to memory`);
connection.release();
console.log(granted);
