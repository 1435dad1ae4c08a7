/**
 * runPilot: the steps in order, each recorded before the next starts. Steps are functions of the
 * project, the options and the state so far; the orchestrator owns resuming, progress and the
 * record. Library calls only (ingest, runEval, trainAndRegister, decide, report): the same code
 * the commands run.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { LoadedConfig } from "../config/index.ts";
import type { RagtuneConfig } from "../config/schema.ts";
import { openProject, type Project } from "../pipeline/index.ts";
import { ingestProject } from "../ingest/index.ts";
import { reindexProject } from "../pipeline/reindex.ts";
import { loadSuite } from "../evaluate/suite.ts";
import { runEval, type RunEvalResult } from "../evaluate/runner.ts";
import { newRunId, readCaseResults, runsDir } from "../evaluate/runs.ts";
import { STATS_DEFAULTS } from "../evaluate/significance.ts";
import type { CaseResult, FailureCause } from "../evaluate/types.ts";
import type { VariantName } from "../config/index.ts";
import { decide, failureGroup, THRESHOLDS } from "../decide/index.ts";
import { buildReport, writeHtmlReport, writeReport } from "../report/index.ts";
import { declaredDatasetRequest, trainAndRegister } from "../finetune/train.ts";
import { priceFor } from "../models/prices.ts";
import { hasSnapshots } from "../store/index.ts";
import { InputError } from "../util/errors.ts";
import { compareToBasic, meanRecall, perCase, retrievalCandidates, type CandidateScore, type CandidateSet } from "./candidates.ts";
import { inputChanges, listPilots, loadState, pilotDir, saveState, sha256File, type PilotInputs, type PilotState, type StepName, type StepRecord } from "./state.ts";

export const PILOT_STEPS: readonly StepName[] = ["ingest", "baseline", "basic-rag", "improved-rag", "failures", "fine-tune", "decision"];

export interface PilotOptions {
  loaded: LoadedConfig;
  /** Answer yes to every question (also when CI=true). */
  yes?: boolean;
  /** Whether questions can be asked (stdin and stderr are terminals). */
  interactive?: boolean;
  /** Ask a yes/no question; resolves true for yes. Required when interactive. */
  ask?: (question: string) => Promise<boolean>;
  /** Resume this pilot id (default: the latest unfinished one). */
  resume?: string;
  /** Start a new pilot even when an unfinished one exists. */
  restart?: boolean;
  /** Stop after this step (a re-run continues from the next). */
  until?: StepName;
  candidates?: CandidateSet;
  /** Names `sources[i].include` as file:line in ingest errors (the CLI passes its config locator). */
  locateInclude?: (source: number, include: number) => string;
  /** Progress lines (stderr in the CLI). */
  onProgress?: (line: string) => void;
}

export interface PilotResult {
  dir: string;
  state: PilotState;
  /** Steps run now (not resumed from the record). */
  ran: StepName[];
}

interface StepContext {
  project: Project;
  loaded: LoadedConfig;
  state: PilotState;
  dir: string;
  options: PilotOptions;
  progress: (line: string) => void;
}

type StepOutput = Pick<StepRecord, "runIds" | "summary" | "data"> & { status?: StepRecord["status"] };

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function step(state: PilotState, name: StepName): StepRecord | undefined {
  return state.steps.find((s) => s.name === name);
}

function need<T>(state: PilotState, name: StepName, key: string): T {
  const s = step(state, name);
  if (!s || !(key in s.data)) throw new InputError(`pilot ${state.id}: step ${name} has no recorded ${key}; start again with --restart`);
  return s.data[key] as T;
}

/** Whether running `variants` with this config can cost money (a priced generator or judge). */
function paidModels(config: RagtuneConfig): string[] {
  const ids = [config.models.generator, ...(config.models.judge ? [config.models.judge] : [])];
  return ids.filter((id) => {
    const p = priceFor(id, config.pricing.models);
    return p === undefined || p.inputPerMTok > 0 || p.outputPerMTok > 0;
  });
}

