/**
 * The fast query path (typed scratch buffers, heap selection, the reranker's fused loop, the
 * pipeline's hit reuse) must return exactly what a straightforward implementation returns: the
 * same top-100 chunks, in the same order, with bit-identical scores.
 *
 * The reference here is deliberately naive: BM25F scored for every chunk from the per-chunk term
 * statistics with the formula in bm25.ts's module comment (posting weights rounded to float32 as
 * the index stores them, terms summed in query order), sorted by a plain comparator; the offline
 * reranker's features computed by `candidateFeatures` without index-time tokens, combined by
 * `combineFeatures` and ordered by a stable sort. If the BM25 formula or the reranker's features
 * change on purpose, this reference changes with them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { analyzeChunks } from "../src/retrieve/lexical-cache.ts";
import { contentTokens, tokenize } from "../src/retrieve/tokenize.ts";
import { candidateFeatures, combineFeatures, DEFAULT_OFFLINE_WEIGHTS, OfflineReranker } from "../src/retrieve/rerank/offline.ts";
import { buildRagtuneRetriever, defaultRetrievalConfig } from "../src/bench/retrieval.ts";

const DEPTH = 100;
const RERANKED = 30;

/** A deterministic corpus: Zipf-ish words, stop words, compounds, headings, many tied scores. */
function syntheticCorpus(n: number, seed: number): { chunks: Chunk[]; queries: string[] } {
  let x = seed >>> 0;
  const rnd = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x / 2 ** 32;
  };
  const base = ["refund", "the", "annual", "plan", "cards", "of", "trash", "retention", "days", "auto-install-peers", "autoInstallPeers", "v2.1", "is", "and", "payment", "window", "restore", "admins", "billing", "setup", "npmrc", "upgrade", "within", "peer", "deleted", "a", "to", "Running", "runs", "what", "who", "1,000", "user's", "café"];
  const words = [...base, ...Array.from({ length: 150 }, (_, i) => `w${i.toString(36)}q`)];
  const pick = () => words[Math.min(words.length - 1, Math.floor(words.length ** rnd() - 1))];
  const phrase = (len: number) => Array.from({ length: len }, pick).join(" ");
  const chunks: Chunk[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rnd() * 60);
    const title = phrase(1 + Math.floor(rnd() * 3));
    const headingPath = rnd() < 0.4 ? [title, phrase(2)] : rnd() < 0.5 ? [phrase(1)] : [];
    chunks.push({ id: `c${i}`, path: `doc${i % 9}.md`, ordinal: i, title, headingPath, text: phrase(len), lineStart: 1, lineEnd: 1, version: "", tokens: len, meta: {} });
  }
  const queries = Array.from({ length: 120 }, () => phrase(1 + Math.floor(rnd() * 9)));
  queries.push("the of a", "nothing matches zzz", "refund refund annual", "who is the", "Auto-Install-Peers v2.1 setup", "");
  return { chunks, queries };
}

type Ranked = [string, number][];

/** BM25F scored for every chunk, straight from the term statistics (headingB "body"). */
function referenceBm25(chunks: Chunk[], options: { k1: number; b: number; headingBoost: number }) {
  const stats = analyzeChunks(chunks);
  const n = chunks.length;
  const df = new Map<number, number>();
  for (let e = 0; e < stats.entryTerm.length; e++) df.set(stats.entryTerm[e], (df.get(stats.entryTerm[e]) ?? 0) + 1);
  const idOf = new Map<string, number>();
  stats.terms.forEach((t, i) => (df.get(i) ? idOf.set(t, i) : undefined));
  let totalBody = 0;
  for (let d = 0; d < n; d++) totalBody += stats.bodyLen[d];
  const avg = totalBody / n;
  const { k1, b, headingBoost } = options;
  return (query: string, k: number): { chunk: Chunk; score: number }[] => {
    let terms = contentTokens(query);
    if (terms.length === 0) terms = tokenize(query);
    const ids = [...new Set(terms)].map((t) => idOf.get(t)).filter((id): id is number => id !== undefined);
    const scored: { d: number; score: number }[] = [];
    for (let d = 0; d < n; d++) {
      const normBody = 1 - b + (avg > 0 ? (b * stats.bodyLen[d]) / avg : 0);
      let score = 0;
      for (const id of ids) {
        let tf = 0;
        for (let e = stats.docStart[d]; e < stats.docStart[d + 1]; e++) if (stats.entryTerm[e] === id) tf = stats.entryBody[e] + headingBoost * stats.entryHead[e];
        if (tf <= 0) continue;
        const weight = Math.fround((tf * (k1 + 1)) / (tf + k1 * normBody));
        const idf = Math.log(1 + (n - df.get(id)! + 0.5) / (df.get(id)! + 0.5));
        if (idf * weight > 0) score += idf * weight;
      }
      if (score > 0) scored.push({ d, score });
    }
    scored.sort((p, q) => q.score - p.score || p.d - q.d);
    return scored.slice(0, k).map(({ d, score }) => ({ chunk: chunks[d], score }));
  };
}

