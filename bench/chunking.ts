/**
 * Chunking benchmark: retrieval quality of each chunking strategy × chunk size, with small-to-big
 * off and on, so the default can be picked from evidence.
 *
 *   node --import tsx bench/chunking.ts [--skip-pnpm] [--queries 40] [--seed 7]
 *
 * Every configuration ingests the corpus with `ingestProject` into a fresh `openStore(":memory:")`,
 * indexes the chunks with `Bm25Index` (the project's k1/b/headingBoost), and runs every query for
 * the top 100 hits. Small-to-big "on" expands those hits with `expandToParents` (parents capped at
 * 1,200 tokens) before scoring. Scores use the shared `retrievalScores` (evaluate/scorers.ts):
 * recall@5 of the gold sources, MRR over the returned list. Also reported: chunk count, mean
 * chunk tokens, and ctx@5 = mean tokens of the five returned chunks (what a generator would read;
 * small-to-big trades this for recall), and a paired comparison with the current default
 * (headings, 300 tokens, small-to-big off): queries gained/lost at hit@5 with the exact McNemar p,
 * and the mean reciprocal-rank difference with a paired sign-flip permutation p (20,000 rounds).
 * Ingest times are wall-clock on a shared machine: indicative only.
 *
 * Overlap scales with the size: round(maxTokens × 40/300), the demo's 40 at 300 → 20, 40, 67.
 * Other chunking options are the demo project's (headingDepth 3, minTokens 24; used by `headings`).
 *
 * Datasets:
 * 1. Demo (examples/acme-support, copied to a temp dir): the suite's cases with gold `sources`
 *    (file paths), both doc versions indexed (v1 and v2, as the project does), plain BM25 with
 *    no version collapse — so an archived v1 copy can take a top-5 slot from the gold v2 page.
 * 2. pnpm docs (../shared/datasets/pnpm-docs/docs, current version only; skipped when absent).
 *    There is no question set, so a WEAK PROXY is built: among documents with a level-2+ heading
 *    whose text is unique in the corpus and has at least two content words, `--queries` documents
 *    are drawn with a seeded PRNG, one such heading per document is the query, and the document's
 *    path is the gold source. The heading words appear verbatim in the gold document (and in the
 *    heading field that BM25 boosts), so this measures finding the right page from a topic
 *    phrase, not answering questions; absolute numbers are optimistic, differences are what count.
 *
 * Prints one table per dataset and writes bench/results/chunking.json (atomically).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { glob } from "tinyglobby";
import { loadConfig } from "../src/config/index.ts";
import { ingestProject, type Chunk, type ChunkingOptions, type ChunkingStrategy, type IngestSource } from "../src/ingest/index.ts";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";
import { CHUNKING_STRATEGIES } from "../src/ingest/chunk.ts";
import { openStore } from "../src/store/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { contentTokens } from "../src/retrieve/tokenize.ts";
import { expandToParents } from "../src/retrieve/small-to-big.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { retrievalScores } from "../src/evaluate/scorers.ts";
import { mulberry32 } from "./lib/rng.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEMO = join(ROOT, "examples/acme-support");
const PNPM = resolve(ROOT, "../shared/datasets/pnpm-docs");
const RESULTS = join(ROOT, "bench/results/chunking.json");
const SIZES = [150, 300, 500];
const K = 5;
const CANDIDATES = 100;

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const QUERY_COUNT = Number(option("--queries", "40"));
const SEED = Number(option("--seed", "7"));

interface Query {
  id: string;
  input: string;
  sources: string[];
}

interface Row {
  strategy: ChunkingStrategy;
  maxTokens: number;
  overlapTokens: number;
  smallToBig: boolean;
  chunks: number;
  meanChunkTokens: number;
  recallAt5: number;
  hitAt5: number;
  mrr: number;
  /** Mean tokens of the top-5 returned chunks. */
  ctxTokensAt5: number;
  ingestMs: number;
  /**
   * Paired against the current default (headings, 300, small-to-big off) on the same queries:
   * queries whose gold source this configuration finds in the top 5 and the default does not
   * (gained) and the reverse (lost), with the exact two-sided McNemar p-value.
   */
  vsDefault?: { gained: number; lost: number; p: number; mrrDelta: number; mrrP: number };
}

interface Corpus {
  name: string;
  root: string;
  sources: IngestSource[];
  queries: Query[];
  note: string;
}

/** Exact two-sided McNemar test: binomial(b + c, 1/2) probability of a split at least this uneven. */
function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let logC = 0; // log of C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

/**
 * Paired sign-flip permutation test on per-query differences (two-sided, mean difference):
 * the share of random sign assignments whose |mean| is at least the observed one.
 */
