import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeText, ingestProject, type ChunkingOptions, type IngestOptions, type IngestStats } from "../src/ingest/index.ts";
import { openStore, type Store } from "../src/store/index.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHUNKING: ChunkingOptions & { maxFileBytes: number } = { maxTokens: 120, overlapTokens: 20, headingDepth: 3, minTokens: 8, maxFileBytes: 20_000 };
const isRoot = process.getuid?.() === 0;

function write(root: string, path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

const mdDoc = (name: string, sections: number, extra = "") =>
  `---\ntitle: ${name}\nowner: team-${name}\n---\n# ${name}\n\n${extra}Overview of ${name}.\n\n` +
  Array.from({ length: sections }, (_, i) => `## Part ${i}\n\n${`The ${name} part ${i} explains one specific behaviour in detail. `.repeat(4)}\n`).join("\n");

interface Fixture {
  root: string;
  store: Store;
  run: (over?: Partial<IngestOptions>) => Promise<IngestStats>;
  cleanup: () => void;
}

function fixture(): Fixture {
  const root = mkdtempSync(join(tmpdir(), "ragtune-ingest-"));
  write(root, "docs/a.md", mdDoc("alpha", 3));
  write(root, "docs/b.md", mdDoc("beta", 2));
  write(root, "docs/guide/c.html", "<html><head><title>Gamma</title></head><body><h1>Gamma</h1><p>Gamma page text that is long enough to be a chunk.</p><h2>More</h2><ul><li>one item</li><li>two items</li></ul></body></html>");
  write(root, "notes/n.txt", "NOTES\n\nPlain text notes about the product and how it is used by customers.\n");
  write(root, "docs/private/secret.md", "# Private\n\nExcluded by the source.\n");
  // Files that must be skipped, each for its own reason.
  write(root, "docs/bin.md", Buffer.from([0x23, 0x20, 0x41, 0x00, 0x01, 0x02, 0x0a]));
  write(root, "docs/empty.md", "  \n\n\t\n");
  write(root, "docs/huge.md", "# Huge\n\n" + "word ".repeat(10_000));
  write(root, "docs/pic.png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  write(root, "docs/broken.md", "---\ntitle: Broken\nauthor: a: b\n---\n# Broken\n\ntext\n");
  write(root, "docs/headings-only.md", "# Just\n\n## Headings\n");
  write(root, "docs/locked.md", "# Locked\n\nNobody may read this file.\n");
  chmodSync(join(root, "docs/locked.md"), 0o000);
  const store = openStore(":memory:");
  const sources = [
    { include: ["docs/**", "notes/*.txt"], exclude: ["docs/private/**"], version: "v1" },
    // docs/a.md is matched again here: the first source keeps it (version stays v1).
    { include: "docs/a.md", exclude: [], version: "v2" },
  ];
  return {
    root,
    store,
    run: (over = {}) => ingestProject({ root, sources, chunking: CHUNKING, store, ...over }),
    cleanup: () => {
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

test("decodeText: UTF-8, UTF-16 with BOM, legacy 8-bit text, and binary", () => {
  assert.deepEqual(decodeText(Buffer.from("\uFEFFhéllo", "utf8")), { text: "héllo" });
  assert.deepEqual(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("héllo wörld", "utf16le")])), { text: "héllo wörld" });
  const be = Buffer.from("hi there", "utf16le").swap16();
  assert.deepEqual(decodeText(Buffer.concat([Buffer.from([0xfe, 0xff]), be])), { text: "hi there" });
  // Latin-1 bytes ("café au lait") are not UTF-8 but clearly text.
  assert.deepEqual(decodeText(Buffer.from("caf\xe9 au lait, cr\xe8me br\xfbl\xe9e", "latin1")), { text: "café au lait, crème brûlée" });
  assert.match((decodeText(Buffer.from([0x41, 0x00, 0x42])) as { binary: string }).binary, /NUL/);
  const noise = Buffer.from(Array.from({ length: 4000 }, (_, i) => 0x80 + ((i * 37) % 120)));
  assert.match((decodeText(noise) as { binary: string }).binary, /invalid UTF-8/);
  const controls = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? 0x41 : 0x01 + (i % 7))));
  assert.match((decodeText(controls) as { binary: string }).binary, /control characters/);
});

