/**
 * Labeller benchmark by construction: how often does the failure labeller name the cause we
 * injected? Suites with known-good answers (the demo project, and the real corpora suites when
 * ../shared/datasets is present); each case that passes on the rag variant with offline:extractive
 * gets each applicable cause injected through the real pipeline (bench/lib/label-injection.ts),
 * then the real scorers and `labelFailure` label it. Prints the confusion matrix (injected ×
 * assigned) and per-cause accuracy per suite and overall; writes bench/results/labels.json.
 *
 *   node --import tsx bench/labels.ts [--suite demo|pnpm-docs|fastify-docs|all] [--label NAME]
 *        [--judge] [--judge-noise P[,P…]] [--judge-model ID] [--judge-config ragtune.yaml]
 *
 * Offline (always): deterministic signals only. --judge: the same injections again with the five
 * LLM judges on, so the labeller also uses judge evidence (J1..J5). The judge is a local HTTP
 * server speaking the OpenAI chat-completions protocol (bench/lib/judge-server.ts) that answers
 * with a transparent HEURISTIC, not a language model: that matrix measures how the labeller uses
 * judge evidence, not a real judge's accuracy. --judge-noise flips a seeded share P of its verdicts
 * (one matrix per P). --judge-model uses a real configured model instead (e.g. openai:gpt-4o-mini,
 * key from the environment; --judge-config takes models.providers and models.judge from a
 * ragtune.yaml, for openai-compatible:<provider>/<model> ids); an unreachable one is an error
 * before any case runs. Exit 2 on bad
 * arguments or an unreachable judge.
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
import { confusion, indexWithout, injectAll, type FalseAlarms, type InjectionOutcome, type JudgeSetup, type LabelBenchResult } from "./lib/label-injection.ts";
import { startJudgeServer, type JudgeServer } from "./lib/judge-server.ts";
import { createChatProvider } from "../src/models/registry.ts";
import { JUDGE_NAMES } from "../src/config/schema.ts";
import type { ChatProvider } from "../src/models/index.ts";
import type { CorpusProject } from "./corpora/project-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const RESULTS = join(ROOT, "bench/results/labels.json");
const SUITES = ["demo", "pnpm-docs", "fastify-docs"] as const;

function usage(message: string): never {
  console.error(`bench/labels.ts: ${message}`);
  console.error("usage: node --import tsx bench/labels.ts [--suite demo|pnpm-docs|fastify-docs|all] [--label NAME] [--judge] [--judge-noise P[,P…]] [--judge-model ID] [--judge-config ragtune.yaml]");
  process.exit(2);
}

export interface LabelBenchOptions {
  suites: string[];
  label: string;
  /** Judge mode: one run per noise level (empty = offline only). */
  judgeNoise: number[];
  /** A real judge model instead of the local heuristic server. */
  judgeModel?: string;
  /** A ragtune.yaml whose models.providers (and models.judge, when --judge-model is not given) the real judge uses. */
  judgeConfig?: string;
}

/** The models section of a --judge-config file; a bad file is a usage error naming it. */
function judgeModels(file: string) {
  try {
    return loadConfig(file).config.models;
  } catch (error) {
    usage(`--judge-config: ${(error as Error).message}`);
  }
}

