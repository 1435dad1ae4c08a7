/**
 * Synthetic scale run of ragtune's BM25 index: build time, memory per chunk and query throughput
 * at 10k / 100k / 1M chunks.
 *
 *   node --expose-gc --max-old-space-size=16384 --import tsx bench/scale.ts --n 1m [--queries 1000] [--k 10] [--seed 7]
 *
 * Corpus (deterministic for a seed): a vocabulary of 50,000 words — the ~150 commonest English
 * function words first (they are the head of any real Zipf curve; the tokenizer drops them from
 * queries), then pronounceable synthetic words, shorter ones more frequent — drawn with a Zipf
 * distribution (s = 1). Each chunk has a 2–4 word title, a heading path [title, 2–4 word
 * section] and 60–200 words of body in 8–20 word sentences (capitalised, full stops, the odd
 * comma), with ~1% numbers and ~0.5% hyphenated identifiers (`foo-bar`) so the tokenizer's
 * compound path is exercised too.
 *
 * Queries: 1,000, each 2–6 distinct words picked uniformly from the distinct words of one random
 * chunk (so every query has a match, and frequent words are common but do not dominate).
 *
 * Measured: generation time; index build wall and CPU time (CPU time is steadier on a shared
 * machine); RSS, V8 heap used and external (typed arrays)
 * memory before and after the build, each after a full GC, and the peak RSS (getrusage maxrss);
 * index bytes per chunk = Δ(heap used + external) / N (the chunk texts are input, allocated before
 * the first sample and kept by the caller); QPS and p50/p95 latency of `search(query, {k})` over
 * the 1,000 queries after an untimed 50-query warm-up on other queries, single-threaded, also as
 * queries per CPU-second — with MaxScore pruning and exhaustive, on the same index, pair by pair
 * (each query runs both ways in turn, in alternating order, so both see the same machine load);
 * every pruned result is checked equal to the exhaustive one.
 * Prints a summary and writes bench/results/scale-<n>.json.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import type { Chunk } from "../src/ingest/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { collectGarbage, percentile } from "../src/bench/retrieval.ts";
import { mulberry32 } from "./lib/rng.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
/** "10k" → 10000, "1m" → 1000000. */
function count(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(v.trim());
  if (!m) throw new Error(`--n: expected a count like 10000, 100k or 1m, got '${v}'`);
  const n = Number(m[1]) * (m[2].toLowerCase() === "k" ? 1e3 : m[2].toLowerCase() === "m" ? 1e6 : 1);
  return Math.round(n);
}
const N = count(option("--n", "10k"));
const QUERIES = count(option("--queries", "1000"));
const K = Number(option("--k", "10"));
const SEED = Number(option("--seed", "7"));
const VOCAB = 50_000;
const ZIPF_S = 1.0;

// ---------------------------------------------------------------------------------------------
// Deterministic generator

const rand = mulberry32(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

// English function words in rough frequency order: the head of the Zipf curve.
const FUNCTION_WORDS = (
  "the of and to a in is that for it as was with be by on not he this are or his from at which but have an they you were " +
  "her she there been one all we their has would when if so no more can who will what about up out them some than into " +
  "its only other then these two may any do could our also most over such after first between through where those should " +
  "how each because while both being under before same very just did does had own down off again few here why once until " +
  "against above below during further nor too now him me my i your yours us am having doing itself themselves ourselves"
).split(" ");

function buildVocabulary(): string[] {
  const onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "cl", "dr", "gr", "pl", "st", "tr", "sh", "ch", "th"];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"];
  const codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"];
  const words = new Set<string>(FUNCTION_WORDS);
  const synthetic: string[] = [];
  while (words.size < VOCAB) {
    const syllables = 1 + Math.floor(rand() * rand() * 4) + (rand() < 0.6 ? 1 : 0);
    let w = "";
    for (let s = 0; s < syllables; s++) w += onsets[int(0, onsets.length - 1)] + vowels[int(0, vowels.length - 1)] + codas[int(0, codas.length - 1)];
    if (w.length < 3 || words.has(w)) continue;
    words.add(w);
    synthetic.push(w);
  }
  // Shorter words are the more frequent ones, as in natural language (stable: ties keep draw order).
  synthetic.sort((a, b) => a.length - b.length);
  return [...FUNCTION_WORDS, ...synthetic];
}

/** Cumulative Zipf distribution over ranks 1..VOCAB. */
function zipfCdf(): Float64Array {
  const cdf = new Float64Array(VOCAB);
  let sum = 0;
  for (let r = 0; r < VOCAB; r++) {
    sum += 1 / Math.pow(r + 1, ZIPF_S);
    cdf[r] = sum;
  }
  for (let r = 0; r < VOCAB; r++) cdf[r] /= sum;
  return cdf;
}

const vocabulary = buildVocabulary();
const cdf = zipfCdf();
function zipfWord(): string {
  const u = rand();
  let lo = 0;
  let hi = VOCAB - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return vocabulary[lo];
}