const reasons = (s: IngestStats) => Object.fromEntries(s.skipped.map((k) => [k.path, k.reason]));

test("first ingest counts, skip reasons, versions, progress; reruns are no-ops", async () => {
  const f = fixture();
  try {
    const progress: [number, number, string][] = [];
    const first = await f.run({ onProgress: (d, t, p) => progress.push([d, t, p]) });
    const okPaths = ["docs/a.md", "docs/b.md", "docs/guide/c.html", "notes/n.txt", ...(isRoot ? ["docs/locked.md"] : [])];
    assert.equal(first.added, okPaths.length);
    assert.deepEqual([first.changed, first.removed, first.unchanged], [0, 0, 0]);
    assert.deepEqual(f.store.documents().map((d) => d.path), [...okPaths].sort());
    assert.equal(first.chunks, f.store.chunks().length);
    assert.ok(first.chunks >= okPaths.length + 3, `chunks: ${first.chunks}`); // docs/a.md and b.md have several parts
    assert.ok(first.ms >= 0);

    const why = reasons(first);
    assert.match(why["docs/bin.md"], /binary/);
    assert.equal(why["docs/empty.md"], "empty file");
    assert.match(why["docs/huge.md"], /larger than chunking\.maxFileBytes \(20000\)/);
    assert.match(why["docs/pic.png"], /unsupported file type "\.png"/);
    assert.match(why["docs/broken.md"], /^docs\/broken\.md:3: invalid YAML front matter/);
    assert.match(why["docs/headings-only.md"], /no chunks/);
    if (!isRoot) assert.match(why["docs/locked.md"], /unreadable: permission denied/);
    assert.ok(!("docs/private/secret.md" in why) && !f.store.documents().some((d) => d.path.includes("private")));

    // Version labels: first matching source wins.
    assert.ok(f.store.chunks({ pathPrefix: "docs/a.md" }).every((c) => c.version === "v1"));
    assert.deepEqual(f.store.chunks({ pathPrefix: "docs/a.md" })[0].meta, { owner: "team-alpha" });

    const files = progress.map((p) => p[2]);
    assert.equal(new Set(files).size, files.length);
    assert.deepEqual(progress.map((p) => p[0]), files.map((_, i) => i + 1));
    assert.ok(progress.every((p) => p[1] === files.length));

    const gen = f.store.generation();
    const before = f.store.chunks();
    const again = await f.run();
    assert.deepEqual([again.added, again.changed, again.removed, again.unchanged], [0, 0, 0, okPaths.length]);
    assert.equal(again.chunks, first.chunks);
    assert.equal(f.store.generation(), gen, "nothing to apply: the index generation is untouched");
    assert.deepEqual(f.store.chunks(), before);
  } finally {
    f.cleanup();
  }
});

