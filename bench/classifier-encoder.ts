/**
 * The classifier with the use-lite sentence encoder as extra features (ClassifierOptions.encoder),
 * and the few-shot prompt baseline over the same embeddings.
 *
 *   node --import tsx bench/classifier-encoder.ts --tune    # validation only: banking77 train.csv 80/20
 *   node --import tsx bench/classifier-encoder.ts           # held out: banking77 test.csv, acme tickets
 *
 * Sets: `--tune` trains on a stratified 80% of banking77's train.csv (seed 1) and scores the other
 * 20% for encoderWeight ∈ {0.5, 1, 2} next to no encoder — the weight is chosen there. The default
 * run reports the chosen weight (ENCODER_WEIGHT below) on banking77's test.csv and on the acme
 * tickets' stratified 80/20 split (seed 1, the "no retuning" check), neither of which tuned anything.
 *
 * Per configuration: accuracy, macro-F1, exact McNemar against no encoder, training wall and CPU
 * time, single-text predict p50/p95 (the sparse model alone, and end to end with embedding the text),
 * load time of the saved artifact, artifact size, RSS. Embeddings of the data sets are cached in the
 * OS temp folder (bench/lib/embed-cache.ts); the embedding time per text is reported from the
 * first, uncached run. Writes bench/results/classifier-encoder.json (or …-tune.json).
 */
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { labelledExamples, readTable } from "../src/finetune/classify-eval.ts";
import { classificationMetrics, stratifiedSplit, TextClassifier, type LabelledText } from "../src/finetune/classifier/model.ts";
import { fewShot, fewShotEmbedded } from "../src/finetune/baseline.ts";
import { percentile } from "../src/evaluate/stats.ts";
import { mcnemarExact } from "../src/evaluate/significance.ts";
import { UseLiteEmbedder } from "../src/models/embedders/use-lite.ts";
import { embedCached } from "./lib/embed-cache.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BANKING = resolve(ROOT, "../shared/datasets/banking77");
const TICKETS = join(ROOT, "examples/acme-support/tickets.csv");
const TUNE = process.argv.includes("--tune");
const RESULTS = join(ROOT, `bench/results/classifier-encoder${TUNE ? "-tune" : ""}.json`);
/** Chosen with --tune on banking77 train.csv 80/20 (see docs/classifier.md). */
const ENCODER_WEIGHT = 1;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

const embedder = new UseLiteEmbedder();
const embedStats: Record<string, { texts: number; msPerText: number; cpuMsPerText: number } | "cached"> = {};

async function withVectors(name: string, xs: LabelledText[]): Promise<LabelledText[]> {
  const r = await embedCached(embedder, xs.map((x) => x.text), name);
  embedStats[name] = r.fromCache ? "cached" : { texts: xs.length, msPerText: r3(r.wallMs / xs.length), cpuMsPerText: r3(r.cpuMs / xs.length) };
  return xs.map((x, i) => ({ ...x, vector: r.vectors[i] }));
}

interface ConfigResult {
  config: string;
  accuracy: number;
  macroF1: number;
  vsNoEncoder?: { onlyThis: number; onlyNone: number; pValue: number };
  trainMs: number;
  trainCpuMs: number;
  predictP50Ms: number;
  predictP95Ms: number;
  loadMs: number;
  artifactBytes: number;
  rssMb: number;
}

