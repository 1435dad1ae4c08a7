import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { mulberry32 } from "../src/util/rng.ts";
import { classificationMetrics, stratifiedSplit, TextClassifier, type LabelledText } from "../src/finetune/classifier/model.ts";
import { Vectorizer, words } from "../src/finetune/classifier/features.ts";
import { labelledExamples, parseCsv, parseJsonl, readTable, runClassifyExperiment } from "../src/finetune/classify-eval.ts";
import { fewShot, labelWords, promptBaseline, zeroShot } from "../src/finetune/baseline.ts";
import { ClassifierTrainer } from "../src/finetune/trainers/classifier.ts";
import { registerFinetune } from "../src/cli/commands/finetune.ts";
import type { TrainingExample } from "../src/finetune/index.ts";

// Three intents, each with its own vocabulary, mixed with shared filler words.
const VOCAB: Record<string, string[]> = {
  billing: ["invoice", "charged", "refund", "payment", "bill", "overcharged"],
  shipping: ["delivery", "package", "tracking", "courier", "arrive", "parcel"],
  login: ["password", "login", "reset", "locked", "username", "2fa"],
};
const FILLER = ["please", "help", "my", "the", "i", "need", "with", "can", "you", "today", "urgent", "hi"];

function synth(n: number, seed: number): LabelledText[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const out: LabelledText[] = [];
  for (let i = 0; i < n; i++) {
    for (const label of Object.keys(VOCAB)) {
      const ws = [pick(FILLER), pick(VOCAB[label]), pick(FILLER), pick(VOCAB[label]), pick(FILLER)];
      out.push({ text: ws.join(" "), label });
    }
  }
  return out;
}

const TRAIN = synth(30, 1);
const TEST = synth(10, 2);

test("features: Unicode words, word n-grams and word-boundary char n-grams, L2-normalised", () => {
  assert.deepEqual(words("Hasn't my CARD arrived? Ünïcode 42€"), ["hasn't", "my", "card", "arrived", "ünïcode", "42"]);
  const v = Vectorizer.fit(["card arrived", "card lost", "card arrived late"], { minDf: 1 });
  assert.ok(v.index.has("w:card") && v.index.has("b:card arrived") && v.index.has("b:^ card") && v.index.has("c: ca") && v.index.has("c:rd "));
  assert.ok(!v.index.has("c:d a"), "char n-grams stay inside words");
  const x = v.transform("card arrived");
  const norm = Math.sqrt(x.values.reduce((s, a) => s + a * a, 0));
  assert.ok(Math.abs(norm - 1) < 1e-5);
  for (let i = 1; i < x.indices.length; i++) assert.ok(x.indices[i] > x.indices[i - 1], "indices ascending");
  const minDf2 = Vectorizer.fit(["card arrived", "card lost"], { minDf: 2 });
  assert.ok(minDf2.index.has("w:card") && !minDf2.index.has("w:lost"));
});

test("classifier learns separable classes", () => {
  const model = TextClassifier.train(TRAIN, { seed: 3 });
  assert.deepEqual([...model.labels], ["billing", "login", "shipping"]);
  const ev = model.evaluate(TEST);
  assert.ok(ev.accuracy >= 0.95, `accuracy ${ev.accuracy}`);
  assert.equal(model.predict("I was charged twice, I want a refund").label, "billing");
  assert.equal(model.predict("where is my parcel, the courier never came").label, "shipping");
  assert.equal(model.predict("forgot my password and the account is locked").label, "login");
});