test("edit, delete, add, relabel and re-chunk are detected incrementally", async () => {
  const f = fixture();
  try {
    await f.run();
    const docsBefore = new Map(f.store.documents().map((d) => [d.path, d]));
    const others = () => f.store.chunks().filter((c) => c.path !== "docs/a.md");
    const othersBefore = others();
    const aBefore = f.store.chunks({ pathPrefix: "docs/a.md" });

    // Edit one file: only its chunks are replaced.
    write(f.root, "docs/a.md", mdDoc("alpha", 5, "A new paragraph about refunds. "));
    const edited = await f.run();
    assert.deepEqual([edited.added, edited.changed, edited.removed], [0, 1, 0]);
    assert.equal(edited.unchanged, docsBefore.size - 1);
    const aAfter = f.store.chunks({ pathPrefix: "docs/a.md" });
    assert.notDeepEqual(aAfter, aBefore);
    assert.ok(aAfter.some((c) => c.text.includes("refunds")));
    assert.deepEqual(others(), othersBefore);
    for (const d of f.store.documents()) if (d.path !== "docs/a.md") assert.deepEqual(d, docsBefore.get(d.path));

    // Delete one.
    unlinkSync(join(f.root, "docs/b.md"));
    const deleted = await f.run();
    assert.deepEqual([deleted.added, deleted.changed, deleted.removed], [0, 0, 1]);
    assert.equal(f.store.chunks({ pathPrefix: "docs/b.md" }).length, 0);

    // Add one.
    write(f.root, "docs/new/d.md", mdDoc("delta", 1));
    const added = await f.run();
    assert.deepEqual([added.added, added.changed, added.removed], [1, 0, 0]);
    assert.equal(added.chunks, f.store.chunks().length);

    // A file that breaks is skipped and its stale chunks leave the index.
    write(f.root, "docs/new/d.md", "---\ntitle: [oops\n---\n");
    const broke = await f.run();
    assert.equal(broke.removed, 1);
    assert.match(reasons(broke)["docs/new/d.md"], /docs\/new\/d\.md:\d+: invalid YAML front matter/);
    assert.equal(f.store.chunks({ pathPrefix: "docs/new/" }).length, 0);

    // A new version label re-ingests that source's files.
    const docs = f.store.documents().length;
    const relabel = await f.run({ sources: [{ include: ["docs/**", "notes/*.txt"], exclude: ["docs/private/**"], version: "v9" }] });
    assert.deepEqual([relabel.changed, relabel.unchanged], [docs, 0]);
    assert.ok(f.store.chunks().every((c) => c.version === "v9"));

    // Changing the chunking config re-chunks everything.
    const sources = [{ include: ["docs/**", "notes/*.txt"], exclude: ["docs/private/**"], version: "v9" }];
    const rechunk = await f.run({ sources, chunking: { ...CHUNKING, maxTokens: 40, overlapTokens: 5 } });
    assert.deepEqual([rechunk.added, rechunk.changed, rechunk.unchanged, rechunk.removed], [0, docs, 0, 0]);
    assert.ok(f.store.chunks().every((c) => c.tokens <= 40));
    const same = await f.run({ sources, chunking: { ...CHUNKING, maxTokens: 40, overlapTokens: 5 } });
    assert.deepEqual([same.changed, same.unchanged], [0, docs]);
    // maxFileBytes only decides skipping; it is not part of the chunking hash.
    const bigger = await f.run({ sources, chunking: { ...CHUNKING, maxTokens: 40, overlapTokens: 5, maxFileBytes: 10_000_000 } });
    assert.deepEqual([bigger.added, bigger.changed], [1, 0]);
    assert.ok(f.store.documents().some((d) => d.path === "docs/huge.md"));
  } finally {
    f.cleanup();
  }
});

test("a batch that fails inside the transaction leaves the previous index intact", async () => {
  const f = fixture();
  try {
    await f.run();
    const snapshot = { docs: f.store.documents(), chunks: f.store.chunks(), gen: f.store.generation(), hash: f.store.getMeta("chunking_hash") };
    write(f.root, "docs/a.md", mdDoc("alpha", 8));
    unlinkSync(join(f.root, "docs/b.md"));
    write(f.root, "docs/z.md", mdDoc("zeta", 2));
    // Wrap the real store: the batch's metadata fails to enumerate, which SQLite sees after the
    // deletes and inserts of the same transaction already ran.
    const failing: Store = Object.create(f.store);
    failing.applyIngest = (batch) => {
      assert.ok(batch.upserts.length > 0 && batch.removals.length > 0);
      const meta = new Proxy({}, { ownKeys: () => { throw new Error("injected failure after the writes"); } });
      f.store.applyIngest({ ...batch, meta });
    };
    await assert.rejects(f.run({ store: failing, chunking: { ...CHUNKING, maxTokens: 60, overlapTokens: 10 } }), /injected failure/);
    assert.deepEqual(f.store.documents(), snapshot.docs);
    assert.deepEqual(f.store.chunks(), snapshot.chunks);
    assert.equal(f.store.generation(), snapshot.gen);
    assert.equal(f.store.getMeta("chunking_hash"), snapshot.hash);
    // And the next ordinary run picks up all the changes.
    const next = await f.run();
    assert.deepEqual([next.added, next.changed, next.removed], [1, 1, 1]);
  } finally {
    f.cleanup();
  }
});