function signFlipP(diffs: number[], rounds = 20_000, seed = 1): number {
  const observed = Math.abs(diffs.reduce((a, b) => a + b, 0));
  if (observed < 1e-12) return 1;
  const rand = mulberry32(seed);
  let extreme = 0;
  for (let r = 0; r < rounds; r++) {
    let sum = 0;
    for (const d of diffs) sum += rand() < 0.5 ? d : -d;
    if (Math.abs(sum) >= observed - 1e-12) extreme++;
  }
  return (extreme + 1) / (rounds + 1);
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;


async function runCorpus(corpus: Corpus, base: Omit<ChunkingOptions, "strategy" | "maxTokens" | "overlapTokens">, bm25: { k1: number; b: number; headingBoost: number }): Promise<Row[]> {
  const rows: Row[] = [];
  const perQuery: number[][] = [];
  const perQueryRr: number[][] = [];
  for (const strategy of CHUNKING_STRATEGIES) {
    for (const maxTokens of SIZES) {
      const overlapTokens = Math.round((maxTokens * 40) / 300);
      const store = openStore(":memory:");
      const t0 = performance.now();
      await ingestProject({ root: corpus.root, sources: corpus.sources, chunking: { ...base, strategy, maxTokens, overlapTokens, maxFileBytes: 5_000_000 }, store });
      const ingestMs = performance.now() - t0;
      const chunks = store.chunks();
      store.close();
      const byPath = new Map<string, Chunk[]>();
      for (const c of chunks) byPath.set(c.path, [...(byPath.get(c.path) ?? []), c]);
      const index = new Bm25Index(chunks, bm25);
      const results = corpus.queries.map((q) => index.search(q.input, { k: CANDIDATES }));
      for (const smallToBig of [false, true]) {
        const scored = results.map((hits, i) => {
          const list: Hit[] = smallToBig ? expandToParents(hits, (p) => byPath.get(p) ?? []) : hits;
          const s = retrievalScores(corpus.queries[i].sources, list.map((h) => h.chunk), K);
          return { ...s, ctx: list.slice(0, K).reduce((t, h) => t + h.chunk.tokens, 0) };
        });
        perQuery.push(scored.map((s) => s.hitAtK));
        perQueryRr.push(scored.map((s) => s.mrr));
        rows.push({
          strategy,
          maxTokens,
          overlapTokens,
          smallToBig,
          chunks: chunks.length,
          meanChunkTokens: round(mean(chunks.map((c) => c.tokens)), 1),
          recallAt5: round(mean(scored.map((s) => s.recallAtK))),
          hitAt5: round(mean(scored.map((s) => s.hitAtK))),
          mrr: round(mean(scored.map((s) => s.mrr))),
          ctxTokensAt5: round(mean(scored.map((s) => s.ctx)), 0),
          ingestMs: Math.round(ingestMs),
        });
      }
      const last = rows.slice(-2);
      process.stderr.write(`  ${corpus.name} ${strategy} ${maxTokens}: ${chunks.length} chunks, recall@5 ${last[0].recallAt5}/${last[1].recallAt5} (s2b off/on)\n`);
    }
  }
  const ref = rows.findIndex((r) => r.strategy === "headings" && r.maxTokens === 300 && !r.smallToBig);
  rows.forEach((r, i) => {
    const gained = perQuery[i].filter((h, q) => h > perQuery[ref][q]).length;
    const lost = perQuery[i].filter((h, q) => h < perQuery[ref][q]).length;
    const diffs = perQueryRr[i].map((rr, q) => rr - perQueryRr[ref][q]);
    r.vsDefault = { gained, lost, p: round(mcnemarExact(gained, lost)), mrrDelta: round(mean(diffs)), mrrP: round(signFlipP(diffs)) };
  });
  return rows;
}

function printTable(name: string, queries: number, rows: Row[]): void {
  console.log(`\n${name} — ${queries} queries, BM25 top ${CANDIDATES}, k = ${K}`);
  const head = ["strategy", "max", "ovl", "s2b", "chunks", "tok/chunk", "recall@5", "MRR", "ctx@5", "hit@5 +/− vs default", "p", "ΔMRR", "p", "ingest ms"];
  const lines = rows.map((r) => [
    r.strategy,
    String(r.maxTokens),
    String(r.overlapTokens),
    r.smallToBig ? "on" : "off",
    String(r.chunks),
    r.meanChunkTokens.toFixed(1),
    r.recallAt5.toFixed(3),
    r.mrr.toFixed(3),
    String(r.ctxTokensAt5),
    `+${r.vsDefault!.gained}/−${r.vsDefault!.lost}`,
    r.vsDefault!.p.toFixed(3),
    (r.vsDefault!.mrrDelta >= 0 ? "+" : "") + r.vsDefault!.mrrDelta.toFixed(3),
    r.vsDefault!.mrrP.toFixed(3),
    String(r.ingestMs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  console.log(fmt(head));
  console.log(`|${widths.map((w, i) => (i < 4 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`);
  for (const l of lines) console.log(fmt(l));
}

/** The demo suite's cases that name gold sources. */
function demoCorpus(dir: string): Corpus {
  const suite = loadSuite(join(dir, "suite.yaml"));
  const queries = suite.cases.filter((c) => (c.sources?.length ?? 0) > 0).map((c) => ({ id: c.id, input: c.input, sources: c.sources! }));
  const { config } = loadConfig(join(dir, "ragtune.yaml"));
  return {
    name: "acme-support",
    root: dir,
    sources: config.sources.map((s) => ({ include: s.include, exclude: s.exclude, version: s.version })),
    queries,
    note: "suite cases with gold sources; v1 and v2 docs indexed; plain BM25, no version collapse",
  };
}

/** pnpm docs (current version) with the heading-as-query proxy described at the top of this file. */
async function pnpmCorpus(): Promise<Corpus | undefined> {
  if (!existsSync(join(PNPM, "docs"))) return undefined;
  const paths = (await glob("docs/**/*.{md,mdx}", { cwd: PNPM })).sort();
  const headingsByDoc = new Map<string, string[]>();
  const seen = new Map<string, number>();
  for (const path of paths) {
    const doc = loadMarkdown(readFileSync(join(PNPM, path), "utf8"), path);
    const headings = doc.sections.filter((s) => (s.level ?? s.headingPath.length) >= 2 && s.headingPath.length > 0).map((s) => s.headingPath[s.headingPath.length - 1]);
    headingsByDoc.set(path, headings);
    for (const h of new Set(headings.map((x) => x.toLowerCase()))) seen.set(h, (seen.get(h) ?? 0) + 1);
  }
  const usable = (h: string) => seen.get(h.toLowerCase()) === 1 && contentTokens(h).length >= 2;
  const candidates = paths.filter((p) => headingsByDoc.get(p)!.some(usable));
  const rand = mulberry32(SEED);
  // Fisher–Yates with the seeded PRNG.
  const order = [...candidates];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const queries = order.slice(0, QUERY_COUNT).map((path) => {
    const hs = headingsByDoc.get(path)!.filter(usable);
    const heading = hs[Math.floor(rand() * hs.length)];
    return { id: `${path}#${heading}`, input: heading, sources: [path] };
  });
  return {
    name: "pnpm-docs",
    root: PNPM,
    sources: [{ include: "docs/**/*.{md,mdx}", exclude: [], version: "" }],
    queries,
    note: `WEAK PROXY: ${queries.length} of ${candidates.length} eligible docs (seed ${SEED}); query = a unique level-2+ heading with ≥ 2 content words, gold = its document path`,
  };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-chunking-"));
  const demoDir = join(tmp, "acme-support");
  cpSync(DEMO, demoDir, { recursive: true, filter: (src) => !src.includes(`${join(DEMO, ".ragtune")}`) && !src.includes(join(DEMO, "runs")) });
  const { config } = loadConfig(join(demoDir, "ragtune.yaml"));
  const { headingDepth, minTokens } = config.chunking;
  const bm25 = { k1: config.retrieval.k1, b: config.retrieval.b, headingBoost: config.retrieval.headingBoost };
  const out: Record<string, unknown> = {};
  try {
    const corpora: (Corpus | { name: string; skipped: string })[] = [demoCorpus(demoDir)];
    if (args.includes("--skip-pnpm")) corpora.push({ name: "pnpm-docs", skipped: "--skip-pnpm" });
    else corpora.push((await pnpmCorpus()) ?? { name: "pnpm-docs", skipped: `${PNPM} not found` });
    for (const corpus of corpora) {
      if ("skipped" in corpus) {
        console.log(`\n${corpus.name}: skipped (${corpus.skipped})`);
        out[corpus.name] = { skipped: corpus.skipped };
        continue;
      }
      const rows = await runCorpus(corpus, { headingDepth, minTokens }, bm25);
      printTable(corpus.name, corpus.queries.length, rows);
      out[corpus.name] = { queries: corpus.queries.length, note: corpus.note, rows, queryIds: corpus.name === "pnpm-docs" ? corpus.queries.map((q) => q.id) : undefined };
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const result = {
    generatedAt: new Date().toISOString(),
    command: `node --import tsx bench/chunking.ts ${args.join(" ")}`.trim(),
    node: process.version,
    retrieval: { ...bm25, candidates: CANDIDATES, k: K, smallToBigMaxTokens: 1200 },
    chunking: { headingDepth, minTokens, sizes: SIZES, overlap: "round(maxTokens × 40/300)" },
    datasets: out,
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  const tmpFile = `${RESULTS}.${process.pid}.tmp`;
  writeFileSync(tmpFile, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(tmpFile, RESULTS);
  console.log(`\nwrote ${RESULTS}`);
}

await main();
