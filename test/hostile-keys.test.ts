/**
 * Lookups keyed by user text must not find Object.prototype members. A document containing the
 * word "constructor" once made the stemmer return a function, which crashed the store write; this
 * test feeds every Object.prototype name, every JS reserved word and seeded random Unicode through
 * each stage that keys anything by text: tokenizer and stemmer, chunker, store, BM25, reranker,
 * extractive reader (qa, classify, extract), classifier, prompt baselines, memoriser, scorers,
 * suite loader and the dataset cleaner.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentTokens, stem, tokenize } from "../src/retrieve/tokenize.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { OfflineReranker } from "../src/retrieve/rerank/offline.ts";
import { chunkDocument, ingestProject } from "../src/ingest/index.ts";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";
import { openStore } from "../src/store/index.ts";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import { TextClassifier } from "../src/finetune/classifier/model.ts";
import { fewShot, zeroShot } from "../src/finetune/baseline.ts";
import { NearestExampleMemoriser } from "../src/finetune/memoriser.ts";
import { scoreCase } from "../src/evaluate/scorers.ts";
import { loadSuite } from "../src/evaluate/suite.ts";
import { findConflicts, removeExactDuplicates } from "../src/finetune/dataset/clean.ts";
import type { SuiteCase } from "../src/evaluate/types.ts";
import type { TrainingExample } from "../src/finetune/index.ts";
import { mulberry32 } from "../src/util/rng.ts";

const PROTOTYPE_NAMES = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype), ...Object.getOwnPropertyNames(Array.prototype)]),
].filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
const RESERVED_WORDS =
  "break case catch class const continue debugger default delete do else enum export extends false finally for function if implements import in instanceof interface let new null package private protected public return static super switch this throw true try typeof var void while with yield await arguments eval undefined NaN Infinity prototype".split(
    " ",
  );
const HOSTILE_WORDS = [...new Set([...PROTOTYPE_NAMES, ...RESERVED_WORDS])];

/** Seeded random strings over awkward Unicode: astral, combining, RTL, zero-width, controls, lone surrogates. */
function randomUnicode(seed: number, count: number): string[] {
  const rand = mulberry32(seed);
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0xa0, 0x24f],
    [0x300, 0x36f],
    [0x590, 0x6ff],
    [0x200b, 0x200f],
    [0x2028, 0x202e],
    [0x3040, 0x30ff],
    [0x4e00, 0x4e80],
    [0xd800, 0xdfff],
    [0xfff0, 0xffff],
    [0x1f300, 0x1f64f],
    [0x10000, 0x1007f],
    [0x0, 0x1f],
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    const len = 1 + Math.floor(rand() * 24);
    for (let j = 0; j < len; j++) {
      const [lo, hi] = ranges[Math.floor(rand() * ranges.length)];
      s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
    }
    out.push(s);
  }
  return out;
}
const RANDOM = randomUnicode(7, 60);
const ALL = [...HOSTILE_WORDS, ...RANDOM];

const isStringArray = (xs: unknown): boolean => Array.isArray(xs) && xs.every((x) => typeof x === "string");

test("tokenizer and stemmer return strings for Object.prototype names, reserved words and random Unicode", () => {
  assert.ok(HOSTILE_WORDS.includes("constructor") && HOSTILE_WORDS.includes("__proto__") && HOSTILE_WORDS.includes("hasOwnProperty"));
  for (const w of ALL) {
    for (const text of [w, `the ${w} of ${w.toUpperCase()} is ${w}s`, `${w}_${w}.${w}-${w}`]) {
      assert.ok(isStringArray(tokenize(text)), `tokenize(${JSON.stringify(text)})`);
      assert.ok(isStringArray(contentTokens(text)), `contentTokens(${JSON.stringify(text)})`);
    }
    if (/^[a-z]+$/.test(w.toLowerCase())) assert.equal(typeof stem(w.toLowerCase()), "string", w);
  }
});

