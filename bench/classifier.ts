/**
 * In-process text classifier benchmark.
 *
 *   node --import tsx bench/classifier.ts
 *
 * 1. banking77 (../shared/datasets/banking77, skipped with a message when absent): train on
 *    train.csv (10,003 texts, 77 intents), score on test.csv (3,080). Default settings — they were
 *    chosen on held-out splits of train.csv, never on test.csv.
 * 2. examples/acme-support/tickets.csv (486 tickets, 10 queues): stratified 80/20 split (seed 1),
 *    same default settings — the "no retuning" check.
 *
 * For each: accuracy, macro-F1, training time, single-text predict p50/p95, load time of the saved
 * artifact, and the offline prompt baseline (few-shot k-NN; on banking77 also zero-shot by label
 * names). Writes bench/results/classifier.json.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { labelledExamples, readTable, runClassifyExperiment } from "../src/finetune/classify-eval.ts";
import { classificationMetrics, stratifiedSplit, TextClassifier, type LabelledText } from "../src/finetune/classifier/model.ts";
import { zeroShot } from "../src/finetune/baseline.ts";
import { percentile } from "../src/evaluate/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BANKING = resolve(ROOT, "../shared/datasets/banking77");
const TICKETS = join(ROOT, "examples/acme-support/tickets.csv");
const RESULTS = join(ROOT, "bench/results/classifier.json");
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

interface DatasetResult {
  dataset: string;
  train: number;
  test: number;
  labels: number;
  accuracy: number;
  macroF1: number;
  trainMs: number;
  predictP50Ms: number;
  predictP95Ms: number;
  loadMs: number;
  artifactBytes: number;
  temperature: number;
  heldOutAccuracy?: number;
  baseline: { name: string; accuracy: number; macroF1: number };
  zeroShot?: { name: string; accuracy: number; macroF1: number };
}

function run(dataset: string, train: LabelledText[], test: LabelledText[], labelNames?: string[]): DatasetResult {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-"));
  try {
    const r = runClassifyExperiment({ train, test, outDir: dir });
    // Load time: median of 5 cold-ish loads of the saved artifact; predictions must match exactly.
    const loads: number[] = [];
    let loaded: TextClassifier | undefined;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      loaded = TextClassifier.load(dir);
      loads.push(performance.now() - t);
    }
    const mismatches = test.slice(0, 500).filter((e) => loaded!.predict(e.text).confidence !== r.model.predict(e.text).confidence).length;
    if (mismatches > 0) throw new Error(`${dataset}: the loaded artifact disagrees with the trained model on ${mismatches} texts`);
    const bytes = statSync(join(dir, "model.json")).size + statSync(join(dir, "weights.bin")).size;
    const out: DatasetResult = {
      dataset,
      train: train.length,
      test: test.length,
      labels: r.labels,
      accuracy: r.accuracy,
      macroF1: r.macroF1,
      trainMs: r.trainMs,
      predictP50Ms: r.predictP50Ms,
      predictP95Ms: r.predictP95Ms,
      loadMs: Math.round(percentile(loads, 50) * 10) / 10,
      artifactBytes: bytes,
      temperature: r.model.temperature,
      heldOutAccuracy: r.model.metrics.validationAccuracy,
      baseline: { name: r.baseline.name, accuracy: r.baseline.accuracy, macroF1: r.baselineMacroF1 },
    };
    if (labelNames) {
      const z = zeroShot(labelNames.map((name) => ({ name })));
      const m = classificationMetrics(
        test.map((e) => e.label),
        test.map((e) => z.predict(e.text).label),
      );
      out.zeroShot = { name: z.name, accuracy: m.accuracy, macroF1: m.macroF1 };
    }
    print(out);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(r: DatasetResult): void {
  console.log(`\n${r.dataset}: ${r.train} train / ${r.test} test, ${r.labels} labels`);
  console.log(`  classifier        accuracy ${pct(r.accuracy)}  macro-F1 ${pct(r.macroF1)}  (held-out calibration split: ${r.heldOutAccuracy === undefined ? "n/a" : pct(r.heldOutAccuracy)})`);
  console.log(`  train ${(r.trainMs / 1000).toFixed(2)} s · predict p50 ${r.predictP50Ms} ms, p95 ${r.predictP95Ms} ms · load ${r.loadMs} ms · artifact ${(r.artifactBytes / 1e6).toFixed(1)} MB · T ${r.temperature.toFixed(3)}`);
  console.log(`  baseline ${r.baseline.name.padEnd(22)} accuracy ${pct(r.baseline.accuracy)}  macro-F1 ${pct(r.baseline.macroF1)}`);
  if (r.zeroShot) console.log(`  baseline ${r.zeroShot.name.padEnd(22)} accuracy ${pct(r.zeroShot.accuracy)}  macro-F1 ${pct(r.zeroShot.macroF1)}`);
}

const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), command: "node --import tsx bench/classifier.ts" };

if (existsSync(join(BANKING, "train.csv")) && existsSync(join(BANKING, "test.csv"))) {
  const train = labelledExamples(readTable(join(BANKING, "train.csv")), "text", "category");
  const test = labelledExamples(readTable(join(BANKING, "test.csv")), "text", "category");
  const catFile = join(BANKING, "categories.json");
  const names = existsSync(catFile) ? (JSON.parse(readFileSync(catFile, "utf8")) as string[]) : [...new Set(train.map((e) => e.label))];
  results.banking77 = run("banking77", train, test, names);
} else {
  console.log(`banking77: skipped (${BANKING} not found)`);
  results.banking77 = { skipped: `${BANKING} not found` };
}

const tickets = labelledExamples(readTable(TICKETS), "text", "queue");
const [ticketTrain, ticketTest] = stratifiedSplit(tickets, 0.2, 1);
results.tickets = run("acme tickets (stratified 80/20, seed 1)", ticketTrain, ticketTest);

const tmp = `${RESULTS}.tmp-${process.pid}`;
writeFileSync(tmp, JSON.stringify(results, null, 2) + "\n");
renameSync(tmp, RESULTS);
console.log(`\nwrote ${RESULTS}`);
