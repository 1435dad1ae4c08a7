/**
 * Stale answers are matched as answers: the stale value must be what the answering sentence says,
 * not a word anywhere in the output. Outputs are modelled on real ones (long-context and rag runs
 * on the Fastify v4/v5 docs with the offline reader, and LLM-style replies).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { staleness, answerUnits, answeringUnits } from "../src/evaluate/stale.ts";
import { labelFailure } from "../src/evaluate/failures.ts";
import { scoreCase, matchAnswer, scoreAnswer } from "../src/evaluate/scorers.ts";
import type { SuiteCase } from "../src/evaluate/types.ts";

const SEMICOLON_Q = "What is the default value of useSemicolonDelimiter?";
const MINIFY_Q = "Which minifier does Vite use for the client build by default?";

test("answer units keep the citation markers that follow a sentence, in both citation styles", () => {
  assert.deepEqual(answerUnits("Logging is off by default. [1] Enable it with logger: true. [2]"), [
    { text: "Logging is off by default. [1]", markers: [1] },
    { text: "Enable it with logger: true. [2]", markers: [2] },
  ]);
  assert.deepEqual(answerUnits("Logging is off by default [1]. Enable it with `logger: true` [2, 3]."), [
    { text: "Logging is off by default [1].", markers: [1] },
    { text: "Enable it with `logger: true` [2, 3].", markers: [2, 3] },
  ]);
  // The offline reader quotes code lines without sentence punctuation: the marker ends the unit.
  assert.deepEqual(
    answerUnits("Keep-Alive: timeout=5 [1] fastify-ata Use ata-validator as the JSON Schema validator. [2]").map((u) => u.markers),
    [[1], [2]],
  );
  // e.g. and version numbers do not end a sentence
  assert.equal(answerUnits("Use a plugin, e.g. fastify-cors 2.5 or later [1].").length, 1);
});

test("answering units: the sentences that share the most question words; the first when none does", () => {
  const units = answerUnits("The client build is minified by default [1]. Dependency pre-bundling uses esbuild [2].");
  assert.deepEqual(answeringUnits(units, MINIFY_Q).map((u) => u.markers), [[1]]);
  const unrelated = answerUnits("Fastify splits the path from the query string at the question mark [1]. Route matching is case sensitive, `caseSensitive: true` [2].");
  assert.deepEqual(answeringUnits(unrelated, SEMICOLON_Q).map((u) => u.markers), [[1]]);
  // without a question every unit counts (the old, whole-output behaviour)
  assert.equal(answeringUnits(units, undefined).length, 2);
});

test("a long-context reply that answers something else and names the stale value in passing is not stale", () => {
  // The reported case: "esbuild" appeared in another sentence of the output.
  const out = "The client build is minified by default, and `build.minify: false` turns it off [1]. Dependency pre-bundling runs through esbuild, as in development [2].";
  assert.equal(staleness(out, ["esbuild"], ["Oxc"], { question: MINIFY_Q }).stale, false);
  // The same output judged as before (no question): the word anywhere made it stale.
  assert.equal(staleness(out, ["esbuild"], ["Oxc"]).stale, true);

  const semicolon = "Fastify splits the path from the query string at the question mark [1]. Route matching is case sensitive, `caseSensitive: true` [2].";
  assert.equal(staleness(semicolon, ["true"], ["false"], { question: SEMICOLON_Q }).stale, false);
});

test("a reply that answers correctly and mentions the stale value elsewhere is not stale", () => {
  const out = "`useSemicolonDelimiter` defaults to `false` in Fastify v5 [1]. Route matching is case sensitive, `caseSensitive: true` [2].";
  const s = staleness(out, ["true"], ["false"], { question: SEMICOLON_Q });
  assert.equal(s.stale, false);
  // the stale value is in a non-answering sentence, so it is not even a candidate
  assert.equal(s.staleAnswer, undefined);
  // "was X, now Y" in one sentence: the stale value is there, the current answer too
  const both = staleness("The default was `true` in v4 and is `false` since v5 [1].", ["true"], ["false"], { question: SEMICOLON_Q });
  assert.deepEqual([both.stale, both.notStaleBecause], [false, "current_answer_given"]);
});

test("a reply that states the stale value as its answer is stale, with the answering sentence quoted", () => {
  const llm = staleness("By default `useSemicolonDelimiter` is `true`, so `/dev;foo=bar` is split at the semicolon.", ["true"], ["false"], { question: SEMICOLON_Q });
  assert.deepEqual([llm.stale, llm.staleAnswer], [true, "true"]);
  assert.match(llm.sentence!, /useSemicolonDelimiter/);

  // Several sentences, the stale one answers: the extractive reader quoting the v4 reference.
  const reader =
    ".getResponseTime() - Deprecated, returns the amount of time passed since the request was received by Fastify. [1] Set it on the reply object. [2]";
  const s = staleness(reader, ["getResponseTime"], ["reply.elapsedTime", "elapsedTime"], {
    question: "How do I get the amount of time passed since the request was received by Fastify?",
  });
  assert.deepEqual([s.stale, s.staleAnswer], [true, "getResponseTime"]);
  assert.equal(s.sentence, ".getResponseTime() - Deprecated, returns the amount of time passed since the request was received by Fastify. [1]");
});

test("a stale answer that repeats the question's words counts only when it is the whole answer", () => {
  const q = "Which option do I use to pass a custom logger instance in Fastify v5?";
  // Real long-context output on the Fastify docs: "logger" is the question's own word.
  const passing =
    "The MongoDB plugin uses the decorate API to add custom objects to the Fastify instance, making them available for use everywhere. [1] fastify-asyncforge Plugin to access Fastify instance, logger, request and reply from Node.js Async Local Storage. [2]";
  assert.equal(staleness(passing, ["logger"], ["loggerInstance"], { question: q }).stale, false);
  assert.equal(staleness("`logger`", ["logger"], ["loggerInstance"], { question: q }).stale, true);
});

test("a stale-looking value quoted from a current-version chunk is a misread, not stale knowledge", () => {
  const out = "If you still wish to use semicolons as delimiters, you can do so by setting useSemicolonDelimiter: true in the server configuration. [1]";
  const context = [
    { id: "docs/v5/Guides/Migration-Guide-V5.md#12", version: "v5" },
    { id: "docs/v4/Reference/Server.md#40", version: "v4" },
  ];
  const fromV5 = staleness(out, ["true"], ["false"], {
    question: SEMICOLON_Q,
    citations: [{ marker: 1, chunkId: "docs/v5/Guides/Migration-Guide-V5.md#12" }],
    contextChunks: context,
    currentVersion: "v5",
  });
  assert.deepEqual([fromV5.stale, fromV5.notStaleBecause], [false, "quoted_from_current_version"]);
  const fromV4 = staleness(out, ["true"], ["false"], {
    question: SEMICOLON_Q,
    citations: [{ marker: 1, chunkId: "docs/v4/Reference/Server.md#40" }],
    contextChunks: context,
    currentVersion: "v5",
  });
  assert.equal(fromV4.stale, true);
  // No citations to go by (prompt-only, or an uncited reply): the stated value decides.
  assert.equal(staleness(out, ["true"], ["false"], { question: SEMICOLON_Q, currentVersion: "v5" }).stale, true);
});

test("matchAnswer is the answer scorer's rule: scoreAnswer passes exactly when it matches", () => {
  const texts = ["Pro costs $12 per user.", "Pro costs $120 per user.", "12 dollars", "$12", "Within 14 days of purchase", "fourteen days"];
  for (const t of texts) {
    for (const expected of [["$12"], ["14 days"], ["within 14 days of purchase"]]) {
      assert.equal(matchAnswer(expected, t) !== undefined, scoreAnswer(expected, { text: t, abstained: false }).pass, `${t} vs ${expected}`);
    }
  }
});

// The labeller end to end, with real scorers --------------------------------------------------

const semicolonCase: SuiteCase = {
  id: "semicolon-default",
  task: "qa",
  input: SEMICOLON_Q,
  answer: ["false"],
  stale_answers: ["true"],
  sources: ["docs/v5/Reference/Server.md#useSemicolonDelimiter"],
  file: "suite.yaml",
  line: 1,
};
const V5_SERVER = {
  id: "docs/v5/Reference/Server.md#88",
  path: "docs/v5/Reference/Server.md",
  headingPath: ["Factory", "useSemicolonDelimiter"],
  text: "Default false. Fastify uses find-my-way which supports separating the path and query string with a ; character.",
  version: "v5",
};
const V4_SERVER = {
  id: "docs/v4/Reference/Server.md#61",
  path: "docs/v4/Reference/Server.md",
  headingPath: ["Factory", "useSemicolonDelimiter"],
  text: "Default true. Fastify uses find-my-way which supports separating the path and query string with a ; character.",
  version: "v4",
};
const ROUTES = {
  id: "docs/v5/Reference/Routes.md#3",
  path: "docs/v5/Reference/Routes.md",
  headingPath: ["Routes"],
  text: "Route matching is case sensitive by default: caseSensitive is true.",
  version: "v5",
};

function labelLongContext(text: string, markers: { marker: number; chunkId: string }[]) {
  const context = [V5_SERVER, V4_SERVER, ROUTES];
  const output = { text, abstained: false, citations: markers };
  const scores = scoreCase(semicolonCase, output);
  return labelFailure({
    case: semicolonCase,
    output,
    scores,
    passed: scores.every((s) => s.pass),
    variant: { usesContext: true, usesRetrieval: false },
    contextPaths: [...new Set(context.map((c) => c.path))],
    contextChunks: context,
    truncated: false,
    corpusPaths: new Set(context.map((c) => c.path)),
    currentVersion: "v5",
  });
}

test("labeller: the stale value in a passing sentence of a long-context reply is not stale_knowledge", () => {
  const l = labelLongContext(
    "Fastify uses find-my-way, which can separate the path and the query string with a ; character [1]. Route matching is case sensitive: caseSensitive is true [3].",
    [
      { marker: 1, chunkId: V5_SERVER.id },
      { marker: 3, chunkId: ROUTES.id },
    ],
  );
  assert.ok(l);
  assert.notEqual(l.cause, "stale_knowledge");
  assert.equal(l.cause, "weak_reasoning"); // the gold section was in the context
});

test("labeller: the answering sentence quoting the v4 default is stale_knowledge, quoted in the evidence", () => {
  const l = labelLongContext("Default true. [2] Route matching is case sensitive by default. [3]", [
    { marker: 2, chunkId: V4_SERVER.id },
    { marker: 3, chunkId: ROUTES.id },
  ]);
  assert.deepEqual([l?.cause, l?.signal], ["stale_knowledge", "stale_answer_match"]);
  assert.match(l!.evidence, /"Default true\. \[2\]" matches stale answer "true"/);
});
