import { cpSync, existsSync } from "node:fs";
import { join, resolve, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../config/index.ts";
import { openProject } from "../../pipeline/index.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { runEval } from "../../evaluate/runner.ts";
import { decide } from "../../decide/index.ts";
import { buildReport, writeHtmlReport, writeReport } from "../../report/index.ts";
import { runIngest, printIngestStats } from "./ingest.ts";
import { printSummary } from "./eval.ts";
import { generatorsOf, printDecision } from "./decide.ts";
import { printJson } from "./common.ts";
import { printTrainOutcome } from "./finetune.ts";
import { declaredDatasetRequest, trainAndRegister } from "../../finetune/train.ts";
import { bold, dim, progress, progressDone } from "../output.ts";
import { InputError } from "../../util/errors.ts";

export const EXAMPLE_DIR = fileURLToPath(new URL("../../../examples/acme-support/", import.meta.url));

/** A fresh folder name: ./ragtune-demo, else ./ragtune-demo-2, -3, … (never overwrites). */
function defaultOut(): string {
  let dir = resolve("ragtune-demo");
  for (let i = 2; existsSync(dir); i++) dir = resolve(`ragtune-demo-${i}`);
  return dir;
}

export async function demoCommand(opts: { out?: string; json?: boolean }): Promise<void> {
  const started = performance.now();
  const out = opts.out ? resolve(opts.out) : defaultOut();
  if (existsSync(join(out, "ragtune.yaml"))) {
    throw new InputError(`${out} already holds a project (ragtune.yaml) — choose another --out folder`);
  }
  cpSync(EXAMPLE_DIR, out, { recursive: true, filter: (src) => !/[/\\](runs|\.ragtune)([/\\]|$)/.test(src) });
  const log = (s: string) => {
    if (!opts.json) console.log(s);
  };
  log(`${bold("ragtune demo")} — example project copied to ${relative(process.cwd(), out) || out}`);

  const project = openProject(loadConfig(join(out, "ragtune.yaml")));
  try {
    log(bold("\n1. ingest"));
    const stats = await runIngest(project, !opts.json);
    if (!opts.json) printIngestStats(stats);

    log(bold("\n2. fine-tune"));
    // Every declared dataset is trained and gated like `ragtune finetune train`. The QA memoriser is
    // refused by the gate (memorising does not generalise to unseen questions — the point it makes);
    // the demo promotes it anyway, recorded as forced, so fine-tuned and hybrid show what knowledge
    // fine-tuning does on the suite: answers what it has seen, cannot cite, goes stale.
    const trained = [];
    for (const d of project.config.finetune.datasets) {
      const outcome = await trainAndRegister(
        project,
        declaredDatasetRequest(project, d, d.task === "qa" ? "force" : "gate", "demo: show what fine-tuning for knowledge does (the gate refuses it on held-out questions)"),
      );
      trained.push(outcome);
      if (!opts.json) printTrainOutcome(outcome);
    }

    log(bold("\n3. evaluate"));
    const suite = loadSuite(resolve(project.root, project.config.suite));
    const { runDir, summary, cases } = await runEval({
      project,
      suite,
      onProgress: opts.json ? undefined : (e) => progress(`eval ${e.done}/${e.total} ${e.variant} ${e.caseId}`),
    });
    progressDone();
    if (!opts.json) printSummary(summary);

    log(bold("\n4. decide"));
    const decision = decide(summary, cases, project.config);
    if (!opts.json) printDecision(decision, generatorsOf(summary));

    log(bold("\n5. report"));
    const report = buildReport(summary, cases, decision, project.config);
    writeReport(runDir, report);
    await writeHtmlReport(runDir, report, cases, project.indexFile);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (opts.json) {
      printJson({
        out,
        runDir,
        runId: summary.runId,
        generator: summary.generator,
        models: trained.map((t) => ({ id: t.record.id, task: t.record.task, trainer: t.record.trainer, promoted: t.promoted, forced: Boolean(t.record.forced), gate: t.gate })),
        recommendation: decision,
        seconds: Number(seconds),
      });
      return;
    }
    const rel = (p: string) => relative(process.cwd(), p) || p;
    console.log(`wrote ${rel(join(runDir, "report.md"))}, ${rel(join(runDir, "report.json"))} and ${rel(join(runDir, "report.html"))}`);
    // Run from here with -c rather than `cd`: npx outside this project would look in the registry.
    const cfg = rel(join(out, "ragtune.yaml"));
    console.log(dim(`\ndone in ${seconds} s. Try: npx ragtune ask "How long are deleted cards kept?" -c ${cfg}`));
    console.log(dim(`     or: npx ragtune report -c ${cfg}   ·   npx ragtune eval --variants rag -c ${cfg}`));
  } finally {
    project.close();
  }
}
