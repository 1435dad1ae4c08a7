/**
 * Reranker variants on every BEIR-layout set (bench/lib/derived-sets.ts), fast enough to iterate:
 * one BM25F index per set (the config defaults), the first stage computed once, then each variant
 * reorders the top `rerankCandidates` exactly as the retrieval pipeline does (the rest keep BM25's
 * order). Paired per-query deltas against the current default are reported per set.
 *
 *   node --import tsx bench/rerank-sets.ts [--role tune|confirm|all] [--sets NAME,NAME] [--variants JSON] [--bm25 JSON]
 *
 * `--role tune` (the default) shows only the tune sets: choose a setting there, then run
 * `--role confirm` once to check it. Writes bench/results/rerank-sets-<role>.json.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBeir, rankingMetrics } from "../src/bench/beir.ts";
import { beirChunk, defaultRetrievalConfig } from "../src/bench/retrieval.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { OfflineReranker, type OfflineRerankerOptions } from "../src/retrieve/rerank/offline.ts";
import { allSets } from "./lib/derived-sets.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const role = option("--role") ?? "tune";
const only = option("--sets")?.split(",");

/** Variants: reranker options laid over the defaults (undefined = no reranker, plain BM25F). */
const VARIANTS: { name: string; options?: OfflineRerankerOptions }[] = [
  { name: "bm25 only" },
  { name: "offline (default)", options: {} },
  ...(JSON.parse(option("--variants") ?? "[]") as { name: string; options: OfflineRerankerOptions }[]),
];

// --bm25 '{"k1":1.2}' lays BM25F settings over the config defaults (to check a first-stage change).
const r = { ...defaultRetrievalConfig(), ...(JSON.parse(option("--bm25") ?? "{}") as { k1?: number; b?: number; headingBoost?: number }) };
const sets = allSets(DATASETS, (d) => loadBeir(d)).filter((s) => (role === "all" || s.role === role) && (!only || only.includes(s.name)));
const out: Record<string, unknown> = {};
for (const set of sets) {
  const ds = set.load();
  const index = new Bm25Index(ds.corpus.map(beirChunk), { k1: r.k1, b: r.b, headingBoost: r.headingBoost, rerankTokens: true });
  const first = new Map<string, Hit[]>(ds.queries.map((q) => [q.id, index.search(q.text, { k: 100 })]));
  const perQuery = new Map<string, number[]>();
  const rows: Record<string, { ndcg10: number; recall10: number; mrr10: number }> = {};
  for (const v of VARIANTS) {
    const reranker = v.options ? new OfflineReranker({ idf: (t) => index.idf(t), tokens: index.rerankTokens(), ...v.options }) : undefined;
    const ndcg: number[] = [];
    let recall = 0;
    let mrr = 0;
    for (const q of ds.queries) {
      const hits = first.get(q.id)!;
      const head = hits.slice(0, r.rerankCandidates);
      const ranked = reranker ? [...reranker.rerankSync(q.text, head, head.length), ...hits.slice(head.length)] : hits;
      const m = rankingMetrics(ranked.map((h) => h.chunk.id), ds.qrels.get(q.id)!);
      ndcg.push(m.ndcg10);
      recall += m.recall10;
      mrr += m.mrr10;
    }
    perQuery.set(v.name, ndcg);
    const n = ds.queries.length;
    rows[v.name] = { ndcg10: ndcg.reduce((a, b) => a + b, 0) / n, recall10: recall / n, mrr10: mrr / n };
  }
  console.log(`\n${set.name} [${set.role}] — ${ds.corpus.length} docs, ${ds.queries.length} queries`);
  const base = perQuery.get("offline (default)")!;
  for (const v of VARIANTS) {
    const x = perQuery.get(v.name)!;
    let wins = 0;
    let losses = 0;
    x.forEach((s, i) => (s > base[i] + 1e-9 ? wins++ : s < base[i] - 1e-9 ? losses++ : 0));
    const m = rows[v.name];
    const delta = m.ndcg10 - rows["offline (default)"].ndcg10;
    console.log(`  ${v.name.padEnd(36)} nDCG@10 ${m.ndcg10.toFixed(4)} (${delta >= 0 ? "+" : ""}${delta.toFixed(4)}; ${wins} up / ${losses} down)  R@10 ${m.recall10.toFixed(4)}  MRR@10 ${m.mrr10.toFixed(4)}`);
  }
  out[set.name] = { role: set.role, queries: ds.queries.length, rows };
}
const file = join(ROOT, `bench/results/rerank-sets-${role}${option("--bm25") ? "-bm25" : ""}.json`);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(`${file}.tmp`, JSON.stringify({ command: `node --import tsx bench/rerank-sets.ts ${args.join(" ")}`.trim(), date: new Date().toISOString(), variants: VARIANTS, sets: out }, null, 2) + "\n");
renameSync(`${file}.tmp`, file);
console.log(`\nwrote ${file}`);
