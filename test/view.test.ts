/**
 * The viewer's routes, through the hono app's fetch (no socket), over two real runs of a tiny
 * project. Expected values are computed from the run files themselves (cases.jsonl, summary.json).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { loadConfig } from "../src/config/index.ts";
import { readCaseResults, readSummary } from "../src/evaluate/runs.ts";
import { mcnemarExact } from "../src/evaluate/significance.ts";
import type { CaseResult } from "../src/evaluate/types.ts";
import { createViewApp, isLoopback } from "../src/view/server.ts";
import { HOSTILE, makeViewProject } from "./helpers/view-project.ts";

let root: string;
let runs: string[];
let app: Hono;
let first: CaseResult[];

before(async () => {
  ({ root, runs } = await makeViewProject());
  const loaded = loadConfig(join(root, "ragtune.yaml"));
  app = createViewApp({ root: loaded.root, config: loaded.config });
  first = readCaseResults(join(root, "runs", runs[0]));
});

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: string; csp: string | null }> {
  const r = await app.request(path, init);
  return { status: r.status, body: await r.text(), csp: r.headers.get("content-security-policy") };
}

const attr = (body: string, name: string) => [...body.matchAll(new RegExp(`${name}="([^"]*)"`, "g"))].map((m) => m[1]);
const noStack = (body: string) => assert.ok(!/at .*\.ts:\d+|node:internal/.test(body), "a stack trace in the page");

test("/ lists every run newest first with its suite, generator and pass rate per variant", async () => {
  const { status, body, csp } = await get("/");
  assert.equal(status, 200);
  assert.match(csp ?? "", /default-src 'none'/);
  assert.deepEqual(attr(body, "data-run"), [...runs].reverse());
  for (const id of runs) {
    const s = readSummary(join(root, "runs", id));
    const row = body.slice(body.indexOf(`data-run="${id}"`)).split("</tr>")[0];
    assert.ok(row.includes(s.generator) && row.includes("suite.yaml"), row);
    for (const v of s.variants) assert.ok(row.includes(`${v.name} <strong>${(v.passRate * 100).toFixed(v.passRate === 0 || v.passRate === 1 ? 0 : 1)}%`), `${v.name} in ${row}`);
  }
});

test("/runs/:id serves the run's report rendered live, with links to its cases", async () => {
  const { status, body } = await get(`/runs/${runs[0]}`);
  assert.equal(status, 200);
  assert.match(body, /<h1>ragtune report: tiny<\/h1>/);
  assert.ok(body.includes(`run ${runs[0]}`));
  assert.ok(body.includes(`href="/runs/${runs[0]}/cases"`));
  assert.ok(body.includes('id="failed-cases"'));
});

test("an unknown run id is a 404 page with a did-you-mean link, never a stack trace", async () => {
  const typo = runs[0].slice(0, -1) + (runs[0].endsWith("x") ? "y" : "x");
  for (const path of [`/runs/${typo}`, `/runs/${typo}/cases`, `/runs/${typo}/cases/trash`, `/compare?a=${typo}&b=${runs[1]}`]) {
    const { status, body } = await get(path);
    assert.equal(status, 404, path);
    assert.ok(body.includes(`no run &#39;${typo}&#39;`), path);
    assert.ok(body.includes(`href="/runs/${runs[0]}"`), `${path}: did-you-mean link`);
    noStack(body);
  }
  // A path outside runs/ is not a run either.
  assert.equal((await get(`/runs/${encodeURIComponent("../ragtune.yaml")}`)).status, 404);
  assert.equal((await get("/no/such/page")).status, 404);
});

test("/runs/:id/cases filters by variant, cause, tag and task, and its links carry the filters", async () => {
  const all = await get(`/runs/${runs[0]}/cases`);
  assert.equal(attr(all.body, "data-variant").length, first.length);
  const checks: [string, (c: CaseResult) => boolean][] = [
    ["variant=rag", (c) => c.variant === "rag"],
    ["cause=missing_knowledge", (c) => c.failure?.cause === "missing_knowledge"],
    ["cause=passed", (c) => c.passed],
    ["tag=billing", (c) => c.tags.includes("billing")],
    ["task=classify", (c) => c.task === "classify"],
    ["variant=prompt-only&cause=missing_knowledge", (c) => c.variant === "prompt-only" && c.failure?.cause === "missing_knowledge"],
  ];
  for (const [q, keep] of checks) {
    const { status, body } = await get(`/runs/${runs[0]}/cases?${q}`);
    assert.equal(status, 200);
    const want = first.filter(keep);
    assert.ok(want.length > 0 && want.length < first.length, `${q} should narrow the list`);
    assert.equal(attr(body, "data-variant").length, want.length, q);
    assert.ok(body.includes(`<span id="shown-count">${want.length}</span>`), q);
  }
  // The cause links keep the chosen variant.
  const { body } = await get(`/runs/${runs[0]}/cases?variant=rag`);
  assert.ok(body.includes(`href="/runs/${runs[0]}/cases?variant=rag&amp;cause=missing_knowledge"`), "cause link keeps variant=rag");
});

test("/runs/:id/cases/:caseId shows chunks with scores, answer, every scorer, the label's evidence, tokens, latency, cost", async () => {
  const failing = first.find((c) => !c.passed)!;
  const { status, body } = await get(`/runs/${runs[0]}/cases/${failing.caseId}?variant=${failing.variant}`);
  assert.equal(status, 200);
  assert.equal(attr(body, "data-variant").length, 1);
  assert.ok(body.includes(`<code class="fail">${failing.failure!.cause}</code>`));
  assert.ok(body.includes(failing.failure!.signal));
  for (const s of failing.scores) assert.ok(body.includes(`<code>${s.name}</code>`), s.name);
  assert.ok(body.includes(`tokens in ${failing.usage.inputTokens} / out ${failing.usage.outputTokens}`));
  assert.ok(body.includes(`latency ${failing.latencyMs.toFixed(1)} ms`));
  assert.ok(body.includes(`cost $${failing.costUsd.toFixed(6)}`));
  assert.match(body, /Prompt<\/h3><p class="muted prompt">Not recorded/);

  const rag = first.find((c) => c.variant === "rag" && c.retrieved.length > 0)!;
  const page = (await get(`/runs/${runs[0]}/cases/${rag.caseId}`)).body;
  assert.equal(attr(page, "data-variant").length, first.filter((c) => c.caseId === rag.caseId).length, "no variant = every variant");
  for (const r of rag.retrieved) assert.ok(page.includes(`<code>${r.path}</code>`) && page.includes(`score <strong>${r.score.toFixed(3)}</strong>`), r.id);

  const missing = await get(`/runs/${runs[0]}/cases/trsh`);
  assert.equal(missing.status, 404);
  assert.ok(missing.body.includes(`href="/runs/${runs[0]}/cases/trash"`), "did-you-mean the case");
  noStack(missing.body);
});

test("/runs/:id/compare pairs two variants case by case, with counts and the exact McNemar test", async () => {
  const { status, body } = await get(`/runs/${runs[0]}/compare?a=prompt-only&b=rag`);
  assert.equal(status, 200);
  const a = new Map(first.filter((c) => c.variant === "prompt-only").map((c) => [c.caseId, c.passed]));
  const b = new Map(first.filter((c) => c.variant === "rag").map((c) => [c.caseId, c.passed]));
  const pairs = [...a].filter(([id]) => b.has(id)).map(([id, pa]) => ({ a: pa, b: b.get(id)! }));
  const fixed = pairs.filter((p) => !p.a && p.b).length;
  assert.ok(fixed > 0, "the fixture has cases rag fixes");
  const count = (t: string) => Number(body.match(new RegExp(`<tr data-transition="${t}"><td>${t}</td><td class="count">(\\d+)</td>`))![1]);
  assert.equal(count("fixed"), fixed);
  assert.equal(count("broken"), pairs.filter((p) => p.a && !p.b).length);
  assert.equal(count("still failing"), pairs.filter((p) => !p.a && !p.b).length);
  assert.equal(count("still passing"), pairs.filter((p) => p.a && p.b).length);
  const m = mcnemarExact(pairs);
  assert.ok(body.includes(`Exact McNemar on ${pairs.length} paired cases: ${m.onlyB} fixed vs ${m.onlyA} broken, p = ${m.pValue.toFixed(4)}`));

  const bad = await get(`/runs/${runs[0]}/compare?a=prompt-only&b=ragg`);
  assert.equal(bad.status, 404);
  assert.ok(bad.body.includes("no variant &#39;ragg&#39;"));
});

test("/compare pairs two runs within each variant both ran; /history charts each suite's pass rates", async () => {
  const { status, body } = await get(`/compare?a=${runs[0]}&b=${runs[1]}`);
  assert.equal(status, 200);
  const second = readSummary(join(root, "runs", runs[1])).variants.map((v) => v.name);
  for (const v of second) assert.ok(body.includes(`<h2>${v}: ${runs[0]} → ${runs[1]}</h2>`), v);
  assert.ok(!body.includes("<h2>long-context:"), "a variant only one run ran is not compared");

  const h = await get("/history");
  assert.equal(h.status, 200);
  assert.equal((h.body.match(/<section class="suite">/g) ?? []).length, 1);
  assert.equal((h.body.match(/<polyline /g) ?? []).length, readSummary(join(root, "runs", runs[0])).variants.length);
  for (const id of runs) assert.ok(h.body.includes(`href="/runs/${id}"`));
});

test("run text is escaped on every page; the viewer is read-only and answers localhost only", async () => {
  const hostile = first.find((c) => c.caseId === "hostile-input")!;
  assert.equal(hostile.input, HOSTILE);
  for (const path of [`/runs/${runs[0]}/cases`, `/runs/${runs[0]}/cases/hostile-input`, `/runs/${runs[0]}`]) {
    const { body } = await get(path);
    assert.ok(!body.includes("<img src=x") && !body.includes('<script>alert("x")'), `${path}: raw markup`);
    assert.ok(body.includes("&lt;img src=x onerror="), `${path}: escaped text`);
  }
  assert.equal((await get("/", { method: "POST" })).status, 400);
  assert.equal((await get("/", { method: "DELETE" })).status, 400);
  assert.equal((await get("/", { headers: { host: "evil.example:4173" } })).status, 400);
  assert.equal((await get("/", { headers: { host: "127.0.0.1:4173" } })).status, 200);
  assert.equal((await get("/", { headers: { host: "[::1]:4173" } })).status, 200);
  assert.ok(isLoopback("127.0.0.1") && isLoopback("::1") && !isLoopback("0.0.0.0") && !isLoopback("192.168.1.2"));
});

test("an unreadable or unfinished run is listed with the problem and its pages say what is wrong", async () => {
  const copy = mkdtempSync(join(tmpdir(), "ragtune-view-bad-"));
  cpSync(root, copy, { recursive: true });
  writeFileSync(join(copy, "runs", runs[0], "summary.json"), "{ torn");
  writeFileSync(join(copy, "runs", runs[1], "summary.json"), "");
  const loaded = loadConfig(join(copy, "ragtune.yaml"));
  const bad = createViewApp({ root: loaded.root, config: loaded.config });
  const list = await bad.request("/");
  assert.equal(list.status, 200);
  const listBody = await list.text();
  assert.equal((listBody.match(/unreadable: /g) ?? []).length, 2);
  const page = await bad.request(`/runs/${runs[0]}`);
  assert.equal(page.status, 500);
  const text = await page.text();
  assert.match(text, /<p id="error">.*JSON/);
  noStack(text);
  // The case list still opens from cases.jsonl.
  assert.equal((await bad.request(`/runs/${runs[0]}/cases`)).status, 200);
  // A run without summary.json (still running, or interrupted) says so and how to resume.
  rmSync(join(copy, "runs", runs[1], "summary.json"));
  const unfinished = await bad.request(`/runs/${runs[1]}`);
  assert.equal(unfinished.status, 200);
  assert.match(await unfinished.text(), /has not finished.*ragtune eval --resume/);
  assert.match(await (await bad.request("/")).text(), /incomplete \(no summary yet\)/);
  rmSync(copy, { recursive: true, force: true });
});