async function confirm(ctx: StepContext, what: string): Promise<void> {
  const { options } = ctx;
  if (options.yes) return;
  if (!options.interactive || !options.ask) {
    throw new InputError(`pilot: ${what}; pass --yes (or set CI=true) to run it without asking`);
  }
  if (!(await options.ask(`${what}. Continue?`))) throw new InputError(`pilot: stopped before ${what} (answered no); re-run to continue from here`);
}

async function evalVariants(ctx: StepContext, project: Project, variants: VariantName[], label: string): Promise<RunEvalResult> {
  const paid = paidModels(project.config);
  if (paid.length) await confirm(ctx, `${label} calls ${paid.join(", ")}, which may cost money (see \`ragtune eval --dry-run\` for the estimate)`);
  const suite = loadSuite(resolve(project.root, project.config.suite!));
  let last = 0;
  return runEval({
    project,
    suite,
    variants,
    onProgress: (e) => {
      const now = performance.now();
      if (e.done === e.total || now - last > 2000) {
        last = now;
        ctx.progress(`  ${label}: ${e.done}/${e.total} cases`);
      }
    },
  });
}

function variantLine(r: RunEvalResult, name: string): { passRate: number; passed: number; cases: number; recall: number | null } {
  const v = r.summary.variants.find((x) => x.name === name);
  if (!v) return { passRate: 0, passed: 0, cases: 0, recall: null };
  return { passRate: v.passRate, passed: v.passed, cases: v.cases, recall: meanRecall(perCase(r.cases)) };
}

// ---------------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------------

async function ingestStep(ctx: StepContext): Promise<StepOutput> {
  const { project } = ctx;
  const stats = await reindexProject(project, ctx.options.locateInclude ? { locate: ctx.options.locateInclude } : {});
  const fp = hasSnapshots(project.store) ? project.store.identity().identity : undefined;
  if (fp) ctx.state.inputs.indexFingerprint = fp.fingerprint;
  return {
    runIds: [],
    summary: `${fp?.documents ?? "?"} documents, ${fp?.chunks ?? "?"} chunks`,
    data: { added: stats.added, changed: stats.changed, removed: stats.removed, unchanged: stats.unchanged, documents: fp?.documents, chunks: fp?.chunks },
  };
}

async function baselineStep(ctx: StepContext): Promise<StepOutput> {
  const r = await evalVariants(ctx, ctx.project, ["prompt-only"], "prompt-only baseline");
  const v = variantLine(r, "prompt-only");
  return { runIds: [r.summary.runId], summary: `prompt-only passes ${pct(v.passRate)} (${v.passed}/${v.cases})`, data: { runId: r.summary.runId, passRate: v.passRate } };
}

async function basicRagStep(ctx: StepContext): Promise<StepOutput> {
  const r = await evalVariants(ctx, ctx.project, ["rag"], "basic rag");
  const v = variantLine(r, "rag");
  return {
    runIds: [r.summary.runId],
    summary: `rag passes ${pct(v.passRate)} (${v.passed}/${v.cases}), recall@${r.summary.retrievalK} ${v.recall === null ? "n/a" : v.recall.toFixed(3)}`,
    data: { runId: r.summary.runId, passRate: v.passRate, recall: v.recall },
  };
}

/** Open the project with other chunking/retrieval settings, on its own index inside the pilot folder when the chunks differ. */
async function candidateProject(ctx: StepContext, chunking: RagtuneConfig["chunking"], retrieval: RagtuneConfig["retrieval"], name: string, reindex: boolean): Promise<Project> {
  const config: RagtuneConfig = { ...ctx.project.config, chunking, retrieval };
  const loaded: LoadedConfig = { ...ctx.loaded, config };
  if (!reindex) return openProject(loaded, { indexFile: ctx.project.indexFile });
  const folder = join(ctx.dir, "candidates", name);
  mkdirSync(folder, { recursive: true });
  const p = openProject(loaded, { indexFile: join(folder, "index.db") });
  await ingestProject({ root: p.root, sources: config.sources, chunking: config.chunking, store: p.store });
  return p;
}

