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

export interface PostgresHostInit {
  url: string;
  /** Connections in the worker's pool (default 2: calls arrive one at a time). */
  poolSize?: number;
  connectTimeoutMs?: number;
}

/** What a service module exports: open (creating tables on first use) and return async methods. */
export type OpenService = (db: SqlDatabase, options: Record<string, unknown> & { server: string }) => Promise<object>;

/**
 * The services a host can open, by name. Adding one means one module exporting `openService`
 * and one line here (imported on first use, so a process pays only for what it touches).
 */
const SERVICES: Record<string, () => Promise<{ openService: OpenService }>> = {
  store: () => import("./store.ts"),
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
  const opened = new Map<string, Promise<Record<string, unknown>>>();
  const service = (name: string, options: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    let s = opened.get(name);
    if (!s) {
      const load = SERVICES[name];
      if (!load) return Promise.reject(new Error(`no Postgres service named ${name}; known: ${serviceNames().join(", ")}`));
      s = load().then((m) => m.openService(db, { ...options, server }) as Promise<Record<string, unknown>>);
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
    const impl = await service(name);
    const f = impl[fn];
    if (typeof f !== "function") throw new Error(`the Postgres service ${name} has no method ${fn}`);
    return (f as (...a: unknown[]) => unknown).apply(impl, args);
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
          await pool.end().catch(() => undefined);
        };
      }
      if (prop === "then") return undefined; // not a thenable: `await open()` must resolve to this object
      return (...args: unknown[]) => dispatch(prop, args);
    },
  });
}
