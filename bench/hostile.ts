/**
 * Hostile-file fuzz of `ragtune ingest` (issue 9 part 10), through the real CLI in a child process.
 *
 * Builds a temp project: good documents (fastify v5 docs from ../shared, else generated pages)
 * plus ≥ 1,000 hostile files from bench/lib/hostile-files.ts (binary with text extensions, invalid
 * UTF-8, UTF-16 with and without BOM, 50 MB single lines, empty files, 10k-deep HTML, 100k nested
 * spans, deep front matter, zip bombs, truncated and nested-table DOCX, corrupt PDF, link loops,
 * links out of the project and to /dev/zero and /proc, FIFOs, sockets, devices, dangling links,
 * odd names), and a secret file outside the project. Ingests twice (the second time after the
 * hostile set and some good pages changed) and checks: exit code, every selected entry indexed or
 * listed with a matching reason, good pages indexed and searchable, nothing from outside the
 * project in the index files or search. Reports wall time and the child's peak RSS
 * (/usr/bin/time -v) per run, and writes bench/results/hostile.json.
 *
 *   node --import tsx bench/hostile.ts [--copies 70] [--big-mb 50] [--max-file-mb 64]
 *
 * --max-file-mb raises chunking.maxFileBytes above the default 5 MB so the 50 MB lines are parsed,
 * not skipped by size: the worst case for memory.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeHostileSet, type HostileEntry } from "./lib/hostile-files.ts";
import { storedPath, type IngestStats } from "../src/ingest/index.ts";
import { openStore } from "../src/store/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(REPO, "bin/ragtune.js");
const FASTIFY = join(REPO, "../shared/datasets/fastify-docs/v5");

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const copies = arg("copies", 70);
const bigMb = arg("big-mb", 50);
const maxFileMb = arg("max-file-mb", 64);


interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  peakRssMb: number;
}

/** The CLI under /usr/bin/time -v: its "Maximum resident set size" is the child's peak RSS. */
function runCli(args: string[], cwd: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const timeFile = join(cwd, "..", `time-${Date.now()}.txt`);
    const child = spawn("/usr/bin/time", ["-v", "-o", timeFile, process.execPath, BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => {
      const time = existsSync(timeFile) ? readFileSync(timeFile, "utf8") : "";
      const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(time)?.[1] ?? NaN);
      resolve({ code: code ?? -1, stdout, stderr, wallMs: performance.now() - started, peakRssMb: kb / 1024 });
    });
  });
}

function goodPages(project: string): Map<string, string> {
  const markers = new Map<string, string>();
  const dest = join(project, "good");
  if (existsSync(FASTIFY)) {
    cpSync(FASTIFY, dest, { recursive: true });
    // A word only this page has, so "still searchable" can be checked page by page.
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`);
        else if (e.name.endsWith(".md")) {
          const marker = `fastifymark${markers.size}z`;
          writeFileSync(join(dir, e.name), `${readFileSync(join(dir, e.name), "utf8")}\n\nBench marker: ${marker}.\n`);
          markers.set(`${rel}/${e.name}`, marker);
        }
      }
    };
    walk(dest, "good");
  } else {
    mkdirSync(dest, { recursive: true });
    for (let i = 0; i < 40; i++) {
      const marker = `goodmark${i}z`;
      writeFileSync(join(dest, `page-${i}.md`), `# Page ${i}\n\nThis page documents the ${marker} option of the server.\n\n## Usage\n\nSet ${marker} in the config file.\n`);
      markers.set(`good/page-${i}.md`, marker);
    }
  }
  return markers;
}

function indexBytes(project: string): Buffer {
  const dir = join(project, ".ragtune");
  return Buffer.concat(readdirSync(dir).filter((f) => f.startsWith("index.db")).map((f) => readFileSync(join(dir, f))));
}

