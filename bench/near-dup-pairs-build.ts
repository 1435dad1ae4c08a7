/**
 * Builds the candidate pairs of bench/near-dup-pairs.jsonl (the labelled evaluation set of
 * near-duplicate detection, bench/near-dup.ts) from banking77: each test.csv text against its
 * train.csv neighbours — the decontamination situation (is this training example a near copy of
 * an eval input?), which is also the cleaning one (two training examples).
 *
 *   node --import tsx bench/near-dup-pairs-build.ts > /tmp/pairs.jsonl
 *
 * Strata (30 pairs each, seeded, a test text used at most once), so both detectors' hard cases are
 * in the set: lexical overlap with and without the same intent, high embedding similarity with
 * and without the same intent, moderate similarity, and very high Jaccard. Scores are NOT written:
 * the pairs are labelled by reading them, blind to Jaccard and cosine (the labelling rule is in
 * docs/datasets.md). This script only documents how the pairs were drawn; rerunning it with the
 * same data gives the same pairs.
 */
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { labelledExamples, readTable } from "../src/finetune/classify-eval.ts";
import { jaccard, shingles } from "../src/finetune/dataset/clean.ts";
import { UseLiteEmbedder } from "../src/models/embedders/use-lite.ts";
import { mulberry32, shuffle } from "../src/util/rng.ts";
import { embedCached } from "./lib/embed-cache.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BANKING = resolve(ROOT, "../shared/datasets/banking77");
const train = labelledExamples(readTable(join(BANKING, "train.csv")), "text", "category");
const test = labelledExamples(readTable(join(BANKING, "test.csv")), "text", "category");
const e = new UseLiteEmbedder();
const tv = (await embedCached(e, train.map((x) => x.text))).vectors;
const sv = (await embedCached(e, test.map((x) => x.text))).vectors;
const tsh = train.map((x) => shingles(x.text));

interface Cand { t: number; s: number; cos: number; jac: number; same: boolean }
const cands: Cand[] = [];
for (let s = 0; s < test.length; s++) {
  const q = sv[s];
  const sims = new Float64Array(train.length);
  for (let t = 0; t < train.length; t++) {
    const v = tv[t];
    let d = 0;
    for (let j = 0; j < v.length; j++) d += v[j] * q[j];
    sims[t] = d;
  }
  const qsh = shingles(test[s].text);
  const order = Array.from(sims.keys()).sort((a, b) => sims[b] - sims[a]).slice(0, 10);
  const picked = new Set(order);
  // Lexical neighbours too: the best Jaccard matches, which may not be among the cosine top 10.
  const jacs = train.map((_, t) => jaccard(qsh, tsh[t]));
  for (const t of Array.from(jacs.keys()).sort((a, b) => jacs[b] - jacs[a]).slice(0, 5)) picked.add(t);
  for (const t of picked) cands.push({ t, s, cos: sims[t], jac: jacs[t], same: train[t].label === test[s].label });
}

const strata: [string, (c: Cand) => boolean][] = [
  ["jaccard>=0.7", (c) => c.jac >= 0.7],
  ["same intent, jaccard 0.4-0.7", (c) => c.same && c.jac >= 0.4 && c.jac < 0.7],
  ["same intent, cosine>=0.85, jaccard<0.4", (c) => c.same && c.cos >= 0.85 && c.jac < 0.4],
  ["same intent, cosine 0.7-0.85, jaccard<0.4", (c) => c.same && c.cos >= 0.7 && c.cos < 0.85 && c.jac < 0.4],
  ["different intent, jaccard>=0.4", (c) => !c.same && c.jac >= 0.4],
  ["different intent, cosine>=0.8", (c) => !c.same && c.cos >= 0.8 && c.jac < 0.4],
];
const rand = mulberry32(77);
const usedTest = new Set<number>();
const seenPair = new Set<string>();
let id = 0;
const rows: { id: string; a: string; b: string; intentA: string; intentB: string; stratum: string }[] = [];
for (const [name, pred] of strata) {
  const pool = cands.filter(pred);
  shuffle(pool, rand);
  let n = 0;
  for (const c of pool) {
    if (n >= 30) break;
    const key = `${c.t}:${c.s}`;
    if (usedTest.has(c.s) || seenPair.has(key) || train[c.t].text.trim().toLowerCase() === test[c.s].text.trim().toLowerCase()) continue;
    usedTest.add(c.s);
    seenPair.add(key);
    rows.push({ id: `p${String(++id).padStart(3, "0")}`, a: test[c.s].text, b: train[c.t].text, intentA: test[c.s].label, intentB: train[c.t].label, stratum: name });
    n++;
  }
  process.stderr.write(`${name}: ${n} of ${pool.length} candidates\n`);
}
for (const r of rows) console.log(JSON.stringify(r));
