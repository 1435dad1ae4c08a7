/**
 * Content-addressed on-disk cache of model responses, so a rerun (or a resumed run, or a second
 * report over the same cases) costs nothing for calls already made.
 *
 * Key: sha256 of the canonical JSON (sorted keys) of everything that decides the reply — provider
 * id, model, temperature, maxTokens, json, jsonSchema, seed, sample (the `--repeats` index) and the
 * messages. Streaming, callbacks, signals and limits are not part of it: they do not change the
 * reply. Entry: `<dir>/<first 2 hex>/<hash>.json`, written atomically; a corrupt or foreign entry
 * is a miss and is overwritten by the next write, never a crash.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "./index.ts";

/** Format version of entries; bump to invalidate every entry after a change of key or content. */
const ENTRY_VERSION = 1;

export interface CacheKeyInput {
  provider: string;
  model: string;
  messages: ChatMessage[];
  options?: ChatOptions;
}

export interface CacheStats {
  hits: number;
  misses: number;
  writes: number;
}

interface Entry {
  version: number;
  key: string;
  request: unknown;
  result: Pick<ChatResult, "text" | "usage" | "model" | "finishReason">;
  createdAt: string;
}

/** JSON with object keys sorted at every level and undefined values left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/**
 * What a key is made of. Defaults are filled in (temperature 0, json false, sample 0) so a call
 * that leaves an option out and one that passes its default share an entry.
 */
export function cacheKeyMaterial(input: CacheKeyInput): Record<string, unknown> {
  const o = input.options ?? {};
  return {
    provider: input.provider,
    model: input.model,
    temperature: o.temperature ?? 0,
    maxTokens: o.maxTokens ?? null,
    json: o.json ?? false,
    jsonSchema: o.jsonSchema ?? null,
    seed: o.seed ?? null,
    sample: o.sample ?? 0,
    messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
  };
}

export function cacheKey(input: CacheKeyInput): string {
  return createHash("sha256").update(canonicalJson(cacheKeyMaterial(input))).digest("hex");
}

/**
 * Where cached responses live: the disk (ResponseCache, below) or a shared store every worker
 * reads (models/cache-redis.ts). Both key entries by `cacheKey` and store the same Entry.
 */
export interface ResponseCacheBackend {
  get(input: CacheKeyInput): ChatResult | undefined | Promise<ChatResult | undefined>;
  set(input: CacheKeyInput, result: ChatResult): void | Promise<void>;
  stats(): CacheStats;
}

/** The stored form of an entry (shared by every backend). */
export function entryFor(input: CacheKeyInput, result: ChatResult): Entry {
  const key = cacheKey(input);
  const stored: Entry["result"] = { text: result.text, usage: { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens }, model: result.model };
  if (result.finishReason !== undefined) stored.finishReason = result.finishReason;
  return { version: ENTRY_VERSION, key, request: cacheKeyMaterial(input), result: stored, createdAt: new Date().toISOString() };
}

/** Parse a stored entry; undefined when corrupt, of another format version or of another key (a miss). */
export function parseEntry(raw: string, key: string): ChatResult | undefined {
  try {
    const entry = JSON.parse(raw) as Entry;
    const r = entry?.result;
    const valid =
      entry.version === ENTRY_VERSION &&
      entry.key === key &&
      typeof r?.text === "string" &&
      typeof r.model === "string" &&
      typeof r.usage?.inputTokens === "number" &&
      typeof r.usage?.outputTokens === "number";
    if (!valid) return undefined;
    const result: ChatResult = { text: r.text, usage: { ...r.usage }, model: r.model };
    if (r.finishReason !== undefined) result.finishReason = r.finishReason;
    return result;
  } catch {
    return undefined;
  }
}

export class ResponseCache implements ResponseCacheBackend {
  readonly dir: string;
  private readonly counts: CacheStats = { hits: 0, misses: 0, writes: 0 };

  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The stored result, or undefined (a miss) when absent or unreadable. */
  get(input: CacheKeyInput): ChatResult | undefined {
    const key = cacheKey(input);
    let result: ChatResult | undefined;
    try {
      result = parseEntry(readFileSync(this.pathOf(key), "utf8"), key);
    } catch {
      result = undefined;
    }
    if (result) this.counts.hits++;
    else this.counts.misses++;
    return result;
  }

  set(input: CacheKeyInput, result: ChatResult): void {
    const entry = entryFor(input, result);
    writeFileAtomic(this.pathOf(entry.key), `${JSON.stringify(entry)}\n`);
    this.counts.writes++;
  }

  stats(): CacheStats {
    return { ...this.counts };
  }

  /** Delete every entry under `dir` (the folder itself goes too). */
  static clear(dir: string): { entries: number; bytes: number } {
    const before = ResponseCache.size(dir);
    rmSync(dir, { recursive: true, force: true });
    return before;
  }

  /** Entries and bytes on disk under `dir` (0/0 when it does not exist). */
  static size(dir: string): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    if (!existsSync(dir)) return { entries, bytes };
    for (const shard of readdirSync(dir, { withFileTypes: true })) {
      if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) continue;
      for (const file of readdirSync(join(dir, shard.name), { withFileTypes: true })) {
        if (!file.isFile() || !/^[0-9a-f]{64}\.json$/.test(file.name)) continue;
        entries++;
        bytes += statSync(join(dir, shard.name, file.name)).size;
      }
    }
    return { entries, bytes };
  }
}

export interface CachedProviderOptions {
  /** Model name for the key; default the inner provider's `model`, else its id. */
  model?: string;
}

/**
 * A ChatProvider that answers from the cache when it can. A hit returns the recorded result with
 * `cached: true` (usage as recorded, so projections still price it); with `onText` set, a hit
 * delivers the whole text in one call. Errors are never cached.
 */
export class CachedProvider implements ChatProvider {
  readonly id: string;
  readonly inner: ChatProvider;
  readonly cache: ResponseCacheBackend;
  private readonly model: string;

  constructor(inner: ChatProvider, cache: ResponseCacheBackend, options: CachedProviderOptions = {}) {
    this.inner = inner;
    this.cache = cache;
    this.id = inner.id;
    this.model = options.model ?? (inner as { model?: string }).model ?? inner.id;
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const input: CacheKeyInput = { provider: this.inner.id, model: this.model, messages, options };
    const hit = await this.cache.get(input);
    if (hit) {
      options.onText?.(hit.text);
      return { ...hit, cached: true };
    }
    const result = await this.inner.chat(messages, options);
    // Awaited: with a shared backend the answer is stored before the caller can finish (or die
    // after) the job that asked, so a retried job finds it instead of paying again.
    await this.cache.set(input, result);
    return { ...result, cached: false };
  }
}
