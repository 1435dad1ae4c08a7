/**
 * The parser worker: parses one file per message with `parseFile` and answers with its result.
 * Started (and restarted after a kill) by sandbox.ts.
 */
import { parentPort } from "node:worker_threads";
import { parseFile, reasonFor, type ParseRequest } from "./parse.ts";

// A library's console output must not end up in `ragtune ingest --json` stdout.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

const port = parentPort!;
port.on("message", async (message: { id: number; request: ParseRequest }) => {
  const { id, request } = message;
  const result = await parseFile(request).catch((err: unknown) => ({ ok: false as const, reason: reasonFor(request.path, err) }));
  port.postMessage({ id, result });
});
port.postMessage({ ready: true });
