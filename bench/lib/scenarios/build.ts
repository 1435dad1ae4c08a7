/**
 * Builds one decision scenario as a real project in a temp folder and runs the real pipeline on it:
 * ingest → finetune train (the in-process trainers, where the scenario has labelled data) → eval
 * every configured variant with the offline generator → decide. The decision comes from the run's
 * own summary and case results, never from a constructed summary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { loadConfig } from "../../../src/config/index.ts";
import { openProject } from "../../../src/pipeline/index.ts";
import { loadSuite } from "../../../src/evaluate/suite.ts";
import { runEval } from "../../../src/evaluate/runner.ts";
import { decide, type Decision } from "../../../src/decide/index.ts";
import type { Architecture } from "../../../src/decide/types.ts";
import type { RunSummary } from "../../../src/evaluate/types.ts";
import { runIngest } from "../../../src/cli/commands/ingest.ts";
import { trainAndRegister } from "../../../src/finetune/train.ts";

export interface ScenarioDataset {
  task: "classify" | "qa";
  /** Rows written as JSONL with fields `input` / `output`. */
  rows: { input: string; output: string }[];
  /** "force" for models the gate would refuse but the scenario must measure (recorded as forced). */
  promote?: "gate" | "force";
}

export interface Scenario {
  id: string;
  /** The situation in words. */
  title: string;
  /** The right answer, written down before the run, and why. */
  expected: Architecture;
  reason: string;
  docs: Record<string, string>;
  /** The suite as a YAML document (JSON is YAML). */
  suite: { labels?: unknown[]; cases: Record<string, unknown>[] };
  variants: string[];
  constraints: Record<string, unknown>;
  longContextBudgetTokens?: number;
  datasets?: ScenarioDataset[];
  /** Extra condition on the decision (e.g. "says to collect labels"); returns a problem or undefined. */
  check?: (d: Decision) => string | undefined;
  /**
   * The situation, checked on the run itself before the decision is judged (e.g. "prompt-only
   * really passes"), so a scenario cannot pass by being built wrong; returns a problem or undefined.
   */
  premise?: (s: RunSummary) => string | undefined;
}

/** Pass rate of a variant in a run (NaN when it was not measured). */
export function rateOf(s: RunSummary, variant: string): number {
  return s.variants.find((v) => v.name === variant)?.passRate ?? NaN;
}

/** A premise from conditions: the first false one's text is the problem. */
export function premise(...conditions: [boolean, string][]): string | undefined {
  return conditions.find(([ok]) => !ok)?.[1];
}

export interface ScenarioResult {
  id: string;
  title: string;
  expected: Architecture;
  got: Architecture;
  rule: string;
  confidence: Decision["confidence"];
  pass: boolean;
  problem?: string;
  generator: string;
  passRates: Record<string, number>;
  ms: number;
  decision: Decision;
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Write the scenario's project files into `dir`. */
export function writeScenarioProject(s: Scenario, dir: string): void {
  for (const [rel, text] of Object.entries(s.docs)) write(join(dir, "docs", rel), text);
  write(join(dir, "suite.yaml"), JSON.stringify(s.suite, null, 1));
  const datasets = (s.datasets ?? []).map((d, i) => {
    const file = `training/${d.task}-${i}.jsonl`;
    write(join(dir, file), d.rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    return { task: d.task, file, inputField: "input", outputField: "output" };
  });
  const config = {
    name: s.id,
    sources: [{ include: "docs/**/*.md" }],
    retrieval: { k: 3 },
    models: { generator: "offline:extractive" },
    ...(s.longContextBudgetTokens ? { longContext: { budgetTokens: s.longContextBudgetTokens } } : {}),
    suite: "suite.yaml",
    variants: s.variants,
    constraints: s.constraints,
    pricing: { referenceModel: "openai:gpt-4.1-mini" },
    cache: { enabled: false },
    finetune: { datasets },
  };
  write(join(dir, "ragtune.yaml"), JSON.stringify(config, null, 1));
}

/** Run one scenario end to end in a fresh temp folder (removed afterwards unless `keep`). */
export async function runScenario(s: Scenario, options: { keep?: boolean } = {}): Promise<ScenarioResult & { summary: RunSummary; dir: string }> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), `ragtune-scenario-${s.id}-`));
  try {
    writeScenarioProject(s, dir);
    const loaded = loadConfig(join(dir, "ragtune.yaml"));
    const project = openProject(loaded);
    let summary: RunSummary;
    let decision: Decision;
    try {
      await runIngest(project, false);
      for (const [i, d] of (s.datasets ?? []).entries()) {
        const file = `training/${d.task}-${i}.jsonl`;
        await trainAndRegister(project, {
          task: d.task,
          dataset: { name: `${d.task}-${i}`, files: [{ path: join(dir, file), task: d.task, inputField: "input", outputField: "output", displayName: file }] },
          decontaminate: project.config.finetune.decontaminate,
          promote: d.promote ?? "gate",
          forceReason: "decision scenario: the variant must be measured",
        });
      }
      const suite = loadSuite(join(dir, "suite.yaml"));
      const run = await runEval({ project, suite });
      summary = run.summary;
      decision = decide(run.summary, run.cases, project.config);
    } finally {
      project.close();
    }
    const premise = s.premise?.(summary);
    const problem = premise
      ? `premise does not hold: ${premise}`
      : decision.architecture !== s.expected ? `expected ${s.expected}, got ${decision.architecture} (rule ${decision.rule})` : s.check?.(decision);
    return {
      id: s.id,
      title: s.title,
      expected: s.expected,
      got: decision.architecture,
      rule: decision.rule,
      confidence: decision.confidence,
      pass: !problem,
      ...(problem ? { problem } : {}),
      generator: summary.generator,
      passRates: Object.fromEntries(summary.variants.map((v) => [v.name, v.passRate])),
      ms: Math.round(performance.now() - started),
      decision,
      summary,
      dir,
    };
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}
