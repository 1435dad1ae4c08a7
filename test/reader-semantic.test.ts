/**
 * The offline reader's semantic signal (src/models/extractive/semantic.ts), with a stub encoder
 * whose vectors are chosen by the test, and the lexical reader's answers pinned: with no encoder
 * the reader answers exactly as it did before the signal existed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import type { ContextChunk, Embedder } from "../src/models/index.ts";
import { demoReaderRequests } from "./helpers/reader-requests.ts";
import { parseConfig } from "../src/config/index.ts";
import { createGenerator } from "../src/models/registry.ts";

test("no encoder: the reader's answers, citations and confidences on the demo documents are unchanged", async () => {
  // Recorded from the reader before the semantic signal was added (test/helpers/reader-requests.ts).
  const golden = JSON.parse(readFileSync(new URL("./fixtures/reader/lexical-demo.json", import.meta.url), "utf8")) as {
    caseId: string;
    text: string;
    abstained: boolean;
    confidence: number;
    citations: unknown[];
  }[];
  const reader = new ExtractiveReader({ minConfidence: 0.35, maxSentences: 2 });
  const requests = demoReaderRequests();
  assert.equal(requests.length, golden.length);
  for (const [i, { caseId, request }] of requests.entries()) {
    const r = await reader.generate(request);
    assert.deepEqual({ caseId, text: r.text, abstained: r.abstained, confidence: r.confidence, citations: r.citations }, golden[i]);
  }
});

/**
 * A stub encoder: each text's vector is the unit vector of the first concept word it contains, so
 * cosines are 1 (same concept) or 0; texts with no concept word all share one "other" direction.
 */
function stubEncoder(concepts: string[][]): Embedder & { calls: string[][] } {
  const dims = concepts.length + 1;
  const calls: string[][] = [];
  return {
    id: "stub",
    dimensions: dims,
    calls,
    async embed(texts) {
      calls.push(texts);
      return texts.map((t) => {
        const v = new Float32Array(dims);
        const i = concepts.findIndex((words) => words.some((w) => t.toLowerCase().includes(w)));
        v[i < 0 ? concepts.length : i] = 1;
        return v;
      });
    },
  };
}

// Two sentences that match the question's words equally; only the second answers it.
const refunds: ContextChunk = {
  id: "docs/refunds.md#0",
  path: "docs/refunds.md",
  headingPath: ["Refunds"],
  lineStart: 1,
  lineEnd: 3,
  version: "",
  text: "Annual plan refunds are reviewed by the billing team every week.\n\nAn annual plan refund is paid to the original card within thirty days.",
};
const question = "Can I get a refund on an annual plan?";

test("selection: the semantically closer of two lexically tied sentences is quoted", async () => {
  const lexical = await new ExtractiveReader({ minConfidence: 0, maxSentences: 1 }).generate({ task: "qa", input: question, context: [refunds] });
  assert.match(lexical.text, /^Annual plan refunds are reviewed/, "lexically, the first sentence wins the tie");
  // The question and the second sentence share a concept ("can I get" / "paid"); the first is about reviews.
  const encoder = stubEncoder([["can i get", "paid"], ["reviewed"]]);
  const semantic = new ExtractiveReader({ minConfidence: 0, maxSentences: 1, semantic: { encoder, selectionWeight: 0.3, confidenceWeight: 0 } });
  const r = await semantic.generate({ task: "qa", input: question, context: [refunds] });
  assert.match(r.text, /^An annual plan refund is paid/);
  // Weight 0: the encoder is asked, but the choice stays lexical.
  const off = new ExtractiveReader({ minConfidence: 0, maxSentences: 1, semantic: { encoder, selectionWeight: 0, confidenceWeight: 0 } });
  assert.equal((await off.generate({ task: "qa", input: question, context: [refunds] })).text, lexical.text);
});

