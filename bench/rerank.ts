/**
 * Offline reranker benchmark: does `retrieval.rerank: offline` beat plain BM25?
 *
 *   node --import tsx bench/rerank.ts [--candidates 100] [--skip-hotpotqa] [--skip-clapnq] [--skip-demo]
 *
 * 1. HotpotQA dev500 (../shared/datasets/hotpotqa-dev500, BEIR layout; skipped when absent):
 *    BM25 top-`candidates` → offline rerank → nDCG@10, recall@10, MRR@10 against the qrels. Every
 *    BEIR doc is one chunk (title = the article title, no headings).
 * 2. ClapNQ passage pool (../shared/datasets/clapnq/annotated_data/dev, skipped when absent), a
 *    held-out check with a different query style (Natural Questions search queries): the corpus
 *    is every gold passage of the 300 answerable and 300 unanswerable dev questions
 *    (de-duplicated), the queries are the answerable questions, each judged against its own
 *    passage. Small and easy (BM25 is already high), so it mainly guards against harm.
 * 3. The demo project (examples/acme-support): a temp copy is ingested into an in-memory store and
 *    every suite case with gold `sources` is retrieved through the retrieval pipeline
 *    (lexical → [rerank] → collapse-versions, k = retrieval.k); recall@k and MRR from
 *    evaluate/scorers.ts `retrievalScores`.
 *
 * Every set uses the reranker's default weights (DEFAULT_OFFLINE_WEIGHTS). To show which features
 * carry the effect, each set is also scored with every feature dropped in turn, with the first
 * stage plus one feature, and with the first-stage weight swept over {0, 0.25, 0.5, 0.75, 1}.
 * Writes bench/results/rerank.json.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { evaluateRun, loadBeir, type BeirDataset, type RankingMetrics } from "../src/bench/beir.ts";
import { loadConfig } from "../src/config/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { retrievalScores } from "../src/evaluate/scorers.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { createRetrievalPipeline } from "../src/retrieve/pipeline.ts";
import {
  candidateFeatures,
  combineFeatures,
  DEFAULT_OFFLINE_WEIGHTS,
  OfflineReranker,
  type OfflineFeatureWeights,
} from "../src/retrieve/rerank/offline.ts";
import { openStore } from "../src/store/index.ts";
import { loadClapnqPool } from "./lib/clapnq.ts";
import { beirChunk } from "../src/bench/retrieval.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOTPOTQA = resolve(ROOT, "../shared/datasets/hotpotqa-dev500");
const CLAPNQ = resolve(ROOT, "../shared/datasets/clapnq/annotated_data/dev");
const DEMO = join(ROOT, "examples/acme-support");
const RESULTS = join(ROOT, "bench/results/rerank.json");

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const candidates = Number(option("--candidates", "100"));
const f4 = (x: number) => x.toFixed(4);
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;

type Weights = OfflineFeatureWeights;
const FEATURES = Object.keys(DEFAULT_OFFLINE_WEIGHTS) as (keyof Weights)[];

const FIRST_STAGE_SWEEP = [0, 0.25, 0.5, 0.75, 1];

/** The weight settings scored on both sets: defaults, each feature dropped, first stage + one feature. */
function variants(): { name: string; weights: Weights }[] {
  const out = [{ name: "default", weights: { ...DEFAULT_OFFLINE_WEIGHTS } }];
  for (const f of FEATURES) out.push({ name: `without ${f}`, weights: { ...DEFAULT_OFFLINE_WEIGHTS, [f]: 0 } });
  for (const f of FEATURES) {
    if (f === "firstStage") continue;
    const only = Object.fromEntries(FEATURES.map((g) => [g, 0])) as unknown as Weights;
    only.firstStage = DEFAULT_OFFLINE_WEIGHTS.firstStage;
    only[f] = DEFAULT_OFFLINE_WEIGHTS[f];
    out.push({ name: `firstStage + ${f}`, weights: only });
  }
  for (const w of FIRST_STAGE_SWEEP) out.push({ name: `firstStage=${w}`, weights: { ...DEFAULT_OFFLINE_WEIGHTS, firstStage: w } });
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1–2. BEIR-layout sets: HotpotQA, ClapNQ passage pool
// ---------------------------------------------------------------------------------------------


function runBeir(ds: BeirDataset) {
  const t0 = performance.now();
  const index = new Bm25Index(ds.corpus.map(beirChunk), { k1: 1.2, b: 0.75, headingBoost: 0.5 });
  const indexMs = performance.now() - t0;
  const firstStage = new Map<string, Hit[]>();
  for (const q of ds.queries) firstStage.set(q.id, index.search(q.text, { k: candidates }));
  const bm25 = evaluateRun(ds, new Map([...firstStage].map(([id, hits]) => [id, hits.map((h) => h.chunk.id)])));

  // Timed end to end through the public reranker, with the index's idf as in a project.
  const reranker = new OfflineReranker({ idf: (t) => index.idf(t) });
  const t1 = performance.now();
  const rerankedRun = new Map<string, string[]>();
  for (const q of ds.queries) rerankedRun.set(q.id, reranker.rerankSync(q.text, firstStage.get(q.id)!, candidates).map((h) => h.chunk.id));
  const msPerQuery = (performance.now() - t1) / ds.queries.length;
  const offline = evaluateRun(ds, rerankedRun);

  // Ablations reuse one feature computation per query.
  const features = new Map(ds.queries.map((q) => [q.id, candidateFeatures(q.text, firstStage.get(q.id)!, (t) => index.idf(t))]));
  const ablations: Record<string, RankingMetrics> = {};
  for (const v of variants()) {
    const run = new Map<string, string[]>();
    for (const q of ds.queries) {
      const hits = firstStage.get(q.id)!;
      const f = features.get(q.id)!;
      const order = hits.map((h, i) => ({ id: h.chunk.id, s: combineFeatures(f[i], v.weights), i })).sort((a, b) => b.s - a.s || a.i - b.i);
      run.set(q.id, order.map((o) => o.id));
    }
    ablations[v.name] = evaluateRun(ds, run);
  }
  return { dataset: ds.name, queries: ds.queries.length, documents: ds.corpus.length, candidates, indexMs: Math.round(indexMs), bm25, offline, msPerQuery, ablations };
}

// ---------------------------------------------------------------------------------------------
// 3. Demo project suite
// ---------------------------------------------------------------------------------------------

interface DemoScores {
  recallAtK: number;
  hitAtK: number;
  mrr: number;
}

async function runDemo() {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-rerank-bench-"));
  try {
    const project = join(tmp, "acme-support");
    cpSync(DEMO, project, { recursive: true, filter: (src) => !/[/\\](?:runs|\.ragtune)(?:[/\\]|$)/.test(src.slice(DEMO.length)) });
    const { config, root } = loadConfig(join(project, "ragtune.yaml"));
    const store = openStore(":memory:");
    const stats = await ingestProject({ root, sources: config.sources, chunking: config.chunking, store });
    const chunks = store.chunks();
    if (chunks.length === 0) throw new Error(`demo ingest produced no chunks (skipped: ${JSON.stringify(stats.skipped).slice(0, 500)})`);
    const r = config.retrieval;
    const index = new Bm25Index(chunks, { k1: r.k1, b: r.b, headingBoost: r.headingBoost });
    const suite = loadSuite(join(root, config.suite));
    const cases = suite.cases.filter((c) => c.sources && c.sources.length > 0);
    const k = r.k;

    const score = async (weights: Weights | undefined): Promise<DemoScores> => {
      const reranker = weights ? new OfflineReranker({ weights, idf: (t) => index.idf(t) }) : undefined;
      const pipeline = createRetrievalPipeline({ lexical: index, reranker, config: { ...r, rerank: weights ? "offline" : "none" } });
      const sum: DemoScores = { recallAtK: 0, hitAtK: 0, mrr: 0 };
      for (const c of cases) {
        const hits = await pipeline.retrieve(c.input, { k });
        const s = retrievalScores(c.sources!, hits.map((h) => ({ id: h.chunk.id, path: h.chunk.path, headingPath: h.chunk.headingPath, spans: h.chunk.spans })), k);
        sum.recallAtK += s.recallAtK;
        sum.hitAtK += s.hitAtK;
        sum.mrr += s.mrr;
      }
      const n = cases.length || 1;
      return { recallAtK: sum.recallAtK / n, hitAtK: sum.hitAtK / n, mrr: sum.mrr / n };
    };

    const none = await score(undefined);
    const t1 = performance.now();
    const offline = await score({ ...DEFAULT_OFFLINE_WEIGHTS });
    const msPerQuery = (performance.now() - t1) / (cases.length || 1);
    const ablations: Record<string, DemoScores> = {};
    for (const v of variants()) ablations[v.name] = await score(v.weights);
    const pipelineName = createRetrievalPipeline({ lexical: index, reranker: new OfflineReranker(), config: { ...r, rerank: "offline" } }).name;
    store.close();
    return { project: "examples/acme-support", cases: cases.length, chunks: chunks.length, k, rerankCandidates: r.rerankCandidates, pipeline: pipelineName, none, offline, msPerQuery, ablations };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

const result: Record<string, unknown> = {
  command: "node --import tsx bench/rerank.ts",
  date: new Date().toISOString(),
  node: process.version,
  weights: DEFAULT_OFFLINE_WEIGHTS,
};

const beirSets: { key: string; dir: string; load: () => BeirDataset }[] = [
  { key: "hotpotqa", dir: HOTPOTQA, load: () => loadBeir(HOTPOTQA) },
  { key: "clapnq", dir: CLAPNQ, load: () => loadClapnqPool(CLAPNQ) },
];
for (const set of beirSets) {
  if (args.includes(`--skip-${set.key}`)) continue;
  if (!existsSync(set.dir)) console.log(`${set.key}: ${set.dir} not found, skipped`);
  else {
    const h = runBeir(set.load());
    result[set.key] = h;
    console.log(`\n${h.dataset} — ${h.queries} queries, ${h.documents} docs, BM25 top-${h.candidates} → offline rerank`);
    console.log(`  ${"".padEnd(28)} nDCG@10   recall@10  MRR@10`);
    const row = (name: string, m: RankingMetrics) =>
      console.log(`  ${name.padEnd(28)} ${f4(m.ndcg10)}    ${f4(m.recall10)}     ${f4(m.mrr10)}   (Δ nDCG@10 ${signed(m.ndcg10 - h.bm25.ndcg10)})`);
    row("bm25", h.bm25);
    row("bm25 → offline (default)", h.offline);
    for (const [name, m] of Object.entries(h.ablations)) if (name !== "default") row(`  ${name}`, m);
    console.log(`  rerank cost: ${h.msPerQuery.toFixed(2)} ms/query for ${h.candidates} candidates`);
  }
}

if (!args.includes("--skip-demo")) {
  const d = await runDemo();
  result.demo = d;
  console.log(`\nDemo suite (${d.project}) — ${d.cases} cases with gold sources, ${d.chunks} chunks, k=${d.k}, rerank top ${d.rerankCandidates}`);
  console.log(`  pipeline: ${d.pipeline}`);
  console.log(`  ${"".padEnd(28)} recall@${d.k}  hit@${d.k}   MRR`);
  const row = (name: string, m: DemoScores) =>
    console.log(`  ${name.padEnd(28)} ${f4(m.recallAtK)}    ${f4(m.hitAtK)}   ${f4(m.mrr)}   (Δ recall ${signed(m.recallAtK - d.none.recallAtK)}, Δ MRR ${signed(m.mrr - d.none.mrr)})`);
  row("bm25 (no rerank)", d.none);
  row("bm25 → offline (default)", d.offline);
  for (const [name, m] of Object.entries(d.ablations)) if (name !== "default") row(`  ${name}`, m);
  console.log(`  pipeline cost with rerank: ${d.msPerQuery.toFixed(2)} ms/query`);
}

const h = result.hotpotqa as { bm25: RankingMetrics; offline: RankingMetrics } | undefined;
const c = result.clapnq as { bm25: RankingMetrics; offline: RankingMetrics } | undefined;
const d = result.demo as { none: DemoScores; offline: DemoScores } | undefined;
result.verdict = {
  hotpotqaHelps: h ? h.offline.ndcg10 > h.bm25.ndcg10 : null,
  clapnqHelps: c ? c.offline.ndcg10 > c.bm25.ndcg10 : null,
  demoHelps: d ? d.offline.recallAtK >= d.none.recallAtK && d.offline.mrr > d.none.mrr : null,
};
console.log(`\nverdict: ${JSON.stringify(result.verdict)}`);
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`wrote ${RESULTS}`);
