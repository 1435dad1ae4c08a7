/**
 * What the serving thread still does when a re-index (run in the worker, serve/reindex-worker.ts)
 * commits: it rebuilds its in-memory BM25 index and retrieval pipeline from the store's persisted
 * term statistics. This measures that switch per corpus size — the time one request could wait.
 *
 *   node --import tsx bench/reindex-switch.ts [--repeats 5]
 *
 * Corpora: the example project, and pnpm-docs (all versions) from ../shared/datasets when present
 * (copied to a temp folder, never into the repo). A second connection plays the worker: it edits
 * one file and re-indexes; the serving connection's switch is timed. Writes bench/results/reindex-switch.json.
 */
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { AnswerEngine } from "../src/serve/answer.ts";
import { warmServing } from "../src/serve/reindex-worker-client.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const args = process.argv.slice(2);
const repeats = args.includes("--repeats") ? Number(args[args.indexOf("--repeats") + 1]) : 5;
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new Error("--repeats must be an integer from 1 to 100");

interface Corpus {
  name: string;
  make(dir: string): void;
}

const corpora: Corpus[] = [{ name: "examples/acme-support", make: (dir) => cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true }) }];
if (existsSync(join(DATASETS, "pnpm-docs"))) {
  corpora.push({
    name: "pnpm-docs (all versions)",
    make: (dir) => {
      for (const item of ["docs", "versioned_docs"]) cpSync(join(DATASETS, "pnpm-docs", item), join(dir, item), { recursive: true });
      writeFileSync(join(dir, "ragtune.yaml"), `name: pnpm\nsources:\n  - include: "docs/**/*.{md,mdx}"\n    version: current\n  - include: "versioned_docs/**/*.{md,mdx}"\n    version: archived\n`);
    },
  });
}

const round = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, unknown>[] = [];

for (const corpus of corpora) {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-switch-"));
  try {
    corpus.make(dir);
    const loaded = loadConfig(join(dir, "ragtune.yaml"));
    const serving = openProject(loaded);
    await reindexProject(serving);
    const engine = new AnswerEngine(serving, "rag");
    await engine.answer("How do I configure it?");
    const writer = openProject(loaded);
    const target = join(dir, serving.store.documents()[0].path);
    const bm25: number[] = [];
    const pipeline: number[] = [];
    const served: number[] = [];
    const warm: number[] = [];
    const firstAnswerExtra: number[] = [];
    for (let i = 0; i < repeats; i++) {
      appendFileSync(target, `\n\nRevision ${i} of this page.\n`);
      await reindexProject(writer);
      let t = performance.now();
      serving.retriever();
      bm25.push(performance.now() - t);
      t = performance.now();
      await serving.retrieval();
      pipeline.push(performance.now() - t);
      t = performance.now();
      engine.served();
      served.push(performance.now() - t);
      // The rest of the updater's warm-up (versions, a throwaway retrieval); BM25 and pipeline are built already.
      warm.push(await warmServing(serving));
      t = performance.now();
      await engine.answer("How do I configure it?");
      const first = performance.now() - t;
      t = performance.now();
      await engine.answer("How do I configure it?");
      firstAnswerExtra.push(Math.max(0, first - (performance.now() - t)));
    }
    const total = bm25.map((b, i) => b + pipeline[i] + served[i] + warm[i]);
    const r = {
      corpus: corpus.name,
      documents: serving.store.documents().length,
      chunks: serving.store.chunks().length,
      switchMs: { median: round(median(total)), max: round(Math.max(...total)) },
      parts: { bm25Ms: round(median(bm25)), pipelineMs: round(median(pipeline)), servedMs: round(median(served)), restOfWarmUpMs: round(median(warm)), firstAnswerExtraMs: round(median(firstAnswerExtra)) },
    };
    console.log(`${r.corpus}: ${r.documents} documents, ${r.chunks} chunks — switch median ${r.switchMs.median} ms, max ${r.switchMs.max} ms (BM25 ${r.parts.bm25Ms}, pipeline ${r.parts.pipelineMs}, served ${r.parts.servedMs}, rest ${r.parts.restOfWarmUpMs}; first answer after it +${r.parts.firstAnswerExtraMs} ms)`);
    results.push(r);
    writer.close();
    serving.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const out = join(ROOT, "bench/results/reindex-switch.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.tmp`, JSON.stringify({ at: new Date().toISOString(), command: `node --import tsx bench/reindex-switch.ts --repeats ${repeats}`, results }, null, 2) + "\n");
renameSync(`${out}.tmp`, out);
console.log(`wrote ${out}`);
