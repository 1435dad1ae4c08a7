/**
 * Citations name the quoted sentence's own section and lines, and quotes keep the source's text
 * (issue: a `server.fs.strict` answer was cited as "› server.middlewareMode"; placeholders and
 * code in angle brackets were stripped from answers).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkDocument } from "../src/ingest/index.ts";
import { loadMarkdown } from "../src/ingest/loaders/markdown.ts";
import { toContextChunk } from "../src/pipeline/index.ts";
import { ExtractiveReader, renderQuote } from "../src/models/offline-extractive.ts";
import { locate, locateClaim } from "../src/models/citations.ts";
import { parseQa } from "../src/models/llm-generator.ts";
import { FALLBACK_MESSAGE } from "../src/models/index.ts";
import type { ChunkingOptions } from "../src/ingest/index.ts";

const SERVER_OPTIONS = `# Server Options

## server.host

- **Type:** \`string | boolean\`
- **Default:** \`'localhost'\`

Specify which IP addresses the server should listen on.

## server.middlewareMode

- **Type:** \`boolean\`
- **Default:** \`false\`

Create the server in middleware mode.

## server.fs.strict

- **Type:** \`boolean\`
- **Default:** \`true\` (enabled by default since Vite 2.7)

Restrict serving files outside of workspace root.

## server.port

- **Type:** \`number\`
- **Default:** \`5173\`

Specify server port. Note if the port is already being used, the next available port is tried.
`;
const SOURCE_LINES = SERVER_OPTIONS.split("\n");
const lineOf = (needle: string) => SOURCE_LINES.findIndex((l) => l.includes(needle)) + 1;

const STRATEGIES: ChunkingOptions[] = [
  { strategy: "paragraphs", maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 24 },
  { strategy: "headings", maxTokens: 300, overlapTokens: 40, headingDepth: 1, minTokens: 24 },
  { strategy: "sentences", maxTokens: 300, overlapTokens: 40, headingDepth: 3, minTokens: 24 },
];

for (const opts of STRATEGIES) {
  test(`${opts.strategy}: every unit of a multi-section chunk is cited with its own heading and line`, async () => {
    const doc = loadMarkdown(SERVER_OPTIONS, "docs/config/server-options.md");
    const chunks = chunkDocument(doc, { path: "docs/config/server-options.md", version: "v8" }, opts);
    assert.equal(chunks.length, 1, "all four sections fit one chunk: the case where the chunk's first heading is wrong");
    const context = chunks.map((c) => toContextChunk(c, 1));
    const reader = new ExtractiveReader({ minConfidence: 0, maxSentences: 1 });
    const cases: [string, string, string, string][] = [
      ["What is the default value of server.fs.strict?", "server.fs.strict", "(enabled by default since Vite 2.7)", "`true`"],
      ["What is the default value of server.port?", "server.port", "- **Default:** `5173`", "`5173`"],
      ["What does server.middlewareMode do?", "server.middlewareMode", "Create the server in middleware mode.", "middleware mode"],
      ["Which IP addresses does server.host listen on?", "server.host", "Specify which IP addresses", "IP addresses"],
    ];
    for (const [question, section, sourceLine, expected] of cases) {
      const result = await reader.generate({ task: "qa", input: question, context });
      assert.equal(result.abstained, false, question);
      assert.ok(result.text.includes(expected), `${question} → ${result.text}`);
      const [citation] = result.citations;
      assert.deepEqual(citation.headingPath, ["Server Options", section], question);
      assert.equal(citation.lineStart, lineOf(sourceLine), `${question}: line of the quoted sentence`);
      assert.equal(citation.lineEnd, lineOf(sourceLine));
      assert.equal(citation.version, "v8");
      assert.ok(citation.quote && SERVER_OPTIONS.replace(/\*\*/g, "").includes(citation.quote.replace(/ \(enabled.*$/, "")), `quote "${citation.quote}" is the source's text`);
    }
  });
}

