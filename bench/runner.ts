/**
 * Evaluation runner benchmarks (issue 4 targets):
 *
 *   node --import tsx bench/runner.ts [--cases 100]
 *
 * 1. Runner overhead per case, model excluded: the demo project (examples/acme-support, copied to a
 *    temp folder and ingested) runs `--cases` suite cases × 3 variants (prompt-only, long-context,
 *    rag) through `runEval` with an LLM generator over an in-process provider that answers at once.
 *    Everything the runner does per case is timed — retrieval, prompt building, parsing, scoring,
 *    failure labelling, cost, the cases.jsonl append — and divided by the cases run.
 *    Target: < 5 ms per case.
 * 2. A fully cached re-run: the same cases × 3 variants against a local OpenAI-compatible HTTP
 *    server (started here, answering after 20 ms) with the response cache on: a cold run fills the
 *    cache, then a second run is timed; every call must be a cache hit and the run must cost $0.
 *    Target: < 2 s.
 *
 * Writes bench/results/runner.json.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { tmpdir, cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { LlmGenerator } from "../src/models/llm-generator.ts";
import type { ChatMessage, ChatProvider, ChatResult } from "../src/models/index.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const CASES = Number(opt("--cases", "100"));
const VARIANTS = ["prompt-only", "long-context", "rag"] as const;

/** A plausible reply per task, so parsing and scoring do real work. */
function reply(messages: ChatMessage[]): string {
  const user = messages[messages.length - 1].content;
  if (user.includes("JSON Schema")) return '{"name": "Ada", "plan": "Team"}';
  if (user.includes("Labels:")) return /- ([\w-]+)/.exec(user)?.[1] ?? "billing";
  return "Deleted cards are kept for 30 days in the trash [1].";
}

const instant: ChatProvider = {
  id: "bench:instant",
  async chat(messages: ChatMessage[]): Promise<ChatResult> {
    return { text: reply(messages), usage: { inputTokens: 100, outputTokens: 12 }, model: "instant" };
  },
};

async function demoProject(config?: (yaml: string) => string): Promise<{ dir: string; open: () => Project }> {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-bench-runner-"));
  cpSync(join(ROOT, "examples/acme-support"), dir, { recursive: true, filter: (src) => !/[/\\](runs|\.ragtune)([/\\]|$)/.test(src) });
  if (config) {
    const { readFileSync } = await import("node:fs");
    writeFileSync(join(dir, "ragtune.yaml"), config(readFileSync(join(dir, "ragtune.yaml"), "utf8")));
  }
  const open = () => openProject(loadConfig(join(dir, "ragtune.yaml")));
  const project = open();
  await ingestProject({ root: dir, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  project.close();
  return { dir, open };
}

function suiteOf(project: Project) {
  const suite = loadSuite(resolve(project.root, project.config.suite));
  return { ...suite, cases: suite.cases.slice(0, CASES) };
}

// 1. overhead
const overhead = await (async () => {
  const { dir, open } = await demoProject();
  const project = open();
  const generator = new LlmGenerator(instant, { id: "bench:instant" });
  project.generator = () => generator;
  const suite = suiteOf(project);
  // Warm-up run (index build, retrieval pipeline, JIT), then the timed run.
  await runEval({ project, suite, variants: [...VARIANTS] });
  const t0 = performance.now();
  const { summary } = await runEval({ project, suite, variants: [...VARIANTS] });
  const ms = performance.now() - t0;
  project.close();
  rmSync(dir, { recursive: true, force: true });
  const cases = summary.variants.reduce((n, v) => n + v.cases, 0);
  return { cases, totalMs: ms, msPerCase: ms / cases };
})();
console.log(`runner overhead (model excluded): ${overhead.msPerCase.toFixed(2)} ms/case over ${overhead.cases} case runs (${overhead.totalMs.toFixed(0)} ms; target < 5 ms)`);

// 2. cached re-run against a local OpenAI-compatible server
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const { messages, model } = JSON.parse(body) as { messages: ChatMessage[]; model: string };
    setTimeout(() => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          id: "x",
          object: "chat.completion",
          model,
          choices: [{ index: 0, message: { role: "assistant", content: reply(messages) }, finish_reason: "stop" }],
          usage: { prompt_tokens: 100, completion_tokens: 12, total_tokens: 112 },
        }),
      );
    }, 20);
  });
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
const cached = await (async () => {
  const { dir, open } = await demoProject((yaml) =>
    yaml.replace(
      /^models:\n  generator: .*$/m,
      `models:\n  generator: openai-compatible:bench/gpt-4.1-mini\n  providers:\n    bench:\n      baseUrl: ${base}\n      maxConcurrency: 8`,
    ),
  );
  const project = open();
  const suite = suiteOf(project);
  const t0 = performance.now();
  const cold = await runEval({ project, suite, variants: [...VARIANTS] });
  const coldMs = performance.now() - t0;
  const t1 = performance.now();
  const warm = await runEval({ project, suite, variants: [...VARIANTS] });
  const warmMs = performance.now() - t1;
  project.close();
  // The same through the CLI, process start included (the full suite: cold run, then timed warm run).
  const cli = (): Promise<number> =>
    new Promise((done, fail) => {
      const t = performance.now();
      const child = spawn(process.execPath, [join(ROOT, "bin/ragtune.js"), "eval", "--variants", VARIANTS.join(","), "--json"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
      child.on("close", (code) => (code === 0 ? done(performance.now() - t) : fail(new Error(`ragtune eval exited ${code}`))));
    });
  await cli();
  const cliWarmMs = await cli();
  rmSync(dir, { recursive: true, force: true });
  return {
    cliWarmMs,
    cliCaseRuns: loadSuite(join(ROOT, "examples/acme-support/suite.yaml")).cases.length * VARIANTS.length,
    caseRuns: warm.summary.variants.reduce((n, v) => n + v.cases, 0),
    coldMs,
    coldCache: cold.summary.cache,
    coldCostUsd: cold.summary.costUsd,
    warmMs,
    warmCache: warm.summary.cache,
    warmCostUsd: warm.summary.costUsd,
  };
})();
server.close();
console.log(`cached re-run through the CLI (process start included): ${cached.cliCaseRuns} case runs in ${(cached.cliWarmMs / 1000).toFixed(2)} s`);
console.log(
  `cached re-run: ${cached.caseRuns} case runs in ${(cached.warmMs / 1000).toFixed(2)} s (target < 2 s); cache ${cached.warmCache?.hits} hits / ${cached.warmCache?.misses} misses, cost $${(cached.warmCostUsd ?? 0).toFixed(4)}` +
    ` — cold run ${(cached.coldMs / 1000).toFixed(2)} s, ${cached.coldCache?.misses} misses, $${(cached.coldCostUsd ?? 0).toFixed(4)}`,
);

mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench/results/runner.json"),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg(), cases: CASES, overhead, cached }, null, 2) + "\n",
);
