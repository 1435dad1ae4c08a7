/**
 * A queue worker that kills itself with SIGKILL right after its Nth answer is written to the
 * shared cache — after the provider was paid, before the job completes: the worst moment for
 * "the model call is not paid twice". Usage: node --import tsx queue-worker-dies.ts <redis url> <N>
 */
import { EvalWorker } from "../../src/evaluate/queue/worker.ts";
import type { ResponseCacheBackend } from "../../src/models/cache.ts";

const [url, n] = process.argv.slice(2);
let writes = 0;
await EvalWorker.start({
  url,
  concurrency: 1,
  lockMs: 2000,
  wrapCache: (cache: ResponseCacheBackend): ResponseCacheBackend => ({
    get: (input) => cache.get(input),
    set: async (input, result) => {
      await cache.set(input, result);
      if (++writes >= Number(n)) process.kill(process.pid, "SIGKILL");
    },
    stats: () => cache.stats(),
  }),
});
console.error("ready");
