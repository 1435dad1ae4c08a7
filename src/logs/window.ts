/**
 * Reading the request log for a window (`--since`), and the index view the labeller needs,
 * from a project. A missing log is a usage error (exit 2), never a stack trace.
 */
import type { Project } from "../pipeline/index.ts";
import type { RequestLogStore, StoredRequest } from "../serve/log.ts";
import { openRequestLogStore, requestLogFile } from "../serve/log-open.ts";
import type { LabelIndex } from "./label.ts";

export interface LogWindow {
  from: string;
  to: string;
  /** Every request logged in the window (any route), oldest first. */
  rows: StoredRequest[];
}

export { requestLogFile };

/** The project's request log (SQLite or Postgres, as config.store says); InputError when `ragtune serve` never wrote one. */
export function openRequestLog(project: Pick<Project, "root" | "config">): RequestLogStore {
  return openRequestLogStore(project, { create: false });
}

export function requestsSince(log: RequestLogStore, sinceMs: number, now = new Date()): LogWindow {
  const to = new Date(now.getTime() + 1).toISOString();
  const from = new Date(now.getTime() - sinceMs).toISOString();
  return { from, to, rows: log.between(from, to) };
}

/** Raw BM25 (every version, no collapsing) finds the chunks that may hold a correction. */
const CANDIDATES = 100;

export function labelIndexOf(project: Project): LabelIndex {
  const versions = project.versions();
  const current = versions.labels[0];
  const bm25 = project.retriever();
  return {
    chunk: (id) => project.store.chunk(id),
    candidates: (text) => bm25.search(text, { k: CANDIDATES }).map((h) => h.chunk),
    currentVersion: current,
    isOlder: (v) => v !== "" && current !== undefined && v !== current && versions.compare(v, current) > 0,
    corpusPaths: new Set(project.store.documents().map((d) => d.path)),
  };
}
