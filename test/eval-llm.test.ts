/**
 * End to end with real provider protocols: `ragtune eval` against local servers that speak the
 * OpenAI chat-completions API (generator and judge), started here. Asserts cost totals, the
 * response cache, dry-run estimates, --max-cost, repeats, judges and provider failures.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";
import { startLlmServer, type LlmServer, type ScriptedReply } from "./helpers/llm-server.ts";
import { loadConfig } from "../src/config/index.ts";
import { openProject, type Project } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { runEval } from "../src/evaluate/runner.ts";
import { readCaseResults } from "../src/evaluate/runs.ts";
import { estimateRun } from "../src/evaluate/estimate.ts";
import { BUILTIN_PRICES } from "../src/models/prices.ts";
import { JobFailure, InputError } from "../src/util/errors.ts";


/** A generator that answers by task, like a decent model would. */
function generatorReply(_i: number, body: any): ScriptedReply {
  const user: string = body.messages[body.messages.length - 1].content;
  if (user.includes("JSON Schema")) return { text: '{"email": "ada@example.com"}', usage: { input: 200, output: 10 } };
  if (user.includes("Labels:")) return { text: /charged twice/.test(user) ? "billing" : "bug_report", usage: { input: 120, output: 2 } };
  const question = /Question: (.*)/.exec(user)?.[1] ?? user;
  if (/refund/i.test(question)) return { text: "Annual plans can be refunded within 30 days of payment [1].", usage: { input: 300, output: 14 } };
  if (/trash/i.test(question)) return { text: "Deleted cards stay in the trash for 60 days [1].", usage: { input: 300, output: 12 } };
  return { text: "I don't know", usage: { input: 250, output: 4 } };
}

/** A judge that passes everything except relevance of the refund answer. */
function judgeReply(_i: number, body: any): ScriptedReply {
  const name: string = body.response_format?.json_schema?.name ?? "";
  const prompt = JSON.stringify(body.messages);
  if (name === "judge_faithfulness") return { text: JSON.stringify({ claims: [{ claim: "the answer", supported: true }], reasoning: "supported" }), usage: { input: 400, output: 30 } };
  if (name === "judge_policy") return { text: JSON.stringify({ verdict: "pass", violations: [], reasoning: "ok" }), usage: { input: 300, output: 20 } };
  const fail = name === "judge_relevance" && prompt.includes("Within how many days");
  return { text: JSON.stringify({ verdict: fail ? "fail" : "pass", score: fail ? 0.2 : 0.9, reasoning: "because" }), usage: { input: 300, output: 20 } };
}

async function setup(generatorUrl: string, extra = ""): Promise<{ root: string; project: Project }> {
  const root = makeTinyProject(
    `models:\n  generator: openai-compatible:local/gpt-4.1-mini\n  providers:\n    local:\n      baseUrl: ${generatorUrl}\n      maxRetries: 1\n${extra}`,
  );
  const project = openProject(loadConfig(join(root, "ragtune.yaml")));
  await ingestProject({ root, sources: project.config.sources, chunking: project.config.chunking, store: project.store });
  return { root, project };
}

const run = runCli;

const price = BUILTIN_PRICES["openai:gpt-4.1-mini"];
const costOf = (input: number, output: number) => (input * price.inputPerMTok + output * price.outputPerMTok) / 1e6;

test("an LLM run costs what the usage says; the cached re-run makes no call and costs $0", async () => {
  const server = await startLlmServer({ protocol: "openai", script: generatorReply });
  const { root, project } = await setup(server.url);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    const first = await runEval({ project, suite, variants: ["prompt-only", "rag"] });
    const calls = server.requests.length;
    // Identical prompts hit the cache even within a run (extraction gets no retrieved context, so
    // its rag prompt equals prompt-only's): every generation is a hit or a miss, misses are calls.
    assert.deepEqual(first.summary.cache, { hits: suite.cases.length * 2 - calls, misses: calls });
    assert.ok(calls >= suite.cases.length);
    const cases = readCaseResults(first.runDir);
    const expected = cases.filter((c) => !c.cached).reduce((a, c) => a + costOf(c.usage.inputTokens, c.usage.outputTokens), 0);
    assert.ok(expected > 0);
    assert.ok(Math.abs((first.summary.costUsd ?? -1) - expected) < 1e-12, `run cost ${first.summary.costUsd} = Σ usage × price ${expected}`);
    for (const v of first.summary.variants) {
      const own = cases.filter((c) => c.variant === v.name).reduce((a, c) => a + c.costUsd, 0);
      assert.ok(Math.abs(v.costUsd - own) < 1e-12);
    }
    assert.ok(cases.every((c) => c.generator === "openai-compatible:local/gpt-4.1-mini"));
    const refund = cases.find((c) => c.variant === "rag" && c.caseId === "refund-window")!;
    assert.equal(refund.passed, true, refund.output);
    assert.equal(refund.citations.length, 1, "the [1] marker became a citation");

    const second = await runEval({ project, suite, variants: ["prompt-only", "rag"] });
    assert.equal(server.requests.length, calls, "no request on the cached re-run");
    assert.deepEqual(second.summary.cache, { hits: suite.cases.length * 2, misses: 0 });
    assert.equal(second.summary.costUsd, 0);
    assert.deepEqual(
      second.summary.variants.map((v) => v.passRate),
      first.summary.variants.map((v) => v.passRate),
    );
    // The report carries the cache and per-variant cost.
    const summaryJson = JSON.parse(readFileSync(join(second.runDir, "summary.json"), "utf8"));
    assert.deepEqual(summaryJson.cache, { hits: suite.cases.length * 2, misses: 0 });
    assert.equal(typeof summaryJson.variants[0].costUsd, "number");
  } finally {
    project.close();
    await server.close();
  }
});

