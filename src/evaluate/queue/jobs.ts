/**
 * What travels through the queue: one bullmq job per (case, variant, repeat) of a run, with a
 * deterministic id, so adding it again (a resumed coordinator) is a no-op that finds the job as
 * it is (waiting, running, or finished with its result kept in Redis).
 */
import type { CaseTask } from "../runner.ts";
import { InputError } from "../../util/errors.ts";

export const DEFAULT_QUEUE_NAME = "ragtune-eval";

/** The job's data: where the run lives (a filesystem every worker sees) and which task. */
export interface CaseJobData extends CaseTask {
  runId: string;
  runDir: string;
  /** Project root: relative paths of the run's config resolve from it. */
  root: string;
  allowSelfJudge: boolean;
  /** `--no-cache` on the coordinator: workers bypass the shared cache too. */
  noCache: boolean;
}

/** `<runId>|<variant>|<repeat>|<caseId, URI-encoded>` — bullmq refuses ':' in ids, encoding removes it. */
export function caseJobId(runId: string, task: CaseTask): string {
  return `${encodeURIComponent(runId)}|${task.variant}|${task.repeat}|${encodeURIComponent(task.caseId)}`;
}

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
  set(key: string, value: string): Promise<unknown>;
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
