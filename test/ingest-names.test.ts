/**
 * File names are bytes (src/ingest/names.ts): the stored form is reversible and injective, keeps
 * ordinary names as they are, and carries no control characters; ingest finds, reads and stores
 * files under names a glob library would have reinterpreted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { escapeName, ingestProject, unescapeName } from "../src/ingest/index.ts";
import { openStore } from "../src/store/index.ts";
import { mulberry32 } from "../src/util/rng.ts";

test("escapeName: ordinary names unchanged; random bytes round-trip, never collide, never hold control characters", () => {
  for (const name of ["index.md", "café.md", "日本語.md", "[a].md", "*.md", "a b.md", "-rf.md", "%41.md", "x..y.md", "emoji-😀.md"]) {
    assert.equal(escapeName(Buffer.from(name)), name);
  }
  assert.equal(escapeName(Buffer.from("x\\..\\y.md")), "x\\\\..\\\\y.md");
  assert.equal(escapeName(Buffer.from([0x61, 0xff, 0x0a, 0x62])), "a\\xff\\x0ab");
  assert.equal(escapeName(Buffer.from("\u202eevil")), "\\u202eevil");
  const rand = mulberry32(42);
  const seen = new Map<string, string>();
  const alphabet = [0x5c, 0x78, 0x75, 0x30, 0x66, 0x61, 0x0a, 0x7f, 0xc3, 0xa9, 0xff, 0xe2, 0x80, 0xae, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0x80, 0x2e];
  for (let n = 0; n < 20_000; n++) {
    const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 10) }, () => (rand() < 0.7 ? alphabet[Math.floor(rand() * alphabet.length)] : Math.floor(rand() * 256))));
    const text = escapeName(bytes);
    assert.deepEqual(unescapeName(text), bytes, JSON.stringify(text));
    assert.ok(!/[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]/.test(text), JSON.stringify(text));
    assert.ok(Buffer.from(text, "utf8").toString("utf8") === text, "valid Unicode (stores without loss)");
    const key = bytes.toString("hex");
    const before = seen.get(text);
    assert.ok(before === undefined || before === key, `collision: ${before} and ${key} both → ${text}`);
    seen.set(text, key);
  }
});

test("ingest reads each file by its own name: backslashes, invalid UTF-8 and glob characters are not reinterpreted", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-names-"));
  const root = join(tmp, "project");
  try {
    mkdirSync(join(root, "docs"), { recursive: true });
    mkdirSync(join(tmp, "outside"));
    writeFileSync(join(tmp, "outside", "secret.md"), "# Secret\n\nsecretword outside the project.\n");
    const names: Buffer[] = [Buffer.from("x\\..\\..\\..\\outside\\secret.md"), Buffer.from([0x62, 0xff, 0x2e, 0x6d, 0x64]), Buffer.from("[a].md"), Buffer.from("a.md"), Buffer.from("new\nline.md")];
    names.forEach((name, i) => writeFileSync(Buffer.concat([Buffer.from(`${root}/docs/`), name]), `# Page ${i}\n\nThis is page number${i} of the docs.\n`));
    const store = openStore(":memory:");
    const stats = await ingestProject({ root, sources: [{ include: "docs/**", exclude: [], version: "" }], chunking: { maxTokens: 100, overlapTokens: 10, headingDepth: 3, minTokens: 0, maxFileBytes: 100_000 }, store });
    assert.deepEqual(stats.skipped, []);
    const byPath = new Map(store.chunks().map((c) => [c.path, c.text]));
    names.forEach((name, i) => {
      const path = `docs/${escapeName(name)}`;
      assert.match(byPath.get(path) ?? "", new RegExp(`number${i}\\b`), path);
    });
    assert.ok(![...byPath.values()].some((t) => t.includes("secretword")));
    assert.equal(byPath.size, names.length);
    store.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
