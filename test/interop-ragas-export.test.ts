/** `ragtune export ragas`: RAGAS-style rows of one variant's qa cases, with contexts and references. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ragasRows } from "../src/report/ragas.ts";
import type { CaseResult } from "../src/evaluate/types.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";

const base = { runId: "r", citations: [], contextPaths: [], contextTokens: 0, truncated: false, usage: { inputTokens: 0, outputTokens: 0 }, latencyMs: 1, costUsd: 0, projectedCostUsd: 0, generator: "g", tags: [] };
const res = (over: Partial<CaseResult>) => ({ ...base, caseId: "c", variant: "rag", task: "qa", input: "q", output: "a", abstained: false, retrieved: [], scores: [], passed: true, ...over }) as CaseResult;

test("ragasRows: qa cases of the variant only, first repeat, contexts in retrieval order, missing chunks and changed cases noted", () => {
  const chunks = new Map([
    ["a#0", "text A"],
    ["b#1", "text B"],
  ]);
  const out = ragasRows({
    variant: "rag",
    chunkText: (id) => chunks.get(id),
    references: new Map([
      ["q1", { input: "how?", answers: ["like this", "or that"] }],
      ["q2", { input: "edited question", answers: ["x"] }],
    ]),
    cases: [
      res({ caseId: "q1", input: "how?", output: "like this", retrieved: [{ id: "b#1", path: "b", score: 2, version: "" }, { id: "gone#9", path: "gone", score: 1, version: "" }, { id: "a#0", path: "a", score: 0.5, version: "" }] }),
      res({ caseId: "q1", repeat: 1, input: "how?" }),
      res({ caseId: "q2", input: "old question", passed: false, failure: { cause: "wrong_retrieval", signal: "gold_not_retrieved", evidence: "e" } }),
      res({ caseId: "q3", variant: "prompt-only" }),
      res({ caseId: "cls", task: "classify" }),
    ],
  });
  assert.equal(out.rows.length, 2);
  const [q1, q2] = out.rows;
  assert.deepEqual(q1.retrieved_contexts, ["text B", "text A"]);
  assert.deepEqual(q1.ragtune.retrieved_ids, ["b#1", "a#0"]);
  assert.equal(q1.reference, "like this");
  assert.equal(q1.user_input, "how?");
  assert.equal(q1.response, "like this");
  assert.equal(q2.reference, undefined, "the suite's case changed since the run: its answer is not this row's reference");
  assert.equal(q2.ragtune.failure_cause, "wrong_retrieval");
  assert.ok(out.notes.some((n) => /q2.*input changed/.test(n)));
  assert.ok(out.notes.some((n) => /1 retrieved chunk\(s\) are no longer in the index.*gone#9/.test(n)));
});

test("cli: export ragas of a real run — contexts are the retrieved chunk texts, references from the suite; bad --variant exits 2", async () => {
  const root = makeTinyProject();
  assert.equal((await runCli(["ingest"], root)).code, 0);
  assert.equal((await runCli(["eval", "--variants", "rag,prompt-only", "--json"], root)).code, 0);
  const r = await runCli(["export", "ragas", "--out", "rows.jsonl"], root);
  assert.equal(r.code, 0, r.stderr);
  const rows = readFileSync(join(root, "rows.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const qaCases = (readFileSync(join(root, "suite.yaml"), "utf8").match(/task: qa/g) ?? []).length;
  assert.equal(rows.length, qaCases);
  const refund = rows.find((x) => x.ragtune.case_id === "refund-window");
  assert.equal(refund.reference, "30 days");
  assert.equal(refund.ragtune.variant, "rag");
  assert.ok(refund.retrieved_contexts.length > 0);
  assert.ok(refund.retrieved_contexts.some((t: string) => t.includes("30 days")), "the gold chunk's text is among the contexts");
  assert.equal(refund.retrieved_contexts.length, refund.ragtune.retrieved_ids.length);

  const po = await runCli(["export", "ragas", "latest", "--variant", "prompt-only"], root);
  assert.equal(po.code, 0, po.stderr);
  assert.ok(po.stdout.trim().split("\n").every((l) => JSON.parse(l).retrieved_contexts.length === 0), "prompt-only retrieves nothing");

  const bad = await runCli(["export", "ragas", "--variant", "rga"], root);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--variant: the run has no variant 'rga' \(did you mean 'rag'\?\); variants in the run: rag, prompt-only/);
});
