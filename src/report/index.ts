/**
 * report/ — turn a run (summary + cases) and its decision into report.json and report.md.
 * The markdown is rendered from the JSON only, so both always say the same thing.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";
import { renderMarkdown } from "./markdown.ts";
import type { ReportJson } from "./json.ts";

export { buildReport, excerpt, REPORT_VERSION, EXAMPLES_PER_CAUSE } from "./json.ts";
export type { ReportJson, ReportVariant, FailureExample, TaskPass, ReportConfig, BuildReportOptions } from "./json.ts";
export { renderMarkdown } from "./markdown.ts";

export const REPORT_JSON = "report.json";
export const REPORT_MD = "report.md";

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
