import { test } from "node:test";
import { ConfigSchema } from "../src/config/schema.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import {
  applyOverrides,
  benchRetrievalBeir,
  benchRetrievalSuite,
  CHUNKING_STRATEGIES,
  defaultRetrievalConfig,
  percentile,
  type RetrieverBenchResult,
} from "../src/bench/retrieval.ts";
import { importOptional } from "../src/bench/peers/index.ts";
import { buildProgram } from "../src/cli/main.ts";
import { formatBeirResult, formatSuiteResult, registerBench } from "../src/cli/commands/bench.ts";
import { loadConfig } from "../src/config/index.ts";
import { makeTinyProject } from "./helpers/project.ts";

const BIN = fileURLToPath(new URL("../bin/ragtune.js", import.meta.url));

/**
 * Four documents, four judged queries, rankings anyone can check by hand:
 * q1 "apple pie" → d1 has both terms, d4 only "apple": d1 first → nDCG 1, R 1, MRR 1.
 * q2 "banana" → only d2 matches → 1, 1, 1.
 * q3 "almond cherry", judged d3 and d1 → only d3 matches, at rank 1:
 *    nDCG = 1 / (1 + 1/log2 3), R = 1/2, MRR 1.
 * q4 "garden", judged d1 → only d4 matches → 0, 0, 0.
 * q5 is unjudged and must not count.
 */
function tinyBeir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-beir-"));
  mkdirSync(join(dir, "qrels"));
  const corpus = [
    { _id: "d1", title: "Apple pie", text: "An apple pie recipe with cinnamon and butter." },
    { _id: "d2", title: "Banana bread", text: "A banana bread recipe with walnuts." },
    { _id: "d3", title: "Cherry tart", text: "A cherry tart with almond cream." },
    { _id: "d4", title: "Orchard", text: "Planting apple trees in a garden orchard." },
  ];
  writeFileSync(join(dir, "corpus.jsonl"), corpus.map((d) => JSON.stringify(d)).join("\n") + "\n");
  const queries = [
    { _id: "q1", text: "apple pie" },
    { _id: "q2", text: "banana" },
    { _id: "q3", text: "almond cherry" },
    { _id: "q4", text: "garden" },
    { _id: "q5", text: "unjudged" },
  ];
  writeFileSync(join(dir, "queries.jsonl"), queries.map((q) => JSON.stringify(q)).join("\n") + "\n");
  writeFileSync(join(dir, "qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\nq3\td1\t1\nq4\td1\t1\n");
  return dir;
}

const EXPECTED = {
  ndcg10: (1 + 1 + 1 / (1 + 1 / Math.log2(3)) + 0) / 4,
  recall10: (1 + 1 + 0.5 + 0) / 4,
  recall100: (1 + 1 + 0.5 + 0) / 4,
  mrr10: (1 + 1 + 1 + 0) / 4,
};

function assertWellFormed(r: RetrieverBenchResult): void {
  for (const m of ["ndcg10", "recall10", "recall100", "mrr10"] as const) {
    assert.ok(r[m] >= 0 && r[m] <= 1, `${r.name} ${m} = ${r[m]}`);
    assert.ok(Math.abs(r[m] - EXPECTED[m]) < 1e-4, `${r.name} ${m}: ${r[m]} ≠ ${EXPECTED[m]}`);
  }
  assert.ok(r.qps > 0, `${r.name} qps`);
  assert.ok(r.latencyMs.p50 >= 0 && r.latencyMs.p50 <= r.latencyMs.p95, `${r.name} latency`);
  assert.ok(r.indexMs >= 0);
  assert.ok(Number.isFinite(r.rssMb) && Number.isFinite(r.heapMb));
  assert.ok(r.version.length > 0 && r.settings.length > 0);
}

test("benchRetrievalBeir: ragtune and minisearch on a hand-checkable dataset", async () => {
  const result = await benchRetrievalBeir({ dir: tinyBeir(), compare: ["minisearch"] });
  assert.equal(result.queries, 4);
  assert.equal(result.documents, 4);
  assert.equal(result.ragtune.name, "ragtune");
  // Without --config the harness runs ragtune's defaults, whatever the schema declares them to be.
  const d = ConfigSchema.parse({ sources: [{ include: "x" }] }).retrieval;
  assert.ok(result.ragtune.settings.startsWith(`bm25(k1=${d.k1},b=${d.b},headingBoost=${d.headingBoost})`), result.ragtune.settings);
  assertWellFormed(result.ragtune);
  assert.deepEqual(result.peers.map((p) => p.name), ["minisearch"]);
  assert.match(result.peers[0].version, /^\d+\.\d+\.\d+/);
  assert.match(result.peers[0].settings, /k=1\.2 b=0\.7 d=0\.5/);
  assertWellFormed(result.peers[0]);
  const text = formatBeirResult(result);
  assert.match(text, /^ragtune 0\.1\.0 +0\.653 +0\.625 +0\.625 +0\.750 /m);
  assert.match(text, /minisearch 7\.\d+\.\d+: fields title\+text/);
});

