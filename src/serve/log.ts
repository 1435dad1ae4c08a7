/**
 * The durable request log: one SQLite row per request in `<storeDir>/requests.db` (WAL, so the
 * monitor and `logs` commands can read it while the server writes). A separate file from the index
 * so an ingest or `index rollback` never touches production evidence.
 *
 * Writing is best effort by design: the caller catches, logs and counts a failed write; an answer
 * is never refused because its log row could not be written.
 *
 * Two implementations of `RequestLogStore`: `RequestLog` here (SQLite) and `PostgresRequestLog`
 * (log-postgres.ts, table `requests` of the project's Postgres database, shared by every replica).
 * Callers get the one the config names from `openRequestLogStore` (log-open.ts).
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export interface RequestRow {
  id: string;
  /** ISO time the request arrived. */
  time: string;
  route: string;
  status: number;
  query: string;
  /** Retrieved chunks, best first. */
  retrieved: { id: string; score: number }[];
  answer: string | null;
  confidence: number | null;
  fallback: boolean | null;
  support: number | null;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  /** USD; null when the generator's price is unknown. */
  costUsd: number | null;
  model: string;
  indexGeneration: number;
  indexFingerprint: string;
  /** Who sent it: `live` users, or `eval` / `synthetic` traffic (header X-Ragtune-Traffic) that monitors leave out. Default live. */
  traffic?: Traffic;
  /** Citations in the answer (null for searches and failed requests). */
  citations?: number | null;
  /** Whether a cited chunk comes from a superseded version (a newer label of the same document is indexed). */
  staleCitation?: boolean | null;
}

export const TRAFFIC_KINDS = ["live", "eval", "synthetic"] as const;
export type Traffic = (typeof TRAFFIC_KINDS)[number];

export interface Feedback {
  thumbs: "up" | "down";
  correctedAnswer?: string;
  text?: string;
  at: string;
}

export interface StoredRequest extends RequestRow {
  feedback: Feedback | null;
  traffic: Traffic;
  citations: number | null;
  staleCitation: boolean | null;
}

/**
 * The columns the monitors read, without the texts: what `/metrics` scans every scrape, so
 * `retrieved` is only its length (`json_array_length` in SQL, no JSON parsed per row).
 * A StoredRequest is one too.
 */
