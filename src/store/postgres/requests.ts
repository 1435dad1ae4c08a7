/**
 * The request log on PostgreSQL (service "requests", hosted by host.ts): table `requests` with the
 * columns of `<storeDir>/requests.db` (serve/log.ts), and `request_labels` (logs/labels-db.ts), in
 * the project's database, so every replica writes one log and feedback sent to any replica updates
 * the row another one wrote.
 *
 * Differences from SQLite, none visible through the interface: booleans are BOOLEAN, texts that
 * hold JSON stay TEXT (byte-for-byte what was written; the monitors cast with `::json`), `time` is
 * `COLLATE "C"` (byte order, as SQLite's BINARY) and a `seq` identity keeps ties in arrival order
 * (SQLite's rowid). BIGINT counters come back from node `pg` as strings and are converted here.
 *
 * Tables are created only by a writer (`ensure`, serve); readers (`monitor`, `logs`) ask `exists`
 * first so a project that never served gets the same "no request log" error as on SQLite.
 */
import type { Feedback, MonitoredOptions, MonitoredRequest, RawRequestRow, RequestRow, StoredRequest, Traffic } from "../../serve/log.ts";
import type { SqlDatabase, SqlExecutor } from "./executor.ts";
import { MetaVersionedTables } from "./schema.ts";

/** Bumped when the tables change; a newer one is refused (another ragtune wrote it). */
export const REQUESTS_SCHEMA_VERSION = 1;
const LOCK = 4242021;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  id TEXT PRIMARY KEY,
  time TEXT COLLATE "C" NOT NULL,
  route TEXT NOT NULL,
  status INTEGER NOT NULL,
  query TEXT NOT NULL,
  retrieved TEXT NOT NULL,
  answer TEXT,
  confidence DOUBLE PRECISION,
  fallback BOOLEAN,
  support DOUBLE PRECISION,
  latency_ms DOUBLE PRECISION NOT NULL,
  input_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  cost_usd DOUBLE PRECISION,
  model TEXT NOT NULL,
  index_generation BIGINT NOT NULL,
  index_fingerprint TEXT NOT NULL,
  feedback TEXT,
  traffic TEXT NOT NULL DEFAULT 'live',
  citations INTEGER,
  stale_citation BOOLEAN
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time, seq);
CREATE TABLE IF NOT EXISTS request_labels (
  request_id TEXT PRIMARY KEY,
  cause TEXT NOT NULL,
  signal TEXT NOT NULL,
  evidence TEXT NOT NULL,
  triggers TEXT NOT NULL,
  rule TEXT NOT NULL,
  labelled_at TEXT NOT NULL,
  labeller_version TEXT NOT NULL
);
`;

/** One `request_labels` row (the same columns on both). */
export interface RawLabelRow {
  request_id: string;
  cause: string;
  signal: string;
  evidence: string;
  triggers: string;
  rule: string;
  labelled_at: string;
  labeller_version: string;
}

const REQUEST_COLUMNS = [
  "id", "time", "route", "status", "query", "retrieved", "answer", "confidence", "fallback", "support", "latency_ms", "input_tokens",
  "output_tokens", "cost_usd", "model", "index_generation", "index_fingerprint", "feedback", "traffic", "citations", "stale_citation",
] as const;
const LABEL_COLUMNS = ["request_id", "cause", "signal", "evidence", "triggers", "rule", "labelled_at", "labeller_version"] as const;

const num = (v: unknown): number => (typeof v === "string" ? Number(v) : (v as number));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const boolOrNull = (v: unknown): boolean | null => (v === null || v === undefined ? null : Boolean(v));

function toStored(r: Record<string, unknown>): StoredRequest {
  return {
    id: r.id as string,
    time: r.time as string,
    route: r.route as string,
    status: num(r.status),
    query: r.query as string,
    retrieved: JSON.parse(r.retrieved as string) as RequestRow["retrieved"],
    answer: r.answer as string | null,
    confidence: numOrNull(r.confidence),
    fallback: boolOrNull(r.fallback),
    support: numOrNull(r.support),
    latencyMs: num(r.latency_ms),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: numOrNull(r.cost_usd),
    model: r.model as string,
    indexGeneration: num(r.index_generation),
    indexFingerprint: r.index_fingerprint as string,
    feedback: r.feedback === null ? null : (JSON.parse(r.feedback as string) as Feedback),
    traffic: r.traffic as Traffic,
    citations: numOrNull(r.citations),
    staleCitation: boolOrNull(r.stale_citation),
  };
}

/** The row to insert for a (redacted) request: the values of REQUEST_COLUMNS, in order. */
function insertValues(row: RequestRow): unknown[] {
  return [
    row.id, row.time, row.route, row.status, row.query, JSON.stringify(row.retrieved), row.answer, row.confidence, row.fallback, row.support,
    row.latencyMs, row.inputTokens, row.outputTokens, row.costUsd, row.model, row.indexGeneration, row.indexFingerprint, null,
    row.traffic ?? "live", row.citations ?? null, row.staleCitation ?? null,
  ];
}

const placeholders = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => `$${offset + i + 1}`).join(", ");
const INSERT = `INSERT INTO requests (${REQUEST_COLUMNS.join(", ")}) VALUES (${placeholders(REQUEST_COLUMNS.length)})`;

/** Insert many rows with one statement per batch (bounded parameter count). */
async function insertMany(tx: SqlExecutor, table: string, columns: readonly string[], rows: unknown[][]): Promise<void> {
  const per = Math.max(1, Math.floor(30_000 / columns.length));
  for (let i = 0; i < rows.length; i += per) {
    const batch = rows.slice(i, i + per);
    const values = batch.map((_, j) => `(${placeholders(columns.length, j * columns.length)})`).join(", ");
    await tx.query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES ${values}`, batch.flat());
  }
}

