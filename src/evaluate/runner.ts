/**
 * The evaluation runner: every suite case × every configured variant, scored, labelled,
 * costed and timed, streamed to runs/<id>/cases.jsonl. Resumable: a rerun with the same run id
 * skips the (case, variant) pairs already recorded.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildVariants, type Project, type Variant } from "../pipeline/index.ts";
import { priceFor, costUsd, type Price } from "../models/prices.ts";
import type { ChatProvider } from "../models/index.ts";
import type { VariantName } from "../config/index.ts";
import type { CaseResult, JudgeName, JudgeVerdict, RunSummary, ScoreResult, Suite, SuiteCase } from "./types.ts";
import { applicableJudges, assertNotSelfJudge, judgeOnlyCases, runJudge, verdictToScore } from "./judges/index.ts";
import { compareVariants } from "./significance.ts";
import { estimateRun, type RunEstimate } from "./estimate.ts";
import { scoreCase } from "./scorers.ts";
import { caseVerdict } from "./verdict.ts";
import { answerSupport } from "./metrics.ts";
import { summariseVariant } from "./stats.ts";
import {
  appendCaseResult,
  newRunId,
  readCaseResults,
  readSnapshot,
  repairCaseLog,
  runsDir,
  writeSnapshot,
  writeSummary,
  type RunSnapshot,
} from "./runs.ts";
import { pinForResume, pinNewRun, releaseSnapshot, SNAPSHOT_FILE, type PinnedIndex } from "./snapshot.ts";
import type { IndexIdentity } from "../store/index.ts";
import { InputError, JobFailure } from "../util/errors.ts";

export const RAGTUNE_VERSION = "0.1.0";

export interface RunEvalOptions {
  project: Project;
  suite: Suite;
  /** Variants to run (default: config.variants). */
  variants?: VariantName[];
  /** Resume this run folder instead of starting a new one. */
  resumeDir?: string;
  /** Only cases with one of these tags. */
  tags?: string[];
  /** Runs of generation (and judging) per case; default `evaluate.repeats`. */
  repeats?: number;
  /** Cases in flight at once; default `evaluate.concurrency`. */
  concurrency?: number;
  /** Permit judging with the model under test (refused by default). */
  allowSelfJudge?: boolean;
  /**
   * Spending cap in USD (default `evaluate.maxCostUsd`): a run whose estimate exceeds it does not
   * start; a run whose measured cost would pass it stops before the next case (resumable).
   */
  maxCostUsd?: number;
  onProgress?: (event: { done: number; total: number; variant: string; caseId: string; passed: boolean; repeat: number; costUsd: number }) => void;
  /**
   * Run cases somewhere else (the Redis queue, evaluate/queue/) instead of in this process. The
   * runner still decides what runs and is the only writer of cases.jsonl and summary.json.
   */
  dispatch?: CaseDispatcher;
}

/** One (case, variant, repeat) of a run. */
export interface CaseTask {
  variant: string;
  caseId: string;
  repeat: number;
}

export interface CaseDispatcher {
  /** Tasks handed out at once (replaces `concurrency`). */
  readonly inFlight: number;
  /** Before the first task. */
  start(run: { runDir: string; snapshot: RunSnapshot; root: string; allowSelfJudge: boolean }): Promise<void>;
  /** The task's result, computed elsewhere; resolves once per task. */
  run(task: CaseTask): Promise<CaseResult>;
  /** After the run: `complete` when every task is recorded. */
  finish(complete: boolean): Promise<void>;
}

export interface RunEvalResult {
  runDir: string;
  summary: RunSummary;
  cases: CaseResult[];
  /** The pre-run estimate (what --dry-run prints), made when a cost cap applies. */
  estimate?: RunEstimate;
  /** The index the run read (its pinned copy), and the live index's identity when that differs (a resume after an ingest). */
  index?: IndexIdentity & { live?: IndexIdentity };
}

/** A provider error that retrying will not fix (auth, validation): the run stops, resumable. */
function isFatalProviderError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === false;
}

/** The bits of a run the case loop needs besides the project. */
export interface CaseContext {
  project: Project;
  suite: Suite;
  runId: string;
  corpusPaths: Set<string>;
  /** The newest version label of the corpus: chunks of it are the current docs (stale-answer check). */
  currentVersion?: string;
  judge?: { provider: ChatProvider; judges: JudgeName[]; price?: Price };
  ownPrice?: Price;
  refPrice?: Price;
}

