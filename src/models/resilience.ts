/**
 * Robustness around any ChatProvider: retries with backoff, a concurrency limit and request/token
 * rate limits. The raw providers make exactly one HTTP request per call and classify failures
 * (`errors.ts`); this layer decides what happens next.
 *
 * - Retries: only ProviderErrors with `retryable` (429, 408, 409, 5xx, timeouts, network errors,
 *   truncated streams, malformed bodies). The wait before retry n (1-based) is "full jitter",
 *   `random() * min(capMs, baseMs * 2^(n-1))`, and at least the server's Retry-After. Anything
 *   else (auth, validation, caller abort, non-provider errors) is rethrown at once.
 * - Limits are shared per `key` through a module-level registry, so two generators or judges on
 *   the same endpoint — and the embedder on it (embedders/openai.ts) — queue behind one
 *   concurrency limit and one pair of token buckets (`LimitState.run`).
 */
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "./index.ts";
import { ProviderError, isRetryable } from "./errors.ts";
import { countTokens } from "./tokens.ts";

export interface ProviderLimits {
  /** Retries after the first attempt (default 4). */
  maxRetries: number;
  /** Calls in flight at once (default 4). */
  maxConcurrency: number;
  /** Request rate limit; unset or 0 = unlimited. */
  requestsPerMinute?: number;
  /** Token rate limit (input tokens + max output tokens per call); unset or 0 = unlimited. */
  tokensPerMinute?: number;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface ResilienceOptions extends Partial<ProviderLimits> {
  /** Limits are shared by every ResilientProvider with the same key (default: the provider id). */
  key?: string;
  /** Backoff base (default 500 ms). */
  baseDelayMs?: number;
  /** Backoff cap (default 30 s). */
  maxDelayMs?: number;
  /**
   * Longest Retry-After we wait for (default 120 s). A server asking for more fails the call now
   * with the server's message rather than stalling a run for minutes.
   */
  maxRetryAfterMs?: number;
  /** Output tokens assumed for the token bucket when a call sets no maxTokens (default 1024). */
  defaultMaxTokens?: number;
  /** Injected for tests: time and waiting (backoff and rate-limit waits). */
  clock?: Clock;
  /** Injected for tests: uniform [0, 1) for the jitter. */
  random?: () => number;
  /** Called before each retry wait (progress output, tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: ProviderError }) => void;
}

export const DEFAULT_LIMITS: ProviderLimits = { maxRetries: 4, maxConcurrency: 4 };

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Backoff before retry `retry` (1-based): full jitter over an exponentially growing window. */
export function backoffDelay(retry: number, random: () => number, baseMs = 500, capMs = 30_000): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** (retry - 1)));
}

/** A FIFO counting semaphore. */
class Semaphore {
  max: number;
  inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(max: number) {
    this.max = max;
  }
  async acquire(): Promise<void> {
    if (this.inFlight < this.max && this.waiting.length === 0) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter (inFlight unchanged), so newcomers cannot overtake.
    if (next) next();
    else this.inFlight--;
    this.pump();
  }
  /** After `max` grows, let waiters in. */
  pump(): void {
    while (this.inFlight < this.max && this.waiting.length > 0) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }
}

/**
 * A token bucket refilled at `perMinute / 60_000` per ms, holding at most one second's worth (at
 * least one unit), so calls are spaced evenly instead of bursting a minute's budget at once — APIs
 * enforce per-minute limits over shorter windows. A call bigger than the bucket waits for a full
 * bucket and leaves it in debt, so large calls are spaced out too.
 */
class TokenBucket {
  perMinute: number;
  private level: number;
  private updated: number | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(perMinute: number) {
    this.perMinute = perMinute;
    this.level = this.capacity;
  }

  get capacity(): number {
    return Math.max(1, this.perMinute / 60);
  }

