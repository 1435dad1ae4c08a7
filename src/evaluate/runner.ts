/**
 * The evaluation runner: every suite case × every configured variant, scored, labelled,
 * costed and timed, streamed to runs/<id>/cases.jsonl. Resumable: a rerun with the same run id
 * skips the (case, variant) pairs already recorded.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { buildVariants, type Project, type Variant } from "../pipeline/index.ts";
import { priceFor, costUsd } from "../models/prices.ts";
import type { VariantName } from "../config/index.ts";
import type { CaseResult, RunSummary, Suite, SuiteCase } from "./types.ts";
import { scoreCase, retrievalScores } from "./scorers.ts";
import { labelFailure } from "./failures.ts";
import { answerSupport } from "./metrics.ts";
import { summariseVariant } from "./stats.ts";
import {
  appendCaseResult,
  createRunDir,
  newRunId,
  readCaseResults,
  readSnapshot,
  repairCaseLog,
  runsDir,
  writeSummary,
  type RunSnapshot,
} from "./runs.ts";
import { InputError } from "../util/errors.ts";

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
  onProgress?: (event: { done: number; total: number; variant: string; caseId: string; passed: boolean }) => void;
}

export interface RunEvalResult {
  runDir: string;
  summary: RunSummary;
  cases: CaseResult[];
}

export function fingerprint(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function corpusFingerprint(project: Project): string {
  const docs = project.store.documents().map((d) => `${d.path}:${d.hash}:${d.version}`);
  return fingerprint(docs.sort().join("\n"));
}

export async function runEval(options: RunEvalOptions): Promise<RunEvalResult> {
  const { project, suite } = options;
  const { config } = project;
  const generatorId = project.generator().id;
  const variantNames = options.variants ?? config.variants;
  const suiteHash = fingerprint(readFileSync(suite.path, "utf8") + JSON.stringify(suite.cases.map((c) => c.id)));
  const corpusHash = corpusFingerprint(project);

  if (project.store.documents().length === 0) {
    throw new InputError("the index is empty — run `ragtune ingest` first");
  }

  let runDir: string;
  let snapshot: RunSnapshot;
  let previous: CaseResult[] = [];
  if (options.resumeDir) {
    runDir = options.resumeDir;
    snapshot = readSnapshot(runDir);
    if (snapshot.suiteHash !== suiteHash) {
      throw new InputError(`cannot resume ${snapshot.runId}: the suite changed since the run started (start a new run instead)`);
    }
    if (snapshot.corpusHash !== corpusHash) {
      throw new InputError(`cannot resume ${snapshot.runId}: the index changed since the run started (start a new run instead)`);
    }
    if (snapshot.generator !== generatorId) {
      throw new InputError(`cannot resume ${snapshot.runId}: it used generator ${snapshot.generator}, not ${generatorId}`);
    }
    repairCaseLog(runDir);
    previous = readCaseResults(runDir);
  } else {
    snapshot = {
      runId: newRunId(),
      createdAt: new Date().toISOString(),
      ragtuneVersion: RAGTUNE_VERSION,
      configPath: project.configPath,
      config,
      suitePath: suite.path,
      suiteHash,
      corpusHash,
      generator: generatorId,
      variants: variantNames,
    };
    runDir = createRunDir(runsDir(project.root, config), snapshot);
  }

  const { variants, notConfigured } = buildVariants(project, snapshot.variants as VariantName[]);
  const cases = options.tags?.length
    ? suite.cases.filter((c) => c.tags?.some((t) => options.tags!.includes(t)))
    : suite.cases;
  const done = new Set(previous.map((r) => `${r.variant}\u0000${r.caseId}`));
  const results: CaseResult[] = previous.filter((r) => cases.some((c) => c.id === r.caseId));
  const corpusPaths = new Set(project.store.documents().map((d) => d.path));
  const total = cases.length * variants.length;
  let count = results.length;

  for (const variant of variants) {
    for (const c of cases) {
      if (done.has(`${variant.name}\u0000${c.id}`)) continue;
      const result = await runCase(project, suite, variant, c, snapshot.runId, corpusPaths);
      appendCaseResult(runDir, result);
      results.push(result);
      count++;
      options.onProgress?.({ done: count, total, variant: variant.name, caseId: c.id, passed: result.passed });
    }
  }

  const summary = summarise(project, suite, snapshot, variants, notConfigured, results);
  if (variants.some((v) => v.usesRetrieval)) summary.retrieval = (await project.retrieval()).name;
  writeSummary(runDir, summary);
  return { runDir, summary, cases: results };
}

async function runCase(
  project: Project,
  suite: Suite,
  variant: Variant,
  c: SuiteCase,
  runId: string,
  corpusPaths: Set<string>,
): Promise<CaseResult> {
  const { config } = project;
  const started = performance.now();
  const out = await variant.run({
    task: c.task,
    input: c.input,
    labels: c.task === "classify" ? suite.labels : undefined,
    jsonSchema: c.json_schema,
  });
  const latencyMs = performance.now() - started;
  const { result } = out;
  const output = { text: result.text, abstained: result.abstained, label: result.label, json: result.json, citations: result.citations };
  const scores = scoreCase(c, output);
  const k = config.retrieval.k;
  const retrieval =
    variant.usesRetrieval && c.sources?.length && c.task !== "extract"
      ? retrievalScores(
          c.sources,
          out.retrieved.map((h) => ({ id: h.chunk.id, path: h.chunk.path, headingPath: h.chunk.headingPath })),
          k,
        )
      : undefined;
  const passed = scores.every((s) => s.pass);
  const failure = labelFailure({
    case: c,
    output,
    scores,
    passed,
    variant: { usesContext: variant.usesContext, usesRetrieval: variant.usesRetrieval },
    contextPaths: [...new Set(out.context.map((x) => x.path))],
    contextChunks: out.context.map((x) => ({ id: x.id, path: x.path, headingPath: x.headingPath, text: x.text })),
    retrieval,
    truncated: out.truncated,
    corpusPaths,
    labels: suite.labels,
  });
  const support = answerSupport(c.task, output, out.context);
  const ownPrice = priceFor(result.generator, config.pricing.models);
  const refPrice = priceFor(config.pricing.referenceModel, config.pricing.models);
  return {
    runId,
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
    costUsd: ownPrice ? costUsd(result.usage, ownPrice) : 0,
    projectedCostUsd: refPrice ? costUsd(result.usage, refPrice) : 0,
    generator: result.generator,
    tags: c.tags ?? [],
  };
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
      const summary = summariseVariant(
        v.name,
        snapshot.generator,
        results.filter((r) => r.variant === v.name),
      );
      if (v.packing) {
        summary.context = {
          budgetTokens: v.packing.budgetTokens,
          corpusTokens: v.packing.corpusTokens,
          packedTokens: v.packing.packedTokens,
          truncated: v.packing.truncated,
        };
      }
      return summary;
    }),
    notConfigured,
    complete: true,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