test("judges run on a separate model; verdicts become scores, failures, judge cost and a human kappa", async () => {
  const gen = await startLlmServer({ protocol: "openai", script: generatorReply });
  const judge = await startLlmServer({ protocol: "openai", script: judgeReply });
  const { root, project } = await setup(gen.url, `    judge:\n      baseUrl: ${judge.url}\n  judge: openai-compatible:judge/gpt-4.1\n`);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    const { summary, runDir } = await runEval({ project, suite, variants: ["rag"] });
    const cases = readCaseResults(runDir);
    const refund = cases.find((c) => c.caseId === "refund-window")!;
    assert.deepEqual(refund.judges?.map((j) => j.judge), ["correctness", "faithfulness", "relevance"]);
    assert.equal(refund.passed, false, "the relevance judge failed it");
    assert.equal(refund.scores.find((s) => s.name === "judge.relevance")?.pass, false);
    assert.ok((refund.judgeCostUsd ?? 0) > 0);
    const classify = cases.find((c) => c.caseId === "route-billing")!;
    assert.equal(classify.judges, undefined, "classify cases are never LLM-judged");
    assert.equal(summary.judge?.model, "openai-compatible:judge/gpt-4.1");
    const v = summary.variants[0];
    assert.equal(v.judge?.byJudge.relevance?.judged, 2);
    assert.equal(v.judge?.byJudge.relevance?.passed, 1);
    const judgeCalls = judge.requests.length;
    assert.equal(judgeCalls, cases.reduce((n, c) => n + (c.judges?.length ?? 0), 0));
    assert.ok((summary.costUsd ?? 0) > v.costUsd, "the run total includes judging");
  } finally {
    project.close();
    await gen.close();
    await judge.close();
  }
});

test("judging with the model under test is refused unless allowed", async () => {
  const gen = await startLlmServer({ protocol: "openai", script: generatorReply });
  const { root, project } = await setup(gen.url, `  judge: openai-compatible:local/gpt-4.1-mini\n`);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    await assert.rejects(runEval({ project, suite, variants: ["rag"] }), (e: Error) => e instanceof InputError && /--allow-self-judge/.test(e.message));
    assert.equal(gen.requests.length, 0);
  } finally {
    project.close();
    await gen.close();
  }
});

test("a judge that never answers in shape is judge_error: not passed, not NaN", async () => {
  const gen = await startLlmServer({ protocol: "openai", script: generatorReply });
  const judge = await startLlmServer({ protocol: "openai", script: () => ({ text: "I think it is fine." }) });
  const { root, project } = await setup(gen.url, `    judge:\n      baseUrl: ${judge.url}\n  judge: openai-compatible:judge/gpt-4.1\nevaluate:\n  judges: [correctness]\n`);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    const { summary, runDir } = await runEval({ project, suite, variants: ["rag"] });
    const trash = readCaseResults(runDir).find((c) => c.caseId === "trash")!;
    const score = trash.scores.find((s) => s.name === "judge.correctness")!;
    assert.equal(score.error, "judge_error");
    assert.equal(score.pass, false);
    assert.equal(score.value, 0);
    assert.equal(trash.judges?.[0].attempts, 3);
    assert.equal(summary.variants[0].judge?.byJudge.correctness?.errors, 2);
    assert.ok(Number.isFinite(summary.variants[0].passRate));
  } finally {
    project.close();
    await gen.close();
    await judge.close();
  }
});

