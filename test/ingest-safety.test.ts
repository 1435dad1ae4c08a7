/**
 * Nothing is lost to a config mistake: every path by which ingest can remove a document, and
 * every check that holds a removal back (docs/ingest.md, src/ingest/removals.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ingestProject, IngestRefused, type IngestOptions, type IngestSource } from "../src/ingest/index.ts";
import { openStore, type Store } from "../src/store/index.ts";
import { InputError } from "../src/util/errors.ts";
import { ParserSandbox } from "../src/ingest/sandbox.ts";
import type { ParseRequest, ParseResult } from "../src/ingest/parse.ts";
import { runCli } from "./helpers/cli.ts";

const CHUNKING = { maxTokens: 120, overlapTokens: 20, headingDepth: 3, minTokens: 8, maxFileBytes: 1_000_000 };
const isRoot = process.getuid?.() === 0;

function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}
const page = (name: string) => `# ${name}\n\nThe ${name} page explains one thing about the product in a sentence or two.\n`;

function fixture(files = ["docs/a.md", "docs/b.md", "docs/c.md", "docs/d.md", "docs/sub/e.md", "notes/n.md"]) {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-safety-"));
  const root = join(tmp, "project");
  for (const f of files) write(root, f, page(f.replace(/\W/g, "")));
  const store = openStore(":memory:");
  const sources: IngestSource[] = [
    { include: "docs/**", exclude: [], version: "v2" },
    { include: ["notes/*.md"], exclude: [], version: "v1" },
  ];
  const run = (over: Partial<IngestOptions> = {}) => ingestProject({ root, sources, chunking: CHUNKING, store, ...over });
  const state = (s: Store = store) => ({ docs: s.documents().map((d) => d.path), gen: s.generation() });
  return { tmp, root, store, sources, run, state, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

test("a pattern that matches nothing is an error naming it and its config location; nothing changes", async () => {
  const f = fixture();
  try {
    await f.run();
    const before = f.state();
    const locate = (i: number, j: number) => `ragtune.yaml:${10 + i}: sources[${i}].include[${j}]`;
    for (const [include, why] of [
      ["dcos/**", /'dcos\/\*\*' matched no files \(dcos does not exist; did you mean docs\?\)/],
      ["docs/sbu/**", /'docs\/sbu\/\*\*' matched no files \(docs\/sbu does not exist; did you mean docs\/sub\?\)/],
      ["docs/**/*.mdx", /'docs\/\*\*\/\*\.mdx' matched no files \(no file in docs matches it\)/],
      ["docs/missing.md", /'docs\/missing\.md' matched no files \(docs\/missing\.md does not exist\)/],
    ] as const) {
      const sources = [{ ...f.sources[0], include: [include] }, f.sources[1]];
      await assert.rejects(f.run({ sources, locate }), (e: Error) => {
        assert.ok(e instanceof InputError && e.exitCode === 2);
        assert.match(e.message, /^ragtune\.yaml:10: sources\[0\]\.include\[0\]: /);
        assert.match(e.message, why);
        assert.match(e.message, /nothing was changed/);
        return true;
      });
      assert.deepEqual(f.state(), before, `${include}: the index is untouched`);
    }
    // A missing source folder on an existing index (the v1 notes folder is gone).
    rmSync(join(f.root, "notes"), { recursive: true });
    await assert.rejects(f.run({ locate }), /ragtune\.yaml:11: sources\[1\]\.include\[0\]: 'notes\/\*\.md' matched no files \(notes does not exist\)/);
    assert.deepEqual(f.state(), before);
  } finally {
    f.cleanup();
  }
});

test("patterns that would read outside the project are refused", async () => {
  const f = fixture();
  try {
    for (const [include, why] of [
      ["../other/**", /leads outside the project folder/],
      ["docs/../../x/**", /leads outside the project folder/],
      ["/etc/**", /absolute path/],
      ["!docs/a.md", /negated pattern/],
    ] as const) {
      await assert.rejects(f.run({ sources: [{ include, exclude: [], version: "" }] }), why);
    }
    assert.equal(f.store.documents().length, 0);
  } finally {
    f.cleanup();
  }
});