test("a sentence that wraps over source lines is cited with all of its lines", async () => {
  const text = "# Guide\n\n## Install\n\nRun the installer once. It downloads the\nbinary for your platform and\nverifies its checksum.\n";
  const chunks = chunkDocument(loadMarkdown(text, "docs/guide.md"), { path: "docs/guide.md", version: "" }, STRATEGIES[0]);
  const reader = new ExtractiveReader({ minConfidence: 0, maxSentences: 1 });
  const result = await reader.generate({ task: "qa", input: "What does the installer download and verify?", context: chunks.map((c) => toContextChunk(c)) });
  assert.equal(result.text, "It downloads the binary for your platform and verifies its checksum. [1]");
  assert.deepEqual([result.citations[0].lineStart, result.citations[0].lineEnd], [5, 7]);
  assert.deepEqual(result.citations[0].headingPath, ["Guide", "Install"]);
});

test("quotes keep placeholders, code in angle brackets and inline code; markup is dropped", () => {
  assert.equal(renderQuote("Deploy to `https://<USERNAME>.github.io/<REPO>/`."), "Deploy to `https://<USERNAME>.github.io/<REPO>/`.");
  assert.equal(renderQuote("Set base to https://<USERNAME>.github.io/ when deploying."), "Set base to https://<USERNAME>.github.io/ when deploying.");
  assert.equal(renderQuote("It removes any `<script>` and `<style>` tags."), "It removes any `<script>` and `<style>` tags.");
  assert.equal(renderQuote("Run `pnpm add <pkg>@<version>` to install."), "Run `pnpm add <pkg>@<version>` to install.");
  assert.equal(renderQuote('Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to stop.<br/>Then <a href="/x">restart</a>.'), "Press Ctrl+C to stop. Then restart.");
  assert.equal(renderQuote("Use **bold** and _emphasis_ but keep snake_case and `a*b*c`."), "Use bold and emphasis but keep snake_case and `a*b*c`.");
  assert.equal(renderQuote("Escaped \\*stars\\* and &lt;tags&gt; &amp; entities [1]."), "Escaped *stars* and <tags> & entities.");
  assert.equal(renderQuote("See [the docs](https://x.test/a.b) and ![logo](l.png) here[^1]."), "See the docs and logo here.");
  assert.equal(renderQuote("A `` code with ` tick `` span."), "A `` code with ` tick `` span.");
});

test("LLM citations point at the chunk line that supports the claim", () => {
  const doc = loadMarkdown(SERVER_OPTIONS, "docs/config/server-options.md");
  const [chunk] = chunkDocument(doc, { path: "docs/config/server-options.md", version: "v8" }, STRATEGIES[0]);
  const context = [toContextChunk(chunk, 1)];
  const parsed = parseQa("Vite serves files strictly: server.fs.strict defaults to true [1].", context, FALLBACK_MESSAGE);
  assert.equal(parsed.citations.length, 1);
  assert.deepEqual(parsed.citations[0].headingPath, ["Server Options", "server.fs.strict"]);
  assert.equal(parsed.citations[0].lineStart, lineOf("(enabled by default since Vite 2.7)"));
  // A claim sharing no word with the chunk keeps the chunk's own heading and lines.
  const vague = parseQa("Yes [1].", context, FALLBACK_MESSAGE);
  assert.deepEqual(vague.citations[0].headingPath, chunk.headingPath);
  assert.deepEqual([vague.citations[0].lineStart, vague.citations[0].lineEnd], [chunk.lineStart, chunk.lineEnd]);
});

test("locate without spans estimates lines within the chunk and keeps the given heading", () => {
  const chunk = { text: "a\nb\nc\nd", headingPath: ["X"], lineStart: 10, lineEnd: 13 };
  assert.deepEqual(locate(chunk, 4, 5, ["X", "Y"]), { headingPath: ["X", "Y"], lineStart: 12, lineEnd: 12 });
  assert.equal(locateClaim(chunk, "nothing shared here"), undefined);
});
