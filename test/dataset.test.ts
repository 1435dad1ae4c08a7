import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { parse as parseYaml } from "yaml";
import type { TrainingExample, TrainingTask } from "../src/finetune/index.ts";
import {
  buildCard,
  buildDataset,
  cleanExamples,
  cutCounts,
  datasetHash,
  decontaminate,
  examplesFromRun,
  filterLength,
  findConflicts,
  jaccard,
  labelledExamplesFor,
  luhnValid,
  normalizeExamples,
  parseCsv,
  planExports,
  readLabelledFile,
  readServedLog,
  removeExactDuplicates,
  removeNearDuplicates,
  renderCardMarkdown,
  resolveConflicts,
  scrubPii,
  scrubPiiStep,
  shingles,
  splitDataset,
  toAlpaca,
  toOpenAI,
  toShareGPT,
  writeDataset,
  writeExports,
  ExportValidationError,
  BASE_MODEL_PLACEHOLDER,
} from "../src/finetune/dataset/index.ts";
import { countTokens } from "../src/models/tokens.ts";
import { mulberry32 } from "../src/util/rng.ts";
import { registerDataset } from "../src/cli/commands/dataset.ts";
import { makeTinyProject } from "./helpers/project.ts";

const tmp = (p = "ragtune-ds-") => mkdtempSync(join(tmpdir(), p));
const ex = (id: string, input: string, output: string, task: TrainingTask = "classify"): TrainingExample => ({ id, task, input, output, source: `t:${id}` });

