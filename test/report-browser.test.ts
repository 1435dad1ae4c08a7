/**
 * report.html in a real browser: Debian's chromium driven by playwright-core, the file opened from
 * file:// with every network request refused. Skips (with the reason) where chromium is absent;
 * .ci/run installs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { launchChromium, skipWithoutChromium, watchProblems } from "./helpers/browser.ts";
import { failedCaseRows, renderHtml } from "../src/report/index.ts";
import { fixtureReport } from "./helpers/report-fixture.ts";

const skip = skipWithoutChromium;

test("report.html loads offline in chromium: nothing fetched, charts drawn, filters hide and show rows", { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-browser-"));
  const browser = await launchChromium();
  try {
    const { report, cases } = fixtureReport();
    const file = join(dir, "report.html");
    writeFileSync(file, await renderHtml({ report, rows: failedCaseRows(cases, report.variants.map((v) => v.name)) }));
    const url = pathToFileURL(file).href;

    const context = await browser.newContext({ offline: true });
    const attempted: string[] = [];
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      attempted.push(u);
      return route.abort();
    });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    const problems = watchProblems(page);
    await page.goto(url, { waitUntil: "load" });

    assert.deepEqual(attempted, [], "requests beyond the file");
    assert.deepEqual(requests.filter((r) => r !== url), [], "requests beyond the file");
    assert.deepEqual(problems, []);

    // Charts: every figure holds an SVG laid out at a real size.
    const sizes = await page.$$eval("figure.chart", (figs) =>
      figs.map((f) => {
        const svg = f.querySelector("svg");
        const box = svg?.getBoundingClientRect();
        return { id: f.id, w: box?.width ?? 0, h: box?.height ?? 0, marks: svg?.querySelectorAll("path, rect, line").length ?? 0 };
      }),
    );
    assert.equal(sizes.length, 6, JSON.stringify(sizes));
    for (const s of sizes) assert.ok(s.w > 50 && s.h > 50 && s.marks > 0, JSON.stringify(s));

    // Filters.
    const visible = () => page.locator("#failed-cases tbody tr:visible").count();
    const shown = () => page.locator("#shown-count").textContent();
    const failed = cases.filter((c) => !c.passed);
    assert.equal(await visible(), failed.length);

    await page.selectOption("#filter-variant", "prompt-only");
    const promptOnly = failed.filter((c) => c.variant === "prompt-only").length;
    assert.equal(await visible(), promptOnly);
    assert.equal(await shown(), String(promptOnly));
    const variantsShown = await page.$$eval("#failed-cases tbody tr:not([hidden])", (rows) => [...new Set(rows.map((r) => r.getAttribute("data-variant")))]);
    assert.deepEqual(variantsShown, ["prompt-only"]);

    await page.selectOption("#filter-cause", "missing_knowledge");
    const both = failed.filter((c) => c.variant === "prompt-only" && c.failure!.cause === "missing_knowledge").length;
    assert.ok(both > 0 && both < promptOnly);
    assert.equal(await visible(), both);

    await page.selectOption("#filter-variant", "");
    assert.equal(await visible(), failed.filter((c) => c.failure!.cause === "missing_knowledge").length);

    await page.selectOption("#filter-cause", "");
    assert.equal(await visible(), failed.length);
    assert.equal(await shown(), String(failed.length));

    // Hostile text is shown as text: the first input cell reads back exactly.
    const firstInput = await page.locator("#failed-cases tbody tr").first().locator("td").nth(2).innerText();
    assert.ok(firstInput.includes(`</script><script>alert("x")</script>`), firstInput);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
