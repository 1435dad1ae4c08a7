/**
 * Lookups keyed by document text (issue 9 part 1, ingest half): file names, front matter keys and
 * values, headings, titles and body words that are Object.prototype names, JS reserved words or
 * random Unicode go through loading, chunking, term statistics and the store like any other text.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ingestProject } from "../src/ingest/index.ts";
import { openStore } from "../src/store/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { mulberry32 } from "../src/util/rng.ts";

const PROTO = Object.getOwnPropertyNames(Object.prototype);
const RESERVED = ["break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null", "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield", "let", "static", "implements", "interface", "package", "private", "protected", "public", "await", "arguments", "eval", "undefined", "NaN", "Infinity", "prototype", "then"];

function randomUnicode(rand: () => number, length: number): string {
  let s = "";
  while (s.length < length) {
    const cp = Math.floor(rand() * 0x2ffff);
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20) continue;
    s += String.fromCodePoint(cp);
  }
  return s;
}

test("Object.prototype names, reserved words and random Unicode as names, keys, headings and words", async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-proto-"));
  const store = openStore(join(root, ".ragtune/index.db"));
  try {
    const rand = mulberry32(7);
    const words = [...PROTO, ...RESERVED];
    mkdirSync(join(root, "docs"));
    const noise = Array.from({ length: 20 }, () => randomUnicode(rand, 12));
    for (const [i, name] of words.entries()) {
      const yamlKeys = words.map((w) => `${JSON.stringify(w)}: ${JSON.stringify(w)}`).join("\n");
      const body = `# ${name}\n\n${words.join(" ")} ${name}.\n\n## ${words[(i + 1) % words.length]}\n\n${noise[i % noise.length]} and ${name} again.\n`;
      writeFileSync(join(root, "docs", `${name}.md`), `---\n${yamlKeys}\ntitle: ${JSON.stringify(name)}\n---\n${body}`);
    }
    writeFileSync(join(root, "docs", "noise.txt"), noise.join("\n\n"));
    const stats = await ingestProject({ root, sources: [{ include: "docs/**", exclude: [], version: "constructor" }], chunking: { maxTokens: 300, overlapTokens: 20, headingDepth: 3, minTokens: 0, maxFileBytes: 1_000_000 }, store });
    assert.deepEqual(stats.skipped, []);
    assert.equal(stats.added, words.length + 1);
    const chunks = store.chunks();
    for (const name of words) {
      const own = chunks.filter((c) => c.path === `docs/${name}.md`);
      assert.ok(own.length > 0, name);
      assert.equal(own[0].title, name);
      assert.equal(own[0].headingPath[0], name);
      assert.equal(own[0].version, "constructor");
      // Every key is the document's own data, "__proto__" included; "title" became the title.
      assert.deepEqual(Object.keys(own[0].meta).sort(), [...words].sort(), name);
      for (const w of words) assert.equal(Object.getOwnPropertyDescriptor(own[0].meta, w)?.value, w, `${name}: meta.${w}`);
    }
    const text = chunks.map((c) => c.text).join("\n");
    for (const n of noise) assert.ok(text.includes(n), "random Unicode kept as written");
    const index = Bm25Index.fromStore(store, { k1: 1.2, b: 0.75, headingBoost: 10 });
    for (const name of ["constructor", "__proto__", "hasOwnProperty", "toString", "valueOf", "prototype"]) {
      const hits = index.search(name, { k: 3 });
      assert.ok(hits.length > 0, `${name} is searchable`);
    }
    // A second run sees every document unchanged (paths and hashes matched by Map, not object keys).
    const again = await ingestProject({ root, sources: [{ include: "docs/**", exclude: [], version: "constructor" }], chunking: { maxTokens: 300, overlapTokens: 20, headingDepth: 3, minTokens: 0, maxFileBytes: 1_000_000 }, store });
    assert.equal(again.unchanged, words.length + 1);
  } finally {
    store.close();
    rmSync(root, { recursive: true, force: true });
  }
});