export function fingerprint(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function corpusFingerprint(project: Project): string {
  const docs = project.store.documents().map((d) => `${d.path}:${d.hash}:${d.version}`);
  return fingerprint(docs.sort().join("\n"));
}

export async function runEval(options: RunEvalOptions): Promise<RunEvalResult> {
  const { suite } = options;
  const live = options.project;
  const { config } = live;
  const generatorId = live.generator().id;
  const variantNames = options.variants ?? config.variants;
  const suiteHash = fingerprint(readFileSync(suite.path, "utf8") + JSON.stringify(suite.cases.map((c) => c.id)));

  if (live.store.documents().length === 0) {
    throw new InputError("the index is empty — run `ragtune ingest` first");
  }

  // From here on the run reads one index: its own copy (evaluate/snapshot.ts), never the live one.
  let runDir: string;
  let snapshot: RunSnapshot;
  let previous: CaseResult[] = [];
  let pinned: PinnedIndex;
  if (options.resumeDir) {
    runDir = options.resumeDir;
    snapshot = readSnapshot(runDir);
    if (snapshot.suiteHash !== suiteHash) {
      throw new InputError(`cannot resume ${snapshot.runId}: the suite changed since the run started (start a new run instead)`);
    }
    if (snapshot.generator !== generatorId) {
      throw new InputError(`cannot resume ${snapshot.runId}: it used generator ${snapshot.generator}, not ${generatorId}`);
    }
    const judgeId = live.judge()?.id;
    if ((snapshot.judge ?? undefined) !== judgeId) {
      throw new InputError(`cannot resume ${snapshot.runId}: it was judged by ${snapshot.judge ?? "no judge"}, not ${judgeId ?? "no judge"}`);
    }
    if (options.repeats !== undefined && options.repeats !== (snapshot.repeats ?? 1)) {
      throw new InputError(`cannot resume ${snapshot.runId}: it runs ${snapshot.repeats ?? 1} repeat(s), not ${options.repeats}`);
    }
    pinned = pinForResume(live, runDir, snapshot.runId, snapshot.index, { corpusHash: snapshot.corpusHash, fingerprintOf: corpusFingerprint });
    if (!snapshot.index) {
      // A run from before index snapshots, whose documents are unchanged: record what it now reads.
      snapshot.index = { ...pinned.identity, file: SNAPSHOT_FILE };
      writeSnapshot(runDir, snapshot);
    }
    repairCaseLog(runDir);
    previous = readCaseResults(runDir);
  } else {
    const runId = newRunId();
    runDir = join(runsDir(live.root, config), runId);
    mkdirSync(runDir, { recursive: true });
    try {
      pinned = await pinNewRun(live, runDir);
    } catch (err) {
      rmSync(runDir, { recursive: true, force: true });
      throw err;
    }
    snapshot = {
      runId,
      createdAt: new Date().toISOString(),
      ragtuneVersion: RAGTUNE_VERSION,
      configPath: live.configPath,
      config,
      suitePath: suite.path,
      suiteHash,
      corpusHash: corpusFingerprint(pinned.project),
      index: { ...pinned.identity, file: SNAPSHOT_FILE },
      generator: generatorId,
      variants: variantNames,
      repeats: options.repeats ?? config.evaluate.repeats,
      judge: live.judge()?.id,
    };
    writeSnapshot(runDir, snapshot);
  }

  try {
    const result = await runPinned(options, pinned.project, runDir, snapshot, previous, generatorId);
    result.index = { ...pinned.identity, ...(pinned.liveIdentity ? { live: pinned.liveIdentity } : {}) };
    if (result.summary.complete) {
      // The copy exists so the run can resume against its version; a complete run needs it no more.
      pinned.project.close();
      releaseSnapshot(runDir, snapshot.index?.file);
    }
    return result;
  } finally {
    pinned.project.close();
  }
}

/** What runCase needs, for the runner and for a queue worker (evaluate/queue/worker.ts) alike. */
export function caseContext(project: Project, suite: Suite, snapshot: RunSnapshot, generatorId: string, allowSelfJudge: boolean): CaseContext {
  const { config } = project;
  const judgeProvider = project.judge();
  // Judging: a separate model, never the one under test unless explicitly allowed.
  let judge: CaseContext["judge"];
  if (judgeProvider) {
    assertNotSelfJudge(judgeProvider.id, [generatorId], allowSelfJudge);
    judge = { provider: judgeProvider, judges: config.evaluate.judges, price: priceFor(judgeProvider.id, config.pricing.models) };
  }
  return {
    project,
    suite,
    runId: snapshot.runId,
    corpusPaths: new Set(project.store.documents().map((d) => d.path)),
    // The project's version order (config `versionOrder` / `current`, else natural order).
    currentVersion: project.versions().labels[0],
    judge,
    ownPrice: priceFor(generatorId, config.pricing.models),
    refPrice: priceFor(config.pricing.referenceModel, config.pricing.models),
  };
}

/** The run itself, reading only `project` (the run's pinned copy of the index). */
async function runPinned(
  options: RunEvalOptions,
  project: Project,
  runDir: string,
  snapshot: RunSnapshot,
  previous: CaseResult[],
  generatorId: string,
): Promise<RunEvalResult> {
  const { suite } = options;
  const { config } = project;
  const { variants, notConfigured, finetuned } = buildVariants(project, snapshot.variants as VariantName[]);
  const judgeProvider = project.judge();
  let cases = options.tags?.length
    ? suite.cases.filter((c) => c.tags?.some((t) => options.tags!.includes(t)))
    : suite.cases;
  // Cases only a judge can score (a tone rubric and nothing else) would pass unscored: left out, and said.
  let skipped: RunSummary["skipped"];
  if (!judgeProvider) {
    const judgeOnly = new Set(judgeOnlyCases({ cases }).map((c) => c.id));
    if (judgeOnly.size > 0) {
      cases = cases.filter((c) => !judgeOnly.has(c.id));
      skipped = { caseIds: [...judgeOnly], reason: "only an LLM judge can score them (tone rubric) and no judge model is set (models.judge / --judge)" };
    }
  }
  const repeats = snapshot.repeats ?? 1;

  const ctx = caseContext(project, suite, snapshot, generatorId, options.allowSelfJudge ?? false);
  const { judge } = ctx;

  // The estimate walks every case's prompt (retrieval included): only worth it under a cap.
  const maxCost = options.maxCostUsd ?? config.evaluate.maxCostUsd;
  const estimate =
    maxCost === undefined
      ? undefined
      : await estimateRun({ project, suite, variants: snapshot.variants as VariantName[], cases, repeats, judge: judge && { id: judge.provider.id, judges: judge.judges } });
  if (estimate && maxCost !== undefined && !options.resumeDir && estimate.totals.costUsd > maxCost) {
    throw new JobFailure(
      `estimated cost $${estimate.totals.costUsd.toFixed(4)} exceeds --max-cost $${maxCost} ` +
        `(${estimate.totals.calls} calls, ${estimate.totals.inputTokens} input + ${estimate.totals.outputTokens} output tokens); ` +
        "nothing was run — see `ragtune eval --dry-run`",
    );
  }

  const key = (variant: string, caseId: string, repeat: number) => `${variant}\u0000${caseId}\u0000${repeat}`;
  const done = new Set(previous.map((r) => key(r.variant, r.caseId, r.repeat ?? 0)));
  const caseIds = new Set(cases.map((c) => c.id));
  const results: CaseResult[] = previous.filter((r) => caseIds.has(r.caseId));
  const total = cases.length * variants.length * repeats;
  let count = results.length;
  let spent = results.reduce((a, r) => a + r.costUsd + (r.judgeCostUsd ?? 0), 0);
  let stopped: string | undefined;

  // Cases run `concurrency` at a time (provider limits still apply underneath); results are
  // appended as they finish, so cases.jsonl order may differ from the suite's — every line is keyed.
  const tasks: { variant: Variant; c: SuiteCase; repeat: number }[] = [];
  for (const variant of variants) for (const c of cases) for (let repeat = 0; repeat < repeats; repeat++) if (!done.has(key(variant.name, c.id, repeat))) tasks.push({ variant, c, repeat });
  let nextTask = 0;
  let inFlightEstimate = 0;
  let fatal: unknown;
  const worker = async (): Promise<void> => {
    while (nextTask < tasks.length && fatal === undefined && stopped === undefined) {
      const { variant, c, repeat } = tasks[nextTask];
      // Stop before a case that the cap cannot afford (its estimate), not after overspending.
      const next = estimate?.perCase.get(`${variant.name}\u0000${c.id}`) ?? 0;
      if (maxCost !== undefined && spent + inFlightEstimate + next > maxCost) {
        stopped = `--max-cost $${maxCost} reached: spent $${spent.toFixed(4)}, the next case would cost ~$${next.toFixed(4)}; resume with a higher cap`;
        return;
      }
      nextTask++;
      inFlightEstimate += next;
      let result: CaseResult;
      try {
        result = dispatch ? await dispatch.run({ variant: variant.name, caseId: c.id, repeat }) : await runCase(ctx, variant, c, repeat);
      } catch (error) {
        fatal ??= error;
        return;
      } finally {
        inFlightEstimate -= next;
      }
      appendCaseResult(runDir, result);
      results.push(result);
      spent += result.costUsd + (result.judgeCostUsd ?? 0);
      count++;
      options.onProgress?.({ done: count, total, variant: variant.name, caseId: c.id, passed: result.passed, repeat, costUsd: spent });
    }
  };
  const dispatch = options.dispatch;
  const concurrency = Math.max(1, dispatch ? dispatch.inFlight : (options.concurrency ?? config.evaluate.concurrency));
  if (dispatch) await dispatch.start({ runDir, snapshot, root: options.project.root, allowSelfJudge: options.allowSelfJudge ?? false });
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, tasks.length)) }, worker));
  } finally {
    if (dispatch) await dispatch.finish(fatal === undefined && stopped === undefined);
  }
  if (fatal !== undefined) {
    if (isFatalProviderError(fatal)) {
      throw new JobFailure(
        `${(fatal as Error).message}\nThe run stopped (nothing retried: this error will not go away by itself). ` +
          `${count} results are kept in ${runDir}; fix the cause, then resume with \`ragtune eval --resume ${snapshot.runId}\`.`,
      );
    }
    throw fatal;
  }

  const summary = summarise(project, suite, snapshot, variants, notConfigured, results);
  summary.repeats = repeats;
  if (judge) summary.judge = { model: judge.provider.id, judges: judge.judges };
  if (skipped) summary.skipped = skipped;
  if (finetuned.length > 0) {
    summary.finetunedModels = finetuned.map((r) => ({
      id: r.id,
      task: r.task,
      trainer: r.trainer,
      baseModel: r.baseModel,
      datasetHash: r.datasetHash,
      ...(typeof r.metrics.examples === "number" ? { examples: r.metrics.examples } : {}),
      ...(r.gate ? { gate: r.gate.reason } : {}),
      ...(r.forced ? { forced: r.forced.reason } : {}),
    }));
  }
  if (stopped) {
    summary.stopped = stopped;
    summary.complete = false;
  }
  if (variants.some((v) => v.usesRetrieval)) summary.retrieval = (await project.retrieval()).name;
  if (snapshot.index) {
    const { generation, fingerprint: fp, documents, chunks } = snapshot.index;
    summary.index = { generation, fingerprint: fp, documents, chunks };
  }
  writeSummary(runDir, summary);
  return { runDir, summary, cases: results, estimate };
}

