/**
 * The offline reranker's chunk tokens computed at index time (rerank-tokens.ts) must give exactly
 * the rankings of the first-touch path (tokenizing each candidate when a query first reaches it):
 * same chunks, same order, same scores — in memory, from the store's persisted sequences, and on a
 * real BEIR sample when the shared datasets are present.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Chunk } from "../src/ingest/index.ts";
import { ingestProject } from "../src/ingest/ingest.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { OfflineReranker } from "../src/retrieve/rerank/offline.ts";
import { ChunkTokenTable } from "../src/retrieve/rerank-tokens.ts";
import { analyzeChunks, decodeContent, encodeContent } from "../src/retrieve/lexical-cache.ts";
import { openStore } from "../src/store/index.ts";
import { loadBeir } from "../src/bench/beir.ts";
import { beirChunk } from "../src/bench/retrieval.ts";

const opts = { k1: 1.5, b: 0.75, headingBoost: 10 };

/** A deterministic corpus with repeated terms, stop words, compounds and headings. */
function syntheticChunks(n: number, seed = 11): { chunks: Chunk[]; queries: string[] } {
  let x = seed;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const words = ["refund", "the", "annual", "plan", "cards", "of", "trash", "retention", "days", "auto-install-peers", "autoInstallPeers", "v2.1", "is", "and", "payment", "window", "restore", "admins", "billing", "setup", "npmrc", "upgrade", "within", "peer", "deleted", "a", "to"];
  const pick = () => words[Math.floor(rnd() * words.length)];
  const chunks: Chunk[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(rnd() * 40);
    const text = Array.from({ length: len }, pick).join(" ");
    const title = `${pick()} ${pick()}`;
    const headingPath = rnd() < 0.5 ? [title, `${pick()} ${pick()}`] : [`${pick()}`];
    chunks.push({ id: `c${i}`, path: `doc${i % 7}.md`, ordinal: i, title, headingPath, text, lineStart: 1, lineEnd: 1, version: "", tokens: len, meta: {} });
  }
  const queries = Array.from({ length: 60 }, () => Array.from({ length: 1 + Math.floor(rnd() * 5) }, pick).join(" "));
  queries.push("the of a", "nothing matches zzz", "refund refund annual");
  return { chunks, queries };
}

type Ranked = [string, number][];

/** Rerank every query's top 30; with `tokens`, asserts every candidate was served from the index's table. */
function rerankAll(index: Bm25Index, queries: string[], tokens: boolean): Ranked[] {
  const source = index.rerankTokens();
  let served = 0;
  let asked = 0;
  const counted = source && {
    termId: (t: string) => source.termId(t),
    tokensOf: (c: Chunk) => {
      asked++;
      const tok = source.tokensOf(c);
      if (tok) served++;
      return tok;
    },
  };
  const reranker = new OfflineReranker({ idf: (t) => index.idf(t), tokens: tokens ? counted : undefined });
  const out = queries.map((q) => reranker.rerankSync(q, index.search(q, { k: 30 }), 30).map((h): [string, number] => [h.chunk.id, h.score]));
  if (tokens) {
    assert.ok(asked > 0 && served === asked, `every candidate served from the table (${served}/${asked})`);
  }
  return out;
}

test("content sequences round-trip through their encoding", () => {
  const body = [0, 5, 127, 128, 2 ** 20, 5];
  const head = [3, 2 ** 28];
  const got: [number, boolean][] = [];
  decodeContent(encodeContent(body, head), (id, inHead) => got.push([id, inHead]));
  assert.deepEqual(got, [...body.map((id): [number, boolean] => [id, false]), ...head.map((id): [number, boolean] => [id, true])]);
  assert.throws(() => decodeContent(new Uint8Array(0), () => {}), /empty/);
  assert.throws(() => decodeContent(encodeContent([1, 2, 3], []).subarray(0, 2), () => {}), /truncated/);
});

