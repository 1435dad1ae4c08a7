/**
 * The hostile-file fuzz, small: every class of bench/hostile.ts once, mixed into good documents,
 * ingested through the real CLI twice (the second time after the hostile set changed). Nothing
 * outside the project may be read, every selected file is indexed or listed with its reason, and
 * the good documents stay indexed and searchable. Timings and memory are the benchmark's job.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHostileSet, type HostileEntry } from "../bench/lib/hostile-files.ts";
import { storedPath, type IngestStats } from "../src/ingest/index.ts";
import { openStore } from "../src/store/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { runCli } from "./helpers/cli.ts";


function goodDocs(project: string, count: number): Map<string, string> {
  const markers = new Map<string, string>();
  mkdirSync(join(project, "good"), { recursive: true });
  for (let i = 0; i < count; i++) {
    const marker = `goodmarker${i}z`;
    const path = `good/page-${i}.md`;
    writeFileSync(join(project, path), `---\ntitle: Good page ${i}\n---\n# Good page ${i}\n\nThis guide explains the ${marker} option.\n\n## Details\n\nRouting, hooks and plugins work as documented for ${marker}.\n`);
    markers.set(path, marker);
  }
  return markers;
}

/** Bytes of the index files: the store plus its WAL, where uncheckpointed pages live. */
function indexBytes(project: string): Buffer {
  const dir = join(project, ".ragtune");
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith("index.db")).map((f) => readFileSync(join(dir, f))));
}

/** `secrets` are unique words (never in the index files, never found by search); `forbidden` are byte strings only. */
function check(stats: IngestStats, entries: HostileEntry[], project: string, good: Map<string, string>, secrets: string[], forbidden: string[]) {
  const store = openStore(join(project, ".ragtune/index.db"));
  try {
    const docs = new Set(store.documents().map((d) => d.path));
    const skipped = new Map(stats.skipped.map((s) => [s.path, s.reason]));
    assert.equal(docs.size, stats.documents);
    for (const s of stats.skipped) assert.ok(s.reason.trim().length > 0, `${s.path} has a reason`);
    for (const e of entries) {
      const path = storedPath(e.name);
      const label = `${e.kind}: ${JSON.stringify(path)}`;
      if (e.expect === "unselected") {
        assert.ok(!docs.has(path) && !skipped.has(path), `${label} is not selected`);
        continue;
      }
      assert.ok(docs.has(path) !== skipped.has(path), `${label} is either indexed or listed (indexed ${docs.has(path)}, listed ${skipped.has(path)})`);
      if (e.expect === "indexed") assert.ok(docs.has(path), `${label} is indexed (skipped: ${skipped.get(path)})`);
      if (e.expect === "skipped") {
        assert.ok(skipped.has(path), `${label} is listed as skipped`);
        if (e.reason) assert.match(skipped.get(path)!, e.reason, label);
      }
    }
    // Nothing else was listed or indexed: every entry is one of ours (plus the config file).
    const known = new Set([...entries.map((e) => storedPath(e.name)), ...good.keys()]);
    for (const path of [...docs, ...skipped.keys()]) assert.ok(known.has(path), `unexpected entry ${JSON.stringify(path)}`);

    const index = Bm25Index.fromStore(store, { k1: 1.2, b: 0.75, headingBoost: 10 });
    for (const [path, marker] of good) {
      assert.ok(docs.has(path), `${path} indexed`);
      assert.equal(index.search(marker, { k: 1 })[0]?.chunk.path, path, `${marker} finds ${path}`);
    }
    for (const e of entries) {
      if (e.marker && e.expect === "indexed") assert.equal(index.search(e.marker, { k: 1 })[0]?.chunk.path, storedPath(e.name), `${e.kind}: its marker finds it`);
    }
    // Nothing from outside the project: not in the index file, not found by search.
    const bytes = indexBytes(project);
    for (const s of [...secrets, ...forbidden]) assert.ok(!bytes.includes(Buffer.from(s)), `${s} is not in the index files`);
    for (const s of secrets) assert.equal(index.search(s, { k: 3 }).length, 0, `${s} is not searchable`);
  } finally {
    store.close();
  }
}

