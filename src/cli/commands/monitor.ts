/**
 * `ragtune monitor [--since 7d]`: the online monitors over the request log (src/serve/monitor.ts),
 * this window against the one before, with alerts against `serve.monitors`. Thin.
 */
import type { Command } from "commander";
import { openRequestLogStore } from "../../serve/log-open.ts";
import { monitorReport, parseSince, type WindowStats } from "../../serve/monitor.ts";
import { invalid } from "../options.ts";
import { projectFrom, printJson } from "./common.ts";
import { bold, dim, red, yellow } from "../output.ts";

function sinceArg(v: string): number {
  const ms = parseSince(v);
  if (ms === undefined) throw invalid("expected a duration like 30m, 24h, 7d or 2w (at most a year)");
  return ms;
}

export function registerMonitor(program: Command): void {
  program
    .command("monitor")
    .description("online monitors from the request log of `ragtune serve`: fallback, unsupported answers, retrieval misses, corrections, errors, latency, cost, staleness — with trends and alerts")
    .option("--since <duration>", "window to report, e.g. 24h, 7d (default 7d); the trend compares it with the window before", sinceArg, 7 * 86_400_000)
    .option("--include-eval", "count eval / synthetic traffic (requests sent with X-Ragtune-Traffic) too; by default only live traffic is monitored")
    .option("--fail-on-alert", "exit 1 when any monitor is over its threshold (for CI / cron)")
    .option("--json", "machine-readable output")
    .action(monitorCommand);
}

const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);

function trend(now: number | null, before: number | null): string {
  if (now === null || before === null) return "";
  const d = (now - before) * 100;
  if (Math.abs(d) < 0.05) return dim(" (=)");
  return dim(` (${d > 0 ? "+" : ""}${d.toFixed(1)} pts)`);
}

function monitorCommand(opts: { since: number; includeEval?: boolean; failOnAlert?: boolean; json?: boolean }, cmd: Command): void {
  const project = projectFrom(cmd);
  try {
    const log = openRequestLogStore(project, { create: false });
    let report;
    try {
      const includeEval = opts.includeEval ?? false;
      report = monitorReport(
        (a, b) => log.monitored(a, b, { includeEval }).rows,
        project,
        opts.since,
        { ...project.config.serve.monitors, ...(project.config.constraints.p95LatencyMs ? { p95LatencyMs: project.config.constraints.p95LatencyMs } : {}) },
        new Date(),
        { includeEval },
      );
    } finally {
      log.close();
    }
    if (opts.json) printJson(report);
    else {
      const w: WindowStats = report.window;
      const p: WindowStats = report.previous;
      console.log(`${bold("ragtune monitor")} ${dim(`${w.from} → ${w.to}`)}: ${w.requests} requests, ${w.answered} answered${dim(` (window before: ${p.requests})`)}${report.includesEval ? " — eval / synthetic traffic included" : dim(" — live traffic only")}`);
      const rows: [string, number | null, number | null][] = [
        ["fallback rate", w.fallbackRate, p.fallbackRate],
        ["unsupported answers", w.unsupportedRate, p.unsupportedRate],
        ["retrieval-miss proxy", w.retrievalMissRate, p.retrievalMissRate],
        ["citation rate", w.citationRate, p.citationRate],
        ["stale citations (superseded version)", w.staleCitationRate, p.staleCitationRate],
        [`user corrections (${w.feedback} with feedback)`, w.correctionRate, p.correctionRate],
        ["server errors", w.errorRate, p.errorRate],
      ];
      for (const [name, now, before] of rows) console.log(`  ${name.padEnd(36)} ${pct(now).padStart(7)}${trend(now, before)}`);
      console.log(`  ${"latency p50 / p95".padEnd(36)} ${w.latencyMs ? `${Math.round(w.latencyMs.p50)} / ${Math.round(w.latencyMs.p95)} ms` : "–"}`);
      console.log(`  ${"cost".padEnd(36)} $${w.costUsd.toFixed(4)}`);
      const s = report.stale;
      console.log(`  ${"stale documents".padEnd(36)} ${s.changedOnDisk.length + s.missingOnDisk.length} of ${s.documents}${s.changedOnDisk.length ? dim(` (changed: ${s.changedOnDisk.slice(0, 3).join(", ")}${s.changedOnDisk.length > 3 ? ", …" : ""})`) : ""}`);
      if (s.superseded.length) {
        const first = s.superseded[0];
        console.log(`  ${"superseded by a newer version".padEnd(36)} ${s.superseded.length} of ${s.documents}${dim(` (e.g. ${first.path} [${first.version}] → ${first.newerPath} [${first.newerVersion}])`)}`);
      }
      if (report.alerts.length) {
        console.log(bold(red("alerts")));
        for (const a of report.alerts) console.log(`  ${yellow("!")} ${a}`);
      } else console.log(dim("no alerts"));
    }
    if (opts.failOnAlert && report.alerts.length) process.exitCode = 1;
  } finally {
    project.close();
  }
}
