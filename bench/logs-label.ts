/**
 * `ragtune logs label` speed: serves N requests (default 600) in-process on a copy of the example
 * project (examples/acme-support, offline reader), gives every third a corrected answer and every
 * fifth a thumbs down, then times labelling the window (labelWindow: read, label, store) twice —
 * the second run is the idempotent relabel.
 *
 *   node --import tsx bench/logs-label.ts [--requests N]
 *
 * Prints the numbers and writes bench/results/logs-label.json.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { reindexProject } from "../src/pipeline/reindex.ts";
import { createServeApp } from "../src/serve/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { labelWindow } from "../src/logs/index.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const i = args.indexOf("--requests");
const N = i >= 0 ? Number(args[i + 1]) : 600;

const dir = mkdtempSync(join(tmpdir(), "ragtune-logs-bench-"));
cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true });
const project = openProject(loadConfig(join(dir, "ragtune.yaml")));
try {
  await reindexProject(project);
  const qa = loadSuite(join(dir, project.config.suite)).cases.filter((c) => c.task === "qa");
  const app = createServeApp({ project, logError: () => {} });
  const post = (path: string, body: unknown) => app.request(path, { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify(body) });
  const t0 = performance.now();
  for (let n = 0; n < N; n++) {
    const c = qa[n % qa.length];
    const { requestId } = (await (await post("/v1/ask", { question: c.input })).json()) as { requestId: string };
    if (n % 3 === 0) await post("/v1/feedback", { requestId, thumbs: "down", correctedAnswer: c.answer?.[0] ?? "I don't know" });
    else if (n % 5 === 0) await post("/v1/feedback", { requestId, thumbs: "down" });
  }
  const serveMs = performance.now() - t0;
  app.close();
  const t1 = performance.now();
  const first = labelWindow(project, 86_400_000);
  const labelMs = performance.now() - t1;
  const t2 = performance.now();
  const second = labelWindow(project, 86_400_000);
  const relabelMs = performance.now() - t2;
  const byCause: Record<string, number> = {};
  for (const l of first.labels) byCause[l.cause] = (byCause[l.cause] ?? 0) + 1;
  const result = {
    at: new Date().toISOString(),
    project: "examples/acme-support",
    generator: project.generatorId(),
    requests: first.window.rows.length,
    labelled: first.labels.length,
    relabelled: second.labels.length,
    byCause,
    serveMs: Math.round(serveMs),
    labelMs: Math.round(labelMs),
    msPerRequest: Math.round((labelMs / Math.max(1, first.window.rows.length)) * 1000) / 1000,
    relabelMs: Math.round(relabelMs),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, "bench/results/logs-label.json"), JSON.stringify(result, null, 2) + "\n");
} finally {
  project.close();
  rmSync(dir, { recursive: true, force: true });
}
