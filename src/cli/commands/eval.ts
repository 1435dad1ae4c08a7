import type { Command } from "commander";
import { resolve, relative } from "node:path";
import { existsSync } from "node:fs";
import { openFrom, loadedFrom, printJson, applyFilterFlags, type FilterFlags } from "./common.ts";
import { checkSuiteTags, checkVariantsRunnable, resolveRunFlag, suitePath } from "../checks.ts";
import { hintFor } from "../options.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { runEval } from "../../evaluate/runner.ts";
import { listRuns, readSnapshot, readSummary, runsDir } from "../../evaluate/runs.ts";
import type { RunSummary } from "../../evaluate/types.ts";
import { VARIANT_NAMES, type VariantName } from "../../config/index.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import { table, pct, usd, dim, progress, progressDone, green, red } from "../output.ts";
import type { Project } from "../../pipeline/index.ts";
import type { Suite } from "../../evaluate/types.ts";
import { estimateRun, type CallEstimate } from "../../evaluate/estimate.ts";
import { assertNotSelfJudge } from "../../evaluate/judges/index.ts";
import { ResponseCache } from "../../models/cache.ts";
import { join } from "node:path";
import { writeJunitFile } from "./export.ts";

interface EvalOpts extends FilterFlags {
  suite?: string;
  variants?: string[];
  tags?: string[];
  resume?: string;
  model?: string;
  judge?: string;
  allowSelfJudge?: boolean;
  repeats?: number;
  dryRun?: boolean;
  maxCost?: number;
  /** commander's --no-cache sets cache: false. */
  cache?: boolean;
  gate?: string[];
  junit?: string;
  json?: boolean;
  queue?: string;
  queueName?: string;
}