function parseArgs(argv: string[]): LabelBenchOptions {
  const opts: LabelBenchOptions = { suites: [...SUITES], label: "current", judgeNoise: [] };
  let judge = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--judge") {
      judge = true;
      continue;
    }
    if (a === "--suite" || a === "--label" || a === "--judge-noise" || a === "--judge-model" || a === "--judge-config") {
      if (v === undefined || v.startsWith("--")) usage(`${a} needs a value`);
      i++;
      if (a === "--label") {
        if (!/^[\w.-]+$/.test(v)) usage(`--label: '${v}' must be letters, digits, '.', '_' or '-'`);
        opts.label = v;
      } else if (a === "--judge-noise") {
        judge = true;
        opts.judgeNoise = v.split(",").map((x) => {
          const p = Number(x.trim());
          if (x.trim() === "" || !Number.isFinite(p) || p < 0 || p > 1) usage(`--judge-noise: '${x}' must be a number from 0 to 1 (comma-separated for several)`);
          return p;
        });
      } else if (a === "--judge-config") {
        judge = true;
        if (!existsSync(v)) usage(`--judge-config: no such file '${v}'`);
        opts.judgeConfig = resolve(v);
      } else if (a === "--judge-model") {
        judge = true;
        if (v.trim() === "" || v.length > 1000) usage("--judge-model: needs a model id, e.g. openai:gpt-4o-mini");
        opts.judgeModel = v.trim();
      } else {
        opts.suites = v === "all" ? [...SUITES] : v.split(",").map((s) => s.trim());
        for (const s of opts.suites) if (!(SUITES as readonly string[]).includes(s)) usage(`--suite: unknown suite '${s}' (allowed: ${SUITES.join(", ")}, all)`);
      }
    } else usage(`unknown option '${a}'`);
  }
  if (opts.judgeConfig && !opts.judgeModel) {
    const id = judgeModels(opts.judgeConfig).judge;
    if (!id) usage(`--judge-config ${opts.judgeConfig}: models.judge is not set there; pass --judge-model ID`);
    opts.judgeModel = id;
  }
  if (judge && opts.judgeNoise.length === 0) opts.judgeNoise = [0];
  if (opts.judgeModel && opts.judgeNoise.some((p) => p > 0)) usage("--judge-noise flips the local heuristic judge's verdicts; it cannot be combined with --judge-model");
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

/** One mode's result on one suite: offline, or judged at one noise level. */
interface ModeResult extends LabelBenchResult {
  cases: number;
  baselinePassed: number;
  outcomes: InjectionOutcome[];
  falseAlarms?: FalseAlarms;
  ms: number;
}

interface SuiteResult {
  suite: string;
  offline: ModeResult;
  judged: { noise: number; result: ModeResult; requests: number; flipped: number }[];
}

/** Where judge mode gets its judge: the local heuristic server (one per noise level) or a real model. */
interface JudgeSource {
  describe: string;
  open(project: Project, noise: number): Promise<{ setup: JudgeSetup; stats: () => { requests: number; flipped: number }; close: () => Promise<void> }>;
}

const LOCAL_PROVIDER = "labels-heuristic-judge";

const localJudge: JudgeSource = {
  describe: "local heuristic judge (bench/lib/judge-server.ts; a stand-in, NOT an LLM)",
  async open(project, noise) {
    const server: JudgeServer = await startJudgeServer({ noise, seed: 1 });
    // Through the real provider stack (registry → retries → cache), as models.judge would be.
    const models = {
      ...project.config.models,
      providers: { ...project.config.models.providers, [LOCAL_PROVIDER]: { kind: "openai" as const, baseUrl: server.url, apiKeyEnv: "RAGTUNE_LABELS_NO_KEY", timeoutMs: 30_000, maxRetries: 0, maxConcurrency: 4 } },
    };
    const provider = createChatProvider(`openai-compatible:${LOCAL_PROVIDER}/heuristic-judge`, models, {}, { baseDir: project.root });
    return { setup: { provider, judges: [...JUDGE_NAMES] }, stats: () => ({ requests: server.stats.requests, flipped: server.stats.flipped }), close: () => server.close() };
  },
};

function realJudge(id: string, configFile?: string): JudgeSource {
  return {
    describe: `${id} (a configured model)`,
    async open(project) {
      let provider: ChatProvider;
      try {
        const own = configFile ? judgeModels(configFile) : undefined;
        const models = own ? { ...project.config.models, providers: own.providers, limits: own.limits } : project.config.models;
        provider = createChatProvider(id, models, process.env, { baseDir: own ? dirname(configFile!) : project.root });
      } catch (error) {
        usage(`--judge-model ${id}: ${(error as Error).message}`);
      }
      // One small call first, so an unreachable endpoint or a missing key stops here with its reason.
      try {
        await provider.chat([{ role: "user", content: 'Reply with {"ok": true}' }], { json: true, maxTokens: 16, temperature: 0 });
      } catch (error) {
        console.error(`bench/labels.ts: --judge-model ${id} is unreachable or refused the request: ${(error as Error).message}`);
        process.exit(2);
      }
      return { setup: { provider, judges: [...JUDGE_NAMES] }, stats: () => ({ requests: 0, flipped: 0 }), close: async () => {} };
    },
  };
}

