import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, writeFileSync, readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";


const run = runCli;

test("--help lists every command; unknown options are usage errors (exit 2)", async () => {
  const cwd = tmpdir();
  const help = await run(["--help"], cwd);
  assert.equal(help.code, 0);
  for (const c of ["init", "ingest", "search", "ask", "eval", "runs", "decide", "report", "demo"]) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
  const evalHelp = await run(["eval", "--help"], cwd);
  assert.match(evalHelp.stdout, /--gate/);
  assert.match(evalHelp.stdout, /--resume/);
  const bad = await run(["search", "--nope", "x"], cwd);
  assert.equal(bad.code, 2);
  const missing = await run(["ingest"], mkdtempSync(join(tmpdir(), "ragtune-empty-")));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no ragtune\.yaml .* run `ragtune init`/);
});

test("init writes a valid starter project and refuses to overwrite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-init-"));
  const first = await run(["init"], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(dir, "ragtune.yaml")) && existsSync(join(dir, "suite.yaml")));
  const again = await run(["init"], dir);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exist.*--force/);
});

test("ingest → search → ask → eval → decide → report on a small project", async () => {
  const root = makeTinyProject();
  const ingest = await run(["ingest", "--json"], root);
  assert.equal(ingest.code, 0, ingest.stderr);
  const stats = JSON.parse(ingest.stdout);
  assert.equal(stats.added, 3);
  const again = JSON.parse((await run(["ingest", "--json"], root)).stdout);
  assert.equal(again.unchanged, 3);
  assert.equal(again.added, 0);

  const search = JSON.parse((await run(["search", "refund annual plan", "--json", "-k", "2", "--version-label", "v2"], root)).stdout);
  assert.equal(search.hits[0].path, "docs/v2/billing.md");
  assert.ok(search.hits.every((h: { version: string }) => h.version === "v2"));

  const byTag = JSON.parse((await run(["search", "days", "--json", "--tag", "payments"], root)).stdout);
  assert.ok(byTag.hits.length > 0 && byTag.hits.every((h: { path: string }) => h.path === "docs/v2/billing.md"), "tag filter");
  const byPath = JSON.parse((await run(["search", "days", "--json", "--path", "docs/v1/**"], root)).stdout);
  assert.ok(byPath.hits.length > 0 && byPath.hits.every((h: { path: string }) => h.path.startsWith("docs/v1/")), "path filter");

  const ask = await run(["ask", "How long are deleted cards kept in the trash?"], root);
  assert.equal(ask.code, 0, ask.stderr);
  assert.match(ask.stdout, /60 days.*\[1\]/);
  const cite = /\[1\] docs\/v2\/trash\.md › Trash(?: › Retention)? \(lines (\d+)–(\d+)\)/.exec(ask.stdout);
  assert.ok(cite, ask.stdout);
  const lines = readFileSync(join(root, "docs/v2/trash.md"), "utf8").split("\n").slice(Number(cite[1]) - 1, Number(cite[2]));
  assert.ok(lines.join(" ").includes("60 days"), "the cited line range holds the quoted sentence");
  assert.match(ask.stdout, /answered by offline:extractive/);
  const abstain = await run(["ask", "Which tape drives work with a Commodore 64?"], root);
  assert.match(abstain.stdout, /I don't know/);

  // prompt-only has no documents: it cannot answer the tiny suite's knowledge questions.
  const evalRun = await run(["eval", "--gate", "prompt-only=0.99"], root);
  assert.equal(evalRun.code, 1, "the gate fails: prompt-only does not pass 99% of the tiny suite");
  assert.match(evalRun.stderr, /gate failed: prompt-only pass rate/);
  assert.match(evalRun.stdout, /prompt-only/);
  assert.match(evalRun.stdout, /fine-tuned: not configured/);

  const badGate = await run(["eval", "--gate", "rag=high"], root);
  assert.equal(badGate.code, 2);

  const decide = await run(["decide", "--json"], root);
  assert.equal(decide.code, 0, decide.stderr);
  const d = JSON.parse(decide.stdout);
  assert.ok(["prompt-only", "long-context", "rag", "fine-tune", "hybrid", "stronger-model"].includes(d.architecture));
  assert.ok(d.rationale.length > 0);

  const report = await run(["report"], root);
  assert.equal(report.code, 0, report.stderr);
  const path = /wrote (.*report\.json)/.exec(report.stdout)![1];
  const json = JSON.parse(readFileSync(join(root, path), "utf8"));
  assert.equal(json.generator.id, "offline:extractive");
  assert.equal(json.generator.offline, true);
  // report.html beside it, with the same recommendation and the run's expected answers (the suite is unchanged).
  const html = readFileSync(join(root, /wrote (.*report\.html)/.exec(report.stdout)![1]), "utf8");
  assert.ok(html.includes(`<span class="arch">${json.recommendation.architecture}</span>`));
  assert.doesNotMatch(html, /Expected answers are not shown/);

  const runs = await run(["runs", "--json"], root);
  assert.equal(JSON.parse(runs.stdout).length, 1, "a rejected --gate starts no run");
});

test("a bad config is exit 2 with file:line:key", async () => {
  const root = makeTinyProject("retrieval:\n  k: many\n");
  const r = await run(["ingest"], root);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ragtune\.yaml:\d+: retrieval\.k:/);
});

test("ask --model openai-compatible uses the provider (local test server) and names it", async () => {
  let body: any;
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      body = JSON.parse(raw);
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          choices: [{ message: { role: "assistant", content: "Deleted cards are kept for 60 days [1]." } }],
          usage: { prompt_tokens: 321, completion_tokens: 12 },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const root = makeTinyProject(`models:\n  providers:\n    local:\n      baseUrl: http://127.0.0.1:${port}/v1\n      apiKeyEnv: TINY_KEY\n`);
    await run(["ingest"], root);
    const r = await run(["ask", "How long are deleted cards kept?", "--model", "openai-compatible:local/tiny-model", "--json"], root, { TINY_KEY: "k-123" });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.generator, "openai-compatible:local/tiny-model");
    assert.equal(out.citations[0].path, "docs/v2/trash.md");
    assert.equal(out.usage.inputTokens, 321);
    assert.equal(body.model, "tiny-model");
    assert.match(JSON.stringify(body.messages), /60 days/, "retrieved context was sent to the model");
  } finally {
    server.close();
  }
});

test("hybrid mode: ingest embeds only new chunks, ask and eval run through the fused pipeline", async () => {
  const root = makeTinyProject(`models:\n  embedder: hashing\nretrieval:\n  mode: hybrid\n`);
  const first = JSON.parse((await run(["ingest", "--json"], root)).stdout);
  assert.equal(first.embedded.embedder, "hashing:384");
  assert.equal(first.embedded.embedded, first.chunks);
  const again = JSON.parse((await run(["ingest", "--json"], root)).stdout);
  assert.equal(again.embedded.embedded, 0, "unchanged chunks are not re-embedded");
  const ask = await run(["ask", "How long are deleted cards kept in the trash?"], root);
  assert.equal(ask.code, 0, ask.stderr);
  assert.match(ask.stdout, /60 days/);
  const ev = await run(["eval", "--variants", "rag"], root);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /retrieval: hybrid\(rrf 60: bm25.* \+ dense\(hashing:384/);
  const bad = makeTinyProject(`retrieval:\n  mode: dense\n`);
  await run(["ingest"], bad);
  const noEmb = await run(["ask", "trash"], bad);
  assert.notEqual(noEmb.code, 0);
  assert.match(noEmb.stderr, /retrieval\.mode is 'dense' but models\.embedder is 'none'/);
});
