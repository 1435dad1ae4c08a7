/**
 * The tiny SQL interface the Postgres code is written against, so the same SQL runs on node `pg`
 * (a real server) and on `@electric-sql/pglite` (in-process, for tests that need an extension
 * Debian's server lacks, such as pgvector).
 */
import type pg from "pg";

export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export type Isolation = "read committed" | "repeatable read" | "serializable";

export interface SqlDatabase extends SqlExecutor {
  /** Run `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: { isolation?: Isolation; readOnly?: boolean }): Promise<T>;
  close(): Promise<void>;
}

function begin(options: { isolation?: Isolation; readOnly?: boolean } | undefined): string {
  return `BEGIN ISOLATION LEVEL ${(options?.isolation ?? "read committed").toUpperCase()}${options?.readOnly ? " READ ONLY" : ""}`;
}

/** A node `pg` pool as a SqlDatabase (each transaction checks out one client). */
export function pgDatabase(pool: pg.Pool): SqlDatabase {
  return {
    query: (text, params) => pool.query(text, params as unknown[]) as never,
    async transaction(fn, options) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(begin(options));
        const result = await fn({ query: (text, params) => client.query(text, params as unknown[]) as never });
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          // The connection itself failed: do not return it to the pool.
          broken = rollbackError as Error;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** Structural type of the PGlite members used here (keeps pglite a dev-only dependency). */
export interface PgliteLike extends SqlExecutor {
  exec(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * A PGlite instance as a SqlDatabase. PGlite is one connection, so transactions are serialised
 * here (its own `transaction()` would deadlock on a nested query through the outer handle).
 */
export function pgliteDatabase(db: PgliteLike): SqlDatabase {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    query: (text, params) => db.query(text, params),
    transaction(fn, options) {
      const run = async () => {
        await db.query(begin(options));
        try {
          const result = await fn(db);
          await db.query("COMMIT");
          return result;
        } catch (err) {
          await db.query("ROLLBACK");
          throw err;
        }
      };
      const next = tail.then(run, run);
      tail = next.catch(() => undefined);
      return next;
    },
    close: () => db.close(),
  };
}