export interface MonitoredRequest {
  route: string;
  status: number;
  retrieved: { readonly length: number };
  fallback: boolean | null;
  support: number | null;
  latencyMs: number;
  costUsd: number | null;
  feedback: Pick<Feedback, "thumbs" | "correctedAnswer"> | null;
  traffic: Traffic;
  citations: number | null;
  staleCitation: boolean | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  time TEXT NOT NULL,
  route TEXT NOT NULL,
  status INTEGER NOT NULL,
  query TEXT NOT NULL,
  retrieved TEXT NOT NULL,
  answer TEXT,
  confidence REAL,
  fallback INTEGER,
  support REAL,
  latency_ms REAL NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost_usd REAL,
  model TEXT NOT NULL,
  index_generation INTEGER NOT NULL,
  index_fingerprint TEXT NOT NULL,
  feedback TEXT,
  traffic TEXT NOT NULL DEFAULT 'live',
  citations INTEGER,
  stale_citation INTEGER
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time);
`;

/**
 * Columns added after the first release, with their definitions: a log written by an older
 * server gains them on open (its rows read as live traffic with unknown citations).
 */
const ADDED_COLUMNS: [string, string][] = [
  ["traffic", "TEXT NOT NULL DEFAULT 'live'"],
  ["citations", "INTEGER"],
  ["stale_citation", "INTEGER"],
];

/** One `requests` row as the SQLite file stores it (the Postgres migration copies these verbatim). */
export interface RawRequestRow {
  id: string;
  time: string;
  route: string;
  status: number;
  query: string;
  retrieved: string;
  answer: string | null;
  confidence: number | null;
  fallback: number | null;
  support: number | null;
  latency_ms: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  model: string;
  index_generation: number;
  index_fingerprint: string;
  feedback: string | null;
  traffic: string;
  citations: number | null;
  stale_citation: number | null;
}

/**
 * The request log's contract, the same on SQLite and Postgres: `record` appends one row per request
 * (the caller catches a failed write), `setFeedback` updates the row whatever process wrote it,
 * `between` is oldest first and `monitoredWithIds` newest first (ties in arrival order), every
 * free text goes through the log's redaction before it is written.
 */
export interface RequestLogStore {
  /** Where the log lives, for messages: a file path, or `postgres <host:port/db> (table requests)`. */
  readonly location: string;
  record(row: RequestRow): void;
  /** False when no request has this id. */
  setFeedback(id: string, feedback: Feedback): boolean;
  get(id: string): StoredRequest | undefined;
  /** Requests that arrived in [from, to) (ISO times), oldest first. */
  between(from: string, to: string): StoredRequest[];
  monitored(from: string, to: string, opts?: MonitoredOptions): { rows: MonitoredRequest[]; truncated: boolean };
  monitoredWithIds(from: string, to: string, opts?: MonitoredOptions): { rows: (MonitoredRequest & { id: string; time: string })[]; truncated: boolean };
  count(): number;
  close(): void;
}

export interface MonitoredOptions {
  includeEval?: boolean;
  limit?: number;
}

/** `Feedback` with its free texts redacted (both implementations store this). */
export function redactFeedback(feedback: Feedback, redact: (text: string) => string): Feedback {
  return {
    ...feedback,
    ...(feedback.correctedAnswer !== undefined ? { correctedAnswer: redact(feedback.correctedAnswer) } : {}),
    ...(feedback.text !== undefined ? { text: redact(feedback.text) } : {}),
  };
}

/** The SQLite request log (`<storeDir>/requests.db`). */
export class RequestLog implements RequestLogStore {
  private readonly db: Database.Database;
  private readonly insertStmt: Database.Statement;
  private readonly feedbackStmt: Database.Statement;
  private readonly getStmt: Database.Statement;

  /**
   * @param redact applied to every free text before it is written (query, answer, corrected
   * answer, comment): with `serve.redactPii` the dataset scrubber, so emails, phone and card numbers
   * never reach the disk.
   */
  constructor(
    readonly file: string,
    private readonly redact: (text: string) => string = (t) => t,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL: a committed row survives a crash of the process (not of the OS) without an
    // fsync per request, which would cost more than answering.
    this.db.pragma("synchronous = NORMAL");
    // A monitor reading the log must not make a request's write fail at once.
    this.db.pragma("busy_timeout = 2000");
    this.db.exec(SCHEMA);
    this.migrate();
    this.insertStmt = this.db.prepare(
      `INSERT INTO requests (id, time, route, status, query, retrieved, answer, confidence, fallback, support, latency_ms, input_tokens, output_tokens, cost_usd, model, index_generation, index_fingerprint, traffic, citations, stale_citation)
       VALUES (@id, @time, @route, @status, @query, @retrieved, @answer, @confidence, @fallback, @support, @latencyMs, @inputTokens, @outputTokens, @costUsd, @model, @indexGeneration, @indexFingerprint, @traffic, @citations, @staleCitation)`,
    );
    this.feedbackStmt = this.db.prepare("UPDATE requests SET feedback = ? WHERE id = ?");
    this.getStmt = this.db.prepare("SELECT * FROM requests WHERE id = ?");
  }

  get location(): string {
    return this.file;
  }

  /** Adds the columns an older log lacks, in one transaction (a reader never sees half of them). */
  private migrate(): void {
    const have = new Set((this.db.prepare("PRAGMA table_info(requests)").all() as { name: string }[]).map((c) => c.name));
    const missing = ADDED_COLUMNS.filter(([name]) => !have.has(name));
    if (!missing.length) return;
    this.db.transaction(() => {
      for (const [name, definition] of missing) this.db.exec(`ALTER TABLE requests ADD COLUMN ${name} ${definition}`);
    })();
  }

  record(row: RequestRow): void {
    this.insertStmt.run({
      ...row,
      traffic: row.traffic ?? "live",
      citations: row.citations ?? null,
      staleCitation: row.staleCitation === undefined || row.staleCitation === null ? null : row.staleCitation ? 1 : 0,
      query: this.redact(row.query),
      answer: row.answer === null ? null : this.redact(row.answer),
      retrieved: JSON.stringify(row.retrieved),
      fallback: row.fallback === null ? null : row.fallback ? 1 : 0,
    });
  }

  /** False when no request has this id. */
  setFeedback(id: string, feedback: Feedback): boolean {
    const clean = redactFeedback(feedback, this.redact);
    return this.feedbackStmt.run(JSON.stringify(clean), id).changes > 0;
  }

  get(id: string): StoredRequest | undefined {
    const r = this.getStmt.get(id) as RawRequestRow | undefined;
    return r ? toStored(r) : undefined;
  }

  /** Requests that arrived in [from, to) (ISO times), oldest first. */
  between(from: string, to: string): StoredRequest[] {
    return (this.db.prepare("SELECT * FROM requests WHERE time >= ? AND time < ? ORDER BY time").all(from, to) as RawRequestRow[]).map(toStored);
  }

  /**
   * What the monitors read for [from, to): only the columns they use, live traffic unless
   * `includeEval`, and at most `limit` rows (the newest) so a scrape stays bounded on a big log.
   */
  monitored(from: string, to: string, opts: MonitoredOptions = {}): { rows: MonitoredRequest[]; truncated: boolean } {
    const { rows, truncated } = this.monitoredWithIds(from, to, opts);
    return { rows: rows.map(({ id: _id, time: _time, ...r }) => r), truncated };
  }

  /** `monitored`, newest first, with each row's id and time (the server's in-memory window). */
  monitoredWithIds(from: string, to: string, opts: MonitoredOptions = {}): { rows: (MonitoredRequest & { id: string; time: string })[]; truncated: boolean } {
    const limit = opts.limit ?? -1;
    const rows = this.db
      .prepare(
        `SELECT id, time, route, status, json_array_length(retrieved) AS retrieved_count, fallback, support, latency_ms, cost_usd,
                json_extract(feedback, '$.thumbs') AS thumbs, json_extract(feedback, '$.correctedAnswer') AS corrected,
                traffic, citations, stale_citation
         FROM requests WHERE time >= ? AND time < ? ${opts.includeEval ? "" : "AND traffic = 'live'"} ORDER BY time DESC LIMIT ?`,
      )
      .all(from, to, limit === -1 ? -1 : limit + 1) as {
      id: string;
      time: string;
      route: string;
      status: number;
      retrieved_count: number;
      fallback: number | null;
      support: number | null;
      latency_ms: number;
      cost_usd: number | null;
      thumbs: string | null;
      corrected: string | null;
      traffic: string;
      citations: number | null;
      stale_citation: number | null;
    }[];
    const truncated = limit !== -1 && rows.length > limit;
    if (truncated) rows.length = limit;
    return {
      truncated,
      rows: rows.map((r) => ({
        id: r.id,
        time: r.time,
        route: r.route,
        status: r.status,
        retrieved: { length: r.retrieved_count },
        fallback: r.fallback === null ? null : r.fallback === 1,
        support: r.support,
        latencyMs: r.latency_ms,
        costUsd: r.cost_usd,
        feedback: r.thumbs === null ? null : { thumbs: r.thumbs as Feedback["thumbs"], ...(r.corrected !== null ? { correctedAnswer: r.corrected } : {}) },
        traffic: r.traffic as Traffic,
        citations: r.citations,
        staleCitation: r.stale_citation === null ? null : r.stale_citation === 1,
      })),
    };
  }

  count(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toStored(r: RawRequestRow): StoredRequest {
  return {
    id: r.id,
    time: r.time,
    route: r.route,
    status: r.status,
    query: r.query,
    retrieved: JSON.parse(r.retrieved) as RequestRow["retrieved"],
    answer: r.answer,
    confidence: r.confidence,
    fallback: r.fallback === null ? null : r.fallback === 1,
    support: r.support,
    latencyMs: r.latency_ms,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    model: r.model,
    indexGeneration: r.index_generation,
    indexFingerprint: r.index_fingerprint,
    feedback: r.feedback === null ? null : (JSON.parse(r.feedback) as Feedback),
    traffic: r.traffic as Traffic,
    citations: r.citations,
    staleCitation: r.stale_citation === null ? null : r.stale_citation === 1,
  };
}