export async function runCase(ctx: CaseContext, variant: Variant, c: SuiteCase, repeat: number): Promise<CaseResult> {
  const { project, suite } = ctx;
  const { config } = project;
  // Which index served this case: the generation of the store the variant reads (the run's copy).
  const indexGeneration = project.store.generation();
  const started = performance.now();
  const out = await variant.run({
    task: c.task,
    input: c.input,
    labels: c.task === "classify" ? suite.labels : undefined,
    jsonSchema: c.json_schema,
    sample: repeat,
  });
  const latencyMs = performance.now() - started;
  const { result } = out;
  const output = { text: result.text, abstained: result.abstained, label: result.label, json: result.json, citations: result.citations };
  const scores: ScoreResult[] = scoreCase(c, output);

  let judges: JudgeVerdict[] | undefined;
  let judgeCostUsd: number | undefined;
  if (ctx.judge) {
    const names = applicableJudges(c, suite, ctx.judge.judges, { answered: !result.abstained, hasContext: out.context.length > 0 });
    if (names.length > 0) {
      judges = [];
      for (const name of names) {
        const verdict = await runJudge(name, { case: c, suite, output, context: out.context }, ctx.judge.provider, { sample: repeat });
        judges.push(verdict);
        scores.push(verdictToScore(verdict));
      }
      const price = ctx.judge.price;
      judgeCostUsd = judges.reduce((a, v) => a + (v.cached || !price ? 0 : costUsd(v.usage, price)), 0);
    }
  }

  const { retrieval, passed, failure } = caseVerdict({
    case: c,
    output,
    scores,
    variant: { usesContext: variant.usesContext, usesRetrieval: variant.usesRetrieval },
    out,
    k: config.retrieval.k,
    currentVersion: ctx.currentVersion,
    corpusPaths: ctx.corpusPaths,
    labels: suite.labels,
    judges,
  });
  const support = answerSupport(c.task, output, out.context);
  // A cached answer costs nothing this time; the projection still prices its tokens.
  const own = result.cached ? 0 : ctx.ownPrice ? costUsd(result.usage, ctx.ownPrice) : 0;
  const record: CaseResult = {
    runId: ctx.runId,
    caseId: c.id,
    variant: variant.name,
    task: c.task,
    input: c.input,
    output: result.text,
    abstained: result.abstained,
    label: result.label,
    json: result.json,
    citations: result.citations,
    retrieved: out.retrieved.map((h) => ({ id: h.chunk.id, path: h.chunk.path, score: round(h.score), version: h.chunk.version })),
    contextPaths: [...new Set(out.context.map((x) => x.path))],
    contextTokens: out.contextTokens,
    truncated: out.truncated,
    scores,
    retrieval,
    support,
    passed,
    failure,
    usage: result.usage,
    latencyMs: round(latencyMs),
    costUsd: own,
    projectedCostUsd: ctx.refPrice ? costUsd(result.usage, ctx.refPrice) : 0,
    generator: result.generator,
    tags: c.tags ?? [],
    indexGeneration,
  };
  if (repeat > 0) record.repeat = repeat;
  if (result.cached !== undefined) record.cached = result.cached;
  if (judges) {
    record.judges = judges;
    record.judgeCostUsd = judgeCostUsd;
  }
  if (c.human) record.human = c.human;
  return record;
}

