/**
 * Version order is one notion used everywhere: the config declares it (or marks a source current,
 * or natural order decides), retrieval keeps the preferred copy of a section, the reader answers
 * from it, and a question that names a version gets that version.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareNaturalDesc, versionOrder, versionsNamed } from "../src/core/versions.ts";
import { preferNewestVersions, specificHeadings } from "../src/retrieve/versions.ts";
import { ExtractiveReader } from "../src/models/offline-extractive.ts";
import { loadConfig } from "../src/config/index.ts";
import { answerContext, openProject, packCorpus } from "../src/pipeline/index.ts";
import { ingestProject } from "../src/ingest/index.ts";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";
import type { ContextChunk } from "../src/models/index.ts";

test("natural order: current words, then numbers highest first, then words, then old words", () => {
  const labels = ["v1", "legacy", "v10", "current", "v9", "2.x", "10.x", "v3-beta", "v3", "docs", "archived"];
  assert.deepEqual([...labels].sort(compareNaturalDesc), ["current", "v10", "10.x", "v9", "v3", "v3-beta", "2.x", "v1", "docs", "legacy", "archived"]);
  assert.deepEqual(versionOrder({ labels: ["9.x", "10.x", "11.x", "2.x"] }).labels, ["11.x", "10.x", "9.x", "2.x"]);
});

test("declared order and current: true come first, other labels follow naturally", () => {
  const declared = versionOrder({ labels: ["v5", "v8", "v9-next"], declared: ["v8", "v5"] });
  assert.deepEqual(declared.labels, ["v8", "v5", "v9-next"]);
  assert.ok(declared.compare("v8", "v9-next") < 0, "the declared newest wins over a higher number");
  assert.equal(declared.newest(["v5", "v9-next"]), "v5");
  const current = versionOrder({ labels: ["next", "v2", "v1"], current: ["v2"] });
  assert.deepEqual(current.labels, ["v2", "next", "v1"]);
  assert.equal(current.rank("v2"), 0);
  assert.equal(current.rank(""), 0, "unlabelled documents are never stale");
  assert.ok(current.rank("v0") > current.rank("v1"), "an unknown label is placed by natural order");
});

test("questions name versions by label, by major number with a cue, or with the project name", () => {
  const labels = ["11.x", "10.x", "9.x", "8.x", "7.x"];
  assert.deepEqual(versionsNamed("In pnpm 7, what was the default of auto-install-peers?", labels, "pnpm"), ["7.x"]);
  assert.deepEqual(versionsNamed("What changed in version 9?", labels), ["9.x"]);
  assert.deepEqual(versionsNamed("Does the 10.x release support this?", labels), ["10.x"]);
  assert.deepEqual(versionsNamed("How do I migrate from v8 to v9?", labels), ["9.x", "8.x"]);
  assert.deepEqual(versionsNamed("Which port, 8080 or 9000, and how many retries (7)?", labels, "pnpm"), []);
  assert.deepEqual(versionsNamed("Does Fastify v5 support Node 18?", ["v5", "v4"], "fastify"), ["v5"]);
  assert.deepEqual(versionsNamed("What does the V8 engine do?", ["v5", "v4"]), []);
});

const chunk = (id: string, version: string, path: string, headingPath: string[], text: string): Chunk => ({
  id, path, ordinal: 0, title: "T", headingPath, text, lineStart: 1, lineEnd: 1, version, tokens: 10, meta: {},
});
const ranked = (...cs: Chunk[]): Hit[] => cs.map((c, i) => ({ chunk: c, score: 10 - i, rank: i + 1 }));

// The same setting in three versions: renamed and moved to another file between 7.x and 10.x.
const peers7 = chunk("p7", "7.x", "archived/7.x/npmrc.md", ["npmrc", "auto-install-peers"], "Default: false. Type: Boolean. When true, any missing non-optional peer dependencies are automatically installed.");
const peers8 = chunk("p8", "8.x", "archived/8.x/npmrc.md", ["npmrc", "auto-install-peers"], "Default: true. Type: Boolean. When true, any missing non-optional peer dependencies are automatically installed.");
const peers10 = chunk("p10", "10.x", "versioned/10.x/settings.md", ["Settings", "autoInstallPeers"], "Default: true\nType: Boolean\nWhen enabled, pnpm adds any peer that is missing to node_modules by itself, and resolves version conflicts between them where it can.");
const other10 = chunk("o10", "10.x", "versioned/10.x/cli/add.md", ["pnpm add", "Options"], "Install a package and any packages that it depends on.");
const other7 = chunk("o7", "7.x", "archived/7.x/cli/add.md", ["pnpm add", "Options"], "Adds a package. Peer dependencies listed in the manifest are installed with it.");
const order = versionOrder({ labels: ["10.x", "8.x", "7.x"] });

test("the newest copy of a section takes the rank of an older copy, found further down the candidates", () => {
  const specific = specificHeadings([peers7, peers8, peers10, other10, other7]);
  assert.ok(specific("autoinstallpeers") && !specific("options") === false, "both keys are one per version here");
  const out = preferNewestVersions(ranked(peers7, other10, peers8, peers10), 3, { order, specific });
  assert.deepEqual(out.map((h) => h.chunk.id), ["p10", "o10"], "7.x and 8.x copies give way to 10.x, renamed and moved");
  assert.equal(out[0].score, 10, "at the rank and score the section first reached");
  // Without the heading signal, the reworded 10.x text is not a near-duplicate of 7.x's.
  const loose = preferNewestVersions(ranked(peers7, other10, peers8, peers10), 4, { order });
  assert.deepEqual(loose.map((h) => h.chunk.id), ["p8", "o10", "p10"]);
});

test("a question that names a version gets that version's copy; an old chunk with no newer twin stays", () => {
  const specific = specificHeadings([peers7, peers8, peers10]);
  const named = preferNewestVersions(ranked(peers10, peers8, peers7), 3, { order, specific, named: ["7.x"] });
  assert.deepEqual(named.map((h) => h.chunk.id), ["p7"]);
  const only = chunk("gone", "7.x", "archived/7.x/removed.md", ["Removed", "shamefully-flatten"], "shamefully-flatten creates a flat node_modules.");
  assert.deepEqual(preferNewestVersions(ranked(only, peers10), 3, { order, specific }).map((h) => h.chunk.id), ["gone", "p10"]);
});

test("generic headings shared by many documents do not make twins", () => {
  const a = chunk("a10", "10.x", "v10/cli/add.md", ["pnpm add", "Options"], "--save-dev, -D: install the specified packages as devDependencies. --global: install a package globally.");
  const b = chunk("b10", "10.x", "v10/cli/remove.md", ["pnpm remove", "Options"], "--recursive, -r: when used inside a workspace, removes a dependency from every workspace package.");
  const c = chunk("c7", "7.x", "v7/cli/install.md", ["pnpm install", "Options"], "--frozen-lockfile: the lockfile is not generated and installation fails when it needs an update.");
  const specific = specificHeadings([a, b, c]);
  assert.equal(specific("options"), false);
  assert.equal(preferNewestVersions(ranked(c, a, b), 3, { order, specific }).length, 3);
});

const ctx = (id: string, version: string, versionRank: number, text: string): ContextChunk => ({
  id, path: `docs/${version}/build.md`, headingPath: ["Build Options", "build.target"], lineStart: 1, lineEnd: 3, version, versionRank, text, score: 1,
});

test("the reader answers from the newest version when versions disagree, and from a named one when asked", async () => {
  const reader = new ExtractiveReader({ minConfidence: 0.2, maxSentences: 1 });
  // The archived text matches the question's wording better; the current one must still answer.
  const v5 = ctx("v5", "v5", 1, "- **Default:** `'modules'`\n\nThe default value of build.target is `'modules'`, a special value that targets browsers with native ES modules.");
  const v8 = ctx("v8", "v8", 0, "- **Default:** `'baseline-widely-available'`\n\nBrowser compatibility target for the final bundle. The default is a Vite special value.");
  const current = await reader.generate({ task: "qa", input: "What is the default value of build.target?", context: [v5, v8] });
  assert.match(current.text, /baseline-widely-available/);
  assert.equal(current.citations[0].version, "v8");
  const asked = await reader.generate({ task: "qa", input: "In Vite 5, what was the default value of build.target?", context: [v5, v8], preferVersions: ["v5"] });
  assert.match(asked.text, /'modules'/);
  assert.equal(asked.citations[0].version, "v5");
});

test("a project with two versions: retrieval, reader and long-context all prefer the current one", async () => {
  const root = mkdtempSync(join(tmpdir(), "ragtune-versions-"));
  try {
    const write = (p: string, s: string) => {
      mkdirSync(join(root, p, ".."), { recursive: true });
      writeFileSync(join(root, p), s);
    };
    write("docs/v8/config/build-options.md", "# Build Options\n\n## build.target\n\n- **Type:** `string | string[]`\n- **Default:** `'baseline-widely-available'`\n\nBrowser compatibility target for the final bundle.\n\n## build.outDir\n\n- **Default:** `dist`\n\nSpecify the output directory.\n");
    write("docs/v5/config/build-options.md", "# Build Options\n\n## build.target\n\n- **Type:** `string | string[]`\n- **Default:** `'modules'`\n\nBrowser compatibility target for the final bundle. The default value is a Vite special value, `'modules'`, which targets browsers with native ES Modules.\n\n## build.outDir\n\n- **Default:** `dist`\n\nSpecify the output directory.\n");
    // Labels that sort the wrong way naturally: the config says which is current.
    write("ragtune.yaml", `name: vite\nsources:\n  - include: "docs/v8/**/*.md"\n    version: next\n    current: true\n  - include: "docs/v5/**/*.md"\n    version: v5\nretrieval:\n  k: 3\n`);
    const project = openProject(loadConfig(join(root, "ragtune.yaml")));
    try {
      const { config } = project;
      await ingestProject({ root, sources: config.sources, chunking: config.chunking, store: project.store });
      assert.deepEqual(project.versions().labels, ["next", "v5"]);
      const { context, preferVersions } = await answerContext(project, "What is the default value of build.target?", 3);
      assert.deepEqual(preferVersions, []);
      assert.equal(context[0].version, "next", "the current copy ranks first");
      assert.ok(!context.some((c) => c.version === "v5" && c.text.includes("build.target")), "the archived copy of the section is gone");
      const reader = new ExtractiveReader({ minConfidence: 0.2, maxSentences: 1 });
      const answer = await reader.generate({ task: "qa", input: "What is the default value of build.target?", context });
      assert.match(answer.text, /baseline-widely-available/);
      const { packed } = packCorpus(project.store.chunks(), 10_000, project.versions());
      assert.equal(packed[0].version, "next", "long-context packs the current version first");
      const old = await answerContext(project, "In Vite v5, what was the default value of build.target?", 3);
      assert.deepEqual(old.preferVersions, ["v5"]);
      assert.equal(old.context[0].version, "v5");
    } finally {
      project.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("version order in the config: unknown labels, duplicates and contradicting current flags are errors with file:line:key", async () => {
  const { parseConfig } = await import("../src/config/index.ts");
  const base = `sources:\n  - include: "docs/v8/**"\n    version: v8\n  - include: "docs/v5/**"\n    version: v5\n`;
  assert.throws(() => parseConfig(`${base}versionOrder: [v8, v9]\n`, "ragtune.yaml"), /ragtune\.yaml:6: versionOrder\.1: no source has version 'v9' \(did you mean 'v8'\?\)/);
  assert.throws(() => parseConfig(`${base}versionOrder: [v8, v8]\n`, "ragtune.yaml"), /versionOrder\.1: 'v8' is listed twice/);
  assert.throws(
    () => parseConfig(`sources:\n  - include: "a/**"\n    version: v1\n    current: true\n  - include: "b/**"\n    version: v2\n    current: true\n`, "ragtune.yaml"),
    /sources\.1\.current: sources of different versions are marked current/,
  );
  assert.throws(() => parseConfig(`sources:\n  - include: "a/**"\n    current: true\n`, "ragtune.yaml"), /sources\.0\.current: current: true needs a version label/);
  assert.throws(() => parseConfig(`${base.replace("version: v5", "version: v5\n    current: true")}versionOrder: [v8, v5]\n`, "ragtune.yaml"), /versionOrder\.0: versionOrder starts with 'v8' but the source marked current is 'v5'/);
  const ok = parseConfig(`${base}versionOrder: [v5, v8]\n`, "ragtune.yaml");
  assert.deepEqual(ok.versionOrder, ["v5", "v8"]);
});

test("LLM prompts label passage versions and say which version answers only when versions are mixed", async () => {
  const { LlmGenerator } = await import("../src/models/llm-generator.ts");
  const sent: string[] = [];
  const provider = { id: "test:echo", async chat(messages: { role: string; content: string }[]) { sent.push(messages[messages.length - 1].content); return { text: "I don't know", usage: { inputTokens: 1, outputTokens: 1 }, model: "echo" }; } };
  const llm = new LlmGenerator(provider);
  const v5 = ctx("v5", "v5", 1, "Default: 'modules'");
  const v8 = ctx("v8", "v8", 0, "Default: 'baseline-widely-available'");
  await llm.generate({ task: "qa", input: "What is the default of build.target?", context: [v5, v8] });
  assert.match(sent[0], /\[1\] \(docs\/v5\/build\.md › Build Options › build\.target · version v5\)/);
  assert.match(sent[0], /\[2\] \(docs\/v8\/build\.md › Build Options › build\.target · version v8 \(newest here\)\)/);
  assert.match(sent[0], /When they disagree, answer from the newest version and say which version you quote\.\n\nAnswer/);
  await llm.generate({ task: "qa", input: "In v5, what was the default?", context: [v5, v8], preferVersions: ["v5"] });
  assert.match(sent[1], /answer from version v5, which the question asks about/);
  await llm.generate({ task: "qa", input: "What is the default?", context: [v8] });
  assert.doesNotMatch(sent[2], /version/i, "one version: no labels, no instruction");
});