export class AsyncRequestLog {
  private readonly tables: MetaVersionedTables;
  constructor(private readonly db: SqlDatabase) {
    this.tables = new MetaVersionedTables(db, { lock: LOCK, ddl: SCHEMA, metaTable: "requests_meta", mainTable: "requests", owner: { subject: "the request log was", label: "requests", readsUpTo: REQUESTS_SCHEMA_VERSION } });
  }

  /** Create the tables if needed (serialised across processes); refuse a newer schema. */
  ensure(): Promise<void> {
    return this.tables.ensure();
  }

  /** Whether a writer ever created the tables (readers must not create them). */
  exists(): Promise<boolean> {
    return this.tables.exists();
  }

  /** One insert (its own implicit transaction): the one blocking call serve makes per request. */
  async record(row: RequestRow): Promise<void> {
    await this.db.query(INSERT, insertValues(row));
  }

  /** The feedback JSON is written whole, as SQLite does; the row may have been written by any replica. */
  async setFeedback(id: string, feedbackJson: string): Promise<boolean> {
    const { rows } = await this.db.query("UPDATE requests SET feedback = $1 WHERE id = $2 RETURNING id", [feedbackJson, id]);
    return rows.length > 0;
  }

  async get(id: string): Promise<StoredRequest | undefined> {
    const { rows } = await this.db.query("SELECT * FROM requests WHERE id = $1", [id]);
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  async between(from: string, to: string): Promise<StoredRequest[]> {
    const { rows } = await this.db.query("SELECT * FROM requests WHERE time >= $1 AND time < $2 ORDER BY time, seq", [from, to]);
    return rows.map(toStored);
  }

  async monitoredWithIds(from: string, to: string, opts: MonitoredOptions = {}): Promise<{ rows: (MonitoredRequest & { id: string; time: string })[]; truncated: boolean }> {
    const limit = opts.limit ?? -1;
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT id, time, route, status, json_array_length(retrieved::json) AS retrieved_count, fallback, support, latency_ms, cost_usd,
              feedback::json ->> 'thumbs' AS thumbs, feedback::json ->> 'correctedAnswer' AS corrected, traffic, citations, stale_citation
       FROM requests WHERE time >= $1 AND time < $2 ${opts.includeEval ? "" : "AND traffic = 'live'"} ORDER BY time DESC, seq DESC
       ${limit === -1 ? "" : "LIMIT $3"}`,
      limit === -1 ? [from, to] : [from, to, limit + 1],
    );
    const truncated = limit !== -1 && rows.length > limit;
    if (truncated) rows.length = limit;
    return {
      truncated,
      rows: rows.map((r) => ({
        id: r.id as string,
        time: r.time as string,
        route: r.route as string,
        status: num(r.status),
        retrieved: { length: num(r.retrieved_count) },
        fallback: boolOrNull(r.fallback),
        support: numOrNull(r.support),
        latencyMs: num(r.latency_ms),
        costUsd: numOrNull(r.cost_usd),
        feedback: r.thumbs === null ? null : { thumbs: r.thumbs as Feedback["thumbs"], ...(r.corrected !== null ? { correctedAnswer: r.corrected as string } : {}) },
        traffic: r.traffic as Traffic,
        citations: numOrNull(r.citations),
        staleCitation: boolOrNull(r.stale_citation),
      })),
    };
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>("SELECT count(*) AS n FROM requests");
    return Number(rows[0].n);
  }

  /** request_labels: make the labels of `requestIds` exactly `labels`, in one transaction (labels-db.ts). */
  async replaceLabels(requestIds: string[], labels: RawLabelRow[]): Promise<{ written: number; removed: number }> {
    const labelled = new Set(labels.map((l) => l.request_id));
    return this.db.transaction(async (tx) => {
      const stale = requestIds.filter((id) => !labelled.has(id));
      let removed = 0;
      if (stale.length) removed = (await tx.query("DELETE FROM request_labels WHERE request_id = ANY($1::text[]) RETURNING request_id", [stale])).rows.length;
      for (const l of labels) {
        await tx.query(
          `INSERT INTO request_labels (${LABEL_COLUMNS.join(", ")}) VALUES (${placeholders(LABEL_COLUMNS.length)})
           ON CONFLICT (request_id) DO UPDATE SET ${LABEL_COLUMNS.slice(1).map((c) => `${c} = EXCLUDED.${c}`).join(", ")}`,
          LABEL_COLUMNS.map((c) => l[c]),
        );
      }
      return { written: labels.length, removed };
    });
  }

  async labelsFor(requestIds: string[]): Promise<RawLabelRow[]> {
    if (!requestIds.length) return [];
    const { rows } = await this.db.query<RawLabelRow>("SELECT * FROM request_labels WHERE request_id = ANY($1::text[])", [requestIds]);
    return rows;
  }

  async labelCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>("SELECT count(*) AS n FROM request_labels");
    return Number(rows[0].n);
  }

  /**
   * Migration: copy SQLite rows verbatim (in rowid order, so ties keep their order) into an empty
   * log, requests and labels in one transaction. Refuses a log that already has rows.
   */
  async importRows(requests: RawRequestRow[], labels: RawLabelRow[]): Promise<void> {
    await this.ensure();
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`);
      const { rows } = await tx.query<{ n: string }>("SELECT (SELECT count(*) FROM requests) + (SELECT count(*) FROM request_labels) AS n");
      if (Number(rows[0].n) > 0) throw new Error(`the target's request log already holds ${rows[0].n} rows; migrate into an empty database`);
      const bool = (v: number | null) => (v === null ? null : v !== 0);
      await insertMany(tx, "requests", REQUEST_COLUMNS, requests.map((r) => REQUEST_COLUMNS.map((c) => (c === "fallback" || c === "stale_citation" ? bool(r[c]) : r[c]))));
      await insertMany(tx, "request_labels", LABEL_COLUMNS, labels.map((l) => LABEL_COLUMNS.map((c) => l[c])));
    });
  }

  /** Every label row, by request id (migration's checksum). */
  async allLabels(): Promise<RawLabelRow[]> {
    const { rows } = await this.db.query<RawLabelRow>(`SELECT * FROM request_labels ORDER BY request_id COLLATE "C"`);
    return rows;
  }
}

export async function openService(db: SqlDatabase): Promise<AsyncRequestLog> {
  return new AsyncRequestLog(db);
}