test("--repeats N records N results per case and reports pass^N and agreement", async () => {
  // The trash answer flips between repeats: right, then abstaining.
  let trashCalls = 0;
  const server = await startLlmServer({
    protocol: "openai",
    script: (i, body) => {
      const user: string = body.messages[body.messages.length - 1].content;
      if (user.includes("Question: How long are deleted cards")) return trashCalls++ % 2 === 0 ? generatorReply(i, body) : { text: "I don't know" };
      return generatorReply(i, body);
    },
  });
  const { root, project } = await setup(server.url);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    const { summary, runDir } = await runEval({ project, suite, variants: ["rag"], repeats: 2, concurrency: 1 });
    const cases = readCaseResults(runDir);
    assert.equal(cases.length, suite.cases.length * 2);
    const trash = cases.filter((c) => c.caseId === "trash");
    assert.deepEqual(trash.map((c) => [c.repeat ?? 0, c.passed]), [[0, true], [1, false]], JSON.stringify(trash.map((c) => [c.output, c.scores])));
    const v = summary.variants[0];
    assert.equal(v.repeats?.n, 2);
    assert.ok(v.repeats!.passAll < v.passRate + 1e-9);
    assert.ok(v.repeats!.agreement < 1, "the trash case disagrees with itself");
    assert.equal(summary.repeats, 2);
  } finally {
    project.close();
    await server.close();
  }
});

test("a 401 stops the run at once with a clear message; nothing is retried", async () => {
  const server = await startLlmServer({ protocol: "openai", script: () => ({ status: 401, body: { error: { message: "Incorrect API key provided" } } }) });
  const { root, project } = await setup(server.url);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    await assert.rejects(runEval({ project, suite, variants: ["rag"], concurrency: 1 }), (e: Error) => e instanceof JobFailure && /401/.test(e.message) && /--resume/.test(e.message));
    assert.equal(server.requests.length, 1, "no retry, no further case");
    // Concurrent cases: those already in flight finish, no new one starts.
    await assert.rejects(runEval({ project, suite, variants: ["rag"], concurrency: 3 }), JobFailure);
    assert.ok(server.requests.length <= 1 + 3, `${server.requests.length} requests`);
  } finally {
    project.close();
    await server.close();
  }
});

test("429 with Retry-After and a 500 are retried; the run completes", async () => {
  let n = 0;
  const server = await startLlmServer({
    protocol: "openai",
    script: (i, body) => {
      n++;
      if (n === 1) return { status: 429, headers: { "retry-after": "0" }, body: { error: { message: "slow down" } } };
      if (n === 2) return { status: 500, body: { error: { message: "boom" } } };
      return generatorReply(i, body);
    },
  });
  const { root, project } = await setup(server.url, "");
  try {
    project.config.models.providers.local.maxRetries = 2;
    const suite = loadSuite(join(root, "suite.yaml"));
    const { summary } = await runEval({ project, suite, variants: ["prompt-only"] });
    assert.equal(summary.variants[0].cases, suite.cases.length);
    assert.equal(server.requests.length, suite.cases.length + 2);
  } finally {
    project.close();
    await server.close();
  }
});

test("the estimate counts real prompt tokens; --max-cost refuses a run it cannot afford, before any call", async () => {
  const server = await startLlmServer({ protocol: "openai", script: generatorReply });
  const { root, project } = await setup(server.url);
  try {
    const suite = loadSuite(join(root, "suite.yaml"));
    const estimate = await estimateRun({ project, suite, variants: ["prompt-only", "long-context", "rag"], cases: suite.cases, repeats: 1 });
    assert.equal(server.requests.length, 0, "the estimate calls no model");
    const [po, lc, rag] = estimate.variants;
    assert.equal(po.calls, suite.cases.length);
    assert.ok(lc.inputTokens > rag.inputTokens && rag.inputTokens > po.inputTokens, "long-context > rag > prompt-only prompts");
    assert.ok(Math.abs(po.costUsd - costOf(po.inputTokens, po.outputTokens)) < 1e-12);
    assert.ok(po.maxCostUsd >= po.costUsd);
    await assert.rejects(runEval({ project, suite, variants: ["rag"], maxCostUsd: 1e-7 }), (e: Error) => e instanceof JobFailure && /exceeds --max-cost/.test(e.message));
    assert.equal(server.requests.length, 0);
  } finally {
    project.close();
    await server.close();
  }
});

