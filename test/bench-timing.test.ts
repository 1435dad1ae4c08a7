/**
 * Honest speed defaults: `bench retrieval` times every judged query once, after a warm-up that
 * never uses a judged query; `--repeat N` results say "warm cache, fastest of N" wherever shown.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { benchOne, benchRetrievalBeir, timingLabel, warmupQueries, WARMUP_QUERIES } from "../src/bench/retrieval.ts";
import { loadBeir } from "../src/bench/beir.ts";
import { formatBeirResult } from "../src/cli/commands/bench.ts";
import type { PeerRetriever } from "../src/bench/peers/index.ts";

function beir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-timing-"));
  mkdirSync(join(dir, "qrels"));
  const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}`, title: `Topic ${i}`, text: `alpha${i % 5} beta${i % 3} gamma delta${i} epsilon words here` }));
  writeFileSync(join(dir, "corpus.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  const queries = [{ _id: "q1", text: "alpha1 beta2" }, { _id: "q2", text: "delta7 gamma" }, { _id: "q3", text: "topic 12" }];
  writeFileSync(join(dir, "queries.jsonl"), queries.map((q) => JSON.stringify(q)).join("\n") + "\n");
  writeFileSync(join(dir, "qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td7\t1\nq3\td12\t1\n");
  return dir;
}

test("warm-up queries come from corpus words, are deterministic, and are never judged queries", () => {
  const data = loadBeir(beir(), "test");
  const a = warmupQueries(data.corpus);
  assert.equal(a.length, WARMUP_QUERIES);
  assert.deepEqual(warmupQueries(data.corpus), a);
  const judged = new Set(data.queries.map((q) => q.text));
  const vocab = new Set(data.corpus.flatMap((d) => `${d.title} ${d.text}`.split(/\s+/)));
  for (const q of a) {
    assert.ok(!judged.has(q), q);
    for (const w of q.split(" ")) assert.ok(vocab.has(w), `${w} is a corpus word`);
  }
  assert.deepEqual(warmupQueries([]), []);
});

test("a single timed pass by default: every judged query searched exactly once after the warm-up", async () => {
  const data = loadBeir(beir(), "test");
  const seen: string[] = [];
  const peer: PeerRetriever = {
    name: "counter",
    version: "1",
    settings: "-",
    async index() {},
    search(q) {
      seen.push(q);
      return [];
    },
  };
  await benchOne(peer, data);
  const judged = data.queries.map((q) => q.text);
  const warm = seen.slice(0, seen.length - judged.length);
  assert.deepEqual(seen.slice(warm.length), judged, "each judged query timed once, in order");
  assert.ok(warm.every((q) => !judged.includes(q)), "no judged query in the warm-up");
  seen.length = 0;
  await benchOne(peer, data, 3);
  for (const q of judged) assert.equal(seen.filter((s) => s === q).length, 3);
});

test("outputs say single pass by default and warm cache, fastest of N with --repeat N", async () => {
  const dir = beir();
  const single = await benchRetrievalBeir({ dir });
  assert.equal(single.repeat, 1);
  assert.equal(single.timing, timingLabel(1));
  assert.match(single.timing, /single pass, queries unseen/);
  assert.match(formatBeirResult(single), /timing: single pass, queries unseen/);
  assert.match(single.method, /never a judged query/);
  const warm = await benchRetrievalBeir({ dir, repeat: 3 });
  assert.equal(warm.timing, "warm cache, fastest of 3");
  assert.match(formatBeirResult(warm), /timing: warm cache, fastest of 3/);
});
