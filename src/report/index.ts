/**
 * report/ — turn a run (summary + cases) and its decision into report.json, report.md and report.html.
 * The markdown and the HTML are rendered from the JSON (the HTML adds the run's failed cases), so
 * they always say the same thing.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";
import { renderMarkdown } from "./markdown.ts";
import type { ReportJson } from "./json.ts";
import type { CaseResult } from "../evaluate/types.ts";
import { renderHtml } from "./html.ts";
import { failedCaseRows, loadCaseContext } from "./failed-cases.ts";

export { buildReport, excerpt, REPORT_VERSION, EXAMPLES_PER_CAUSE } from "./json.ts";
export type { ReportJson, ReportVariant, FailureExample, TaskPass, ReportConfig, BuildReportOptions } from "./json.ts";
export { renderMarkdown } from "./markdown.ts";
export { renderHtml, esc } from "./html.ts";
export { failedCaseRows, loadCaseContext, expectedOf } from "./failed-cases.ts";
export type { FailedCaseRow, CaseContext } from "./failed-cases.ts";

export const REPORT_JSON = "report.json";
export const REPORT_MD = "report.md";
export const REPORT_HTML = "report.html";

/**
 * Write report.json and report.md into runDir. Each file is written to a temp sibling and
 * renamed, so a reader (or a crash) never sees a half-written report.
 */
export function writeReport(runDir: string, report: ReportJson): { json: string; markdown: string } {
  const json = join(runDir, REPORT_JSON);
  const markdown = join(runDir, REPORT_MD);
  writeFileAtomic(json, JSON.stringify(report, null, 2) + "\n");
  writeFileAtomic(markdown, renderMarkdown(report));
  return { json, markdown };
}

/**
 * Write report.html into runDir (atomically): the report plus every failed case of `cases`.
 * `indexFile` is the project's index, read for chunk sections only when it is the one the run read.
 */
export async function writeHtmlReport(runDir: string, report: ReportJson, cases: CaseResult[], indexFile?: string): Promise<string> {
  const ctx = loadCaseContext(runDir, indexFile);
  const rows = failedCaseRows(cases, report.variants.map((v) => v.name), ctx);
  const file = join(runDir, REPORT_HTML);
  writeFileAtomic(file, await renderHtml({ report, rows, notes: ctx.notes }));
  return file;
}