function trainAndScore(config: string, train: LabelledText[], test: LabelledText[], options: { encoder?: string; encoderWeight?: number }, reference?: boolean[]): ConfigResult & { correct: boolean[]; model: TextClassifier } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const model = TextClassifier.train(train, { seed: 1, ...options });
  const trainMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const times: number[] = [];
  const predicted = test.map((e) => {
    const s = performance.now();
    const label = model.predict(e.text, e.vector).label;
    times.push(performance.now() - s);
    return label;
  });
  const m = classificationMetrics(
    test.map((e) => e.label),
    predicted,
  );
  const correct = predicted.map((p, i) => p === test[i].label);
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-enc-"));
  let loadMs = 0;
  let artifactBytes = 0;
  try {
    model.save(dir);
    artifactBytes = statSync(join(dir, "model.json")).size + statSync(join(dir, "weights.bin")).size;
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const again = TextClassifier.load(dir);
      loads.push(performance.now() - t);
      if (i === 0 && again.predict(test[0].text, test[0].vector).confidence !== model.predict(test[0].text, test[0].vector).confidence) throw new Error(`${config}: the loaded artifact disagrees`);
    }
    loadMs = percentile(loads, 50);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const out: ConfigResult & { correct: boolean[]; model: TextClassifier } = {
    config,
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    trainMs: Math.round(trainMs),
    trainCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    predictP50Ms: r3(percentile(times, 50)),
    predictP95Ms: r3(percentile(times, 95)),
    loadMs: Math.round(loadMs * 10) / 10,
    artifactBytes,
    rssMb: Math.round(process.memoryUsage().rss / 1e6),
    correct,
    model,
  };
  if (reference) {
    const t = mcnemarExact(correct.map((a, i) => ({ a, b: reference[i] })));
    out.vsNoEncoder = { onlyThis: t.onlyA, onlyNone: t.onlyB, pValue: r3(t.pValue) };
  }
  const vs = out.vsNoEncoder ? `  vs none: +${out.vsNoEncoder.onlyThis}/−${out.vsNoEncoder.onlyNone} (McNemar p ${out.vsNoEncoder.pValue})` : "";
  console.log(
    `  ${config.padEnd(26)} acc ${pct(m.accuracy)}  macro-F1 ${pct(m.macroF1)}  train ${(trainMs / 1000).toFixed(1)} s (cpu ${(out.trainCpuMs / 1000).toFixed(1)} s)  predict p50/p95 ${out.predictP50Ms}/${out.predictP95Ms} ms  load ${out.loadMs} ms  ${(artifactBytes / 1e6).toFixed(1)} MB${vs}  [load avg ${load()}]`,
  );
  return out;
}

function baselines(train: LabelledText[], test: LabelledText[]) {
  const gold = test.map((e) => e.label);
  const tfidf = fewShot(train);
  const emb = fewShotEmbedded(train, 5, "use-lite");
  const a = classificationMetrics(gold, test.map((e) => tfidf.predict(e.text).label));
  const b = classificationMetrics(gold, test.map((e) => emb.predict(e.vector!).label));
  console.log(`  baseline ${tfidf.name.padEnd(30)} acc ${pct(a.accuracy)}  macro-F1 ${pct(a.macroF1)}`);
  console.log(`  baseline ${emb.name.padEnd(30)} acc ${pct(b.accuracy)}  macro-F1 ${pct(b.macroF1)}`);
  return { [tfidf.name]: { accuracy: a.accuracy, macroF1: a.macroF1 }, [emb.name]: { accuracy: b.accuracy, macroF1: b.macroF1 } };
}

/** End-to-end single-text latency with the encoder: embed one text (a model call) + predict. */
async function endToEnd(model: TextClassifier, texts: string[]) {
  const rssBefore = process.memoryUsage().rss;
  await embedder.embed(["warm up"], "query");
  const rssAfter = process.memoryUsage().rss;
  const embedMs: number[] = [];
  const totalMs: number[] = [];
  for (const t of texts) {
    const s = performance.now();
    const [v] = await embedder.embed([t], "query");
    const e = performance.now();
    model.predict(t, v);
    embedMs.push(e - s);
    totalMs.push(performance.now() - s);
  }
  return {
    texts: texts.length,
    embedP50Ms: r3(percentile(embedMs, 50)),
    embedP95Ms: r3(percentile(embedMs, 95)),
    predictP50Ms: r3(percentile(totalMs, 50)),
    predictP95Ms: r3(percentile(totalMs, 95)),
    rssMb: Math.round(rssAfter / 1e6),
    encoderLoadRssMb: Math.round((rssAfter - rssBefore) / 1e6),
    loadAverage: load(),
  };
}