test("confidence is calibrated probability: clear text more confident than an ambiguous one", () => {
  const model = TextClassifier.train(TRAIN, { seed: 3 });
  const clear = model.predict("refund for the invoice payment I was overcharged");
  const mixed = model.predict("refund password"); // one billing word, one login word
  const none = model.predict("hello there"); // no class words at all
  assert.equal(clear.label, "billing");
  assert.ok(clear.confidence > mixed.confidence, `${clear.confidence} vs ${mixed.confidence}`);
  assert.ok(clear.confidence > none.confidence);
  assert.ok(none.confidence < 0.8, `no evidence should not be confident: ${none.confidence}`);
  for (const p of [clear, mixed, none]) {
    assert.ok(p.confidence > 0 && p.confidence <= 1);
    assert.equal(p.top[0].label, p.label);
    assert.equal(p.top[0].score, p.confidence);
    const sum = p.top.reduce((s, t) => s + t.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, "all 3 labels in top: probabilities sum to 1");
    for (let i = 1; i < p.top.length; i++) assert.ok(p.top[i].score <= p.top[i - 1].score);
  }
  assert.ok(model.temperature > 0 && model.temperature !== 1, "temperature was fitted");
});

test("abstainBelow routes low-confidence predictions to a human", () => {
  const model = TextClassifier.train(TRAIN, { seed: 3 });
  const clear = model.predict("refund for the invoice payment I was overcharged");
  const mixed = model.predict("refund password");
  assert.equal(clear.abstained, false, "default threshold 0 never abstains");
  assert.equal(mixed.abstained, false);
  const gated = model.withAbstainBelow((clear.confidence + mixed.confidence) / 2);
  assert.equal(gated.predict("refund for the invoice payment I was overcharged").abstained, false);
  const m = gated.predict("refund password");
  assert.equal(m.abstained, true);
  assert.equal(m.label, mixed.label, "still reports its best guess");
  const always = TextClassifier.train(TRAIN, { seed: 3, abstainBelow: 1.01 });
  assert.equal(always.predict("refund invoice").abstained, true);
});

