/**
 * Trace export of `ragtune serve` (`serve.traces`, docs/serve.md#traces): one trace per answered
 * request, OpenTelemetry OTLP/HTTP with JSON encoding, OpenInference attributes. No dependency:
 *
 * - context.ts:  W3C trace/span ids and the incoming `traceparent`.
 * - spans.ts:    a request → CHAIN, RETRIEVER, RERANKER, LLM spans (OTLP/JSON).
 * - exporter.ts: bounded queue, batches, flush on shutdown, errors counted and logged once.
 */
import type { RagtuneConfig } from "../../config/index.ts";
import { DEFAULT_SYSTEM_PROMPT } from "../../pipeline/index.ts";
import type { Answered } from "../answer.ts";
import type { ServeMetrics } from "../metrics.ts";
import { newSpanId, newTraceId, parseTraceParent } from "./context.ts";
import { TraceExporter, tracesEndpoint } from "./exporter.ts";
import type { RequestTrace } from "./spans.ts";

export { TraceExporter, tracesEndpoint } from "./exporter.ts";
export { parseTraceParent, formatTraceParent, newSpanId, newTraceId } from "./context.ts";
export { requestSpans, exportBody, type OtlpSpan, type RequestTrace } from "./spans.ts";

export interface Tracer {
  exporter: TraceExporter;
  /** Ids of a new request span: in the caller's trace when `traceparent` is valid; sampled false = do not export. */
  begin(traceparent: string | undefined): { traceId: string; spanId: string; parentSpanId?: string; sampled: boolean };
  record(trace: RequestTrace): void;
}

export function createTracer(config: RagtuneConfig["serve"]["traces"], metrics: ServeMetrics, logError: (m: string) => void, env: NodeJS.ProcessEnv = process.env): Tracer {
  const exporter = new TraceExporter(
    {
      endpoint: tracesEndpoint(config.endpoint, env),
      headers: config.headers,
      serviceName: config.serviceName,
      maxQueueSpans: config.maxQueueSpans,
      maxBatchSpans: config.maxBatchSpans,
      flushIntervalMs: config.flushIntervalMs,
      timeoutMs: config.timeoutMs,
      maxContentChars: config.maxContentChars,
    },
    {
      spans: (outcome, n) => metrics.traceSpans.inc({ outcome }, n),
      exportError: () => metrics.traceExportErrors.inc(),
    },
    logError,
  );
  return {
    exporter,
    begin(traceparent) {
      const parent = parseTraceParent(traceparent);
      return parent
        ? { traceId: parent.traceId, spanId: newSpanId(), parentSpanId: parent.parentSpanId, sampled: parent.sampled }
        : { traceId: newTraceId(), spanId: newSpanId(), sampled: true };
    },
    record(trace) {
      exporter.add(trace);
    },
  };
}

/** What the RETRIEVER / RERANKER / LLM spans show of an answer (the offline reader reads no system prompt). */
export function answerTrace(a: Answered, systemPrompt: string | undefined): NonNullable<RequestTrace["answer"]> {
  return {
    text: a.result.text,
    fallback: a.result.abstained,
    confidence: a.result.confidence ?? null,
    support: a.support ?? null,
    generator: a.result.generator,
    inputTokens: a.result.usage.inputTokens,
    outputTokens: a.result.usage.outputTokens,
    ...(a.result.generator.startsWith("offline:") ? {} : { systemPrompt: systemPrompt ?? DEFAULT_SYSTEM_PROMPT }),
    hits: a.hits,
    retrieval: a.timings.retrieval,
    generation: a.timings.generation,
    ...(a.rerank ? { rerank: a.rerank } : {}),
  };
}