const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), command: `node --import tsx bench/classifier-encoder.ts${TUNE ? " --tune" : ""}`, loadAverageStart: load() };

if (!existsSync(join(BANKING, "train.csv"))) {
  console.log(`banking77: skipped (${BANKING} not found)`);
} else if (TUNE) {
  const all = await withVectors("banking77 train", labelledExamples(readTable(join(BANKING, "train.csv")), "text", "category"));
  const [fit, val] = stratifiedSplit(all, 0.2, 1);
  console.log(`\nbanking77 validation (train.csv stratified 80/20, seed 1): ${fit.length} / ${val.length}`);
  const none = trainAndScore("no encoder", fit, val, {});
  const rows: ConfigResult[] = [none];
  for (const w of [0.5, 1, 2]) rows.push(trainAndScore(`use-lite, weight ${w}`, fit, val, { encoder: "use-lite", encoderWeight: w }, none.correct));
  results.validation = { rows: rows.map(({ correct: _c, model: _m, ...r }: ConfigResult & { correct?: boolean[]; model?: TextClassifier }) => r), baselines: baselines(fit, val) };
} else {
  const train = await withVectors("banking77 train", labelledExamples(readTable(join(BANKING, "train.csv")), "text", "category"));
  const test = await withVectors("banking77 test", labelledExamples(readTable(join(BANKING, "test.csv")), "text", "category"));
  console.log(`\nbanking77 test: ${train.length} train / ${test.length} test`);
  const none = trainAndScore("no encoder", train, test, {});
  const enc = trainAndScore(`use-lite, weight ${ENCODER_WEIGHT}`, train, test, { encoder: "use-lite", encoderWeight: ENCODER_WEIGHT }, none.correct);
  const e2e = await endToEnd(enc.model, test.slice(0, 300).map((e) => e.text));
  console.log(`  end to end with use-lite (300 texts, one at a time): embed p50/p95 ${e2e.embedP50Ms}/${e2e.embedP95Ms} ms, embed + predict p50/p95 ${e2e.predictP50Ms}/${e2e.predictP95Ms} ms; RSS ${e2e.rssMb} MB [load avg ${e2e.loadAverage}]`);
  const { correct: _a, model: _m, ...noneRow } = none;
  const { correct: _b, model: _n, ...encRow } = enc;
  results.banking77 = { rows: [noneRow, encRow], endToEnd: e2e, baselines: baselines(train, test) };
}

if (!TUNE) {
  const tickets = await withVectors("acme tickets", labelledExamples(readTable(TICKETS), "text", "queue"));
  const [tTrain, tTest] = stratifiedSplit(tickets, 0.2, 1);
  console.log(`\nacme tickets (stratified 80/20, seed 1): ${tTrain.length} / ${tTest.length}`);
  const none = trainAndScore("no encoder", tTrain, tTest, {});
  const enc = trainAndScore(`use-lite, weight ${ENCODER_WEIGHT}`, tTrain, tTest, { encoder: "use-lite", encoderWeight: ENCODER_WEIGHT }, none.correct);
  const { correct: _a, model: _m, ...noneRow } = none;
  const { correct: _b, model: _n, ...encRow } = enc;
  results.tickets = { rows: [noneRow, encRow], baselines: baselines(tTrain, tTest) };
}

results.embedding = embedStats;
results.loadAverageEnd = load();
mkdirSync(dirname(RESULTS), { recursive: true });
const tmp = `${RESULTS}.tmp-${process.pid}`;
writeFileSync(tmp, JSON.stringify(results, null, 2) + "\n");
renameSync(tmp, RESULTS);
console.log(`\nwrote ${RESULTS}`);
