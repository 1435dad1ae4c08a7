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
import type { StoredDocument } from "../store/index.ts";
import type { VersionOrder } from "../core/versions.ts";
import type { MonitoredRequest } from "./log.ts";

export interface MonitorThresholds {
  maxFallbackRate: number;
  maxUnsupportedRate: number;
  maxRetrievalMissRate: number;
  maxCorrectionRate: number;
  maxErrorRate: number;
  minCitationRate: number;
  maxStaleCitationRate: number;
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
  /** Answered, not fallback, with at least one citation: share of answered requests. */
  citationRate: number | null;
  /** Answers citing a chunk of a superseded version (a newer label of the same document is indexed): share of answers with citations. */
  staleCitationRate: number | null;
  errorRate: number | null;
  latencyMs: { p50: number; p95: number } | null;
  costUsd: number;
}

export interface MonitorReport {
  window: WindowStats;
  previous: WindowStats;
  stale: Staleness;
  alerts: string[];
  /** Whether eval / synthetic traffic (X-Ragtune-Traffic) was counted; by default only live traffic is. */
  includesEval: boolean;
}

export interface Staleness {
  documents: number;
  changedOnDisk: string[];
  missingOnDisk: string[];
  /** Documents indexed in an old version while a newer version label of the same document is indexed. */
  superseded: { path: string; version: string; newerPath: string; newerVersion: string }[];
}

const ANSWER_ROUTES = new Set(["/v1/ask", "/v1/chat/completions"]);

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const share = (n: number, d: number) => (d ? n / d : null);

/** The rows of the window (full StoredRequests or the monitor's projection, log.ts `monitored`). */
export function windowStats(rows: readonly MonitoredRequest[], from: string, to: string): WindowStats {
  const answered = rows.filter((r) => ANSWER_ROUTES.has(r.route) && r.status === 200);
  const cited = answered.filter((r) => !r.fallback && (r.citations ?? 0) >= 1);
  // Rows logged before citations were recorded (citations null) say nothing about staleness.
  const citedKnown = cited.filter((r) => r.staleCitation !== null);
  const withFeedback = rows.filter((r) => r.feedback);
  // A typed array sorts numerically without a comparator: several times faster on the /metrics window.
  const latencies = Float64Array.from(rows.filter((r) => r.status < 500), (r) => r.latencyMs).sort();
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
    citationRate: share(cited.length, answered.filter((r) => r.citations !== null).length),
    staleCitationRate: share(citedKnown.filter((r) => r.staleCitation).length, citedKnown.length),
    errorRate: share(rows.filter((r) => r.status >= 500).length, rows.length),
    latencyMs: latencies.length ? { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) } : null,
    costUsd: rows.reduce((a, r) => a + (r.costUsd ?? 0), 0),
  };
}

/**
 * A document's identity across versions: its path without the segment naming its version label
 * (docs/v1/billing/plans.md and docs/v2/billing/plans.md are one document in two versions).
 * A path that does not name its label is its own identity.
 */
export function documentKey(path: string, version: string): string {
  if (!version) return path;
  const label = version.toLowerCase();
  const parts = path.split("/");
  const kept = parts.filter((p, i) => i === parts.length - 1 || p.toLowerCase() !== label);
  return kept.length === parts.length ? path : kept.join("/");
}

/**
 * Old-version documents whose document also exists in a newer version label, by the project's
 * version order (core/versions.ts, the order ingest and retrieval rank newest first). Keyed by path.
 */
export function supersededDocuments(docs: readonly StoredDocument[], order: VersionOrder): Map<string, { version: string; newerPath: string; newerVersion: string }> {
  const newest = new Map<string, StoredDocument>();
  for (const d of docs) {
    const key = documentKey(d.path, d.version);
    const best = newest.get(key);
    if (!best || order.compare(d.version, best.version) < 0) newest.set(key, d);
  }
  const out = new Map<string, { version: string; newerPath: string; newerVersion: string }>();
  for (const d of docs) {
    const best = newest.get(documentKey(d.path, d.version))!;
    if (best !== d && order.compare(best.version, d.version) < 0) out.set(d.path, { version: d.version, newerPath: best.path, newerVersion: best.version });
  }
  return out;
}