/** The offline reranker by its definition: features, linear combination, stable sort by score. */
function referenceRerank(query: string, hits: Hit[], idf: (t: string) => number): { chunk: Chunk; score: number }[] {
  const scores = candidateFeatures(query, hits, idf).map((f) => combineFeatures(f, DEFAULT_OFFLINE_WEIGHTS));
  return hits
    .map((h, i) => ({ chunk: h.chunk, score: scores[i], i }))
    .sort((p, q) => q.score - p.score || p.i - q.i)
    .map(({ chunk, score }) => ({ chunk, score }));
}

const ranked = (hits: readonly { chunk: Chunk; score: number }[]): Ranked => hits.map((h) => [h.chunk.id, h.score]);

const { chunks, queries } = syntheticCorpus(500, 7);
const config = { ...defaultRetrievalConfig(), collapseVersions: false };
const bm25Options = { k1: config.k1, b: config.b, headingBoost: config.headingBoost };
const reference = referenceBm25(chunks, bm25Options);

test("BM25 top k equals the brute-force reference (ids, order, bit-identical scores)", () => {
  const index = new Bm25Index(chunks, { ...bm25Options, pruning: false });
  let compared = 0;
  for (const q of queries) {
    for (const k of [1, 10, DEPTH, 1000]) {
      const got = index.search(q, { k });
      assert.deepEqual(ranked(got), ranked(reference(q, k)), `k ${k}: ${JSON.stringify(q)}`);
      assert.deepEqual(
        got.map((h) => h.rank),
        got.map((_, i) => i + 1),
      );
      compared += got.length;
    }
  }
  assert.ok(compared > 10_000, `compared ${compared} hits`);
});

test("offline rerank equals the reference (features, combination, stable order)", () => {
  const index = new Bm25Index(chunks, { ...bm25Options, rerankTokens: true });
  const idf = (t: string) => index.idf(t);
  const reranker = new OfflineReranker({ idf, tokens: index.rerankTokens() });
  let reordered = 0;
  for (const q of queries) {
    const head = index.search(q, { k: RERANKED });
    const got = reranker.rerankSync(q, head, RERANKED);
    const want = referenceRerank(q, head, idf);
    assert.deepEqual(ranked(got), ranked(want), JSON.stringify(q));
    assert.deepEqual(ranked(reranker.rerankSync(q, head, 7)), ranked(want.slice(0, 7)));
    if (got.some((h, i) => h.chunk !== head[i].chunk)) reordered++;
  }
  assert.ok(reordered > 20, `the reranker reordered ${reordered} queries`);
});

test("the benchmark's pipeline (BM25 top 100, top 30 reranked) equals the reference composition", async () => {
  const searcher = await buildRagtuneRetriever(chunks, { retrieval: config });
  const index = new Bm25Index(chunks, bm25Options);
  const idf = (t: string) => index.idf(t);
  for (const q of queries) {
    const first = reference(q, DEPTH);
    const head = first.slice(0, RERANKED).map((h, i) => ({ ...h, rank: i + 1 }));
    const want = [...referenceRerank(q, head, idf), ...first.slice(RERANKED)];
    const got = await searcher.search(q, { k: DEPTH });
    assert.deepEqual(ranked(got), ranked(want), JSON.stringify(q));
    assert.deepEqual(
      got.map((h) => h.rank),
      got.map((_, i) => i + 1),
    );
    // A smaller k is the prefix of the same ranking.
    assert.deepEqual(ranked(await searcher.search(q, { k: 5 })), ranked(want.slice(0, 5)));
  }
});
