/**
 * One Postgres connection per process (per thread) and URL, shared by every service kept on
 * Postgres (host.ts lists them): the index, vectors, the model registry, index versions, the
 * request log, API keys. Each `acquire` counts a user and `release` drops one; the worker (and
 * its pool) stops with the last.
 *
 * Reconnects on its own: a call that gets no answer in time stops the worker (bridge.ts: a late
 * reply must not be taken for the next call's) and fails; the next call starts a new worker,
 * which reconnects, and re-opens the services that were opened with options. A server that is
 * down makes that call fail with the server's message, and the one after tries again.
 */
import { SyncWorkerBridge, type BridgeOptions } from "./bridge.ts";
import { newGenerationCells, readGeneration } from "./generation.ts";
import { serverLabel, type PostgresHostInit } from "./host.ts";

const HOST = new URL("./host.ts", import.meta.url);

export type ConnectionOptions = BridgeOptions & Omit<PostgresHostInit, "url" | "generation">;

const shared = new Map<string, PostgresConnection>();

export class PostgresConnection {
  /** `host:port/database`, for messages (never the password). */
  readonly server: string;
  private bridge: SyncWorkerBridge | undefined;
  private users = 0;
  private readonly serviceOptions = new Map<string, Record<string, unknown>>();
  /** Workers started after the first (a timed-out worker replaced). */
  reconnects = 0;
  /** Kept current by the worker's LISTEN connection (generation.ts); a new worker starts invalid. */
  private generationCells = newGenerationCells();

  private constructor(
    readonly url: string,
    private readonly options: ConnectionOptions,
    private readonly key: string,
  ) {
    this.server = serverLabel(url);
  }

  /**
   * The shared connection for this URL and options, connecting on first use (throws the
   * server's message when it cannot). Pair each acquire with one `release`.
   */
  static acquire(url: string, options: ConnectionOptions = {}): PostgresConnection {
    const key = JSON.stringify([url, options.poolSize ?? null, options.connectTimeoutMs ?? null, options.timeoutMs ?? null, options.startTimeoutMs ?? null]);
    let c = shared.get(key);
    if (!c) {
      c = new PostgresConnection(url, options, key);
      c.connect();
      shared.set(key, c);
    }
    c.users++;
    return c;
  }

  private connect(): SyncWorkerBridge {
    const { timeoutMs, startTimeoutMs, ...init } = this.options;
    this.generationCells = newGenerationCells();
    const bridge = new SyncWorkerBridge(HOST, { url: this.url, ...init, generation: this.generationCells } satisfies PostgresHostInit, { timeoutMs, startTimeoutMs });
    try {
      for (const [name, opts] of this.serviceOptions) bridge.call(`${name}.__open`, [opts]);
    } catch (err) {
      bridge.close();
      throw err;
    }
    this.bridge = bridge;
    return bridge;
  }

  /**
   * Open a service with options before its first call (it is opened with none otherwise); the
   * options are replayed after a reconnect. Returns what the service's `describe` says, if it has one.
   */
  openService(name: string, options: Record<string, unknown> = {}): void {
    this.serviceOptions.set(name, options);
    this.call(`${name}.__open`, [options]);
  }

  /** Run `<service>.<method>(...args)` in the worker and return its (structured-cloned) result. */
  call<T = unknown>(method: string, args: unknown[] = [], timeoutMs?: number): T {
    if (this.users < 0) throw new Error(`the Postgres connection to ${this.server} is closed (call ${method})`);
    let bridge = this.bridge;
    if (!bridge || bridge.failed) {
      this.bridge = undefined;
      bridge = this.connect();
      this.reconnects++;
    }
    return bridge.call<T>(method, args, timeoutMs);
  }

  /**
   * The index generation as the worker's listener last saw it (no round trip), or undefined while
   * it is not connected, when a query must answer.
   */
  knownGeneration(): number | undefined {
    if (!this.bridge || this.bridge.failed) return undefined;
    return readGeneration(this.generationCells);
  }

  /** Drop one user; the last one stops the worker. */
  release(): void {
    if (this.users <= 0) return;
    if (--this.users > 0) return;
    this.users = -1;
    if (shared.get(this.key) === this) shared.delete(this.key);
    this.bridge?.close();
    this.bridge = undefined;
  }
}