/** Every property the fuzz checks, as a list of problems (empty = all held). */
function check(stats: IngestStats, entries: HostileEntry[], project: string, good: Map<string, string>, secrets: string[], forbidden: string[]): string[] {
  const problems: string[] = [];
  const store = openStore(join(project, ".ragtune/index.db"));
  try {
    const docs = new Set(store.documents().map((d) => d.path));
    const skipped = new Map(stats.skipped.map((s) => [s.path, s.reason]));
    for (const s of stats.skipped) if (!s.reason.trim()) problems.push(`${s.path}: listed without a reason`);
    for (const e of entries) {
      const path = storedPath(e.name);
      const label = `${e.kind} ${JSON.stringify(path)}`;
      if (e.expect === "unselected") {
        if (docs.has(path) || skipped.has(path)) problems.push(`${label}: a hidden name was selected`);
        continue;
      }
      if (docs.has(path) === skipped.has(path)) problems.push(`${label}: ${docs.has(path) ? "both indexed and listed" : "neither indexed nor listed"}`);
      else if (e.expect === "indexed" && !docs.has(path)) problems.push(`${label}: expected indexed, skipped: ${skipped.get(path)}`);
      else if (e.expect === "skipped" && !skipped.has(path)) problems.push(`${label}: expected skipped, was indexed`);
      else if (e.expect === "skipped" && e.reason && !e.reason.test(skipped.get(path)!)) problems.push(`${label}: reason ${JSON.stringify(skipped.get(path))} does not match ${e.reason}`);
    }
    const index = Bm25Index.fromStore(store, { k1: 1.2, b: 0.75, headingBoost: 10 });
    for (const [path, marker] of good) {
      if (!docs.has(path)) problems.push(`good page ${path} not indexed (${skipped.get(path) ?? "not listed"})`);
      else if (index.search(marker, { k: 1 })[0]?.chunk.path !== path) problems.push(`good page ${path}: its marker ${marker} does not find it`);
    }
    for (const e of entries) {
      if (e.marker && e.expect === "indexed" && docs.has(storedPath(e.name)) && index.search(e.marker, { k: 1 })[0]?.chunk.path !== storedPath(e.name)) {
        problems.push(`${e.kind} ${JSON.stringify(storedPath(e.name))}: its marker does not find it`);
      }
    }
    const bytes = indexBytes(project);
    for (const s of [...secrets, ...forbidden]) if (bytes.includes(Buffer.from(s))) problems.push(`content from outside the project (${s}) is in the index files`);
    for (const s of secrets) if (index.search(s, { k: 3 }).length > 0) problems.push(`${s} is searchable`);
  } finally {
    store.close();
  }
  return problems;
}

