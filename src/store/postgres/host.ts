/**
 * The worker side of one Postgres connection (connection.ts): one `pg` pool per worker thread,
 * shared by every service a process keeps on Postgres — the index (store.ts), its vectors, the
 * model registry, index versions, the request log, API keys. Each service is a module whose
 * `openService(db, options)` resolves to an object of async methods; it is opened on its first
 * call (which creates its tables) and addressed as `"<service>.<method>"` over the bridge.
 *
 * One worker rather than one per service: a worker thread with its loader costs tens of MB and a
 * few hundred ms to start, and calls are serial anyway (the caller blocks on each).
 */
import pg from "pg";
import { pgDatabase, type SqlDatabase } from "./executor.ts";
import { isConnectionLoss } from "./errors.ts";
import { GenerationSlot, listenForGenerations, type GenerationCells } from "./generation.ts";

export interface PostgresHostInit {
  url: string;
  /** Connections in the worker's pool (default 2: calls arrive one at a time). */
  poolSize?: number;
  connectTimeoutMs?: number;
  /** How long a read rides out a lost connection, retrying (default 15 000 ms; 0 = never retry). */
  retryForMs?: number;
  /** Memory shared with the calling thread where the index generation is kept current (generation.ts). */
  generation?: GenerationCells;
}

/** What every service is opened with, besides its own options. */
export interface ServiceContext {
  /** `host:port/database`, for messages. */
  server: string;
  /** Tell it the generation a commit moved to (the store does). */
  generation: Pick<GenerationSlot, "committed">;
}

/**
 * What a service module exports: `openService` (creating tables on first use) returning async
 * methods, and optionally `retryable`, the methods that only read: a call of one that fails
 * because the connection was lost (the server restarted, a failover) is retried with back-off for
 * up to `retryForMs`, so a replica rides out a restart instead of failing requests. Writes are
 * not retried: a lost COMMIT is ambiguous, and an ingest reruns cleanly instead.
 */
export type OpenService = (db: SqlDatabase, options: Record<string, unknown> & ServiceContext) => Promise<object>;

/**
 * The services a host can open, by name. Adding one means one module exporting `openService`
 * and one line here (imported on first use, so a process pays only for what it touches).
 */
const SERVICES: Record<string, () => Promise<{ openService: OpenService; retryable?: readonly string[] }>> = {
  store: () => import("./store.ts"),
  vectors: () => import("./vectors-service.ts"),
  requests: () => import("./requests.ts"),
  keys: () => import("./keys.ts"),
  rate: () => import("./rate-buckets.ts"),
  registry: () => import("./registry.ts"),
  versions: () => import("./versions.ts"),
};

export function serviceNames(): string[] {
  return Object.keys(SERVICES);
}

/** `postgres://user:secret@host:5432/db` → `host:5432/db`, for messages. */
export function serverLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return "the Postgres server";
  }
}

/** The bridge's entry (bridge.ts calls `open(init)` in the worker). */
export async function open(init: PostgresHostInit): Promise<Record<string, unknown>> {
  const pool = new pg.Pool({ connectionString: init.url, max: init.poolSize ?? 2, connectionTimeoutMillis: init.connectTimeoutMs ?? 10_000 });
  // An idle connection dropped by the server is an error on the pool, not a crash: the next query reconnects.
  pool.on("error", () => undefined);
  const db = pgDatabase(pool);
  try {
    // Fail at open, with the server's message, rather than on the first service call.
    await db.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const server = serverLabel(init.url);
  const slot = new GenerationSlot(init.generation ?? new BigInt64Array(new SharedArrayBuffer(16)));
  const stopListening = listenForGenerations(init.url, slot, init.connectTimeoutMs ?? 10_000);
  const opened = new Map<string, Promise<Record<string, unknown>>>();
  const retryable = new Map<string, ReadonlySet<string>>();
  const retryForMs = init.retryForMs ?? 15_000;
  const service = (name: string, options: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    let s = opened.get(name);
    if (!s) {
      const load = SERVICES[name];
      if (!load) return Promise.reject(new Error(`no Postgres service named ${name}; known: ${serviceNames().join(", ")}`));
      s = load().then((m) => {
        retryable.set(name, new Set(m.retryable ?? []));
        return m.openService(db, { ...options, server, generation: slot }) as Promise<Record<string, unknown>>;
      });
      opened.set(name, s);
      // A failed open is retried by the next call (the server may be back).
      s.catch(() => opened.delete(name));
    }
    return s;
  };
  const dispatch = async (method: string, args: unknown[]): Promise<unknown> => {
    const dot = method.indexOf(".");
    if (dot <= 0) throw new Error(`a Postgres host call is "<service>.<method>", got ${method}`);
    const name = method.slice(0, dot);
    const fn = method.slice(dot + 1);
    if (fn === "__open") {
      await service(name, (args[0] as Record<string, unknown> | undefined) ?? {});
      return true;
    }
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const impl = await service(name);
        const f = impl[fn];
        if (typeof f !== "function") throw new Error(`the Postgres service ${name} has no method ${fn}`);
        return await (f as (...a: unknown[]) => unknown).apply(impl, args);
      } catch (err) {
        const waited = Date.now() - started;
        if (!retryable.get(name)?.has(fn) || !isConnectionLoss(err) || waited >= retryForMs) {
          if (waited > 0 && isConnectionLoss(err) && retryable.get(name)?.has(fn)) {
            throw new Error(`${(err as Error).message} (${server}: still unreachable after ${Math.round(waited / 1000)} s of retries)`);
          }
          throw err;
        }
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000, Math.max(10, retryForMs - waited))));
      }
    }
  };
  return new Proxy({} as Record<string, unknown>, {
    get(_target, prop) {
      if (typeof prop !== "string") return undefined;
      if (prop === "close") {
        return async () => {
          for (const s of opened.values()) {
            const impl = await s.catch(() => undefined);
            if (impl && typeof impl.close === "function") await (impl.close as () => Promise<void>)().catch(() => undefined);
          }
          await stopListening();
          await pool.end().catch(() => undefined);
        };
      }
      if (prop === "then") return undefined; // not a thenable: `await open()` must resolve to this object
      return (...args: unknown[]) => dispatch(prop, args);
    },
  });
}
