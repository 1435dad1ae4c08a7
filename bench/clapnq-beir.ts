/**
 * Writes the ClapNQ dev passage pool (bench/lib/clapnq.ts) in BEIR layout, so the user-facing
 * retrieval benchmark can run on it next to HotpotQA:
 *
 *   node --import tsx bench/clapnq-beir.ts [OUT_DIR]          (default bench/results/clapnq-pool)
 *   npx ragtune bench retrieval --beir bench/results/clapnq-pool --compare minisearch,orama,wink
 *
 * Skips (exit 0) when ../shared/datasets/clapnq is absent.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadClapnqPool } from "./lib/clapnq.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = resolve(ROOT, "../shared/datasets/clapnq/annotated_data/dev");
const out = resolve(process.argv[2] ?? join(ROOT, "bench/results/clapnq-pool"));

if (!existsSync(SOURCE)) {
  console.log(`skipped: ${SOURCE} is absent`);
  process.exit(0);
}
const ds = loadClapnqPool(SOURCE);
mkdirSync(join(out, "qrels"), { recursive: true });
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
writeFileSync(join(out, "corpus.jsonl"), jsonl(ds.corpus.map((d) => ({ _id: d.id, title: d.title, text: d.text }))));
writeFileSync(join(out, "queries.jsonl"), jsonl(ds.queries.map((q) => ({ _id: q.id, text: q.text }))));
const qrels = ["query-id\tcorpus-id\tscore"];
for (const [q, docs] of ds.qrels) for (const [d, grade] of docs) qrels.push(`${q}\t${d}\t${grade}`);
writeFileSync(join(out, "qrels/test.tsv"), qrels.join("\n") + "\n");
console.log(`${ds.corpus.length} passages, ${ds.queries.length} queries → ${out}`);
