/**
 * The viewer's HTML, rendered on the server. No script, no external resource (the CSP forbids
 * loading any); every piece of run text is escaped with the report's esc(). Links carry the
 * filters, so every view has a URL.
 */
import { esc } from "../report/html.ts";
import { FAILURE_CAUSES, type CaseResult } from "../evaluate/types.ts";
import type { CaseFilter, Comparison, LoadedRun, RunListing, SuiteHistory } from "./data.ts";
import { TRANSITIONS } from "./data.ts";

export const VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'";

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 1rem 1.5rem; color: #111; }
nav { display: flex; gap: 1rem; border-bottom: 1px solid #ddd; padding-bottom: .5rem; margin-bottom: 1rem; }
h1 { font-size: 1.4rem; } .muted { color: #555; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; } th, td { border-bottom: 1px solid #ddd; padding: .35rem; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; font: inherit; }
.filters a { margin-right: .5rem; } .filters a.on { font-weight: 700; text-decoration: none; color: #111; }
.pass { color: #1a7f37; } .fail { color: #b42318; } code { font-family: ui-monospace, monospace; }
section.result { border: 1px solid #ddd; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }
`;

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(x === 0 || x === 1 ? 0 : 1)}%` : "–");
const u = encodeURIComponent;

export function runHref(id: string): string {
  return `/runs/${u(id)}`;
}

function query(params: Record<string, string | undefined>): string {
  const q = Object.entries(params)
    .filter(([, v]) => v)
    .map(([k, v]) => `${u(k)}=${u(v!)}`)
    .join("&");
  return q ? `?${q}` : "";
}

export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(VIEW_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ragtune view</title><style>${STYLE}</style></head>
<body><nav><a href="/">Runs</a><a href="/compare">Compare runs</a><a href="/history">History</a></nav>
${body}
</body></html>
`;
}

export function notFoundPage(message: string, suggestion?: { label: string; href: string }): string {
  const hint = suggestion ? `<p id="did-you-mean">Did you mean <a href="${esc(suggestion.href)}">${esc(suggestion.label)}</a>?</p>` : "";
  return layout("not found", `<h1>Not found</h1><p id="not-found">${esc(message)}</p>${hint}<p><a href="/">All runs</a></p>`);
}

export function errorPage(message: string): string {
  return layout("error", `<h1>Cannot show this page</h1><p id="error">${esc(message)}</p><p><a href="/">All runs</a></p>`);
}

export function runListPage(runs: RunListing[], dir: string): string {
  if (runs.length === 0) return layout("runs", `<h1>Runs</h1><p>No runs in <code>${esc(dir)}</code> — run <code>ragtune eval</code> first.</p>`);
  const rows = runs.map((r) => {
    const rates = r.problem
      ? `<span class="fail">unreadable: ${esc(r.problem)}</span>`
      : r.variants.length
        ? r.variants.map((v) => `${esc(v.name)} <strong>${pct(v.passRate)}</strong> <span class="muted">(${v.passed}/${v.cases})</span>`).join(" · ")
        : `<span class="muted">incomplete (no summary yet)</span>`;
    return `<tr data-run="${esc(r.id)}"><td><a href="${esc(runHref(r.id))}">${esc(r.id)}</a></td><td>${esc(r.createdAt)}</td><td><code>${esc(r.suite)}</code></td><td>${esc(r.generator)}</td><td>${rates}</td></tr>`;
  });
  return layout(
    "runs",
    `<h1>Runs</h1><p class="muted">${runs.length} runs in <code>${esc(dir)}</code>, newest first.</p>
<table id="runs"><thead><tr><th>run</th><th>date</th><th>suite</th><th>generator</th><th>pass rate per variant</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`,
  );
}

/** Links over the run's pages, put above the live report. */
export function runNav(run: LoadedRun, variants: string[]): string {
  const base = runHref(run.id);
  const pair = variants.length >= 2 ? ` · <a id="compare-variants" href="${esc(`${base}/compare${query({ a: variants[0], b: variants[1] })}`)}">compare ${esc(variants[0])} with ${esc(variants[1])}</a>` : "";
  return `<nav style="font:15px system-ui,sans-serif;padding:.5rem 1.5rem;border-bottom:1px solid #ddd"><a href="/">Runs</a> · <a id="all-cases" href="${esc(`${base}/cases`)}">all cases</a>${pair} · <a href="/history">History</a></nav>`;
}

export function incompleteRunPage(run: LoadedRun): string {
  return layout(
    `run ${run.id}`,
    `<h1>Run ${esc(run.id)}</h1><p>This run has not finished (no summary.json): ${run.cases.length} case results recorded so far. Resume it with <code>ragtune eval --resume ${esc(run.id)}</code>.</p><p><a href="${esc(`${runHref(run.id)}/cases`)}">Its cases so far</a></p>`,
  );
}

function filterLinks(base: string, f: CaseFilter, key: keyof CaseFilter, values: string[]): string {
  const link = (v: string | undefined, label: string) =>
    `<a class="${f[key] === v ? "on" : ""}" data-filter="${esc(key)}" data-value="${esc(v ?? "")}" href="${esc(base + query({ ...f, [key]: v }))}">${esc(label)}</a>`;
  return `<div class="filters" id="filter-${esc(key)}"><strong>${esc(key)}:</strong> ${link(undefined, "all")}${values.map((v) => link(v, v)).join("")}</div>`;
}

function verdict(c: CaseResult): string {
  return c.passed ? `<span class="pass">pass</span>` : `<span class="fail">fail</span> <code>${esc(c.failure?.cause ?? "")}</code>`;
}

function caseHref(runId: string, c: CaseResult): string {
  return `${runHref(runId)}/cases/${u(c.caseId)}${query({ variant: c.variant })}`;
}

export function casesPage(run: LoadedRun, variants: string[], f: CaseFilter, shown: CaseResult[]): string {
  const base = `${runHref(run.id)}/cases`;
  const causes = ["passed", ...FAILURE_CAUSES.filter((c) => run.cases.some((r) => r.failure?.cause === c))];
  const tags = [...new Set(run.cases.flatMap((c) => c.tags))].sort();
  const tasks = [...new Set(run.cases.map((c) => c.task))].sort();
  const rows = shown.map(
    (c) =>
      `<tr data-variant="${esc(c.variant)}" data-cause="${esc(c.passed ? "passed" : (c.failure?.cause ?? ""))}"><td><a href="${esc(caseHref(run.id, c))}">${esc(c.caseId)}</a>${c.repeat ? ` <span class="muted">#${c.repeat + 1}</span>` : ""}</td><td>${esc(c.variant)}</td><td>${esc(c.task)}</td><td>${esc(c.tags.join(", "))}</td><td>${verdict(c)}</td><td><pre>${esc(c.input.slice(0, 200))}</pre></td></tr>`,
  );
  return layout(
    `cases · ${run.id}`,
    `<h1>Cases of run <a href="${esc(runHref(run.id))}">${esc(run.id)}</a></h1>
${filterLinks(base, f, "variant", variants)}${filterLinks(base, f, "cause", causes)}${tags.length ? filterLinks(base, f, "tag", tags) : ""}${filterLinks(base, f, "task", tasks)}
<p class="muted"><span id="shown-count">${shown.length}</span> of ${run.cases.length} results shown.</p>
<table id="cases"><thead><tr><th>case</th><th>variant</th><th>task</th><th>tags</th><th>verdict</th><th>input</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`,
  );
}

function resultSection(c: CaseResult): string {
  const chunks = c.retrieved.length
    ? `<ol class="chunks">${c.retrieved.map((r) => `<li><code>${esc(r.path)}</code> <span class="muted">${esc(r.id)} · ${esc(r.version)}</span> score <strong>${r.score.toFixed(3)}</strong></li>`).join("")}</ol>`
    : `<p class="muted">none (this variant retrieves nothing)</p>`;
  const scores = c.scores.map((s) => `<tr><td><code>${esc(s.name)}</code></td><td>${s.pass ? `<span class="pass">pass</span>` : `<span class="fail">fail</span>`}${s.error ? ` (${esc(s.error)})` : ""}</td><td>${s.value.toFixed(3)}</td><td>${esc(s.detail ?? "")}</td></tr>`);
  const judges = (c.judges ?? []).map(
    (j) =>
      `<tr><td><code>judge.${esc(j.judge)}</code> <span class="muted">${esc(j.model)}</span></td><td>${j.pass === undefined ? `error: ${esc(j.errorDetail ?? j.error ?? "")}` : j.pass ? `<span class="pass">pass</span>` : `<span class="fail">fail</span>`}</td><td>${j.score === undefined ? "–" : j.score.toFixed(3)}</td><td>${esc(j.reasoning ?? "")}${j.violations?.length ? `<br>violations: ${esc(j.violations.join("; "))}` : ""}${j.claims?.length ? `<br>${j.claims.map((cl) => `${cl.supported ? "✓" : "✗"} ${esc(cl.claim)}`).join("<br>")}` : ""}</td></tr>`,
  );
  const label = c.failure
    ? `<p id="failure-label">Failure label: <code class="fail">${esc(c.failure.cause)}</code> · signal <code>${esc(c.failure.signal)}</code>${c.failure.source ? ` (${esc(c.failure.source)})` : ""}</p><p>Evidence: <span class="evidence">${esc(c.failure.evidence)}</span></p>`
    : `<p class="pass">Passed: no failure label.</p>`;
  const support = c.support ? `<p>Support: ${pct(c.support.ratio)} of the answer backed by its sources${c.support.unsupportedSentences.length ? `; unsupported: ${esc(c.support.unsupportedSentences.join(" | "))}` : ""}</p>` : "";
  return `<section class="result" data-variant="${esc(c.variant)}"><h2>${esc(c.variant)}${c.repeat ? ` · repeat ${c.repeat + 1}` : ""} — ${verdict(c)}</h2>
${label}
<h3>Answer</h3><pre class="answer">${esc(c.output)}</pre>${c.abstained ? `<p class="muted">(abstained)</p>` : ""}${c.label !== undefined ? `<p>label: <code>${esc(c.label)}</code></p>` : ""}
${c.citations.length ? `<p class="muted">cites ${c.citations.map((ci) => esc(JSON.stringify(ci))).join(", ")}</p>` : ""}${support}
<h3>Retrieved chunks</h3>${chunks}
<h3>Scorers</h3><table class="scores"><thead><tr><th>scorer</th><th>verdict</th><th>value</th><th>detail</th></tr></thead><tbody>${[...scores, ...judges].join("")}</tbody></table>
<h3>Cost</h3><p class="usage">tokens in ${c.usage.inputTokens} / out ${c.usage.outputTokens} · context ${c.contextTokens} tokens${c.truncated ? " (truncated)" : ""} · latency ${c.latencyMs.toFixed(1)} ms · cost $${c.costUsd.toFixed(6)} (at reference model $${c.projectedCostUsd.toFixed(6)})${c.judgeCostUsd ? ` · judging $${c.judgeCostUsd.toFixed(6)}` : ""}${c.cached ? " · served from cache" : ""} · generator ${esc(c.generator)}</p>
<h3>Prompt</h3><p class="muted prompt">Not recorded: runs keep the context the generator saw (${esc(c.contextPaths.join(", ") || "no documents")}, ${c.contextTokens} tokens), not the prompt text.</p>
</section>`;
}

export function casePage(run: LoadedRun, caseId: string, results: CaseResult[], variant?: string): string {
  const first = results[0];
  const shown = variant ? results.filter((r) => r.variant === variant) : results;
  const variants = [...new Set(results.map((r) => r.variant))];
  const base = `${runHref(run.id)}/cases/${u(caseId)}`;
  const links = `<div class="filters" id="filter-variant"><strong>variant:</strong> <a class="${variant ? "" : "on"}" href="${esc(base)}">all</a>${variants.map((v) => `<a class="${v === variant ? "on" : ""}" href="${esc(base + query({ variant: v }))}">${esc(v)}</a>`).join("")}</div>`;
  const none = shown.length === 0 ? `<p class="fail">This case has no result for variant ${esc(variant)}; it ran with ${esc(variants.join(", "))}.</p>` : "";
  return layout(
    `${caseId} · ${run.id}`,
    `<h1>Case <code>${esc(caseId)}</code></h1><p class="muted">run <a href="${esc(runHref(run.id))}">${esc(run.id)}</a> · task ${esc(first.task)}${first.tags.length ? ` · tags ${esc(first.tags.join(", "))}` : ""} · <a href="${esc(`${runHref(run.id)}/cases`)}">all cases</a></p>
<h3>Input</h3><pre id="case-input">${esc(first.input)}</pre>
${links}${none}${shown.map(resultSection).join("\n")}`,
  );
}

export function comparePage(c: Comparison, labels: { a: string; b: string; runId?: string }): string {
  const m = c.mcnemar;
  const significant = m.pValue < c.alpha;
  const counts = TRANSITIONS.map((t) => `<tr data-transition="${esc(t)}"><td>${esc(t)}</td><td class="count">${c.counts[t]}</td></tr>`).join("");
  const link = (r: CaseResult[]) => (labels.runId ? `<a href="${esc(caseHref(labels.runId, r[0]))}">${esc(r[0].caseId)}</a>` : esc(r[0].caseId));
  const caseLink = (p: Comparison["pairs"][number], side: "a" | "b") => {
    const r = p[side][0];
    return `<a href="${esc(caseHref(r.runId, r))}">${verdict(r)}</a>`;
  };
  const rows = c.pairs.map((p) => `<tr data-transition="${esc(p.transition)}"><td>${link(p.a)}</td><td>${esc(p.transition)}</td><td>${caseLink(p, "a")}</td><td>${caseLink(p, "b")}</td></tr>`);
  const unpaired = [
    c.onlyA.length ? `<p class="muted">Only in ${esc(labels.a)} (not paired): ${esc(c.onlyA.join(", "))}</p>` : "",
    c.onlyB.length ? `<p class="muted">Only in ${esc(labels.b)} (not paired): ${esc(c.onlyB.join(", "))}</p>` : "",
  ].join("");
  return `<section class="comparison"><h2>${esc(c.title)}</h2>
<table class="counts" style="width:auto"><tbody>${counts}</tbody></table>
<p class="mcnemar">Exact McNemar on ${m.n} paired cases: ${m.onlyB} fixed vs ${m.onlyA} broken, p = ${m.pValue.toFixed(4)} — ${significant ? `<strong>significant</strong> at α = ${c.alpha}` : `not significant at α = ${c.alpha}: the difference may be chance`}.</p>
${unpaired}
<table class="pairs"><thead><tr><th>case</th><th>change</th><th>${esc(labels.a)}</th><th>${esc(labels.b)}</th></tr></thead><tbody>${rows.join("\n")}</tbody></table></section>`;
}

export function comparePickerPage(action: string, name: string, options: string[], a?: string, b?: string, note = ""): string {
  const select = (key: "a" | "b", cur?: string) =>
    `<label>${key} <select name="${key}">${options.map((o) => `<option value="${esc(o)}"${o === cur ? " selected" : ""}>${esc(o)}</option>`).join("")}</select></label>`;
  return `<form method="get" action="${esc(action)}" id="compare-form">${select("a", a)} → ${select("b", b ?? options[1])} <button type="submit">compare ${esc(name)}</button></form>${note ? `<p class="muted">${esc(note)}</p>` : ""}`;
}

/** A small line chart of pass rates (0–100%) over runs, one line per variant. */
function historyChart(h: SuiteHistory): string {
  const W = 560, H = 180, L = 40, R = 110, T = 10, B = 24;
  const n = h.points.length;
  const x = (i: number) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const colours = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"];
  const grid = [0, 0.5, 1].map((v) => `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 4}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v * 100}%</text>`).join("");
  const lines = h.variants.map((v, vi) => {
    const pts = h.points.map((p, i) => (p.passRates[v] === undefined ? null : `${x(i).toFixed(1)},${y(p.passRates[v]).toFixed(1)}`)).filter(Boolean);
    const c = colours[vi % colours.length];
    const dots = pts.map((p) => `<circle cx="${p!.split(",")[0]}" cy="${p!.split(",")[1]}" r="3" fill="${c}"/>`).join("");
    return `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(" ")}"/>${dots}<text x="${W - R + 8}" y="${T + 14 * (vi + 1)}" font-size="11" fill="${c}">${esc(v)}</text>`;
  });
  return `<svg class="history-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="pass rate per variant across runs">${grid}${lines.join("")}</svg>`;
}

export function historyPage(histories: SuiteHistory[]): string {
  if (histories.length === 0) return layout("history", `<h1>History</h1><p>No finished runs yet.</p>`);
  const sections = histories.map((h) => {
    const head = h.variants.map((v) => `<th>${esc(v)}</th>`).join("");
    const rows = h.points.map((p) => `<tr><td><a href="${esc(runHref(p.runId))}">${esc(p.runId)}</a></td><td>${esc(p.createdAt)}</td>${h.variants.map((v) => `<td>${p.passRates[v] === undefined ? "–" : pct(p.passRates[v])}</td>`).join("")}</tr>`);
    return `<section class="suite"><h2>Suite <code>${esc(h.suite)}</code></h2>${historyChart(h)}<table><thead><tr><th>run</th><th>date</th>${head}</tr></thead><tbody>${rows.join("")}</tbody></table></section>`;
  });
  return layout("history", `<h1>History</h1><p class="muted">Each suite's pass rate per variant across its finished runs, oldest first.</p>${sections.join("\n")}`);
}
