import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp } from "../src/serve/index.ts";
import { RequestLog } from "../src/serve/log.ts";
import { monitorReport, parseSince, windowStats } from "../src/serve/monitor.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

test("monitor: fallback, unsupported, corrections and staleness from the request log, with alerts and --fail-on-alert", async () => {
  const root = makeTinyProject("serve:\n  monitors:\n    maxFallbackRate: 0.2\n");
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    await reindexProject(project);
    const app = createServeApp({ project, logError: () => {} });
    const post = (path: string, body: unknown) => app.request(path, { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify(body) });
    const ids: string[] = [];
    for (const q of ["How long do deleted cards stay in the trash?", "Within how many days can I get a refund on an annual plan?", "What is the airspeed velocity of an unladen swallow?"]) {
      const r = (await (await post("/v1/ask", { question: q })).json()) as { requestId: string; fallback: boolean };
      ids.push(r.requestId);
    }
    assert.equal((await post("/v1/feedback", { requestId: ids[1], thumbs: "down", correctedAnswer: "30 days" })).status, 200);
    app.close();

    const log = new RequestLog(join(root, ".ragtune", "requests.db"));
    const rows = log.between("2000-01-01", "2999-01-01");
    assert.equal(rows.length, 3, "one row per answered request (feedback updates its row)");
    const w = windowStats(rows, "a", "b");
    assert.equal(w.answered, 3);
    assert.equal(w.fallbackRate, 1 / 3, "the swallow question falls back");
    assert.equal(w.correctionRate, 1, "the one request with feedback was corrected");
    assert.equal(w.errorRate, 0);
    // Support is the server's per-answer answerSupport; every non-fallback answer here is backed.
    assert.equal(w.unsupportedRate, 0);

    // A document edited after ingest is stale until re-ingested.
    appendFileSync(join(root, "docs/v2/trash.md"), "\nEdited after ingest.\n");
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, "docs/v2/trash.md"), later, later);
    const report = monitorReport((a, b) => log.between(a, b), project, 86_400_000, { ...project.config.serve.monitors });
    log.close();
    assert.deepEqual(report.stale.changedOnDisk, ["docs/v2/trash.md"]);
    assert.ok(report.alerts.some((a) => /fallback rate 33\.3% is over 20\.0% \(serve\.monitors\.maxFallbackRate\)/.test(a)), report.alerts.join("\n"));
    assert.ok(report.alerts.some((a) => /user-correction rate 100\.0%/.test(a)));
    assert.ok(report.alerts.some((a) => /1 indexed document changed or removed on disk since ingest/.test(a)));
    assert.equal(report.previous.requests, 0);

    const cli = await runCli(["monitor", "--since", "1d", "--fail-on-alert"], root);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stdout, /fallback rate\s+33\.3%/);
    assert.match(cli.stdout, /alerts/);
    const json = await runCli(["monitor", "--json"], root);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).window.answered, 3);
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test("monitor --since takes 30m, 24h, 7d, 2w; anything else is a usage error; no log is a clear error", async () => {
  assert.equal(parseSince("30m"), 1_800_000);
  assert.equal(parseSince("7d"), 604_800_000);
  assert.equal(parseSince("2w"), 1_209_600_000);
  for (const bad of ["7", "0d", "-1d", "5y", "400d", "d"]) assert.equal(parseSince(bad), undefined, bad);
  const root = makeTinyProject();
  try {
    const r = await runCli(["monitor"], root);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no request log at .*requests\.db: start `ragtune serve`/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("serve.redactPii: emails, phone and card numbers never reach the request log (queries, answers, feedback)", async () => {
  const root = makeTinyProject("serve:\n  redactPii: true\n");
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  try {
    await reindexProject(project);
    const app = createServeApp({ project, logError: () => {} });
    const post = (path: string, body: unknown) => app.request(path, { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify(body) });
    const r = (await (await post("/v1/ask", { question: "I am jane.doe@example.com, card 4111 1111 1111 1111: how long do deleted cards stay in the trash?" })).json()) as { requestId: string };
    await post("/v1/feedback", { requestId: r.requestId, thumbs: "down", text: "call me on +44 20 7946 0958" });
    app.close();
    const log = new RequestLog(join(root, ".ragtune", "requests.db"));
    const row = log.get(r.requestId)!;
    log.close();
    assert.match(row.query, /I am \[EMAIL\], card \[CARD\]: how long/);
    assert.equal(row.feedback?.text, "call me on [PHONE]");
    const bytes = readFileSync(join(root, ".ragtune", "requests.db")).toString("latin1") + (existsSync(join(root, ".ragtune", "requests.db-wal")) ? readFileSync(join(root, ".ragtune", "requests.db-wal")).toString("latin1") : "");
    for (const secret of ["jane.doe@example.com", "4111 1111 1111 1111", "7946 0958"]) assert.ok(!bytes.includes(secret), `${secret} on disk`);
  } finally {
    project.close();
    rmSync(root, { recursive: true, force: true });
  }
});
