/**
 * Token buckets in Postgres, shared by every replica: the per-key request limits of `ragtune
 * serve` hold for the whole fleet instead of per process (N replicas would otherwise allow N × the
 * limit). Same bucket shape as serve/rate-limit.ts (a minute's allowance, refilled continuously);
 * time is the database's clock, so replicas whose clocks disagree still share one bucket.
 *
 * One `take` is one upsert holding the bucket's row lock: concurrent requests of one key on
 * several replicas are counted one after another, never both granted from the same token.
 */
import type { SqlDatabase } from "./executor.ts";

const SCHEMA_LOCK_KEY = 4242017;

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export class AsyncRateBuckets {
  constructor(private readonly db: SqlDatabase) {}

  async take(id: string, ratePerMinute: number): Promise<TakeResult> {
    if (!(ratePerMinute > 0) || !Number.isFinite(ratePerMinute)) throw new Error(`rate must be a positive number a minute, got ${ratePerMinute}`);
    // One statement, so one round trip: a new bucket starts full and spends one; an existing one is
    // refilled for the time since it was last touched (capped at the current rate: a changed limit
    // applies at once; a clock that steps back refills nothing), then spends one if it can. The
    // upsert holds the row lock, so concurrent takes on several replicas are counted in turn.
    const refilled = "LEAST($2, LEAST(b.tokens, $2) + GREATEST(0, EXTRACT(EPOCH FROM now() - b.at)) * $2 / 60.0)";
    const { rows } = await this.db.query<{ tokens: number; granted: boolean }>(
      `INSERT INTO rate_buckets AS b (id, tokens, at, rate, granted) VALUES ($1, $2 - 1, now(), $2, true)
       ON CONFLICT (id) DO UPDATE SET
         granted = ${refilled} >= 1,
         tokens = CASE WHEN ${refilled} >= 1 THEN ${refilled} - 1 ELSE ${refilled} END,
         at = GREATEST(b.at, now()),
         rate = $2
       RETURNING tokens, granted`,
      [id, ratePerMinute],
    );
    const { tokens, granted } = rows[0];
    // The epsilon keeps float noise from adding a second (as serve/rate-limit.ts).
    return granted ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - Number(tokens)) * 60) / ratePerMinute - 1e-9)) };
  }

  /** Forget buckets idle long enough to be full again (a day at the slowest rate allowed): bounded table. */
  async prune(olderThanSeconds = 86_400): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>("WITH d AS (DELETE FROM rate_buckets WHERE at < clock_timestamp() - make_interval(secs => $1) RETURNING 1) SELECT count(*) AS n FROM d", [olderThanSeconds]);
    return Number(rows[0]?.n ?? 0);
  }
}

/** The host's entry (host.ts): create the table on first use. */
export async function openService(db: SqlDatabase): Promise<AsyncRateBuckets> {
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK_KEY]);
    await tx.query(
      "CREATE TABLE IF NOT EXISTS rate_buckets (id TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at TIMESTAMPTZ NOT NULL, rate DOUBLE PRECISION NOT NULL, granted BOOLEAN NOT NULL)",
    );
  });
  return new AsyncRateBuckets(db);
}