function phrase(min: number, max: number): string {
  const n = int(min, max);
  const out: string[] = [];
  while (out.length < n) {
    const w = zipfWord();
    if (!FUNCTION_WORDS.includes(w) || out.length > 0) out.push(w);
  }
  return out.map((w) => w[0].toUpperCase() + w.slice(1)).join(" ");
}

function body(): string {
  const target = int(60, 200);
  const sentences: string[] = [];
  let words = 0;
  while (words < target) {
    const len = Math.min(int(8, 20), target - words);
    const parts: string[] = [];
    for (let i = 0; i < len; i++) {
      const u = rand();
      let w = u < 0.01 ? String(int(1, 5000)) : u < 0.015 ? `${zipfWord()}-${zipfWord()}` : zipfWord();
      if (i === 0) w = w[0].toUpperCase() + w.slice(1);
      if (i > 2 && i < len - 2 && rand() < 0.06) w += ",";
      parts.push(w);
    }
    sentences.push(parts.join(" ") + ".");
    words += len;
  }
  return sentences.join(" ");
}

function generate(n: number): Chunk[] {
  const chunks = new Array<Chunk>(n);
  for (let i = 0; i < n; i++) {
    const title = phrase(2, 4);
    const text = body();
    chunks[i] = {
      id: `synthetic/${i % 1000}/doc-${i}.md#0`,
      path: `synthetic/${i % 1000}/doc-${i}.md`,
      ordinal: 0,
      title,
      headingPath: [title, phrase(2, 4)],
      text,
      lineStart: 1,
      lineEnd: 1,
      version: "",
      tokens: 0,
      meta: {},
    };
  }
  return chunks;
}

function makeQueries(chunks: Chunk[], n: number): string[] {
  const out: string[] = [];
  for (let q = 0; q < n; q++) {
    const c = chunks[int(0, chunks.length - 1)];
    const distinct = [...new Set(c.text.toLowerCase().replace(/[.,]/g, "").split(" "))];
    const want = Math.min(distinct.length, int(2, 6));
    const picked = new Set<string>();
    while (picked.size < want) picked.add(distinct[int(0, distinct.length - 1)]);
    out.push([...picked].join(" "));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Measurement

/** CPU time (user + system, all threads of the process) since `since`, ms. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

const MB = 1024 * 1024;
interface Mem {
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  peakRssMb: number;
}
function memory(): Mem {
  collectGarbage();
  const m = process.memoryUsage();
  return {
    rssMb: +(m.rss / MB).toFixed(1),
    heapUsedMb: +(m.heapUsed / MB).toFixed(1),
    externalMb: +(m.external / MB).toFixed(1),
    arrayBuffersMb: +(m.arrayBuffers / MB).toFixed(1),
    peakRssMb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);
log(`scale: generating ${N.toLocaleString("en")} chunks (seed ${SEED})…`);
let t = performance.now();
const chunks = generate(N);
const generateMs = performance.now() - t;
let bodyWords = 0;
for (const c of chunks) bodyWords += c.text.split(" ").length;
const queries = makeQueries(chunks, QUERIES);
const warmup = makeQueries(chunks, 50);
const corpus = memory();

log(`scale: building the BM25 index…`);
t = performance.now();
let cpu = process.cpuUsage();
let index: Bm25Index | undefined = new Bm25Index(chunks, { k1: 1.2, b: 0.75, headingBoost: 0.5 });
const defaultPruning = index.pruning;
const buildMs = performance.now() - t;
const buildCpuMs = cpuMsSince(cpu);
const built = memory();

log(`scale: ${QUERIES} queries, k=${K}, pruned and exhaustive pair by pair…`);
for (const pruning of [true, false]) {
  index.pruning = pruning;
  for (const q of warmup) index.search(q, { k: K });
}
interface Mode {
  latencies: number[];
  cpuMs: number;
}
const modes: Record<"pruned" | "exhaustive", Mode> = { pruned: { latencies: [], cpuMs: 0 }, exhaustive: { latencies: [], cpuMs: 0 } };
let hits = 0;
let mismatches = 0;
for (let i = 0; i < queries.length; i++) {
  const q = queries[i];
  const got: Record<string, string> = {};
  const order: ("pruned" | "exhaustive")[] = i % 2 ? ["pruned", "exhaustive"] : ["exhaustive", "pruned"];
  for (const mode of order) {
    index.pruning = mode === "pruned";
    const c = process.cpuUsage();
    const s = performance.now();
    const found = index.search(q, { k: K });
    modes[mode].latencies.push(performance.now() - s);
    modes[mode].cpuMs += cpuMsSince(c);
    got[mode] = JSON.stringify(found.map((h) => [h.chunk.id, h.score]));
    if (mode === "exhaustive") hits += found.length;
  }
  if (got.pruned !== got.exhaustive) mismatches++;
}
index.pruning = defaultPruning;
const summary = (m: Mode) => {
  const total = m.latencies.reduce((a, b) => a + b, 0);
  const sorted = [...m.latencies].sort((a, b) => a - b);
  return {
    qps: Math.round((QUERIES * 1000) / total),
    cpuQps: Math.round((QUERIES * 1000) / m.cpuMs),
    latencyMs: { p50: +percentile(sorted, 0.5).toFixed(3), p95: +percentile(sorted, 0.95).toFixed(3), max: +sorted[sorted.length - 1].toFixed(3) },
  };
};
const pruned = summary(modes.pruned);
const exhaustive = summary(modes.exhaustive);

const indexBytes = (built.heapUsedMb + built.externalMb - corpus.heapUsedMb - corpus.externalMb) * MB;
const result = {
  n: N,
  seed: SEED,
  corpus: {
    vocabulary: VOCAB,
    zipfS: ZIPF_S,
    meanBodyWords: +(bodyWords / N).toFixed(1),
    generateMs: Math.round(generateMs),
  },
  build: {
    ms: Math.round(buildMs),
    cpuMs: Math.round(buildCpuMs),
    chunksPerSecond: Math.round(N / (buildMs / 1000)),
    retriever: index.name,
  },
  memory: {
    beforeBuild: corpus,
    afterBuild: built,
    indexMb: +(indexBytes / MB).toFixed(1),
    indexBytesPerChunk: Math.round(indexBytes / N),
    rssDeltaMb: +(built.rssMb - corpus.rssMb).toFixed(1),
    rssDeltaBytesPerChunk: Math.round(((built.rssMb - corpus.rssMb) * MB) / N),
    method:
      "after a full GC before and after the build: index = Δ(V8 heap used + external); chunk texts (input) are allocated before the first sample; peakRssMb is getrusage maxrss",
  },
  search: {
    queries: QUERIES,
    k: K,
    /** MaxScore pruning (cpuQps = queries per CPU-second, steadier than wall-clock QPS on a shared machine). */
    pruned,
    exhaustive,
    speedup: +(pruned.qps / exhaustive.qps).toFixed(2),
    /** Queries whose pruned top k (ids and scores) differed from the exhaustive one: must be 0. */
    mismatches,
    /** Whether the index prunes by default at this size (PRUNE_MIN_DOCS). */
    defaultPruning,
    meanHits: +(hits / QUERIES).toFixed(2),
  },
  env: {
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    totalMemGb: +(totalmem() / 1024 ** 3).toFixed(1),
    heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / MB),
    loadavg: loadavg().map((x) => +x.toFixed(2)),
  },
  command: `node --expose-gc --max-old-space-size=16384 --import tsx bench/scale.ts ${args.join(" ")}`.trim(),
  date: new Date().toISOString(),
};
index = undefined;