  /** Take `amount`, waiting as needed. Callers are served in order. */
  take(amount: number, clock: Clock, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(async () => {
      const need = Math.min(amount, this.capacity);
      for (;;) {
        const now = clock.now();
        if (this.updated !== undefined) this.level = Math.min(this.capacity, this.level + ((now - this.updated) * this.perMinute) / 60_000);
        this.updated = now;
        if (this.level >= need) break;
        const waitMs = Math.ceil(((need - this.level) * 60_000) / this.perMinute);
        await clock.sleep(waitMs, signal);
      }
      this.level -= amount;
    });
    // A failed (aborted) wait must not block the callers behind it.
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

/** What one limited call takes and who it is, for `LimitState.run`. */
export interface LimitedCall {
  /** Provider id, named in the error when a rate-limit wait is aborted. */
  id: string;
  /** Tokens charged to the token bucket; only asked for when a token limit is set (counting is not free). */
  tokens: () => number;
  clock?: Clock;
  signal?: AbortSignal;
}

/**
 * The shared limit state of one key: every caller on that key — chat providers (ResilientProvider)
 * and the OpenAI-protocol embedder alike — runs its requests through `run`, so they queue behind
 * one concurrency limit and draw from one pair of buckets (or the distributed gate's).
 */
export class LimitState {
  readonly key: string;
  readonly concurrency: Semaphore;
  requests?: TokenBucket;
  tokens?: TokenBucket;

  constructor(key: string, limits: ProviderLimits) {
    this.key = key;
    this.concurrency = new Semaphore(limits.maxConcurrency);
    this.configure(limits);
  }

  /**
   * Run one request inside the concurrency limit, after taking its share of the rate limits: 1
   * request and `call.tokens()` tokens, from the distributed gate when one is installed, else from
   * this process's buckets. An aborted wait throws ProviderError kind "aborted".
   */
  async run<T>(call: LimitedCall, request: () => Promise<T>): Promise<T> {
    await this.concurrency.acquire();
    try {
      try {
        const { requests, tokens } = this;
        const gate = activeGate();
        const clock = call.clock ?? realClock;
        if (requests) {
          if (gate) await gate.take(this.key, "requests", 1, requests.perMinute, call.signal);
          else await requests.take(1, clock, call.signal);
        }
        if (tokens) {
          const amount = call.tokens();
          if (gate) await gate.take(this.key, "tokens", amount, tokens.perMinute, call.signal);
          else await tokens.take(amount, clock, call.signal);
        }
      } catch (abort) {
        throw new ProviderError(call.id, "request was aborted while waiting for the rate limit", { kind: "aborted", cause: abort });
      }
      return await request();
    } finally {
      this.concurrency.release();
    }
  }

  /** The latest configuration of a key wins (one config per process in practice). */
  configure(limits: ProviderLimits): void {
    this.concurrency.max = Math.max(1, limits.maxConcurrency);
    this.concurrency.pump();
    this.requests = bucket(this.requests, limits.requestsPerMinute);
    this.tokens = bucket(this.tokens, limits.tokensPerMinute);
  }

  /** Calls running now (for tests and progress output). */
  get inFlight(): number {
    return this.concurrency.inFlight;
  }
}

function bucket(existing: TokenBucket | undefined, perMinute: number | undefined): TokenBucket | undefined {
  if (!perMinute || perMinute <= 0) return undefined;
  if (existing) {
    existing.perMinute = perMinute;
    return existing;
  }
  return new TokenBucket(perMinute);
}

/**
 * Rate limits shared by several processes (the eval and ingest queue workers, evaluate/queue/ and
 * ingest/queue/, through a Redis token bucket in queue/rate-gate.ts). When one is installed, the request and token
 * buckets of every key are taken from it instead of this process's own buckets; the concurrency
 * limit stays per process.
 */
export interface DistributedRateGate {
  /** Take `amount` from the bucket `name` of `key` refilled at `perMinute`, waiting as needed. */
  take(key: string, name: "requests" | "tokens", amount: number, perMinute: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Installed gates, newest last; the newest is used. A stack rather than one slot because one
 * `ragtune worker` process runs an eval worker and an ingest worker, each installing a gate on its
 * own Redis connection: whichever closes first must not leave the other without one.
 */
const installedGates: DistributedRateGate[] = [];

function activeGate(): DistributedRateGate | undefined {
  return installedGates.at(-1);
}

/** Install a rate gate shared across processes; the returned function removes this one again. */
export function installDistributedRateGate(gate: DistributedRateGate): () => void {
  installedGates.push(gate);
  return () => {
    const at = installedGates.lastIndexOf(gate);
    if (at >= 0) installedGates.splice(at, 1);
  };
}

/** Replace every installed gate with `gate` (or remove them all, with undefined). */
export function useDistributedRateGate(gate: DistributedRateGate | undefined): void {
  installedGates.length = 0;
  if (gate) installedGates.push(gate);
}

const registry = new Map<string, LimitState>();

/** The limit state shared by every provider with this key, created or reconfigured. */
export function sharedLimits(key: string, limits: ProviderLimits): LimitState {
  let state = registry.get(key);
  if (state) state.configure(limits);
  else registry.set(key, (state = new LimitState(key, limits)));
  return state;
}

/** Forget all shared limit state (tests). */
export function resetSharedLimits(): void {
  registry.clear();
}

export class ResilientProvider implements ChatProvider {
  readonly id: string;
  readonly inner: ChatProvider;
  readonly limits: ProviderLimits;
  readonly key: string;
  private readonly state: LimitState;
  private readonly options: ResilienceOptions;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(inner: ChatProvider, options: ResilienceOptions = {}) {
    this.inner = inner;
    this.id = inner.id;
    this.options = options;
    this.key = options.key ?? inner.id;
    this.limits = {
      maxRetries: options.maxRetries ?? DEFAULT_LIMITS.maxRetries,
      maxConcurrency: options.maxConcurrency ?? DEFAULT_LIMITS.maxConcurrency,
      requestsPerMinute: options.requestsPerMinute,
      tokensPerMinute: options.tokensPerMinute,
    };
    this.state = sharedLimits(this.key, this.limits);
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
  }

  /** The model behind the wrapped provider, when it says (used in cache keys). */
  get model(): string | undefined {
    return (this.inner as { model?: string }).model;
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    // Counted at most once, and only when a token-rate limit asks (counting a long prompt is not free).
    let estimate: number | undefined;
    const tokens = () =>
      (estimate ??= messages.reduce((sum, m) => sum + countTokens(m.content), 0) + (options.maxTokens ?? this.options.defaultMaxTokens ?? 1024));
    const maxAttempts = this.limits.maxRetries + 1;
    // A retried stream replays its start: pass on only text beyond what the caller already got.
    let emitted = "";
    for (let attempt = 1; ; attempt++) {
      let attemptText = "";
      const onText = options.onText
        ? (delta: string) => {
            attemptText += delta;
            if (attemptText.length > emitted.length) {
              const fresh = attemptText.slice(emitted.length);
              emitted = attemptText;
              options.onText!(fresh);
            }
          }
        : undefined;
      try {
        const result = await this.state.run({ id: this.id, tokens, clock: this.clock, signal: options.signal }, () => this.inner.chat(messages, { ...options, onText }));
        return { ...result, attempts: attempt };
      } catch (error) {
        if (!isRetryable(error)) throw error;
        if (attempt >= maxAttempts) {
          throw new ProviderError(
            this.id,
            `gave up after ${attempt} attempt${attempt === 1 ? "" : "s"} (maxRetries ${this.limits.maxRetries}); last error: ${error.detail}`,
            { status: error.status, kind: error.kind, retryable: error.retryable, cause: error, attempts: attempt },
          );
        }
        const retryAfter = error.retryAfterMs;
        const maxRetryAfter = this.options.maxRetryAfterMs ?? 120_000;
        if (retryAfter !== undefined && retryAfter > maxRetryAfter) {
          throw new ProviderError(
            this.id,
            `server asked to wait ${Math.ceil(retryAfter / 1000)} s before retrying (more than ${Math.ceil(maxRetryAfter / 1000)} s); ${error.detail}`,
            { status: error.status, kind: error.kind, retryable: false, cause: error, attempts: attempt, retryAfterMs: retryAfter },
          );
        }
        const jitter = backoffDelay(attempt, this.random, this.options.baseDelayMs ?? 500, this.options.maxDelayMs ?? 30_000);
        const delayMs = Math.max(jitter, retryAfter ?? 0);
        this.options.onRetry?.({ attempt, delayMs, error });
        try {
          await this.clock.sleep(delayMs, options.signal);
        } catch (abort) {
          throw new ProviderError(this.id, "request was aborted while waiting to retry", { kind: "aborted", cause: abort, attempts: attempt });
        }
      }
    }
  }
}
