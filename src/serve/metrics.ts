/**
 * The Prometheus metrics of one serve app, on its own prom-client Registry (never the global one:
 * two apps in one process, e.g. tests, must not share counters).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<"route" | "status">;
  latency: Histogram<"route">;
  fallbacks: Counter;
  /** Answers with a claim their cited chunks do not back (evaluate/metrics.ts answerSupport). */
  unsupported: Counter;
  logErrors: Counter;
  indexGeneration: Gauge;
}

export function createServeMetrics(): ServeMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: "ragtune_http_requests_total", help: "HTTP requests by route and status.", labelNames: ["route", "status"], registers: [registry] }),
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
  };
}
