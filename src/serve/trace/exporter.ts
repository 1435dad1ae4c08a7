/**
 * A small OTLP/HTTP (JSON) trace exporter with a bounded queue. A request hands over its trace and
 * returns at once: spans are built and sent later, in batches, one export request at a time.
 * When the queue is full a trace is dropped and counted, never waited for; a failed export is
 * counted and logged once (then again only after an export succeeded), never per span.
 */
import { exportBody, requestSpans, type RequestTrace } from "./spans.ts";

export interface ExporterOptions {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  serviceVersion?: string;
  maxQueueSpans: number;
  maxBatchSpans: number;
  flushIntervalMs: number;
  timeoutMs: number;
  maxContentChars: number;
}

export interface ExporterCounters {
  /** outcome: exported | dropped | failed */
  spans(outcome: "exported" | "dropped" | "failed", n: number): void;
  exportError(): void;
}

/** Spans a trace will have: what the queue bound counts before the spans are built. */
function spanCount(t: RequestTrace): number {
  return t.answer ? (t.answer.rerank ? 4 : 3) : 1;
}

export class TraceExporter {
  private queue: RequestTrace[] = [];
  private queuedSpans = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly options: ExporterOptions,
    private readonly counters: ExporterCounters,
    private readonly logError: (message: string) => void,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    // The export timer never keeps a process alive on its own.
    this.timer.unref();
  }

  /** Spans waiting to be exported. */
  get pending(): number {
    return this.queuedSpans;
  }

  /** Queue a request's trace; false when it was dropped (queue full or stopped). Never throws, never waits. */
  add(trace: RequestTrace): boolean {
    const n = spanCount(trace);
    if (this.stopped || this.queuedSpans + n > this.options.maxQueueSpans) {
      this.counters.spans("dropped", n);
      return false;
    }
    this.queue.push(trace);
    this.queuedSpans += n;
    if (this.queuedSpans >= this.options.maxBatchSpans && !this.inFlight) void this.flush();
    return true;
  }

  /** Export what is queued now (batch after batch); resolves when done. Concurrent calls share the work. */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (!this.queue.length) return Promise.resolve();
    this.inFlight = this.drain().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Stop the timer, export everything queued (each batch bounded by timeoutMs); later traces are dropped. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // flush() may be finishing a batch taken before shutdown; loop until the queue is empty.
    while (this.inFlight || this.queue.length) await this.flush();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch: RequestTrace[] = [];
      let n = 0;
      while (this.queue.length && (n === 0 || n + spanCount(this.queue[0]) <= this.options.maxBatchSpans)) {
        const t = this.queue.shift()!;
        n += spanCount(t);
        batch.push(t);
      }
      this.queuedSpans -= n;
      await this.send(batch, n);
    }
  }

  private async send(batch: RequestTrace[], n: number): Promise<void> {
    const o = this.options;
    try {
      const body = exportBody(
        batch.flatMap((t) => requestSpans(t, o.maxContentChars)),
        { serviceName: o.serviceName, ...(o.serviceVersion ? { serviceVersion: o.serviceVersion } : {}) },
      );
      const res = await this.fetchImpl(o.endpoint, {
        method: "POST",
        headers: { ...o.headers, "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      // The body is read so the connection can be reused; a partial-success body is not inspected.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.counters.spans("exported", n);
      if (this.failing) {
        this.failing = false;
        this.logError(`ragtune serve: trace export to ${o.endpoint} works again`);
      }
    } catch (err) {
      this.counters.exportError();
      this.counters.spans("failed", n);
      if (!this.failing) {
        this.failing = true;
        const e = err as Error & { cause?: Error };
        const why = e.name === "TimeoutError" ? `no answer within ${o.timeoutMs} ms (serve.traces.timeoutMs)` : `${e.message}${e.cause?.message ? ` (${e.cause.message})` : ""}`;
        this.logError(`ragtune serve: trace export to ${o.endpoint} failed: ${why}; spans are dropped and counted in ragtune_trace_export_errors_total until it works again`);
      }
    }
  }
}

/**
 * The traces URL: `serve.traces.endpoint`, else the standard OpenTelemetry variables
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces), else the
 * collector default on localhost. The variables only say where to send: export is on only when
 * `serve.traces.enabled` is true.
 */
export function tracesEndpoint(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${base.replace(/\/+$/, "")}/v1/traces`;
  return "http://localhost:4318/v1/traces";
}
