/**
 * The durable home of live labels: table `request_labels` in the request log's own file
 * (`requests.db`), owned by this module — the `requests` table is serve/log.ts's and is only read.
 * One row per request id; a relabel replaces the window's rows in one transaction, so a rerun is
 * idempotent and a crash mid-write leaves the previous labels.
 *
 * On a Postgres project the same table lives next to `requests` in the project's database
 * (store/postgres/requests.ts); `openLabelStore` picks the one `config.store` names.
 */
import Database from "better-sqlite3";
import type { RagtuneConfig } from "../config/index.ts";
import type { FailureCause } from "../evaluate/types.ts";
import { requestLogFile } from "../serve/log-open.ts";
import { postgresUrl } from "../store/open.ts";
import { PostgresConnection } from "../store/postgres/connection.ts";
import type { RawLabelRow } from "../store/postgres/requests.ts";
import type { LiveLabel } from "./index.ts";

/** Where live labels are kept: the same contract on SQLite and Postgres. */
export interface LabelStoreLike {
  /** Make the stored labels of `requestIds` exactly `labels` (one transaction). */
  replace(requestIds: string[], labels: LiveLabel[]): { written: number; removed: number };
  forRequests(requestIds: string[]): Map<string, LiveLabel>;
  count(): number;
  close(): void;
}

/** The label store of a project's request log (open the log first: it must exist). */
export function openLabelStore(project: { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> }): LabelStoreLike {
  const url = postgresUrl(project.config);
  if (url === undefined) return new LabelStore(requestLogFile(project));
  const connection = PostgresConnection.acquire(url);
  let closed = false;
  return {
    replace: (ids, labels) => connection.call("requests.replaceLabels", [ids, labels.map(toRow)]),
    forRequests: (ids) => {
      const byId = new Map(connection.call<RawLabelRow[]>("requests.labelsFor", [ids]).map((r) => [r.request_id, r]));
      // In the order asked, as the SQLite store returns them.
      const out = new Map<string, LiveLabel>();
      for (const id of ids) if (byId.has(id)) out.set(id, toLabel(byId.get(id)!));
      return out;
    },
    count: () => connection.call<number>("requests.labelCount"),
    close: () => {
      if (closed) return;
      closed = true;
      connection.release();
    },
  };
}

function toRow(l: LiveLabel): RawLabelRow {
  return {
    request_id: l.requestId,
    cause: l.cause,
    signal: l.signal,
    evidence: l.evidence,
    triggers: JSON.stringify(l.triggers),
    rule: l.rule,
    labelled_at: l.labelledAt,
    labeller_version: l.labellerVersion,
  };
}

const SCHEMA = `
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

interface Row {
  request_id: string;
  cause: string;
  signal: string;
  evidence: string;
  triggers: string;
  rule: string;
  labelled_at: string;
  labeller_version: string;
}

/** Labels in the SQLite request log's file. */
export class LabelStore implements LabelStoreLike {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // The server may be writing requests at the same moment.
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  /**
   * Make the stored labels of `requestIds` (the window relabelled) exactly `labels`: requests that
   * no longer qualify (e.g. feedback changed to thumbs up) lose their old label.
   */
  replace(requestIds: string[], labels: LiveLabel[]): { written: number; removed: number } {
    const del = this.db.prepare("DELETE FROM request_labels WHERE request_id = ?");
    const ins = this.db.prepare(
      "INSERT OR REPLACE INTO request_labels (request_id, cause, signal, evidence, triggers, rule, labelled_at, labeller_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const labelled = new Set(labels.map((l) => l.requestId));
    let removed = 0;
    this.db.transaction(() => {
      for (const id of requestIds) if (!labelled.has(id)) removed += del.run(id).changes;
      for (const l of labels) {
        const r = toRow(l);
        ins.run(r.request_id, r.cause, r.signal, r.evidence, r.triggers, r.rule, r.labelled_at, r.labeller_version);
      }
    })();
    return { written: labels.length, removed };
  }

  /** Stored labels of these requests (by request id). */
  forRequests(requestIds: string[]): Map<string, LiveLabel> {
    const get = this.db.prepare("SELECT * FROM request_labels WHERE request_id = ?");
    const out = new Map<string, LiveLabel>();
    for (const id of requestIds) {
      const r = get.get(id) as Row | undefined;
      if (r) out.set(id, toLabel(r));
    }
    return out;
  }

  count(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM request_labels").get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toLabel(r: Row): LiveLabel {
  return {
    requestId: r.request_id,
    cause: r.cause as FailureCause,
    signal: r.signal,
    evidence: r.evidence,
    triggers: JSON.parse(r.triggers) as string[],
    rule: r.rule as LiveLabel["rule"],
    labelledAt: r.labelled_at,
    labellerVersion: r.labeller_version,
  };
}
