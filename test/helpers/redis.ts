/**
 * A private Redis for tests: Debian's `redis-server` on a random loopback port, in its own temp
 * folder, stopped by the test. Nothing is shared with other tests or with a Redis the machine
 * may run. Tests that need it skip when the binary is absent:
 *
 * ```ts
 * import { redisSkipReason, startRedis } from "./helpers/redis.ts";
 * test("…", { skip: redisSkipReason() }, async (t) => {
 *   const redis = await startRedis();           // { url, host, port, dir }
 *   t.after(() => redis.stop());
 *   …
 *   await redis.restart();                       // SIGKILL, then the same port and folder again
 * });
 * ```
 *
 * The API is these four names (plus `loadIORedis`); keep it small, other tests build on it.
 *
 * Persistence: off by default (`--save "" --appendonly no`): a restart then starts EMPTY, like a
 * Redis that lost its memory. `startRedis({ appendOnly: true })` turns on the append-only file with
 * `appendfsync always`, the configuration bullmq asks for in production: every acknowledged write
 * is on disk before the reply, so even a `SIGKILL` restart keeps every job.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REDIS_SERVER = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p));

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` — what `--queue` takes. */
  url: string;
  host: string;
  port: number;
  /** The server's working folder (the append-only file lives here), removed by stop(). */
  dir: string;
  /**
   * Kills the server (`SIGKILL` by default: a crash, nothing flushed beyond what the
   * persistence mode guarantees; `SIGTERM` for an orderly shutdown), waits `downMs` (default
   * 300) with the port closed, then starts it again on the same port and folder and waits until
   * it answers PING. Clients see their connections drop and must reconnect on their own.
   */
  restart(opts?: { signal?: NodeJS.Signals; downMs?: number }): Promise<void>;
  /** Kills the server and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Append-only file with fsync on every write, so data survives a kill (default false). */
  appendOnly?: boolean;
}

/** Why a Redis test cannot run here, or undefined when it can (for `test(…, { skip })`). */
export function redisSkipReason(): string | undefined {
  return REDIS_SERVER ? undefined : "redis-server not installed (Debian package redis-server; .ci/run installs it)";
}

/** As `redisSkipReason`, and the ioredis client that bullmq 6 needs as a peer (the eval queue's tests). */
export function redisQueueSkipReason(): string | undefined {
  return redisSkipReason() ?? (loadIORedis() ? undefined : "the 'ioredis' package is not installed (bullmq 6 needs it as a peer dependency): npm install ioredis");
}

/**
 * The ioredis constructor, or undefined when the package is not installed. bullmq 6 no longer
 * depends on ioredis (it is an optional peer) and its ESM build cannot load it by itself, so
 * tests pass it an instance: `new Queue(name, { connection: new IORedis(url, { maxRetriesPerRequest: null }) })`.
 * Resolved like `require` (NODE_PATH included).
 */
export function loadIORedis(): (new (url: string, opts?: Record<string, unknown>) => any) | undefined {
  try {
    const mod = createRequire(import.meta.url)("ioredis");
    return mod.default ?? mod.Redis ?? mod;
  } catch {
    return undefined;
  }
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error(redisSkipReason());
  const host = "127.0.0.1";
  const port = await freePort(host);
  const dir = mkdtempSync(join(tmpdir(), "ragtune-redis-"));
  const args = [
    "--port", String(port), "--bind", host, "--dir", dir,
    "--save", "",
    "--appendonly", opts.appendOnly ? "yes" : "no",
    ...(opts.appendOnly ? ["--appendfsync", "always"] : []),
    "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
    "--logfile", join(dir, "redis.log"),
  ];
  let child: ChildProcess | undefined;
  let stopped = false;

  async function launch(): Promise<void> {
    const proc = spawn(REDIS_SERVER!, args, { stdio: "ignore" });
    child = proc;
    let exited: string | undefined;
    proc.once("exit", (code, signal) => { exited = `exited (${signal ?? code})`; });
    const deadline = Date.now() + 10_000;
    while (!(await ping(host, port))) {
      if (exited) throw new Error(`redis-server on port ${port} ${exited}; see ${join(dir, "redis.log")}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      await sleep(50);
    }
  }

  async function kill(signal: NodeJS.Signals): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    await gone;
  }

  await launch();
  return {
    url: `redis://${host}:${port}`,
    host,
    port,
    dir,
    async restart({ signal = "SIGKILL", downMs = 300 } = {}) {
      if (stopped) throw new Error("restart() after stop()");
      await kill(signal);
      await sleep(downMs);
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A port the OS says is free now (the small race with another process is acceptable in tests). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** True when a Redis answers `PING` with `+PONG` on host:port (raw RESP: no client library needed). */
function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let buf = "";
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
