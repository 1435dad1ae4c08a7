/**
 * `ragtune pilot`: the seven-day plan as one resumable command (src/pilot/, docs/pilot.md).
 * Thin: flags → runPilot, progress on stderr, the step table and next moves on stdout.
 */
import type { Command } from "commander";
import { createInterface } from "node:readline/promises";
import { relative } from "node:path";
import { stringify } from "yaml";
import { PILOT_STEPS, runPilot, type PilotResult, type StepName } from "../../pilot/index.ts";
import { choiceArg, textArg } from "../options.ts";
import { loadedFrom, printJson } from "./common.ts";
import { includeLocator } from "./ingest.ts";
import { bold, dim, green } from "../output.ts";

export function registerPilot(program: Command): void {
  program
    .command("pilot")
    .description("the seven-day plan in one resumable command: baseline → rag → improved rag → failures → fine-tune? → decision and report (docs/pilot.md)")
    .option("--yes", "answer yes to every question (steps that may cost money); also when CI=true")
    .option("--resume <id>", "continue this pilot (default: the latest unfinished one)", textArg("a pilot id"))
    .option("--restart", "start a new pilot even when an unfinished one exists")
    .option("--until <step>", `stop after this step; a re-run continues (${PILOT_STEPS.join(", ")})`, choiceArg(PILOT_STEPS, "step"))
    .option("--candidates <set>", "retrieval settings to try: standard (default) or quick (reranker switch + one chunking strategy)", choiceArg(["standard", "quick"], "set"), "standard")
    .option("--json", "print the pilot record as JSON")
    .action(pilotCommand);
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export async function pilotCommand(
  opts: { yes?: boolean; resume?: string; restart?: boolean; until?: StepName; candidates: "standard" | "quick"; json?: boolean },
  cmd: Command,
): Promise<void> {
  const loaded = loadedFrom(cmd);
  const result = await runPilot({
    loaded,
    yes: Boolean(opts.yes) || process.env.CI === "true",
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    ask,
    ...(opts.resume ? { resume: opts.resume } : {}),
    restart: Boolean(opts.restart),
    ...(opts.until ? { until: opts.until } : {}),
    candidates: opts.candidates,
    locateInclude: includeLocator(loaded.path),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  if (opts.json) {
    printJson({ dir: result.dir, ...result.state, ran: result.ran });
    return;
  }
  printPilot(result);
}

function printPilot({ dir, state, ran }: PilotResult): void {
  const rel = (p: string) => relative(process.cwd(), p) || p;
  console.log(`${bold("ragtune pilot")} ${state.id} ${dim(`(${rel(dir)}/pilot.json)`)}`);
  for (const s of state.steps) {
    const mark = ran.includes(s.name) ? "" : dim(" (recorded earlier)");
    console.log(`  ${s.status === "skipped" ? "–" : "✓"} ${s.name.padEnd(13)} ${s.summary}${mark}`);
  }
  const next = PILOT_STEPS.find((n) => !state.steps.some((s) => s.name === n));
  if (next) {
    console.log(dim(`\nstopped before ${next}; run \`ragtune pilot\` again to continue`));
    return;
  }
  const improved = state.steps.find((s) => s.name === "improved-rag")?.data.chosen as { change: string; chunking: unknown; retrieval: unknown; reindex: boolean } | null | undefined;
  if (improved) {
    console.log(`\n${bold("adopt the better retrieval settings")} (${improved.change}) — in ragtune.yaml:`);
    console.log(stringify({ chunking: improved.chunking, retrieval: improved.retrieval }).trimEnd().replace(/^/gm, "  "));
    if (improved.reindex) console.log(dim("  then `ragtune ingest` (the chunks change)"));
  }
  const d = state.steps.find((s) => s.name === "decision")?.data as { architecture: string; confidence: string; report: string; watch: string[]; generator: string } | undefined;
  if (d) {
    console.log(`\n${bold("recommendation:")} ${green(d.architecture)} ${dim(`(confidence: ${d.confidence}; answers by ${d.generator})`)}`);
    if (d.watch.length) {
      console.log(bold("watch as you roll out"));
      for (const w of d.watch.slice(0, 8)) console.log(`  • ${w}`);
    }
    console.log(`report: ${rel(d.report)}`);
  }
}