function summarise(
  project: Project,
  suite: Suite,
  snapshot: RunSnapshot,
  variants: Variant[],
  notConfigured: { name: string; reason: string }[],
  results: CaseResult[],
): RunSummary {
  const chunks = project.store.chunks();
  const byTask: RunSummary["suite"]["byTask"] = {};
  for (const c of suite.cases) byTask[c.task] = (byTask[c.task] ?? 0) + 1;
  const caseCount = new Set(results.map((r) => r.caseId)).size;
  const { bootstrapSamples, alpha, seed } = project.config.evaluate;
  const statsOptions = { bootstrapSamples, alpha, seed };
  // Model calls: one per generation by an LLM generator (cached is set), one per judge verdict attempt recorded.
  let hits = 0;
  let misses = 0;
  for (const r of results) {
    if (r.cached !== undefined) r.cached ? hits++ : misses++;
    for (const v of r.judges ?? []) v.cached ? hits++ : misses++;
  }
  return {
    runId: snapshot.runId,
    createdAt: snapshot.createdAt,
    project: project.config.name,
    generator: snapshot.generator,
    suite: { path: suite.path, cases: caseCount, byTask },
    corpus: {
      documents: project.store.documents().length,
      chunks: chunks.length,
      tokens: chunks.reduce((n, c) => n + c.tokens, 0),
      versions: [...new Set(chunks.map((c) => c.version))].sort(),
    },
    retrievalK: project.config.retrieval.k,
    variants: variants.map((v) => {
      // fine-tuned / hybrid name the promoted models they used on top of the base generator.
      const generator = v.models ? `${v.models}; other tasks: ${snapshot.generator}` : snapshot.generator;
      const summary = summariseVariant(v.name, generator, results.filter((r) => r.variant === v.name), {}, statsOptions);
      if (v.packing) {
        summary.context = {
          budgetTokens: v.packing.budgetTokens,
          corpusTokens: v.packing.corpusTokens,
          packedTokens: v.packing.packedTokens,
          truncated: v.packing.truncated,
          budgetSource: v.packing.budgetSource,
        };
      }
      return summary;
    }),
    notConfigured,
    complete: true,
    cache: { hits, misses },
    costUsd: results.reduce((a, r) => a + r.costUsd + (r.judgeCostUsd ?? 0), 0),
    comparisons: compareVariants(
      results,
      variants.map((v) => v.name),
      statsOptions,
    ),
  };
}

/** The newest label in natural version order ("v10" over "v9"); undefined for an unversioned corpus. */
function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
