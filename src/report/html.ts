/**
 * report.html: one self-contained page, rendered from ReportJson (like report.md) plus the run's
 * failed cases. Recommendation first, then charts as inline SVG rendered here (charts.ts), then the
 * failed cases with a filter by variant and cause.
 *
 * The file must open from disk with no network: no external script, style, font or image, and a
 * Content-Security-Policy that forbids loading any. Every piece of run text (case inputs, answers,
 * evidence, paths) is escaped; the one inline script reads only data-* attributes, never text.
 */
import { FAILURE_CAUSES } from "../evaluate/types.ts";
import { fmtCount, usd } from "../decide/cost.ts";
import type { ReportJson } from "./json.ts";
import { renderCharts } from "./charts.ts";
import type { FailedCaseRow, RetrievedChunk } from "./failed-cases.ts";

/** Escape for text and for double- or single-quoted attribute values. */
export function esc(text: unknown): string {
  return String(text ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE = `
:root { color-scheme: light; --muted: #555; --line: #ddd; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 1.5rem; color: #111; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
.meta, .note, figcaption, .muted { color: var(--muted); font-size: .9rem; }
.decision { border: 2px solid #4c78a8; border-radius: 8px; padding: 1rem 1.25rem; background: #f5f8fc; }
.decision .arch { font-size: 1.6rem; font-weight: 700; } .confidence { margin-left: .5rem; padding: .1rem .5rem; border-radius: 4px; background: #e3e9f3; }
figure { margin: 1.5rem 0; overflow-x: auto; } figure svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; } th, td { border-bottom: 1px solid var(--line); padding: .4rem; vertical-align: top; text-align: left; }
td pre { white-space: pre-wrap; word-break: break-word; margin: 0; font: inherit; max-height: 12rem; overflow: auto; }
#failed-cases { table-layout: fixed; } #failed-cases td { overflow-wrap: anywhere; }
.cause { font-family: ui-monospace, monospace; } .chunks { margin: 0; padding-left: 1rem; }
.src { display: inline-block; font-size: .75rem; padding: 0 .3rem; border-radius: 3px; background: #eee; } .src-measured { background: #dff0d8; } .src-declared { background: #e3e9f3; } .src-price-table { background: #fcf3d9; } .src-estimated { background: #f8dcdc; }
.filters { display: flex; gap: 1rem; align-items: center; margin: .5rem 0 1rem; flex-wrap: wrap; }
`;

/** Hides rows whose data-variant / data-cause do not match the selects; reads no row text. */
const FILTER_SCRIPT = `
(function () {
  var variant = document.getElementById("filter-variant");
  var cause = document.getElementById("filter-cause");
  var count = document.getElementById("shown-count");
  var rows = document.querySelectorAll("#failed-cases tbody tr");
  function apply() {
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = (!variant.value || r.getAttribute("data-variant") === variant.value) && (!cause.value || r.getAttribute("data-cause") === cause.value);
      r.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = String(shown);
  }
  variant.addEventListener("change", apply);
  cause.addEventListener("change", apply);
  apply();
})();
`;

function list(items: string[]): string {
  return items.length ? `<ul>${items.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>` : "";
}

function decisionSection(r: ReportJson): string {
  const rec = r.recommendation;
  return `<section class="decision" id="recommendation">
<div><span class="arch">${esc(rec.architecture)}</span><span class="confidence">confidence: ${esc(rec.confidence)}</span></div>
<h3>Why</h3>${list(rec.rationale)}
${rec.whatWouldChange.length ? `<h3>What would change the answer</h3>${list(rec.whatWouldChange)}` : ""}
${rec.sensitivity?.length ? `<h3 id="sensitivity">Sensitivity</h3><p class="muted">Each constraint moved alone, the run decided again.</p>${list(rec.sensitivity.map((l) => l.text))}` : ""}
${rolloutSection(rec.rollout ?? [])}
<p class="muted">Rule: ${esc(rec.rule)}. ${esc(r.generator.note)}</p>
</section>`;
}

/** The rollout plan: steps in order, what to watch, when to move on, and which rollback path undoes each. */
function rolloutSection(steps: ReportJson["recommendation"]["rollout"]): string {
  if (steps.length === 0) return "";
  const items = steps.map(
    (s) =>
      `<li><strong>${esc(s.title)}</strong> — ${esc(s.what)}<br><span class="muted">watch:</span> ${esc(s.watch.join("; "))}<br><span class="muted">move on when</span> ${esc(s.advanceWhen)}<br><span class="muted">undo (${esc(s.rollback.kind)}):</span> ${esc(s.rollback.how)}</li>`,
  );
  return `<h3 id="rollout">Rollout plan</h3><p class="muted">Retrieval changes (config + index) and model changes (registry) roll back on separate paths.</p><ol>${items.join("")}</ol>`;
}

const SOURCE_WORD: Record<string, string> = { measured: "measured", declared: "declared", "price-table": "price table", estimated: "estimated" };

/** Each option's cost parts, the arithmetic, and each figure's source, as a table per option. */
function costBreakdown(r: ReportJson): string {
  // Report files written before the cost model recorded items (and fixed costs) have nothing to break down.
  const options = r.costs.filter((c) => c.items?.length && typeof c.fixedMonthlyUsd === "number");
  if (!options.length) return "";
  const blocks = options.map((c) => {
    const rows = c.items.map((i) => {
      const sources = i.figures.map((f) => `<span class="src src-${esc(f.source)}">${esc(SOURCE_WORD[f.source] ?? f.source)}</span> ${esc(f.label)} <span class="muted">(${esc(f.from)})</span>`).join("<br>");
      return `<tr><td>${esc(i.component)}</td><td>${esc(usd(i.usd))}/${esc(i.per)}</td><td>${esc(i.formula)}</td><td>${sources || '<span class="muted">–</span>'}</td></tr>`;
    });
    const priced = c.pricedAs ? ` · tokens priced as ${esc(c.pricedAs.model)}${c.pricedAs.projected ? " (projected)" : ""}` : "";
    return `<h3>${esc(c.variant)}${c.measured === false ? " (estimated)" : ""}: ${esc(usd(c.monthlyUsd))}/month</h3><p class="muted">${esc(usd(c.perQueryUsd))}/query + ${esc(usd(c.fixedMonthlyUsd))}/month fixed${priced}</p>
<table class="cost-items"><thead><tr><th>part</th><th>cost</th><th>how</th><th>figures and sources</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  });
  return `<section id="costs"><h2>How each cost is made up</h2><p class="muted">Every figure is measured in this run, declared in ragtune.yaml, read from the price table, or estimated (and says why).</p>${blocks.join("\n")}</section>`;
}

function summaryTable(r: ReportJson): string {
  const rows = r.variants.map((v) => {
    const ci = v.ci?.passRate;
    const cost = r.costs.find((c) => c.variant === v.name);
    return `<tr><td>${esc(v.name)}</td><td>${v.passed}/${v.cases}</td><td>${pct(v.passRate)}${ci ? ` <span class="muted">[${pct(ci.low)}–${pct(ci.high)}]</span>` : ""}</td><td>${v.latencyMs.p50.toFixed(1)} / ${v.latencyMs.p95.toFixed(1)} ms</td><td>${cost ? esc(usd(cost.monthlyUsd)) : "–"}</td></tr>`;
  });
  return `<table id="variants"><thead><tr><th>variant</th><th>passed</th><th>pass rate [95% CI]</th><th>latency p50 / p95</th><th>per month at ${esc(fmtCount(r.constraints.queriesPerDay))} queries/day</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function chunkItem(c: RetrievedChunk): string {
  const where = c.place
    ? `${c.place.headingPath.length ? ` › ${c.place.headingPath.join(" › ")}` : ""}, lines ${c.place.lineStart}–${c.place.lineEnd}`
    : "";
  return `<li><code>${esc(c.path)}</code>${esc(where)}${c.version ? ` <span class="muted">(${esc(c.version)})</span>` : ""} <span class="muted">score ${c.score.toFixed(3)}</span></li>`;
}

function caseRow(row: FailedCaseRow): string {
  const f = row.failure;
  const expected = row.expected === null ? `<span class="muted">not recorded</span>` : `<pre>${esc(row.expected)}</pre>`;
  const actual = `<pre>${esc(row.output)}</pre>${row.abstained ? `<div class="muted">(abstained)</div>` : ""}${row.label !== undefined ? `<div class="muted">label: ${esc(row.label)}</div>` : ""}`;
  const chunks = row.retrieved.length ? `<ol class="chunks">${row.retrieved.map(chunkItem).join("")}</ol>` : `<span class="muted">none</span>`;
  return `<tr data-variant="${esc(row.variant)}" data-cause="${esc(f.cause)}">
<td><code>${esc(row.caseId)}</code>${row.repeat !== undefined ? ` <span class="muted">#${row.repeat + 1}</span>` : ""}<div class="muted">${esc(row.task)}${row.tags.length ? ` · ${esc(row.tags.join(", "))}` : ""}</div></td>
<td>${esc(row.variant)}</td><td><pre>${esc(row.input)}</pre></td><td>${expected}</td><td>${actual}</td><td>${chunks}</td>
<td class="cause">${esc(f.cause)}</td><td><code>${esc(f.signal)}</code>${f.source ? `<div class="muted">${esc(f.source)}</div>` : ""}</td><td>${esc(f.evidence)}</td></tr>`;
}

function options(values: string[], all: string): string {
  return `<option value="">${esc(all)}</option>${values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("")}`;
}

function casesSection(r: ReportJson, rows: FailedCaseRow[], notes: string[]): string {
  const variants = r.variants.map((v) => v.name).filter((v) => rows.some((x) => x.variant === v));
  const causes = FAILURE_CAUSES.filter((c) => rows.some((x) => x.failure.cause === c));
  return `<section id="cases"><h2>Failed cases</h2>
${notes.map((n) => `<p class="note">${esc(n)}</p>`).join("\n")}
<div class="filters">
<label>variant <select id="filter-variant">${options(variants, "all variants")}</select></label>
<label>cause <select id="filter-cause">${options(causes, "all causes")}</select></label>
<span><span id="shown-count">${rows.length}</span> of ${rows.length} failed cases shown</span>
</div>
<table id="failed-cases"><colgroup>${[9, 6, 15, 12, 15, 19, 8, 7, 9].map((w) => `<col style="width:${w}%">`).join("")}</colgroup><thead><tr><th>case</th><th>variant</th><th>input</th><th>expected</th><th>actual</th><th>retrieved chunks</th><th>label</th><th>signal</th><th>evidence</th></tr></thead>
<tbody>${rows.map(caseRow).join("\n")}</tbody></table>
</section>`;
}

export interface HtmlReportInput {
  report: ReportJson;
  rows: FailedCaseRow[];
  /** What the failed-case table could not show, in words (from loadCaseContext). */
  notes?: string[];
}

export async function renderHtml({ report: r, rows, notes = [] }: HtmlReportInput): Promise<string> {
  const { charts, skipped } = await renderCharts(r);
  const figures = charts.map((c) => `<figure id="chart-${esc(c.id)}" class="chart"><h3>${esc(c.title)}</h3>${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>`);
  const skippedNote = skipped.length
    ? `<p class="note" id="charts-skipped">Not drawn: ${skipped.map((s) => `${esc(s.title)} (${esc(s.reason)})`).join("; ")}.</p>`
    : "";
  const breakEven = r.breakEven.length ? `<h3>Break-even volumes</h3>${list(r.breakEven.map((b) => b.note))}` : "";
  const costs = costBreakdown(r);
  const incomplete = r.complete ? "" : `<p class="note"><strong>Incomplete run</strong>${r.stopped ? `: ${esc(r.stopped)}` : ""}.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ragtune report · ${esc(r.project)} · ${esc(r.runId)}</title>
<style>${STYLE}</style></head>
<body>
<header><h1>ragtune report: ${esc(r.project)}</h1>
<p class="meta">run ${esc(r.runId)} · ${esc(r.runCreatedAt)} · ${r.suite.cases} cases · generator ${esc(r.generator.id)} · report generated ${esc(r.generatedAt)}</p></header>
${incomplete}
${decisionSection(r)}
<section id="variants-summary"><h2>Variants</h2>${summaryTable(r)}</section>
<section id="charts"><h2>Charts</h2>${figures.join("\n")}${skippedNote}${breakEven}</section>
${costs}
${casesSection(r, rows, notes)}
<script>${FILTER_SCRIPT}</script>
</body></html>
`;
}