/** Random, mutually unrelated sentences (so no two are near duplicates by accident). */
function sentences(n: number, seed: number, words = 14): string[] {
  const rng = mulberry32(seed);
  const vocab = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}${String.fromCharCode(97 + (i % 26))}`);
  return Array.from({ length: n }, () => Array.from({ length: words }, () => vocab[Math.floor(rng() * vocab.length)]).join(" "));
}

// -------------------------------------------------------------------------------------------
// Sources

test("CSV reader: BOM, quotes, \"\" escapes, embedded newlines, CRLF, blank lines; records know their line", () => {
  const text = '\uFEFFinput,label\r\n"Hello, world",greet\r\n\r\n"She said ""hi""\nand left",quote\r\nplain,"x"\r\n"",empty\n';
  const recs = parseCsv(text, "f.csv");
  assert.deepEqual(
    recs.map((r) => [r.line, r.fields]),
    [
      [1, ["input", "label"]],
      [2, ["Hello, world", "greet"]],
      [4, ['She said "hi"\nand left', "quote"]],
      [6, ["plain", "x"]],
      [7, ["", "empty"]],
    ],
  );
  assert.deepEqual(parseCsv("a,b\n1,2").map((r) => r.fields), [["a", "b"], ["1", "2"]], "no trailing newline");
  assert.deepEqual(parseCsv("a,,b\n").map((r) => r.fields), [["a", "", "b"]], "empty middle field");
  assert.throws(() => parseCsv('a,b\n1,"open\nstill open', "f.csv"), /f\.csv:2: unterminated quoted field/);
  assert.throws(() => parseCsv('a,b\n1,"x"y\n', "f.csv"), /f\.csv:2: unexpected character 'y' after a closing quote/);
  assert.throws(() => parseCsv('a,b\n\n1,x"y\n', "f.csv"), /f\.csv:3: stray quote/);
});

test("labelled CSV and JSONL files: configurable fields, sources file:line, errors name file:line and field", () => {
  const dir = tmp();
  const csv = join(dir, "tickets.csv");
  writeFileSync(csv, 'id,text,category\n1,"Refund my\ninvoice",billing\n2,App crashes,bug\n');
  const got = readLabelledFile(csv, { task: "classify", inputField: "text", outputField: "category", displayName: "tickets.csv" });
  assert.deepEqual(
    got.map((e) => [e.source, e.input, e.output, e.task]),
    [
      ["tickets.csv:2", "Refund my\ninvoice", "billing", "classify"],
      ["tickets.csv:4", "App crashes", "bug", "classify"],
    ],
  );
  assert.throws(() => readLabelledFile(csv, { task: "classify", inputField: "text", outputField: "label", displayName: "tickets.csv" }), /tickets\.csv:1: no column 'label'/);
  writeFileSync(csv, "text,category\nfine,billing\nno label here,\n");
  assert.throws(() => readLabelledFile(csv, { task: "classify", inputField: "text", outputField: "category", displayName: "t.csv" }), /t\.csv:3: field 'category' is empty/);
  writeFileSync(csv, "text,category\nfine,billing,extra\n");
  assert.throws(() => readLabelledFile(csv, { task: "classify", inputField: "text", outputField: "category", displayName: "t.csv" }), /t\.csv:2: 3 fields, the header has 2/);

  const jsonl = join(dir, "ex.jsonl");
  writeFileSync(jsonl, '{"doc":"From: a@b.co plan pro","fields":{"email":"a@b.co","plan":"pro"},"sys":"Extract."}\n\n{"doc":"x"}\n');
  assert.throws(() => readLabelledFile(jsonl, { task: "extract", inputField: "doc", outputField: "fields", displayName: "ex.jsonl" }), /ex\.jsonl:3: missing field 'fields'/);
  writeFileSync(jsonl, '{"doc":"From: a@b.co plan pro","fields":{"email":"a@b.co","plan":"pro"},"sys":"Extract."}\n');
  const [e] = readLabelledFile(jsonl, { task: "extract", inputField: "doc", outputField: "fields", systemField: "sys", displayName: "ex.jsonl" });
  assert.equal(e.output, '{"email":"a@b.co","plan":"pro"}');
  assert.equal(e.system, "Extract.");
  writeFileSync(jsonl, "{not json}\n");
  assert.throws(() => readLabelledFile(jsonl, { task: "qa", displayName: "ex.jsonl" }), /ex\.jsonl:1: invalid JSON/);
});

test("served logs: a correction wins; task from the entry or the caller; errors name the line", () => {
  const dir = tmp();
  const log = join(dir, "served.jsonl");
  writeFileSync(
    log,
    [
      { input: "Where is my refund?", output: "I don't know.", correction: "Refunds arrive within 5 days.", task: "qa" },
      { input: "Reset password?", output: "Use the reset link." },
      { input: "Cancel plan", output: "" },
    ]
      .map((o) => JSON.stringify(o))
      .join("\n"),
  );
  const r = readServedLog(log, { task: "qa", displayName: "served.jsonl" });
  assert.deepEqual(r.examples.map((e) => e.output), ["Refunds arrive within 5 days.", "Use the reset link."]);
  assert.deepEqual(r.skipped.map((s) => s.source), ["served.jsonl:3"]);
  assert.equal(readServedLog(log, { task: "qa", correctedOnly: true }).examples.length, 1);
  assert.throws(() => readServedLog(log, { displayName: "served.jsonl" }), /served\.jsonl:2: no 'task'/);
  writeFileSync(log, '{"output":"x","task":"qa"}\n');
  assert.throws(() => readServedLog(log, { displayName: "served.jsonl" }), /served\.jsonl:1: missing field 'input'/);
});

function writeRun(root: string, runId: string, suitePath: string, results: { caseId: string; variant: string; passed: boolean; repeat?: number }[]): string {
  const runDir = join(root, "runs", runId);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, "config.json"), JSON.stringify({ runId, createdAt: "2025-01-01T00:00:00Z", suitePath, configPath: join(root, "ragtune.yaml") }));
  writeFileSync(join(runDir, "cases.jsonl"), results.map((r) => JSON.stringify({ runId, task: "qa", input: "", output: "", ...r })).join("\n") + "\n");
  return runDir;
}

const TRAIN_SUITE = `labels: [billing, bug_report]
cases:
  - id: c-billing
    task: classify
    input: I was billed twice this month
    label: billing
  - id: c-bug
    task: classify
    input: Export button throws an error
    label: bug_report
  - id: q-refund
    task: qa
    input: How long do refunds take?
    answer: ["5 business days", "five days"]
  - id: q-abstain
    task: qa
    input: Do you sell tape drives?
    must_abstain: true
  - id: x-email
    task: extract
    input: "From Dana <dana@example.com>, plan pro"
    json_schema: {type: object, required: [email, plan]}
    expected_json: {email: dana@example.com, plan: pro}
