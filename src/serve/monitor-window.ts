/**
 * The rolling window of live requests behind the /metrics monitor gauges, kept in memory.
 * Reading the window back from SQLite at every scrape costs ~1 s per 200,000 rows (measured,
 * bench/metrics-scrape.ts) and blocks the event loop; instead the server appends each row it logs
 * and each feedback it records, drops rows older than the window, and holds at most `maxRows` (the
 * newest). At start it is filled once from the log (the same bounded read). Rows written by another
 * process into the same log are not seen until a restart.
 */
import type { Feedback, MonitoredRequest, RequestLogStore, RequestRow } from "./log.ts";

interface WindowRow extends MonitoredRequest {
  id: string;
  /** epoch ms */
  at: number;
}

export class MonitorWindow {
  private rows: WindowRow[] = [];
  /** Index of the oldest kept row in `rows` (dropping from the front without shifting every time). */
  private head = 0;
  private readonly byId = new Map<string, WindowRow>();
  truncated = false;

  constructor(
    readonly windowMs: number,
    readonly maxRows: number,
  ) {}

  /** Fill from the log: the window's newest `maxRows` live rows. */
  seed(log: RequestLogStore, now = Date.now()): void {
    const from = new Date(now - this.windowMs).toISOString();
    const to = new Date(now + 1).toISOString();
    const { rows, truncated } = log.monitoredWithIds(from, to, { limit: this.maxRows });
    this.truncated = truncated;
    // monitored() returns newest first.
    // Rows are built field by field, as add() builds them: objects made by spreading a 14-field row
    // came out several times slower to scan in windowStats (measured 450 ms vs 40 ms for 100,000).
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i];
      this.push({
        id: r.id,
        at: Date.parse(r.time),
        route: r.route,
        status: r.status,
        retrieved: { length: r.retrieved.length },
        fallback: r.fallback,
        support: r.support,
        latencyMs: r.latencyMs,
        costUsd: r.costUsd,
        feedback: r.feedback,
        traffic: "live",
        citations: r.citations,
        staleCitation: r.staleCitation,
      });
    }
  }

  /** A row the server just logged (non-live traffic is not monitored). */
  add(row: RequestRow): void {
    if ((row.traffic ?? "live") !== "live") return;
    this.push({
      id: row.id,
      at: Date.parse(row.time),
      route: row.route,
      status: row.status,
      retrieved: { length: row.retrieved.length },
      fallback: row.fallback,
      support: row.support,
      latencyMs: row.latencyMs,
      costUsd: row.costUsd,
      feedback: null,
      traffic: "live",
      citations: row.citations ?? null,
      staleCitation: row.staleCitation ?? null,
    });
  }

  feedback(id: string, feedback: Feedback): void {
    const row = this.byId.get(id);
    if (row) row.feedback = { thumbs: feedback.thumbs, ...(feedback.correctedAnswer !== undefined ? { correctedAnswer: feedback.correctedAnswer } : {}) };
  }

  /** The rows of the window ending now, oldest first. */
  current(now = Date.now()): MonitoredRequest[] {
    const cutoff = now - this.windowMs;
    while (this.head < this.rows.length && this.rows[this.head].at < cutoff) this.byId.delete(this.rows[this.head++].id);
    this.compact();
    return this.rows.slice(this.head);
  }

  get size(): number {
    return this.rows.length - this.head;
  }

  private push(row: WindowRow): void {
    this.rows.push(row);
    this.byId.set(row.id, row);
    if (this.size > this.maxRows) {
      this.byId.delete(this.rows[this.head++].id);
      this.truncated = true;
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }
}
