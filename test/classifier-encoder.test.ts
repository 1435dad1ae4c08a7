/**
 * The classifier's opt-in sentence-encoder features (ClassifierOptions.encoder) and the embedded
 * few-shot baseline, with a stub encoder: deterministic vectors that carry the label when the
 * words do not, so the dense block must change the results — and, without an encoder, nothing does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../src/util/rng.ts";
import { TextClassifier, type LabelledText } from "../src/finetune/classifier/model.ts";
import { appendDense } from "../src/finetune/classifier/dense.ts";
import { EncodedClassifier, checkEncoderId } from "../src/finetune/classifier/encoded.ts";
import { fewShot, fewShotEmbedded } from "../src/finetune/baseline.ts";
import { ClassifierTrainer, parseSettings } from "../src/finetune/trainers/classifier.ts";
import type { Embedder } from "../src/models/index.ts";
import type { TrainingExample } from "../src/finetune/index.ts";

const LABELS = ["billing", "login", "shipping"];
const FILLER = ["please", "help", "my", "the", "i", "need", "with", "can", "you", "today", "urgent", "hi", "account", "issue", "thing"];
const DIMS = 8;

/** A stub sentence encoder: the secret word "zz<k>" in a text sets direction k (plus small noise from the text's hash). */
function stubVector(text: string): Float32Array {
  const v = new Float32Array(DIMS);
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const rand = mulberry32(h >>> 0);
  for (let j = 0; j < DIMS; j++) v[j] = 0.1 * (rand() - 0.5);
  const m = /zz(\d)/.exec(text);
  if (m) v[Number(m[1])] += 1;
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

class StubEncoder implements Embedder {
  readonly id = "stub";
  readonly dimensions = DIMS;
  calls = 0;
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.calls++;
    return texts.map(stubVector);
  }
}

/**
 * Words carry no label (filler only); the label's direction is in the embedding only. The secret
 * word is a single feature seen in every text of the label — so to keep the words uninformative it
 * is removed from the text after embedding.
 */
function synth(n: number, seed: number): LabelledText[] {
  const rand = mulberry32(seed);
  const pick = () => FILLER[Math.floor(rand() * FILLER.length)];
  const out: LabelledText[] = [];
  for (let i = 0; i < n; i++) {
    LABELS.forEach((label, k) => {
      const text = [pick(), pick(), pick(), pick(), pick()].join(" ");
      out.push({ text, label, vector: stubVector(`${text} zz${k}`) });
    });
  }
  return out;
}

const TRAIN = synth(40, 1);
const TEST = synth(15, 2);
const accuracy = (m: TextClassifier, xs: LabelledText[]) => m.evaluate(xs).accuracy;

test("appendDense: the sparse part and the weighted dense part share one unit norm", () => {
  const sparse = { indices: Int32Array.from([0, 3]), values: Float32Array.from([0.6, 0.8]) };
  const x = appendDense(sparse, Float32Array.from([3, 4]), 10, 1);
  assert.deepEqual([...x.indices], [0, 3, 10, 11]);
  const norm = Math.sqrt(x.values.reduce((s, v) => s + v * v, 0));
  assert.ok(Math.abs(norm - 1) < 1e-6, `norm ${norm}`);
  // Weight 1: both blocks have an equal say (each half of the squared norm).
  const dense = x.values[2] ** 2 + x.values[3] ** 2;
  assert.ok(Math.abs(dense - 0.5) < 1e-6, `dense share ${dense}`);
  const heavy = appendDense(sparse, Float32Array.from([3, 4]), 10, 2);
  assert.ok(Math.abs(heavy.values[2] ** 2 + heavy.values[3] ** 2 - 0.8) < 1e-6, "weight 2 gives the dense block 4/5 of the norm");
});

test("encoder features: the embedding's information reaches the model (words alone are at chance)", () => {
  const plain = TextClassifier.train(TRAIN, { seed: 1 });
  const encoded = TextClassifier.train(TRAIN, { seed: 1, encoder: "stub", encoderWeight: 1 });
  assert.ok(accuracy(plain, TEST) < 0.6, `text-only accuracy ${accuracy(plain, TEST)}`);
  assert.ok(accuracy(encoded, TEST) >= 0.95, `with the encoder ${accuracy(encoded, TEST)}`);
  assert.equal(encoded.encoder, "stub");
  assert.equal(encoded.encoderDims, DIMS);
  assert.equal(plain.encoder, undefined);
});

test("without an encoder, vectors on the examples are ignored: the same model as before", () => {
  const noVectors = TRAIN.map(({ text, label }) => ({ text, label }));
  const a = TextClassifier.train(noVectors, { seed: 4 });
  const b = TextClassifier.train(TRAIN, { seed: 4 });
  const c = TextClassifier.train(TRAIN, { seed: 4, encoder: "none", encoderWeight: 3 });
  for (const e of TEST.slice(0, 20)) {
    assert.deepEqual([...b.scores(e.text)], [...a.scores(e.text)]);
    assert.deepEqual([...c.scores(e.text, e.vector)], [...a.scores(e.text)]);
  }
  assert.equal(a.toJSON().weights.length, a.toJSON().terms.length * LABELS.length, "no dense weights without an encoder");
});

