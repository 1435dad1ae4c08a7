import type { Command } from "commander";
import { resolve, relative } from "node:path";
import { existsSync } from "node:fs";
import { projectFrom, printJson, applyFilterFlags, type FilterFlags } from "./common.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { runEval } from "../../evaluate/runner.ts";
import { listRuns, readSummary, resolveRunDir, runsDir } from "../../evaluate/runs.ts";
import type { RunSummary } from "../../evaluate/types.ts";
import type { VariantName } from "../../config/index.ts";
import { loadConfig } from "../../config/index.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import { table, pct, usd, dim, progress, progressDone, green, red } from "../output.ts";
import { join } from "node:path";

interface EvalOpts extends FilterFlags {
  suite?: string;
  variants?: string[];
  tags?: string[];
  resume?: string;
  model?: string;
  gate?: string[];
  json?: boolean;
}

export async function evalCommand(opts: EvalOpts, cmd: Command): Promise<void> {
  const gates = parseGates(opts.gate ?? []);
  const project = projectFrom(cmd, opts.model);
  try {
    // Filters change what rag retrieves and what long-context packs; the run's config snapshot records them.
    applyFilterFlags(project, opts);
    const suite = loadSuite(resolve(project.root, opts.suite ?? project.config.suite));
    const resumeDir = opts.resume ? resolveRunDir(project.root, project.config, opts.resume) : undefined;
    const { runDir, summary } = await runEval({
      project,
      suite,
      variants: opts.variants as VariantName[] | undefined,
      tags: opts.tags,
      resumeDir,
      onProgress: opts.json
        ? undefined
        : (e) => progress(`eval ${e.done}/${e.total} ${e.variant} ${e.caseId} ${e.passed ? "pass" : "fail"}`),
    });
    progressDone();
    if (opts.json) printJson({ runDir, ...summary });
    else {
      printSummary(summary);
      console.log(dim(`\nrun recorded in ${relative(process.cwd(), runDir) || runDir}`));
      console.log(dim(`next: ragtune decide ${summary.runId}   ·   ragtune report ${summary.runId}`));
    }
    checkGates(gates, summary);
  } finally {
    project.close();
  }
}

export function printSummary(summary: RunSummary): void {
  console.log(`generator: ${summary.generator} · suite: ${summary.suite.cases} cases · corpus: ${summary.corpus.documents} documents, ${summary.corpus.chunks} chunks`);
  if (summary.retrieval) console.log(dim(`retrieval: ${summary.retrieval}`));
  const rows = summary.variants.map((v) => {
    const failures = Object.entries(v.failures)
      .filter(([, n]) => (n ?? 0) > 0)
      .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
      .slice(0, 3)
      .map(([cause, n]) => `${cause.replace(/_/g, " ")} ${n}`)
      .join(", ");
    const hit = v.metrics["retrieval.hitAtK"];
    return [
      v.name,
      `${v.passed}/${v.cases}`,
      pct(v.passRate),
      hit === undefined || Number.isNaN(hit) ? "–" : pct(hit),
      `${Math.round(v.latencyMs.p95)} ms`,
      usd(v.perQuery.projectedCostUsd),
      failures || "–",
    ];
  });
  console.log(table(["variant", "passed", "pass rate", `hit@${summary.retrievalK}`, "p95", "cost/query*", "top failure causes"], rows));
  for (const n of summary.notConfigured) console.log(dim(`${n.name}: not configured — ${n.reason}`));
  console.log(dim("* projected at the reference model's prices (pricing.referenceModel)"));
}

function parseGates(specs: string[]): { variant: string; rate: number }[] {
  return specs.map((s) => {
    const m = /^([a-z-]+)=(\d*\.?\d+)$/.exec(s.trim());
    if (!m) throw new InputError(`--gate expects variant=rate, e.g. rag=0.8; got '${s}'`);
    const rate = Number(m[2]);
    if (rate < 0 || rate > 1) throw new InputError(`--gate rate must be between 0 and 1; got '${s}'`);
    return { variant: m[1], rate };
  });
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
  const { config: configFlag } = cmd.optsWithGlobals() as { config?: string };
  const loaded = loadConfig(configFlag);
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
