/**
 * `ragtune view` end to end in a real browser: the viewer listening on an ephemeral port on
 * 127.0.0.1, Debian's chromium driven by playwright-core clicking through run list → run report →
 * cases → a filter → a case → a comparison. Requests anywhere but the viewer are refused and
 * counted. Skips (with the reason) where chromium is absent; .ci/run installs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { launchChromium, skipWithoutChromium, watchProblems } from "./helpers/browser.ts";
import { loadConfig } from "../src/config/index.ts";
import { readCaseResults } from "../src/evaluate/runs.ts";
import { startView } from "../src/view/server.ts";
import { makeViewProject } from "./helpers/view-project.ts";

const skip = skipWithoutChromium;

test("ragtune view in chromium: run list → report → cases → filter → case → compare", { skip, timeout: 180_000 }, async () => {
  const { root, runs } = await makeViewProject();
  const loaded = loadConfig(join(root, "ragtune.yaml"));
  const view = await startView({ root: loaded.root, config: loaded.config }, { port: 0, host: "127.0.0.1" });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const elsewhere: string[] = [];
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith(view.url)) return route.continue();
      elsewhere.push(u);
      return route.abort();
    });
    const page = await context.newPage();
    const problems = watchProblems(page);

    // Run list, newest first.
    await page.goto(view.url);
    const listed = await page.$$eval("#runs tbody tr", (rows) => rows.map((r) => r.getAttribute("data-run")));
    assert.deepEqual(listed, [...runs].reverse());

    // Into the older run (all variants): the live report.
    await page.click(`a[href="/runs/${runs[0]}"]`);
    await page.waitForSelector("#recommendation");
    assert.match(await page.locator("h1").first().innerText(), /ragtune report: tiny/);
    assert.ok((await page.locator("figure.chart svg").count()) > 0, "charts drawn");

    // Its cases, then a filter.
    await page.click("#all-cases");
    await page.waitForSelector("#cases");
    const cases = readCaseResults(join(root, "runs", runs[0]));
    assert.equal(await page.locator("#cases tbody tr").count(), cases.length);
    await page.click('#filter-variant a[data-value="prompt-only"]');
    await page.waitForURL(/variant=prompt-only/);
    await page.click('#filter-cause a[data-value="missing_knowledge"]');
    await page.waitForURL(/cause=missing_knowledge/);
    const want = cases.filter((c) => c.variant === "prompt-only" && c.failure?.cause === "missing_knowledge");
    assert.ok(want.length > 0);
    assert.equal(await page.locator("#cases tbody tr").count(), want.length);
    assert.deepEqual(
      [...new Set(await page.$$eval("#cases tbody tr", (rows) => rows.map((r) => `${r.getAttribute("data-variant")}/${r.getAttribute("data-cause")}`)))],
      ["prompt-only/missing_knowledge"],
    );

    // One case: the label, its evidence, cost line.
    const one = want[0];
    await page.click(`#cases a[href*="/cases/${one.caseId}?"]`);
    await page.waitForSelector("section.result");
    assert.equal(await page.locator("#case-input").innerText(), one.input);
    assert.match(await page.locator("#failure-label").innerText(), /missing_knowledge/);
    assert.equal(await page.locator(".evidence").innerText(), one.failure!.evidence);
    assert.match(await page.locator(".usage").innerText(), /tokens in \d+ \/ out \d+ · context \d+ tokens · latency [\d.]+ ms · cost \$/);

    // The hostile case is shown as text.
    await page.goto(`${view.url}runs/${runs[0]}/cases/hostile-input`);
    assert.match(await page.locator("#case-input").innerText(), /<\/script><script>alert\("x"\)<\/script>/);

    // Compare two variants from the report's link, then two runs through the form.
    await page.goto(`${view.url}runs/${runs[0]}`);
    await page.click("#compare-variants");
    await page.waitForSelector(".mcnemar");
    const total = Number(await page.locator(".counts .count").evaluateAll((tds) => tds.reduce((s, td) => s + Number(td.textContent), 0)));
    assert.equal(total, new Set(cases.map((c) => c.caseId)).size);
    assert.match(await page.locator(".mcnemar").innerText(), /Exact McNemar on \d+ paired cases: \d+ fixed vs \d+ broken, p = [\d.]+/);

    await page.click('nav a[href="/compare"]');
    await page.selectOption('#compare-form select[name="a"]', runs[0]);
    await page.selectOption('#compare-form select[name="b"]', runs[1]);
    await page.click("#compare-form button");
    await page.waitForSelector(".mcnemar");
    assert.equal(await page.locator(".mcnemar").count(), 2, "rag and prompt-only, the variants both runs ran");
    assert.equal(await page.locator("section.comparison", { has: page.locator("h2", { hasText: /^rag: / }) }).locator('tr[data-transition="still passing"] .count').innerText(), String(new Set(cases.filter((c) => c.variant === "rag" && c.passed).map((c) => c.caseId)).size));

    // History chart and a 404 with its did-you-mean link.
    await page.click('nav a[href="/history"]');
    assert.ok((await page.locator("svg.history-chart polyline").count()) >= 2);
    assert.deepEqual(problems, []);
    const response = await page.goto(`${view.url}runs/${runs[0]}x`);
    assert.equal(response?.status(), 404);
    await page.click("#did-you-mean a");
    await page.waitForSelector("#recommendation");

    assert.deepEqual(elsewhere, [], "requests beyond the viewer");
    // The one 404 asked for is logged by chromium as a failed load; nothing else may be.
    assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  } finally {
    await browser.close();
    await view.close();
  }
});