`;

test("eval-run source: failed cases once each, with the suite's expected outputs; passed ones on request", () => {
  const root = tmp();
  writeFileSync(join(root, "train-suite.yaml"), TRAIN_SUITE);
  const runDir = writeRun(root, "r1", join(root, "train-suite.yaml"), [
    { caseId: "c-billing", variant: "rag", passed: false },
    { caseId: "c-billing", variant: "prompt-only", passed: false },
    { caseId: "c-billing", variant: "rag", passed: false, repeat: 1 },
    { caseId: "c-bug", variant: "rag", passed: true },
    { caseId: "q-refund", variant: "rag", passed: true },
    { caseId: "q-refund", variant: "prompt-only", passed: false },
    { caseId: "q-abstain", variant: "rag", passed: false },
    { caseId: "x-email", variant: "rag", passed: false },
    { caseId: "gone", variant: "rag", passed: false },
  ]);
  const r = examplesFromRun(runDir);
  assert.deepEqual(
    r.examples.map((e) => [e.source, e.task, e.output]),
    [
      ["runs/r1#c-billing", "classify", "billing"],
      ["runs/r1#q-refund", "qa", "5 business days"],
      ["runs/r1#x-email", "extract", '{"email":"dana@example.com","plan":"pro"}'],
    ],
  );
  assert.equal(r.examples[0].id, "runs/r1#c-billing");
  assert.deepEqual(r.skipped.map((s) => s.source).sort(), ["runs/r1#gone", "runs/r1#q-abstain"]);
  assert.match(r.skipped.find((s) => s.source.endsWith("q-abstain"))!.reason, /abstention/);
  const withPassed = examplesFromRun(runDir, { includePassed: true });
  assert.ok(withPassed.examples.some((e) => e.source === "runs/r1#c-bug"));
  const ragOnly = examplesFromRun(runDir, { variants: ["rag"] });
  assert.ok(!ragOnly.examples.some((e) => e.source === "runs/r1#q-refund"), "q-refund failed only in prompt-only");
});

// -------------------------------------------------------------------------------------------
// Cleaning

test("normalise: NFKC, invisible characters, whitespace; examples left empty are removed and counted", () => {
  const r = normalizeExamples([ex("a", "Ｈｅｌｌｏ\u200B  world\r\n\r\n\r\n\tbye ", " billing "), ex("b", "fine", "\u200B "), ex("c", "same", "same")]);
  assert.equal(r.examples[0].input, "Hello world\n\nbye");
  assert.equal(r.examples[0].output, "billing");
  assert.deepEqual([r.report.in, r.report.out, r.report.removed, r.report.changed], [3, 2, 1, 2]);
  assert.equal(r.report.samples[0].id, "b");
  assert.match(r.report.samples[0].reason, /empty output/);
});

test("exact duplicates: same normalised input (any case) and output are removed, keeping the first", () => {
  const r = removeExactDuplicates([ex("a", "Refund please", "billing"), ex("b", "refund PLEASE", "billing"), ex("c", "Refund please", "bug"), ex("d", "Other", "billing")]);
  assert.deepEqual(r.examples.map((e) => e.id), ["a", "c", "d"]);
  assert.deepEqual([r.report.in, r.report.out, r.report.removed], [4, 3, 1]);
  assert.equal(r.report.samples[0].keptId, "a");
});

test("near duplicates: MinHash-LSH candidates verified by exact Jaccard; a one-word change is removed, a paraphrase kept", () => {
  const base = "my invoice for march shows two charges for the same annual plan and i would like one of them refunded please";
  const typo = base.replace("march", "april");
  const paraphrase = "i have been billed twice on the march invoice for my yearly subscription so please refund the extra charge";
  const otherLabel = base.replace("march", "may");
  const k = 2;
  // The fixture is what it claims: the one-word change is above the threshold, the paraphrase far below.
  assert.ok(jaccard(shingles(base, k), shingles(typo, k)) >= 0.8);
  assert.ok(jaccard(shingles(base, k), shingles(paraphrase, k)) < 0.3);
  const examples = [ex("a", base, "billing"), ex("b", typo, "billing"), ex("c", paraphrase, "billing"), ex("d", otherLabel, "bug"), ...sentences(50, 7).map((s, i) => ex(`r${i}`, s, "x"))];
  const r = removeNearDuplicates(examples, { threshold: 0.8 });
  assert.deepEqual(r.report.removed, 1);
  assert.ok(!r.examples.some((e) => e.id === "b"));
  assert.ok(r.examples.some((e) => e.id === "c"), "paraphrase kept");
  assert.ok(r.examples.some((e) => e.id === "d"), "a different label is not a duplicate (it is a conflict matter)");
  assert.equal(r.report.samples[0].keptId, "a");
  assert.match(r.report.samples[0].reason, /Jaccard 0\.\d\d/);
  assert.ok((r.report.counts?.candidatePairs ?? 0) >= 1);
  // A stricter threshold keeps the one-word change.
  assert.equal(removeNearDuplicates(examples, { threshold: 0.95 }).report.removed, 0);
});

test("conflicts: the same input with different outputs is listed and dropped by default", () => {
  const examples = [ex("a", "Card declined at checkout", "billing"), ex("b", "card declined at checkout", "bug_report"), ex("c", "Card declined at checkout", "billing"), ex("d", "Other", "billing")];
  const conflicts = findConflicts(examples);
  assert.equal(conflicts.length, 1);
  assert.deepEqual(conflicts[0].outputs.map((o) => [o.output, o.ids]), [["billing", ["a", "c"]], ["bug_report", ["b"]]]);
  const dropped = resolveConflicts(examples);
  assert.deepEqual(dropped.examples.map((e) => e.id), ["d"]);
  assert.deepEqual([dropped.report.removed, dropped.report.counts?.conflictingInputs], [3, 1]);
  assert.deepEqual(resolveConflicts(examples, "majority").examples.map((e) => e.id), ["a", "c", "d"]);
  assert.equal(resolveConflicts(examples, "keep").examples.length, 4);
});

test("PII: emails, phones and Luhn-valid cards become placeholders; Luhn-invalid numbers, dates and ids stay", () => {
  assert.equal(luhnValid("4111111111111111"), true);
  assert.equal(luhnValid("4111111111111112"), false);
  const r = scrubPii("Mail dana.k@example.co.uk or call +1 (555) 123-4567 / 020 7946 0958. Card 4111 1111 1111 1111, ref 4111 1111 1111 1112, order 1234567890 on 2024-01-15.");
  assert.equal(r.text, "Mail [EMAIL] or call [PHONE] / [PHONE]. Card [CARD], ref 4111 1111 1111 1112, order 1234567890 on 2024-01-15.");
  assert.deepEqual(r.counts, { email: 1, phone: 2, card: 1 });
  const step = scrubPiiStep([ex("a", "reach me at a@b.io", "billing"), ex("b", "nothing here", "bug")]);
  assert.deepEqual([step.report.in, step.report.out, step.report.changed, step.report.counts?.email], [2, 2, 1, 1]);
  assert.ok(!JSON.stringify(step.report).includes("a@b.io"), "the report never carries the PII it removed");
});

test("length filter: min/max tokens via countTokens, counted", () => {
  const long = "word ".repeat(300);
  const r = filterLength([ex("a", "ok", "billing"), ex("b", long, "billing"), ex("c", "a", "")], { minTokens: 2, maxTokens: 100 });
  assert.ok(countTokens(long) > 100);
  assert.deepEqual(r.examples.map((e) => e.id), ["a"]);
  assert.deepEqual(r.report.counts, { tooShort: 1, tooLong: 1 });
});

test("cleanExamples runs every step in order and reports in/out per step", () => {
  const r = cleanExamples([ex("a", "Hi  there", "x"), ex("b", "hi there", "x"), ex("c", "Hi there", "y"), ex("d", "mail me: x@y.com", "z")], { pii: true });
  assert.deepEqual(r.steps.map((s) => s.step), ["normalise", "pii", "exact-duplicates", "conflicts", "near-duplicates", "length"]);
  for (let i = 1; i < r.steps.length; i++) assert.equal(r.steps[i].in, r.steps[i - 1].out);
  assert.equal(r.conflicts.length, 1);
  assert.deepEqual(r.examples.map((e) => [e.id, e.input]), [["d", "mail me: [EMAIL]"]]);
});

test("decontaminate: exact and near copies of eval inputs are dropped and counted", () => {
  const evalInputs = ["How long are deleted cards kept in the trash before they are permanently removed?", "What payment methods do you accept?"];
  const train = [
    ex("exact", "what payment methods do you ACCEPT?", "a", "qa"),
    ex("near", "How long are deleted cards kept in the trash before they are permanently deleted?", "a", "qa"),
    ex("far", "Can I change the colour of a board?", "a", "qa"),
  ];
  const r = decontaminate(train, evalInputs);
  assert.deepEqual(r.examples.map((e) => e.id), ["far"]);
  assert.deepEqual(r.report.counts, { evalInputs: 2, exact: 1, near: 1 });
  assert.equal(decontaminate(train, []).report.removed, 0);
});

// -------------------------------------------------------------------------------------------
// Split

test("split: stratified by label, every label with ≥ 3 examples in each split, deterministic and order-independent", () => {
  const counts: Record<string, number> = { billing: 50, bug: 20, account: 4, rare: 2 };
  const examples: TrainingExample[] = [];
  let n = 0;
  for (const [label, c] of Object.entries(counts)) for (const s of sentences(c, 100 + n)) examples.push(ex(`e${n++}`, s, label));
  const a = splitDataset(examples, { seed: 7 });
  assert.equal(a.train.length + a.validation.length + a.test.length, examples.length);
  assert.equal(new Set([...a.train, ...a.validation, ...a.test].map((e) => e.id)).size, examples.length);
  for (const label of ["billing", "bug", "account"]) {
    for (const split of [a.train, a.validation, a.test]) assert.ok(split.some((e) => e.output === label), `${label} in every split`);
  }
  const per = (xs: TrainingExample[], l: string) => xs.filter((e) => e.output === l).length;
  assert.deepEqual([per(a.train, "billing"), per(a.validation, "billing"), per(a.test, "billing")], [40, 5, 5]);
  assert.deepEqual([per(a.train, "bug"), per(a.validation, "bug"), per(a.test, "bug")], [16, 2, 2]);
  assert.equal(per(a.train, "rare"), 2);
  assert.match(a.notes.join("\n"), /'rare' has 2/);
  const shuffled = [...examples].reverse();
  const b = splitDataset(shuffled, { seed: 7 });
  assert.deepEqual(new Set(b.test.map((e) => e.id)), new Set(a.test.map((e) => e.id)), "input order does not matter");
  const c = splitDataset(examples, { seed: 8 });
  assert.notDeepEqual(c.test.map((e) => e.id), a.test.map((e) => e.id), "the seed matters");
  assert.deepEqual(cutCounts(3, [0.8, 0.1, 0.1], true), [1, 1, 1]);
  assert.deepEqual(cutCounts(10, [0.9, 0.1, 0], true), [9, 1, 0]);
});

test("split: qa/extract by hash bucket with exact proportions; deterministic", () => {
  const examples = sentences(100, 3).map((s, i) => ex(`q${i}`, s, `answer ${i}`, "qa"));
  const a = splitDataset(examples, { seed: 1, ratios: [80, 10, 10] });
  assert.deepEqual([a.train.length, a.validation.length, a.test.length], [80, 10, 10]);
  const b = splitDataset([...examples].reverse(), { seed: 1, ratios: [80, 10, 10] });
  assert.deepEqual(b.test.map((e) => e.id).sort(), a.test.map((e) => e.id).sort());
  // Adding examples moves few of the old ones between splits.
  const more = splitDataset([...examples, ...sentences(10, 99).map((s, i) => ex(`n${i}`, s, "x", "qa"))], { seed: 1 });
  const kept = a.test.filter((e) => more.test.some((m) => m.id === e.id)).length;
  assert.ok(kept >= 7, `test split mostly stable (${kept}/10)`);
});

// -------------------------------------------------------------------------------------------
// Card

test("data card: adequacy verdicts for classifiers and generative behaviour, class balance, markdown", () => {
  const mk = (label: string, n: number, seed: number) => sentences(n, seed).map((s, i) => ex(`${label}${i}`, s, label));
  const good = splitDataset([...mk("billing", 150, 1), ...mk("bug", 120, 2)]);
  const card = buildCard(good, { name: "tickets" });
  assert.equal(card.adequacy.adequate, true, card.adequacy.note);
  assert.equal(card.tasks[0].imbalanceRatio, 1.25);
  assert.equal(labelledExamplesFor(card), good.train.length + good.validation.length);
  assert.equal(card.adequacy.have, labelledExamplesFor(card));

  const skewed = splitDataset([...mk("billing", 300, 1), ...mk("rare", 10, 3)]);
  const c2 = buildCard(skewed);
  assert.equal(c2.adequacy.adequate, false);
  assert.deepEqual(c2.tasks[0].underMinimum, ["rare"]);
  assert.match(c2.tasks[0].adequacy.note, /under 20 examples: rare/);

  const qa = splitDataset(sentences(120, 5).map((s, i) => ex(`q${i}`, s, "an answer", "qa")));
  const c3 = buildCard(qa);
  assert.deepEqual({ ...c3.adequacy, note: undefined }, { adequate: false, needed: 1000, have: qa.train.length + qa.validation.length, note: undefined });
  assert.match(c3.tasks[0].adequacy.note, /1000\+/);
  assert.ok(c3.tasks[0].tokens.total.max >= c3.tasks[0].tokens.total.p50);

  const md = renderCardMarkdown(card);
  assert.match(md, /# Data card: tickets/);
  assert.match(md, /\| billing \| \d+ \| \d+ \| \d+ \| 150 \|/);
});

// -------------------------------------------------------------------------------------------
// Exports

test("exports: OpenAI chat, ShareGPT, Alpaca shapes", () => {
  const e = ex("a", "I was charged twice", "billing");
  assert.deepEqual(toOpenAI(e, { classify: "S", qa: "Q", extract: "X" }), {
    messages: [
      { role: "system", content: "S" },
      { role: "user", content: "I was charged twice" },
      { role: "assistant", content: "billing" },
    ],
  });
  assert.deepEqual(toShareGPT({ ...e, system: "own" }).conversations.map((c) => c.from + ":" + c.value), ["system:own", "human:I was charged twice", "gpt:billing"]);
  assert.deepEqual(toOpenAI(e, false).messages.map((m) => m.role), ["user", "assistant"]);
  assert.deepEqual(toAlpaca(e, { classify: "Label it.", qa: "", extract: "" }), { instruction: "Label it.", input: "I was charged twice", output: "billing" });
  const plan = planExports({ train: [e, ex("b", "App crashes", "bug")], validation: [], test: [] }, ["openai"]);
  const first = JSON.parse(plan.files.get("openai.train.jsonl")!.split("\n")[0]);
  assert.match(first.messages[0].content, /one label of: billing, bug/);
});

test("exports validate before writing: every problem named by id and source, nothing written", () => {
  const dir = join(tmp(), "out");
  const bad = {
    train: [ex("ok", "fine", "billing"), { ...ex("blank", "hello", " "), source: "tickets.csv:7" }, ex("bad-json", "From: x", "{email: x}", "extract"), ex("huge", "word ".repeat(500), "x")],
    validation: [],
    test: [],
  };
  let err: ExportValidationError | undefined;
  try {
    writeExports(dir, bad, ["openai", "sharegpt", "alpaca"], { maxTokens: 100 });
  } catch (e) {
    err = e as ExportValidationError;
  }
  assert.ok(err instanceof ExportValidationError);
  assert.match(err.message, /blank \(tickets\.csv:7\) \[openai\]: empty assistant turn/);
  assert.match(err.message, /blank \(tickets\.csv:7\) \[sharegpt\]: empty gpt turn/);
  assert.match(err.message, /blank \(tickets\.csv:7\) \[alpaca\]: empty output turn/);
  assert.match(err.message, /bad-json .*extract output is not valid JSON/);
  assert.match(err.message, /huge .*tokens, over the limit of 100/);
  assert.ok(!err.issues.some((i) => i.id === "ok"));
  assert.equal(existsSync(dir), false, "nothing written");
});

test("axolotl config: a LoRA config pointing at the exported file with the matching type", () => {
  const splits = { train: [ex("a", "x one", "l1"), ex("b", "x two", "l2")], validation: [ex("c", "x three", "l1")], test: [ex("d", "x four", "l2")] };
  const withShare = planExports(splits, ["axolotl"]);
  assert.ok(withShare.files.has("sharegpt.train.jsonl"), "axolotl alone exports ShareGPT data");
  const y = parseYaml(withShare.files.get("axolotl.yaml")!);
  assert.equal(y.base_model, BASE_MODEL_PLACEHOLDER);
  assert.deepEqual([y.datasets[0].path, y.datasets[0].type, y.datasets[0].field_messages], ["sharegpt.train.jsonl", "chat_template", "conversations"]);
  assert.deepEqual(y.datasets[0].message_property_mappings, { role: "from", content: "value" });
  assert.equal(y.test_datasets[0].path, "sharegpt.validation.jsonl");
  assert.equal(y.val_set_size, 0);
  assert.equal(y.adapter, "lora");
  assert.equal(y.sequence_len, 2048);
  const alpaca = parseYaml(planExports({ ...splits, validation: [] }, ["alpaca", "axolotl"], { maxTokens: 512, axolotl: { baseModel: "org/model" } }).files.get("axolotl.yaml")!);
  assert.deepEqual([alpaca.base_model, alpaca.datasets[0].type, alpaca.datasets[0].path, alpaca.val_set_size, alpaca.sequence_len], ["org/model", "alpaca", "alpaca.train.jsonl", 0.05, 512]);
  const openai = parseYaml(planExports(splits, ["openai", "axolotl"]).files.get("axolotl.yaml")!);
  assert.deepEqual([openai.datasets[0].path, openai.datasets[0].field_messages], ["openai.train.jsonl", "messages"]);
});

// -------------------------------------------------------------------------------------------
// Build + write

test("buildDataset / writeDataset: steps, splits, card, a content hash independent of order and ids", () => {
  const dir = tmp();
  const csv = join(dir, "t.csv");
  const rows = [...sentences(30, 11).map((s) => `${s},billing`), ...sentences(30, 12).map((s) => `${s},bug`), `${sentences(1, 11)[0]},billing`];
  writeFileSync(csv, "text,label\n" + rows.join("\n") + "\n");
  const opts = { files: [{ path: csv, task: "classify" as const, inputField: "text", outputField: "label" }], decontaminate: { inputs: [sentences(1, 12)[0]] } };
  const r = buildDataset(opts);
  assert.equal(r.name, "classify");
  assert.equal(r.steps.find((s) => s.step === "exact-duplicates")!.removed, 1);
  assert.equal(r.steps.find((s) => s.step === "decontaminate")!.removed, 1);
  assert.equal(r.card.total, 59);
  assert.equal(r.card.hash, r.hash);
  assert.match(r.hash, /^[0-9a-f]{64}$/);
  const renamed = { train: [...r.splits.train].reverse().map((e) => ({ ...e, id: e.id + "x", source: "elsewhere" })), validation: r.splits.validation };
  assert.equal(datasetHash(renamed), r.hash);
  assert.notEqual(datasetHash({ train: r.splits.train.slice(1), validation: r.splits.validation }), r.hash);

  const out = join(dir, "ds");
  const written = writeDataset(out, r, ["openai", "alpaca"]);
  for (const f of ["train.jsonl", "validation.jsonl", "test.jsonl", "card.md", "card.json", "report.json", "openai.train.jsonl", "alpaca.test.jsonl"]) assert.ok(existsSync(join(out, f)), f);
  assert.equal(written.length, 12);
  const train = readFileSync(join(out, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(train[0]), ["id", "task", "input", "output", "source"]);
  assert.equal(train.length, r.splits.train.length);
  const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  assert.equal(report.steps.length, r.steps.length);
  assert.throws(() => buildDataset({ files: [] }), /no training examples/);
});

// -------------------------------------------------------------------------------------------
// CLI

async function runDataset(args: string[], cwd: string): Promise<{ stdout: string; error?: Error & { exitCode?: number } }> {
  const program = new Command();
  program.exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  program.option("-c, --config <file>");
  registerDataset(program);
  let stdout = "";
  const write = process.stdout.write.bind(process.stdout);
  const prevCwd = process.cwd();
  process.chdir(cwd);
  (process.stdout as { write: unknown }).write = (chunk: string | Uint8Array) => ((stdout += String(chunk)), true);
  try {
    await program.parseAsync(args, { from: "user" });
    return { stdout };
  } catch (e) {
    return { stdout, error: e as Error & { exitCode?: number } };
  } finally {
    (process.stdout as { write: unknown }).write = write;
    process.chdir(prevCwd);
  }
}

test("ragtune dataset build --json end to end on a temp project (runs + labelled CSV, decontaminated against the suite)", async () => {
  const root = makeTinyProject();
  // A run of a separate training suite (kept) and a run of the project's own suite (decontaminated).
  writeFileSync(join(root, "train-suite.yaml"), TRAIN_SUITE);
  writeRun(root, "2025-01-01_00-00-00-aaaa", join(root, "train-suite.yaml"), [
    { caseId: "c-billing", variant: "rag", passed: false },
    { caseId: "c-bug", variant: "rag", passed: false },
  ]);
  writeRun(root, "2025-01-02_00-00-00-bbbb", join(root, "suite.yaml"), [{ caseId: "route-billing", variant: "rag", passed: false }]);
  const rows = [
    ...sentences(40, 21).map((s) => `"${s}",billing`),
    ...sentences(40, 22).map((s) => `"${s}",bug_report`),
    `"The board page shows an error and crashes when I open it",bug_report`,
    `"Email me at dana@example.com about my invoice",billing`,
  ];
  writeFileSync(join(root, "tickets.csv"), "text,label\n" + rows.join("\n") + "\n");
  const res = await runDataset(
    ["dataset", "build", "--run", "2025-01-01_00-00-00-aaaa", "latest", "--file", "tickets.csv", "--task", "classify", "--input-field", "text", "--output-field", "label", "--pii", "--format", "openai,axolotl", "--json"],
    root,
  );
  assert.equal(res.error, undefined, res.error?.stack);
  const out = JSON.parse(res.stdout);
  assert.equal(out.name, "classify");
  assert.equal(out.outDir, join(root, ".ragtune", "datasets", "classify"));
  const step = (n: string) => out.steps.find((s: { step: string }) => s.step === n);
  assert.equal(step("pii").counts.email, 1);
  assert.equal(step("decontaminate").removed, 2, "the suite's own route-billing case and the CSV copy of route-bug");
  assert.match(out.notes.join("\n"), /from eval runs were removed/);
  for (const s of out.steps) if (s.step !== "decontaminate") assert.equal(s.removed, 0, s.step);
  assert.equal(out.card.total, 2 + 1 + 82 - 2);
  assert.deepEqual(out.sources.map((s: { kind: string; examples: number }) => [s.kind, s.examples]), [["run", 2], ["run", 1], ["file", 82]]);
  for (const f of ["train.jsonl", "card.md", "report.json", "openai.train.jsonl", "axolotl.yaml"]) assert.ok(out.files.includes(f) && existsSync(join(out.outDir, f)), f);
  const trainText = readFileSync(join(out.outDir, "train.jsonl"), "utf8") + readFileSync(join(out.outDir, "validation.jsonl"), "utf8") + readFileSync(join(out.outDir, "test.jsonl"), "utf8");
  assert.ok(!trainText.includes("dana@example.com") && trainText.includes("[EMAIL]"));
  assert.ok(trainText.includes("runs/2025-01-01_00-00-00-aaaa#c-billing"));

  // Human output prints the steps and the card; --no-decontaminate keeps the suite's case.
  const human = await runDataset(["dataset", "build", "--run", "latest", "--no-decontaminate", "--out", "ds2"], root);
  assert.equal(human.error, undefined, human.error?.stack);
  assert.match(human.stdout, /normalise/);
  assert.match(human.stdout, /data card: classify/);
  assert.ok(existsSync(join(root, "ds2", "openai.train.jsonl")));

  // Bad input: exit code 2 with the file:line.
  writeFileSync(join(root, "bad.csv"), "text,label\nok,\n");
  const bad = await runDataset(["dataset", "build", "--file", "bad.csv", "--task", "classify", "--input-field", "text", "--output-field", "label"], root);
  assert.equal(bad.error?.exitCode, 2);
  assert.match(bad.error!.message, /bad\.csv:2: field 'label' is empty/);
  const noSource = await runDataset(["dataset", "build"], root);
  assert.match(noSource.error!.message, /nothing to build from/);
});
