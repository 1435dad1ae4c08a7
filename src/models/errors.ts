/**
 * The one error type of every model call (chat providers, API embedders, rerankers), classified so
 * the retry layer (`resilience.ts`) and the runner can decide what to do without parsing messages:
 *
 * - retryable: 408, 409, 429, 5xx (incl. Anthropic's 529 "overloaded"), timeouts, network errors,
 *   truncated streams and malformed bodies — a later attempt may well succeed;
 * - never retried: 400/401/403/404/413/422 and other 4xx (the request or the key is wrong: retrying
 *   costs money and time and fails the same way) and caller aborts.
 */

export type ProviderErrorKind = "auth" | "validation" | "rate_limit" | "server" | "timeout" | "network" | "malformed" | "aborted";

export interface ProviderErrorOptions {
  /** HTTP status, when the server answered. */
  status?: number;
  cause?: unknown;
  /** Default: derived from `status` (no status → "network"). */
  kind?: ProviderErrorKind;
  /** Default: derived from `kind` (see `isRetryableKind`). */
  retryable?: boolean;
  /** Server-requested wait before the next attempt (Retry-After / retry-after-ms). */
  retryAfterMs?: number;
  /** Attempts made, set by the retry layer when it gives up. */
  attempts?: number;
}

/** A failed provider call: HTTP error, timeout, network error or an unusable response. */
export class ProviderError extends Error {
  /** HTTP status, when the server answered. */
  readonly status?: number;
  /** Provider id, e.g. `openai-compatible:local/llama3.2`. */
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  /** A later identical request may succeed (see the module comment). */
  readonly retryable: boolean;
  /** Milliseconds the server asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;
  /** Attempts made before giving up, when the retry layer threw this. */
  readonly attempts?: number;
  /** The message without the `<provider>: ` prefix. */
  readonly detail: string;

  constructor(provider: string, message: string, options: ProviderErrorOptions = {}) {
    super(`${provider}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProviderError";
    this.provider = provider;
    this.detail = message;
    this.status = options.status;
    this.kind = options.kind ?? (options.status === undefined ? "network" : kindForStatus(options.status));
    this.retryable = options.retryable ?? isRetryableKind(this.kind);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.attempts !== undefined) this.attempts = options.attempts;
  }
}

/** HTTP status → error kind. 2xx (an unusable success body) is "malformed". */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  if (status === 409 || status >= 500) return "server";
  if (status >= 400) return "validation";
  return "malformed";
}

export function isRetryableKind(kind: ProviderErrorKind): boolean {
  return kind !== "auth" && kind !== "validation" && kind !== "aborted";
}

/** True for errors the retry layer should retry (only ProviderErrors that say so). */
export function isRetryable(error: unknown): error is ProviderError {
  return error instanceof ProviderError && error.retryable;
}

/**
 * The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` as seconds or an
 * HTTP date. Undefined when absent or unparsable; never negative.
 */
export function parseRetryAfter(headers: Pick<Headers, "get">, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const BODY_EXCERPT_CHARS = 300;

/**
 * The useful part of an error body: `error.message` (with `error.type` for Anthropic's
 * `{type:"error", error:{type, message}}`) when the body is such JSON, else the start of the body.
 */
export function errorBodyMessage(raw: string): string {
  try {
    const parsed = JSON.parse(raw) as { error?: unknown; message?: unknown };
    const error = parsed?.error;
    if (typeof error === "string") return error.slice(0, BODY_EXCERPT_CHARS);
    if (error && typeof error === "object") {
      const { type, message, code } = error as { type?: unknown; message?: unknown; code?: unknown };
      if (typeof message === "string") {
        const label = typeof type === "string" ? type : typeof code === "string" ? code : undefined;
        return (label ? `${label}: ${message}` : message).slice(0, BODY_EXCERPT_CHARS);
      }
    }
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  return raw.slice(0, BODY_EXCERPT_CHARS);
}

/**
 * A non-2xx answer as a ProviderError whose message says what to fix: the key variable for auth
 * errors, the model/options for validation errors, "will retry" errors keep the server's words.
 */
export function httpError(
  provider: string,
  url: string,
  status: number,
  raw: string,
  headers: Pick<Headers, "get">,
  hints: { apiKeyEnv?: string } = {},
): ProviderError {
  const what = errorBodyMessage(raw);
  const kind = kindForStatus(status);
  let fix = "";
  if (kind === "auth") {
    const key = hints.apiKeyEnv ?? "the API key environment variable";
    fix =
      status === 401
        ? ` — the API key was rejected or is missing: check ${key}`
        : ` — the API key has no access to this model or endpoint: check ${key} and the model's permissions`;
  } else if (status === 404) {
    fix = " — check the model name and the base URL";
  } else if (status === 413) {
    fix = " — the request is too large: reduce the context (retrieval.k, longContext.budgetTokens)";
  } else if (kind === "validation") {
    fix = " — the request was rejected: check the model name and options (this is not retried)";
  }
  return new ProviderError(provider, `HTTP ${status} from ${url}: ${what}${fix}`, {
    status,
    kind,
    // 529 (Anthropic overloaded) is a 5xx and so retryable already.
    retryAfterMs: parseRetryAfter(headers),
  });
}

/**
 * Classify a failure of `fetch` or of reading the body: our timeout, the caller's abort, or a
 * network error. ProviderErrors pass through unchanged.
 */
export function fetchFailure(
  provider: string,
  url: string,
  error: unknown,
  state: { timeout: AbortSignal; timeoutMs: number; signal?: AbortSignal },
): ProviderError {
  if (error instanceof ProviderError) return error;
  if (state.signal?.aborted) return new ProviderError(provider, "request was aborted", { cause: error, kind: "aborted" });
  if (state.timeout.aborted) {
    return new ProviderError(provider, `request timed out after ${state.timeoutMs} ms (${url})`, { cause: error, kind: "timeout" });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ? ` (${cause.code})` : "";
  return new ProviderError(provider, `request to ${url} failed: ${(error as Error)?.message ?? String(error)}${detail}`, { cause: error, kind: "network" });
}