export async function evalCommand(opts: EvalOpts, cmd: Command): Promise<void> {
  const gates = parseGates(opts.gate ?? []);
  checkEvalCombinations(opts, gates);
  const { loaded, project } = openFrom(cmd, { model: opts.model, judge: opts.judge, noCache: opts.cache === false });
  try {
    if (project.store.documents().length === 0) throw new InputError("the index is empty — run `ragtune ingest` first");
    // Filters change what rag retrieves and what long-context packs; the run's config snapshot records them.
    applyFilterFlags(project, opts, loaded);
    const suite = loadSuite(suitePath(loaded, opts.suite));
    checkSuiteTags(opts.tags, suite);
    checkVariantsRunnable(project, loaded, opts.resume ? undefined : opts.variants);
    if (opts.allowSelfJudge && !(opts.judge ?? project.config.models.judge)) {
      throw new InputError("--allow-self-judge needs a judge: pass --judge <id> or set models.judge (without one nothing is judged)");
    }
    const resumeDir = opts.resume ? resolveRunFlag("--resume", project.root, project.config, opts.resume) : undefined;
    const variantsRun = resumeDir ? readSnapshot(resumeDir).variants : (opts.variants ?? project.config.variants);
    for (const g of gates) {
      if (!variantsRun.includes(g.variant)) {
        throw new InputError(`--gate ${g.variant}=${g.rate}: variant '${g.variant}' is not run (variants: ${variantsRun.join(", ")})`);
      }
    }
    if (opts.dryRun) return await dryRun(project, suite, opts);
    // Loaded only for --queue: ioredis is an optional dependency.
    const dispatch = opts.queue
      ? new (await import("../../evaluate/queue/coordinator.ts")).QueueDispatcher({ url: opts.queue, queueName: opts.queueName, noCache: opts.cache === false })
      : undefined;
    const { runDir, summary, index } = await runEval({
      dispatch,
      project,
      suite,
      variants: opts.variants as VariantName[] | undefined,
      tags: opts.tags,
      resumeDir,
      repeats: opts.repeats,
      allowSelfJudge: opts.allowSelfJudge,
      maxCostUsd: opts.maxCost,
      onProgress: opts.json
        ? undefined
        : (e) => progress(`eval ${e.done}/${e.total} ${e.variant} ${e.caseId}${e.repeat ? ` #${e.repeat + 1}` : ""} ${e.passed ? "pass" : "fail"} · $${e.costUsd.toFixed(4)}`),
    });
    progressDone();
    if (index?.live) {
      // A resume after an ingest: the run continued on its own copy, as it started.
      console.error(
        dim(`resumed on the run's pinned index (generation ${index.generation}, fingerprint ${index.fingerprint}); the live index has changed since (generation ${index.live.generation}, fingerprint ${index.live.fingerprint})`),
      );
    }
    if (opts.json) printJson({ runDir, ...summary });
    else {
      printSummary(summary);
      console.log(dim(`\nrun recorded in ${relative(process.cwd(), runDir) || runDir}`));
      console.log(dim(`next: ragtune decide ${summary.runId}   ·   ragtune report ${summary.runId}`));
    }
    if (summary.stopped) console.error(red(`run stopped: ${summary.stopped}`));
    // Before the gates: CI publishes the XML whether or not the gate passes.
    if (opts.junit) writeJunitFile(runDir, opts.junit);
    checkGates(gates, summary);
    if (summary.stopped) throw new JobFailure(`run incomplete: ${summary.stopped}`);
  } finally {
    project.close();
  }
}

/** Flags that contradict each other, refused before anything is opened. */
function checkEvalCombinations(opts: EvalOpts, gates: { variant: string }[]): void {
  if (opts.resume !== undefined) {
    if (opts.variants) throw new InputError("--variants cannot be combined with --resume: a resumed run keeps the variants it started with");
    if (opts.dryRun) throw new InputError("--dry-run cannot be combined with --resume: the dry run estimates a new run");
  }
  if (opts.dryRun && opts.junit) throw new InputError("--junit cannot be combined with --dry-run: a dry run has no results to write");
  if (opts.dryRun && gates.length) throw new InputError("--gate cannot be combined with --dry-run: a dry run has no pass rates to gate");
  if (opts.queueName !== undefined && opts.queue === undefined) throw new InputError("--queue-name needs --queue");
}

/** `--dry-run`: the estimate only; no model is called and no run folder is written. */
async function dryRun(project: Project, suite: Suite, opts: EvalOpts): Promise<void> {
  const judgeId = opts.judge ?? project.config.models.judge;
  if (judgeId) assertNotSelfJudge(judgeId, [project.generatorId()], opts.allowSelfJudge ?? false);
  const cases = opts.tags?.length ? suite.cases.filter((c) => c.tags?.some((t) => opts.tags!.includes(t))) : suite.cases;
  const estimate = await estimateRun({
    project,
    suite,
    variants: (opts.variants as VariantName[] | undefined) ?? project.config.variants,
    cases,
    repeats: opts.repeats ?? project.config.evaluate.repeats,
    judge: judgeId ? { id: judgeId, judges: project.config.evaluate.judges } : undefined,
  });
  const cap = opts.maxCost ?? project.config.evaluate.maxCostUsd;
  if (opts.json) {
    const call = (e: CallEstimate) => ({ calls: e.calls, inputTokens: e.inputTokens, outputTokens: e.outputTokens, costUsd: e.costUsd, maxCostUsd: e.maxCostUsd });
    printJson({
      dryRun: true,
      generator: estimate.generator,
      judge: estimate.judge ?? null,
      repeats: estimate.repeats,
      cases: estimate.cases,
      variants: estimate.variants.map((v) => ({ name: v.name, ...call(v), projectedCostUsd: v.projectedCostUsd, ...(v.judge ? { judge: call(v.judge) } : {}) })),
      notConfigured: estimate.notConfigured,
      totals: call(estimate.totals),
      maxCostUsd: cap ?? null,
      withinBudget: cap === undefined ? null : estimate.totals.costUsd <= cap,
    });
    return;
  }
  console.log(`dry run — no model is called · generator: ${estimate.generator}${estimate.judge ? ` · judge: ${estimate.judge}` : ""} · ${estimate.cases} cases × ${estimate.repeats} repeat(s)`);
  const rows = estimate.variants.map((v) => [
    v.name,
    v.calls + (v.judge?.calls ?? 0),
    v.inputTokens + (v.judge?.inputTokens ?? 0),
    v.outputTokens + (v.judge?.outputTokens ?? 0),
    usd(v.costUsd + (v.judge?.costUsd ?? 0)),
    usd(v.maxCostUsd + (v.judge?.maxCostUsd ?? 0)),
  ]);
  const t = estimate.totals;
  rows.push(["total", t.calls, t.inputTokens, t.outputTokens, usd(t.costUsd), usd(t.maxCostUsd)]);
  console.log(table(["variant", "calls", "input tokens", "output tokens (est.)", "cost (est.)", "worst case"], rows));
  for (const n of estimate.notConfigured) console.log(dim(`${n.name}: not configured — ${n.reason}`));
  console.log(dim("input tokens are counted from the real prompts; output tokens are estimated (docs/evaluation.md); worst case = every reply at max tokens"));
  if (cap !== undefined) {
    const ok = t.costUsd <= cap;
    console.log(`${ok ? green("within") : red("over")} --max-cost $${cap}`);
  }
}

export async function cacheStatsCommand(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const dir = resolve(loaded.root, loaded.config.cache.dir);
  const size = ResponseCache.size(dir);
  if (opts.json) return printJson({ dir, enabled: loaded.config.cache.enabled, ...size });
  console.log(`${dir}: ${size.entries} cached responses, ${(size.bytes / 1024).toFixed(1)} KiB${loaded.config.cache.enabled ? "" : " (cache disabled in config)"}`);
}

export async function cacheClearCommand(_opts: unknown, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const dir = resolve(loaded.root, loaded.config.cache.dir);
  const before = ResponseCache.size(dir);
  ResponseCache.clear(dir);
  console.log(`cleared ${before.entries} cached responses from ${dir}`);
}

export function printSummary(summary: RunSummary): void {
  console.log(`generator: ${summary.generator} · suite: ${summary.suite.cases} cases · corpus: ${summary.corpus.documents} documents, ${summary.corpus.chunks} chunks`);
  if (summary.index) console.log(dim(`index: generation ${summary.index.generation}, fingerprint ${summary.index.fingerprint} (pinned for the whole run)`));
  if (summary.retrieval) console.log(dim(`retrieval: ${summary.retrieval}`));
  const rows = summary.variants.map((v) => {
    const failures = Object.entries(v.failures)
      .filter(([, n]) => (n ?? 0) > 0)
      .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
      .slice(0, 3)
      .map(([cause, n]) => `${cause.replace(/_/g, " ")} ${n}`)
      .join(", ");
    const hit = v.metrics["retrieval.hitAtK"];
    const ci = v.ci?.passRate;
    return [
      v.name,
      `${v.passed}/${v.cases}`,
      pct(v.passRate) + (ci ? dim(` [${(ci.low * 100).toFixed(1)}–${(ci.high * 100).toFixed(1)}]`) : ""),
      hit === undefined || Number.isNaN(hit) ? "–" : pct(hit),
      `${Math.round(v.latencyMs.p95)} ms`,
      usd(v.costUsd + (v.judge?.costUsd ?? 0)),
      usd(v.perQuery.projectedCostUsd),
      failures || "–",
    ];
  });
  console.log(table(["variant", "passed", "pass rate [95% CI]", `hit@${summary.retrievalK}`, "p95", "cost", "cost/query*", "top failure causes"], rows));
  for (const n of summary.notConfigured) console.log(dim(`${n.name}: not configured — ${n.reason}`));
  if (summary.skipped) console.log(dim(`${summary.skipped.caseIds.length} case(s) not run (${summary.skipped.caseIds.slice(0, 5).join(", ")}${summary.skipped.caseIds.length > 5 ? ", …" : ""}): ${summary.skipped.reason}`));
  for (const v of summary.variants) {
    if (v.repeats && v.repeats.n > 1) console.log(dim(`${v.name}: pass^${v.repeats.n} ${pct(v.repeats.passAll)}, agreement across repeats ${pct(v.repeats.agreement)}`));
    const j = v.judge;
    if (j) {
      const errors = Object.values(j.byJudge).reduce((n, b) => n + (b?.errors ?? 0), 0);
      const kappa = j.humanAgreement ? `, judge–human kappa ${j.humanAgreement.kappa.toFixed(2)} (n=${j.humanAgreement.n})` : "";
      const unsupported = j.unsupportedClaimRate !== undefined ? `, unsupported claims ${pct(j.unsupportedClaimRate)}` : "";
      console.log(dim(`${v.name}: judged by ${j.model}${unsupported}${kappa}${errors ? `, ${errors} judge_error` : ""}`));
    }
  }
  for (const c of summary.comparisons ?? []) {
    if (c.metric !== "passRate") continue;
    const diff = `${c.diff >= 0 ? "+" : ""}${(c.diff * 100).toFixed(1)} pts`;
    console.log(dim(`${c.b} vs ${c.a}: ${diff}, ${c.significant ? "significant" : "not significant"} (${c.test} p = ${c.pValue.toPrecision(2)}, n = ${c.n})`));
  }
  if (summary.cache && summary.cache.hits + summary.cache.misses > 0) {
    const all = summary.cache.misses === 0;
    console.log(dim(`cache: ${summary.cache.hits} hits, ${summary.cache.misses} misses${all ? " — fully cached re-run: cost $0" : ""}`));
  }
  if (summary.costUsd !== undefined) console.log(dim(`run cost: ${usd(summary.costUsd)} at the models' own prices`));
  console.log(dim("* projected at the reference model's prices (pricing.referenceModel)"));
}

function parseGates(specs: string[]): { variant: string; rate: number }[] {
  const gates = specs.map((s) => {
    const m = /^([^=\s]+)=(\S+)$/.exec(s.trim());
    if (!m) throw new InputError(`--gate: expected variant=rate, e.g. rag=0.8; got '${s}'`);
    const variant = m[1];
    if (!(VARIANT_NAMES as readonly string[]).includes(variant)) {
      throw new InputError(`--gate: unknown variant '${variant}'${hintFor(variant, VARIANT_NAMES)} (variants: ${VARIANT_NAMES.join(", ")})`);
    }
    const rate = /^(\d*\.?\d+)$/.test(m[2]) ? Number(m[2]) : NaN;
    if (!(rate >= 0 && rate <= 1)) throw new InputError(`--gate: the rate must be a number from 0 to 1 (a pass rate, e.g. 0.8); got '${s}'`);
    return { variant, rate };
  });
  const twice = gates.find((g, i) => gates.findIndex((x) => x.variant === g.variant) !== i);
  if (twice) throw new InputError(`--gate: variant '${twice.variant}' is gated twice`);
  return gates;
}

function checkGates(gates: { variant: string; rate: number }[], summary: RunSummary): void {
  const failed: string[] = [];
  for (const g of gates) {
    const v = summary.variants.find((x) => x.name === g.variant);
    if (!v) throw new InputError(`--gate names variant '${g.variant}', which was not run`);
    const ok = v.passRate >= g.rate;
    console.error(`${ok ? green("gate passed") : red("gate failed")}: ${g.variant} pass rate ${pct(v.passRate)} ${ok ? "≥" : "<"} ${pct(g.rate)}`);
    if (!ok) failed.push(g.variant);
  }
  if (failed.length) throw new JobFailure(`quality gate failed for: ${failed.join(", ")}`);
}

export async function runsCommand(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const dir = runsDir(loaded.root, loaded.config);
  const rows = listRuns(dir).map((id) => {
    const hasSummary = existsSync(join(dir, id, "summary.json"));
    const s = hasSummary ? readSummary(join(dir, id)) : undefined;
    return { id, complete: Boolean(s), generator: s?.generator, variants: s?.variants.map((v) => ({ name: v.name, passRate: v.passRate })) ?? [] };
  });
  if (opts.json) return printJson(rows);
  if (rows.length === 0) return console.log(`no runs in ${dir}`);
  console.log(
    table(
      ["run", "generator", "pass rates"],
      rows.map((r) => [r.id, r.generator ?? "(incomplete)", r.variants.map((v) => `${v.name} ${pct(v.passRate)}`).join(" · ")]),
    ),
  );
}
