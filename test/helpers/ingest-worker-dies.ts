/**
 * An ingest queue worker that kills itself with SIGKILL when it is about to read its Nth file:
 * mid-job, with the job locked and earlier files of the batch already parsed.
 * Usage: node --import tsx ingest-worker-dies.ts <redis url> <N> [queue name]
 */
import { IngestWorker } from "../../src/ingest/queue/worker.ts";

const [url, n, queueName] = process.argv.slice(2);
let files = 0;
await IngestWorker.start({
  url,
  queueName,
  concurrency: 1,
  lockMs: 2000,
  beforeFile: () => {
    if (++files >= Number(n)) process.kill(process.pid, "SIGKILL");
  },
});
console.error("ready");