const fmt = (x: number) => x.toLocaleString("en");
console.log(`ragtune BM25 scale run: ${fmt(N)} synthetic chunks (${result.corpus.meanBodyWords} body words on average, Zipf vocabulary of ${fmt(VOCAB)})`);
console.log(`  generate   ${fmt(result.corpus.generateMs)} ms`);
console.log(`  build      ${fmt(result.build.ms)} ms wall, ${fmt(result.build.cpuMs)} ms CPU (${fmt(result.build.chunksPerSecond)} chunks/s)`);
console.log(
  `  memory     index ${fmt(result.memory.indexMb)} MB = ${fmt(result.memory.indexBytesPerChunk)} B/chunk (heap+external); RSS +${fmt(result.memory.rssDeltaMb)} MB; RSS before/after ${fmt(corpus.rssMb)}/${fmt(built.rssMb)} MB, peak ${fmt(built.peakRssMb)} MB`,
);
console.log(`             heap used before/after ${fmt(corpus.heapUsedMb)}/${fmt(built.heapUsedMb)} MB, external ${fmt(corpus.externalMb)}/${fmt(built.externalMb)} MB`);
for (const [label, m] of [["pruned    ", pruned], ["exhaustive", exhaustive]] as const) {
  console.log(`  ${label} ${fmt(m.qps)} QPS (${fmt(m.cpuQps)} per CPU-second), p50 ${m.latencyMs.p50} ms, p95 ${m.latencyMs.p95} ms (k=${K}, ${QUERIES} queries)`);
}
console.log(`  MaxScore   ${result.search.speedup}× QPS, ${mismatches} of ${QUERIES} results differ from exhaustive; default at this size: ${defaultPruning ? "pruned" : "exhaustive"}`);
console.log(`  load avg   ${result.env.loadavg.join(" ")} on ${result.env.cpus} cores`);

const out = join(ROOT, "bench/results", `scale-${N >= 1e6 && N % 1e6 === 0 ? `${N / 1e6}m` : N >= 1e3 && N % 1e3 === 0 ? `${N / 1e3}k` : N}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2) + "\n");
renameSync(`${out}.tmp`, out);
console.log(`wrote ${out}`);
