/**
 * The parser worker's bounds: a file that spins, exhausts the heap, allocates outside the heap or
 * kills its worker is skipped with a reason naming the limit, and the next file parses in a fresh
 * worker. The limits are set low here so the test is quick; the defaults are in sandbox.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ParserSandbox } from "../src/ingest/sandbox.ts";
import type { ParseRequest } from "../src/ingest/parse.ts";

const chunking = { maxTokens: 100, overlapTokens: 10, headingDepth: 3, minTokens: 0 };
const req = (path: string, text = "# Title\n\nSome ordinary text for a chunk.\n"): ParseRequest => ({ path, version: "v1", bytes: new TextEncoder().encode(text), chunking });

test("a file that spins, exhausts memory or kills the worker is skipped with the limit named; the next one parses", { timeout: 120_000 }, async () => {
  const sandbox = new ParserSandbox({
    module: new URL("./helpers/misbehaving-worker.ts", import.meta.url),
    heapMb: 64,
    rssGrowthMb: 300,
    timeoutMs: () => 1500,
  });
  try {
    // transient: the limit depends on the run (load, the process's memory), so ingest keeps a previous version.
    const expect = async (path: string, reason: RegExp, transient: boolean) => {
      const r = await sandbox.parse(req(path));
      assert.equal(r.ok, false, path);
      if (!r.ok) assert.match(r.reason, reason, path);
      if (!r.ok) assert.equal(r.transient === true, transient, `${path}: transient`);
      const after = await sandbox.parse(req("ok.md"));
      assert.ok(after.ok && after.chunks.length === 1, `a file after ${path} parses`);
    };
    await expect("spin.md", /^spin\.md: parsing took longer than 2 s \(the per-file time limit\): not indexed$/, true);
    await expect("heap.md", /^heap\.md: parsing needed more than 64 MB of heap \(the per-file memory limit\)/, false);
    await expect("buffers.md", /^buffers\.md: parsing needed more than 300 MB of memory \(the per-file memory limit\)/, true);
    await expect("crash.md", /^crash\.md: .*(worker crashed on purpose|the parser failed)/, false);
    await expect("exit.md", /^exit\.md: the parser stopped \(exit code 3\)/, true);
    assert.ok(sandbox.started >= 5, "every kill was followed by a fresh worker");
  } finally {
    await sandbox.close();
  }
});

test("the memory limits count from what the process held when the worker started, not from zero", { timeout: 60_000 }, async () => {
  // A process that already holds more than the cap (a server, an embedding model, a benchmark's
  // data) once had every file skipped: "parsing took the process past 880 MB".
  const hog = Buffer.alloc(400 * 2 ** 20, 1);
  assert.ok(process.memoryUsage.rss() > 350 * 2 ** 20);
  const sandbox = new ParserSandbox({ rssCapMb: 300, recycleRssMb: 250 });
  try {
    for (const path of ["a.md", "b.md", "c.md"]) {
      const r = await sandbox.parse(req(path));
      assert.ok(r.ok, `${path} parses: ${r.ok ? "" : r.reason}`);
    }
    assert.equal(sandbox.started, 1, "the worker is not recycled after every file");
  } finally {
    await sandbox.close();
    hog.fill(0);
  }
});

test("parsing in the worker gives exactly the chunks of parsing in process", async () => {
  const { parseFile } = await import("../src/ingest/parse.ts");
  const sandbox = new ParserSandbox();
  try {
    const text = "---\ntitle: Same\ntags: [a, b]\n---\n# Same\n\n## Part\n\n" + "Words about the same thing, again and again. ".repeat(80);
    const inWorker = await sandbox.parse(req("same.md", text));
    const inProcess = await parseFile(req("same.md", text));
    assert.deepEqual(inWorker, inProcess);
    assert.ok(inWorker.ok && inWorker.chunks.length > 1);
  } finally {
    await sandbox.close();
  }
});
