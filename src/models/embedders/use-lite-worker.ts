/**
 * A use-lite worker thread: loads its own copy of the model once, then embeds one batch per
 * message and answers with the vectors (their buffers transferred, not copied). Started by
 * use-lite-pool.ts through src/ingest/parse-worker-entry.mjs (which registers tsx first).
 */
import { parentPort } from "node:worker_threads";
import { embedBatch, loadUseLiteModel } from "./use-lite.ts";

// The model's console output must not end up in `ragtune ingest --json` stdout.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

const port = parentPort!;
port.on("message", async (message: { id: number; texts: string[] }) => {
  try {
    const vectors = await embedBatch(await loadUseLiteModel(), message.texts);
    port.postMessage({ id: message.id, vectors }, vectors.map((v) => v.buffer as ArrayBuffer));
  } catch (error) {
    port.postMessage({ id: message.id, error: (error as Error).message ?? String(error) });
  }
});
port.postMessage({ ready: true });
