/**
 * What a /metrics scrape costs with a big request log: the monitor gauges are computed at scrape
 * time by `windowStats` over the rolling window the server holds in memory (src/serve/metrics.ts,
 * monitor-window.ts), so the scrape time grows with the rows in the window, up to the bound
 * (MONITOR_MAX_ROWS, the newest rows). The window is filled from the log once, when the app starts:
 * that is timed too, and so is reading the window back from SQLite (what a scrape would cost
 * without the in-memory window).
 *
 *   node --import tsx bench/metrics-scrape.ts [--rows 500000] [--in-window 0.5] [--scrapes 10]
 *
 * Fills a request log with `--rows` synthetic rows (`--in-window` share of them inside the
 * 60-minute window, the rest older), then scrapes /metrics with the cache off and prints the
 * scrape times; writes bench/results/metrics-scrape.json.
 */
import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp } from "../src/serve/index.ts";
import { RequestLog } from "../src/serve/log.ts";
import { MONITOR_MAX_ROWS } from "../src/serve/metrics.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench/results/metrics-scrape.json");
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const rows = Math.round(option("--rows", 500_000));
const inWindow = Math.min(1, option("--in-window", 0.5));
const scrapes = Math.round(option("--scrapes", 10));
const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-metrics-scrape-"));
  cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true });
  const project = openProject(loadConfig(join(dir, "ragtune.yaml")));
  await reindexProject(project);
  const file = join(dir, ".ragtune", "requests.db");
  const log = new RequestLog(file);
  const now = Date.now();
  const fillStart = performance.now();
  const db = (log as unknown as { db: { transaction(f: () => void): () => void } }).db;
  const retrieved = Array.from({ length: 5 }, (_, i) => ({ id: `chunk-${i}`, score: 10 - i }));
  const answer = "Deleted cards stay in the trash for 60 days before they are permanently deleted. [1]";
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const recent = i < rows * inWindow;
      const at = recent ? now - Math.random() * 59 * 60_000 : now - 61 * 60_000 - Math.random() * 30 * 86_400_000;
      log.record({
        id: `r${i}`,
        time: new Date(at).toISOString(),
        route: "/v1/ask",
        status: i % 500 === 0 ? 500 : 200,
        query: "How long do deleted cards stay in the trash?",
        retrieved,
        answer,
        confidence: 0.8,
        fallback: i % 7 === 0,
        support: i % 11 === 0 ? 0.5 : 1,
        latencyMs: 5 + (i % 30),
        inputTokens: 120,
        outputTokens: 30,
        costUsd: 0,
        model: "offline:extractive",
        indexGeneration: 1,
        indexFingerprint: "fp",
        traffic: i % 10 === 0 ? "eval" : "live",
        citations: i % 7 === 0 ? 0 : 1,
        staleCitation: i % 13 === 0,
      });
    }
  })();
  const fillSeconds = (performance.now() - fillStart) / 1000;
  log.close();

  const sqlStart = performance.now();
  const reread = new RequestLog(file);
  reread.monitored(new Date(now - 3_600_000).toISOString(), new Date(now + 1000).toISOString(), { limit: MONITOR_MAX_ROWS });
  reread.close();
  const sqlReadMs = performance.now() - sqlStart;
  const startAt = performance.now();
  const app = createServeApp({ project, requestLogFile: file, monitorCacheMs: 0, logError: (m) => console.error(m) });
  const startMs = performance.now() - startAt;
  const times: number[] = [];
  let text = "";
  for (let i = 0; i < scrapes; i++) {
    const t = performance.now();
    text = await (await app.request("/metrics", { headers: { host: "127.0.0.1" } })).text();
    times.push(performance.now() - t);
  }
  const cached = createServeApp({ project, requestLogFile: file, logError: (m) => console.error(m) });
  await cached.request("/metrics", { headers: { host: "127.0.0.1" } });
  const ct = performance.now();
  for (let i = 0; i < scrapes; i++) await cached.request("/metrics", { headers: { host: "127.0.0.1" } });
  const cachedMs = (performance.now() - ct) / scrapes;
  const gauge = (name: string) => Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1]);
  times.sort((a, b) => a - b);
  const results = {
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverage1m: round(loadavg()[0]) },
    command: `node --import tsx bench/metrics-scrape.ts --rows ${rows} --in-window ${inWindow} --scrapes ${scrapes}`,
    rows,
    rowsInWindow: Math.round(rows * inWindow),
    maxRowsInWindow: MONITOR_MAX_ROWS,
    appStartWithSeedMs: round(startMs),
    sqliteReadOfWindowMs: round(sqlReadMs),
    fillSeconds: round(fillSeconds),
    scrapeMs: { min: round(times[0]), p50: round(times[Math.floor(times.length / 2)]), max: round(times[times.length - 1]) },
    cachedScrapeMs: round(cachedMs),
    gauges: { requests: gauge("ragtune_monitor_requests"), truncated: gauge("ragtune_monitor_window_truncated"), fallbackRate: gauge("ragtune_monitor_fallback_rate") },
  };
  console.log(`metrics-scrape: ${rows} rows, ${results.rowsInWindow} in the 60-minute window (live ${results.gauges.requests} read, truncated ${results.gauges.truncated}); filled in ${results.fillSeconds} s`);
  console.log(`  app start (fills the window from the log once): ${results.appStartWithSeedMs} ms; reading the window from SQLite, for comparison: ${results.sqliteReadOfWindowMs} ms`);
  console.log(`  uncached scrape: min ${results.scrapeMs.min} ms, p50 ${results.scrapeMs.p50} ms, max ${results.scrapeMs.max} ms; cached (2 s): ${results.cachedScrapeMs} ms`);
  app.close();
  cached.close();
  project.close();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(`${RESULTS}.tmp`, JSON.stringify(results, null, 2) + "\n");
  renameSync(`${RESULTS}.tmp`, RESULTS);
  console.log(`wrote ${RESULTS}`);
}

await main();