test("save/load and toJSON/fromJSON round trips give identical predictions; bad versions are refused", () => {
  const model = TextClassifier.train(TRAIN, { seed: 3, abstainBelow: 0.5 });
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-test-"));
  try {
    model.save(dir);
    const loaded = TextClassifier.load(dir);
    const fromJson = TextClassifier.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    for (const e of [...TEST, { text: "something else entirely", label: "x" }]) {
      assert.deepEqual(loaded.predict(e.text), model.predict(e.text));
      assert.deepEqual(fromJson.predict(e.text), model.predict(e.text));
    }
    assert.equal(loaded.options.abstainBelow, 0.5);
    const header = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    assert.equal(header.format, "ragtune-text-classifier");
    assert.equal(header.version, 1);
    header.version = 99;
    writeFileSync(join(dir, "model.json"), JSON.stringify(header));
    assert.throws(() => TextClassifier.load(dir), /format version 99.*retrain/);
    header.version = 1;
    writeFileSync(join(dir, "model.json"), JSON.stringify(header));
    writeFileSync(join(dir, "weights.bin"), Buffer.alloc(8));
    assert.throws(() => TextClassifier.load(dir), /weights\.bin: 8 bytes, expected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("training is deterministic for a seed", () => {
  const a = TextClassifier.train(TRAIN, { seed: 5 }).toJSON();
  const b = TextClassifier.train(TRAIN, { seed: 5 }).toJSON();
  assert.deepEqual(a, b);
  // An explicit validation set is used as given (no internal split, no refit).
  const [tr, va] = stratifiedSplit(TRAIN, 0.2, 9);
  assert.equal(va.length, 18);
  const withVal = TextClassifier.train(tr, { seed: 5, validation: va });
  assert.equal(withVal.metrics.validationExamples, 18);
});

test("macro-F1 and accuracy on a hand-computed confusion", () => {
  // a: P 1/2 R 1/2 F1 .5 · b: P 2/3 R 1 F1 .8 · c: P 0 R 0 F1 0 → macro (.5 + .8 + 0) / 3
  const m = classificationMetrics(["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"]);
  assert.equal(m.accuracy, 3 / 5);
  assert.ok(Math.abs(m.macroF1 - 1.3 / 3) < 1e-12, String(m.macroF1));
  assert.deepEqual(m.perLabel.b, { precision: 2 / 3, recall: 1, f1: 0.8, support: 2 });
  assert.equal(m.perLabel.c.support, 1);
  assert.equal(m.perLabel.c.f1, 0);
});

test("CSV reader: quotes, doubled quotes, embedded newlines, CRLF, BOM; errors name file:line", () => {
  const csv = '\ufefftext,label\r\n"hello, world",greet\r\n"multi\nline ""quoted"" text",other\nplain,greet\n';
  const t = parseCsv(csv, "x.csv");
  assert.deepEqual(t.columns, ["text", "label"]);
  assert.deepEqual(
    t.rows.map((r) => [r.line, r.fields.text, r.fields.label]),
    [
      [2, "hello, world", "greet"],
      [3, 'multi\nline "quoted" text', "other"],
      [5, "plain", "greet"],
    ],
  );
  assert.throws(() => parseCsv('text,label\n"a\nb",x\nonly-one-field\n', "f.csv"), /f\.csv:4: 1 fields, the header has 2/);
  assert.throws(() => parseCsv('text,label\n"never closed,x\n', "f.csv"), /f\.csv:2: unterminated quoted field/);
  assert.throws(() => parseCsv('text,label\n"a"b,x\n', "f.csv"), /f\.csv:2: unexpected character/);
  assert.throws(() => labelledExamples(parseCsv("text,label\nhi,\n", "e.csv"), "text", "label"), /e\.csv:2: field 'label' is missing or empty/);
  assert.throws(
    () => labelledExamples(parseCsv("id,text,category\n1,hi,greet\n", "b.csv"), "text", "label"),
    /b\.csv: no label field 'label' \(columns: id, text, category\); did you mean --label-field category\?/,
  );
  const j = parseJsonl('{"text":"a","label":"x"}\n\n{"text":"b","label":2}\n', "d.jsonl");
  assert.deepEqual(labelledExamples(j, "text", "label"), [
    { text: "a", label: "x" },
    { text: "b", label: "2" },
  ]);
  assert.throws(() => parseJsonl('{"text":"a"}\n{oops\n', "d.jsonl"), /d\.jsonl:2: invalid JSON/);
  assert.throws(() => labelledExamples(parseJsonl('{"text":"a","label":"x"}\n{"text":"b"}\n', "d.jsonl"), "text", "label"), /d\.jsonl:2: field 'label'/);
  assert.throws(() => readTable("/nonexistent/file.csv"), /cannot read \/nonexistent\/file\.csv: no such file/);
});

test("prompt baseline: few-shot follows the nearest examples, zero-shot the label names", () => {
  const train = [
    { text: "my card has not arrived yet", label: "card_arrival" },
    { text: "when will my new card arrive", label: "card_arrival" },
    { text: "what is the exchange rate for euros", label: "exchange_rate" },
    { text: "exchange rate to dollars today", label: "exchange_rate" },
    { text: "I want to close my account", label: "terminate_account" },
  ];
  const b = promptBaseline(train);
  assert.equal(b.name, "few-shot-knn(k=5)");
  assert.equal(b.predict("please close my account").label, "terminate_account");
  assert.equal(b.predict("the exchange rate for pounds").label, "exchange_rate");
  const p = fewShot(train, 1).predict("has my card arrived");
  assert.equal(p.label, "card_arrival");
  assert.equal(p.confidence, 1, "k=1: the single nearest example has all the votes");
  assert.equal(labelWords("card_not_working"), "card not working");
  assert.equal(labelWords("lostCard"), "lost card");
  const z = promptBaseline([], [{ name: "card_arrival" }, { name: "exchange_rate" }, { name: "refund", description: "money back for a purchase" }]);
  assert.equal(z.name, "zero-shot-descriptions");
  assert.equal(z.predict("what exchange rate do you use").label, "exchange_rate");
  assert.equal(z.predict("I want my money back").label, "refund");
  assert.equal(zeroShot([{ name: "a_b" }, { name: "c" }]).predict("a").label, "a_b");
  assert.throws(() => promptBaseline([]), /needs labelled examples or label names/);
});

test("ClassifierTrainer: trains classify examples, saves a loadable artifact, reports validation metrics", async () => {
  const toEx = (xs: LabelledText[], prefix: string): TrainingExample[] =>
    xs.map((e, i) => ({ id: `${prefix}${i}`, task: "classify", input: e.text, output: e.label, source: `fixture:${i + 2}` }));
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-trainer-"));
  try {
    const events: string[] = [];
    const trainer = new ClassifierTrainer();
    assert.equal(trainer.kind, "classifier");
    assert.deepEqual([...trainer.tasks], ["classify"]);
    const art = await trainer.train({ train: toEx(TRAIN, "t"), validation: toEx(TEST, "v") }, { outDir: dir, settings: { seed: 2, c: 0.5 }, onEvent: (e) => events.push(e.type) });
    assert.equal(art.trainer, "classifier");
    assert.equal(art.task, "classify");
    assert.equal(art.artifact, dir);
    assert.equal(art.baseModel, "none");
    assert.ok(art.metrics.validationAccuracy >= 0.95);
    assert.ok(art.metrics.validationMacroF1 >= 0.95);
    assert.equal(typeof art.metrics.trainMs, "number");
    assert.equal(art.config.c, 0.5);
    assert.ok(events.includes("metric"));
    assert.equal(TextClassifier.load(dir).predict("refund on my invoice").label, "billing");
    await assert.rejects(trainer.train({ train: toEx(TRAIN, "t"), validation: [] }, { outDir: dir, settings: { C: 1 } }), /unknown setting 'C'/);
    await assert.rejects(trainer.train({ train: toEx(TRAIN, "t"), validation: [] }, { outDir: dir, settings: { c: "1" } }), /c must be a number/);
    await assert.rejects(trainer.train({ train: [], validation: [] }, { outDir: dir }), /no classify examples/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function runFinetune(args: string[]): Promise<string> {
  const program = new Command();
  program.exitOverride();
  registerFinetune(program);
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "ragtune", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test("finetune classify --json prints exactly the documented shape; --out saves the model", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-clf-cli-"));
  try {
    const csv = (xs: LabelledText[]) => "text,intent\n" + xs.map((e) => `"${e.text}",${e.label}`).join("\n") + "\n";
    writeFileSync(join(dir, "train.csv"), csv(TRAIN));
    writeFileSync(join(dir, "test.csv"), csv(TEST));
    const out = await runFinetune(["finetune", "classify", "--train", join(dir, "train.csv"), "--test", join(dir, "test.csv"), "--label-field", "intent", "--out", join(dir, "model"), "--json"]);
    const r = JSON.parse(out);
    assert.deepEqual(Object.keys(r).sort(), ["accuracy", "baseline", "labels", "macroF1", "predictP95Ms", "trainMs"]);
    assert.deepEqual(Object.keys(r.baseline).sort(), ["accuracy", "name"]);
    assert.equal(r.labels, 3);
    assert.ok(r.accuracy >= 0.95 && r.accuracy <= 1);
    assert.ok(r.macroF1 > 0 && r.macroF1 <= 1);
    assert.equal(r.baseline.name, "few-shot-knn(k=5)");
    assert.ok(r.baseline.accuracy >= 0 && r.baseline.accuracy <= 1);
    assert.ok(r.trainMs >= 0 && r.predictP95Ms >= 0);
    assert.equal(TextClassifier.load(join(dir, "model")).labels.length, 3);

    const table = await runFinetune(["finetune", "classify", "--train", join(dir, "train.csv"), "--test", join(dir, "test.csv"), "--label-field", "intent"]);
    assert.match(table, /prompt baseline: few-shot-knn\(k=5\)/);
    assert.match(table, /3 labels/);

    await assert.rejects(
      runFinetune(["finetune", "classify", "--train", join(dir, "train.csv"), "--test", join(dir, "test.csv")]),
      (err: Error & { exitCode?: number }) => err.exitCode === 2 && /no label field 'label' .*did you mean --label-field intent\?/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("runClassifyExperiment accepts in-memory examples and counts test labels never seen in training", () => {
  const r = runClassifyExperiment({ train: TRAIN, test: [...TEST, { text: "a brand new kind of request", label: "unseen" }] });
  assert.equal(r.labels, 3);
  assert.equal(r.testLabelsUnseen, 1);
  assert.ok(r.accuracy < 1);
});
