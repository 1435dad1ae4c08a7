/**
 * JUnit XML of a run, for CI test reporters: one <testsuite> per variant, one <testcase> per case
 * (classname = variant, name = case id). A case that failed on its own merits is a <failure> (its
 * cause, signal and evidence); a case whose only failing scores are judge errors is an <error>
 * (the verdict is unknown, not a fail); cases not run (judge-only cases without a judge, a stopped
 * run, a variant that is not configured) are <skipped> with the reason.
 *
 * Everything is escaped as text (never CDATA, which `]]>` would end), and characters XML 1.0
 * cannot carry at all (control characters, lone surrogates, U+FFFE/U+FFFF) become U+FFFD, so any
 * model output yields a well-formed file.
 */
import type { CaseResult, RunSummary, ScoreResult } from "../evaluate/types.ts";

/** Characters outside XML 1.0's Char production: C0 controls except tab/LF/CR, lone surrogates, U+FFFE/U+FFFF. */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text or attribute value, escaped for XML 1.0 (quotes too, so one function serves both). */
export function escapeXml(value: string): string {
  return value
    .replace(NOT_XML_CHAR, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** In attributes a newline would be normalised to a space by parsers: keep it as a character reference. */
function attr(value: string): string {
  return escapeXml(value).replace(/\r/g, "&#13;").replace(/\n/g, "&#10;").replace(/\t/g, "&#9;");
}

const seconds = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

export type JunitOutcome = "passed" | "failure" | "error" | "skipped";

/** failure vs error: an error is a failed case whose failing scores are all judge errors (nothing was shown to be wrong). */
export function junitOutcome(r: CaseResult): JunitOutcome {
  if (r.passed) return "passed";
  const failing = r.scores.filter((s) => !s.pass);
  if (!r.failure && failing.length > 0 && failing.every((s) => s.error)) return "error";
  return "failure";
}

interface Testcase {
  name: string;
  time: number;
  outcome: JunitOutcome;
  /** One line, in the `message` attribute. */
  message?: string;
  type?: string;
  /** The body of <failure>/<error>. */
  body?: string;
  systemOut?: string;
}

function scoreLine(s: ScoreResult): string {
  return `${s.name}: ${s.error ? s.error : s.pass ? "pass" : "fail"}${s.detail ? ` — ${s.detail}` : ""}`;
}

function caseBody(r: CaseResult): string {
  const lines: string[] = [];
  if (r.failure) {
    lines.push(`cause: ${r.failure.cause}`, `signal: ${r.failure.signal}${r.failure.source ? ` (${r.failure.source})` : ""}`, `evidence: ${r.failure.evidence}`);
  }
  lines.push(`task: ${r.task}`, `input: ${r.input}`, `output: ${r.abstained ? "(abstained) " : ""}${r.output}`);
  if (r.label !== undefined) lines.push(`label: ${r.label}`);
  const failing = r.scores.filter((s) => !s.pass);
  if (failing.length) lines.push("failing scores:", ...failing.map((s) => `  ${scoreLine(s)}`));
  for (const j of r.judges ?? []) if (j.error) lines.push(`judge ${j.judge} (${j.model}): ${j.error}${j.errorDetail ? ` — ${j.errorDetail}` : ""}`);
  if (r.retrieved.length) lines.push("retrieved:", ...r.retrieved.map((h) => `  ${h.id} (${h.path}${h.version ? `, ${h.version}` : ""}) score ${h.score.toFixed(3)}`));
  if (r.retrieval) lines.push(`retrieval: hit@${r.retrieval.k} ${r.retrieval.hitAtK}, recall ${r.retrieval.recallAtK.toFixed(2)}, mrr ${r.retrieval.mrr.toFixed(2)}`);
  return lines.join("\n");
}

function testcaseOf(r: CaseResult, repeats: number): Testcase {
  const name = repeats > 1 ? `${r.caseId} (repeat ${(r.repeat ?? 0) + 1}/${repeats})` : r.caseId;
  const outcome = junitOutcome(r);
  const tc: Testcase = { name, time: r.latencyMs, outcome };
  if (outcome === "failure") {
    tc.type = r.failure?.cause ?? "failed";
    tc.message = r.failure
      ? `${r.failure.cause} (${r.failure.signal}): ${r.failure.evidence}`
      : `failed: ${r.scores.filter((s) => !s.pass).map((s) => s.name).join(", ") || "no score passed"}`;
    tc.body = caseBody(r);
  } else if (outcome === "error") {
    tc.type = "judge_error";
    const errs = r.scores.filter((s) => s.error);
    tc.message = `judge_error: ${errs.map((s) => s.detail ?? s.name).join("; ")}`;
    tc.body = caseBody(r);
  } else {
    tc.systemOut = `output: ${r.output}`;
  }
  return tc;
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  /** Milliseconds. */
  time: number;
}

function countsOf(cases: Testcase[]): Counts {
  const count = (o: JunitOutcome) => cases.filter((c) => c.outcome === o).length;
  return { tests: cases.length, failures: count("failure"), errors: count("error"), skipped: count("skipped"), time: cases.reduce((t, c) => t + c.time, 0) };
}

const countAttrs = (n: Counts) => `tests="${n.tests}" failures="${n.failures}" errors="${n.errors}" skipped="${n.skipped}" time="${seconds(n.time)}"`;

function renderSuite(name: string, cases: Testcase[], timestamp: string, properties: [string, string][]): string {
  const out: string[] = [];
  out.push(
    `  <testsuite name="${attr(name)}" ${countAttrs(countsOf(cases))} timestamp="${attr(timestamp)}">`,
  );
  if (properties.length) {
    out.push("    <properties>");
    for (const [k, v] of properties) out.push(`      <property name="${attr(k)}" value="${attr(v)}"/>`);
    out.push("    </properties>");
  }
  for (const c of cases) {
    const open = `    <testcase classname="${attr(name)}" name="${attr(c.name)}" time="${seconds(c.time)}"`;
    if (c.outcome === "passed" && !c.systemOut) {
      out.push(`${open}/>`);
      continue;
    }
    out.push(`${open}>`);
    if (c.outcome === "failure" || c.outcome === "error") {
      out.push(`      <${c.outcome} message="${attr(c.message ?? "")}" type="${attr(c.type ?? c.outcome)}">${escapeXml(c.body ?? "")}</${c.outcome}>`);
    } else if (c.outcome === "skipped") {
      out.push(`      <skipped message="${attr(c.message ?? "")}"/>`);
    }
    if (c.systemOut) out.push(`      <system-out>${escapeXml(c.systemOut)}</system-out>`);
    out.push("    </testcase>");
  }
  out.push("  </testsuite>");
  return out.join("\n");
}

/** The JUnit XML document of a run. */
export function junitXml(summary: RunSummary, cases: CaseResult[]): string {
  const repeats = summary.repeats ?? 1;
  // Every case id the run knows of, in first-seen order, so a variant that is missing some says so.
  const allIds = [...new Set([...cases.map((c) => c.caseId), ...(summary.skipped?.caseIds ?? [])])];
  const skippedIds = new Set(summary.skipped?.caseIds ?? []);
  const suites: string[] = [];
  const everyCase: Testcase[] = [];
  // Older or hand-edited summaries may lack a field: a missing property is left out, not "undefined".
  const properties = ([
    ["run", summary.runId],
    ["generator", summary.generator],
    ["suite", summary.suite?.path],
  ] as [string, string | undefined][]).filter((p): p is [string, string] => typeof p[1] === "string");
  for (const v of summary.variants) {
    const mine = cases.filter((c) => c.variant === v.name);
    const tcs = mine.map((r) => testcaseOf(r, repeats));
    const ran = new Set(mine.map((c) => c.caseId));
    for (const id of allIds) {
      if (ran.has(id)) continue;
      const reason = skippedIds.has(id) ? summary.skipped!.reason : summary.stopped ? `not run: the run stopped (${summary.stopped})` : "not run for this variant";
      tcs.push({ name: id, time: 0, outcome: "skipped", message: reason });
    }
    everyCase.push(...tcs);
    suites.push(renderSuite(v.name, tcs, summary.createdAt, [...properties, ...(v.generator ? [["variant.generator", v.generator] as [string, string]] : [])]));
  }
  for (const n of summary.notConfigured) {
    const tcs: Testcase[] = allIds.map((id) => ({ name: id, time: 0, outcome: "skipped", message: `variant not configured: ${n.reason}` }));
    everyCase.push(...tcs);
    suites.push(renderSuite(n.name, tcs, summary.createdAt, properties));
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${attr(`ragtune ${summary.runId}`)}" ${countAttrs(countsOf(everyCase))}>`,
    ...suites,
    `</testsuites>`,
    "",
  ].join("\n");
}
