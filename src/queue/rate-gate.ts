/**
 * Per-provider rate limits across queue workers: the token bucket of models/resilience.ts
 * (capacity one second's worth, at least 1; refill perMinute / 60 000 per ms; a call bigger than
 * the bucket waits for a full one and leaves it in debt) kept in one Redis hash per key and
 * bucket, updated atomically by a Lua script that reads Redis's own clock (TIME), so workers on
 * machines with skewed clocks still share one budget. The script either takes the amount (returns
 * 0) or returns how long to wait; the caller sleeps and asks again.
 */
import type { RedisClient } from "./redis.ts";
import type { DistributedRateGate } from "../models/resilience.ts";

const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local need = math.min(amount, cap)
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or cap)
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or now)
level = math.min(cap, level + math.max(0, now - updated) * rate)
local wait = 0
if level >= need then
  level = level - amount
else
  wait = math.ceil((need - level) / rate)
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return wait
`;

export const RATE_PREFIX = "ragtune:rate:";

export class RedisRateGate implements DistributedRateGate {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = RATE_PREFIX,
  ) {
    redis.defineCommand("ragtuneTakeTokens", { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, name: "requests" | "tokens", amount: number, perMinute: number, signal?: AbortSignal): Promise<void> {
    const perMs = perMinute / 60_000;
    const capacity = Math.max(1, perMinute / 60);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const wait = Number(await (this.redis as unknown as { ragtuneTakeTokens(k: string, ...a: (string | number)[]): Promise<number> }).ragtuneTakeTokens(`${this.prefix}${key}:${name}`, perMs, capacity, amount));
      if (wait <= 0) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, wait);
        signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
      });
    }
  }
}
