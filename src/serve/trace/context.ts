/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): random trace and span ids, and the
 * `traceparent` header a caller may send so our spans join its trace.
 */
import { randomBytes } from "node:crypto";

export interface TraceParent {
  traceId: string;
  /** The caller's span: our request span's parent. */
  parentSpanId: string;
  /** The caller's sampled flag; a request it did not sample is not exported (parent-based sampling). */
  sampled: boolean;
}

const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** 16 random bytes as 32 lower-case hex digits (never all zero). */
export function newTraceId(): string {
  const id = randomBytes(16).toString("hex");
  return id === ZERO_TRACE ? newTraceId() : id;
}

/** 8 random bytes as 16 lower-case hex digits (never all zero). */
export function newSpanId(): string {
  const id = randomBytes(8).toString("hex");
  return id === ZERO_SPAN ? newSpanId() : id;
}

/**
 * The parsed header, or undefined when it is absent or invalid (then the request starts a new
 * trace, as the spec says). Version ff is invalid; a future version's extra fields are ignored.
 */
export function parseTraceParent(header: string | undefined): TraceParent | undefined {
  if (!header) return undefined;
  const m = TRACEPARENT_RE.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, parentSpanId, flags] = m;
  if (version === "ff" || traceId === ZERO_TRACE || parentSpanId === ZERO_SPAN) return undefined;
  if (version === "00" && header.trim().length !== 55) return undefined;
  return { traceId, parentSpanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** The header value naming `spanId` in `traceId` (sampled). */
export function formatTraceParent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}
