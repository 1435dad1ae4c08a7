/**
 * One answered request as OTLP spans with OpenInference semantic attributes
 * (https://github.com/Arize-ai/openinference, semantic conventions): a CHAIN span for the request,
 * with RETRIEVER, RERANKER (when a reranker ran) and LLM children. Encoded as OTLP/JSON (ids in hex,
 * times as unix-nano strings, attributes as typed `AnyValue`s).
 */
import type { Hit } from "../../retrieve/index.ts";
import type { Traffic } from "../log.ts";
import { newSpanId } from "./context.ts";

export type AttrValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
export interface OtlpAttribute {
  key: string;
  value: AttrValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 INTERNAL, 2 SERVER. */
  kind: 1 | 2;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  /** 1 OK, 2 ERROR. */
  status: { code: 1 | 2; message?: string };
}

/** What one request leaves for its trace; turned into spans only when exported, off the request path. */
export interface RequestTrace {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  route: string;
  requestId: string;
  traffic: Traffic;
  question: string;
  /** Epoch ms. */
  start: number;
  end: number;
  status: number;
  error?: string;
  answer?: {
    text: string;
    fallback: boolean;
    confidence: number | null;
    support: number | null;
    generator: string;
    inputTokens: number;
    outputTokens: number;
    systemPrompt?: string;
    hits: Hit[];
    retrieval: [number, number];
    generation: [number, number];
    /** Set when a reranker reordered the candidates. */
    rerank?: { model: string; input: Hit[]; output: Hit[]; start: number; end: number };
  };
  served: { indexFingerprint: string; indexVersion: number | null; indexGeneration: number; variant: string };
}

const nanos = (epochMs: number): string => (BigInt(Math.round(epochMs * 1000)) * 1000n).toString();

function attr(key: string, v: string | number | boolean): OtlpAttribute {
  if (typeof v === "string") return { key, value: { stringValue: v } };
  if (typeof v === "boolean") return { key, value: { boolValue: v } };
  return { key, value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } };
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/**
 * `withContent` false: ids and scores only. The reranker's 30 candidates in and out would
 * otherwise carry ~100 KB of chunk text per request; the texts that answered are on the RETRIEVER span.
 */
function documents(prefix: string, hits: Hit[], maxChars: number, withContent = true): OtlpAttribute[] {
  const out: OtlpAttribute[] = [];
  hits.forEach((h, i) => {
    const p = `${prefix}.${i}.document`;
    out.push(attr(`${p}.id`, h.chunk.id), attr(`${p}.score`, h.score));
    if (!withContent) return;
    out.push(attr(`${p}.content`, cut(h.chunk.text, maxChars)));
    out.push(attr(`${p}.metadata`, JSON.stringify({ path: h.chunk.path, headingPath: h.chunk.headingPath, lines: [h.chunk.lineStart, h.chunk.lineEnd], version: h.chunk.version ?? "" })));
  });
  return out;
}

/** The spans of one request, parents first. */
export function requestSpans(t: RequestTrace, maxChars: number): OtlpSpan[] {
  const kind = (k: string) => attr("openinference.span.kind", k);
  const common = [attr("ragtune.traffic", t.traffic), attr("ragtune.request_id", t.requestId)];
  const ok = { code: 1 as const };
  const root: OtlpSpan = {
    traceId: t.traceId,
    spanId: t.spanId,
    ...(t.parentSpanId ? { parentSpanId: t.parentSpanId } : {}),
    name: `ragtune ${t.route}`,
    kind: 2,
    startTimeUnixNano: nanos(t.start),
    endTimeUnixNano: nanos(t.end),
    attributes: [
      kind("CHAIN"),
      ...common,
      attr("input.value", cut(t.question, maxChars)),
      attr("input.mime_type", "text/plain"),
      attr("http.route", t.route),
      attr("http.response.status_code", t.status),
      attr("ragtune.index.fingerprint", t.served.indexFingerprint),
      attr("ragtune.index.generation", t.served.indexGeneration),
      ...(t.served.indexVersion !== null ? [attr("ragtune.index.version", t.served.indexVersion)] : []),
      attr("ragtune.variant", t.served.variant),
    ],
    status: t.error ? { code: 2, message: cut(t.error, 500) } : ok,
  };
  const spans = [root];
  const a = t.answer;
  if (!a) return spans;
  root.attributes.push(
    attr("output.value", cut(a.text, maxChars)),
    attr("output.mime_type", "text/plain"),
    attr("ragtune.fallback", a.fallback),
    ...(a.confidence !== null ? [attr("ragtune.confidence", a.confidence)] : []),
    ...(a.support !== null ? [attr("ragtune.support", a.support)] : []),
  );
  const child = (name: string, start: number, end: number, attributes: OtlpAttribute[]): OtlpSpan => ({
    traceId: t.traceId,
    spanId: newSpanId(),
    parentSpanId: t.spanId,
    name,
    kind: 1,
    startTimeUnixNano: nanos(start),
    endTimeUnixNano: nanos(end),
    attributes: [...attributes, ...common],
    status: ok,
  });
  spans.push(child("retrieve", a.retrieval[0], a.retrieval[1], [kind("RETRIEVER"), attr("input.value", cut(t.question, maxChars)), ...documents("retrieval.documents", a.hits, maxChars)]));
  if (a.rerank) {
    const r = a.rerank;
    spans.push(
      child("rerank", r.start, r.end, [
        kind("RERANKER"),
        attr("reranker.model_name", r.model),
        attr("reranker.query", cut(t.question, maxChars)),
        attr("reranker.top_k", r.output.length),
        ...documents("reranker.input_documents", r.input, maxChars, false),
        ...documents("reranker.output_documents", r.output, maxChars, false),
      ]),
    );
  }
  const messages: OtlpAttribute[] = [];
  let m = 0;
  if (a.systemPrompt) messages.push(attr(`llm.input_messages.${m}.message.role`, "system"), attr(`llm.input_messages.${m++}.message.content`, cut(a.systemPrompt, maxChars)));
  messages.push(attr(`llm.input_messages.${m}.message.role`, "user"), attr(`llm.input_messages.${m}.message.content`, cut(t.question, maxChars)));
  spans.push(
    child("generate", a.generation[0], a.generation[1], [
      kind("LLM"),
      attr("llm.model_name", a.generator),
      attr("llm.token_count.prompt", a.inputTokens),
      attr("llm.token_count.completion", a.outputTokens),
      attr("llm.token_count.total", a.inputTokens + a.outputTokens),
      ...messages,
      attr("llm.output_messages.0.message.role", "assistant"),
      attr("llm.output_messages.0.message.content", cut(a.text, maxChars)),
      attr("input.value", cut(t.question, maxChars)),
      attr("output.value", cut(a.text, maxChars)),
    ]),
  );
  return spans;
}

/** An OTLP/JSON ExportTraceServiceRequest body. */
export function exportBody(spans: OtlpSpan[], resource: { serviceName: string; serviceVersion?: string }): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [attr("service.name", resource.serviceName), ...(resource.serviceVersion ? [attr("service.version", resource.serviceVersion)] : [])] },
        scopeSpans: [{ scope: { name: "ragtune.serve" }, spans }],
      },
    ],
  });
}
