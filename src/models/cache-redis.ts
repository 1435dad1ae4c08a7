/**
 * The response cache in Redis, shared by every queue worker (evaluate/queue/). Same key
 * (`cacheKey`) and same entry as the disk cache (models/cache.ts), one string per entry under
 * `<prefix><key>`. CachedProvider awaits `set` right after the provider answers, so a worker
 * killed after the call but before its job completes leaves the answer here, and the retried job
 * reads it instead of paying for the call again. A Redis error on `get` is a miss (the call is
 * made); on `set` it is thrown, failing the job (retried), rather than silently losing the
 * guarantee.
 */
import type { RedisClient } from "../queue/redis.ts";
import { cacheKey, entryFor, parseEntry, type CacheKeyInput, type CacheStats, type ResponseCacheBackend } from "./cache.ts";
import type { ChatResult } from "./index.ts";

export const REDIS_CACHE_PREFIX = "ragtune:cache:";

export class RedisResponseCache implements ResponseCacheBackend {
  private readonly counts: CacheStats = { hits: 0, misses: 0, writes: 0 };

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = REDIS_CACHE_PREFIX,
  ) {}

  async get(input: CacheKeyInput): Promise<ChatResult | undefined> {
    const key = cacheKey(input);
    let raw: string | null = null;
    try {
      raw = await this.redis.get(this.prefix + key);
    } catch {
      raw = null;
    }
    const result = raw === null ? undefined : parseEntry(raw, key);
    if (result) this.counts.hits++;
    else this.counts.misses++;
    return result;
  }

  async set(input: CacheKeyInput, result: ChatResult): Promise<void> {
    const entry = entryFor(input, result);
    await this.redis.set(this.prefix + entry.key, JSON.stringify(entry));
    this.counts.writes++;
  }

  stats(): CacheStats {
    return { ...this.counts };
  }

  /** Entries in Redis under the prefix (SCAN; for `cache stats` and tests). */
  async size(): Promise<number> {
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${this.prefix}*`, "COUNT", 1000);
      n += keys.length;
      cursor = next;
    } while (cursor !== "0");
    return n;
  }
}
