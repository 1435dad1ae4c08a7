/**
 * What a single timed pass costs once scheduling noise is taken out: each library is measured in N
 * fresh processes, every process exactly as bench/retrieval.ts measures a library (full GC, index,
 * full GC, 50 synthetic warm-up queries, every judged query timed once). Reported per library:
 *
 *   - per-query minimum: each query's fastest latency over the N processes, summed — a single pass
 *     without preemption stalls (the code is still as cold as in one pass);
 *   - per-process median / best QPS: what bench/retrieval.ts would report, N times;
 *   - the per-query minimum's mean by 30-query bin: how fast the JIT gets the code optimised.
 *
 *   node --expose-gc --import tsx bench/single-pass.ts [--set clapnq|hotpotqa] [--runs N] [--libraries ragtune,wink]
 *
 * Processes alternate between libraries, so both see the same load. Writes bench/results/single-pass.json.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBeir, type BeirDataset } from "../src/bench/beir.ts";
import { collectGarbage, defaultRetrievalConfig, ragtuneBeirRetriever, warmupQueries } from "../src/bench/retrieval.ts";
import { createPeer } from "../src/bench/peers/index.ts";
import { loadClapnqPool } from "./lib/clapnq.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const set = option("--set", "clapnq");

function dataset(): BeirDataset | undefined {
  if (set === "hotpotqa") {
    const dir = join(DATASETS, "hotpotqa-dev500");
    return existsSync(join(dir, "corpus.jsonl")) ? loadBeir(dir, "test") : undefined;
  }
  const dir = join(DATASETS, "clapnq/annotated_data/dev");
  return existsSync(dir) ? loadClapnqPool(dir) : undefined;
}

/** Child mode: one library, one faithful single pass; prints the per-query latencies as JSON. */
async function child(library: string): Promise<void> {
  const ds = dataset()!;
  const r = library === "ragtune" ? ragtuneBeirRetriever({ retrieval: defaultRetrievalConfig() }) : await createPeer(library);
  collectGarbage();
  await r.index(ds.corpus);
  collectGarbage();
  for (const q of warmupQueries(ds.corpus)) await r.search(q, 100);
  const latencies: number[] = [];
  for (const q of ds.queries) {
    const start = performance.now();
    const out = r.search(q.text, 100);
    if (out instanceof Promise) await out;
    latencies.push(performance.now() - start);
  }
  process.stdout.write(JSON.stringify(latencies));
}

if (args[0] === "--child") await child(args[1]);
else if (!dataset()) console.log(`skipped: the ${set} dataset is absent under ${DATASETS}`);
else {
  const runs = Number(option("--runs", "5"));
  const libraries = option("--libraries", "ragtune,wink").split(",");
  const before = loadavg();
  const passes = new Map<string, number[][]>(libraries.map((l) => [l, []]));
  for (let i = 0; i < runs; i++) {
    for (const library of libraries) {
      const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "--child", library, "--set", set], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      passes.get(library)!.push(JSON.parse(out));
    }
  }
  const round = (x: number, d = 3) => Number(x.toFixed(d));
  const results = libraries.map((library) => {
    const all = passes.get(library)!;
    const n = all[0].length;
    const fastest = Array.from({ length: n }, (_, q) => Math.min(...all.map((p) => p[q])));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const perProcess = all.map((p) => (n * 1000) / sum(p)).sort((a, b) => a - b);
    const bins: number[] = [];
    for (let i = 0; i < n; i += 30) bins.push(round((1000 * sum(fastest.slice(i, i + 30))) / Math.min(30, n - i), 1));
    return { library, queries: n, perQueryMinQps: round((n * 1000) / sum(fastest), 0), perProcessQps: { median: round(perProcess[perProcess.length >> 1], 0), best: round(perProcess.at(-1)!, 0) }, meanUsByBin: bins };
  });
  for (const r of results) {
    console.log(`${r.library.padEnd(24)} per-query minimum ${r.perQueryMinQps} QPS | per process: median ${r.perProcessQps.median}, best ${r.perProcessQps.best} QPS (${runs} processes)`);
    console.log(`${"".padEnd(24)} per-query minimum, mean µs by 30-query bin: ${r.meanUsByBin.join(" ")}`);
  }
  const record = { set, runs, command: `node --expose-gc --import tsx bench/single-pass.ts ${args.join(" ")}`.trim(), date: new Date().toISOString(), loadavg: { before: before.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) }, results };
  console.log(`load average before/after: ${record.loadavg.before.join(" ")} / ${record.loadavg.after.join(" ")}`);
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/single-pass.json"), JSON.stringify(record, null, 2) + "\n");
}
