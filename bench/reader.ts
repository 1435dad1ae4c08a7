/**
 * Reader benchmark: how well `offline:extractive` picks the answering sentence and when it abstains.
 *
 *   node --import tsx bench/reader.ts [--label NAME] [--skip-demo] [--skip-clapnq] [--semantic]
 *
 * `--semantic` (label "semantic" unless given): the demo evals run with `answer.semantic: use-lite`;
 * on CLAP NQ the semantic signal's weights are chosen on the tune half (sha1 of the item id, first
 * byte even) and reported on both halves next to the lexical reader, with latency per answer.
 *
 * 1. Demo suite: copies examples/acme-support to a temp dir, runs `ragtune ingest` and
 *    `ragtune eval --variants rag`, and scores the qa cases from runs/<id>/cases.jsonl — at the
 *    project's `answer.minConfidence`, then once per threshold of the sweep (a run records
 *    abstentions, not confidences, so each threshold is its own eval).
 * 2. Held-out CLAP NQ dev (../shared/datasets/clapnq, skipped when absent): the gold passage is the
 *    only context chunk. Answerable: the reader's first quoted sentence must be one of the annotated
 *    selected sentences (≥ 50% token overlap in both directions). Unanswerable: it must abstain.
 *    The reader runs once with minConfidence 0; every threshold is then applied to the reported
 *    confidence (the reader's choice of sentence does not depend on the threshold).
 *
 * Prints tables and merges the run under `runs[NAME]` (default "current") into
 * bench/results/reader.json; later runs print the `baseline` run's numbers next to their own.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import type { Embedder } from "../src/models/index.ts";
import { UseLiteEmbedder } from "../src/models/embedders/use-lite.ts";
import { SEMANTIC_CONFIDENCE_WEIGHT, SEMANTIC_SELECTION_WEIGHT, SEMANTIC_SIM_FLOOR, SEMANTIC_SIM_FULL } from "../src/models/extractive/semantic.ts";
import {
  cachingEncoder,
  clapMetrics,
  DEFAULT_MIN_CONFIDENCE,
  latency,
  loadClapItems,
  runReader,
  THRESHOLDS,
  tuneSemantic,
  type ClapItem,
  type ClapMetrics,
  type ItemResult,
  type SemanticWeights,
} from "./lib/reader-clapnq.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLAPNQ_DIR = resolve(ROOT, "../shared/datasets/clapnq/annotated_data/dev");
const RESULTS = join(ROOT, "bench/results/reader.json");

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
/** The reader with `answer.semantic: use-lite`: demo evals with it on; CLAP NQ tunes and confirms its weights. */
const semantic = flag("--semantic");
const label = option("--label", semantic ? "semantic" : "current");
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

// ---------------------------------------------------------------------------------------------
// 1. Demo suite through the CLI
// ---------------------------------------------------------------------------------------------

interface CaseRow {
  caseId: string;
  task: string;
  output: string;
  passed: boolean;
  abstained: boolean;
  tags?: string[];
  failure?: { signal?: string } | null;
  scores: { name: string; pass: boolean }[];
  retrieval?: { hitAtK?: number };
}