/** Indexed documents whose file changed after they were ingested, or is gone, or has a newer version indexed. */
export function staleness(project: Project): Staleness {
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
  const superseded = [...supersededDocuments(docs, project.versions())].map(([path, s]) => ({ path, ...s }));
  return { documents: docs.length, changedOnDisk, missingOnDisk, superseded };
}

const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);

export function alertsFor(w: WindowStats, stale: Staleness, t: MonitorThresholds): string[] {
  const out: string[] = [];
  const over = (name: string, value: number | null, max: number, key: string) => {
    if (value !== null && value > max) out.push(`${name} ${pct(value)} is over ${pct(max)} (serve.monitors.${key})`);
  };
  over("fallback rate", w.fallbackRate, t.maxFallbackRate, "maxFallbackRate");
  over("unsupported-answer rate", w.unsupportedRate, t.maxUnsupportedRate, "maxUnsupportedRate");
  over("retrieval-miss rate", w.retrievalMissRate, t.maxRetrievalMissRate, "maxRetrievalMissRate");
  over("user-correction rate", w.correctionRate, t.maxCorrectionRate, "maxCorrectionRate");
  over("server-error rate", w.errorRate, t.maxErrorRate, "maxErrorRate");
  over("stale-citation rate", w.staleCitationRate, t.maxStaleCitationRate, "maxStaleCitationRate");
  if (w.citationRate !== null && w.citationRate < t.minCitationRate) out.push(`citation rate ${pct(w.citationRate)} is under ${pct(t.minCitationRate)} (serve.monitors.minCitationRate)`);
  if (t.p95LatencyMs !== undefined && w.latencyMs && w.latencyMs.p95 > t.p95LatencyMs) {
    out.push(`p95 latency ${Math.round(w.latencyMs.p95)} ms is over the ${t.p95LatencyMs} ms target (constraints.p95LatencyMs)`);
  }
  const staleDocs = staleCount(stale);
  if (staleDocs > 0) out.push(`${staleDocs} indexed document${staleDocs === 1 ? "" : "s"} changed or removed on disk since ingest: answers may be stale (run \`ragtune ingest\` or POST /v1/ingest)`);
  return out;
}

/** Changed or missing on disk. Superseded documents are not counted: archived versions are often kept on purpose; citing them is what the stale-citation rate alerts on. */
export function staleCount(s: Staleness): number {
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

/** Live traffic only unless eval traffic is asked for (rows logged before the traffic column count as live). */
export function trafficFilter<R extends { traffic?: string }>(rows: readonly R[], includeEval = false): R[] {
  return includeEval ? [...rows] : rows.filter((r) => (r.traffic ?? "live") === "live");
}

export function monitorReport(
  rowsBetween: (from: string, to: string) => readonly MonitoredRequest[],
  project: Project,
  sinceMs: number,
  thresholds: MonitorThresholds,
  now = new Date(),
  opts: { includeEval?: boolean } = {},
): MonitorReport {
  const to = now.toISOString();
  const from = new Date(now.getTime() - sinceMs).toISOString();
  const before = new Date(now.getTime() - 2 * sinceMs).toISOString();
  const includesEval = opts.includeEval ?? false;
  const window = windowStats(trafficFilter(rowsBetween(from, to), includesEval), from, to);
  const previous = windowStats(trafficFilter(rowsBetween(before, from), includesEval), before, from);
  const stale = staleness(project);
  return { window, previous, stale, alerts: alertsFor(window, stale, thresholds), includesEval };
}

const supersededCache = new WeakMap<Project, { generation: number; map: ReturnType<typeof supersededDocuments> }>();

/** supersededDocuments of the served index, recomputed only when the store's generation changes (per answer it is a Map lookup). */
export function supersededInIndex(project: Project): ReturnType<typeof supersededDocuments> {
  const generation = project.store.generation();
  const hit = supersededCache.get(project);
  if (hit && hit.generation === generation) return hit.map;
  const map = supersededDocuments(project.store.documents(), project.versions());
  supersededCache.set(project, { generation, map });
  return map;
}
