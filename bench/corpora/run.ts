/**
 * Real-corpus benchmark: builds each documentation project from ../shared/datasets, runs the real
 * CLI on it (`ragtune ingest --json`, `ragtune eval --json`) and reports what issue 9 asks for.
 *
 *   node --import tsx bench/corpora/run.ts [--corpus pnpm-docs|fastify-docs] [--label NAME]
 *        [--variants rag,long-context,prompt-only] [--split dev|holdout|all] [--keep] [--semantic] [--store sqlite|postgres]
 *
 * Per corpus: the dataset folders named in bench/corpora/<name>/project.ts are copied, layout
 * unchanged, into a temp project with a ragtune.yaml that sets only `name`, `sources` and `suite`
 * (everything else at its default). Per variant it prints pass rates overall and by kind, changed
 * facts answered from the current version / stale / other, must-abstain rate, answerable accuracy,
 * false abstentions, hit@k and MRR, and citation-section accuracy measured independently of ragtune
 * (lib/citations.ts). Results are merged into bench/results/corpora.json under runs[label][corpus].
 *
 * Skips cleanly (exit 0) when ../shared/datasets or a corpus folder is absent. Exit 1 when a CLI
 * step failed, 2 on bad arguments.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { loadSuite } from "../../src/evaluate/suite.ts";
import type { SuiteCase } from "../../src/evaluate/types.ts";
import type { CorpusProject } from "./project-types.ts";
import { readCaseRows, sourceReader, variantMetrics, type VariantMetrics } from "./lib/metrics.ts";
import { ingestLines, variantTables, type IngestSummary } from "./lib/report.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const BIN = join(ROOT, "bin/ragtune.js");
const RESULTS = join(ROOT, "bench/results/corpora.json");
const CORPORA = ["pnpm-docs", "fastify-docs"] as const;
const VARIANTS = ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"];
const SPLITS = ["dev", "holdout", "all"];

function usage(message: string): never {
  console.error(`bench/corpora/run.ts: ${message}`);
  console.error("usage: node --import tsx bench/corpora/run.ts [--corpus pnpm-docs|fastify-docs] [--label NAME] [--variants rag,long-context,prompt-only] [--split dev|holdout|all] [--keep] [--semantic] [--store sqlite|postgres]");
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const opts = { corpora: [...CORPORA] as string[], label: "current", variants: ["prompt-only", "long-context", "rag"], split: "all", keep: false, semantic: false, store: "sqlite" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--corpus") {
      opts.corpora = value().split(",").map((s) => s.trim());
      for (const c of opts.corpora) if (!(CORPORA as readonly string[]).includes(c)) usage(`--corpus: unknown corpus '${c}' (allowed: ${CORPORA.join(", ")})`);
    } else if (a === "--label") {
      opts.label = value();
      if (!/^[\w.-]+$/.test(opts.label)) usage(`--label: '${opts.label}' must be letters, digits, '.', '_' or '-'`);
    } else if (a === "--variants") {
      opts.variants = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const v of opts.variants) if (!VARIANTS.includes(v)) usage(`--variants: unknown variant '${v}' (allowed: ${VARIANTS.join(", ")})`);
      if (opts.variants.length === 0) usage("--variants: give at least one variant");
    } else if (a === "--split") {
      opts.split = value();
      if (!SPLITS.includes(opts.split)) usage(`--split: must be one of ${SPLITS.join(", ")} (got '${opts.split}')`);
    } else if (a === "--keep") opts.keep = true;
    // The offline reader with `answer.semantic: use-lite` (docs/reader.md); everything else at its default.
    else if (a === "--semantic") opts.semantic = true;
    // The project on a private PostgreSQL cluster (test/helpers/postgres.ts) instead of SQLite.
    else if (a === "--store") {
      opts.store = value();
      if (opts.store !== "sqlite" && opts.store !== "postgres") usage(`--store: must be sqlite or postgres (got '${opts.store}')`);
    } else usage(`unknown option '${a}'`);
  }
  return opts;
}

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(cwd: string, args: string[]): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? `\n${r.error.message}` : ""), ms: performance.now() - t0 };
}

/** The JSON object a `--json` command printed (the last line that parses, if there is noise). */
function jsonOf(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    const start = stdout.indexOf("{");
    if (start < 0) return undefined;
    try {
      return JSON.parse(stdout.slice(start)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

const lastLines = (s: string, n = 6) => s.trim().split("\n").slice(-n).join(" | ");

function gitCommit(): string | undefined {
  const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Build the temp project: dataset folders copied as they are, a minimal ragtune.yaml. */
function buildProject(p: CorpusProject, suitePath: string, semantic: boolean, storeUrl?: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ragtune-corpus-${p.name}-`));
  for (const item of p.copy) {
    const from = join(DATASETS, p.dataset, item);
    if (!existsSync(from)) throw new Error(`dataset ${p.dataset} has no '${item}' (expected ${from})`);
    cpSync(from, join(dir, item), { recursive: true });
  }
  const config = { name: p.name, sources: p.sources.map((s) => ({ include: s.include, version: s.version, ...(s.exclude ? { exclude: s.exclude } : {}) })), suite: suitePath, ...(semantic ? { answer: { semantic: "use-lite" } } : {}), ...(storeUrl ? { store: { kind: "postgres", url: storeUrl } } : {}) };
  writeFileSync(join(dir, "ragtune.yaml"), `# Written by bench/corpora/run.ts: only sources and suite are set, the rest is ragtune's defaults.\n${stringify(config)}`);
  return dir;
}

interface CorpusResult {
  date: string;
  commit?: string;
  command: string;
  split: string;
  variantsRequested: string[];
  project: { sources: CorpusProject["sources"]; kept?: string };
  suite: { cases: number; run: number };
  ingest: IngestSummary;
  eval?: { ok: boolean; exitCode: number | null; ms: number; runId?: string; retrievalK?: number; notConfigured?: unknown; error?: string };
  variants: Record<string, VariantMetrics>;
}

async function runCorpus(name: string, opts: ReturnType<typeof parseArgs> & { storeUrl?: string }): Promise<CorpusResult | undefined> {
  const dataset = join(DATASETS, name);
  if (!existsSync(dataset)) {
    console.log(`\n== ${name}: skipped — ${dataset} is absent`);
    return undefined;
  }
  const { project } = (await import(`./${name}/project.ts`)) as { project: CorpusProject };
  const suitePath = join(ROOT, "bench/corpora", name, "suite.yaml");
  const suite = loadSuite(suitePath);
  const cases = new Map<string, SuiteCase>(suite.cases.map((c) => [c.id, c]));
  const selected = opts.split === "all" ? suite.cases : suite.cases.filter((c) => c.tags?.includes(opts.split));
  console.log(`\n== ${name} (split ${opts.split}: ${selected.length} of ${suite.cases.length} cases; variants ${opts.variants.join(", ")})`);

  const dir = buildProject(project, suitePath, opts.semantic, opts.storeUrl);
  const result: CorpusResult = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    command: `node --import tsx bench/corpora/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    split: opts.split,
    variantsRequested: opts.variants,
    project: { sources: project.sources, ...(opts.keep ? { kept: dir } : {}) },
    suite: { cases: suite.cases.length, run: selected.length },
    ingest: { ok: false, exitCode: null, skipped: [], ms: 0 },
    variants: {},
  };
  try {
    const ing = cli(dir, ["ingest", "--json"]);
    const stats = jsonOf(ing.stdout) as
      | { added?: number; changed?: number; unchanged?: number; documents?: number; chunks?: number; skipped?: { path: string; reason: string }[]; ms?: number }
      | undefined;
    result.ingest = {
      ok: ing.status === 0 && stats !== undefined,
      exitCode: ing.status,
      documents: stats?.documents ?? (stats ? (stats.added ?? 0) + (stats.changed ?? 0) + (stats.unchanged ?? 0) : undefined),
      chunks: stats?.chunks,
      skipped: stats?.skipped ?? [],
      ms: stats?.ms ?? ing.ms,
      wallMs: ing.ms,
      ...(ing.status === 0 ? {} : { error: lastLines(ing.stderr || ing.stdout) }),
    };
    for (const l of ingestLines(result.ingest)) console.log(l);
    if (!result.ingest.ok) return result;

    const evalArgs = ["eval", "--json", "--variants", opts.variants.join(","), ...(opts.split === "all" ? [] : ["--tags", opts.split])];
    const ev = cli(dir, evalArgs);
    const summary = jsonOf(ev.stdout) as { runDir?: string; runId?: string; retrievalK?: number; notConfigured?: { name: string; reason: string }[] } | undefined;
    result.eval = {
      ok: ev.status === 0 && summary?.runDir !== undefined,
      exitCode: ev.status,
      ms: ev.ms,
      runId: summary?.runId,
      retrievalK: summary?.retrievalK,
      notConfigured: summary?.notConfigured,
      ...(ev.status === 0 ? {} : { error: lastLines(ev.stderr || ev.stdout) }),
    };
    console.log(`eval: ${result.eval.ok ? `run ${summary?.runId}` : `FAILED (exit ${ev.status}): ${result.eval.error}`}, ${(ev.ms / 1000).toFixed(1)} s`);
    for (const n of summary?.notConfigured ?? []) console.log(`  ${n.name}: not configured — ${n.reason}`);
    if (!summary?.runDir) return result;

    const rows = readCaseRows(resolve(dir, summary.runDir)).filter((r) => (r.repeat ?? 0) === 0);
    const read = sourceReader(dir);
    for (const v of opts.variants) {
      const mine = rows.filter((r) => r.variant === v);
      if (mine.length > 0) result.variants[v] = variantMetrics(mine, cases, read, project.currentVersion);
    }
    console.log("");
    console.log(variantTables(result.variants));
    const examples = Object.entries(result.variants).flatMap(([v, m]) => m.citations.examples.slice(0, 3).map((e) => ({ v, e })));
    if (examples.length > 0) {
      console.log("\ncitation examples (wrong section or not located; all in bench/results/corpora.json):");
      for (const { v, e } of examples) {
        const c = e.check;
        const where = c.located ? `quote is in ${JSON.stringify(c.located.headingPath.join(" › "))} (lines ${c.located.lineStart}–${c.located.lineEnd})` : `not located: ${c.unlocated}`;
        console.log(`  ${v} ${e.caseId}: cited ${JSON.stringify(c.cited.headingPath.join(" › "))} ${c.path}:${c.cited.lineStart}–${c.cited.lineEnd}; ${where}`);
      }
    }
    return result;
  } finally {
    if (opts.keep) console.log(`project kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Merge this run into bench/results/corpora.json (temp file + rename: a crash never leaves half a file). */
function writeResults(label: string, results: Record<string, CorpusResult>): void {
  let all: { runs: Record<string, Record<string, CorpusResult>> } = { runs: {} };
  if (existsSync(RESULTS)) {
    try {
      all = JSON.parse(readFileSync(RESULTS, "utf8"));
      all.runs ??= {};
    } catch (e) {
      // Never overwrite a file we cannot read: keep it aside.
      const aside = `${RESULTS}.unreadable-${Date.now()}`;
      renameSync(RESULTS, aside);
      console.error(`bench/results/corpora.json was not valid JSON (${(e as Error).message}); moved to ${aside}`);
    }
  }
  all.runs[label] = { ...(all.runs[label] ?? {}), ...results };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
  renameSync(`${RESULTS}.tmp`, RESULTS);
  console.log(`\nresults: runs[${JSON.stringify(label)}] in ${RESULTS}`);
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(DATASETS)) {
    console.log(`bench/corpora: skipped — ${DATASETS} is absent`);
    return 0;
  }
  const results: Record<string, CorpusResult> = {};
  let failed = false;
  const pg = opts.store === "postgres" ? await (await import("../../test/helpers/postgres.ts")).startPostgres() : undefined;
  let dbs = 0;
  for (const name of opts.corpora) {
    const r = await runCorpus(name, { ...opts, storeUrl: pg?.createDatabase(`corpus_${dbs++}`) });
    if (!r) continue;
    results[name] = r;
    if (!r.ingest.ok || !r.eval?.ok) failed = true;
  }
  pg?.stop();
  if (Object.keys(results).length > 0) writeResults(opts.label, results);
  return failed ? 1 : 0;
}

process.exitCode = await main();
