/**
 * The library calls the commands use: label a window of the log and store the labels; the
 * production evidence of a window. One place, so `logs label` and `decide --from-logs` cannot
 * label differently.
 */
import type { Project } from "../pipeline/index.ts";
import type { ProductionEvidence } from "../decide/types.ts";
import type { LiveLabel } from "./index.ts";
import { labelRequests } from "./label.ts";
import { openLabelStore } from "./labels-db.ts";
import { productionEvidence } from "./production.ts";
import { labelIndexOf, openRequestLog, requestsSince, type LogWindow } from "./window.ts";

export interface LabelledWindow {
  window: LogWindow;
  labels: LiveLabel[];
  /** Stored rows written, and stale labels removed (requests that no longer qualify). */
  written: number;
  removed: number;
  file: string;
}

export function labelWindow(project: Project, sinceMs: number, now = new Date()): LabelledWindow {
  const log = openRequestLog(project);
  try {
    const window = requestsSince(log, sinceMs, now);
    const labels = labelRequests(window.rows, labelIndexOf(project), now.toISOString());
    const store = openLabelStore(project);
    try {
      const { written, removed } = store.replace(window.rows.map((r) => r.id), labels);
      return { window, labels, written, removed, file: log.location };
    } finally {
      store.close();
    }
  } finally {
    log.close();
  }
}

/** Label the window (stored, as `logs label` does) and count its live failures for the decision. */
export function productionFromLogs(project: Project, sinceMs: number, now = new Date()): { evidence: ProductionEvidence; labelled: LabelledWindow } {
  const labelled = labelWindow(project, sinceMs, now);
  const byId = new Map(labelled.labels.map((l) => [l.requestId, l]));
  return { evidence: productionEvidence(labelled.window, byId), labelled };
}
