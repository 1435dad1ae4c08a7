/**
 * PostgreSQL restarted under ragtune (a crash: immediate shutdown, clients cut off): a read after
 * the restart gets the data back (at worst one clear error first), and an ingest cut off by the
 * restart fails with a clear error, changes nothing, and succeeds when run again.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openPostgresStore } from "../src/store/postgres/sync.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadConfig } from "../src/config/index.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";

const skip = postgresSkipReason();

/** Call `fn` until it answers, at most `tries` times; returns the answer and the errors seen. */
function settle<T>(fn: () => T, tries = 3): { value: T; errors: string[] } {
  const errors: string[] = [];
  for (let i = 0; i < tries; i++) {
    try {
      return { value: fn(), errors };
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new Error(`still failing after ${tries} tries: ${errors.join(" | ")}`);
}

describe("PostgreSQL restarted mid-serve and mid-ingest", { skip }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots, durable: true });

  test("mid-serve: after a crash restart the store reads the same index again", async () => {
    const root = makeTinyProject();
    roots.push(root);
    const { config } = loadConfig(join(root, "ragtune.yaml"));
    const store = openPostgresStore(server.createDatabase("faults_serve"));
    try {
      await ingestProject({ root, sources: config.sources, chunking: config.chunking, store });
      const before = { docs: store.documents(), chunks: store.chunks().map((c) => c.id), generation: store.generation() };
      assert.ok(before.docs.length > 0);
      await server.restart();
      // Reads ride out the restart (retried in the worker): no error reaches the caller.
      const after = { docs: store.documents(), chunks: store.chunks().map((c) => c.id), generation: store.generation() };
      assert.deepEqual(after, before, "the same documents, chunks and generation");
      // And while the server is down: a read waits for it to come back (within the retry window).
      const outage = server.outage(2_000);
      await new Promise((r) => setTimeout(r, 300)); // the crash has happened
      const t0 = Date.now();
      const docs = store.documents(); // blocks this thread until the server answers
      assert.deepEqual(docs, before.docs);
      assert.equal(store.generation(), before.generation);
      await outage;
      console.error(`# a read issued while the server was down answered after ${Date.now() - t0} ms`);
    } finally {
      store.close();
    }
  });

  test("mid-ingest: an ingest cut off by a crash fails clearly and changes nothing; the rerun commits", async () => {
    const root = makeTinyProject();
    roots.push(root);
    // Enough documents that the ingest transaction is still open when the server goes down.
    for (let i = 0; i < 400; i++) writeFileSync(join(root, "docs", "v2", `bulk-${i}.md`), `# Bulk ${i}\n\n${`Paragraph ${i} about plan limits and seat counts. `.repeat(40)}\n`);
    const { config } = loadConfig(join(root, "ragtune.yaml"));
    const url = server.createDatabase("faults_ingest");
    const store = openPostgresStore(url);
    try {
      // A first, small state to compare with: only the tiny project's own docs.
      const small = config.sources.map((s) => ({ ...s, exclude: [...(s.exclude ?? []), "**/bulk-*.md"] }));
      await ingestProject({ root, sources: small, chunking: config.chunking, store });
      const before = { docs: store.documents().map((d) => d.path), generation: store.generation() };
      let cut: Error | undefined;
      // The crash is fired from another process once parsing is done, so it lands inside the one
      // write transaction (this thread is blocked in the store's synchronous applyIngest then).
      await ingestProject({
        root,
        sources: config.sources,
        chunking: config.chunking,
        store,
        onProgress: (done, total) => {
          if (done === total) server.crashAfter(60);
        },
      }).catch((err: Error) => (cut = err));
      await new Promise((r) => setTimeout(r, 500));
      try {
        server.start();
      } catch {
        // The crash came after the commit and the server is up: nothing to start.
      }
      const now = settle(() => ({ docs: store.documents().map((d) => d.path), generation: store.generation() }));
      console.error(`# ingest during the restart: ${cut ? `failed: ${cut.message}` : "committed"}`);
      if (cut) {
        assert.match(cut.message, /terminat|connect|closed|ECONNRESET|shut|postgres/i, `a clear error: ${cut.message}`);
        assert.deepEqual(now.value, before, "a failed ingest changed nothing");
      } else {
        // The restart fell before the write: the ingest committed whole.
        assert.equal(now.value.docs.length, before.docs.length + 400);
      }
      const rerun = await ingestProject({ root, sources: config.sources, chunking: config.chunking, store });
      assert.equal(store.documents().length, before.docs.length + 400, `the rerun commits every document (${JSON.stringify({ added: rerun.added, skipped: rerun.skipped.length })})`);
      assert.ok(store.generation() > before.generation);
    } finally {
      store.close();
    }
  });
});
