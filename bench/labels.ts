/**
 * Labeller benchmark by construction: how often does the failure labeller name the cause we
 * injected? Suites with known-good answers (the demo project, and the real corpora suites when
 * ../shared/datasets is present); each case that passes on the rag variant with offline:extractive
 * gets each applicable cause injected through the real pipeline (bench/lib/label-injection.ts),
 * then the real scorers and `labelFailure` label it. Prints the confusion matrix (injected ×
 * assigned) and per-cause accuracy per suite and overall; writes bench/results/labels.json.
 *
 *   node --import tsx bench/labels.ts [--suite demo|pnpm-docs|fastify-docs|all] [--label NAME]
 *
 * Deterministic signals only (no LLM judge). Exit 2 on bad arguments.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadConfig } from "../src/config/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { FAILURE_CAUSES } from "../src/evaluate/types.ts";
import { confusion, indexWithout, injectAll, type InjectionOutcome, type LabelBenchResult } from "./lib/label-injection.ts";
import type { CorpusProject } from "./corpora/project-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const RESULTS = join(ROOT, "bench/results/labels.json");
const SUITES = ["demo", "pnpm-docs", "fastify-docs"] as const;

function usage(message: string): never {
  console.error(`bench/labels.ts: ${message}`);
  console.error("usage: node --import tsx bench/labels.ts [--suite demo|pnpm-docs|fastify-docs|all] [--label NAME]");
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const opts = { suites: [...SUITES] as string[], label: "current" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--suite" || a === "--label") {
      if (v === undefined || v.startsWith("--")) usage(`${a} needs a value`);
      i++;
      if (a === "--label") {
        if (!/^[\w.-]+$/.test(v)) usage(`--label: '${v}' must be letters, digits, '.', '_' or '-'`);
        opts.label = v;
      } else {
        opts.suites = v === "all" ? [...SUITES] : v.split(",").map((s) => s.trim());
        for (const s of opts.suites) if (!(SUITES as readonly string[]).includes(s)) usage(`--suite: unknown suite '${s}' (allowed: ${SUITES.join(", ")}, all)`);
      }
    } else usage(`unknown option '${a}'`);
  }
  return opts;
}

/** The demo project copied to a temp folder (the example stays untouched). */
function demoProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-labels-demo-"));
  cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true, filter: (src) => !src.includes(".ragtune") && !src.includes("/runs") });
  return dir;
}

/** A corpus project as bench/corpora/run.ts builds it: dataset folders copied, only name/sources/suite set. */
async function corpusProject(name: string): Promise<string | undefined> {
  const { project: p } = (await import(`./corpora/${name}/project.ts`)) as { project: CorpusProject };
  if (!existsSync(join(DATASETS, p.dataset))) return undefined;
  const dir = mkdtempSync(join(tmpdir(), `ragtune-labels-${name}-`));
  for (const item of p.copy) cpSync(join(DATASETS, p.dataset, item), join(dir, item), { recursive: true });
  cpSync(join(ROOT, "bench/corpora", name), join(dir, "suite"), { recursive: true });
  const config = { name: p.name, sources: p.sources.map((s) => ({ include: s.include, version: s.version, ...(s.exclude ? { exclude: s.exclude } : {}) })), suite: "suite/suite.yaml" };
  writeFileSync(join(dir, "ragtune.yaml"), stringify(config));
  return dir;
}