test("a deleted file is removed; a file that breaks is removed; both are listed with the reason", async () => {
  const f = fixture();
  try {
    await f.run();
    unlinkSync(join(f.root, "docs/sub/e.md"));
    write(f.root, "docs/a.md", "---\ntitle: [broken\n---\n# A\n");
    const stats = await f.run();
    assert.deepEqual(
      stats.removedDocuments.sort((x, y) => (x.path < y.path ? -1 : 1)),
      [
        { path: "docs/a.md", reason: stats.removedDocuments.find((r) => r.path === "docs/a.md")!.reason },
        { path: "docs/sub/e.md", reason: "file deleted" },
      ],
    );
    assert.match(stats.removedDocuments.find((r) => r.path === "docs/a.md")!.reason, /^now skipped: docs\/a\.md:\d+: invalid YAML front matter/);
    assert.equal(stats.removed, 2);
    assert.deepEqual(f.state().docs, ["docs/b.md", "docs/c.md", "docs/d.md", "notes/n.md"]);
  } finally {
    f.cleanup();
  }
});

test("a file skipped for this run's conditions (a parser time or memory limit) keeps its previous version; one skipped for its content is removed", async () => {
  const f = fixture();
  // A sandbox whose limits trip for chosen files: the same results the real limits give.
  class LimitedSandbox extends ParserSandbox {
    constructor(private readonly trip: Map<string, { reason: string; transient?: boolean }>) {
      super();
    }
    override async parse(request: ParseRequest): Promise<ParseResult> {
      const t = this.trip.get(request.path);
      return t ? { ok: false as const, reason: `${request.path}: ${t.reason}`, ...(t.transient ? { transient: true } : {}) } : super.parse(request);
    }
  }
  const sandbox = new LimitedSandbox(
    new Map([
      ["docs/a.md", { reason: "parsing took longer than 30 s (the per-file time limit): not indexed", transient: true }],
      ["docs/b.md", { reason: "parsing grew the process by more than 880 MB of memory (the ingest's memory limit): not indexed", transient: true }],
      ["docs/c.md", { reason: "parsing needed more than 320 MB of heap (the per-file memory limit): not indexed" }],
    ]),
  );
  try {
    await f.run();
    const before = new Map(f.store.chunks().map((c) => [c.path, c.text]));
    for (const p of ["docs/a.md", "docs/b.md", "docs/c.md"]) write(f.root, p, page(`${p} edited`));
    const stats = await f.run({ sandbox });
    assert.deepEqual(f.state().docs, ["docs/a.md", "docs/b.md", "docs/d.md", "docs/sub/e.md", "notes/n.md"]);
    assert.deepEqual(stats.removedDocuments.map((r) => r.path), ["docs/c.md"]);
    assert.deepEqual(stats.kept.map((k) => k.path).sort(), ["docs/a.md", "docs/b.md"]);
    for (const k of stats.kept) assert.match(k.reason, /could not be indexed this run \(.*limit.*\); the previous version stays indexed/);
    assert.ok(stats.skipped.filter((s) => s.transient).length === 2, "the skips say they were this run's conditions");
    // The kept documents still have their previous text.
    const after = new Map(f.store.chunks().map((c) => [c.path, c.text]));
    assert.equal(after.get("docs/a.md"), before.get("docs/a.md"));
    assert.equal(after.get("docs/b.md"), before.get("docs/b.md"));
  } finally {
    await sandbox.close();
    f.cleanup();
  }
});