test("chunker, store, BM25 and the reranker index and find every hostile word", async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-keys-"));
  try {
    mkdirSync(join(root, "docs"));
    // One document per group of words, with hostile words in front matter keys, headings and body.
    const groups: string[][] = [];
    for (let i = 0; i < ALL.length; i += 12) groups.push(ALL.slice(i, i + 12));
    groups.forEach((words, i) => {
      const body = words.map((w, j) => `## ${w} section ${j}\n\nThe ${w} option controls ${w} behaviour (\`${w}\`).\n`).join("\n");
      writeFileSync(join(root, "docs", `doc-${i}.md`), `---\ntitle: group ${i}\nconstructor: x\ntoString: y\ntags: [${JSON.stringify(words[0])}]\n---\n# Group ${i}\n\n${body}`);
      const doc = loadMarkdown(`# Group ${i}\n\n${body}`, `docs/doc-${i}.md`);
      const chunks = chunkDocument(doc, { path: `docs/doc-${i}.md`, version: "" }, { maxTokens: 120, overlapTokens: 10, headingDepth: 3, minTokens: 8, strategy: "paragraphs" });
      for (const c of chunks) assert.equal(typeof c.text, "string");
    });
    const store = openStore(join(root, "index.db"));
    try {
      const stats = await ingestProject({
        root,
        sources: [{ include: "docs/**/*.md", exclude: [], version: "v1" }],
        chunking: { strategy: "paragraphs", maxTokens: 120, overlapTokens: 10, headingDepth: 3, minTokens: 8, maxFileBytes: 1_000_000 },
        store,
      });
      assert.deepEqual(stats.skipped, [], JSON.stringify(stats.skipped));
      assert.equal(stats.added, groups.length);
      const index = Bm25Index.fromStore(store, { k1: 1.5, b: 0.75, headingBoost: 10 });
      const reranker = new OfflineReranker();
      // Stop words ("at", "in", "this") are not indexed; every other word must find its own chunk.
      for (const w of HOSTILE_WORDS.filter((x) => contentTokens(x).length > 0)) {
        const hits = index.search(`${w} option`, { k: 5 });
        assert.ok(hits.length > 0, `no hit for ${w}`);
        assert.ok(hits.every((h) => Number.isFinite(h.score)), w);
        assert.ok(
          hits.some((h) => h.chunk.text.includes(`The ${w} option`)),
          `the chunk that says "The ${w} option" is not among the hits for "${w} option"`,
        );
        const reranked = reranker.rerankSync(`${w} option`, hits, 3);
        assert.ok(reranked.length > 0 && reranked.every((h) => Number.isFinite(h.score)), `rerank ${w}`);
        assert.ok(store.chunk(hits[0].chunk.id), w);
      }
      for (const w of RANDOM) {
        const hits = index.search(w, { k: 3 });
        assert.ok(hits.every((h) => Number.isFinite(h.score)), JSON.stringify(w));
        reranker.rerankSync(w, hits, 2);
      }
    } finally {
      store.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the extractive reader answers, classifies and extracts with hostile words as terms, labels and fields", async () => {
  const reader = new ExtractiveReader({ minConfidence: 0, maxSentences: 2 });
  const words = HOSTILE_WORDS.filter((w) => /^[a-z_]+$/i.test(w) && contentTokens(w).length > 0);
  const context = words.map((w, i) => ({
    id: `docs/a.md#${i}`,
    path: "docs/a.md",
    headingPath: [w],
    lineStart: i + 1,
    lineEnd: i + 1,
    version: "",
    text: `The ${w} setting defaults to ${i}.`,
  }));
  for (const w of words.slice(0, 40)) {
    const qa = await reader.generate({ task: "qa", input: `What does the ${w} setting default to?`, context });
    assert.equal(typeof qa.text, "string");
    // `__x__` is strong emphasis in markdown, so the quote may render it as "x".
    assert.ok(qa.abstained || qa.text.includes(w.replace(/^__(.+)__$/, "$1")), `answer for ${w}: ${qa.text}`);
  }
  const labels = words.map((name) => ({ name, description: `messages about ${name}` }));
  for (const w of words.slice(0, 40)) {
    const r = await reader.generate({ task: "classify", input: `I have a question about ${w}`, context: [], labels });
    assert.ok(r.label === undefined || words.includes(r.label), `label ${String(r.label)}`);
  }
  const properties = Object.fromEntries(words.map((w) => [w, { type: "string" }]));
  const ex = await reader.generate({ task: "extract", input: "constructor: alpha\ntoString: beta", context: [], jsonSchema: { type: "object", properties } });
  assert.equal(typeof ex.text, "string");
  const json = ex.json as Record<string, unknown>;
  for (const [k, v] of Object.entries(json)) assert.ok(typeof v !== "function", `${k} is a function`);
  assert.equal(Object.getPrototypeOf(json) === Object.prototype || Object.getPrototypeOf(json) === null, true);
});

test("classifier, baselines and memoriser keep hostile labels as labels", () => {
  const labels = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "prototype"];
  const train = labels.flatMap((label, i) =>
    Array.from({ length: 12 }, (_, j) => ({ text: `ticket ${j} about ${label} topic${i} word${i} extra${j % 3}`, label })),
  );
  const model = TextClassifier.train(train, { seed: 1 });
  assert.deepEqual([...model.labels].sort(), [...labels].sort());
  for (const label of labels) {
    const p = model.predict(`ticket about ${label} topic${labels.indexOf(label)} word${labels.indexOf(label)}`);
    assert.ok(p.label === undefined || labels.includes(p.label), String(p.label));
  }
  const evaluation = model.evaluate(train);
  assert.deepEqual(Object.keys(evaluation.perLabel).sort(), [...labels].sort(), "every label, __proto__ included, has its metrics");
  for (const label of labels) assert.equal(typeof evaluation.perLabel[label].f1, "number", label);

  const few = fewShot(train);
  const zero = zeroShot(labels.map((name) => ({ name })));
  for (const label of labels) {
    const f = few.predict(`about ${label}`);
    assert.ok(labels.includes(f.label), `few-shot ${f.label}`);
    const z = zero.predict(`about ${label}`);
    assert.ok(z.label === undefined || labels.includes(z.label), `zero-shot ${String(z.label)}`);
  }

  const memoriser = new NearestExampleMemoriser(labels.map((l) => ({ input: `what is ${l}?`, output: `${l} is a word`, source: "x:1" })));
  const m = memoriser.answer("what is constructor?");
  assert.ok(m === undefined || typeof m.answer === "string");
});

