import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadBeir, rankingMetrics, evaluateRun } from "../src/bench/beir.ts";

test("ranking metrics match hand computation", () => {
  const judged = new Map([["a", 1], ["b", 1], ["c", 2]]);
  // ranked: x, a, c → DCG = 1/log2(3) + 3/log2(4) = 0.6309 + 1.5; IDCG = 3/1 + 1/log2(3) + 1/2 = 4.1309
  const m = rankingMetrics(["x", "a", "c"], judged);
  assert.ok(Math.abs(m.ndcg10 - (1 / Math.log2(3) + 1.5) / (3 + 1 / Math.log2(3) + 0.5)) < 1e-12);
  assert.equal(m.mrr10, 0.5);
  assert.equal(m.recall10, 2 / 3);
  assert.equal(m.recall100, 2 / 3);
  assert.deepEqual(rankingMetrics([], judged), { ndcg10: 0, recall10: 0, recall100: 0, mrr10: 0 });
  // a relevant doc at rank 11 counts for recall@100 only
  const deep = rankingMetrics([...Array(10).keys()].map(String).concat(["a"]), new Map([["a", 1]]));
  assert.equal(deep.recall10, 0);
  assert.equal(deep.recall100, 1);
});

test("loadBeir reads the layout, skips the qrels header and unjudged queries; errors name the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "beir-"));
  mkdirSync(join(dir, "qrels"));
  writeFileSync(join(dir, "corpus.jsonl"), '{"_id":"d1","title":"T1","text":"one"}\n{"_id":"d2","text":"two"}\n');
  writeFileSync(join(dir, "queries.jsonl"), '{"_id":"q1","text":"one?"}\n{"_id":"q2","text":"unjudged"}\n');
  writeFileSync(join(dir, "qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
  const ds = loadBeir(dir);
  assert.equal(ds.corpus.length, 2);
  assert.equal(ds.corpus[1].title, "");
  assert.deepEqual(ds.queries.map((q) => q.id), ["q1"]);
  assert.deepEqual(evaluateRun(ds, new Map([["q1", ["d1"]]])), { ndcg10: 1, recall10: 1, recall100: 1, mrr10: 1 });
  writeFileSync(join(dir, "corpus.jsonl"), '{"_id":"d1"}\nnot json\n');
  assert.throws(() => loadBeir(dir), /corpus\.jsonl:2: not valid JSON/);
  assert.throws(() => loadBeir(join(dir, "nope")), /not a BEIR dataset: corpus\.jsonl is missing/);
});
