/**
 * A parser worker that misbehaves on request, for test/ingest-sandbox.test.ts: the path of the
 * request says what to do (spin forever, exhaust the heap, allocate buffers, crash, or parse).
 */
import { parentPort } from "node:worker_threads";
import { parseFile, type ParseRequest } from "../../src/ingest/parse.ts";

const port = parentPort!;
port.on("message", async ({ id, request }: { id: number; request: ParseRequest }) => {
  const held: unknown[] = [];
  switch (request.path) {
    case "spin.md":
      for (;;);
    case "heap.md":
      for (let i = 0; ; i++) held.push({ i, s: `${i}`.repeat(64) });
    case "buffers.md":
      for (;;) {
        held.push(Buffer.alloc(64 * 1024 * 1024, 1));
        await new Promise((r) => setTimeout(r, 5));
      }
    case "crash.md":
      throw new Error("worker crashed on purpose");
    case "exit.md":
      process.exit(3);
    default:
      port.postMessage({ id, result: await parseFile(request) });
  }
});
port.postMessage({ ready: true });
