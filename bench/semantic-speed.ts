/**
 * use-lite embedding speed: batch size, text length and worker threads, on real chunk texts.
 *
 *   node --import tsx bench/semantic-speed.ts [--texts 128]
 *
 * Texts are the embedding inputs of the fastify-docs chunks (../shared/datasets/fastify-docs, default
 * chunking), cut to 20 / 80 / all words; each measurement runs after a warm-up call that loads the
 * model(s), and reports wall ms per text and the process's CPU time per wall time (below 1 on one
 * thread = the machine is busy). Writes bench/results/semantic-speed.json.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigSchema } from "../src/config/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { firstWords, UseLiteEmbedder } from "../src/models/embedders/use-lite.ts";
import { openStore } from "../src/store/index.ts";
import { embeddingInput } from "../src/store/vectors.ts";
import type { CorpusProject } from "./corpora/project-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "bench/results/semantic-speed.json");
const args = process.argv.slice(2);
const N = Number(args[args.indexOf("--texts") + 1] || 128);

const { project } = (await import("./corpora/fastify-docs/project.ts")) as { project: CorpusProject };
const root = resolve(ROOT, "../shared/datasets", project.dataset);
const config = ConfigSchema.parse({ name: project.name, sources: project.sources.map((s) => ({ include: s.include, version: s.version })) });
const store = openStore(":memory:");
await ingestProject({ root, sources: config.sources, chunking: config.chunking, store });
const all = store.chunks().map(embeddingInput);
store.close();
// Every k-th chunk, so the sample spans the corpus.
const sample = Array.from({ length: N }, (_, i) => all[Math.floor((i * all.length) / N)]);

interface Row {
  words: string;
  batchSize: number;
  workers: number;
  msPerText: number;
  cpuPerWall: number;
  rssMb: number;
}
const rows: Row[] = [];

async function measure(words: number, batchSize: number, workers: number): Promise<void> {
  const texts = sample.map((t) => firstWords(t, words));
  const embedder = new UseLiteEmbedder({ batchSize, workers });
  try {
    await embedder.embed(texts.slice(0, batchSize * workers + 1), "document"); // loads the model(s)
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await embedder.embed(texts, "document");
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const row = {
      words: words ? String(words) : "all",
      batchSize,
      workers,
      msPerText: +(wall / texts.length).toFixed(1),
      cpuPerWall: +((cpu.user + cpu.system) / 1000 / wall).toFixed(2),
      rssMb: Math.round(process.memoryUsage().rss / 1e6),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  } finally {
    await embedder.close();
  }
}

const before = loadavg();
for (const words of [20, 80, 0]) for (const batch of [8, 32, 64]) await measure(words, batch, 1);
await measure(0, 32, 2);
await measure(0, 32, 1);

const record = {
  command: `node --import tsx bench/semantic-speed.ts${args.length ? ` ${args.join(" ")}` : ""}`,
  date: new Date().toISOString(),
  texts: N,
  meanWords: +(sample.reduce((s, t) => s + (t.match(/\S+/g)?.length ?? 0), 0) / N).toFixed(1),
  loadavg: { before: before.map((x) => +x.toFixed(2)), after: loadavg().map((x) => +x.toFixed(2)) },
  rows,
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(`${OUT}.tmp`, JSON.stringify(record, null, 2) + "\n");
renameSync(`${OUT}.tmp`, OUT);
console.log(`wrote ${OUT}`);
