/**
 * Reader benchmark: how well `offline:extractive` picks the answering sentence and when it abstains.
 *
 *   node --import tsx bench/reader.ts [--label NAME] [--skip-demo] [--skip-clapnq]
 *
 * 1. Demo suite: copies examples/acme-support to a temp dir, runs `ragtune ingest` and
 *    `ragtune eval --variants rag`, and scores the qa cases from runs/<id>/cases.jsonl.
 * 2. Held-out CLAP NQ dev (../shared/datasets/clapnq, skipped when absent): the gold passage is the
 *    only context chunk. Answerable: the reader's first quoted sentence must be one of the annotated
 *    selected sentences (≥ 50% token overlap in both directions). Unanswerable: it must abstain.
 *    The reader runs once with minConfidence 0; every threshold is then applied to the reported
 *    confidence (the reader's choice of sentence does not depend on the threshold).
 *
 * Prints a table and merges the run under `runs[NAME]` (default "current") into
 * bench/results/reader.json, so a baseline and a later run sit side by side.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import type { ContextChunk } from "../src/models/index.ts";
import { tokenize } from "../src/retrieve/tokenize.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLAPNQ_DIR = resolve(ROOT, "../shared/datasets/clapnq/annotated_data/dev");
const RESULTS = join(ROOT, "bench/results/reader.json");
const THRESHOLDS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6];
const DEFAULT_MIN_CONFIDENCE = 0.35;

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const label = option("--label", "current");
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

// ---------------------------------------------------------------------------------------------
// 1. Demo suite through the CLI
// ---------------------------------------------------------------------------------------------

interface CaseRow {
  caseId: string;
  task: string;
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
    cli("ingest", "-c", config);
    try {
      cli("eval", "--variants", "rag", "-c", config, "--json");
    } catch (e) {
      // Exit code 1 means a quality gate failed; the run is still recorded.
      if ((e as { status?: number }).status !== 1) throw e;
    }
    const runsDir = join(project, "runs");
    const runId = readdirSync(runsDir).sort().at(-1);
    if (!runId) throw new Error(`no run under ${runsDir}`);
    const rows = readFileSync(join(runsDir, runId, "cases.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CaseRow);
    const qa = rows.filter((r) => r.task === "qa");
    const mustAbstain = qa.filter((r) => r.scores.some((s) => s.name === "abstention"));
    const answerable = qa.filter((r) => !mustAbstain.includes(r) && r.scores.some((s) => s.name === "answer"));
    const knowledge = answerable.filter((r) => r.tags?.includes("knowledge") || r.tags?.includes("changed-fact"));
    const signals: Record<string, number> = {};
    for (const r of qa) if (r.failure?.signal) signals[r.failure.signal] = (signals[r.failure.signal] ?? 0) + 1;
    const passRate = (rs: CaseRow[]) => ratio(rs.filter((r) => r.passed).length, rs.length);
    return {
      qaCases: qa.length,
      answerable: answerable.length,
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
      failedCases: answerable.filter((r) => !r.passed).map((r) => r.caseId),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 2. CLAP NQ dev, gold passage as context
// ---------------------------------------------------------------------------------------------

interface ClapItem {
  id: string;
  input: string;
  passages: { title: string; text: string; sentences: string[] }[];
  output: { answer: string; selected_sentences?: string[] }[];
}

/** The dataset is space-tokenised ("Valladolid ." / "( 1 )"); restore ordinary prose spacing. */
function detokenize(s: string): string {
  return s
    .replace(/``\s*|\s*''/g, '"')
    .replace(/\s+([.,;:!?%)\]])/g, "$1")
    .replace(/([([])\s+/g, "$1")
    .replace(/\s+(['’](?:s|re|ve|d|ll|m|t)\b)/gi, "$1")
    .replace(/\s+n't\b/g, "n't")
    .replace(/\s+-\s+/g, (m) => (m.length === 3 ? "-" : " - "))
    .replace(/\s+/g, " ")
    .trim();
}

function readJsonl<T>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

function tokenOverlapMatch(a: string, b: string): boolean {
  const ta = tokenize(a);
  const tb = tokenize(b);
  if (ta.length === 0 || tb.length === 0) return false;
  const counts = new Map<string, number>();
  for (const t of tb) counts.set(t, (counts.get(t) ?? 0) + 1);
  let overlap = 0;
  for (const t of ta) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      overlap++;
      counts.set(t, c - 1);
    }
  }
  return overlap >= 0.5 * Math.max(ta.length, tb.length);
}

/** First quoted sentence of an answer "Sentence one. [1] Sentence two. [1]". */
function firstQuote(text: string): string {
  return text.split(/\s\[\d+\]/)[0]?.trim() ?? "";
}

async function runClapnq() {
  const answerablePath = join(CLAPNQ_DIR, "clapnq_dev_answerable.jsonl");
  const unanswerablePath = join(CLAPNQ_DIR, "clapnq_dev_unanswerable.jsonl");
  if (!existsSync(answerablePath) || !existsSync(unanswerablePath)) return undefined;
  const reader = new ExtractiveReader({ minConfidence: 0, maxSentences: 2 });
  const ask = async (item: ClapItem) => {
    const p = item.passages[0];
    const chunk: ContextChunk = { id: `${item.id}#0`, path: `${p.title}.md`, headingPath: [p.title], lineStart: 1, lineEnd: 1, version: "dev", text: detokenize(p.text) };
    return reader.generate({ task: "qa", input: item.input, context: [chunk], minConfidence: 0 });
  };

  const answerable: { correct: boolean; confidence: number; abstained: boolean }[] = [];
  for (const item of readJsonl<ClapItem>(answerablePath)) {
    const gold = item.output.flatMap((o) => (o.selected_sentences ?? []).map((s) => detokenize(s.replace(/&$/, ""))));
    if (gold.length === 0) continue;
    const result = await ask(item);
    const chosen = firstQuote(result.text);
    answerable.push({ correct: !result.abstained && gold.some((g) => tokenOverlapMatch(chosen, g)), confidence: result.confidence ?? 0, abstained: result.abstained });
  }
  const unanswerable: { confidence: number; abstained: boolean }[] = [];
  for (const item of readJsonl<ClapItem>(unanswerablePath)) {
    const result = await ask(item);
    unanswerable.push({ confidence: result.confidence ?? 0, abstained: result.abstained });
  }

  const at = (t: number) => {
    const abstainA = answerable.filter((r) => r.abstained || r.confidence < t).length;
    const correctA = answerable.filter((r) => !(r.abstained || r.confidence < t) && r.correct).length;
    const abstainU = unanswerable.filter((r) => r.abstained || r.confidence < t).length;
    return {
      minConfidence: t,
      sentenceAccuracy: ratio(correctA, answerable.length),
      answeredRate: ratio(answerable.length - abstainA, answerable.length),
      abstentionPrecision: ratio(abstainU, abstainU + abstainA),
      abstentionRecall: ratio(abstainU, unanswerable.length),
      overallAccuracy: ratio(correctA + abstainU, answerable.length + unanswerable.length),
    };
  };
  // Ranking quality of confidence alone: P(conf(answerable) > conf(unanswerable)).
  let wins = 0;
  for (const a of answerable) for (const u of unanswerable) wins += a.confidence > u.confidence ? 1 : a.confidence === u.confidence ? 0.5 : 0;
  const mean = (xs: number[]) => ratio(xs.reduce((s, x) => s + x, 0), xs.length);
  return {
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    selectionAccuracy: ratio(answerable.filter((r) => r.correct).length, answerable.length),
    atDefault: at(DEFAULT_MIN_CONFIDENCE),
    confidenceAuc: ratio(wins, answerable.length * unanswerable.length),
    meanConfidence: { answerable: mean(answerable.map((r) => r.confidence)), unanswerable: mean(unanswerable.map((r) => r.confidence)) },
    sweep: THRESHOLDS.map(at),
  };
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const demo = flag("--skip-demo") ? undefined : runDemo();
const clapnq = flag("--skip-clapnq") ? undefined : await runClapnq();

console.log(`reader bench — label "${label}" (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
if (demo) {
  console.log("demo suite (examples/acme-support, rag variant, qa cases)");
  console.table({
    "answerable qa pass rate": `${pct(demo.answerablePassRate)} (${Math.round(demo.answerablePassRate * demo.answerable)}/${demo.answerable})`,
    "knowledge + changed-fact pass rate": `${pct(demo.knowledgePassRate)} of ${demo.knowledgeCases} (gold in top-k ${pct(demo.goldInTopK)})`,
    "answerable abstained": demo.answerableAbstained,
    "must_abstain accuracy": `${pct(demo.abstentionAccuracy)} (${Math.round(demo.abstentionAccuracy * demo.mustAbstain)}/${demo.mustAbstain})`,
    gold_in_context_wrong_answer: demo.goldInContextWrongAnswer,
    answered_unanswerable: demo.answeredUnanswerable,
  });
}
if (clapnq) {
  console.log(`CLAP NQ dev (${clapnq.answerable} answerable, ${clapnq.unanswerable} unanswerable; gold passage as context)`);
  console.log(`selection accuracy (never abstaining): ${pct(clapnq.selectionAccuracy)}; confidence AUC answerable vs unanswerable: ${clapnq.confidenceAuc.toFixed(3)}`);
  console.table(
    clapnq.sweep.map((r) => ({
      minConfidence: r.minConfidence,
      "sentence acc": pct(r.sentenceAccuracy),
      answered: pct(r.answeredRate),
      "abstain P": pct(r.abstentionPrecision),
      "abstain R": pct(r.abstentionRecall),
      "overall acc": pct(r.overallAccuracy),
    })),
  );
} else if (!flag("--skip-clapnq")) {
  console.log(`CLAP NQ skipped: ${CLAPNQ_DIR} not found`);
}

const previous = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, "utf8")) as { runs?: Record<string, unknown> }) : {};
const merged = {
  command: "node --import tsx bench/reader.ts --label <name>",
  runs: { ...(previous.runs ?? {}), [label]: { date: new Date().toISOString(), node: process.version, demo: demo ?? null, clapnq: clapnq ?? null } },
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(merged, null, 2)}\n`);
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`\nwrote ${RESULTS} (runs: ${Object.keys(merged.runs).join(", ")})`);
