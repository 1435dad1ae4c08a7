import { test } from "node:test";
import assert from "node:assert/strict";
import { ExtractiveReader, analyzeQuestion, cleanMarkdown, splitSentences, splitUnits } from "../src/models/offline-extractive.ts";
import { classifyLexical } from "../src/models/offline-classify.ts";
import { extractBySchema } from "../src/models/offline-extract.ts";
import { FALLBACK_MESSAGE, countTokens, type ContextChunk, type GenerateRequest } from "../src/models/index.ts";

const billing: ContextChunk = {
  id: "docs/billing.md#0",
  path: "docs/billing.md",
  headingPath: ["Billing", "Refunds"],
  lineStart: 10,
  lineEnd: 16,
  version: "v2",
  score: 7.1,
  text:
    "Refunds are available within **30 days** of purchase. See [the refund policy](https://example.test/policy) for details.\n\n" +
    "To request a refund, email billing@acme.test with your order number. Refunds are processed within 5 business days.",
};
const pricing: ContextChunk = {
  id: "docs/pricing.md#0",
  path: "docs/pricing.md",
  headingPath: ["Pricing"],
  lineStart: 1,
  lineEnd: 8,
  version: "v2",
  score: 3.2,
  text: "Plans are billed monthly.\n\n| Plan | Price | Seats |\n|------|------:|------|\n| Starter | $19/month | 3 |\n| **Pro** | $49/month | 10 |\n| Enterprise | Contact sales | Unlimited |\n",
};
const setup: ContextChunk = {
  id: "docs/setup.md#2",
  path: "docs/setup.md",
  headingPath: ["Setup", "pnpm"],
  lineStart: 40,
  lineEnd: 52,
  version: "v2",
  score: 1.0,
  text: "- Install pnpm 9 or later.\n- Set `auto-install-peers=true` in `.npmrc` so _peer dependencies_ are installed automatically.\n\n```sh\npnpm install\n```",
};
const context = [billing, pricing, setup];
const reader = new ExtractiveReader({ minConfidence: 0.35, maxSentences: 2 });
const qa = (input: string, extra: Partial<GenerateRequest> = {}) => reader.generate({ task: "qa", input, context, ...extra });

test("answers with the best sentence and maps its citation to the chunk", async () => {
  const result = await qa("How do I request a refund?");
  assert.equal(result.abstained, false);
  assert.equal(result.text, "To request a refund, email billing@acme.test with your order number. [1]");
  assert.deepEqual(result.citations, [
    // The chunk has no spans and 3 text lines for 7 source lines: the sentence's line is estimated.
    {
      marker: 1,
      chunkId: "docs/billing.md#0",
      path: "docs/billing.md",
      headingPath: ["Billing", "Refunds"],
      lineStart: 13,
      lineEnd: 16,
      version: "v2",
      quote: "To request a refund, email billing@acme.test with your order number.",
    },
  ]);
  assert.equal(result.generator, "offline:extractive");
  assert.ok(result.confidence !== undefined && result.confidence >= 0.35 && result.confidence <= 1);
  const inputTokens = countTokens("How do I request a refund?") + context.reduce((n, c) => n + countTokens(c.text), 0);
  assert.deepEqual(result.usage, { inputTokens, outputTokens: countTokens(result.text) });
});

test("question idioms and inflections do not hide the answer", async () => {
  const result = await qa("How long does it take to process refunds?");
  assert.equal(result.text, "Refunds are processed within 5 business days. [1]");
});

test("quotes sentences with markdown emphasis dropped and code kept as code; compound identifiers match", async () => {
  const result = await qa("How do I enable auto-install-peers?");
  assert.equal(result.text, "Set `auto-install-peers=true` in `.npmrc` so peer dependencies are installed automatically. [1]");
  assert.equal(result.citations[0].chunkId, "docs/setup.md#2");
  assert.ok(result.citations[0].lineStart > 40 && result.citations[0].lineStart < 52, "the second list item, not the chunk's first line");
});

test("a markdown table row can be the answer; header cells count as its heading", async () => {
  const result = await qa("What is the price of the Pro plan?");
  assert.equal(result.text, "Pro | $49/month | 10 [1]");
  assert.equal(result.citations[0].chunkId, "docs/pricing.md#0");
  assert.equal((await qa("Which plan has unlimited seats?")).text, "Enterprise | Contact sales | Unlimited [1]");
});

