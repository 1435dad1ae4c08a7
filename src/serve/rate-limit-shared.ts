/**
 * Per-key request limits shared by every replica of a Postgres project (store/postgres/rate-buckets.ts):
 * a key allowed R a minute gets R across the fleet, not R per replica. Costs one round trip per
 * authenticated request. While the database is unreachable, each replica falls back to its own
 * in-memory buckets (serve/rate-limit.ts), so limits loosen to per-replica for the outage instead
 * of every request failing.
 */
import type { PostgresConnection } from "../store/postgres/connection.ts";
import { isConnectionLoss } from "../store/postgres/errors.ts";
import { PostgresKeyStore } from "./keys-postgres.ts";
import { RateLimiter, type TakeResult } from "./rate-limit.ts";

/** What the key authorizer spends from (serve/auth.ts): the in-memory limiter or this one. */
export type KeyLimiter = Pick<RateLimiter, "take">;

export class SharedRateLimiter implements KeyLimiter {
  private readonly local: RateLimiter;
  /** Takes answered by the local fallback because the database was unreachable. */
  fallbacks = 0;

  constructor(
    private readonly connection: PostgresConnection,
    readonly ratePerMinute: number,
  ) {
    this.local = new RateLimiter({ ratePerMinute });
    connection.openService("rate");
  }

  take(id: string, now: number, ratePerMinute = this.ratePerMinute): TakeResult {
    try {
      return this.connection.call<TakeResult>("rate.take", [`key:${id}`, ratePerMinute]);
    } catch (err) {
      if (!isConnectionLoss(err)) throw err;
      this.fallbacks++;
      return this.local.take(id, now, ratePerMinute);
    }
  }
}

/** The limiter for a key store: shared buckets when the keys are in Postgres, in-memory ones otherwise. */
export function keyLimiterFor(keys: object, ratePerMinute: number): KeyLimiter {
  return keys instanceof PostgresKeyStore ? new SharedRateLimiter(keys.connection, ratePerMinute) : new RateLimiter({ ratePerMinute });
}
