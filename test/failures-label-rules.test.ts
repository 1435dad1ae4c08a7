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