test("documents no longer selected are kept until --prune; excluded files too", async () => {
  const f = fixture();
  try {
    await f.run();
    // The notes source is dropped from the config, and docs/sub is excluded.
    const sources = [{ include: "docs/**", exclude: ["docs/sub/**"], version: "v2" }];
    const kept = await f.run({ sources });
    assert.equal(kept.removed, 0);
    assert.deepEqual(kept.kept.map((k) => k.path).sort(), ["docs/sub/e.md", "notes/n.md"]);
    assert.ok(kept.kept.every((k) => /no longer selected by any source; kept until `ragtune ingest --prune`/.test(k.reason)));
    assert.equal(f.store.documents().length, 6);
    const pruned = await f.run({ sources, prune: true });
    assert.deepEqual(pruned.removedDocuments.map((r) => r.path).sort(), ["docs/sub/e.md", "notes/n.md"]);
    assert.ok(pruned.removedDocuments.every((r) => r.reason === "no longer selected by any source (--prune)"));
    assert.deepEqual(f.state().docs, ["docs/a.md", "docs/b.md", "docs/c.md", "docs/d.md"]);
  } finally {
    f.cleanup();
  }
});

test("removing more than half of the index is refused without --prune: nothing is written", async () => {
  const f = fixture();
  try {
    await f.run();
    const before = f.state();
    for (const p of ["docs/a.md", "docs/b.md", "docs/c.md", "docs/sub/e.md"]) unlinkSync(join(f.root, p));
    write(f.root, "docs/new.md", page("fresh"));
    await assert.rejects(f.run(), (e: Error) => {
      assert.ok(e instanceof IngestRefused && e.exitCode === 2);
      assert.match(e.message, /would remove 4 of the 6 documents in the index \(more than half\); nothing was changed/);
      assert.match(e.message, /docs\/a\.md: file deleted/);
      assert.match(e.message, /--prune/);
      assert.equal(e.removals.length, 4);
      return true;
    });
    assert.deepEqual(f.state(), before, "not even the new file was added");
    const confirmed = await f.run({ prune: true });
    assert.deepEqual([confirmed.removed, confirmed.added], [4, 1]);
    assert.deepEqual(f.state().docs, ["docs/d.md", "docs/new.md", "notes/n.md"]);
    // Exactly half is not "more than half": 2 of 4 go without --prune.
    write(f.root, "docs/e2.md", page("echo"));
    await f.run();
    unlinkSync(join(f.root, "docs/d.md"));
    unlinkSync(join(f.root, "docs/new.md"));
    assert.equal((await f.run()).removed, 2);
  } finally {
    f.cleanup();
  }
});

test("a document behind a folder that is no longer walked is removed with that folder's reason", async () => {
  const f = fixture();
  try {
    await f.run();
    const outside = join(f.tmp, "outside");
    write(outside, "e.md", page("outsider"));
    rmSync(join(f.root, "docs/sub"), { recursive: true });
    symlinkSync(outside, join(f.root, "docs/sub"));
    const stats = await f.run();
    assert.match(stats.skipped.find((s) => s.path === "docs/sub")!.reason, /symbolic link to .*outside, outside the project: not followed \(allow it with sources\[0\]\.allowSymlinksInto\)/);
    assert.match(stats.removedDocuments.find((r) => r.path === "docs/sub/e.md")!.reason, /^now inside docs\/sub, which is not walked: symbolic link/);
    // Allowed explicitly, the link is followed and its file indexed under the link's path.
    const allowed = await f.run({ sources: [{ include: "docs/**", exclude: [], version: "v2", allowSymlinksInto: [outside] }, f.sources[1]] });
    assert.equal(allowed.added, 1);
    assert.match(f.store.chunks({ pathPrefix: "docs/sub/e.md" })[0].text, /outsider/);
  } finally {
    f.cleanup();
  }
});

