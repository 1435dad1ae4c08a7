/**
 * Rules changed after the labeller benchmark (bench/labels.ts): an older version's copy of the
 * gold page is stale knowledge, not wrong retrieval; a regex that is the case's only content
 * check is an answer check, so its mismatch is not a format problem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { labelFailure } from "../src/evaluate/failures.ts";
import { isOlderCopyOf } from "../src/evaluate/stale.ts";
import { retrievalScores, scoreCase } from "../src/evaluate/scorers.ts";
import type { SuiteCase } from "../src/evaluate/types.ts";

type Ctx = { id: string; path: string; headingPath: string[]; text: string; version?: string };

const V1_EXPORT: Ctx = { id: "docs/v1/boards/export.md#0", path: "docs/v1/boards/export.md", headingPath: ["Export"], text: "Boards export to CSV and JSON.", version: "v1" };
const V1_BILLING: Ctx = { id: "docs/v1/billing/refunds.md#0", path: "docs/v1/billing/refunds.md", headingPath: ["Refunds"], text: "Annual plans can be refunded within 14 days.", version: "v1" };
const V2_EXPORT: Ctx = { id: "docs/v2/boards/export.md#0", path: "docs/v2/boards/export.md", headingPath: ["Export"], text: "Boards export to CSV, JSON and XLSX.", version: "v2" };

const exportCase: SuiteCase = { id: "export", task: "qa", input: "Which formats can a board be exported to?", answer: ["XLSX"], sources: ["docs/v2/boards/export.md"], file: "s.yaml", line: 1 };

function label(c: SuiteCase, text: string, context: Ctx[], citations: string[] = []) {
  const output = { text, abstained: false, citations: citations.map((chunkId) => ({ chunkId })) };
  const scores = scoreCase(c, output);
  return labelFailure({
    case: c,
    output,
    scores,
    passed: scores.every((s) => s.pass),
    variant: { usesContext: true, usesRetrieval: true },
    contextPaths: [...new Set(context.map((x) => x.path))],
    contextChunks: context,
    currentVersion: "v2",
    retrieval: c.sources ? retrievalScores(c.sources, context, 5) : undefined,
    truncated: false,
    corpusPaths: new Set(["docs/v1/boards/export.md", "docs/v2/boards/export.md", "docs/v1/billing/refunds.md"]),
  });
}

test("isOlderCopyOf: the same page under an older version folder, or the gold section's heading in a renamed page", () => {
  assert.equal(isOlderCopyOf("docs/v2/boards/export.md", V1_EXPORT, "v2"), true);
  // pnpm layout: current docs at the root, older versions under versioned_docs/version-N/
  assert.equal(isOlderCopyOf("docs/cli/add.md", { id: "a", path: "versioned_docs/version-10.x/cli/add.md", version: "10.x" }, "11.x"), true);
  // a page split between versions: the section heading names it
  assert.equal(isOlderCopyOf("docs/settings/build.md#strictDepBuilds", { id: "b", path: "versioned_docs/version-10.x/settings.md", headingPath: ["Settings", "strictDepBuilds"], version: "10.x" }, "11.x"), true);
  assert.equal(isOlderCopyOf("docs/settings/build.md#strictDepBuilds", { id: "b", path: "versioned_docs/version-10.x/settings.md", headingPath: ["Settings", "other"], version: "10.x" }, "11.x"), false);
  // only the file name in common, nested deeper in the gold path: another page
  assert.equal(isOlderCopyOf("docs/v2/api/index.md", { id: "c", path: "docs/v1/index.md", version: "v1" }, "v2"), false);
  // another page of the old version, the current version itself, or no version order
  assert.equal(isOlderCopyOf("docs/v2/boards/export.md", V1_BILLING, "v2"), false);
  assert.equal(isOlderCopyOf("docs/v2/boards/export.md", V2_EXPORT, "v2"), false);
  assert.equal(isOlderCopyOf("docs/v2/boards/export.md", V1_EXPORT, undefined), false);
});

test("7. retrieval served only the older copy of the gold page: stale_knowledge, not wrong_retrieval", () => {
  const l = label(exportCase, "Boards export to CSV and JSON. [1]", [V1_EXPORT, V1_BILLING], [V1_EXPORT.id]);
  assert.deepEqual([l?.cause, l?.signal], ["stale_knowledge", "gold_only_older_version"]);
  assert.match(l!.evidence, /docs\/v1\/boards\/export\.md" \(version v1\) but not the current gold source "docs\/v2\/boards\/export\.md"/);
  // old-version context that is not a copy of the gold page stays a retrieval miss
  const other = label(exportCase, "Annual plans can be refunded within 14 days. [1]", [V1_BILLING], [V1_BILLING.id]);
  assert.deepEqual([other?.cause, other?.signal], ["wrong_retrieval", "gold_not_retrieved"]);
});

test("3. a regex that is the case's only content check: its mismatch is a wrong answer, not bad_format", () => {
  const regexOnly: SuiteCase = { ...exportCase, answer: undefined, regex: "/xlsx/i" };
  const l = label(regexOnly, "Annual plans can be refunded within 14 days. [1]", [V1_BILLING], [V1_BILLING.id]);
  assert.deepEqual([l?.cause, l?.signal], ["wrong_retrieval", "gold_not_retrieved"]);
  // beside an answer check that passed, the regex is still a format check
  const withAnswer: SuiteCase = { ...exportCase, regex: "\\[\\d+\\]" };
  const f = label(withAnswer, "Boards export to CSV, JSON and XLSX.", [V2_EXPORT]);
  assert.deepEqual([f?.cause, f?.signal], ["bad_format", "regex_mismatch"]);
});

// A chunk can span several short sections (the chunker merges them); its headingPath names only
// the first. pnpm 10.x settings.md: the chunk headed "nodeOptions" also holds "### verifyDepsBeforeRun".
const V10_SETTINGS: Ctx = {
  id: "versioned_docs/version-10.x/settings.md#34",
  path: "versioned_docs/version-10.x/settings.md",
  headingPath: ["Build Settings", "nodeOptions"],
  text: "### nodeOptions\n\n* Default: **NULL**\n\n```yaml\n# verifyDepsBeforeRun\n```\n\n### verifyDepsBeforeRun\n\n* Default: **false**\n\n- `install` - Automatically runs install if `node_modules` is not up to date.",
  version: "10.x",
};
const verifyCase: SuiteCase = {
  id: "verify",
  task: "qa",
  input: "When I run `pnpm run build` and node_modules is out of date, what does pnpm do by default?",
  answer: ["Default: install"],
  sources: ["docs/settings/build.md#verifyDepsBeforeRun"],
  stale_answers: ["Default: false"],
  file: "s.yaml",
  line: 1,
};

test("headingsIn: ATX headings of a chunk's text, not lines inside code fences", async () => {
  const { headingsIn } = await import("../src/evaluate/stale.ts");
  assert.deepEqual(headingsIn(V10_SETTINGS.text), ["nodeOptions", "verifyDepsBeforeRun"]);
  assert.deepEqual(headingsIn("## `hooks.readPackage(pkg)` ##\ntext\n#not a heading"), ["hooks.readPackage(pkg)"]);
});

test("isOlderCopyOf: the gold section starting inside an older chunk's text (multi-section chunk)", () => {
  assert.equal(isOlderCopyOf("docs/settings/build.md#verifyDepsBeforeRun", V10_SETTINGS, "11.x"), true);
  // only in a code fence, or another section: not a copy
  const fencedOnly = { ...V10_SETTINGS, text: "### nodeOptions\n```yaml\n# verifyDepsBeforeRun\n```" };
  assert.equal(isOlderCopyOf("docs/settings/build.md#verifyDepsBeforeRun", fencedOnly, "11.x"), false);
  assert.equal(isOlderCopyOf("docs/settings/build.md#strictDepBuilds", V10_SETTINGS, "11.x"), false);
  // the current version's own chunk is never an older copy
  assert.equal(isOlderCopyOf("docs/settings/build.md#verifyDepsBeforeRun", { ...V10_SETTINGS, version: "11.x" }, "11.x"), false);
});

test("7. old-version-only retrieval whose chunk holds the gold section mid-text: stale_knowledge", () => {
  // The stale value is in a unit the answering-unit pick skips, so only the retrieval rule can see it.
  const l = labelFailure({
    case: verifyCase,
    output: { text: "Default: false [1] `install` - Automatically runs install if `node_modules` is not up to date. [1]", abstained: false, citations: [{ chunkId: V10_SETTINGS.id, marker: 1 }] },
    scores: scoreCase(verifyCase, { text: "Default: false [1] `install` - Automatically runs install if `node_modules` is not up to date. [1]", abstained: false }),
    passed: false,
    variant: { usesContext: true, usesRetrieval: true },
    contextPaths: [V10_SETTINGS.path],
    contextChunks: [V10_SETTINGS],
    currentVersion: "11.x",
    retrieval: retrievalScores(verifyCase.sources!, [V10_SETTINGS], 5),
    truncated: false,
    corpusPaths: new Set(["docs/settings/build.md", V10_SETTINGS.path]),
  });
  assert.deepEqual([l?.cause, l?.signal], ["stale_knowledge", "gold_only_older_version"]);
  // the same chunk without the gold section in it stays a retrieval miss
  const without = { ...V10_SETTINGS, text: "### nodeOptions\n\n* Default: **NULL**" };
  const miss = labelFailure({
    case: verifyCase,
    output: { text: "Default: NULL [1]", abstained: false, citations: [{ chunkId: without.id, marker: 1 }] },
    scores: scoreCase(verifyCase, { text: "Default: NULL [1]", abstained: false }),
    passed: false,
    variant: { usesContext: true, usesRetrieval: true },
    contextPaths: [without.path],
    contextChunks: [without],
    currentVersion: "11.x",
    retrieval: retrievalScores(verifyCase.sources!, [without], 5),
    truncated: false,
    corpusPaths: new Set(["docs/settings/build.md", without.path]),
  });
  assert.deepEqual([miss?.cause, miss?.signal], ["wrong_retrieval", "gold_not_retrieved"]);
});