async function openIngested(dir: string): Promise<Project> {
  const loaded = loadConfig(join(dir, "ragtune.yaml"));
  const project = openProject(loaded);
  await ingestProject({ root: project.root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  return project;
}

interface SuiteResult extends LabelBenchResult {
  suite: string;
  cases: number;
  baselinePassed: number;
  outcomes: InjectionOutcome[];
  ms: number;
}

async function benchSuite(name: string): Promise<SuiteResult | undefined> {
  const dir = name === "demo" ? demoProject() : await corpusProject(name);
  if (!dir) {
    console.log(`${name}: skipped (${DATASETS} has no ${name})`);
    return undefined;
  }
  const t0 = performance.now();
  const project = await openIngested(dir);
  const suite = loadSuite(resolve(project.root, project.config.suite!));
  const scratch = mkdtempSync(join(tmpdir(), "ragtune-labels-index-"));
  const withoutDocuments = indexWithout(project, scratch);
  try {
    const { outcomes, baselinePassed, baselineTotal } = await injectAll({ project, suite, withoutDocuments });
    return { suite: name, cases: baselineTotal, baselinePassed, ...confusion(outcomes), outcomes, ms: Math.round(performance.now() - t0) };
  } finally {
    project.close();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (x: number | null) => (x === null ? "  n/a" : `${(x * 100).toFixed(1).padStart(5)}%`);
const SHORT: Record<string, string> = {
  missing_knowledge: "missing",
  stale_knowledge: "stale",
  wrong_retrieval: "wrong_ret",
  hallucination: "halluc",
  bad_format: "format",
  wrong_tone: "tone",
  policy_violation: "policy",
  weak_reasoning: "weak",
};

function printResult(title: string, r: LabelBenchResult): void {
  console.log(`\n${title}: ${r.overall.correct}/${r.overall.failed} labelled as injected (${pct(r.overall.accuracy).trim()})`);
  const causes = FAILURE_CAUSES;
  console.log(`${"injected \\ assigned".padEnd(20)}${causes.map((c) => SHORT[c].padStart(10)).join("")}${"passed".padStart(8)}${"accuracy".padStart(10)}`);
  for (const p of r.perCause) {
    console.log(`${p.cause.padEnd(20)}${causes.map((c) => String(r.matrix[p.cause][c]).padStart(10)).join("")}${String(p.stillPassed).padStart(8)}${pct(p.accuracy).padStart(10)}`);
  }
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const results: SuiteResult[] = [];
  for (const name of opts.suites) {
    const r = await benchSuite(name);
    if (!r) continue;
    results.push(r);
    console.log(`\n== ${name}: ${r.baselinePassed}/${r.cases} cases pass on rag (offline:extractive); ${r.outcomes.length} injections in ${r.ms} ms`);
    printResult(name, r);
  }
  const all = confusion(results.flatMap((r) => r.outcomes));
  if (results.length > 1) printResult("all suites", all);
  // The corpora's holdout cases were never looked at while the rules were tuned: reported apart.
  const holdoutOutcomes = results.flatMap((r) => r.outcomes.filter((o) => /(^|\/)holdout\.yaml$/.test(o.file)));
  const holdout = holdoutOutcomes.length ? confusion(holdoutOutcomes) : undefined;
  if (holdout) printResult("corpora holdout cases only", holdout);
  const wrong = results.flatMap((r) => r.outcomes.filter((o) => o.assigned !== "passed" && o.assigned !== o.injected).map((o) => ({ suite: r.suite, ...o })));
  if (wrong.length) {
    console.log(`\nmislabelled (${wrong.length}, first 15):`);
    for (const w of wrong.slice(0, 15)) console.log(`  ${w.suite}/${w.caseId}: injected ${w.injected} → ${w.assigned} (${w.signal}) ${w.evidence?.slice(0, 140)}`);
  }
  let previous: Record<string, unknown> = {};
  if (existsSync(RESULTS)) {
    try {
      previous = JSON.parse(readFileSync(RESULTS, "utf8"));
    } catch {
      previous = {};
    }
  }
  const record = {
    date: new Date().toISOString(),
    command: `node --import tsx bench/labels.ts ${process.argv.slice(2).join(" ")}`.trim(),
    judges: "none (deterministic signals)",
    suites: Object.fromEntries(results.map((r) => [r.suite, { cases: r.cases, baselinePassed: r.baselinePassed, perCause: r.perCause, matrix: r.matrix, overall: r.overall, ms: r.ms, mislabelled: r.outcomes.filter((o) => o.assigned !== "passed" && o.assigned !== o.injected) }])),
    all: { perCause: all.perCause, matrix: all.matrix, overall: all.overall },
    ...(holdout ? { holdout: { perCause: holdout.perCause, matrix: holdout.matrix, overall: holdout.overall } } : {}),
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify({ ...previous, [opts.label]: record }, null, 2)}\n`);
  renameSync(`${RESULTS}.tmp`, RESULTS);
  console.log(`\nwrote ${RESULTS} [${opts.label}]`);
  return 0;
}

process.exitCode = await main();