test("adds a second sentence only when it covers more of the question; markers per distinct chunk", async () => {
  // No single sentence covers both parts, so a two-part question needs a lower bar.
  const result = await qa("Which email handles refunds, and how many seats does the Pro plan include?", { minConfidence: 0.2 });
  assert.equal(result.abstained, false);
  assert.ok((result.confidence ?? 1) < 0.35);
  assert.match(result.text, /^.+ \[1\] .+ \[2\]$/);
  assert.deepEqual(result.citations.map((c) => c.marker), [1, 2]);
  assert.deepEqual(new Set(result.citations.map((c) => c.chunkId)), new Set([billing.id, pricing.id]));
  // maxSentences 1 keeps one.
  const single = await new ExtractiveReader({ minConfidence: 0.1, maxSentences: 1 }).generate({
    task: "qa",
    input: "Which email handles refunds, and how many seats does the Pro plan include?",
    context,
  });
  assert.equal(single.citations.length, 1);
  assert.equal((single.text.match(/\[\d+\]/g) ?? []).length, 1);
});

test("abstains on unrelated questions and on empty context", async () => {
  for (const input of ["What is the capital of France?", "Does the API support webhooks?"]) {
    const result = await qa(input);
    assert.equal(result.abstained, true, input);
    assert.equal(result.text, FALLBACK_MESSAGE);
    assert.deepEqual(result.citations, []);
    assert.ok((result.confidence ?? 1) < 0.35);
  }
  const empty = await reader.generate({ task: "qa", input: "How do I request a refund?", context: [] });
  assert.equal(empty.abstained, true);
  assert.equal(empty.confidence, 0);
  assert.equal(empty.usage.outputTokens, countTokens(FALLBACK_MESSAGE));
  const custom = new ExtractiveReader({ minConfidence: 0.35, maxSentences: 2, fallbackMessage: "Ask #support." });
  assert.equal((await custom.generate({ task: "qa", input: "Capital of France?", context })).text, "Ask #support.");
});

test("request.minConfidence overrides the constructor's", async () => {
  const confident = await qa("How do I request a refund?");
  const strict = await qa("How do I request a refund?", { minConfidence: 1.01 });
  assert.equal(strict.abstained, true);
  assert.equal(strict.confidence, confident.confidence);
  const lenient = await qa("What is the refund window for annual plans?", { minConfidence: 0 });
  assert.equal(lenient.abstained, false);
});

test("heading-path matches add partial coverage", async () => {
  const chunk: ContextChunk = { ...billing, id: "h#0", headingPath: ["Cancellation"], text: "Email us before the next billing date. We reply within a day." };
  const other: ContextChunk = { ...billing, id: "o#0", headingPath: ["Other"], text: "Email us about anything else. Office hours are nine to five." };
  const result = await reader.generate({ task: "qa", input: "How do I cancel? Email?", context: [other, chunk] });
  assert.equal(result.citations[0]?.chunkId, "h#0");
});

// --- answer-type cues, paraphrases and abstention -----------------------------------------------

const doc = (id: string, headingPath: string[], text: string, score?: number): ContextChunk => ({
  id,
  path: id.split("#")[0],
  headingPath,
  lineStart: 1,
  lineEnd: 20,
  version: "v1",
  text,
  score,
});
const ask = async (input: string, chunks: ContextChunk[], minConfidence?: number) =>
  new ExtractiveReader({ minConfidence: 0.35, maxSentences: 1 }).generate({ task: "qa", input, context: chunks, minConfidence });

test("a how-many question picks the sentence with the number over an intro that repeats its words", async () => {
  const workspaces = doc(
    "workspaces.md#0",
    ["Workspaces"],
    "A team workspace holds your projects, members and settings in one place. Each workspace can have up to 40 projects. Archived projects do not count.",
  );
  const result = await ask("How many projects can a team workspace have?", [workspaces]);
  assert.equal(result.text, "Each workspace can have up to 40 projects. [1]");
  // The same intro answers a question that asks for no number.
  assert.match((await ask("What does a team workspace hold?", [workspaces])).text, /^A team workspace holds/);
});

test("a which-key question picks the sentence that names the key", async () => {
  const shortcuts = doc(
    "shortcuts.md#0",
    ["Keyboard shortcuts"],
    "Shortcuts let you archive, move and edit a card without reaching for the mouse. Press `C` to archive the card you are hovering over. Press `E` to edit its title.",
  );
  const result = await ask("Which key do I press to archive a card without the mouse?", [shortcuts]);
  assert.equal(result.text, "Press `C` to archive the card you are hovering over. [1]");
});

