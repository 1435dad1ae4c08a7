import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { esc, expectedOf, failedCaseRows, loadCaseContext, renderHtml, writeHtmlReport, type ReportJson } from "../src/report/index.ts";
import { HOSTILE, fixtureReport } from "./helpers/report-fixture.ts";

async function render(report: ReportJson, cases = fixtureReport().cases): Promise<string> {
  return renderHtml({ report, rows: failedCaseRows(cases, report.variants.map((v) => v.name)) });
}

/** Every reference that would make a browser fetch something. */
function remoteReferences(html: string): string[] {
  const patterns = [
    /<script\b[^>]*\bsrc\s*=/gi,
    /<link\b[^>]*>/gi,
    /@import\b/gi,
    /url\(\s*['"]?\s*(?:https?:)?\/\//gi,
    /<(?:img|iframe|embed|object|source|video|audio)\b[^>]*>/gi,
    /\s(?:src|href|srcset|action|data|poster)\s*=\s*['"]?\s*(?:https?:)?\/\//gi,
  ];
  return patterns.flatMap((p) => html.match(p) ?? []);
}

function charts(html: string): { id: string; width: number; height: number }[] {
  return [...html.matchAll(/<figure id="chart-([a-z-]+)" class="chart">.*?<svg\b([^>]*)>/gs)].map((m) => ({
    id: m[1],
    width: Number(/\swidth="([\d.]+)"/.exec(m[2])?.[1] ?? 0),
    height: Number(/\sheight="([\d.]+)"/.exec(m[2])?.[1] ?? 0),
  }));
}

test("report.html references nothing outside the file", async () => {
  const { report } = fixtureReport();
  const html = await render(report);
  assert.deepEqual(remoteReferences(html), []);
  // The only URLs left are SVG namespace names, which no browser fetches.
  const urls = html.replace(/\sxmlns(?::\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, "").match(/https?:\/\/[^\s"'<>]*/g) ?? [];
  assert.deepEqual(urls, []);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;/);
  // The check itself finds what it looks for.
  for (const bad of [`<script src="https://cdn.example/x.js"></script>`, `<link rel=stylesheet href=//x>`, `<style>@import "a.css"</style>`, `<div style="background:url(https://x/y.png)">`]) {
    assert.ok(remoteReferences(bad).length > 0, bad);
  }
});

test("report.html draws every chart the data supports as an SVG with a size", async () => {
  const { report } = fixtureReport();
  const html = await render(report);
  const drawn = charts(html);
  assert.deepEqual(drawn.map((c) => c.id), ["failure-causes", "pass-rates", "comparisons", "latency", "retrieval", "cost"]);
  for (const c of drawn) assert.ok(c.width > 0 && c.height > 0, `${c.id}: ${c.width}×${c.height}`);
  assert.equal((html.match(/<svg\b/g) ?? []).length, drawn.length);
  assert.doesNotMatch(html, /id="charts-skipped"/);
  // The recommendation comes before the charts, the charts before the cases.
  const at = (s: string) => html.indexOf(s);
  assert.ok(at('id="recommendation"') < at('id="charts"') && at('id="charts"') < at('id="failed-cases"'));
  assert.ok(html.includes(esc(report.recommendation.rationale[0])));
  // The declared p95 target is drawn and named.
  assert.match(html, /declared p95 target \(400 ms\)/);
});

test("charts the report cannot support are skipped with the reason, not drawn from invented numbers", async () => {
  const { report, cases } = fixtureReport();
  const bare: ReportJson = {
    ...report,
    comparisons: [],
    variants: report.variants.map(({ ci: _ci, ...v }) => ({ ...v, retrieval: null })),
    // A report file written before decide/cost.ts recorded fixed costs.
    costs: report.costs.map(({ fixedMonthlyUsd: _f, ...c }) => c) as unknown as ReportJson["costs"],
  };
  const html = await render(bare, cases);
  assert.deepEqual(charts(html).map((c) => c.id), ["failure-causes", "pass-rates", "latency"]);
  const note = /<p class="note" id="charts-skipped">(.*?)<\/p>/s.exec(html)?.[1] ?? "";
  assert.match(note, /Paired comparisons \(the run has no paired comparisons/);
  assert.match(note, /Retrieval quality .*no variant retrieved chunks/);
  assert.match(note, /Cost per month vs queries\/day \(the report&#39;s costs do not record fixed monthly costs/);
  assert.match(html, /computed no bootstrap intervals, so no whiskers are drawn/);
});

test("hostile case text is escaped everywhere it appears", async () => {
  const { report, cases } = fixtureReport();
  const html = await render(report, cases);
  assert.ok(!html.includes(HOSTILE), "raw hostile text in the page");
  assert.equal((html.match(/<script\b/gi) ?? []).length, 1, "only the filter script");
  assert.equal((html.match(/<\/script/gi) ?? []).length, 1);
  assert.doesNotMatch(html, /<img\b/i);
  assert.doesNotMatch(html, /<[a-z][^>]*\sonerror\s*=/i);
  assert.doesNotMatch(html, /<!--/);
  // Input, answer, evidence, tags, heading and project name all arrive as text.
  const escaped = esc(HOSTILE);
  for (const where of [`Question 1: ${escaped}`, `Wrong ${escaped}`, `saw ${escaped}`, `tag ${escaped}`, `Section ${escaped}`, `acme ${escaped}`]) {
    assert.ok(html.includes(where), `missing escaped: ${where.slice(0, 40)}`);
  }
  assert.equal(esc(`<a href="x" title='y'>&</a>`), "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
});

test("the failed-case table has one row per failed case, tagged for the filters", async () => {
  const { report, cases } = fixtureReport();
  const html = await render(report, cases);
  const rows = [...html.matchAll(/<tr data-variant="([^"]*)" data-cause="([^"]*)">/g)].map((m) => `${m[1]}/${m[2]}`);
  const failed = cases.filter((c) => !c.passed).map((c) => `${c.variant}/${c.failure!.cause}`);
  assert.deepEqual(rows.sort(), failed.sort());
  assert.match(html, /<span id="shown-count">13<\/span> of 13 failed cases shown/);
  // Filter options list only what occurs.
  const causeOptions = [...(/<select id="filter-cause">(.*?)<\/select>/s.exec(html)?.[1] ?? "").matchAll(/value="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(causeOptions, ["", "missing_knowledge", "stale_knowledge", "wrong_retrieval", "hallucination", "bad_format", "weak_reasoning"]);
  // A cited chunk shows path › heading, lines; an uncited one without an index shows its path only.
  assert.ok(html.includes(`<code>docs/a0.md</code> › Guide › Section ${esc(HOSTILE)}, lines 3–9`));
  assert.match(html, /<code>docs\/b0\.md<\/code> <span class="muted">score 0\.400<\/span>/);
  assert.match(html, /<span class="muted">not recorded<\/span>/);
});

test("expected answers come from the run's suite only while it is unchanged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-html-"));
  try {
    const { report, cases } = fixtureReport();
    const suitePath = join(dir, "suite.yaml");
    const suite = `cases:\n${report.variants[0] ? Array.from({ length: 12 }, (_, i) => `  - id: q${String(i + 1).padStart(2, "0")}\n    task: qa\n    input: "question ${i + 1}"\n    answer: ["sixty days & <b>"]\n`).join("") : ""}`;
    writeFileSync(suitePath, suite);
    const { fingerprint } = await import("../src/evaluate/runner.ts");
    const ids = Array.from({ length: 12 }, (_, i) => `q${String(i + 1).padStart(2, "0")}`);
    const snapshot = { runId: report.runId, createdAt: report.runCreatedAt, ragtuneVersion: "0", configPath: "", config: {}, suitePath, suiteHash: fingerprint(suite + JSON.stringify(ids)), corpusHash: "", generator: "offline:extractive", variants: [] };
    writeFileSync(join(dir, "config.json"), JSON.stringify(snapshot));
    const file = await writeHtmlReport(dir, report, cases);
    const html = readFileSync(file, "utf8");
    assert.ok(html.includes(esc(`answer "sixty days & <b>"`)));
    assert.match(html, /shown only where the answer cited them/);

    writeFileSync(suitePath, suite + "  - id: q13\n    task: qa\n    input: new\n    answer: [x]\n");
    const ctx = loadCaseContext(dir, undefined);
    assert.equal(ctx.expected, undefined);
    assert.ok(ctx.notes.some((n) => /changed since the run/.test(n)), ctx.notes.join(" | "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("expectedOf describes every kind of expectation", () => {
  const at = { file: "suite.yaml", line: 1 };
  assert.equal(expectedOf({ ...at, id: "a", task: "qa", input: "x", answer: ["60 days", "sixty days"] }), 'answer "60 days" or "sixty days"');
  assert.equal(expectedOf({ ...at, id: "b", task: "qa", input: "x", must_abstain: true }), "abstain (the documents do not answer it)");
  assert.equal(expectedOf({ ...at, id: "c", task: "classify", input: "x", label: "billing" }), 'label "billing"');
  assert.match(expectedOf({ ...at, id: "d", task: "extract", input: "x", expected_json: { plan: "pro" } }), /fields \{"plan":"pro"\}/);
});

test("report.html carries the rollout plan with its rollback paths", async () => {
  const { report } = fixtureReport();
  const html = await render(report);
  assert.ok(report.recommendation.rollout.length > 0, "every decision has a rollout plan");
  assert.match(html, /<h3 id="rollout">Rollout plan<\/h3>/);
  for (const s of report.recommendation.rollout) assert.ok(html.includes(esc(s.title)), s.title);
  assert.match(html, /undo \((?:config|retrieval|model|none)\):/);
});

test("report.html shows how each cost is made up, with every figure's source, and the sensitivity lines", async () => {
  const { report } = fixtureReport();
  const html = await render(report);
  const section = /<section id="costs">(.*?)<\/section>/s.exec(html)?.[1] ?? "";
  assert.ok(section, "cost breakdown section present");
  for (const c of report.costs) {
    assert.ok(section.includes(`<h3>${esc(c.variant)}`), c.variant);
    for (const i of c.items) assert.ok(section.includes(esc(i.formula)), i.formula);
  }
  const sources = new Set(report.costs.flatMap((c) => c.items.flatMap((i) => i.figures.map((f) => f.source))));
  assert.ok(sources.has("measured") && sources.has("declared"), [...sources].join(","));
  for (const s of sources) assert.match(section, new RegExp(`class="src src-${s}"`));
  for (const l of report.recommendation.sensitivity) assert.ok(html.includes(esc(l.text)), l.text);
});