async function improvedRagStep(ctx: StepContext): Promise<StepOutput> {
  const { project } = ctx;
  const basic = perCase(casesOf(ctx, need<string>(ctx.state, "basic-rag", "runId")));
  const alpha = project.config.evaluate.alpha ?? STATS_DEFAULTS.alpha;
  const candidates = retrievalCandidates(project.config, ctx.options.candidates);
  const scores: CandidateScore[] = [];
  const runIds: string[] = [];
  for (const [i, c] of candidates.entries()) {
    ctx.progress(`  candidate ${i + 1}/${candidates.length}: ${c.change}`);
    const p = await candidateProject(ctx, c.chunking, c.retrieval, c.name, c.reindex);
    try {
      const r = await evalVariants(ctx, p, ["rag"], c.name);
      runIds.push(r.summary.runId);
      const mine = perCase(r.cases);
      const v = variantLine(r, "rag");
      scores.push({ name: c.name, change: c.change, runId: r.summary.runId, cases: v.cases, passRate: v.passRate, recall: v.recall, vsBasic: compareToBasic(basic, mine, alpha, project.config.evaluate.seed) });
    } finally {
      p.close();
    }
  }
  const winners = scores.filter((s) => s.vsBasic?.better).sort((a, b) => (b.recall ?? 0) - (a.recall ?? 0) || b.passRate - a.passRate);
  const best = winners[0];
  const chosen = best ? candidates.find((c) => c.name === best.name)! : undefined;
  const summary = best
    ? `kept ${best.change}: ${best.vsBasic!.why}; rag passes ${pct(best.passRate)}`
    : `kept the project's settings: no candidate of ${candidates.length} gained recall significantly`;
  return {
    runIds,
    summary,
    data: {
      candidates: scores,
      chosen: chosen ? { name: chosen.name, change: chosen.change, reindex: chosen.reindex, chunking: chosen.chunking, retrieval: chosen.retrieval } : null,
    },
  };
}

/** A recorded run's case results. */
function casesOf(ctx: StepContext, runId: string): CaseResult[] {
  return readCaseResults(join(runsDir(ctx.loaded.root, ctx.loaded.config), runId));
}

/** The chosen settings' rag run: the winning candidate's, else basic rag's. */
function chosenRagRun(ctx: StepContext): string {
  const chosen = need<{ name: string } | null>(ctx.state, "improved-rag", "chosen");
  const scores = need<CandidateScore[]>(ctx.state, "improved-rag", "candidates");
  return chosen ? scores.find((s) => s.name === chosen.name)!.runId : need<string>(ctx.state, "basic-rag", "runId");
}

async function failuresStep(ctx: StepContext): Promise<StepOutput> {
  const cases = casesOf(ctx, chosenRagRun(ctx));
  const base = casesOf(ctx, need<string>(ctx.state, "baseline", "runId"));
  const baseFailed = new Set(base.filter((c) => !c.passed && !c.repeat).map((c) => c.caseId));
  const rag = cases.filter((c) => c.variant === "rag" && !c.repeat);
  const fixed = rag.filter((c) => c.passed && baseFailed.has(c.caseId)).length;
  const byCause: Partial<Record<FailureCause, number>> = {};
  const byGroup = { knowledge: 0, behaviour: 0, reasoning: 0, unlabelled: 0 };
  for (const c of rag) {
    if (c.passed) continue;
    if (c.failure) byCause[c.failure.cause] = (byCause[c.failure.cause] ?? 0) + 1;
    const g = failureGroup(c.failure);
    byGroup[g ?? "unlabelled"]++;
  }
  const failed = rag.filter((c) => !c.passed).length;
  const causes = Object.entries(byCause).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  return {
    runIds: [],
    summary: `rag fixed ${fixed} of prompt-only's ${baseFailed.size} failures; ${failed} remain (${causes || "none"})`,
    data: { fixed, baselineFailed: baseFailed.size, failed, byCause, byGroup, cases: rag.length },
  };
}

