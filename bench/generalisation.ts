/**
 * Generalisation benchmark: ragtune's default retrieval against every compared library on every
 * BEIR-layout set we can build here (bench/lib/derived-sets.ts: HotpotQA, the ClapNQ pool, their
 * title-less copies, ClapNQ long answers as queries, banking77 duplicate utterances), each marked
 * `tune` or `confirm` as declared in `allSets` before any tuning.
 *
 *   node --expose-gc --import tsx bench/generalisation.ts [--compare minisearch,orama,wink,sqlite-fts5,lancedb]
 *        [--sets NAME,NAME] [--label NAME]
 *
 * Each set is written to a temp folder in BEIR layout and measured with `benchRetrievalBeir`, the
 * code behind `ragtune bench retrieval --beir DIR --compare …`, so these are the numbers a user
 * gets. ragtune is also run with `rerank: none` (plain BM25F) to show what the reranker adds.
 * Quality is deterministic; the QPS columns are single passes on a shared machine (load average
 * recorded). Writes bench/results/generalisation.json (runs keyed by --label, default "current").
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBeir } from "../src/bench/beir.ts";
import { benchRetrievalBeir, defaultRetrievalConfig } from "../src/bench/retrieval.ts";
import type { RagtuneConfig } from "../src/config/index.ts";
import { allSets, writeBeir } from "./lib/derived-sets.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const RESULTS = join(ROOT, "bench/results/generalisation.json");

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const compare = (option("--compare") ?? "minisearch,orama,wink,sqlite-fts5,lancedb").split(",").filter(Boolean);
const only = option("--sets")?.split(",");
const label = option("--label") ?? "current";

// benchRetrievalBeir reads only `retrieval` (and `models`, for dense modes) from a config.
const defaults = { retrieval: defaultRetrievalConfig() } as RagtuneConfig;
const bm25Only = { retrieval: { ...defaultRetrievalConfig(), rerank: "none" } } as RagtuneConfig;

interface Row {
  library: string;
  ndcg10: number;
  recall10: number;
  recall100: number;
  mrr10: number;
  qps: number;
}

const sets = allSets(DATASETS, (d) => loadBeir(d)).filter((s) => !only || only.includes(s.name));
if (sets.length === 0) {
  console.log(`no sets found under ${DATASETS}; skipped`);
  process.exit(0);
}
const before = loadavg();
const out: Record<string, { role: string; shape: string; documents: number; queries: number; rows: Row[] }> = {};
for (const set of sets) {
  const dir = mkdtempSync(join(tmpdir(), `gen-${set.name}-`));
  try {
    const ds = set.load();
    writeBeir(ds, dir);
    process.stderr.write(`${set.name} (${set.role}): ${ds.corpus.length} docs, ${ds.queries.length} queries\n`);
    const full = await benchRetrievalBeir({ dir, compare, config: defaults });
    const plain = await benchRetrievalBeir({ dir, compare: [], config: bm25Only });
    const row = (library: string, r: typeof full.ragtune): Row => ({ library, ndcg10: r.ndcg10, recall10: r.recall10, recall100: r.recall100, mrr10: r.mrr10, qps: r.qps });
    const rows = [row("ragtune", full.ragtune), row("ragtune bm25 only", plain.ragtune), ...full.peers.map((p) => row(`${p.name} ${p.version}`, p))];
    out[set.name] = { role: set.role, shape: set.shape, documents: ds.corpus.length, queries: ds.queries.length, rows };
    const best = Math.max(...full.peers.map((p) => p.ndcg10));
    console.log(`\n${set.name} [${set.role}] — ${set.shape}; ${ds.corpus.length} docs, ${ds.queries.length} queries`);
    for (const r of rows) console.log(`  ${r.library.padEnd(34)} nDCG@10 ${r.ndcg10.toFixed(4)}  R@10 ${r.recall10.toFixed(4)}  R@100 ${r.recall100.toFixed(4)}  MRR@10 ${r.mrr10.toFixed(4)}`);
    if (full.peers.length) console.log(`  ragtune − best library: ${(full.ragtune.ndcg10 - best >= 0 ? "+" : "") + (full.ragtune.ndcg10 - best).toFixed(4)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const record = {
  command: `node --expose-gc --import tsx bench/generalisation.ts${args.length ? ` ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  node: process.version,
  loadavg: { before: before.map((x) => +x.toFixed(2)), after: loadavg().map((x) => +x.toFixed(2)) },
  retrieval: defaults.retrieval,
  sets: out,
};
mkdirSync(dirname(RESULTS), { recursive: true });
const previous = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, "utf8")) as { runs?: Record<string, unknown> }) : {};
const merged = { runs: { ...(previous.runs ?? {}), [label]: { ...(previous.runs?.[label] as object | undefined), ...record, sets: { ...((previous.runs?.[label] as { sets?: object } | undefined)?.sets ?? {}), ...out } } } };
writeFileSync(`${RESULTS}.tmp`, JSON.stringify(merged, null, 2) + "\n");
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`\nload average before/after: ${record.loadavg.before.join(" ")} / ${record.loadavg.after.join(" ")}\nwrote ${RESULTS}`);
