/**
 * The Prometheus metrics of one serve app, on its own prom-client Registry (never the global one:
 * two apps in one process, e.g. tests, must not share counters).
 *
 * The `ragtune_monitor_*` gauges are the online monitors of `ragtune monitor`, computed by the same
 * `windowStats` (monitor.ts) over a rolling window of the request log at scrape time, so the
 * dashboard and the command cannot disagree. The window is held in memory (monitor-window.ts:
 * the rows the server logs, at most `MONITOR_MAX_ROWS`), not read back from SQLite per scrape, and
 * the result is reused for `cacheMs`, so scraping often or a big log never makes /metrics slow.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Project } from "../pipeline/index.ts";
import type { RequestLogStore } from "./log.ts";
import { MonitorWindow } from "./monitor-window.ts";
import { staleness, windowStats, type Staleness, type WindowStats } from "./monitor.ts";
import type { ServedVersion } from "./schemas.ts";

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<"route" | "status" | "traffic">;
  latency: Histogram<"route">;
  fallbacks: Counter;
  /** Answers with a claim their cited chunks do not back (evaluate/metrics.ts answerSupport). */
  unsupported: Counter;
  logErrors: Counter;
  indexGeneration: Gauge;
  /** Trace export (trace/exporter.ts): spans exported, dropped (queue full), failed export requests. */
  traceSpans: Counter<"outcome">;
  traceExportErrors: Counter;
}

export function createServeMetrics(): ServeMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: "ragtune_http_requests_total",
      help: "HTTP requests by route, status and traffic (live, eval, synthetic from X-Ragtune-Traffic; invalid for a bad header).",
      labelNames: ["route", "status", "traffic"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "ragtune_http_request_duration_seconds",
      help: "Request latency by route.",
      labelNames: ["route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    fallbacks: new Counter({ name: "ragtune_answer_fallbacks_total", help: "Answers where the pipeline abstained (fallback + escalation).", registers: [registry] }),
    unsupported: new Counter({
      name: "ragtune_answer_unsupported_total",
      help: "Answers with a claim the cited chunks do not support (the evaluate/ support check).",
      registers: [registry],
    }),
    logErrors: new Counter({ name: "ragtune_request_log_errors_total", help: "Request-log writes that failed (the request was still answered).", registers: [registry] }),
    indexGeneration: new Gauge({ name: "ragtune_index_generation", help: "Generation counter of the index being served.", registers: [registry] }),
    traceSpans: new Counter({
      name: "ragtune_trace_spans_total",
      help: "Trace spans by outcome: exported, dropped (the export queue was full), failed (their export request failed).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    traceExportErrors: new Counter({ name: "ragtune_trace_export_errors_total", help: "OTLP export requests that failed (network error, timeout or non-2xx).", registers: [registry] }),
  };
}

/** Rows one scrape reads at most (the newest of the window); beyond it the gauges cover the newest rows and ragtune_monitor_window_truncated is 1. */
export const MONITOR_MAX_ROWS = 100_000;

export interface MonitorGaugeOptions {
  project: Project;
  requestLog: RequestLogStore | undefined;
  windowMinutes: number;
  served: () => ServedVersion;
  /** Reuse a computed window this long (default 2000 ms; 0 = every scrape). */
  cacheMs?: number;
  maxRows?: number;
}

/**
 * Registers the monitor gauges and returns `refresh()`, to await before the registry is
 * serialised. A rate with no data in the window (e.g. no answers yet) is NaN, Prometheus' "no value".
 */
export function registerMonitorGauges(metrics: ServeMetrics, opts: MonitorGaugeOptions): { window: MonitorWindow | undefined; refresh(now?: Date): void } {
  const r = metrics.registry;
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [r] });
  const rates: [keyof WindowStats, Gauge][] = [
    ["fallbackRate", gauge("ragtune_monitor_fallback_rate", "Share of answered requests in the window that fell back (monitor.ts windowStats).")],
    ["unsupportedRate", gauge("ragtune_monitor_unsupported_rate", "Share of answered requests with a claim their cited chunks do not back (answerSupport).")],
    ["retrievalMissRate", gauge("ragtune_monitor_retrieval_miss_rate", "Share of answered requests that retrieved nothing or fell back with retrieval (proxy).")],
    ["citationRate", gauge("ragtune_monitor_citation_rate", "Share of answered requests answered (not a fallback) with at least one citation.")],
    ["staleCitationRate", gauge("ragtune_monitor_stale_citation_rate", "Share of cited answers citing a chunk of a superseded version.")],
    ["correctionRate", gauge("ragtune_monitor_user_correction_rate", "Share of requests with feedback that were thumbs-down or corrected.")],
    ["errorRate", gauge("ragtune_monitor_error_rate", "Share of logged requests in the window that got a 5xx.")],
  ];
  const requests = gauge("ragtune_monitor_requests", "Live requests in the monitor window (eval / synthetic traffic is left out).");
  const answered = gauge("ragtune_monitor_answered", "Answered live requests in the monitor window.");
  const cost = gauge("ragtune_monitor_cost_usd", "Cost of the live requests in the monitor window, USD (unknown prices count 0).");
  const windowSeconds = gauge("ragtune_monitor_window_seconds", "Length of the monitor window (serve.monitors.windowMinutes).");
  const truncated = gauge("ragtune_monitor_window_truncated", "1 when the window held more rows than one scrape reads (the gauges cover the newest ones).");
  const staleDocs = new Gauge({
    name: "ragtune_monitor_stale_documents",
    help: "Indexed documents that are stale: changed or missing on disk since ingest, or superseded by a newer version label of the same document.",
    labelNames: ["reason"],
    registers: [r],
  });
  const info = new Gauge({
    name: "ragtune_served_info",
    help: "The index version, index fingerprint and model being served (value 1).",
    labelNames: ["index_version", "index_fingerprint", "model"],
    registers: [r],
  });
  windowSeconds.set(opts.windowMinutes * 60);
  const cacheMs = opts.cacheMs ?? 2_000;
  let computedAt = -Infinity;
  const window = opts.requestLog ? new MonitorWindow(opts.windowMinutes * 60_000, opts.maxRows ?? MONITOR_MAX_ROWS) : undefined;
  if (window) window.seed(opts.requestLog!);

  const apply = (w: WindowStats | undefined, isTruncated: boolean, stale: Staleness) => {
    for (const [key, g] of rates) {
      const v = w ? (w[key] as number | null) : null;
      g.set(v === null ? Number.NaN : v);
    }
    requests.set(w?.requests ?? 0);
    answered.set(w?.answered ?? 0);
    cost.set(w?.costUsd ?? 0);
    truncated.set(isTruncated ? 1 : 0);
    staleDocs.set({ reason: "changed" }, stale.changedOnDisk.length);
    staleDocs.set({ reason: "missing" }, stale.missingOnDisk.length);
    staleDocs.set({ reason: "superseded" }, stale.superseded.length);
  };

  return {
    window,
    refresh(now = new Date()) {
      const served = opts.served();
      info.reset();
      info.set({ index_version: served.index.version === null ? "" : String(served.index.version), index_fingerprint: served.index.fingerprint, model: served.model.generator }, 1);
      if (performance.now() - computedAt < cacheMs) return;
      const to = now.toISOString();
      const from = new Date(now.getTime() - opts.windowMinutes * 60_000).toISOString();
      const stale = staleness(opts.project);
      apply(window ? windowStats(window.current(now.getTime()), from, to) : undefined, window?.truncated ?? false, stale);
      // After computing: a slow computation must not leave every later scrape uncached.
      computedAt = performance.now();
    },
  };
}