test("a when question picks the sentence with the date or time", async () => {
  const limits = doc(
    "limits.md#0",
    ["Limits"],
    "The usage counter shows how many runs your monthly plan has left. Counters reset on the 1st of each month at 00:00 UTC.",
  );
  assert.equal((await ask("When does the monthly usage counter reset?", [limits])).text, "Counters reset on the 1st of each month at 00:00 UTC. [1]");
});

test("a paraphrased question that shares only some words still gets the answer", async () => {
  const mobile = doc(
    "mobile.md#0",
    ["Mobile apps"],
    "The apps let you check your boards from anywhere. Install them from the App Store or Google Play and keep them on the latest version. The Android app requires Android 10 or later.",
  );
  const result = await ask("What's the oldest Android version the app will install on?", [mobile]);
  assert.equal(result.abstained, false);
  assert.equal(result.text, "The Android app requires Android 10 or later. [1]");
});

test("the sentence that asks outweighs the story before it", async () => {
  const invites = doc(
    "invite.md#0",
    ["Invite your team"],
    "If you'd rather share a link in your team chat, copy the invite link from the Members page. An invite link expires after 7 days.",
  );
  const result = await ask("I shared a join link last month and it stopped working. How long do invite links last?", [invites], 0);
  assert.equal(result.text, "An invite link expires after 7 days. [1]");
  const q = analyzeQuestion("I shared a join link last month and it stopped working. How long do invite links last?");
  assert.equal(q.terms.get("invit"), 1);
  assert.ok((q.terms.get("share") ?? 1) < 1);
  assert.deepEqual([...q.types], ["duration"]);
});

test("answer types are read from the asking sentence", () => {
  const types = (input: string) => [...analyzeQuestion(input).types].sort();
  assert.deepEqual(types("What's the maximum number of fields per board?"), ["quantity"]);
  assert.deepEqual(types("When does the trial end?"), ["time"]);
  assert.deepEqual(types("Which header carries the signature?"), ["identifier"]);
  assert.deepEqual(types("Which plans include SSO?"), ["list"]);
  assert.deepEqual(types("Who can delete a board?"), ["person"]);
  assert.deepEqual(types("Is there a limit on uploads?"), ["quantity", "yesno"]);
  assert.deepEqual(types("Tell me about boards."), []);
});

test("a question the context only brushes against abstains", async () => {
  const account = doc(
    "account.md#0",
    ["Account"],
    "To reset your password, open Settings and choose Security. Passwords must have at least 12 characters.",
  );
  const result = await ask("Can I reset the firmware of my office router remotely?", [account]);
  assert.equal(result.abstained, true);
  assert.ok((result.confidence ?? 1) < 0.35);
  // The same context answers what it is about.
  assert.equal((await ask("How do I reset my password?", [account])).abstained, false);
  // A how-many question whose best sentence has no number is less confident than one that has it.
  const withNumber = await ask("How many characters must a password have?", [account], 0);
  const withoutNumber = await ask("How many characters must a password have?", [doc("a.md#0", ["Account"], "A password must have characters you can remember.")], 0);
  assert.ok((withoutNumber.confidence ?? 1) < (withNumber.confidence ?? 0));
});

test("units are reused across requests without mixing up chunk positions or stale text", async () => {
  const first = await reader.generate({ task: "qa", input: "How do I request a refund?", context: [pricing, billing] });
  const swapped = await reader.generate({ task: "qa", input: "How do I request a refund?", context: [billing, pricing] });
  assert.equal(first.citations[0].chunkId, billing.id);
  assert.equal(swapped.citations[0].chunkId, billing.id);
  assert.equal(first.text, swapped.text);
  const edited: ContextChunk = { ...billing, text: billing.text };
  await reader.generate({ task: "qa", input: "How do I request a refund?", context: [edited] });
  edited.text = "To request a refund, open Billing and click Request refund.";
  assert.equal((await reader.generate({ task: "qa", input: "How do I request a refund?", context: [edited] })).text, `${edited.text} [1]`);
});

