/**
 * Token buckets keyed by an id (an API key id, or a client address for bad attempts).
 *
 * A bucket holds up to one minute's allowance and refills continuously, so a key limited to N a
 * minute can burst N requests and then gets one every 60/N seconds. Memory is bounded: buckets
 * live in a Map in least-recently-used order, and past `maxBuckets` the oldest are dropped —
 * first ones that have refilled completely (dropping those loses nothing, a new bucket starts
 * full), then, only if every bucket is busy, the least recently used one.
 */

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiterOptions {
  /** Requests a minute when `take` is not given a rate. */
  ratePerMinute: number;
  /** Most buckets kept; default 10,000. */
  maxBuckets?: number;
}

/** Oldest buckets checked for being idle on each eviction. */
const EVICTION_SCAN = 16;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  /** Requests a minute this bucket refills at (the capacity too). */
  rate: number;
}

export class RateLimiter {
  readonly ratePerMinute: number;
  readonly maxBuckets: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerMinute > 0) || !Number.isFinite(options.ratePerMinute)) throw new Error(`rate must be a positive number a minute, got ${options.ratePerMinute}`);
    this.ratePerMinute = options.ratePerMinute;
    this.maxBuckets = Math.max(1, Math.floor(options.maxBuckets ?? 10_000));
  }

  /** Buckets currently kept (for tests and /metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Whether a bucket is kept for `id`. */
  has(id: string): boolean {
    return this.buckets.has(id);
  }

  /** Spend one token of `id`'s bucket at `now` (ms), or say how long until one is available. */
  take(id: string, now: number, ratePerMinute = this.ratePerMinute): TakeResult {
    const bucket = this.refilled(id, now, ratePerMinute);
    // Re-insert to keep the Map in least-recently-used order.
    this.buckets.delete(id);
    this.buckets.set(id, bucket);
    let result: TakeResult;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      result = { ok: true };
    } else {
      result = { ok: false, retryAfterSeconds: this.secondsUntilToken(bucket) };
    }
    // After spending, and never the bucket just used: otherwise a new id evicts itself and is
    // never limited.
    if (this.buckets.size > this.maxBuckets) this.evict(now, id);
    return result;
  }

  /** Like `take` but spends nothing: the wait before `id` may act again, 0 when it may now. */
  wait(id: string, now: number, ratePerMinute = this.ratePerMinute): number {
    const existing = this.buckets.get(id);
    if (!existing) return 0;
    const bucket = this.refilled(id, now, ratePerMinute);
    return bucket.tokens >= 1 ? 0 : this.secondsUntilToken(bucket);
  }

  private refilled(id: string, now: number, rate: number): Bucket {
    const b = this.buckets.get(id);
    if (!b) return { tokens: rate, at: now, rate };
    // A changed limit (the key was re-created with another rate) takes effect at once.
    if (b.rate !== rate) {
      b.tokens = Math.min(b.tokens, rate);
      b.rate = rate;
    }
    const elapsed = Math.max(0, now - b.at); // a clock that steps back refills nothing
    b.tokens = Math.min(b.rate, b.tokens + (elapsed * b.rate) / 60_000);
    b.at = Math.max(b.at, now);
    return b;
  }

  private secondsUntilToken(b: Bucket): number {
    // The epsilon keeps float noise (0.05 tokens → 1.0000000000000009 s) from adding a second.
    return Math.max(1, Math.ceil(((1 - b.tokens) * 60) / b.rate - 1e-9));
  }

  private evict(now: number, keep: string): void {
    // Look at the oldest few only, so a flood of new ids costs O(1) per request, not a full scan.
    let looked = 0;
    for (const [id, b] of this.buckets) {
      if (this.buckets.size <= this.maxBuckets || looked++ >= EVICTION_SCAN) break;
      if (id === keep) continue;
      const tokens = Math.min(b.rate, b.tokens + (Math.max(0, now - b.at) * b.rate) / 60_000);
      if (tokens >= b.rate) this.buckets.delete(id);
    }
    // Still too many and all busy: drop the least recently used (bounded memory beats exact limits).
    for (const id of this.buckets.keys()) {
      if (this.buckets.size <= this.maxBuckets) return;
      if (id !== keep) this.buckets.delete(id);
    }
  }
}