async function fineTuneStep(ctx: StepContext): Promise<StepOutput> {
  const { project } = ctx;
  const g = need<{ behaviour: number }>(ctx.state, "failures", "byGroup");
  const n = need<number>(ctx.state, "failures", "cases");
  const labelled = project.config.constraints.labelledExamples;
  const datasets = project.config.finetune.datasets;
  const reasons: string[] = [];
  if (g.behaviour === 0 || g.behaviour < THRESHOLDS.minBehaviourRate * n) reasons.push(`behaviour failures left on rag are ${g.behaviour} of ${n} cases (fine-tuning needs ≥ ${pct(THRESHOLDS.minBehaviourRate)} of cases)`);
  if (labelled < THRESHOLDS.minLabels) reasons.push(`constraints.labelledExamples is ${labelled} (fine-tuning needs ≥ ${THRESHOLDS.minLabels})`);
  if (!datasets.length) reasons.push("no finetune.datasets in ragtune.yaml to train on");
  const inProcess = datasets.filter((d) => !d.trainer || d.trainer === "classifier" || d.trainer === "memoriser");
  if (datasets.length && !inProcess.length) reasons.push(`the datasets use trainers (${datasets.map((d) => d.trainer).join(", ")}) that need \`ragtune finetune train\` with their flags`);
  if (reasons.length) return { status: "skipped", runIds: [], summary: `not justified or not possible: ${reasons.join("; ")}`, data: { justified: false, reasons } };

  const outcomes: { id: string; task: string; promoted: boolean; gate: unknown }[] = [];
  for (const d of inProcess) {
    ctx.progress(`  training ${d.task} on ${d.file} (${d.trainer ?? "default trainer"}), gated against the prompt baseline`);
    const o = await trainAndRegister(project, declaredDatasetRequest(project, d, "gate"));
    outcomes.push({ id: o.record.id, task: o.record.task, promoted: o.promoted, gate: o.gate });
  }
  const promoted = outcomes.filter((o) => o.promoted);
  return {
    runIds: [],
    summary: promoted.length ? `trained ${outcomes.length}, promoted ${promoted.map((o) => `${o.task} ${o.id}`).join(", ")} (passed the gate)` : `trained ${outcomes.length}, none passed the gate (kept unpromoted)`,
    data: { justified: true, models: outcomes },
  };
}

async function decisionStep(ctx: StepContext): Promise<StepOutput> {
  const chosen = need<{ name: string; chunking: RagtuneConfig["chunking"]; retrieval: RagtuneConfig["retrieval"]; reindex: boolean } | null>(ctx.state, "improved-rag", "chosen");
  const p = chosen ? await candidateProject(ctx, chosen.chunking, chosen.retrieval, chosen.name, chosen.reindex) : ctx.project;
  try {
    const r = await evalVariants(ctx, p, p.config.variants, "decision run (all variants)");
    const decision = decide(r.summary, r.cases, p.config);
    const report = buildReport(r.summary, r.cases, decision, p.config);
    writeReport(r.runDir, report);
    await writeHtmlReport(r.runDir, report, r.cases, p.indexFile);
    const watch = decision.rollout.flatMap((s) => s.watch.map((w) => `${s.title}: ${w}`));
    return {
      runIds: [r.summary.runId],
      summary: `${decision.architecture} (confidence ${decision.confidence}, rule ${decision.rule})`,
      data: { runId: r.summary.runId, runDir: r.runDir, architecture: decision.architecture, confidence: decision.confidence, rule: decision.rule, report: join(r.runDir, "report.html"), watch, generator: r.summary.generator },
    };
  } finally {
    if (p !== ctx.project) p.close();
  }
}

const RUNNERS: Record<StepName, (ctx: StepContext) => Promise<StepOutput>> = {
  ingest: ingestStep,
  baseline: baselineStep,
  "basic-rag": basicRagStep,
  "improved-rag": improvedRagStep,
  failures: failuresStep,
  "fine-tune": fineTuneStep,
  decision: decisionStep,
};

// ---------------------------------------------------------------------------------------------
// Orchestration
// ---------------------------------------------------------------------------------------------