test("benchRetrievalBeir uses the retrieval settings of a config", async () => {
  const dir = tinyBeir();
  const project = makeTinyProject("retrieval:\n  k1: 0.9\n  b: 0.4\n  headingBoost: 2\n");
  const { config } = loadConfig(join(project, "ragtune.yaml"));
  const result = await benchRetrievalBeir({ dir, config });
  assert.match(result.ragtune.settings, /bm25\(k1=0\.9,b=0\.4,headingBoost=2\)/);
  assert.deepEqual(result.peers, []);
  // A mode the config cannot run is refused with its usual error, never silently replaced by BM25.
  const hybrid = { ...config, retrieval: { ...config.retrieval, mode: "hybrid" as const } };
  await assert.rejects(benchRetrievalBeir({ dir, config: hybrid }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /'hybrid'.*models\.embedder/.test(e.message));
  // With an embedder it runs (the deterministic hashing embedder needs no model), fused with BM25.
  const withEmbedder = { ...hybrid, models: { ...config.models, embedder: "hashing" } };
  const fused = await benchRetrievalBeir({ dir, config: withEmbedder });
  assert.match(fused.ragtune.settings, /^hybrid\(rrf 60: bm25\(k1=0\.9,b=0\.4,headingBoost=2\).* \+ dense\(hashing/);
  for (const m of ["ndcg10", "recall10", "recall100", "mrr10"] as const) assert.ok(fused.ragtune[m] >= 0 && fused.ragtune[m] <= 1);
});

test("peers: a missing optional library is a clear install hint; unknown names are rejected", async () => {
  await assert.rejects(importOptional("ragtune-no-such-search-lib"), /ragtune-no-such-search-lib is not installed: npm i -D ragtune-no-such-search-lib/);
  await assert.rejects(benchRetrievalBeir({ dir: tinyBeir(), compare: ["lucene"] }), /unknown library 'lucene'.*minisearch, orama, wink/);
});

test("percentile is nearest-rank", () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(v, 0.5), 5);
  assert.equal(percentile(v, 0.95), 10);
  assert.equal(percentile([7], 0.95), 7);
  assert.equal(percentile([], 0.5), 0);
});

test("grid overrides merge into the project's retrieval settings and are validated", () => {
  const base = defaultRetrievalConfig();
  const r = applyOverrides(base, { name: "prf", retrieval: { prf: { enabled: true }, k1: 0.9 } });
  assert.equal(r.prf.enabled, true);
  assert.equal(r.prf.docs, base.prf.docs);
  assert.equal(r.k1, 0.9);
  assert.equal(r.b, base.b);
  assert.throws(() => applyOverrides(base, { name: "bad", retrieval: { b: 3 } }), /grid entry 'bad': retrieval\.b/);
});

test("benchRetrievalSuite: a row per chunking strategy × configuration", async () => {
  const root = makeTinyProject();
  const project = loadConfig(join(root, "ragtune.yaml"));
  const grid = [
    { name: "default" },
    { name: "k1=0.9 b=0.4", retrieval: { k1: 0.9, b: 0.4 } },
    { name: "v2 only", retrieval: { versions: ["v2"] } },
    { name: "prf", retrieval: { prf: { enabled: true } } },
    { name: "dense", retrieval: { mode: "dense" as const } },
  ];
  const result = await benchRetrievalSuite({ project, suite: join(root, "suite.yaml"), grid });
  assert.equal(result.cases, 2); // the two qa cases with gold sources
  assert.equal(result.rows.length, CHUNKING_STRATEGIES.length * grid.length);
  for (const s of CHUNKING_STRATEGIES) for (const g of grid) assert.ok(result.rows.some((r) => r.strategy === s && r.config === g.name), `${s} × ${g.name}`);
  for (const row of result.rows) {
    if (row.config === "dense") {
      // The tiny project has no embedder: the row says why instead of failing the grid.
      assert.match(row.error ?? "", /models\.embedder is 'none'/);
      assert.equal(row.recallAtK, null);
      continue;
    }
    assert.equal(row.error, undefined, `${row.strategy} × ${row.config}: ${row.error}`);
    assert.ok(row.chunks > 0);
    for (const m of [row.recallAtK, row.hitAtK, row.mrr, row.recall20]) assert.ok(m !== null && m >= 0 && m <= 1);
  }
  // Three documents; each question's gold document is in the top 5 …
  const plain = result.rows.find((r) => r.strategy === "headings" && r.config === "default")!;
  assert.equal(plain.error, undefined);
  assert.equal(plain.recallAtK, 1);
  assert.equal(plain.hitAtK, 1);
  assert.match(plain.retriever, /^bm25\(/);
  // … and with the archived v1 docs filtered out (a grid override), it is always first.
  const v2 = result.rows.find((r) => r.strategy === "headings" && r.config === "v2 only")!;
  assert.equal(v2.mrr, 1);
  assert.ok(result.best);
  assert.match(formatSuiteResult(result), /headings +default/);
});

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const BENCH = fileURLToPath(new URL("../src/cli/commands/bench.ts", import.meta.url));

/**
 * Run `ragtune …` in a child process with `bench` registered (main.ts may not register it yet),
 * mapping errors to exit codes as main() does.
 */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(mkdtempSync(join(tmpdir(), "ragtune-cli-")), "run.mjs");
  writeFileSync(
    script,
    `import { buildProgram } from ${JSON.stringify(MAIN)};
import { registerBench } from ${JSON.stringify(BENCH)};
const program = buildProgram();
if (!program.commands.some((c) => c.name() === "bench")) registerBench(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(String(e.message) + "\\n");
  // A CommanderError (usage) is 2 unless it is --help/--version; an InputError carries exitCode 2.
  const usage = typeof e.code === "string" && e.code.startsWith("commander.");
  process.exitCode = usage ? (e.exitCode === 0 ? 0 : 2) : (e.exitCode ?? 1);
}
`,
  );
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: join(MAIN, "../../.."), env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test("CLI: exactly one of --beir / --suite (exit 2 otherwise); --json prints one object", async () => {
  const root = makeTinyProject();
  const dir = tinyBeir();
  // Usage errors are thrown before any output; in process they carry the exit code main() uses.
  const usage = async (args: string[]) => {
    const program = buildProgram();
    if (!program.commands.some((c) => c.name() === "bench")) registerBench(program);
    try {
      await program.parseAsync(["node", "ragtune", ...args]);
    } catch (err) {
      return err as Error & { exitCode?: number };
    }
    assert.fail(`ragtune ${args.join(" ")} should have been rejected`);
  };
  const both = await usage(["bench", "retrieval", "--beir", dir, "--suite", join(root, "suite.yaml")]);
  assert.equal(both.exitCode, 2);
  assert.match(both.message, /exactly one of --beir DIR or --suite FILE, not both/);
  const neither = await usage(["bench", "retrieval"]);
  assert.equal(neither.exitCode, 2);
  assert.match(neither.message, /exactly one of --beir DIR or --suite FILE/);
  const badLib = await usage(["bench", "retrieval", "--beir", dir, "--compare", "nope"]);
  assert.equal(badLib.exitCode, 2);
  assert.match(badLib.message, /unknown library 'nope'/);
  const misplaced = await usage(["bench", "retrieval", "--suite", join(root, "suite.yaml"), "--compare", "minisearch"]);
  assert.equal(misplaced.exitCode, 2);

  // A real process prints one JSON object on stdout with --json.
  const beir = await runCli(["bench", "retrieval", "--beir", dir, "--compare", "minisearch", "--json"]);
  assert.equal(beir.code, 0, beir.stderr);
  const parsed = JSON.parse(beir.stdout);
  assert.equal(parsed.queries, 4);
  assert.equal(parsed.ragtune.name, "ragtune");
  assert.equal(parsed.peers[0].name, "minisearch");

  const suite = await runCli(["bench", "retrieval", "--suite", join(root, "suite.yaml"), "--config", join(root, "ragtune.yaml"), "--strategies", "headings,fixed", "--json"]);
  assert.equal(suite.code, 0, suite.stderr);
  const rows = JSON.parse(suite.stdout).rows as { strategy: string }[];
  assert.deepEqual([...new Set(rows.map((r) => r.strategy))], ["headings", "fixed"]);

  // Once main.ts registers the command, the real binary must map the same errors to exit 2.
  if (buildProgram().commands.some((c) => c.name() === "bench")) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [BIN, "bench", "retrieval"], { env: { ...process.env, NO_COLOR: "1" } });
      child.on("close", (c) => resolve(c ?? -1));
    });
    assert.equal(code, 2);
  }
});
