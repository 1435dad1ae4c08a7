/**
 * Debian's redis-server on a free loopback port in a temp folder, for the queue tests and bench
 * (no persistence: `--save "" --appendonly no`). `redisUnavailable()` says why a test must skip.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasRedisClient } from "../../src/evaluate/queue/jobs.ts";

export const REDIS_SERVER = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

export async function redisUnavailable(): Promise<string | undefined> {
  if (!existsSync(REDIS_SERVER) && spawnSync("redis-server", ["--version"]).status !== 0) return `redis-server not found (${REDIS_SERVER}); install Debian's redis-server`;
  if (!(await hasRedisClient())) return "the 'ioredis' package is not installed (bullmq 6 needs it as a peer dependency): npm install ioredis";
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-redis-"));
  const port = await freePort();
  const bin = existsSync(REDIS_SERVER) ? REDIS_SERVER : "redis-server";
  const child: ChildProcess = spawn(bin, ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, "127.0.0.1", () => (sock.end(), resolve(true)));
      sock.on("error", () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