test("markdown splitting: sentences, list items, table rows, code lines, abbreviations", () => {
  assert.deepEqual(splitSentences("Use v2.1 e.g. for tests. It works! Does it? Yes."), ["Use v2.1 e.g. for tests.", "It works!", "Does it?", "Yes."]);
  assert.equal(cleanMarkdown("**Bold**, *it*, `code`, [link](http://x) and snake_case_name [3]"), "Bold, it, code, link and snake_case_name");
  const units = splitUnits({ ...setup, text: "# Local\nIntro line one.\n\n* item one\n* item two\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n```\nnpm ci\n```" }, 0);
  assert.deepEqual(units.map((u) => [u.kind, u.quote]), [
    ["text", "Intro line one."],
    ["text", "item one"],
    ["text", "item two"],
    ["row", "1 | 2"],
    ["code", "`npm ci`"],
  ]);
  assert.ok(units[0].headingTerms.has("local"));
  assert.ok(units[3].headingTerms.has("a") && units[3].headingTerms.has("b"));
});

test("classify picks the right label on clear inputs", async () => {
  const labels = [
    { name: "billing_refund", description: "Charges, invoices, refunds and payment problems" },
    { name: "technical_issue", description: "Errors, crashes, bugs, installation or login problems" },
    { name: "feature_request", description: "Suggestions and requests for new functionality" },
  ];
  const classify = (input: string) => reader.generate({ task: "classify", input, context: [], labels });
  const r1 = await classify("I was charged twice this month, please refund the second charge.");
  assert.equal(r1.label, "billing_refund");
  assert.equal(r1.text, "billing_refund");
  assert.ok((r1.confidence ?? 0) > 0);
  assert.equal((await classify("The app crashes with an error after the latest installation.")).label, "technical_issue");
  assert.equal((await classify("It would be great to have a dark mode; a feature request.")).label, "feature_request");
  // No overlap at all: first label by list order, confidence 0.
  const none = await classify("Lorem ipsum dolor sit amet.");
  assert.equal(none.label, "billing_refund");
  assert.equal(none.confidence, 0);
  assert.equal(none.abstained, false);
  const scored = classifyLexical("refund", labels);
  assert.deepEqual(scored.scores.map((s) => s.label), labels.map((l) => l.name));
  assert.ok(scored.scores[0].score > 0 && scored.scores[1].score === 0);
  await assert.rejects(reader.generate({ task: "classify", input: "x", context: [] }), /labels/);
});

test("extract pulls email, pattern, enum and number, and omits unknowns", async () => {
  const schema = {
    type: "object",
    properties: {
      customer_email: { type: "string", format: "email" },
      order_id: { type: "string", pattern: "^ORD-\\d{5}$" },
      category: { type: "string", enum: ["billing", "technical", "account_access"] },
      priority: { enum: ["low", "normal", "high_priority"] },
      amount_usd: { type: "number" },
      customer_name: { type: "string" },
      renewal_date: { type: "string", format: "date" },
      loyalty_tier: { type: "string" },
      seats: { type: "integer" },
    },
  };
  const ticket =
    "From: Dana Smith <dana.smith@example.com>\nSubject: Double charge on ORD-48213\n\n" +
    "Hi, I was billed $1,200.00 twice for order ORD-48213 — please treat this as high priority. " +
    "Our renewal is on March 3, 2025.\n\nThanks,\nDana Smith";
  const result = await reader.generate({ task: "extract", input: ticket, context: [], jsonSchema: schema });
  assert.deepEqual(result.json, {
    customer_email: "dana.smith@example.com",
    order_id: "ORD-48213",
    category: "billing",
    priority: "high_priority",
    amount_usd: 1200,
    customer_name: "Dana Smith",
    renewal_date: "2025-03-03",
  });
  assert.equal(result.text, JSON.stringify(result.json));
  assert.equal(result.abstained, false);

  // Numbers are found next to the property's words; paraphrased enums honestly fail.
  assert.deepEqual(extractBySchema("Refund amount: 480 USD. We have 12 seats.", { properties: { amount_usd: { type: "number" }, seats: { type: "integer" } } }), {
    amount_usd: 480,
    seats: 12,
  });
  assert.deepEqual(extractBySchema("It's a biz thing.", { properties: { category: { enum: ["business", "personal"] } } }), {});
  assert.deepEqual(extractBySchema("Order number: A-77\nRegards,\nsomeone", { properties: { order_number: { type: "string" }, name: { type: "string" } } }), {
    order_number: "A-77",
  });
  await assert.rejects(reader.generate({ task: "extract", input: "x", context: [] }), /jsonSchema/);
});
