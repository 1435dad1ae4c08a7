import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp } from "../src/serve/index.ts";
import { KeyStore } from "../src/serve/keys.ts";
import { RateLimiter } from "../src/serve/rate-limit.ts";
import { keyAuthorizer } from "../src/serve/auth.ts";
import { IndexUpdater, indexUpdaterFor, ReindexFailed } from "../src/serve/reindex-worker-client.ts";
import { makeTinyProject } from "./helpers/project.ts";

async function setup() {
  const root = makeTinyProject();
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await reindexProject(project);
  const keys = new KeyStore(join(root, ".ragtune", "keys.db"), { create: true });
  const admin = keys.createKey("admin").key;
  const query = keys.createKey("query").key;
  const authorize = keyAuthorizer(keys, new RateLimiter({ ratePerMinute: 1000 }), { rateLimitPerMinute: 1000 });
  const app = createServeApp({ project, authorize, requestLogFile: null, logError: () => {} });
  const call = (method: string, path: string, key: string | undefined, body?: unknown) =>
    app.request(path, {
      method,
      headers: { host: "127.0.0.1", ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const done = () => {
    void indexUpdaterFor(project).close();
    app.close();
    project.close();
    rmSync(root, { recursive: true, force: true });
  };
  return { root, project, app, call, admin, query, done };
}

test("admin routes need an admin key: none → 401, a query key → 403", async () => {
  const s = await setup();
  try {
    assert.equal((await s.call("POST", "/v1/ingest", undefined, {})).status, 401);
    const forbidden = await s.call("POST", "/v1/ingest", s.query, {});
    assert.equal(forbidden.status, 403);
    assert.equal((await s.call("GET", "/v1/index/versions", s.query)).status, 403);
    assert.equal((await s.call("DELETE", "/v1/documents/docs%2Fv2%2Ftrash.md", s.query)).status, 403);
    // Admin keys may also ask.
    assert.equal((await s.call("POST", "/v1/ask", s.admin, { question: "How long do deleted cards stay in the trash?" })).status, 200);
  } finally {
    s.done();
  }
});

test("POST /v1/ingest updates the index while serving, records a version, and answers name it; a refused ingest changes nothing", async () => {
  const s = await setup();
  try {
    const ask = async (question: string) => (await (await s.call("POST", "/v1/ask", s.query, { question })).json()) as { answer: string; served: { index: { version: number | null; generation: number } } };
    const before = await ask("How long do deleted cards stay in the trash?");
    assert.equal(before.served.index.version, 1);
    writeFileSync(join(s.root, "docs/v2/exports.md"), "# Exports\n\n## Formats\n\nBoards can be exported as CSV or as JSON from the board menu.\n");
    const r = await s.call("POST", "/v1/ingest", s.admin);
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as { added: number; indexVersion: number; served: { index: { version: number } } };
    assert.equal(body.added, 1);
    assert.equal(body.indexVersion, 2);
    assert.equal(body.served.index.version, 2);
    const after = await ask("Which formats can boards be exported as?");
    assert.match(after.answer, /CSV or as JSON/);
    assert.equal(after.served.index.version, 2);
    // Nothing changed: no new version.
    const again = (await (await s.call("POST", "/v1/ingest", s.admin, {})).json()) as { indexVersion: number | null; unchanged: number };
    assert.equal(again.indexVersion, null);

    // Every v2 file gone: the v2 pattern matches nothing, which reads as "delete everything" — refused (422), index unchanged.
    const docs = s.project.store.documents().length;
    for (const f of ["docs/v2/billing.md", "docs/v2/trash.md", "docs/v2/exports.md"]) unlinkSync(join(s.root, f));
    const refused = await s.call("POST", "/v1/ingest", s.admin, {});
    assert.equal(refused.status, 422);
    const err = (await refused.json()) as { error: { field?: string; message: string } };
    assert.match(err.error.message, /matched no files .*nothing was changed/s);
    assert.equal(s.project.store.documents().length, docs);
    assert.match((await ask("Which formats can boards be exported as?")).answer, /CSV or as JSON/, "still served from the committed index");
    assert.equal((await s.call("POST", "/v1/ingest", s.admin, { prune: "yes" })).status, 400, "prune must be a boolean");

    const versions = (await (await s.call("GET", "/v1/index/versions", s.admin)).json()) as { versions: { version: number; restorable: boolean }[]; live: { fingerprint: string } };
    assert.deepEqual(versions.versions.map((v) => v.version), [1, 2]);
    assert.ok(versions.versions.every((v) => v.restorable));
  } finally {
    s.done();
  }
});

test("two index changes at once: the second gets 409 and the first completes", async () => {
  const s = await setup();
  try {
    const [a, b] = await Promise.all([s.call("POST", "/v1/ingest", s.admin, {}), s.call("POST", "/v1/ingest", s.admin, {})]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
  } finally {
    s.done();
  }
});

test("DELETE /v1/documents/:path removes one document and records a version; unknown → 404", async () => {
  const s = await setup();
  try {
    const r = await s.call("DELETE", `/v1/documents/${encodeURIComponent("docs/v2/trash.md")}`, s.admin);
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as { path: string; indexVersion: number };
    assert.equal(body.path, "docs/v2/trash.md");
    assert.equal(body.indexVersion, 2);
    assert.ok(!s.project.store.documents().some((d) => d.path === "docs/v2/trash.md"));
    const missing = await s.call("DELETE", `/v1/documents/${encodeURIComponent("docs/nope.md")}`, s.admin);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { field: string } }).error.field, "path");
  } finally {
    s.done();
  }
});

test("an ingest worker that exits, throws or is killed mid-transaction changes nothing: 500 naming it, the index intact, the next ingest runs", { timeout: 60_000 }, async () => {
  const s = await setup();
  try {
    const module = new URL("./helpers/misbehaving-reindex-worker.ts", import.meta.url);
    // Registered before the first admin request, so the routes use this one (indexUpdaterFor is per project).
    const bad = indexUpdaterFor(s.project, { module });
    const documents = s.project.store.documents().map((d) => d.path);
    const generation = s.project.store.generation();
    const intact = () => {
      assert.deepEqual(s.project.store.documents().map((d) => d.path), documents);
      assert.equal(s.project.store.generation(), generation);
    };
    for (const [mode, message] of [
      ["exit", /the ingest failed: the re-index worker stopped \(exit code 3\) before reporting; nothing was committed, the index is unchanged/],
      ["throw", /the ingest failed: the re-index worker failed \(the misbehaving worker threw mid-ingest\) before reporting; nothing was committed/],
    ] as const) {
      writeFileSync(join(s.root, "misbehave.txt"), mode);
      const r = await s.call("POST", "/v1/ingest", s.admin, {});
      assert.equal(r.status, 500, mode);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, message);
      intact();
    }
    assert.equal(bad.started, 2, "a fresh worker after each crash");
    // Killed while holding the write transaction (the server stopping mid-ingest).
    writeFileSync(join(s.root, "misbehave.txt"), "hang");
    const pending = bad.reindex();
    await new Promise((r) => setTimeout(r, 1_500));
    await bad.close();
    await assert.rejects(pending, /stopped \(exit code 1\) before reporting; nothing was committed/);
    intact();
    // The write lock died with the worker: a real ingest on another worker commits.
    writeFileSync(join(s.root, "docs/v2/exports.md"), "# Exports\n\nBoards can be exported as CSV or as JSON from the board menu.\n");
    const good = new IndexUpdater(s.project);
    try {
      const stats = await good.reindex();
      assert.equal(stats.added, 1);
      assert.equal(s.project.store.generation(), generation + 1);
    } finally {
      await good.close();
    }
    // A refusal from the real worker is 422 and also changes nothing.
    for (const f of ["docs/v2/billing.md", "docs/v2/trash.md", "docs/v2/exports.md"]) unlinkSync(join(s.root, f));
    await assert.rejects(good.reindex(), (err: Error) => err instanceof ReindexFailed && err.kind === "input" && /matched no files/.test(err.message));
    assert.equal(s.project.store.generation(), generation + 1);
  } finally {
    s.done();
  }
});