function currentInputs(loaded: LoadedConfig): PilotInputs {
  if (!loaded.config.suite) throw new InputError(`${loaded.path}: suite: the pilot needs a suite of cases (set suite: in ragtune.yaml)`);
  return { configSha256: sha256File(loaded.path), suiteSha256: sha256File(resolve(loaded.root, loaded.config.suite)) };
}

/** The pilot to continue (named, or the latest unfinished one), or a new one. */
function openState(loaded: LoadedConfig, options: PilotOptions, inputs: PilotInputs): { dir: string; state: PilotState } {
  const runs = runsDir(loaded.root, loaded.config);
  const ids = listPilots(runs);
  let id = options.resume;
  if (id !== undefined && !ids.includes(id)) {
    throw new InputError(`--resume: no pilot '${id}' in ${runs}${ids.length ? ` (pilots: ${ids.slice(-5).join(", ")})` : " (none yet)"}`);
  }
  if (id === undefined && !options.restart) {
    const latest = ids[ids.length - 1];
    if (latest && !loadState(pilotDir(runs, latest)).complete) id = latest;
  }
  if (id !== undefined && !options.restart) {
    const dir = pilotDir(runs, id);
    const state = loadState(dir);
    const changes = inputChanges(state.inputs, inputs);
    if (changes.length) {
      throw new InputError(`pilot ${id}: ${changes.join("; ")} since its steps ran, so they no longer describe this project; start a new pilot with --restart`);
    }
    return { dir, state };
  }
  const fresh: PilotState = { pilotVersion: 1, id: newRunId(), createdAt: new Date().toISOString(), inputs, steps: [], complete: false };
  const dir = pilotDir(runs, fresh.id);
  saveState(dir, fresh);
  return { dir, state: fresh };
}

export async function runPilot(options: PilotOptions): Promise<PilotResult> {
  const { loaded } = options;
  if (options.until && !PILOT_STEPS.includes(options.until)) {
    throw new InputError(`--until: unknown step '${options.until}' (steps: ${PILOT_STEPS.join(", ")})`);
  }
  const inputs = currentInputs(loaded);
  const { dir, state } = openState(loaded, options, inputs);
  const progress = options.onProgress ?? (() => {});
  const project = openProject(loaded);
  const ran: StepName[] = [];
  try {
    for (const [i, name] of PILOT_STEPS.entries()) {
      const done = step(state, name);
      if (done) {
        progress(`[${i + 1}/${PILOT_STEPS.length}] ${name}: recorded (${done.summary})`);
        // The documents must still be the ones the recorded steps measured: bring the index up to
        // date (incremental, only changed files) and compare its fingerprint with the recorded one.
        if (name === "ingest" && hasSnapshots(project.store) && state.inputs.indexFingerprint) {
          const stats = await ingestStep({ project, loaded, state: { ...state, inputs: { ...state.inputs } }, dir, options, progress });
          const now = project.store.identity().identity.fingerprint;
          if (now !== state.inputs.indexFingerprint) {
            const d = stats.data as { added: number; changed: number; removed: number };
            throw new InputError(
              `pilot ${state.id}: the documents changed since its steps ran (${d.added} added, ${d.changed} changed, ${d.removed} removed; the index is now up to date), so they no longer describe this project; start a new pilot with --restart`,
            );
          }
        }
      } else {
        progress(`[${i + 1}/${PILOT_STEPS.length}] ${name}…`);
        const startedAt = new Date();
        const t0 = performance.now();
        const out = await RUNNERS[name]({ project, loaded, state, dir, options, progress });
        const rec: StepRecord = { name, status: out.status ?? "done", startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), ms: Math.round(performance.now() - t0), runIds: out.runIds, summary: out.summary, data: out.data };
        state.steps.push(rec);
        saveState(dir, state);
        ran.push(name);
        progress(`[${i + 1}/${PILOT_STEPS.length}] ${name}: ${rec.summary} (${(rec.ms / 1000).toFixed(1)} s)`);
      }
      if (options.until === name) break;
    }
    if (state.steps.length === PILOT_STEPS.length && !state.complete) {
      state.complete = true;
      saveState(dir, state);
    }
  } finally {
    project.close();
  }
  return { dir, state, ran };
}