test("hostile files mixed into good docs: none crashes, each is indexed or listed, nothing outside the project is read", { timeout: 600_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-hostile-"));
  const project = join(tmp, "project");
  const outside = join(tmp, "outside");
  try {
    mkdirSync(project);
    const good = goodDocs(project, 6);
    writeFileSync(join(project, "ragtune.yaml"), `name: hostile\nsources:\n  - include: "good/**"\n    version: v1\n  - include: "hostile/**"\n    version: v1\n`);
    const set = await writeHostileSet(project, outside, { copies: 1, bigLineBytes: 1_000_000, bombBytes: 150_000_000 });
    const envSecret = `envsecret${process.pid}x`;
    const secrets = [...set.secrets, envSecret];
    // /etc/passwd and /proc/self/status, behind links that must not be followed.
    const forbidden = ["root:x:0:0", "VmHWM:"];
    const env = { RAGTUNE_TEST_SECRET: envSecret };

    const first = await runCli(["ingest", "--json"], project, env);
    assert.equal(first.code, 0, first.stderr);
    const stats = JSON.parse(first.stdout) as IngestStats;
    check(stats, set.entries, project, good, secrets, forbidden);
    // The file named with backslashes was read as itself, not as the path it spells.
    const trap = set.entries.find((e) => e.kind === "backslashes spelling a path out")!;
    assert.ok(readFileSync(Buffer.concat([Buffer.from(`${project}/`), trap.name])).includes(Buffer.from(trap.marker!)));
    const search = await runCli(["search", "--json", set.secrets[0]], project, env);
    assert.equal(search.code, 0, search.stderr);
    assert.deepEqual(JSON.parse(search.stdout).hits, []);

    // Change the hostile set: some entries go, some change kind, new ones arrive, a good page changes.
    const entries = set.entries.filter((e) => !["valid DOCX", "binary with a text extension"].includes(e.kind) && !e.name.toString().endsWith("a b.md"));
    for (const e of set.entries.filter((x) => ["valid DOCX", "binary with a text extension"].includes(x.kind))) unlinkSync(Buffer.concat([Buffer.from(`${project}/`), e.name]));
    const aliasTarget = set.entries.find((e) => e.kind === "link to a file inside")!;
    entries.splice(entries.indexOf(aliasTarget), 1, { ...aliasTarget, kind: "link whose target went", expect: "skipped", reason: /dangling/ });
    unlinkSync(join(project, "hostile/names/a b.md"));
    symlinkSync(join(outside, "secret.md"), join(project, "hostile/names/a b.md"));
    entries.push({ name: Buffer.from("hostile/names/a b.md"), kind: "indexed file replaced by a link out", expect: "skipped", reason: /outside the project/ });
    execFileSync("mkfifo", [join(project, "hostile/new-fifo.md")]);
    entries.push({ name: Buffer.from("hostile/new-fifo.md"), kind: "new FIFO", expect: "skipped", reason: /named pipe/ });
    writeFileSync(join(project, "good/page-0.md"), "# Good page 0\n\nRewritten: the changedmarker option replaces the old one.\n");
    good.set("good/page-0.md", "changedmarker");

    const second = await runCli(["ingest", "--json"], project, env);
    assert.equal(second.code, 0, second.stderr);
    const again = JSON.parse(second.stdout) as IngestStats;
    check(again, entries, project, good, secrets, forbidden);
    const removed = new Map(again.removedDocuments.map((r) => [r.path, r.reason]));
    assert.equal(removed.get("hostile/good.docx"), "file deleted");
    assert.match(removed.get("hostile/names/a b.md") ?? "", /^now skipped: symbolic link to .*outside the project/);
    assert.equal(again.changed, 1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