test("scorers compare hostile answers, labels and JSON fields by value", () => {
  const base: SuiteCase = { id: "c", task: "qa", input: "q", file: "suite.yaml", line: 1 };
  const out = (text: string, extra: object = {}) => ({ text, abstained: false, ...extra });
  for (const w of HOSTILE_WORDS) {
    const [answer] = scoreCase({ ...base, answer: [w] }, out(`The value is ${w}.`));
    assert.equal(answer.pass, true, `answer ${w}`);
    const [label] = scoreCase({ ...base, task: "classify", label: w }, out(w, { label: w }));
    assert.equal(label.pass, true, `label ${w}`);
  }
  // expected_json with keys that are Object.prototype members: a missing key is missing, not a function.
  const expected = JSON.parse('{"constructor": "a", "__proto__": "b", "toString": "c"}') as Record<string, unknown>;
  const schema = { type: "object" };
  const good = scoreCase({ ...base, task: "extract", json_schema: schema, expected_json: expected }, out('{"constructor":"a","__proto__":"b","toString":"c"}', { json: JSON.parse('{"constructor":"a","__proto__":"b","toString":"c"}') }));
  assert.ok(good.every((s) => s.pass), JSON.stringify(good));
  const missing = scoreCase({ ...base, task: "extract", json_schema: schema, expected_json: expected }, out("{}", { json: {} }));
  const fields = missing.find((s) => s.name === "expected_json");
  assert.equal(fields?.pass, false);
  assert.match(fields?.detail ?? "", /constructor: expected "a", got nothing/);
});

test("suite loader reports hostile keys as unknown keys and keeps hostile ids, labels and tags", () => {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-keys-suite-"));
  try {
    const cases = HOSTILE_WORDS.slice(0, 30).map((w, i) => `  - id: ${JSON.stringify(`${w}-${i}`)}\n    task: classify\n    input: ${JSON.stringify(`about ${w}`)}\n    label: ${JSON.stringify(w)}\n    tags: [${JSON.stringify(w)}]`);
    writeFileSync(join(dir, "suite.yaml"), `cases:\n${cases.join("\n")}\n`);
    const suite = loadSuite(join(dir, "suite.yaml"));
    assert.equal(suite.cases.length, 30);
    assert.deepEqual(
      suite.labels.map((l) => l.name),
      HOSTILE_WORDS.slice(0, 30),
    );
    for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      writeFileSync(join(dir, "bad.yaml"), `cases:\n  - id: a\n    input: q\n    answer: x\n    ${key}: 1\n`);
      assert.throws(() => loadSuite(join(dir, "bad.yaml")), (err: Error) => err.message.includes(`field '${key}': unknown field`) && err.message.includes("bad.yaml:5"), key);
      writeFileSync(join(dir, "bad-top.yaml"), `${key}: 1\ncases:\n  - id: a\n    input: q\n    answer: x\n`);
      assert.throws(() => loadSuite(join(dir, "bad-top.yaml")), (err: Error) => err.message.includes(`field '${key}': unknown field`) && err.message.includes("bad-top.yaml:1"), `top ${key}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the dataset cleaner groups by input and label text, not by prototype members", () => {
  const ex = (input: string, output: string, i: number): TrainingExample => ({ id: `e${i}`, task: "classify", input, output, source: `t.csv:${i}` });
  const examples = [ex("constructor", "toString", 1), ex("constructor", "__proto__", 2), ex("valueOf", "valueOf", 3), ex("valueOf", "valueOf", 4)];
  const conflicts = findConflicts(examples);
  assert.equal(conflicts.length, 1);
  assert.deepEqual(conflicts[0].outputs.map((o) => o.sources[0]).sort(), ["t.csv:1", "t.csv:2"]);
  const deduped = removeExactDuplicates(examples);
  assert.equal(deduped.examples.length, 3);
});
