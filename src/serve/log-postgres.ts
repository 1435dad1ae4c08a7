/**
 * The request log on Postgres behind the synchronous `RequestLogStore` contract (log.ts): each
 * method is one blocking call to the "requests" service (store/postgres/requests.ts) over the
 * process's shared Postgres connection. Redaction runs here, before a text leaves the process.
 *
 * `record` waits at most RECORD_TIMEOUT_MS, the SQLite log's busy_timeout: a server that does not
 * answer makes the write fail (serve logs and counts it, the answer is still sent) instead of
 * holding the event loop for the connection's default two minutes.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { PostgresConnection } from "../store/postgres/connection.ts";
import type { RawLabelRow } from "../store/postgres/requests.ts";
import { RequestLog, redactFeedback, type Feedback, type MonitoredOptions, type MonitoredRequest, type RequestLogStore, type RawRequestRow, type RequestRow, type StoredRequest } from "./log.ts";

/** Longest a request waits for its log row to be written (SQLite's busy_timeout is the same 2 s). */
export const RECORD_TIMEOUT_MS = 2_000;

export class PostgresRequestLog implements RequestLogStore {
  readonly location: string;
  private closed = false;

  /**
   * @param create a writer (serve) creates the tables; a reader on a database without them throws
   *   `missing` (the caller turns it into its "no request log" error).
   * @param release called once on close (drops the caller's use of the shared connection).
   */
  constructor(
    private readonly connection: PostgresConnection,
    options: { create: boolean; redact?: (text: string) => string; release?: () => void },
  ) {
    this.location = `postgres ${connection.server} (table requests)`;
    this.redact = options.redact ?? ((t) => t);
    this.release = options.release ?? (() => undefined);
    if (options.create) this.call("ensure");
    else if (!this.call<boolean>("exists")) throw new MissingRequestLog(this.location);
  }

  private readonly redact: (text: string) => string;
  private readonly release: () => void;

  private call<T>(method: string, args: unknown[] = [], timeoutMs?: number): T {
    if (this.closed) throw new Error(`the request log at ${this.location} is closed (call ${method})`);
    return this.connection.call<T>(`requests.${method}`, args, timeoutMs);
  }

  record(row: RequestRow): void {
    const clean: RequestRow = { ...row, query: this.redact(row.query), answer: row.answer === null ? null : this.redact(row.answer) };
    this.call("record", [clean], RECORD_TIMEOUT_MS);
  }

  setFeedback(id: string, feedback: Feedback): boolean {
    return this.call<boolean>("setFeedback", [id, JSON.stringify(redactFeedback(feedback, this.redact))]);
  }

  get(id: string): StoredRequest | undefined {
    return this.call<StoredRequest | undefined>("get", [id]);
  }

  between(from: string, to: string): StoredRequest[] {
    return this.call<StoredRequest[]>("between", [from, to]);
  }

  monitored(from: string, to: string, opts: MonitoredOptions = {}): { rows: MonitoredRequest[]; truncated: boolean } {
    const { rows, truncated } = this.monitoredWithIds(from, to, opts);
    return { rows: rows.map(({ id: _id, time: _time, ...r }) => r), truncated };
  }

  monitoredWithIds(from: string, to: string, opts: MonitoredOptions = {}): { rows: (MonitoredRequest & { id: string; time: string })[]; truncated: boolean } {
    return this.call("monitoredWithIds", [from, to, opts]);
  }

  count(): number {
    return this.call<number>("count");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}

/** A reader asked for a Postgres request log no `ragtune serve` has created. */
export class MissingRequestLog extends Error {
  constructor(readonly location: string) {
    super(`no request log at ${location}`);
  }
}

export interface RequestLogMigration {
  from: string;
  requests: number;
  labels: number;
  /** sha256 over every field of every request (oldest first) and every label, equal on both sides. */
  checksum: string;
}

/** A canonical checksum of a log's content through the interface (so both backends hash alike). */
export function requestLogChecksum(rows: StoredRequest[], labels: RawLabelRow[]): string {
  const h = createHash("sha256");
  for (const r of rows) h.update(JSON.stringify(Object.keys(r).sort().map((k) => [k, (r as unknown as Record<string, unknown>)[k]])) + "\n");
  for (const l of [...labels].sort((a, b) => (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0))) h.update(JSON.stringify(l) + "\n");
  return h.digest("hex");
}

const EVERYTHING: [string, string] = ["", "\uffff"];

/**
 * `store migrate`: copy `<storeDir>/requests.db` (requests and live labels) into the target's
 * request log, verbatim and in one transaction, then compare counts and checksums. Undefined when
 * the project has no request log file.
 */
export function migrateRequestLog(file: string, connection: PostgresConnection): RequestLogMigration | undefined {
  if (!existsSync(file)) return undefined;
  // Opening through RequestLog first brings an older file's columns up to date.
  const source = new RequestLog(file);
  const raw = new Database(file, { readonly: true });
  try {
    const requests = raw.prepare("SELECT * FROM requests ORDER BY rowid").all() as RawRequestRow[];
    const hasLabels = raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'request_labels'").get() !== undefined;
    const labels = hasLabels ? (raw.prepare("SELECT * FROM request_labels").all() as RawLabelRow[]) : [];
    const target = new PostgresRequestLog(connection, { create: true });
    try {
      connection.call("requests.importRows", [requests, labels]);
      const sourceSum = requestLogChecksum(source.between(...EVERYTHING), labels);
      const targetRows = target.between(...EVERYTHING);
      const targetLabels = connection.call<RawLabelRow[]>("requests.allLabels");
      const targetSum = requestLogChecksum(targetRows, targetLabels);
      const counts = [requests.length, targetRows.length, labels.length, targetLabels.length];
      if (counts[0] !== counts[1] || counts[2] !== counts[3] || sourceSum !== targetSum) {
        throw new Error(`the request log copy differs from ${file} (requests ${counts[0]} vs ${counts[1]}, labels ${counts[2]} vs ${counts[3]}, checksum ${sourceSum.slice(0, 12)} vs ${targetSum.slice(0, 12)})`);
      }
      return { from: file, requests: requests.length, labels: labels.length, checksum: sourceSum };
    } finally {
      target.close();
    }
  } finally {
    raw.close();
    source.close();
  }
}