async function benchSuite(name: string, opts: LabelBenchOptions, judgeSource: JudgeSource): Promise<SuiteResult | undefined> {
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
  const mode = async (judge?: JudgeSetup): Promise<ModeResult> => {
    const t = performance.now();
    const { outcomes, baselinePassed, baselineTotal, falseAlarms } = await injectAll({ project, suite, withoutDocuments, judge });
    return { cases: baselineTotal, baselinePassed, ...confusion(outcomes), outcomes, ...(falseAlarms ? { falseAlarms } : {}), ms: Math.round(performance.now() - (judge ? t : t0)) };
  };
  // Judges are opened first: an unreachable --judge-model stops before any case runs.
  const judges: Awaited<ReturnType<JudgeSource["open"]>>[] = [];
  try {
    for (const noise of opts.judgeNoise) judges.push(await judgeSource.open(project, noise));
    const offline = await mode();
    const judged: SuiteResult["judged"] = [];
    for (const [i, noise] of opts.judgeNoise.entries()) judged.push({ noise, result: await mode(judges[i].setup), ...judges[i].stats() });
    return { suite: name, offline, judged };
  } finally {
    for (const j of judges) await j.close();
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

const isHoldout = (o: InjectionOutcome) => /(^|\/)holdout\.yaml$/.test(o.file);
const mislabelled = (outcomes: InjectionOutcome[]) => outcomes.filter((o) => o.assigned !== "passed" && o.assigned !== o.injected);

function printMislabelled(results: { suite: string; outcomes: InjectionOutcome[] }[]): void {
  const wrong = results.flatMap((r) => mislabelled(r.outcomes).map((o) => ({ suite: r.suite, ...o })));
  if (!wrong.length) return;
  console.log(`\nmislabelled (${wrong.length}, first 15):`);
  for (const w of wrong.slice(0, 15)) console.log(`  ${w.suite}/${w.caseId}: injected ${w.injected} → ${w.assigned} (${w.signal}) ${w.evidence?.slice(0, 140)}`);
}

/** The all-suites matrix, the holdout-only one and the mislabelled list of one mode, printed and as JSON. */
function summarize(title: string, perSuite: { suite: string; r: ModeResult }[]) {
  const outcomes = perSuite.flatMap((x) => x.r.outcomes);
  const all = confusion(outcomes);
  if (perSuite.length > 1) printResult(`${title}, all suites`, all);
  // The corpora's holdout cases were never looked at while the rules were tuned: reported apart.
  const holdoutOutcomes = outcomes.filter(isHoldout);
  const holdout = holdoutOutcomes.length ? confusion(holdoutOutcomes) : undefined;
  if (holdout) printResult(`${title}, corpora holdout cases only`, holdout);
  printMislabelled(perSuite.map((x) => ({ suite: x.suite, outcomes: x.r.outcomes })));
  const alarms = perSuite.map((x) => x.r.falseAlarms).filter((f): f is FalseAlarms => f !== undefined);
  const falseAlarms = alarms.length
    ? alarms.reduce<FalseAlarms>((a, f) => {
        for (const [c, n] of Object.entries(f.byCause)) a.byCause[c as keyof FalseAlarms["byCause"]] = (a.byCause[c as keyof FalseAlarms["byCause"]] ?? 0) + (n ?? 0);
        return { judged: a.judged + f.judged, failed: a.failed + f.failed, byCause: a.byCause };
      }, { judged: 0, failed: 0, byCause: {} })
    : undefined;
  // Which labels came from judge evidence (signal judge.*), per assigned cause: the judge rules at work.
  const fromJudge: Record<string, number> = {};
  for (const o of outcomes) if (o.signal?.startsWith("judge.") && o.assigned !== "passed") fromJudge[o.assigned] = (fromJudge[o.assigned] ?? 0) + 1;
  if (Object.keys(fromJudge).length) console.log(`\nlabels from judge evidence (signal judge.*), by assigned cause: ${Object.entries(fromJudge).map(([c, n]) => `${c} ${n}`).join(", ")}`);
  if (falseAlarms) console.log(`\nfalse alarms: ${falseAlarms.failed} of ${falseAlarms.judged} passing baselines (nothing injected) fail once judged${falseAlarms.failed ? ` — labelled ${JSON.stringify(falseAlarms.byCause)}` : ""}`);
  const json = (r: LabelBenchResult) => ({ perCause: r.perCause, matrix: r.matrix, overall: r.overall });
  return {
    suites: Object.fromEntries(perSuite.map(({ suite, r }) => [suite, { cases: r.cases, baselinePassed: r.baselinePassed, ...json(r), ...(r.falseAlarms ? { falseAlarms: r.falseAlarms } : {}), ms: r.ms, mislabelled: mislabelled(r.outcomes) }])),
    all: json(all),
    ...(holdout ? { holdout: json(holdout) } : {}),
    ...(falseAlarms ? { falseAlarms } : {}),
    labelsFromJudgeEvidence: fromJudge,
  };
}

export const HEURISTIC_NOTE =
  "The local judge is a transparent heuristic stand-in (bench/lib/judge-server.ts), not an LLM: this matrix measures how the labeller uses judge evidence, not how accurate a real LLM judge is.";

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const judgeSource = opts.judgeModel ? realJudge(opts.judgeModel, opts.judgeConfig) : localJudge;
  const results: SuiteResult[] = [];
  for (const name of opts.suites) {
    const r = await benchSuite(name, opts, judgeSource);
    if (!r) continue;
    results.push(r);
    console.log(`\n== ${name}: ${r.offline.baselinePassed}/${r.offline.cases} cases pass on rag (offline:extractive); ${r.offline.outcomes.length} injections in ${r.offline.ms} ms`);
    printResult(`${name} [offline: deterministic signals]`, r.offline);
    for (const j of r.judged) {
      console.log(`\n-- ${name} with judges: ${judgeSource.describe}${opts.judgeModel ? "" : `, noise ${j.noise}`}; ${j.requests} judge requests, ${j.flipped} flipped; ${j.result.ms} ms`);
      printResult(`${name} [judge${opts.judgeModel ? ` ${opts.judgeModel}` : `, noise ${j.noise}`}]`, j.result);
    }
  }
  console.log("\n==== offline (deterministic signals only; generator offline:extractive)");
  const offline = summarize("offline", results.map((r) => ({ suite: r.suite, r: r.offline })));
  const judged = opts.judgeNoise.map((noise, i) => {
    console.log(`\n==== with judges: ${judgeSource.describe}${opts.judgeModel ? "" : `, noise ${noise}`}`);
    if (!opts.judgeModel) console.log(HEURISTIC_NOTE);
    const s = summarize(`judge${opts.judgeModel ? "" : ` noise ${noise}`}`, results.map((r) => ({ suite: r.suite, r: r.judged[i].result })));
    return { noise, requests: results.reduce((n, r) => n + r.judged[i].requests, 0), flipped: results.reduce((n, r) => n + r.judged[i].flipped, 0), ...s };
  });
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
    generator: "offline:extractive (crafted outputs for the injections that need them)",
    judges: "none (deterministic signals)",
    ...offline,
    ...(judged.length
      ? {
          judge: {
            model: opts.judgeModel ?? "local heuristic judge (bench/lib/judge-server.ts), openai-compatible protocol",
            ...(opts.judgeModel ? {} : { note: HEURISTIC_NOTE, seed: 1 }),
            levels: judged,
          },
        }
      : {}),
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify({ ...previous, [opts.label]: record }, null, 2)}\n`);
  renameSync(`${RESULTS}.tmp`, RESULTS);
  console.log(`\nwrote ${RESULTS} [${opts.label}]`);
  return 0;
}

process.exitCode = await main();
