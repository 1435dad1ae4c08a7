/**
 * `ragtune ingest --watch` as a user runs it: a child process on a temp project; files are edited,
 * added and deleted, each printed re-index line is awaited, and the index (a second connection) is
 * checked; a change that makes the ingest fail removes nothing and the watch goes on; SIGTERM
 * stops it with exit code 0. Also the watch loop alone, in poll mode (the fallback).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type AddressInfo } from "node:net";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { WatchLoop, watchedFolders } from "../src/ingest/watch.ts";
import { makeTinyProject } from "./helpers/project.ts";

const BIN = fileURLToPath(new URL("../bin/ragtune.js", import.meta.url));

/** A running `ingest --watch` whose stdout lines can be awaited in order. */
function watchProcess(root: string, args: string[] = ["ingest", "--watch", "--debounce-ms", "150"]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  let err = "";
  let seen = 0;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  child.stdout.on("data", (d) => ((out += d), wake()));
  child.stderr.on("data", (d) => ((err += d), wake()));
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  /** The next stdout line (after those already returned) that matches, within 30 s. */
  const next = async (re: RegExp): Promise<string> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const lines = out.split("\n");
      for (let i = seen; i < lines.length - 1; i++) {
        if (re.test(lines[i])) {
          seen = i + 1;
          return lines[i];
        }
      }
      if (Date.now() > deadline) throw new Error(`no line matching ${re} within 30 s; stdout:\n${out}\nstderr:\n${err}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 500);
      });
    }
  };
  const stderrHas = async (re: RegExp) => {
    const deadline = Date.now() + 30_000;
    while (!re.test(err)) {
      if (Date.now() > deadline) throw new Error(`stderr never matched ${re}:\n${err}\nstdout:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, next, stderrHas, exited, output: () => out };
}

function search(root: string, query: string): { paths: string[]; texts: string[]; documents: string[] } {
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    const hits = project.retriever().search(query, { k: 3 });
    return { paths: hits.map((h) => h.chunk.path), texts: hits.map((h) => h.chunk.text), documents: project.store.documents().map((d) => d.path) };
  } finally {
    project.close();
  }
}

test("ingest --watch re-indexes edits, additions and deletions, survives a failing ingest and a bad file, and stops on SIGTERM with 0", { timeout: 120_000 }, async () => {
  const root = makeTinyProject();
  const w = watchProcess(root);
  try {
    await w.next(/^ingested: 3 added/);
    await w.stderrHas(/watching 2 folder\(s\) with (fs\.watch|poll), debounce 150 ms/);

    // Edit: the new sentence is searchable after the printed line.
    appendFileSync(join(root, "docs/v2/trash.md"), "\n## Archive\n\nArchived boards move to the vault after 90 days of inactivity.\n");
    const edited = await w.next(/^reindexed: /);
    assert.match(edited, /0 added, 1 changed, 0 removed, 0 skipped — index version v2, 3 documents/);
    assert.match(edited, /\(\d+ ms\)/);
    const afterEdit = search(root, "archived boards vault inactivity");
    assert.equal(afterEdit.paths[0], "docs/v2/trash.md");
    assert.match(afterEdit.texts[0], /vault after 90 days/);

    // Add, in a new folder.
    mkdirSync(join(root, "docs/v2/guides"));
    writeFileSync(join(root, "docs/v2/guides/exports.md"), "# Exports\n\n## Formats\n\nBoards can be exported as CSV or as JSON from the board menu.\n");
    assert.match(await w.next(/^reindexed: /), /1 added, 0 changed, 0 removed, 0 skipped — index version v3, 4 documents/);
    assert.equal(search(root, "exported CSV JSON board menu").paths[0], "docs/v2/guides/exports.md");

    // A failing ingest: the only v1 file gone makes the v1 pattern match nothing — refused, nothing removed.
    const v1 = join(root, "docs/v1/billing.md");
    unlinkSync(v1);
    const failed = await w.next(/re-index failed/);
    assert.match(failed, /previous index is kept; still watching\): .*ragtune\.yaml:\d+: sources\[1\]\.include: 'docs\/v1\/\*\*\/\*\.md' matched no files/);
    assert.ok(search(root, "refund").documents.includes("docs/v1/billing.md"), "the refused ingest removed nothing");

    // Still watching: the file back (new text) is the next re-index.
    writeFileSync(v1, "# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 14 days of payment.\n");
    assert.match(await w.next(/^reindexed: /), /0 added, 1 changed, 0 removed/);

    // A bad new file: skipped with file and line, everything else stays.
    writeFileSync(join(root, "docs/v2/broken.md"), "---\ntitle: [unclosed\n---\n# Broken\n\nText.\n");
    const withBad = await w.next(/^reindexed: /);
    assert.match(withBad, /0 added, 0 changed, 0 removed, 1 skipped — no new version/);
    assert.match(await w.next(/skipped/), /docs\/v2\/broken\.md:\d+: invalid YAML front matter/);
    assert.equal(search(root, "refund").documents.length, 4);

    // Delete: the document leaves the index.
    unlinkSync(join(root, "docs/v2/guides/exports.md"));
    assert.match(await w.next(/^reindexed: /), /0 added, 0 changed, 1 removed/);
    const afterDelete = search(root, "exported CSV JSON board menu");
    assert.ok(!afterDelete.documents.includes("docs/v2/guides/exports.md"));
    assert.equal(afterDelete.documents.length, 3);

    w.child.kill("SIGTERM");
    assert.equal(await w.exited, 0, w.output());
  } finally {
    if (w.child.exitCode === null) w.child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
});