test("encoder: missing or mis-sized embeddings are clear errors, at training and at prediction", () => {
  const missing = [...TRAIN.slice(0, 5), { text: "no vector here", label: "billing" }];
  assert.throws(() => TextClassifier.train(missing, { encoder: "stub" }), /training example 6 has no sentence embedding/);
  const model = TextClassifier.train(TRAIN, { seed: 1, encoder: "stub" });
  assert.throws(() => model.predict("hello"), /uses the stub encoder: pass the text's embedding/);
  assert.throws(() => model.predict("hello", new Float32Array(3)), /expects a 8-dimensional stub embedding, got 3/);
});

test("encoder artifact: save/load keeps the dense weights; predictions identical", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-enc-"));
  try {
    const model = TextClassifier.train(TRAIN, { seed: 2, encoder: "stub", encoderWeight: 0.5 });
    model.save(dir);
    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    assert.equal(json.encoderDims, DIMS);
    assert.equal(json.options.encoder, "stub");
    const loaded = TextClassifier.load(dir);
    assert.equal(loaded.encoderDims, DIMS);
    for (const e of TEST) assert.equal(loaded.predict(e.text, e.vector).confidence, model.predict(e.text, e.vector).confidence);
    const again = TextClassifier.fromJSON(model.toJSON());
    assert.equal(again.predict(TEST[0].text, TEST[0].vector).confidence, model.predict(TEST[0].text, TEST[0].vector).confidence);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("EncodedClassifier: embeds on train and predict; a text-only model never calls an encoder", async () => {
  // Here the secret word stays in the text, so the stub encoder sees it (it is in the words too,
  // but only as one of many features); the point is the async plumbing.
  const raw = TRAIN.map((e) => ({ text: `${e.text} zz${LABELS.indexOf(e.label)}`, label: e.label }));
  const stub = new StubEncoder();
  const clf = await EncodedClassifier.train(raw, { seed: 1, encoder: "stub" }, stub);
  assert.ok(stub.calls >= 1);
  const before = stub.calls;
  const p = await clf.predict("hi my thing zz2");
  assert.equal(p.label, "shipping");
  assert.equal(stub.calls, before + 1, "predict embeds the text");
  const many = await clf.predictMany(["help zz0", "urgent zz1"]);
  assert.deepEqual(many.map((x) => x.label), ["billing", "login"]);
  const plainStub = new StubEncoder();
  const plain = await EncodedClassifier.train(raw, { seed: 1 }, plainStub);
  await plain.predict("help zz0");
  assert.equal(plainStub.calls, 0);
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-enc-"));
  try {
    clf.model.save(dir);
    const loaded = EncodedClassifier.load(dir, stub);
    assert.equal((await loaded.predict("hi my thing zz2")).confidence, p.confidence);
    assert.throws(() => EncodedClassifier.load(dir), /unknown encoder 'stub'/, "only offline encoders ragtune knows are created");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ClassifierTrainer: settings.encoder embeds the examples; unknown encoders are rejected", async () => {
  assert.throws(() => parseSettings({ encoder: "openai:text-embedding-3-small" }), /unknown encoder/);
  assert.throws(() => parseSettings({ encoder: 3 }), /encoder must be a string/);
  assert.doesNotThrow(() => checkEncoderId("use-lite"));
  assert.doesNotThrow(() => checkEncoderId("hashing:64"));
  assert.equal(parseSettings({ encoder: "use-lite", encoderWeight: 0.5 }).encoderWeight, 0.5);
  const toExample = (e: LabelledText, i: number, split: string): TrainingExample => ({ id: `${split}${i}`, task: "classify", input: `${e.text} zz${LABELS.indexOf(e.label)}`, output: e.label, source: `${split}:${i}` });
  const stub = new StubEncoder();
  const seen: string[] = [];
  const trainer = new ClassifierTrainer((id) => (seen.push(id), stub));
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-enc-"));
  try {
    const r = await trainer.train(
      { train: TRAIN.map((e, i) => toExample(e, i, "t")), validation: TEST.map((e, i) => toExample(e, i, "v")) },
      { outDir: dir, settings: { encoder: "hashing:8" } },
    );
    assert.deepEqual(seen, ["hashing:8"]);
    assert.equal(r.config.encoder, "hashing:8");
    assert.equal(TextClassifier.load(dir).encoderDims, DIMS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("fewShotEmbedded: nearest examples by embedding cosine; beats tf-idf k-NN when only the embedding knows", () => {
  const emb = fewShotEmbedded(TRAIN, 5, "stub");
  assert.equal(emb.name, "few-shot-knn(k=5, stub)");
  const gold = TEST.map((e) => e.label);
  const accEmb = TEST.filter((e) => emb.predict(e.vector!).label === e.label).length / TEST.length;
  const tfidf = fewShot(TRAIN);
  const accTfidf = TEST.filter((e) => tfidf.predict(e.text).label === e.label).length / TEST.length;
  assert.ok(accEmb >= 0.95, `embedded ${accEmb}`);
  assert.ok(accTfidf < 0.6, `tf-idf ${accTfidf}`);
  assert.equal(gold.length, TEST.length);
  assert.throws(() => emb.predict(new Float32Array(2)), /expected a 8-dimensional embedding/);
  assert.throws(() => fewShotEmbedded([{ text: "x", label: "a" }]), /training example 1 has no embedding/);
});
