/**
 * `ragtune bench retrieval`: ragtune's retrieval measured against the search libraries people use
 * (`--beir DIR`), or ragtune's own configurations × chunking strategies on a project's suite
 * (`--suite FILE`). Thin: parse flags, call src/bench/retrieval.ts, print.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../../config/index.ts";
import {
  benchRetrievalBeir,
  benchRetrievalSuite,
  CHUNKING_STRATEGIES,
  DEFAULT_SUITE_GRID,
  type BeirBenchResult,
  type ChunkingStrategy,
  type RetrieverBenchResult,
  type SuiteBenchResult,
  type SuiteGridEntry,
  timingLabel,
} from "../../bench/retrieval.ts";
import { PEER_NAMES } from "../../bench/peers/index.ts";
import { writeSemanticVerdict } from "../../bench/semantic-verdict.ts";
import { InputError } from "../../util/errors.ts";
import { bold, dim, progress, progressDone, table } from "../output.ts";
import { printJson } from "./common.ts";
import { existingFileArg, existingFolderArg, hintFor, intArg, listArg, textArg } from "../options.ts";

interface BenchRetrievalOpts {
  beir?: string;
  suite?: string;
  split: string;
  compare?: string[];
  grid?: string;
  strategies?: string[];
  repeat?: number;
  json?: boolean;
}

/** Add `bench` with its `retrieval` subcommand to the program. */
export function registerBench(program: Command): void {
  const bench = program.command("bench").description("benchmarks: retrieval quality and speed, side by side with other libraries");
  bench
    .command("retrieval")
    .description(
      "retrieval benchmark: --beir DIR compares ragtune with search libraries on a BEIR dataset; --suite FILE compares retrieval configurations × chunking strategies on this project's suite",
    )
    .option("--beir <dir>", "a dataset folder in BEIR layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)", existingFolderArg)
    .option("--suite <file>", "a suite file with gold `sources`, run against the project (--config)", existingFileArg)
    .option("--split <name>", "--beir: qrels split, the file qrels/<name>.tsv", textArg("a split name"), "test")
    .option("--compare <libs>", `--beir: libraries to compare with, comma-separated: ${PEER_NAMES.join(", ")}`, listArg(PEER_NAMES, "library"))
    .option("--repeat <n>", "--beir: timed passes over the queries, 1–100 (default 1: every query timed once, unseen); N > 1 reports each query's fastest pass, a warm-cache figure, labelled so", intArg(1, 100))
    .option("--grid <file>", "--suite: retrieval configurations to measure (YAML/JSON list of {name, retrieval: {...overrides}}); default: a built-in grid", existingFileArg)
    .option(
      "--strategies <names>",
      `--suite: chunking strategies, comma-separated (default: ${CHUNKING_STRATEGIES.join(", ")})`,
      listArg(CHUNKING_STRATEGIES, "chunking strategy"),
    )
    .option("--json", "print one JSON object")
    .addHelpText(
      "after",
      `
Give exactly one of --beir or --suite; --split, --compare and --repeat go with --beir, --grid and --strategies with --suite.
Retrieval settings come from --config FILE (its \`retrieval\` section; defaults without one).
Run under \`node --expose-gc\` for the steadiest memory figures (gc is enabled at runtime otherwise).`,
    )
    .action(benchRetrievalCommand);
}

export async function benchRetrievalCommand(opts: BenchRetrievalOpts, cmd: Command): Promise<void> {
  if (opts.beir !== undefined && opts.suite !== undefined) throw new InputError("give exactly one of --beir DIR or --suite FILE, not both");
  if (opts.beir === undefined && opts.suite === undefined) throw new InputError("give exactly one of --beir DIR or --suite FILE");
  if (opts.beir === undefined && cmd.getOptionValueSource("split") === "cli") throw new InputError("--split applies to --beir only");
  if (opts.beir !== undefined) {
    const qrels = join(opts.beir, "qrels");
    if (!existsSync(join(qrels, `${opts.split}.tsv`))) {
      const splits = existsSync(qrels) ? readdirSync(qrels).filter((f) => f.endsWith(".tsv")).map((f) => f.slice(0, -4)) : [];
      throw new InputError(
        `--split: ${join(qrels, `${opts.split}.tsv`)} does not exist${hintFor(opts.split, splits)}` + (splits.length ? `; splits in ${opts.beir}: ${splits.join(", ")}` : `; ${opts.beir} has no qrels/*.tsv`),
      );
    }
  }
  const { config: configPath } = cmd.optsWithGlobals() as { config?: string };
  const showProgress = !opts.json;

  if (opts.beir !== undefined) {
    if (opts.grid !== undefined || opts.strategies !== undefined) throw new InputError("--grid and --strategies apply to --suite only");
    const config = configPath !== undefined ? loadConfig(configPath).config : undefined;
    const result = await benchRetrievalBeir({
      dir: opts.beir,
      split: opts.split,
      compare: opts.compare ?? [],
      config,
      repeat: opts.repeat,
      onProgress: showProgress ? (name) => progress(`bench: indexing and querying with ${name}…`) : undefined,
    });
    progressDone();
    if (opts.json) printJson(result);
    else console.log(formatBeirResult(result));
    return;
  }

  if (opts.compare !== undefined || opts.repeat !== undefined) {
    throw new InputError("--compare and --repeat apply to --beir only (the suite benchmark compares ragtune configurations)");
  }
  const project = loadConfig(configPath);
  const strategies = opts.strategies as ChunkingStrategy[] | undefined;
  const result = await benchRetrievalSuite({
    project,
    suite: opts.suite!,
    grid: opts.grid !== undefined ? readGrid(opts.grid) : DEFAULT_SUITE_GRID,
    strategies,
    onProgress: showProgress ? (text) => progress(`bench: ${text}`) : undefined,
  });
  progressDone();
  if (result.semantic) writeSemanticVerdict(project.root, project.config.storeDir, result.semantic, opts.suite!);
  if (opts.json) printJson(result);
  else console.log(formatSuiteResult(result));
}

