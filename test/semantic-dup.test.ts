/**
 * Semantic near duplicates (dataset/semantic-dup.ts) with stub embeddings: paraphrases that share
 * no shingles are caught only by the semantic step, different labels are never merged, missing
 * vectors are errors, and without `semanticDup` cleaning and decontamination are unchanged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDataset, buildDatasetSemantic, cleanExamples, decontaminate, removeSemanticDuplicates, semanticDecontaminate } from "../src/finetune/dataset/index.ts";
import type { TrainingExample, TrainingTask } from "../src/finetune/index.ts";
import type { Embedder } from "../src/models/index.ts";

const ex = (id: string, input: string, output: string, task: TrainingTask = "classify"): TrainingExample => ({ id, task, input, output, source: `t:${id}` });

/** Unit vectors by "meaning": texts mapped to a topic direction, with a small per-text offset. */
const MEANING: Record<string, number> = {
  "my card has not arrived yet": 0,
  "still waiting for the plastic to show up in the mail": 0,
  "how do i reset my password": 1,
  "forgot the secret to log in, need a new one": 1,
  "still waiting for the plastic card to show up in the post": 0,
  "what is the exchange rate today": 2,
  "cancel my subscription please": 3,
  "a totally unrelated question about weather": 4,
};
function vec(text: string, jitter = 0.05): Float32Array {
  const v = new Float32Array(6);
  const k = MEANING[text] ?? 5;
  v[k] = 1;
  v[5] += jitter * ((text.length % 7) + 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const EXAMPLES = [
  ex("a", "my card has not arrived yet", "card_arrival"),
  ex("b", "still waiting for the plastic to show up in the mail", "card_arrival"),
  ex("c", "how do i reset my password", "passcode"),
  ex("d", "forgot the secret to log in, need a new one", "passcode"),
  ex("e", "what is the exchange rate today", "exchange_rate"),
  // Same meaning as "a" but another label: not a duplicate (whichever label is right).
  ex("f", "still waiting for the plastic card to show up in the post", "card_delivery_estimate"),
];
const vectors = new Map(EXAMPLES.map((e) => [e.id, vec(e.input)]));

test("removeSemanticDuplicates: paraphrases with the same label go; different labels stay", () => {
  const r = removeSemanticDuplicates(EXAMPLES, { encoder: "stub", threshold: 0.9, vectors });
  assert.deepEqual(r.examples.map((e) => e.id), ["a", "c", "e", "f"]);
  assert.equal(r.report.step, "semantic-duplicates");
  assert.equal(r.report.removed, 2);
  assert.equal(r.report.samples[0].keptId, "a");
  assert.match(r.report.samples[0].reason, /cosine 0\.\d+, stub/);
  // A threshold above every pair's cosine removes nothing.
  assert.equal(removeSemanticDuplicates(EXAMPLES, { encoder: "stub", threshold: 0.99999, vectors }).report.removed, 0);
});

test("cleanExamples: the semantic step runs after the Jaccard step only when asked", () => {
  const plain = cleanExamples(EXAMPLES);
  assert.ok(!plain.steps.some((s) => s.step === "semantic-duplicates"));
  assert.equal(plain.steps.find((s) => s.step === "near-duplicates")!.removed, 0, "no shingles shared: Jaccard finds nothing");
  const semantic = cleanExamples(EXAMPLES, { semanticDup: { encoder: "stub", threshold: 0.9, vectors } });
  const names = semantic.steps.map((s) => s.step);
  assert.equal(names.indexOf("semantic-duplicates"), names.indexOf("near-duplicates") + 1);
  assert.deepEqual(semantic.examples.map((e) => e.id), ["a", "c", "e", "f"]);
  assert.equal(plain.examples.length, EXAMPLES.length);
});

test("qa examples: a semantic duplicate also needs a similar answer", () => {
  const qa = [ex("q1", "my card has not arrived yet", "It takes 3 to 5 working days to arrive.", "qa"), ex("q2", "still waiting for the plastic to show up in the mail", "It takes 3 to 5 working days to arrive.", "qa"), ex("q3", "still waiting for the plastic to show up in the mail", "Call us.", "qa")];
  const v = new Map(qa.map((e) => [e.id, vec(e.input)]));
  const r = removeSemanticDuplicates(qa, { encoder: "stub", threshold: 0.9, vectors: v });
  assert.deepEqual(r.examples.map((e) => e.id), ["q1", "q3"]);
});

test("semantic steps: a missing embedding is an error naming the example", () => {
  const partial = new Map([...vectors].filter(([id]) => id !== "d"));
  assert.throws(() => removeSemanticDuplicates(EXAMPLES, { encoder: "stub", vectors: partial }), /no stub embedding for example d \(t:d\)/);
  assert.throws(() => semanticDecontaminate(EXAMPLES, ["x"], { encoder: "stub", vectors }), /0 eval embeddings for 1 eval inputs/);
});

test("semanticDecontaminate: drops training inputs near an eval input, whatever their label", () => {
  const evalInputs = ["forgot the secret to log in, need a new one", "cancel my subscription please"];
  const evalVectors = evalInputs.map((t) => vec(t, 0.2));
  const lexical = decontaminate(EXAMPLES, ["how do i get a new login secret"]);
  assert.equal(lexical.report.removed, 0);
  const r = semanticDecontaminate(EXAMPLES, evalInputs, { encoder: "stub", threshold: 0.9, vectors, evalVectors });
  assert.deepEqual(r.examples.map((e) => e.id), ["a", "b", "e", "f"]);
  assert.equal(r.report.step, "decontaminate-semantic");
  assert.match(r.report.samples[0].keptId!, /^eval: forgot the secret/);
});

class StubEmbedder implements Embedder {
  readonly id = "stub";
  readonly dimensions = 6;
  texts: string[] = [];
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.texts.push(...texts);
    return texts.map((t) => vec(t));
  }
}

test("buildDatasetSemantic: embeds the collected and eval inputs, adds both semantic steps; buildDataset unchanged", async () => {
  const options = { examples: EXAMPLES, decontaminate: { inputs: ["what is the exchange rate today"] }, split: { ratios: [1, 0, 0] as [number, number, number] } };
  const plain = buildDataset(options);
  assert.ok(!plain.steps.some((s) => s.step.includes("semantic")));
  const stub = new StubEmbedder();
  const semantic = await buildDatasetSemantic(options, stub, 0.9);
  assert.ok(stub.texts.includes("what is the exchange rate today"));
  const steps = semantic.steps.map((s) => s.step);
  assert.ok(steps.includes("semantic-duplicates") && steps.includes("decontaminate-semantic"), steps.join(", "));
  // "e" is an exact copy of the eval input (the lexical step drops it); b and d are paraphrases.
  assert.deepEqual(semantic.examples.map((e) => e.id).sort(), ["a", "c", "f"]);
  assert.deepEqual(plain.examples.map((e) => e.id).sort(), ["a", "b", "c", "d", "f"]);
});