// ---------------------------------------------------------------------------------------------
// Real crash: a child process ingests into a file store and is SIGKILLed.

function corpus(root: string, files: number, variant: string, pad = 0): void {
  // `pad` bloats the front matter, which every chunk carries in its meta: a cheap way to make a
  // transaction larger than SQLite's page cache, so uncommitted pages spill into the WAL file.
  const fm = pad ? `---\npad: ${"x".repeat(pad)}\n---\n` : "";
  for (let i = 0; i < files; i++) {
    const body = Array.from({ length: 12 }, (_, s) => `## Section ${s}\n\n${`File ${i} ${variant} section ${s} describes a distinct behaviour of the product. `.repeat(12)}\n`).join("\n");
    write(root, `corpus/f${String(i).padStart(4, "0")}.md`, `${fm}# File ${i} ${variant}\n\n${body}`);
  }
}

const CHILD = (ingestUrl: string, storeUrl: string) => `
import { writeSync } from "node:fs";
import { ingestProject } from ${JSON.stringify(ingestUrl)};
import { openStore } from ${JSON.stringify(storeUrl)};
const [root, file, mode, chunking] = process.argv.slice(2);
const real = openStore(file);
const store = Object.create(real);
store.applyIngest = (batch) => {
  writeSync(1, "APPLY\\n");
  if (mode === "mid") {
    // Announce from inside the transaction, half-way through the upserts, then hang until killed.
    const half = Math.floor(batch.upserts.length / 2);
    batch = { ...batch, upserts: batch.upserts.map((u, i) => i !== half ? u : { doc: u.doc, get chunks() {
      writeSync(1, "MID\\n");
      for (const end = Date.now() + 120000; Date.now() < end; );
      return u.chunks;
    } }) };
  }
  real.applyIngest(batch);
  writeSync(1, "COMMITTED\\n");
};
await ingestProject({ root, sources: [{ include: "corpus/**/*.md", exclude: [], version: "v1" }], chunking: JSON.parse(chunking), store });
real.close();
writeSync(1, "DONE\\n");
`;

/** Run the child; SIGKILL it `delayMs` after it prints `killOn` (never, for Infinity). */
function runChild(script: string, args: string[], killOn: string, delayMs: number): Promise<{ signal: NodeJS.Signals | null; out: string; applyMs?: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let armed = false;
    let applyAt = 0;
    let applyMs: number | undefined;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      if (!applyAt && lines.includes("APPLY")) applyAt = performance.now();
      if (applyAt && applyMs === undefined && lines.includes("COMMITTED")) applyMs = performance.now() - applyAt;
      if (!armed && lines.includes(killOn) && Number.isFinite(delayMs)) {
        armed = true;
        setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`child failed (${code}): ${err}`));
      else resolvePromise({ signal, out, applyMs });
    });
  });
}

function stateOf(file: string) {
  const store = openStore(file);
  try {
    const chunks = store.chunks();
    return { docs: store.documents(), chunks, gen: store.generation() };
  } finally {
    store.close();
  }
}

