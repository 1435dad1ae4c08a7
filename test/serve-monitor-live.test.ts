/**
 * Eval-traffic tagging, citation / stale-citation monitors and the monitor gauges in /metrics,
 * driven through real requests to the app; plus the migration of a request log written by the
 * schema before the traffic and citation columns.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import Database from "better-sqlite3";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp, type ServeApp } from "../src/serve/index.ts";
import { RequestLog } from "../src/serve/log.ts";
import { documentKey, monitorReport, supersededDocuments, windowStats } from "../src/serve/monitor.ts";
import { NATURAL_VERSION_ORDER } from "../src/core/versions.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

async function served(extra = ""): Promise<{ root: string; project: Project; app: ServeApp }> {
  const root = makeTinyProject(extra);
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await reindexProject(project);
  const app = createServeApp({ project, logError: () => {}, monitorCacheMs: 0 });
  return { root, project, app };
}

const headers = (extra: Record<string, string> = {}) => ({ host: "127.0.0.1", "content-type": "application/json", ...extra });
const post = (app: ServeApp, path: string, body: unknown, extra: Record<string, string> = {}) =>
  app.request(path, { method: "POST", headers: headers(extra), body: JSON.stringify(body) });

/** The value of one sample line of /metrics (NaN stays NaN); undefined when the line is absent. */
async function scrape(app: ServeApp): Promise<(name: string) => number | undefined> {
  const text = await (await app.request("/metrics")).text();
  const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
  return (name) => {
    const line = lines.find((l) => l.slice(0, l.lastIndexOf(" ")) === name);
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
}

test("X-Ragtune-Traffic: eval and synthetic are logged as such, left out of the monitors unless asked; anything else is 422 naming the header", async () => {
  const { root, project, app } = await served();
  try {
    const live = (await (await post(app, "/v1/ask", { question: "How long do deleted cards stay in the trash?" })).json()) as { requestId: string };
    const evalRes = await post(app, "/v1/ask", { question: "What is the airspeed velocity of an unladen swallow?" }, { "X-Ragtune-Traffic": "eval" });
    assert.equal(evalRes.status, 200);
    const evalId = ((await evalRes.json()) as { requestId: string }).requestId;
    const synth = await post(app, "/v1/search", { query: "refund" }, { "x-ragtune-traffic": "Synthetic" });
    assert.equal(synth.status, 200);
    const synthId = synth.headers.get("x-request-id")!;
    const bad = await post(app, "/v1/ask", { question: "refund?" }, { "X-Ragtune-Traffic": "load-test" });
    assert.equal(bad.status, 422);
    const err = ((await bad.json()) as { error: { code: string; field: string; message: string } }).error;
    assert.equal(err.field, "X-Ragtune-Traffic");
    assert.match(err.message, /X-Ragtune-Traffic is 'load-test'; expected eval or synthetic/);
    const chatBad = await post(app, "/v1/chat/completions", { messages: [{ role: "user", content: "refund?" }] }, { "X-Ragtune-Traffic": "" });
    assert.equal(chatBad.status, 422);

    const log = app.requestLog!;
    assert.equal(log.get(live.requestId)!.traffic, "live");
    assert.equal(log.get(evalId)!.traffic, "eval");
    assert.equal(log.get(synthId)!.traffic, "synthetic");
    assert.equal(log.count(), 3, "the refused requests are not logged");

    // The counter carries the traffic label (a bad header is "invalid", so the label stays bounded).
    const m = await scrape(app);
    assert.equal(m('ragtune_http_requests_total{route="/v1/ask",status="200",traffic="eval"}'), 1);
    assert.equal(m('ragtune_http_requests_total{route="/v1/ask",status="200",traffic="live"}'), 1);
    assert.equal(m('ragtune_http_requests_total{route="/v1/search",status="200",traffic="synthetic"}'), 1);
    assert.equal(m('ragtune_http_requests_total{route="/v1/ask",status="422",traffic="invalid"}'), 1);
    // The /metrics monitors count live traffic only: the eval swallow question (a fallback) is not in them.
    assert.equal(m("ragtune_monitor_requests"), 1);
    assert.equal(m("ragtune_monitor_fallback_rate"), 0);

    const report = monitorReport((a, b) => log.monitored(a, b).rows, project, 86_400_000, project.config.serve.monitors);
    assert.equal(report.window.requests, 1);
    assert.equal(report.includesEval, false);
    const all = monitorReport((a, b) => log.monitored(a, b, { includeEval: true }).rows, project, 86_400_000, project.config.serve.monitors, new Date(), { includeEval: true });
    assert.equal(all.window.requests, 3);
    assert.equal(all.window.fallbackRate, 0.5);
    app.close();

    const cliLive = await runCli(["monitor", "--json"], root);
    assert.equal(cliLive.code, 0, cliLive.stderr);
    assert.equal(JSON.parse(cliLive.stdout).window.requests, 1);
    const cliAll = await runCli(["monitor", "--json", "--include-eval"], root);
    assert.equal(JSON.parse(cliAll.stdout).window.requests, 3);
    const text = await runCli(["monitor", "--include-eval"], root);
    assert.match(text.stdout, /eval \/ synthetic traffic included/);
  } finally {
    app.close();
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a request log written by the old schema is migrated on open: its rows count as live, new rows get traffic and citations", async () => {
  const root = makeTinyProject();
  try {
    const file = join(root, ".ragtune", "requests.db");
    mkdirSync(join(root, ".ragtune"), { recursive: true });
    // The schema of the first release, verbatim (no traffic / citations / stale_citation).
    const old = new Database(file);
    old.exec(`CREATE TABLE requests (id TEXT PRIMARY KEY, time TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL, query TEXT NOT NULL,
      retrieved TEXT NOT NULL, answer TEXT, confidence REAL, fallback INTEGER, support REAL, latency_ms REAL NOT NULL, input_tokens INTEGER NOT NULL,
      output_tokens INTEGER NOT NULL, cost_usd REAL, model TEXT NOT NULL, index_generation INTEGER NOT NULL, index_fingerprint TEXT NOT NULL, feedback TEXT);
      CREATE INDEX requests_time ON requests(time);`);
    const now = new Date().toISOString();
    const insert = old.prepare(
      "INSERT INTO requests VALUES (?, ?, '/v1/ask', 200, 'q', ?, 'a', 0.9, ?, 1, 12, 10, 5, 0, 'offline:extractive', 1, 'fp', ?)",
    );
    insert.run("old-1", now, '[{"id":"c1","score":3}]', 0, null);
    insert.run("old-2", now, "[]", 1, '{"thumbs":"down","at":"x"}');
    old.close();

    const log = new RequestLog(file);
    const cols = (new Database(file, { readonly: true }).prepare("PRAGMA table_info(requests)").all() as { name: string }[]).map((c) => c.name);
    for (const c of ["traffic", "citations", "stale_citation"]) assert.ok(cols.includes(c), `column ${c} added`);
    const o = log.get("old-1")!;
    assert.equal(o.traffic, "live");
    assert.equal(o.citations, null);
    const w = windowStats(log.monitored("2000", "2999").rows, "a", "b");
    assert.equal(w.requests, 2, "old rows count as live");
    assert.equal(w.fallbackRate, 0.5);
    assert.equal(w.retrievalMissRate, 0.5);
    assert.equal(w.correctionRate, 1);
    assert.equal(w.citationRate, null, "old rows did not record citations: no rate rather than a wrong one");
    log.close();
    // Opening again is a no-op (the columns exist), and the server writes new rows into the migrated file.
    const project = openProject(loadConfig(join(root, "ragtune.yaml")));
    try {
      await reindexProject(project);
      const app = createServeApp({ project, logError: () => {}, monitorCacheMs: 0 });
      const r = (await (await post(app, "/v1/ask", { question: "How long do deleted cards stay in the trash?" }, { "X-Ragtune-Traffic": "eval" })).json()) as { requestId: string };
      const row = app.requestLog!.get(r.requestId)!;
      assert.equal(row.traffic, "eval");
      assert.ok(row.citations! >= 1);
      assert.equal(app.requestLog!.count(), 3);
      app.close();
    } finally {
      project.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("superseded versions: document identity across version folders, by the project's version order", () => {
  assert.equal(documentKey("docs/v1/billing.md", "v1"), "docs/billing.md");
  assert.equal(documentKey("docs/V2/billing.md", "v2"), "docs/billing.md");
  assert.equal(documentKey("docs/billing.md", "v2"), "docs/billing.md");
  assert.equal(documentKey("v1.md", "v1"), "v1.md", "the file name itself is not a version folder");
  const doc = (path: string, version: string) => ({ path, version, hash: "h", title: "t", bytes: 1, chunks: 1, ingestedAt: "" });
  const docs = [doc("docs/v1/a.md", "v1"), doc("docs/v2/a.md", "v2"), doc("docs/v10/a.md", "v10"), doc("docs/v1/only-old.md", "v1"), doc("guide/legacy/b.md", "legacy"), doc("guide/current/b.md", "current")];
  const s = supersededDocuments(docs, NATURAL_VERSION_ORDER);
  assert.deepEqual(
    [...s].map(([p, x]) => `${p}→${x.newerPath}`).sort(),
    ["docs/v1/a.md→docs/v10/a.md", "docs/v2/a.md→docs/v10/a.md", "guide/legacy/b.md→guide/current/b.md"],
    "v10 is newer than v2 (natural order, not alphabetical); a document only in an old version is not superseded",
  );
});

test("citation and stale-citation rates: an answer citing the superseded v1 copy is stale, with alerts, CLI text and the /metrics gauges", async () => {
  const { root, project, app } = await served("serve:\n  monitors:\n    maxStaleCitationRate: 0.2\n    minCitationRate: 0.9\n");
  try {
    const ask = async (question: string) => (await (await post(app, "/v1/ask", { question })).json()) as { requestId: string; fallback: boolean; citations: { path: string }[] };
    const current = await ask("Within how many days can I get a refund on an annual plan?");
    const v1 = await ask("Within how many days could I get a refund on an annual plan in v1?");
    const trash = await ask("How long do deleted cards stay in the trash?");
    const none = await ask("What is the airspeed velocity of an unladen swallow?");
    assert.ok(current.citations.every((c) => c.path.startsWith("docs/v2/")), JSON.stringify(current.citations));
    assert.ok(v1.citations.some((c) => c.path === "docs/v1/billing.md"), `the v1 question cites the v1 copy: ${JSON.stringify(v1.citations)}`);
    assert.equal(none.fallback, true);
    const log = app.requestLog!;
    assert.equal(log.get(v1.requestId)!.staleCitation, true);
    assert.equal(log.get(current.requestId)!.staleCitation, false);
    assert.equal(log.get(trash.requestId)!.staleCitation, false);
    assert.equal(log.get(none.requestId)!.citations, 0);
    // Feedback: one thumbs-up, one correction.
    assert.equal((await post(app, "/v1/feedback", { requestId: trash.requestId, thumbs: "up" })).status, 200);
    assert.equal((await post(app, "/v1/feedback", { requestId: v1.requestId, thumbs: "down", correctedAnswer: "30 days" })).status, 200);

    const report = monitorReport((a, b) => log.monitored(a, b).rows, project, 3_600_000, { ...project.config.serve.monitors });
    assert.equal(report.window.citationRate, 3 / 4);
    assert.equal(report.window.staleCitationRate, 1 / 3);
    assert.deepEqual(report.stale.superseded.map((s) => [s.path, s.newerPath]), [["docs/v1/billing.md", "docs/v2/billing.md"]]);
    assert.ok(report.alerts.some((a) => /stale-citation rate 33\.3% is over 20\.0% \(serve\.monitors\.maxStaleCitationRate\)/.test(a)), report.alerts.join("\n"));
    assert.ok(report.alerts.some((a) => /citation rate 75\.0% is under 90\.0% \(serve\.monitors\.minCitationRate\)/.test(a)), report.alerts.join("\n"));
    assert.ok(!report.alerts.some((a) => /changed or removed on disk/.test(a)), "a superseded archive is not a changed file");

    // /metrics: the same windowStats over the rolling window, after real requests and feedback.
    const m = await scrape(app);
    assert.equal(m("ragtune_monitor_requests"), 4);
    assert.equal(m("ragtune_monitor_answered"), 4);
    assert.equal(m("ragtune_monitor_fallback_rate"), 0.25);
    assert.equal(m("ragtune_monitor_citation_rate"), 0.75);
    assert.equal(m("ragtune_monitor_stale_citation_rate"), 1 / 3);
    assert.equal(m("ragtune_monitor_user_correction_rate"), 0.5);
    assert.equal(m("ragtune_monitor_error_rate"), 0);
    assert.equal(m("ragtune_monitor_unsupported_rate"), report.window.unsupportedRate);
    assert.equal(m("ragtune_monitor_retrieval_miss_rate"), report.window.retrievalMissRate);
    assert.equal(m("ragtune_monitor_cost_usd"), 0, "offline reader: no cost");
    assert.equal(m("ragtune_monitor_window_seconds"), 3600);
    assert.equal(m("ragtune_monitor_window_truncated"), 0);
    assert.equal(m('ragtune_monitor_stale_documents{reason="superseded"}'), 1);
    assert.equal(m('ragtune_monitor_stale_documents{reason="changed"}'), 0);
    const s = app.engine.served();
    assert.equal(m(`ragtune_served_info{index_version="${s.index.version ?? ""}",index_fingerprint="${s.index.fingerprint}",model="offline:extractive"}`), 1);

    // More traffic moves the gauges (no cache in this app): a fifth answer, not stale.
    await ask("Which cards do you accept for payment?");
    const m2 = await scrape(app);
    assert.equal(m2("ragtune_monitor_requests"), 5);
    assert.equal(m2("ragtune_monitor_stale_citation_rate"), 1 / 4);
    app.close();

    const cli = await runCli(["monitor", "--since", "1h"], root);
    // Five answers by now: four cited, one of them stale.
    assert.match(cli.stdout, /citation rate\s+80\.0%/);
    assert.match(cli.stdout, /stale citations \(superseded version\)\s+25\.0%/);
    assert.match(cli.stdout, /superseded by a newer version\s+1 of 3 .*docs\/v1\/billing\.md \[v1\] → docs\/v2\/billing\.md \[v2\]/);
    const json = JSON.parse((await runCli(["monitor", "--json"], root)).stdout);
    assert.equal(json.window.citationRate, 0.8);
    assert.equal(json.stale.superseded.length, 1);
  } finally {
    app.close();
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("/metrics monitors: the window is rolling, and with no log the rates are NaN (no data) not 0", async () => {
  const { root, project, app } = await served();
  const noLog = createServeApp({ project, requestLogFile: null, monitorCacheMs: 0 });
  try {
    const m = await scrape(noLog);
    assert.ok(Number.isNaN(m("ragtune_monitor_fallback_rate")!));
    assert.equal(m("ragtune_monitor_requests"), 0);
    const asked = (await (await post(app, "/v1/ask", { question: "How long do deleted cards stay in the trash?" })).json()) as { requestId: string };
    const log = app.requestLog!;
    // A failed request older than the 60-minute window is not in the gauges.
    log.record({ ...log.get(asked.requestId)!, id: "old", time: new Date(Date.now() - 61 * 60_000).toISOString(), status: 500 });
    assert.equal(log.count(), 2);
    const m2 = await scrape(app);
    assert.equal(m2("ragtune_monitor_requests"), 1);
    assert.equal(m2("ragtune_monitor_error_rate"), 0);
  } finally {
    app.close();
    noLog.close();
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("the /metrics window in memory: filled from the log at start, drops rows older than the window, holds at most maxRows, takes feedback", async () => {
  const { MonitorWindow } = await import("../src/serve/monitor-window.ts");
  const root = makeTinyProject();
  try {
    const log = new RequestLog(join(root, "requests.db"));
    const now = Date.parse("2026-06-01T12:00:00Z");
    const row = (id: string, minutesAgo: number, traffic: "live" | "eval" = "live") => ({
      id,
      time: new Date(now - minutesAgo * 60_000).toISOString(),
      route: "/v1/ask",
      status: 200,
      query: "q",
      retrieved: [{ id: "c", score: 1 }],
      answer: "a",
      confidence: 1,
      fallback: id.startsWith("fb"),
      support: 1,
      latencyMs: 5,
      inputTokens: 1,
      outputTokens: 1,
      costUsd: 0.5,
      model: "m",
      indexGeneration: 1,
      indexFingerprint: "f",
      traffic,
      citations: 1,
      staleCitation: false,
    });
    log.record(row("old", 90));
    log.record(row("a", 50));
    log.record(row("fb1", 40));
    log.record(row("e", 30, "eval"));
    const w = new MonitorWindow(60 * 60_000, 3);
    w.seed(log, now);
    assert.equal(w.size, 2, "the live rows of the last hour");
    w.add(row("b", 20));
    w.add(row("e2", 10, "eval"));
    w.feedback("a", { thumbs: "down", at: "" });
    let stats = windowStats(w.current(now), "", "");
    assert.equal(stats.requests, 3);
    assert.equal(stats.fallbackRate, 1 / 3);
    assert.equal(stats.correctionRate, 1);
    assert.equal(stats.costUsd, 1.5);
    // 15 minutes later "a" (50 min ago) has left the window.
    stats = windowStats(w.current(now + 15 * 60_000), "", "");
    assert.equal(stats.requests, 2);
    assert.equal(stats.correctionRate, null, "the corrected row left with its feedback");
    // Over maxRows the oldest go, and the window says it is truncated.
    assert.equal(w.truncated, false);
    for (const id of ["c", "d"]) w.add(row(id, 1));
    assert.equal(w.size, 3);
    assert.equal(w.truncated, true);
    log.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