test("abstention: a best sentence far from the question lowers the confidence below the threshold; a close one raises it", async () => {
  const lexical = await new ExtractiveReader({ minConfidence: 0, maxSentences: 1 }).generate({ task: "qa", input: question, context: [refunds] });
  const base = lexical.confidence ?? 0;
  assert.ok(base > 0.35, `lexical confidence ${base} answers at the default threshold`);
  // Far: the question's vector is orthogonal to every sentence.
  const far = new ExtractiveReader({ minConfidence: 0.35, maxSentences: 1, semantic: { encoder: stubEncoder([["can i get"]]), selectionWeight: 0, confidenceWeight: 0.7 } });
  const abstained = await far.generate({ task: "qa", input: question, context: [refunds] });
  assert.equal(abstained.abstained, true);
  assert.ok(Math.abs((abstained.confidence ?? 0) - (0.3 * base ** (1 / 1.5)) ** 1.5) < 1e-9, `confidence ${abstained.confidence}`);
  // Close: a paraphrase the lexical reader abstains on ("yearly subscription … reimbursed") is
  // answered when the encoder puts it next to its answer (cos 1 ≥ simFull).
  const paraphrase = "Can my yearly subscription be reimbursed as a refund?";
  const lexicalParaphrase = await new ExtractiveReader({ minConfidence: 0.35, maxSentences: 1 }).generate({ task: "qa", input: paraphrase, context: [refunds] });
  assert.equal(lexicalParaphrase.abstained, true);
  const close = new ExtractiveReader({ minConfidence: 0.35, maxSentences: 1, semantic: { encoder: stubEncoder([["yearly", "annual"]]), selectionWeight: 0, confidenceWeight: 0.5 } });
  const answered = await close.generate({ task: "qa", input: paraphrase, context: [refunds] });
  assert.equal(answered.abstained, false);
  const support = (lexicalParaphrase.confidence ?? 0) ** (1 / 1.5);
  assert.ok(Math.abs((answered.confidence ?? 0) - (0.5 * support + 0.5) ** 1.5) < 1e-9, `confidence ${answered.confidence}`);
});

test("only the lexical top candidates are embedded, in one batch with the question, and each text once per reader", async () => {
  const encoder = stubEncoder([["can i get"]]);
  const many: ContextChunk = { ...refunds, text: Array.from({ length: 20 }, (_, i) => `Annual plan refund rule number ${i + 1} applies.`).join("\n\n") };
  const reader = new ExtractiveReader({ minConfidence: 0, maxSentences: 1, semantic: { encoder, selectionWeight: 0.3, candidates: 5 } });
  await reader.generate({ task: "qa", input: question, context: [many] });
  assert.equal(encoder.calls.length, 1);
  assert.equal(encoder.calls[0].length, 6, "the question and 5 candidates");
  assert.equal(encoder.calls[0][0], question);
  await reader.generate({ task: "qa", input: question, context: [many] });
  assert.equal(encoder.calls.length, 1, "the second identical request embeds nothing");
  // Selection weight 0 (the default): only the question and the answer sentence are embedded.
  const confidenceOnly = stubEncoder([["can i get"]]);
  const answer = await new ExtractiveReader({ minConfidence: 0, maxSentences: 1, semantic: { encoder: confidenceOnly } }).generate({ task: "qa", input: question, context: [many] });
  assert.deepEqual(confidenceOnly.calls, [[question, answer.citations[0].quote]]);
});

test("answer.semantic: use-lite wires the real encoder into offline:extractive (model loads offline); none stays lexical", async () => {
  const config = (semantic?: string) => parseConfig(`sources:\n  - include: a\n${semantic ? `answer:\n  semantic: ${semantic}\n` : ""}`);
  assert.equal(config().answer.semantic, "none", "lexical is the default");
  assert.throws(() => config("use-lit"), /semantic/);
  const request = { task: "qa" as const, input: "Can my yearly subscription be reimbursed as a refund?", context: [refunds] };
  const lexical = await createGenerator("offline:extractive", config().models, config().answer).generate(request);
  const plain = await new ExtractiveReader({ minConfidence: 0.35, maxSentences: 2 }).generate(request);
  assert.deepEqual(lexical, plain);
  const withEncoder = config("use-lite");
  const semantic = await createGenerator("offline:extractive", withEncoder.models, withEncoder.answer).generate(request);
  assert.equal(semantic.generator, "offline:extractive");
  // (1 − w)·support + w·g(cos): only the real cosine of these two texts can make it differ, and it must stay a valid confidence.
  assert.notEqual(semantic.confidence, lexical.confidence);
  assert.ok((semantic.confidence ?? -1) >= 0 && (semantic.confidence ?? 2) <= 1);
});
