/**
 * What the request log and API keys on Postgres add to a `/v1/ask`: the example project
 * (examples/acme-support, offline reader, index on SQLite so only the log/keys differ), answered
 * in-process (`app.request`, no sockets) with the log on SQLite vs on a private PostgreSQL 15
 * (test/helpers/postgres.ts), and key verification on SQLite vs Postgres. Variants alternate in
 * rounds (paired), so machine noise hits both alike.
 *
 *   node --import tsx bench/serve-log-keys-postgres.ts [--rounds 5] [--requests 200]
 *
 * Prints p50/p95 per variant and the per-call cost of `record`, `verify` and a key's rate-limit
 * take (in memory on SQLite, the shared Postgres bucket otherwise); writes
 * bench/results/serve-log-keys-postgres.json.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { loadConfig } from "../src/config/index.ts";
import { openProject } from "../src/pipeline/index.ts";
import { createServeApp } from "../src/serve/index.ts";
import { keyLimiterFor } from "../src/serve/rate-limit-shared.ts";
import { openKeyStore } from "../src/serve/keys-open.ts";
import { startPostgres } from "../test/helpers/postgres.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg("rounds", 5);
const REQUESTS = arg("requests", 200);

const root = mkdtempSync(join(tmpdir(), "ragtune-bench-logkeys-"));
cpSync(join(here, "..", "examples", "acme-support"), root, { recursive: true });
execFileSync(process.execPath, [join(here, "..", "bin", "ragtune.js"), "ingest"], { cwd: root, stdio: "ignore" });
const server = await startPostgres();
const url = server.createDatabase("bench");
const loadBefore = loadavg();

const QUESTIONS = ["how do I reset my password?", "when are refunds paid?", "how long is trash kept?", "can I export my data?"];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

type Variant = "sqlite" | "postgres";
const askMs: Record<Variant, number[]> = { sqlite: [], postgres: [] };
const recordMs: Record<Variant, number[]> = { sqlite: [], postgres: [] };
const verifyMs: Record<Variant, number[]> = { sqlite: [], postgres: [] };
const takeMs: Record<Variant, number[]> = { sqlite: [], postgres: [] };

const project = openProject(loadConfig(join(root, "ragtune.yaml")));
const sqliteConfig = project.config;
const postgresConfig = { ...project.config, store: { kind: "postgres" as const, url, vectors: { search: "auto" as const, pgvector: "auto" as const, efSearch: 40 } } };
const setConfig = (c: typeof sqliteConfig) => ((project as { config: unknown }).config = c);

for (let round = 0; round < ROUNDS; round++) {
  for (const v of (round % 2 ? ["postgres", "sqlite"] : ["sqlite", "postgres"]) as Variant[]) {
    setConfig(v === "sqlite" ? sqliteConfig : postgresConfig);
    const app = createServeApp({ project, logError: () => {} });
    const log = app.requestLog!;
    const record = log.record.bind(log);
    log.record = (row) => {
      const t = performance.now();
      record(row);
      recordMs[v].push(performance.now() - t);
    };
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await app.request("/v1/ask", { method: "POST", headers: { host: "127.0.0.1", "content-type": "application/json" }, body: JSON.stringify({ question: QUESTIONS[i % QUESTIONS.length] }) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${v}: status ${res.status}`);
      askMs[v].push(performance.now() - t);
    }
    app.close();
    const keys = openKeyStore({ root, config: v === "sqlite" ? sqliteConfig : postgresConfig }, { create: true });
    const { key } = keys.createKey("query");
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      if (!keys.verify(key)) throw new Error("verify failed");
      verifyMs[v].push(performance.now() - t);
    }
    // The key's rate bucket: in memory on SQLite, a shared row on Postgres (serve/rate-limit-shared.ts).
    const limiter = keyLimiterFor(keys, 1_000_000);
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      if (!limiter.take(`bench-${round}`, Date.now()).ok) throw new Error("take refused");
      takeMs[v].push(performance.now() - t);
    }
    keys.close();
  }
}
setConfig(sqliteConfig);
project.close();
server.stop();
rmSync(root, { recursive: true, force: true });

const summary = (xs: number[]) => ({ n: xs.length, p50: +pct(xs, 50).toFixed(3), p95: +pct(xs, 95).toFixed(3) });
const result = {
  rounds: ROUNDS,
  requestsPerRound: REQUESTS,
  loadavgBefore: loadBefore.map((x) => +x.toFixed(2)),
  loadavgAfter: loadavg().map((x) => +x.toFixed(2)),
  askMs: { sqlite: summary(askMs.sqlite), postgres: summary(askMs.postgres) },
  recordMs: { sqlite: summary(recordMs.sqlite), postgres: summary(recordMs.postgres) },
  verifyMs: { sqlite: summary(verifyMs.sqlite), postgres: summary(verifyMs.postgres) },
  rateTakeMs: { sqlite: summary(takeMs.sqlite), postgres: summary(takeMs.postgres) },
  addedP50Ms: +(pct(askMs.postgres, 50) - pct(askMs.sqlite, 50)).toFixed(3),
};
console.log(JSON.stringify(result, null, 2));
mkdirSync(join(here, "results"), { recursive: true });
writeFileSync(join(here, "results", "serve-log-keys-postgres.json"), JSON.stringify(result, null, 2) + "\n");