function runDemo() {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-reader-bench-"));
  try {
    const project = join(tmp, "acme-support");
    cpSync(join(ROOT, "examples/acme-support"), project, {
      recursive: true,
      filter: (src) => !/[/\\](?:runs|\.ragtune)(?:[/\\]|$)/.test(src.slice(ROOT.length)),
    });
    const cli = (...argv: string[]) =>
      execFileSync(process.execPath, [join(ROOT, "bin/ragtune.js"), ...argv], { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    const config = join(project, "ragtune.yaml");
    const original = readFileSync(config, "utf8");
    if (semantic && !/^answer:\n/m.test(original)) throw new Error(`${config}: no top-level answer: section to add semantic: use-lite to`);
    const yaml = semantic ? original.replace(/^answer:\n/m, "answer:\n  semantic: use-lite\n") : original;
    const configuredMatch = /^\s*minConfidence:\s*([\d.]+)/m.exec(yaml);
    const configured = Number(configuredMatch?.[1] ?? DEFAULT_MIN_CONFIDENCE);
    cli("ingest", "-c", config);
    const runsDir = join(project, "runs");
    // One eval per threshold: the run records abstentions, not the confidence behind them.
    const evalAt = (minConfidence: number): CaseRow[] => {
      writeFileSync(config, yaml.replace(/^(\s*minConfidence:\s*)[\d.]+/m, `$1${minConfidence}`));
      const before = new Set(existsSync(runsDir) ? readdirSync(runsDir) : []);
      try {
        cli("eval", "--variants", "rag", "-c", config, "--json");
      } catch (e) {
        // Exit code 1 means a quality gate failed; the run is still recorded.
        if ((e as { status?: number }).status !== 1) throw e;
      }
      const runId = readdirSync(runsDir).find((d) => !before.has(d));
      if (!runId) throw new Error(`no new run under ${runsDir}`);
      return readFileSync(join(runsDir, runId, "cases.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CaseRow);
    };
    const atConfigured = summarize(evalAt(configured));
    // The sweep rewrites `answer.minConfidence`; without that line there is nothing to sweep.
    const sweep = configuredMatch ? THRESHOLDS.filter((t) => t !== configured).map((t) => ({ minConfidence: t, ...summarize(evalAt(t)) })) : [];
    sweep.push({ minConfidence: configured, ...atConfigured });
    sweep.sort((a, b) => a.minConfidence - b.minConfidence);
    return {
      minConfidence: configured,
      ...atConfigured,
      sweep: sweep.map((r) => ({
        minConfidence: r.minConfidence,
        answerablePassRate: r.answerablePassRate,
        abstentionAccuracy: r.abstentionAccuracy,
        passed: r.answerablePassed + r.abstainedCorrectly,
      })),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function summarize(rows: CaseRow[]) {
  const qa = rows.filter((r) => r.task === "qa");
  const mustAbstain = qa.filter((r) => r.scores.some((s) => s.name === "abstention"));
  const answerable = qa.filter((r) => !mustAbstain.includes(r) && r.scores.some((s) => s.name === "answer"));
  const knowledge = answerable.filter((r) => r.tags?.includes("knowledge") || r.tags?.includes("changed-fact"));
  const signals: Record<string, number> = {};
  for (const r of qa) if (r.failure?.signal) signals[r.failure.signal] = (signals[r.failure.signal] ?? 0) + 1;
  const passRate = (rs: CaseRow[]) => ratio(rs.filter((r) => r.passed).length, rs.length);
  const answered = qa.filter((r) => !r.abstained);
  return {
    qaCases: qa.length,
    answerable: answerable.length,
    answerablePassed: answerable.filter((r) => r.passed).length,
    abstainedCorrectly: mustAbstain.filter((r) => r.abstained).length,
    answerablePassRate: passRate(answerable),
    knowledgePassRate: passRate(knowledge),
    knowledgeCases: knowledge.length,
    answerableAbstained: answerable.filter((r) => r.abstained).length,
    goldInTopK: ratio(knowledge.filter((r) => (r.retrieval?.hitAtK ?? 0) > 0).length, knowledge.length),
    mustAbstain: mustAbstain.length,
    abstentionAccuracy: ratio(mustAbstain.filter((r) => r.abstained).length, mustAbstain.length),
    goldInContextWrongAnswer: signals.gold_in_context_wrong_answer ?? 0,
    answeredUnanswerable: signals.answered_unanswerable ?? 0,
    failureSignals: signals,
    sentencesPerAnswer: ratio(answered.reduce((n, r) => n + (r.output.match(/\s\[\d+\](?=\s|$)/g) ?? []).length, 0), answered.length),
    failedCases: answerable.filter((r) => !r.passed).map((r) => r.caseId),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. CLAP NQ dev, gold passage as context (items, split and metrics in lib/reader-clapnq.ts)
// ---------------------------------------------------------------------------------------------

async function runClapnq() {
  const answerablePath = join(CLAPNQ_DIR, "clapnq_dev_answerable.jsonl");
  const unanswerablePath = join(CLAPNQ_DIR, "clapnq_dev_unanswerable.jsonl");
  if (!existsSync(answerablePath) || !existsSync(unanswerablePath)) return undefined;
  const items = loadClapItems(answerablePath, unanswerablePath);
  const tune = items.filter((i) => i.half === "tune");
  const heldout = items.filter((i) => i.half === "heldout");
  const lexicalReader = new ExtractiveReader({ minConfidence: 0, maxSentences: 2 });
  const lexical = await runReader(lexicalReader, items);
  const byHalf = (results: ItemResult[], half: ClapItem["half"]) => results.filter((_, i) => items[i].half === half);
  const report = {
    split: "sha1(id)[0] even = tune, odd = held out",
    ...clapMetrics(lexical),
    tune: clapMetrics(byHalf(lexical, "tune")),
    heldout: clapMetrics(byHalf(lexical, "heldout")),
  };
  if (!semantic) return { ...report, semantic: null };

  // Weights chosen on the tune half only; the encoder's vectors are shared across the grid.
  const model = new UseLiteEmbedder();
  const encoder = cachingEncoder(model);
  const tuning = await tuneSemantic(encoder, tune);
  const defaults: SemanticWeights = { selectionWeight: SEMANTIC_SELECTION_WEIGHT, confidenceWeight: SEMANTIC_CONFIDENCE_WEIGHT, simFloor: SEMANTIC_SIM_FLOOR, simFull: SEMANTIC_SIM_FULL };
  const semanticReader = (w: SemanticWeights, enc: Embedder) => new ExtractiveReader({ minConfidence: 0, maxSentences: 2, semantic: { encoder: enc, ...w } });
  const chosen = await runReader(semanticReader(tuning.chosen, encoder), items);
  const atDefaults = await runReader(semanticReader(defaults, encoder), items);
  // Latency per answer on held-out items, alternating lexical and semantic passes; the semantic
  // passes embed with a cold cache (a fresh reader each pass, the model already loaded).
  const timing: { lexical: ReturnType<typeof latency>[]; semantic: ReturnType<typeof latency>[] } = { lexical: [], semantic: [] };
  for (let round = 0; round < 2; round++) {
    timing.lexical.push(latency(await runReader(new ExtractiveReader({ minConfidence: 0, maxSentences: 2 }), heldout)));
    timing.semantic.push(latency(await runReader(semanticReader(defaults, model), heldout)));
  }
  return {
    ...report,
    semantic: {
      encoder: model.id,
      tuning,
      defaults,
      chosen: { weights: tuning.chosen, tune: clapMetrics(byHalf(chosen, "tune")), heldout: clapMetrics(byHalf(chosen, "heldout")) },
      atDefaults: { tune: clapMetrics(byHalf(atDefaults, "tune")), heldout: clapMetrics(byHalf(atDefaults, "heldout")) },
      latency: { ...timing, loadAverage: loadavg() },
    },
  };
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const demo = flag("--skip-demo") ? undefined : runDemo();
const clapnq = flag("--skip-clapnq") ? undefined : await runClapnq();

const previous = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, "utf8")) as { runs?: Record<string, RunRecord> }) : {};
const baseline = label === "baseline" ? undefined : previous.runs?.baseline;
type RunRecord = { demo: typeof demo | null; clapnq: typeof clapnq | null };
const vs = (now: string, before: string | undefined) => (before === undefined ? now : `${now}  (baseline ${before})`);

console.log(`reader bench — label "${label}" (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
if (demo) {
  const b = baseline?.demo ?? undefined;
  console.log(`demo suite (examples/acme-support, rag variant, qa cases, minConfidence ${demo.minConfidence} from its ragtune.yaml)`);
  console.table({
    "answerable qa pass rate": vs(`${pct(demo.answerablePassRate)} (${demo.answerablePassed}/${demo.answerable})`, b && `${pct(b.answerablePassRate)} (${b.answerablePassed}/${b.answerable})`),
    "knowledge + changed-fact pass rate": vs(`${pct(demo.knowledgePassRate)} of ${demo.knowledgeCases}`, b && pct(b.knowledgePassRate)),
    "  gold page in top-k": pct(demo.goldInTopK),
    "answerable abstained": vs(String(demo.answerableAbstained), b && String(b.answerableAbstained)),
    "must_abstain accuracy": vs(`${pct(demo.abstentionAccuracy)} (${demo.abstainedCorrectly}/${demo.mustAbstain})`, b && `${pct(b.abstentionAccuracy)} (${b.abstainedCorrectly}/${b.mustAbstain})`),
    gold_in_context_wrong_answer: vs(String(demo.goldInContextWrongAnswer), b && String(b.goldInContextWrongAnswer)),
    answered_unanswerable: vs(String(demo.answeredUnanswerable), b && String(b.answeredUnanswerable)),
    stale_answer_match: vs(String(demo.failureSignals.stale_answer_match ?? 0), b && String(b.failureSignals.stale_answer_match ?? 0)),
    "sentences per answer": vs(demo.sentencesPerAnswer.toFixed(2), b && b.sentencesPerAnswer?.toFixed(2)),
  });
  console.log("demo threshold sweep (one eval per minConfidence)");
  console.table(
    demo.sweep.map((r) => {
      const old = b?.sweep?.find((x) => x.minConfidence === r.minConfidence);
      return {
        minConfidence: r.minConfidence,
        "answerable pass": vs(pct(r.answerablePassRate), old && pct(old.answerablePassRate)),
        "must_abstain acc": vs(pct(r.abstentionAccuracy), old && pct(old.abstentionAccuracy)),
        "qa cases passed": vs(String(r.passed), old && String(old.passed)),
      };
    }),
  );
}
if (clapnq) {
  const b = baseline?.clapnq ?? undefined;
  console.log(`CLAP NQ dev (${clapnq.answerable} answerable, ${clapnq.unanswerable} unanswerable; gold passage as the only context chunk)`);
  console.log(`  selection accuracy, never abstaining: ${vs(pct(clapnq.selectionAccuracy), b && pct(b.selectionAccuracy))}; first passage sentence: ${pct(clapnq.leadSentenceAccuracy)}`);
  console.log(`  confidence AUC, answerable vs unanswerable: ${vs(clapnq.confidenceAuc.toFixed(3), b && b.confidenceAuc.toFixed(3))}`);
  console.log(`  sentences per answer: ${vs(clapnq.sentencesPerAnswer.toFixed(2), b && b.sentencesPerAnswer?.toFixed(2))}`);
  console.table(
    clapnq.sweep.map((r) => {
      const old = b?.sweep.find((x) => x.minConfidence === r.minConfidence);
      return {
        minConfidence: r.minConfidence,
        "sentence acc": vs(pct(r.sentenceAccuracy), old && pct(old.sentenceAccuracy)),
        answered: pct(r.answeredRate),
        "abstain P": pct(r.abstentionPrecision),
        "abstain R": vs(pct(r.abstentionRecall), old && pct(old.abstentionRecall)),
        "overall acc": vs(pct(r.overallAccuracy), old && pct(old.overallAccuracy)),
      };
    }),
  );
  const halves = (name: string, m: { tune: ClapMetrics; heldout: ClapMetrics }) =>
    (["tune", "heldout"] as const).map((h) => ({
      reader: name,
      half: h,
      items: `${m[h].answerable}+${m[h].unanswerable}`,
      "selection acc": pct(m[h].selectionAccuracy),
      AUC: m[h].confidenceAuc.toFixed(3),
      [`answered@${DEFAULT_MIN_CONFIDENCE}`]: pct(m[h].atDefault.answeredRate),
      [`abstain R@${DEFAULT_MIN_CONFIDENCE}`]: pct(m[h].atDefault.abstentionRecall),
      [`overall@${DEFAULT_MIN_CONFIDENCE}`]: pct(m[h].atDefault.overallAccuracy),
      "best overall (t)": (() => {
        const best = m[h].sweep.reduce((x, y) => (y.overallAccuracy > x.overallAccuracy ? y : x));
        return `${pct(best.overallAccuracy)} (${best.minConfidence})`;
      })(),
    }));
  console.log(`\nsplit: ${clapnq.split}`);
  const rows = halves("lexical", clapnq);
  const sem = clapnq.semantic;
  if (sem) {
    const w = (x: SemanticWeights) => `sel ${x.selectionWeight}, conf ${x.confidenceWeight}, sim ${x.simFloor}–${x.simFull}`;
    rows.push(...halves(`semantic, tuned (${w(sem.chosen.weights)})`, sem.chosen), ...halves(`semantic, defaults (${w(sem.defaults)})`, sem.atDefaults));
    console.table(rows);
    console.log("tune grid: selection weight → tune selection accuracy (confidence weight 0)");
    console.table(sem.tuning.selection.map((r) => ({ selectionWeight: r.selectionWeight, "selection acc": pct(r.selectionAccuracy) })));
    console.log(`tune grid: confidence weight × similarity range → tune overall accuracy at ${DEFAULT_MIN_CONFIDENCE} (selection weight ${sem.chosen.weights.selectionWeight})`);
    console.table(sem.tuning.confidence.map((r) => ({ confidenceWeight: r.confidenceWeight, sim: `${r.simFloor}–${r.simFull}`, "overall acc": pct(r.overallAccuracy), AUC: r.auc.toFixed(3) })));
    const l = sem.latency;
    console.log(`latency per answer, held-out half (load average ${l.loadAverage.map((x) => x.toFixed(2)).join(" ")} at the end)`);
    console.table([...l.lexical.map((x, i) => ({ pass: `lexical ${i + 1}`, ...x })), ...l.semantic.map((x, i) => ({ pass: `semantic ${i + 1} (cold cache)`, ...x }))].map((r) => ({
      pass: r.pass,
      answers: r.answers,
      "mean ms": r.meanMs.toFixed(2),
      "p50 ms": r.p50Ms.toFixed(2),
      "p95 ms": r.p95Ms.toFixed(2),
      "mean CPU ms": r.meanCpuMs.toFixed(2),
    })));
  } else {
    console.table(rows);
  }
} else if (!flag("--skip-clapnq")) {
  console.log(`CLAP NQ skipped: ${CLAPNQ_DIR} not found`);
}

const merged = {
  command: "node --import tsx bench/reader.ts --label <name> [--semantic]",
  runs: { ...(previous.runs ?? {}), [label]: { date: new Date().toISOString(), node: process.version, demo: demo ?? null, clapnq: clapnq ?? null } },
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(merged, null, 2)}\n`);
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`\nwrote ${RESULTS} (runs: ${Object.keys(merged.runs).join(", ")})`);
