/**
 * `ragtune logs list|label` and `ragtune suite add-from-logs`: the request log of `ragtune serve`
 * back into evaluation (src/logs). Thin: parse flags, call src/logs, print.
 */
import type { Command } from "commander";
import { relative, resolve } from "node:path";
import { existsSync } from "node:fs";
import { parseSince } from "../../serve/monitor.ts";
import type { StoredRequest } from "../../serve/log.ts";
import { choiceArg, invalid, outFileArg } from "../options.ts";
import { projectFrom, printJson } from "./common.ts";
import { bold, dim, table, yellow } from "../output.ts";
import { InputError } from "../../util/errors.ts";
import { loadSuite } from "../../evaluate/suite.ts";
import { openLabelStore, appendCasesToSuite, casesFromRequests, labelIndexOf, labelWindow, openRequestLog, requestsSince, triggersOf } from "../../logs/index.ts";
import { matchesFeedback } from "../../logs/triggers.ts";

/** `--since`: the monitor's duration syntax (serve/monitor.ts parseSince). */
export function sinceArg(v: string): number {
  const ms = parseSince(v);
  if (ms === undefined) throw invalid("expected a duration like 30m, 24h, 7d or 2w (at most a year)");
  return ms;
}

const WEEK = 7 * 86_400_000;
const FEEDBACK = ["down", "corrected", "any"] as const;
type FeedbackFilter = (typeof FEEDBACK)[number];

export function registerLogs(program: Command): void {
  const logs = program.command("logs").description("the request log of `ragtune serve`: list requests, label live failures with their causes");
  logs
    .command("list")
    .description("requests in the window with their feedback, monitor triggers and stored label")
    .option("--since <duration>", "window, e.g. 24h, 7d (default 7d)", sinceArg, WEEK)
    .option("--feedback <which>", "only requests with this feedback: down, corrected, any", choiceArg(FEEDBACK, "feedback"))
    .option("--json", "machine-readable output")
    .action(logsListCommand);
  logs
    .command("label")
    .description("assign the failure causes to requests with negative feedback or a tripped monitor; stored in requests.db (table request_labels)")
    .option("--since <duration>", "window to (re)label, e.g. 24h, 7d (default 7d)", sinceArg, WEEK)
    .option("--json", "machine-readable output")
    .action(logsLabelCommand);

  const suite = program.command("suite").description("the evaluation suite");
  suite
    .command("add-from-logs")
    .description("turn logged requests into regression cases (corrected answer → answer; fallback expected → must_abstain), appended without duplicates")
    .argument("[request-id...]", "request ids (from `ragtune logs list`); or use --feedback")
    .option("--feedback <which>", "every request in the window with this feedback: down, corrected, any", choiceArg(FEEDBACK, "feedback"))
    .option("--since <duration>", "window for --feedback, e.g. 24h, 7d (default 7d)", sinceArg)
    .option("--to <file>", "YAML suite file to append to (created if missing; default: the project's suite)", outFileArg)
    .option("--json", "machine-readable output")
    .action(suiteAddFromLogsCommand);
}

const fmt = (x: number | null, digits = 2) => (x === null ? "–" : x.toFixed(digits));
const feedbackOf = (r: StoredRequest) => (r.feedback ? `${r.feedback.thumbs}${r.feedback.correctedAnswer ? "+corrected" : ""}` : "–");
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function logsListCommand(opts: { since: number; feedback?: FeedbackFilter; json?: boolean }, cmd: Command): void {
  const project = projectFrom(cmd);
  try {
    const log = openRequestLog(project);
    let labels;
    let window;
    try {
      window = requestsSince(log, opts.since);
      const store = openLabelStore(project);
      try {
        labels = store.forRequests(window.rows.map((r) => r.id));
      } finally {
        store.close();
      }
    } finally {
      log.close();
    }
    const rows = window.rows.filter((r) => matchesFeedback(r, opts.feedback));
    const out = rows.map((r) => ({ ...r, triggers: triggersOf(r), label: labels.get(r.id) ?? null }));
    if (opts.json) return printJson({ from: window.from, to: window.to, requests: out });
    console.log(`${bold("ragtune logs list")} ${dim(`${window.from} → ${window.to}`)}: ${rows.length} of ${window.rows.length} requests${opts.feedback ? ` (feedback: ${opts.feedback})` : ""}`);
    if (!rows.length) return;
    console.log(
      table(
        ["id", "time", "feedback", "fallback", "support", "triggers", "label", "query"],
        out.map((r) => [r.id, r.time.slice(0, 19), feedbackOf(r), r.fallback ? "yes" : "no", fmt(r.support), r.triggers.join(",") || "–", r.label?.cause ?? "–", clip(r.query, 50)]),
      ),
    );
    if (out.some((r) => r.triggers.length && !r.label)) console.log(dim("unlabelled live failures: run `ragtune logs label`"));
  } finally {
    project.close();
  }
}

