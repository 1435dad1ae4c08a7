/**
 * Online monitors over the request log: the production counterparts of what `eval` measures.
 * Support is the value the server computed per answer with `answerSupport` (evaluate/metrics.ts,
 * the one definition eval uses), so "unsupported" online means what it means offline. Each
 * monitor is computed for a window and the window before it (the trend), and checked against the
 * thresholds in `serve.monitors` (alerts). Staleness compares each indexed document with its file.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Project } from "../pipeline/index.ts";
import type { StoredRequest } from "./log.ts";

export interface MonitorThresholds {
  maxFallbackRate: number;
  maxUnsupportedRate: number;
  maxRetrievalMissRate: number;
  maxCorrectionRate: number;
  maxErrorRate: number;
  /** ms; from constraints.p95LatencyMs when set. */
  p95LatencyMs?: number;
}

export interface WindowStats {
  from: string;
  to: string;
  requests: number;
  answered: number;
  /** Shares of answered requests (null when there were none). */
  fallbackRate: number | null;
  unsupportedRate: number | null;
  /** No chunk retrieved, or the answer fell back with retrieval (a proxy: no gold is known online). */
  retrievalMissRate: number | null;
  /** Share of requests with feedback that were thumbs-down or corrected. */
  correctionRate: number | null;
  feedback: number;
  errorRate: number | null;
  latencyMs: { p50: number; p95: number } | null;
  costUsd: number;
}

export interface MonitorReport {
  window: WindowStats;
  previous: WindowStats;
  stale: { documents: number; changedOnDisk: string[]; missingOnDisk: string[] };
  alerts: string[];
}

const ANSWER_ROUTES = new Set(["/v1/ask", "/v1/chat/completions"]);

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const share = (n: number, d: number) => (d ? n / d : null);

export function windowStats(rows: StoredRequest[], from: string, to: string): WindowStats {
  const answered = rows.filter((r) => ANSWER_ROUTES.has(r.route) && r.status === 200);
  const withFeedback = rows.filter((r) => r.feedback);
  const latencies = rows.filter((r) => r.status < 500).map((r) => r.latencyMs).sort((a, b) => a - b);
  return {
    from,
    to,
    requests: rows.length,
    answered: answered.length,
    fallbackRate: share(answered.filter((r) => r.fallback).length, answered.length),
    unsupportedRate: share(answered.filter((r) => r.support !== null && r.support < 1 && !r.fallback).length, answered.length),
    retrievalMissRate: share(answered.filter((r) => r.retrieved.length === 0 || r.fallback).length, answered.length),
    correctionRate: share(withFeedback.filter((r) => r.feedback!.thumbs === "down" || r.feedback!.correctedAnswer).length, withFeedback.length),
    feedback: withFeedback.length,
    errorRate: share(rows.filter((r) => r.status >= 500).length, rows.length),
    latencyMs: latencies.length ? { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) } : null,
    costUsd: rows.reduce((a, r) => a + (r.costUsd ?? 0), 0),
  };
}

/** Indexed documents whose file changed after they were ingested, or is gone. */
export function staleness(project: Project): MonitorReport["stale"] {
  const changedOnDisk: string[] = [];
  const missingOnDisk: string[] = [];
  const docs = project.store.documents();
  for (const d of docs) {
    const file = join(project.root, d.path);
    if (!existsSync(file)) {
      missingOnDisk.push(d.path);
      continue;
    }
    const ingested = Date.parse(d.ingestedAt);
    if (Number.isFinite(ingested) && statSync(file).mtimeMs > ingested + 1000) changedOnDisk.push(d.path);
  }
  return { documents: docs.length, changedOnDisk, missingOnDisk };
}

const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);

export function alertsFor(w: WindowStats, stale: MonitorReport["stale"], t: MonitorThresholds): string[] {
  const out: string[] = [];
  const over = (name: string, value: number | null, max: number, key: string) => {
    if (value !== null && value > max) out.push(`${name} ${pct(value)} is over ${pct(max)} (serve.monitors.${key})`);
  };
  over("fallback rate", w.fallbackRate, t.maxFallbackRate, "maxFallbackRate");
  over("unsupported-answer rate", w.unsupportedRate, t.maxUnsupportedRate, "maxUnsupportedRate");
  over("retrieval-miss rate", w.retrievalMissRate, t.maxRetrievalMissRate, "maxRetrievalMissRate");
  over("user-correction rate", w.correctionRate, t.maxCorrectionRate, "maxCorrectionRate");
  over("server-error rate", w.errorRate, t.maxErrorRate, "maxErrorRate");
  if (t.p95LatencyMs !== undefined && w.latencyMs && w.latencyMs.p95 > t.p95LatencyMs) {
    out.push(`p95 latency ${Math.round(w.latencyMs.p95)} ms is over the ${t.p95LatencyMs} ms target (constraints.p95LatencyMs)`);
  }
  const staleDocs = staleCount(stale);
  if (staleDocs > 0) out.push(`${staleDocs} indexed document${staleDocs === 1 ? "" : "s"} changed or removed on disk since ingest: answers may be stale (run \`ragtune ingest\` or POST /v1/ingest)`);
  return out;
}

function staleCount(s: MonitorReport["stale"]): number {
  return s.changedOnDisk.length + s.missingOnDisk.length;
}

/** A duration like 7d, 24h, 30m → milliseconds. */
export function parseSince(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "m" | "h" | "d" | "w"];
  const ms = n * unit;
  return ms > 0 && ms <= 366 * 86_400_000 ? ms : undefined;
}

export function monitorReport(rowsBetween: (from: string, to: string) => StoredRequest[], project: Project, sinceMs: number, thresholds: MonitorThresholds, now = new Date()): MonitorReport {
  const to = now.toISOString();
  const from = new Date(now.getTime() - sinceMs).toISOString();
  const before = new Date(now.getTime() - 2 * sinceMs).toISOString();
  const window = windowStats(rowsBetween(from, to), from, to);
  const previous = windowStats(rowsBetween(before, from), before, from);
  const stale = staleness(project);
  return { window, previous, stale, alerts: alertsFor(window, stale, thresholds) };
}
