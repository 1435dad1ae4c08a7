/**
 * A re-index worker that misbehaves on purpose (test/serve-admin.test.ts): it starts a write
 * transaction that empties the index, then — by the word in `<root>/misbehave.txt` — exits the
 * thread ("exit"), throws out of its message handler ("throw") or waits to be killed ("hang"),
 * never committing. The index must come out unchanged and the next writer must not be blocked.
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import type { ReindexJob, ReindexWorkerInit } from "../../src/serve/reindex-worker-protocol.ts";

const init = workerData as ReindexWorkerInit;
const port = parentPort!;
port.on("message", (_job: ReindexJob) => {
  const mode = readFileSync(join(init.root, "misbehave.txt"), "utf8").trim();
  const db = new Database(init.indexFile);
  db.exec("BEGIN IMMEDIATE");
  db.exec("DELETE FROM chunk_terms; DELETE FROM chunks; DELETE FROM documents; UPDATE meta SET value = '999' WHERE key = 'generation'");
  port.postMessage({ type: "ready" }); // ignored by the client mid-job: a job is answered by id only
  if (mode === "exit") process.exit(3);
  if (mode === "throw") throw new Error("the misbehaving worker threw mid-ingest");
  // "hang": keep the transaction open until terminated.
  setInterval(() => undefined, 1_000);
});
port.postMessage({ type: "ready" });
