/**
 * Reader benchmark: how well `offline:extractive` picks the answering sentence and when it abstains.
 *
 *   node --import tsx bench/reader.ts [--label NAME] [--skip-demo] [--skip-clapnq]
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
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import type { ContextChunk } from "../src/models/index.ts";
import { tokenize } from "../src/retrieve/tokenize.ts";
import { multisetOverlap } from "../src/evaluate/normalize.ts";

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
    const yaml = readFileSync(config, "utf8");
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
  return multisetOverlap(ta, tb) >= 0.5 * Math.max(ta.length, tb.length);
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
  let leadCorrect = 0;
  let sentences = 0;
  let answers = 0;
  const count = (text: string, abstained: boolean) => {
    if (abstained) return;
    answers++;
    sentences += (text.match(/\s\[\d+\](?=\s|$)/g) ?? []).length;
  };
  for (const item of readJsonl<ClapItem>(answerablePath)) {
    const gold = item.output.flatMap((o) => (o.selected_sentences ?? []).map((s) => detokenize(s.replace(/&$/, ""))));
    if (gold.length === 0) continue;
    const result = await ask(item);
    count(result.text, result.abstained);
    const chosen = firstQuote(result.text);
    answerable.push({ correct: !result.abstained && gold.some((g) => tokenOverlapMatch(chosen, g)), confidence: result.confidence ?? 0, abstained: result.abstained });
    // Reference point: always quote the passage's first sentence.
    const lead = detokenize(item.passages[0].sentences[0] ?? "");
    if (gold.some((g) => tokenOverlapMatch(lead, g))) leadCorrect++;
  }
  const unanswerable: { confidence: number; abstained: boolean }[] = [];
  for (const item of readJsonl<ClapItem>(unanswerablePath)) {
    const result = await ask(item);
    count(result.text, result.abstained);
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
    leadSentenceAccuracy: ratio(leadCorrect, answerable.length),
    sentencesPerAnswer: ratio(sentences, answers),
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
} else if (!flag("--skip-clapnq")) {
  console.log(`CLAP NQ skipped: ${CLAPNQ_DIR} not found`);
}

const merged = {
  command: "node --import tsx bench/reader.ts --label <name>",
  runs: { ...(previous.runs ?? {}), [label]: { date: new Date().toISOString(), node: process.version, demo: demo ?? null, clapnq: clapnq ?? null } },
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(merged, null, 2)}\n`);
renameSync(`${RESULTS}.tmp`, RESULTS);
console.log(`\nwrote ${RESULTS} (runs: ${Object.keys(merged.runs).join(", ")})`);