test("serve --watch re-indexes a changed file in the server's worker and answers from it; SIGTERM stops with 0", { timeout: 120_000 }, async () => {
  const root = makeTinyProject();
  const ingest = spawn(process.execPath, [BIN, "ingest"], { cwd: root });
  await new Promise((done) => ingest.on("exit", done));
  // --port takes 1–65535: borrow a free one.
  const port = await new Promise<number>((done) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => done(p));
    });
  });
  const w = watchProcess(root, ["serve", "--watch", "--debounce-ms", "150", "--no-auth", "--port", String(port)]);
  try {
    const url = (await w.next(/ragtune serve http:/)).match(/http:\/\/[^\s]+/)![0];
    await w.next(/^watching 2 folder\(s\)/);
    const ask = async (question: string) => {
      const r = await fetch(`${url}/v1/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question }) });
      assert.equal(r.status, 200);
      return (await r.json()) as { answer: string; served: { index: { version: number | null } } };
    };
    assert.equal((await ask("How long do deleted cards stay in the trash?")).served.index.version, 1);
    writeFileSync(join(root, "docs/v2/trash.md"), "# Trash\n\n## Retention\n\nDeleted cards stay in the trash for 45 days before they are permanently deleted.\n");
    assert.match(await w.next(/^reindexed: /), /0 added, 1 changed, 0 removed, 0 skipped — index version v2/);
    const after = await ask("How long do deleted cards stay in the trash?");
    assert.match(after.answer, /45 days/);
    assert.equal(after.served.index.version, 2);
    w.child.kill("SIGTERM");
    assert.equal(await w.exited, 0, w.output());
  } finally {
    if (w.child.exitCode === null) w.child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
});

test("changes under the store, runs and cache folders never trigger; the folders watched are the sources' static prefixes", async () => {
  const root = makeTinyProject();
  try {
    assert.deepEqual(watchedFolders(root, [{ include: "docs/v2/**/*.md" }, { include: ["docs/**/*.txt", "docs/v1/*.md"] }]), [join(root, "docs")]);
    assert.deepEqual(watchedFolders(root, [{ include: "**/*.md" }]), [root]);
    let reindexed = 0;
    const loop = new WatchLoop<number>({
      root,
      sources: [{ include: "**/*.md" }],
      ignore: [".ragtune", "runs"],
      debounceMs: 50,
      reindex: async () => ++reindexed,
      onReindexed: () => {},
      onError: (err) => assert.fail(String(err)),
    });
    try {
      mkdirSync(join(root, ".ragtune"), { recursive: true });
      mkdirSync(join(root, "runs/r1"), { recursive: true });
      writeFileSync(join(root, ".ragtune/index.md"), "x");
      writeFileSync(join(root, "runs/r1/cases.md"), "x");
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(reindexed, 0, "writes ragtune makes itself must not re-index");
      writeFileSync(join(root, "docs/v2/new.md"), "# New\n");
      const deadline = Date.now() + 10_000;
      while (reindexed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(reindexed, 1);
    } finally {
      await loop.stop();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("poll mode (the fallback) debounces a burst into one re-index, re-runs for a change during a run, and stop() waits for the running one", async () => {
  const root = makeTinyProject();
  try {
    const runs: string[][] = [];
    let release: (() => void) | undefined;
    let finished = 0;
    const loop = new WatchLoop<void>({
      root,
      sources: [{ include: "docs/v2/**/*.md" }],
      ignore: [],
      debounceMs: 100,
      mode: "poll",
      pollMs: 200,
      reindex: () => new Promise<void>((r) => (release = () => (finished++, r()))),
      onReindexed: (_r, info) => runs.push(info.paths),
      onError: (err) => assert.fail(String(err)),
    });
    assert.equal(loop.mode, "poll");
    const waitFor = async (cond: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    for (let i = 0; i < 5; i++) appendFileSync(join(root, "docs/v2/trash.md"), `\nline ${i}\n`);
    writeFileSync(join(root, "docs/v2/a.md"), "# A\n");
    await waitFor(() => release !== undefined);
    // A change while the re-index runs.
    writeFileSync(join(root, "docs/v2/b.md"), "# B\n");
    await new Promise((r) => setTimeout(r, 500));
    const first = release!;
    release = undefined;
    first();
    await waitFor(() => release !== undefined);
    assert.deepEqual(runs, [["docs/v2/a.md", "docs/v2/trash.md"]], "the burst was one re-index");
    // stop() while the second runs: resolves only after it finishes.
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(stopped, false);
    release!();
    await stopping;
    assert.equal(finished, 2);
    assert.deepEqual(runs[1], ["docs/v2/b.md"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