test("a file that cannot be read keeps its previous version", { skip: isRoot && "root reads files whatever their mode" }, async () => {
  const f = fixture();
  try {
    await f.run();
    write(f.root, "docs/b.md", page("changed"));
    chmodSync(join(f.root, "docs/b.md"), 0o000);
    chmodSync(join(f.root, "docs/sub"), 0o000);
    const stats = await f.run();
    assert.equal(stats.removed, 0);
    assert.deepEqual(stats.kept.map((k) => k.path).sort(), ["docs/b.md", "docs/sub/e.md"]);
    assert.match(stats.kept.find((k) => k.path === "docs/b.md")!.reason, /could not be read this run \(unreadable: permission denied\)/);
    assert.match(stats.kept.find((k) => k.path === "docs/sub/e.md")!.reason, /its folder could not be listed/);
    assert.equal(f.store.documents().length, 6);
    chmodSync(join(f.root, "docs/sub"), 0o755);
    chmodSync(join(f.root, "docs/b.md"), 0o644);
  } finally {
    f.cleanup();
  }
});

test("one document whose rows cannot be written is rolled back alone; the rest commits", async () => {
  const f = fixture();
  try {
    await f.run();
    const oldB = f.store.chunks({ pathPrefix: "docs/b.md" });
    write(f.root, "docs/b.md", page("bravo changed"));
    write(f.root, "docs/c.md", page("charlie changed"));
    write(f.root, "docs/z.md", page("zulu"));
    write(f.root, "docs/y.md", page("yankee"));
    // A store whose writes fail for two documents, inside the transaction, after their old rows
    // were deleted: one changed (b) and one new (y).
    const failing: Store = Object.create(f.store);
    failing.applyIngest = (batch) =>
      f.store.applyIngest({
        ...batch,
        upserts: batch.upserts.map((u) =>
          u.doc.path === "docs/b.md" || u.doc.path === "docs/y.md" ? { doc: u.doc, get chunks() { return u.chunks.map((c) => ({ ...c, headingPath: 1n as unknown as string[] })); } } : u,
        ),
      });
    const stats = await f.run({ store: failing });
    assert.deepEqual([stats.added, stats.changed], [1, 1]);
    const why = new Map(stats.skipped.map((s) => [s.path, s.reason]));
    assert.match(why.get("docs/b.md")!, /its chunks could not be written to the index \(.*BigInt.*\); the previous version stays indexed/);
    assert.match(why.get("docs/y.md")!, /its chunks could not be written to the index/);
    assert.deepEqual(f.store.chunks({ pathPrefix: "docs/b.md" }), oldB);
    assert.match(f.store.chunks({ pathPrefix: "docs/c.md" })[0].text, /charlie changed/);
    assert.equal(f.store.chunks({ pathPrefix: "docs/y.md" }).length, 0);
    assert.equal(f.store.chunks({ pathPrefix: "docs/z.md" }).length, 1);
    // Term statistics stayed consistent: the next clean run writes b and y and nothing is lost.
    const next = await f.run();
    assert.deepEqual([next.added, next.changed], [1, 1]);
  } finally {
    f.cleanup();
  }
});

test("links inside the project: a folder reached twice is walked once, a file reached twice is indexed once under its own path", async () => {
  const f = fixture();
  try {
    symlinkSync("../docs", join(f.root, "notes/docs-link"));
    symlinkSync("sub", join(f.root, "docs/again"));
    symlinkSync("a.md", join(f.root, "docs/alias.md"));
    const stats = await f.run({ sources: [{ include: ["docs/**", "notes/**"], exclude: [], version: "v2" }] });
    const why = new Map(stats.skipped.map((s) => [s.path, s.reason]));
    assert.match(why.get("docs/again")!, /symbolic link to folder docs\/sub, which is indexed already/);
    assert.match(why.get("docs/alias.md")!, /same file as docs\/a\.md/);
    // notes/** walks notes; its link leads to docs, which that pattern has not walked: followed, then deduplicated by real path.
    assert.match(why.get("notes/docs-link/a.md")!, /same file as docs\/a\.md/);
    assert.deepEqual(f.state().docs, ["docs/a.md", "docs/b.md", "docs/c.md", "docs/d.md", "docs/sub/e.md", "notes/n.md"]);
  } finally {
    f.cleanup();
  }
});

