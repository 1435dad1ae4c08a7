/**
 * The Redis side shared by every queue of ragtune (evaluate/queue/ for eval cases, ingest/queue/
 * for parse and embed jobs): the `--queue` URL check, the optional ioredis import with its clear
 * exit-2 error, and the few client calls ragtune makes itself.
 */
import { InputError } from "../util/errors.ts";

/** Check a `--queue` URL early (exit 2 on a typo rather than a reconnect loop). */
export function checkQueueUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`--queue: not a URL: '${url}' (expected redis://host:port)`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new InputError(`--queue: expected a redis:// or rediss:// URL, got '${url}'`);
  }
  return url;
}

/**
 * The few ioredis calls ragtune makes itself (bullmq makes the rest through the same instance).
 * Typed here because ioredis is bullmq's optional peer dependency, loaded only when --queue is used.
 */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ...args: (string | number)[]): Promise<unknown>;
  mget(...keys: string[]): Promise<(string | null)[]>;
  scan(cursor: string, ...args: (string | number)[]): Promise<[string, string[]]>;
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  disconnect(): void;
  duplicate(): RedisClient;
  connect(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

// A variable, so the type checker and the CLI's startup do not need the package.
const IOREDIS = "ioredis";

/** A connection as bullmq wants it (no per-request retry limit: blocking commands wait). */
export async function connect(url: string): Promise<RedisClient> {
  checkQueueUrl(url);
  let mod: { Redis: new (url: string, options: object) => RedisClient };
  try {
    mod = await import(IOREDIS);
  } catch {
    throw new InputError("--queue needs the 'ioredis' package, which bullmq 6 no longer installs: npm install ioredis");
  }
  return new mod.Redis(url, { maxRetriesPerRequest: null });
}

/** Whether ioredis can be loaded (tests skip without it). */
export async function hasRedisClient(): Promise<boolean> {
  try {
    await import(IOREDIS);
    return true;
  } catch {
    return false;
  }
}