test("the token table groups positions by term, ascending, as the first-touch path did", () => {
  const corpus = analyzeChunks([{ text: "refund plan refund the refund annual plan", title: "Billing", headingPath: ["Billing", "Refund refund"] }], true);
  const table = new ChunkTokenTable(corpus.content!);
  const tok = table.tokensOf(0);
  const name = (id: number) => corpus.terms[id];
  // content tokens: refund plan refund refund annual plan ("the" is a stop word)
  const byTerm = Object.fromEntries([...tok.terms].map((id, j) => [name(id), [...tok.positions.subarray(tok.start[j], tok.start[j + 1])]]));
  assert.deepEqual(byTerm, { refund: [0, 2, 3], plan: [1, 5], annual: [4] });
  assert.deepEqual([...tok.terms], [...tok.terms].sort((a, b) => a - b));
  assert.deepEqual([...tok.head].map(name), ["bill", "refund", "refund"]);
  assert.deepEqual([...tok.headSet].map(name), ["bill", "refund"]);
  assert.ok(table.bytes > 0);
});

test("rankings with index-time tokens equal the first-touch rankings (synthetic corpus)", () => {
  const { chunks, queries } = syntheticChunks(400);
  const index = new Bm25Index(chunks, { ...opts, rerankTokens: true });
  assert.ok(index.rerankTokens(), "index built with rerank tokens");
  const before = rerankAll(new Bm25Index(chunks, opts), queries, false);
  const after = rerankAll(index, queries, true);
  assert.deepEqual(after, before);
  assert.ok(after.some((r) => r.length > 1), "queries rank several chunks");
  // Copies of the chunk objects (same id and text) are found too; a changed text is not.
  const source = index.rerankTokens()!;
  assert.ok(source.tokensOf({ ...chunks[3] }));
  assert.equal(source.tokensOf({ ...chunks[3], text: chunks[3].text + " extra" }), undefined);
  assert.equal(new Bm25Index(chunks, opts).rerankTokens(), undefined);
});

test("rankings from the store's persisted sequences equal the first-touch rankings", async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-rerank-tokens-"));
  try {
    const w = (p: string, s: string) => {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), s);
    };
    w("docs/billing.md", "# Billing\n\n## Refunds\n\nAnnual plans can be refunded within 30 days of payment.\n\n## Cards\n\nWe accept Visa and Mastercard cards for annual plans.\n");
    w("docs/trash.md", "# Trash\n\n## Retention\n\nDeleted cards stay in the trash for 60 days. Admins restore deleted cards from the trash page.\n");
    w("docs/setup.md", "# Setup\n\nSet `auto-install-peers=true` (autoInstallPeers) in .npmrc, then upgrade to v2.1 for refunds.\n");
    const store = openStore(join(root, ".ragtune/index.db"));
    const chunking = { strategy: "headings" as const, maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 0, maxFileBytes: 1_000_000 };
    await ingestProject({ root, sources: [{ include: "docs/**/*.md", exclude: [], version: "v1" }], chunking, store });
    const rows = store.lexicalRows().rows;
    assert.ok(rows.length >= 4, `${rows.length} chunks`);
    assert.ok(rows.every((r) => r.content && r.content.length > 0), "every row has its content sequence");
    const fromStore = Bm25Index.fromStore(store, { ...opts, rerankTokens: true });
    const fresh = new Bm25Index(store.chunks(), opts);
    const queries = ["refund annual plan", "deleted cards trash", "autoInstallPeers", "cards", "how many days refund", "the"];
    assert.deepEqual(rerankAll(fromStore, queries, true), rerankAll(fresh, queries, false));
    store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const HOTPOT = join(import.meta.dirname, "../../shared/datasets/hotpotqa-dev500");
const HOTPOT_ALT = "/work/shared/datasets/hotpotqa-dev500";
const hotpot = [HOTPOT, HOTPOT_ALT].find((d) => existsSync(join(d, "corpus.jsonl")));

test("rankings with index-time tokens equal the first-touch rankings on HotpotQA (200 queries)", { skip: hotpot ? false : "hotpotqa-dev500 not present" }, () => {
  const data = loadBeir(hotpot!, "test");
  const chunks = data.corpus.map(beirChunk);
  const queries = data.queries.slice(0, 200).map((q) => q.text);
  assert.deepEqual(rerankAll(new Bm25Index(chunks, { ...opts, rerankTokens: true }), queries, true), rerankAll(new Bm25Index(chunks, opts), queries, false));
});