/** Ingest an "old" corpus in-process, then rewrite it as a bigger "new" one for the child to ingest. */
async function crashSetup(oldFiles: number, newFiles: number, pad: number, chunking: typeof CHUNKING) {
  const root = mkdtempSync(join(tmpdir(), "ragtune-crash-"));
  const base = join(root, "base.db");
  corpus(root, oldFiles, "old", pad);
  const store = openStore(base);
  await ingestProject({ root, sources: [{ include: "corpus/**/*.md", exclude: [], version: "v1" }], chunking, store });
  store.close();
  const old = stateOf(base);
  corpus(root, newFiles, "new", pad);
  const script = join(root, "child.mjs");
  const url = (p: string) => new URL(p, `file://${REPO}/`).href;
  writeFileSync(script, CHILD(url("src/ingest/index.ts"), url("src/store/index.ts")));
  const newHash = (path: string) => createHash("sha256").update(readFileSync(join(root, path))).digest("hex");

  /** The store must hold exactly the old state, or exactly the complete new one. */
  const classify = (s: ReturnType<typeof stateOf>, label: string): "old" | "new" => {
    if (s.gen === old.gen) {
      assert.deepEqual(s.docs, old.docs, `${label}: old generation must mean old documents`);
      assert.deepEqual(s.chunks, old.chunks, `${label}: old generation must mean old chunks`);
      return "old";
    }
    assert.equal(s.gen, old.gen + 1, label);
    assert.equal(s.docs.length, newFiles, label);
    const byPath = new Map<string, number[]>();
    for (const c of s.chunks) {
      assert.ok(c.text.includes(" new section") || c.text.includes(" new\n"), `${label}: ${c.id} is a new chunk`);
      byPath.set(c.path, [...(byPath.get(c.path) ?? []), c.ordinal]);
    }
    for (const d of s.docs) {
      assert.equal(d.hash, newHash(d.path), `${label}: ${d.path} is the new file`);
      assert.deepEqual(byPath.get(d.path), Array.from({ length: d.chunks }, (_, i) => i), `${label}: ${d.path} chunks complete`);
    }
    assert.equal(s.chunks.length, s.docs.reduce((n, d) => n + d.chunks, 0));
    return "new";
  };
  return { root, base, script, old, classify, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test("SIGKILL inside the ingest transaction, after pages spilled to the WAL, leaves the old index", { timeout: 240_000 }, async () => {
  const chunking = { ...CHUNKING, maxTokens: 40, overlapTokens: 5, maxFileBytes: 1_000_000 };
  const c = await crashSetup(60, 400, 2500, chunking);
  try {
    const file = join(c.root, "mid.db");
    copyFileSync(c.base, file);
    const r = await runChild(c.script, [c.root, file, "mid", JSON.stringify(chunking)], "MID", 0);
    assert.equal(r.signal, "SIGKILL");
    assert.ok(!r.out.includes("COMMITTED"));
    // Proof that the kill hit a half-written transaction, not one that never touched the disk.
    assert.ok(statSync(`${file}-wal`).size > 1_000_000, "the aborted transaction had spilled into the WAL");
    assert.equal(c.classify(stateOf(file), "mid-transaction kill"), "old");
    // The recovered index accepts the next ingest normally.
    const store = openStore(file);
    const stats = await ingestProject({ root: c.root, sources: [{ include: "corpus/**/*.md", exclude: [], version: "v1" }], chunking, store });
    store.close();
    assert.deepEqual([stats.added, stats.changed], [340, 60]);
    assert.equal(c.classify(stateOf(file), "after recovery"), "new");
  } finally {
    c.cleanup();
  }
});

test("SIGKILL at any moment around the commit leaves the old index or the new one, never a mix", { timeout: 240_000 }, async (t) => {
  const chunking = { ...CHUNKING, maxTokens: 80, overlapTokens: 10, maxFileBytes: 1_000_000 };
  const c = await crashSetup(150, 600, 0, chunking);
  try {
    assert.ok(c.old.chunks.length > 2000);
    // An uninterrupted run tells how long the transaction takes; then kill across that span.
    const full = join(c.root, "full.db");
    copyFileSync(c.base, full);
    const clean = await runChild(c.script, [c.root, full, "plain", JSON.stringify(chunking)], "APPLY", Infinity);
    assert.ok(clean.out.includes("DONE") && clean.applyMs !== undefined);
    assert.equal(c.classify(stateOf(full), "uninterrupted"), "new");
    const outcomes: string[] = [];
    for (const fraction of [0, 0.3, 0.6, 0.9, 1.2]) {
      const delay = Math.round(clean.applyMs! * fraction);
      const file = join(c.root, `run-${fraction}.db`);
      copyFileSync(c.base, file);
      const run = await runChild(c.script, [c.root, file, "plain", JSON.stringify(chunking)], "APPLY", delay);
      const outcome = c.classify(stateOf(file), `kill ${delay} ms after apply started`);
      if (run.out.includes("COMMITTED")) assert.equal(outcome, "new");
      outcomes.push(`${delay}ms:${outcome}${run.signal ? "" : "(exited)"}`);
    }
    t.diagnostic(`crash outcomes (apply took ${Math.round(clean.applyMs!)} ms): ${outcomes.join(", ")}`);
  } finally {
    c.cleanup();
  }
});
