import type { Command } from "commander";
import { copyFileSync, mkdirSync } from "node:fs";
import { join, resolve, relative } from "node:path";
import { readCaseResults, readSummary } from "../../evaluate/runs.ts";
import { resolveRunFlag } from "../checks.ts";
import { decide, type Decision, type ProductionEvidence } from "../../decide/index.ts";
import { productionFromLogs } from "../../logs/index.ts";
import { InputError } from "../../util/errors.ts";
import type { RunSummary } from "../../evaluate/types.ts";
import { buildReport, writeHtmlReport, writeReport } from "../../report/index.ts";
import { loadedFrom, printJson, projectFrom } from "./common.ts";
import { bold, dim, green } from "../output.ts";
import { readSemanticVerdict } from "../../bench/semantic-verdict.ts";

function loadRun(cmd: Command, run?: string) {
  const given = loadedFrom(cmd);
  // The suite benchmark's measured verdict on semantic retrieval, when one was run, for the evidence.
  const semantic = readSemanticVerdict(given.root, given.config.storeDir);
  const loaded = semantic ? { ...given, config: { ...given.config, semanticRetrieval: semantic } } : given;
  const runDir = resolveRunFlag(`${cmd.name()} [run]`, loaded.root, loaded.config, run);
  return { loaded, runDir, summary: readSummary(runDir), cases: readCaseResults(runDir) };
}

export async function decideCommand(run: string | undefined, opts: { json?: boolean; fromLogs?: boolean; since?: number }, cmd: Command): Promise<void> {
  if (opts.since !== undefined && !opts.fromLogs) throw new InputError("--since goes with --from-logs (the window of the request log)");
  const { loaded, summary, cases } = loadRun(cmd, run);
  const production = opts.fromLogs ? productionOf(cmd, opts.since ?? 7 * 86_400_000) : undefined;
  const decision = decide(summary, cases, loaded.config, production);
  if (opts.json) return printJson({ runId: summary.runId, generator: summary.generator, ...decision });
  printDecision(decision, generatorsOf(summary));
}

/** Label the log window (stored, as `ragtune logs label`) and count its live failures. */
function productionOf(cmd: Command, sinceMs: number): ProductionEvidence {
  const project = projectFrom(cmd);
  try {
    return productionFromLogs(project, sinceMs).evidence;
  } finally {
    project.close();
  }
}

/** The generator, plus the fine-tuned models behind fine-tuned / hybrid when they ran. */
export function generatorsOf(summary: RunSummary): string {
  const models = summary.finetunedModels ?? [];
  if (models.length === 0) return summary.generator;
  return `${summary.generator}; fine-tuned / hybrid also used ${models.map((m) => `${m.trainer} ${m.id} (${m.task})`).join(", ")}`;
}

export function printDecision(decision: Decision, generator: string): void {
  console.log(`${bold("recommendation:")} ${green(decision.architecture)} ${dim(`(confidence: ${decision.confidence})`)}`);
  if (decision.production) {
    const p = decision.production;
    const effect = p.effect === "changed" ? `changed from ${p.measuredArchitecture}` : p.effect === "confirmed" ? `confirms ${p.measuredArchitecture}` : `${p.measuredArchitecture} kept`;
    console.log(`${bold("production evidence:")} ${p.labelled} labelled live failures of ${p.requests} requests ${dim(`(${p.from} → ${p.to})`)} — ${effect}`);
    const causes = Object.entries(p.byCause).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
    if (causes.length) console.log(`  ${causes.map(([c, n]) => `${c} ${n}`).join(", ")}`);
  }
  console.log("");
  console.log(bold("why"));
  for (const line of decision.rationale) console.log(`  • ${line}`);
  if (decision.whatWouldChange.length) {
    console.log(bold("what would change the answer"));
    for (const line of decision.whatWouldChange) console.log(`  • ${line}`);
  }
  if (decision.sensitivity?.length) {
    console.log(bold("sensitivity") + dim(" (each constraint moved alone, decided again)"));
    for (const l of decision.sensitivity) console.log(`  • ${l.text}`);
  }
  if (decision.rollout.length) {
    console.log(bold("rollout") + dim(" (undo: retrieval = config + re-ingest, model = ragtune models rollback)"));
    for (const s of decision.rollout) console.log(`  ${s.step}. ${s.title} ${dim(`— undo: ${s.rollback.kind}`)}`);
  }
  console.log(dim(`answers produced by ${generator}`));
}

export async function reportCommand(run: string | undefined, opts: { out?: string; fromLogs?: boolean; since?: number }, cmd: Command): Promise<void> {
  if (opts.since !== undefined && !opts.fromLogs) throw new InputError("--since goes with --from-logs (the window of the request log)");
  const { loaded, runDir, summary, cases } = loadRun(cmd, run);
  const production = opts.fromLogs ? productionOf(cmd, opts.since ?? 7 * 86_400_000) : undefined;
  const decision = decide(summary, cases, loaded.config, production);
  const report = buildReport(summary, cases, decision, loaded.config);
  writeReport(runDir, report);
  await writeHtmlReport(runDir, report, cases, join(resolve(loaded.root, loaded.config.storeDir), "index.db"));
  const written = [join(runDir, "report.md"), join(runDir, "report.json"), join(runDir, "report.html")];
  if (opts.out) {
    const out = resolve(opts.out);
    mkdirSync(out, { recursive: true });
    for (const f of written) copyFileSync(f, join(out, f.split("/").pop()!));
    written.push(...written.map((f) => join(out, f.split("/").pop()!)));
  }
  console.log(`${bold("recommendation:")} ${green(decision.architecture)} ${dim(`(confidence: ${decision.confidence})`)}`);
  for (const f of written) console.log(`wrote ${relative(process.cwd(), f) || f}`);
}