test("allowSymlinksInto lets links out, but only regular files are read there, and never more than the size limit", async () => {
  const f = fixture();
  try {
    symlinkSync("/dev/zero", join(f.root, "docs/zero.md"));
    symlinkSync("/dev/urandom", join(f.root, "docs/random.md"));
    symlinkSync("/proc/self/status", join(f.root, "docs/status.md"));
    const sources = [{ include: "docs/**", exclude: [], version: "v2", allowSymlinksInto: ["/dev", "/proc"] }, f.sources[1]];
    const stats = await f.run({ sources, chunking: { ...CHUNKING, maxFileBytes: 300 } });
    const why = new Map(stats.skipped.map((s) => [s.path, s.reason]));
    assert.match(why.get("docs/zero.md")!, /^symbolic link to a character device \(\/dev\/zero\): only regular files are read$/);
    assert.match(why.get("docs/random.md")!, /character device/);
    // /proc/self/status says it is 0 bytes long and is not: the read stops at the limit.
    assert.match(why.get("docs/status.md")!, /^file is larger than chunking\.maxFileBytes \(300\)$/);
    assert.equal(stats.added, 6);
    await assert.rejects(f.run({ sources: [{ ...sources[0], allowSymlinksInto: ["no-such-folder"] }] }), /sources\[0\]\.allowSymlinksInto\[0\]: 'no-such-folder' is not a folder/);
  } finally {
    f.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Through the CLI: exit codes, config lines, --prune/--yes.

const CONFIG = `name: safety
# line 2
sources:
  - include: "docs/**"
    version: v2
  - include:
      - "notes/*.md"
      - "extra/**"
    version: v1
`;

test("CLI: the typo docs/** → dcos/** exits 2 naming the config line and removes nothing; --yes confirms big removals; an empty index exits 2", { timeout: 120_000 }, async () => {
  const f = fixture([...["a", "b", "c", "d"].map((x) => `docs/${x}.md`), "notes/n.md", "extra/x.md"]);
  try {
    write(f.root, "ragtune.yaml", CONFIG);
    const first = await runCli(["ingest", "--json"], f.root);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).documents, 6);

    write(f.root, "ragtune.yaml", CONFIG.replace("docs/**", "dcos/**").replace("extra/**", "extar/**"));
    const typo = await runCli(["ingest"], f.root);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /ragtune\.yaml:4: sources\[0\]\.include: 'dcos\/\*\*' matched no files \(dcos does not exist; did you mean docs\?\)/);
    assert.match(typo.stderr, /ragtune\.yaml:8: sources\[1\]\.include\[1\]: 'extar\/\*\*' matched no files/);
    write(f.root, "ragtune.yaml", CONFIG);
    const same = JSON.parse((await runCli(["ingest", "--json"], f.root)).stdout);
    assert.deepEqual([same.documents, same.unchanged, same.removed], [6, 6, 0], "the typo lost nothing");

    for (const x of ["a", "b", "c", "d"].slice(1)) unlinkSync(join(f.root, `docs/${x}.md`));
    unlinkSync(join(f.root, "extra/x.md"));
    write(f.root, "extra/y.md", page("yankee"));
    const refused = await runCli(["ingest", "--json"], f.root);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /would remove 4 of the 6 documents/);
    assert.equal(JSON.parse(refused.stdout).wouldRemove.length, 4);
    const yes = await runCli(["ingest", "--yes"], f.root);
    assert.equal(yes.code, 0, yes.stderr);
    assert.match(yes.stdout, /1 added, 0 changed, 4 removed/);
    assert.match(yes.stdout, /removed docs\/b\.md: file deleted/);

    // Every selected file skipped: the index would hold nothing — exit 2, with the reasons shown.
    const empty = join(f.tmp, "empty");
    write(empty, "docs/bin.md", "\u0000\u0001binary");
    write(empty, "ragtune.yaml", `name: empty\nsources:\n  - include: "docs/**"\n`);
    const none = await runCli(["ingest"], empty);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /skipped docs\/bin\.md: binary file/);
    assert.match(none.stderr, /the index holds no documents after this ingest/);
  } finally {
    f.cleanup();
  }
});