function logsLabelCommand(opts: { since: number; json?: boolean }, cmd: Command): void {
  const project = projectFrom(cmd);
  try {
    const r = labelWindow(project, opts.since);
    if (opts.json) return printJson({ from: r.window.from, to: r.window.to, requests: r.window.rows.length, labelled: r.labels.length, removed: r.removed, file: r.file, labels: r.labels });
    const counts = new Map<string, number>();
    for (const l of r.labels) counts.set(l.cause, (counts.get(l.cause) ?? 0) + 1);
    console.log(
      `${bold("ragtune logs label")} ${dim(`${r.window.from} → ${r.window.to}`)}: ${r.labels.length} live failure${r.labels.length === 1 ? "" : "s"} labelled of ${r.window.rows.length} requests` +
        dim(` (stored in ${relative(process.cwd(), r.file) || r.file}, table request_labels${r.removed ? `; ${r.removed} old label(s) removed` : ""})`),
    );
    if (counts.size) console.log(`  ${[...counts].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(", ")}`);
    for (const l of r.labels) console.log(`  ${l.requestId} ${bold(l.cause)} ${dim(`(${l.signal}; ${l.triggers.join(",")})`)}: ${l.evidence}`);
  } finally {
    project.close();
  }
}

function suiteAddFromLogsCommand(ids: string[], opts: { feedback?: FeedbackFilter; since?: number; to?: string; json?: boolean }, cmd: Command): void {
  if (ids.length && opts.feedback) throw new InputError("give request ids or --feedback, not both");
  if (!ids.length && !opts.feedback) throw new InputError("nothing to add: give request ids (see `ragtune logs list`) or --feedback down|corrected|any");
  if (opts.since !== undefined && !opts.feedback) throw new InputError("--since goes with --feedback (request ids name their requests)");
  for (const id of ids) if (!id.trim()) throw new InputError("a request id is empty");
  const project = projectFrom(cmd);
  try {
    const log = openRequestLog(project);
    let rows: StoredRequest[];
    try {
      if (ids.length) {
        rows = ids.map((id) => {
          const r = log.get(id);
          if (!r) throw new InputError(`unknown request id '${id}' in ${log.location} (see \`ragtune logs list\`)`);
          return r;
        });
      } else rows = requestsSince(log, opts.since ?? WEEK).rows.filter((r) => matchesFeedback(r, opts.feedback));
    } finally {
      log.close();
    }
    const projectSuite = resolve(project.root, project.config.suite);
    const target = opts.to ? resolve(opts.to) : projectSuite;
    const { cases, skipped } = casesFromRequests(rows, labelIndexOf(project));
    // Ids already anywhere in the project's suite (includes too) are duplicates, not just those in the target file.
    let alsoHas = new Set<string>();
    const suiteLoads = existsSync(projectSuite);
    if (suiteLoads) alsoHas = new Set(loadSuite(projectSuite).cases.map((c) => c.id));
    const { added, duplicates } = appendCasesToSuite(target, cases, { alsoHas, validate: target === projectSuite || !suiteLoads ? target : undefined });
    let included = target === projectSuite;
    if (!included && suiteLoads && added.length) {
      const ids = new Set(loadSuite(projectSuite).cases.map((c) => c.id));
      included = added.every((id) => ids.has(id));
    }
    const shown = relative(process.cwd(), target) || target;
    if (opts.json) return printJson({ file: target, added, duplicates, skipped, includedInProjectSuite: included });
    console.log(`${bold("ragtune suite add-from-logs")}: ${added.length} case${added.length === 1 ? "" : "s"} added to ${shown}${duplicates.length ? dim(` · ${duplicates.length} already there (${duplicates.slice(0, 3).join(", ")}${duplicates.length > 3 ? ", …" : ""})`) : ""}`);
    for (const s of skipped) console.log(dim(`  skipped ${s.requestId}: ${s.reason}`));
    if (added.length && !included) console.log(yellow(`note: ${shown} is not included by the project's suite (${relative(process.cwd(), projectSuite) || projectSuite}); add it under include: to run the cases`));
  } finally {
    project.close();
  }
}
