/**
 * Retrieval benchmark on public data: ragtune vs minisearch, Orama, wink-bm25-text-search, SQLite FTS5 and LanceDB FTS, in
 * one process, on the same corpus (see src/bench/retrieval.ts for how every number is measured).
 *
 *   node --expose-gc --import tsx bench/retrieval.ts [--compare minisearch,orama,wink,sqlite-fts5,lancedb] [--config FILE] [--repeat N] [--skip-clapnq]
 *
 * 1. ../shared/datasets/hotpotqa-dev500 (BEIR layout: 4,858 paragraphs, 500 questions, 2 gold
 *    paragraphs each) → bench/results/retrieval-hotpotqa.json.
 * 2. ../shared/datasets/clapnq, turned into BEIR form here: the corpus is every gold passage of
 *    the answerable and unanswerable dev questions (deduplicated), the queries are the 300
 *    answerable questions, each judged against its own gold passage. It is much smaller than the
 *    official CLAP NQ retrieval corpus (not in the shared folder), so it is a sanity check on a
 *    different domain (Natural Questions), not a leaderboard number →
 *    bench/results/retrieval-clapnq.json.
 *
 * A dataset whose folder is absent is skipped with a message. By default every judged query is
 * timed once, unseen (after an untimed warm-up on 50 synthetic queries drawn from the corpus);
 * `--repeat N` reports each query's fastest of N passes, labelled "warm cache, fastest of N". Each
 * result records the load average before and after, because QPS on a shared machine moves with
 * whatever else runs.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { benchRetrievalBeir, type BeirBenchResult } from "../src/bench/retrieval.ts";
import { formatBeirResult } from "../src/cli/commands/bench.ts";
import { loadConfig } from "../src/config/index.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const RESULTS = join(ROOT, "bench/results");

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const compare = (option("--compare") ?? "minisearch,orama,wink,sqlite-fts5,lancedb").split(",").filter(Boolean);
const configPath = option("--config");
// Default: one pass over queries never seen before (after a warm-up on synthetic ones); --repeat N
// is the warm-cache figure (each query's fastest of N), labelled so in the output and the JSON.
const repeat = Number(option("--repeat") ?? 1);
const config = configPath ? loadConfig(configPath).config : undefined;

function writeAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, file);
}

async function run(label: string, dir: string, out: string): Promise<void> {
  const before = loadavg();
  const started = Date.now();
  const result: BeirBenchResult = await benchRetrievalBeir({
    dir,
    compare,
    config,
    repeat,
    onProgress: (name) => process.stderr.write(`  ${label}: ${name}…\n`),
  });
  result.dataset = label;
  const record = {
    ...result,
    command: `node --expose-gc --import tsx bench/retrieval.ts${args.length ? ` ${args.join(" ")}` : ""}`,
    date: new Date().toISOString(),
    loadavg: { before: before.map((x) => +x.toFixed(2)), after: loadavg().map((x) => +x.toFixed(2)) },
    wallSeconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(formatBeirResult(result));
  console.log(`load average before/after: ${record.loadavg.before.join(" ")} / ${record.loadavg.after.join(" ")}\n`);
  writeAtomic(out, record);
  console.log(`wrote ${out}\n`);
}

/** CLAP NQ dev → a BEIR folder (gold passages as corpus, answerable questions as queries). */
function clapnqAsBeir(src: string): string {
  const dir = mkdtempSync(join(tmpdir(), "clapnq-beir-"));
  mkdirSync(join(dir, "qrels"));
  const idOf = (title: string, text: string) => `c${createHash("sha1").update(`${title}\n${text}`).digest("hex").slice(0, 12)}`;
  const corpus = new Map<string, { _id: string; title: string; text: string }>();
  const queries: string[] = [];
  const qrels: string[] = ["query-id\tcorpus-id\tscore"];
  for (const file of ["clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"]) {
    const answerable = file.includes("_answerable");
    const lines = readFileSync(join(src, file), "utf8").split("\n").filter((l) => l.trim());
    for (const line of lines) {
      const row = JSON.parse(line) as { id: string; input: string; passages: { title: string; text: string }[] };
      for (const p of row.passages) {
        const id = idOf(p.title, p.text);
        if (!corpus.has(id)) corpus.set(id, { _id: id, title: p.title, text: p.text });
        if (answerable) qrels.push(`${row.id}\t${id}\t1`);
      }
      if (answerable) queries.push(JSON.stringify({ _id: row.id, text: row.input }));
    }
  }
  writeFileSync(join(dir, "corpus.jsonl"), [...corpus.values()].map((d) => JSON.stringify(d)).join("\n") + "\n");
  writeFileSync(join(dir, "queries.jsonl"), queries.join("\n") + "\n");
  writeFileSync(join(dir, "qrels/test.tsv"), qrels.join("\n") + "\n");
  return dir;
}

const hotpot = join(DATASETS, "hotpotqa-dev500");
if (existsSync(join(hotpot, "corpus.jsonl"))) await run("hotpotqa-dev500", hotpot, join(RESULTS, "retrieval-hotpotqa.json"));
else console.log(`skipped hotpotqa-dev500: ${hotpot} is absent`);

const clapnq = join(DATASETS, "clapnq/annotated_data/dev");
if (args.includes("--skip-clapnq")) console.log("skipped clapnq (--skip-clapnq)");
else if (existsSync(join(clapnq, "clapnq_dev_answerable.jsonl"))) {
  const dir = clapnqAsBeir(clapnq);
  try {
    await run("clapnq-dev (gold passages)", dir, join(RESULTS, "retrieval-clapnq.json"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else console.log(`skipped clapnq: ${clapnq} is absent`);