test("CLI: openai: honours OPENAI_BASE_URL; --dry-run --json prints per-variant calls, tokens and cost and calls nothing", async () => {
  const server = await startLlmServer({ protocol: "openai", script: generatorReply });
  const root = makeTinyProject();
  const env = { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test" };
  try {
    assert.equal((await run(["ingest"], root)).code, 0);
    const dry = await run(["eval", "--model", "openai:gpt-4.1-mini", "--dry-run", "--json", "--variants", "prompt-only,rag"], root, env);
    assert.equal(dry.code, 0, dry.stderr);
    const out = JSON.parse(dry.stdout);
    assert.deepEqual(out.variants.map((v: any) => v.name), ["prompt-only", "rag"]);
    for (const v of out.variants) {
      for (const k of ["calls", "inputTokens", "outputTokens", "costUsd"]) assert.equal(typeof v[k], "number", k);
      assert.equal(v.calls, 6);
      assert.ok(v.costUsd > 0);
    }
    assert.equal(server.requests.length, 0);

    const ask = await run(["ask", "Within how many days can I get a refund on an annual plan?", "--model", "openai:gpt-4.1-mini", "--json"], root, env);
    assert.equal(ask.code, 0, ask.stderr);
    assert.equal(JSON.parse(ask.stdout).generator, "openai:gpt-4.1-mini");
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].headers.authorization, "Bearer sk-test");

    const capped = await run(["eval", "--model", "openai:gpt-4.1-mini", "--max-cost", "0.0000001", "--variants", "rag"], root, env);
    assert.equal(capped.code, 1);
    assert.match(capped.stderr, /exceeds --max-cost/);
    assert.equal(server.requests.length, 1, "refused before any call");
  } finally {
    await server.close();
  }
});

test("cases only a judge can score are left out (and listed) when no judge is set", async () => {
  const server = await startLlmServer({ protocol: "openai", script: generatorReply });
  const { root, project } = await setup(server.url);
  try {
    const { appendFileSync } = await import("node:fs");
    appendFileSync(join(root, "suite.yaml"), `  - id: tone-only\n    task: qa\n    input: My export failed twice and I am furious.\n    tone:\n      rubric: calm, apologetic, offers a next step\n`);
    const suite = loadSuite(join(root, "suite.yaml"));
    assert.ok(suite.cases.some((c) => c.id === "tone-only"));
    const { summary, runDir } = await runEval({ project, suite, variants: ["rag"] });
    assert.deepEqual(summary.skipped?.caseIds, ["tone-only"]);
    assert.match(summary.skipped!.reason, /judge/);
    assert.ok(!readCaseResults(runDir).some((c) => c.caseId === "tone-only"));
  } finally {
    project.close();
    await server.close();
  }
});

test("CLI: ask --stream with anthropic: (ANTHROPIC_BASE_URL) prints the streamed answer and its citations", async () => {
  const server = await startLlmServer({ protocol: "anthropic", script: [{ stream: ["Annual plans can be refunded ", "within 30 days [1]."] }] });
  const root = makeTinyProject();
  try {
    assert.equal((await run(["ingest"], root)).code, 0);
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: "sk-ant-test" };
    const ask = await run(["ask", "Within how many days can I get a refund on an annual plan?", "--model", "anthropic:claude-sonnet-4", "--stream"], root, env);
    assert.equal(ask.code, 0, ask.stderr);
    assert.match(ask.stdout, /Annual plans can be refunded within 30 days \[1\]\./);
    assert.match(ask.stdout, /\[1\] docs\/v[12]\/billing\.md/);
    assert.match(ask.stdout, /answered by anthropic:claude-sonnet-4/);
    assert.equal(server.requests[0].path, "/v1/messages");
    assert.equal(server.requests[0].body.stream, true);
    assert.equal(server.requests[0].headers["x-api-key"], "sk-ant-test");
  } finally {
    await server.close();
  }
});

test("CLI: --dry-run needs no API key (it creates no client) and prices the real prompts", async () => {
  const root = makeTinyProject();
  assert.equal((await run(["ingest"], root)).code, 0);
  const dry = await run(["eval", "--model", "openai:gpt-4.1-mini", "--dry-run", "--json", "--variants", "rag"], root, { OPENAI_API_KEY: "", OPENAI_BASE_URL: "" });
  assert.equal(dry.code, 0, dry.stderr);
  const out = JSON.parse(dry.stdout);
  assert.equal(out.generator, "openai:gpt-4.1-mini");
  assert.ok(out.totals.costUsd > 0 && out.totals.maxCostUsd >= out.totals.costUsd);
  // The real run still refuses without a key, clearly.
  const real = await run(["eval", "--model", "openai:gpt-4.1-mini", "--variants", "rag"], root, { OPENAI_API_KEY: "", OPENAI_BASE_URL: "" });
  assert.equal(real.code, 2);
  assert.match(real.stderr, /OPENAI_API_KEY/);
});