/** A grid file: a YAML or JSON list of `{name, retrieval}` entries. */
export function readGrid(file: string): SuiteGridEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read grid file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InputError(`${file}: not valid ${extname(file).toLowerCase() === ".json" ? "JSON" : "YAML"}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!Array.isArray(data) || data.length === 0) throw new InputError(`${file}: expected a non-empty list of {name, retrieval} entries`);
  return data.map((e, i) => {
    const where = `${file}: entry ${i + 1}`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw new InputError(`${where}: expected an object {name, retrieval}`);
    const { name, retrieval, ...rest } = e as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new InputError(`${where}: unknown key '${extra[0]}' (expected name, retrieval)`);
    if (typeof name !== "string" || !name.trim()) throw new InputError(`${where}: field 'name' must be a non-empty string`);
    if (retrieval !== undefined && (typeof retrieval !== "object" || retrieval === null || Array.isArray(retrieval))) {
      throw new InputError(`${where}: field 'retrieval' must be an object of retrieval settings`);
    }
    return { name, retrieval: retrieval as SuiteGridEntry["retrieval"] };
  });
}

const f3 = (x: number) => x.toFixed(3);
const f1 = (x: number) => x.toFixed(1);

/** The BEIR comparison as an aligned table, then each library's settings. */
export function formatBeirResult(r: BeirBenchResult): string {
  const all: RetrieverBenchResult[] = [r.ragtune, ...r.peers];
  const label = (x: RetrieverBenchResult) => `${x.name} ${x.version}`;
  const rows = all.map((x) => [
    label(x),
    f3(x.ndcg10),
    f3(x.recall10),
    f3(x.recall100),
    f3(x.mrr10),
    x.qps.toFixed(0),
    f3(x.latencyMs.p50),
    f3(x.latencyMs.p95),
    x.indexMs.toFixed(0),
    f1(x.rssMb),
    f1(x.heapMb),
  ]);
  const lines = [
    bold(`${r.dataset} (${r.split}): ${r.documents} documents, ${r.queries} judged queries, top ${r.depth}; timing: ${r.timing ?? timingLabel(r.repeat)}`),
    table(["library", "nDCG@10", "R@10", "R@100", "MRR@10", "QPS", "p50 ms", "p95 ms", "index ms", "RSS MB", "heap MB"], rows),
    "",
    bold("settings"),
    ...all.map((x) => `  ${label(x)}: ${x.settings}`),
  ];
  const fastest = [...r.peers].sort((a, b) => b.qps - a.qps)[0];
  if (fastest) {
    const speedup = fastest.qps > 0 ? r.ragtune.qps / fastest.qps : Infinity;
    const dq = r.ragtune.ndcg10 - fastest.ndcg10;
    lines.push("", `ragtune vs the fastest peer (${fastest.name}): ${speedup.toFixed(1)}× QPS, nDCG@10 ${dq >= 0 ? "+" : ""}${f3(dq)}`);
  }
  lines.push(dim(`method: ${r.method}; ${r.env.node} ${r.env.platform}${r.env.gc === "unavailable" ? ", gc unavailable (memory figures include garbage)" : ""}`));
  return lines.join("\n");
}

const metric = (x: number | null) => (x === null ? "—" : f3(x));

/** The suite grid as one table (strategy × configuration), then what could not run and the best row. */
export function formatSuiteResult(r: SuiteBenchResult): string {
  const rows = r.rows.map((row) => [
    row.strategy,
    row.config,
    row.chunks,
    metric(row.recallAtK),
    metric(row.hitAtK),
    metric(row.mrr),
    metric(row.recall20),
    row.searchMs === null ? "—" : f3(row.searchMs),
  ]);
  const lines = [
    bold(`${r.project}: ${r.cases} suite cases with gold sources, k = ${r.k}`),
    table(["chunking", "config", "chunks", `recall@${r.k}`, `hit@${r.k}`, "MRR", "recall@20", "ms/query"], rows),
  ];
  // One line per distinct reason (the same setting is unavailable under every strategy).
  const notes = new Map<string, string[]>();
  for (const row of r.rows) {
    const key = row.error ? `not run: ${row.error}` : `${row.config}: ${row.retriever}`;
    const label = row.error ? row.config : "";
    if (!notes.has(key)) notes.set(key, []);
    if (label && !notes.get(key)!.includes(label)) notes.get(key)!.push(label);
  }
  lines.push("");
  for (const [key, labels] of notes) lines.push(dim(`  ${labels.length ? `${labels.join(", ")} — ` : ""}${key}`));
  if (r.best) lines.push("", `best recall@${r.k}: chunking.strategy=${r.best.strategy}, retrieval '${r.best.config}'`);
  if (r.semantic) lines.push(r.semantic.advice);
  lines.push(dim("recall@k, hit@k and MRR are computed over the k chunks `ragtune ask/eval` would retrieve (filters and version collapsing as configured)."));
  return lines.join("\n");
}