function byReason(stats: IngestStats): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of stats.skipped) {
    const r = s.reason.replace(/^.*?: (?=[a-zA-Z(])/, "").replace(/[\d]+/g, "N").replace(/\/[^\s,)]+/g, "…").slice(0, 70);
    counts[r] = (counts[r] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), "ragtune-hostile-bench-"));
  const project = join(tmp, "project");
  const outside = join(tmp, "outside");
  mkdirSync(project);
  try {
    const t0 = performance.now();
    const good = goodPages(project);
    writeFileSync(
      join(project, "ragtune.yaml"),
      `name: hostile-bench\nsources:\n  - include: "good/**"\n    version: v5\n  - include: "hostile/**"\n    version: v1\nchunking:\n  maxFileBytes: ${maxFileMb * 1_000_000}\n`,
    );
    const set = await writeHostileSet(project, outside, { copies, bigLineBytes: bigMb * 1_000_000, bombBytes: 1_000_000_000, seed: 9 });
    const genMs = performance.now() - t0;
    const envSecret = `envsecret${process.pid}q`;
    const secrets = [...set.secrets, envSecret];
    const forbidden = ["root:x:0:0", "VmHWM:"];
    const env = { RAGTUNE_BENCH_SECRET: envSecret };
    console.log(`generated ${set.entries.length} hostile entries + ${good.size} good pages in ${(genMs / 1000).toFixed(1)} s (${copies} copies per class, ${bigMb} MB lines, maxFileBytes ${maxFileMb} MB)`);

    const runs: Record<string, unknown>[] = [];
    const report = async (label: string, entries: HostileEntry[]) => {
      const run = await runCli(["ingest", "--json"], project, env);
      let stats: IngestStats | undefined;
      const problems: string[] = [];
      try {
        stats = JSON.parse(run.stdout) as IngestStats;
      } catch {
        problems.push(`no JSON on stdout (exit ${run.code}): ${run.stderr.slice(0, 500)}`);
      }
      if (run.code !== 0) problems.push(`exit code ${run.code}: ${run.stderr.slice(0, 500)}`);
      if (/Maximum call stack|FATAL|Segmentation|out of memory/i.test(run.stderr)) problems.push(`crash output on stderr: ${run.stderr.slice(0, 300)}`);
      if (stats) problems.push(...check(stats, entries, project, good, secrets, forbidden));
      const search = await runCli(["search", "--json", set.secrets[0]], project, env);
      if (search.code !== 0 || JSON.parse(search.stdout || '{"hits":[1]}').hits.length !== 0) problems.push(`search for the outside secret: exit ${search.code}, ${search.stdout.slice(0, 200)}`);
      const row = {
        run: label,
        exitCode: run.code,
        wallSeconds: Number((run.wallMs / 1000).toFixed(1)),
        peakRssMb: Math.round(run.peakRssMb),
        entries: entries.length,
        goodPages: good.size,
        documents: stats?.documents,
        chunks: stats?.chunks,
        added: stats?.added,
        changed: stats?.changed,
        removed: stats?.removed,
        skippedListed: stats?.skipped.length,
        problems,
        skippedByReason: stats ? byReason(stats) : {},
      };
      runs.push(row);
      console.log(`\n${label}: exit ${run.code}, ${row.wallSeconds} s, peak RSS ${row.peakRssMb} MB; ${row.documents} documents / ${row.chunks} chunks; ${row.skippedListed} listed as not indexed; ${problems.length} problems`);
      for (const p of problems.slice(0, 40)) console.log(`  PROBLEM ${p}`);
      for (const [r, n] of Object.entries(row.skippedByReason).slice(0, 25)) console.log(`  ${String(n).padStart(5)}  ${r}`);
    };

    await report("first ingest", set.entries);

    // Change the set: a fifth of the hostile files go, indexed odd-name files become links out,
    // a new generation of hostile files arrives, and some good pages change.
    const entries = [...set.entries];
    const removable = entries.filter((e) => e.kind === "binary with a text extension" || e.kind === "truncated DOCX" || e.kind === "UTF-16 LE with BOM");
    for (const e of removable.filter((_, i) => i % 2 === 0)) {
      unlinkSync(Buffer.concat([Buffer.from(`${project}/`), e.name]));
      entries.splice(entries.indexOf(e), 1);
    }
    for (const e of entries.filter((x) => x.kind === "odd file name").slice(0, 5)) {
      const abs = Buffer.concat([Buffer.from(`${project}/`), e.name]);
      unlinkSync(abs);
      symlinkSync(join(outside, "secret.md"), abs);
      entries.splice(entries.indexOf(e), 1, { ...e, kind: "indexed file replaced by a link out", expect: "skipped", reason: /outside the project/, marker: undefined });
    }
    execFileSync("mkfifo", [join(project, "hostile/late-fifo.md")]);
    entries.push({ name: Buffer.from("hostile/late-fifo.md"), kind: "new FIFO", expect: "skipped", reason: /named pipe/ });
    const round2 = await writeHostileSet(project, outside, { copies: Math.max(1, Math.round(copies / 7)), bigLineBytes: 1_000_000, bombBytes: 100_000_000, seed: 10, tag: "r2", folder: "hostile/round2" });
    entries.push(...round2.entries);
    secrets.push(...round2.secrets, ...set.secrets);
    let n = 0;
    for (const [path, marker] of good) {
      if (n++ % 10 !== 0) continue;
      const changed = `${marker}changed`;
      writeFileSync(join(project, path), `${readFileSync(join(project, path), "utf8").replace(marker, changed)}`);
      good.set(path, changed);
    }
    await report("second ingest (changed hostile set)", entries);

    const out = join(REPO, "bench/results/hostile.json");
    mkdirSync(dirname(out), { recursive: true });
    const result = {
      command: `node --import tsx bench/hostile.ts --copies ${copies} --big-mb ${bigMb} --max-file-mb ${maxFileMb}`,
      generated: { hostileEntries: set.entries.length, secondRoundEntries: round2.entries.length, goodPages: good.size, goodSource: existsSync(FASTIFY) ? "fastify-docs v5" : "generated", bigLineMb: bigMb, maxFileMb },
      runs,
      ok: runs.every((r) => (r.problems as string[]).length === 0),
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${out}: ${result.ok ? "all checks held" : "PROBLEMS found"}`);
    if (!result.ok) process.exitCode = 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
