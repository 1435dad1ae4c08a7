/**
 * The one place that picks the request log's backend from `config.store`: SQLite
 * (`<storeDir>/requests.db`, the default) or the project's Postgres database (table `requests`,
 * shared by every replica). Serve writes (`create`); `monitor`, `logs`, `dataset --from-logs` read,
 * and get the same "no request log" error on both when `ragtune serve` never wrote one.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { postgresUrl } from "../store/open.ts";
import { PostgresConnection } from "../store/postgres/connection.ts";
import { InputError } from "../util/errors.ts";
import { RequestLog, type RequestLogStore } from "./log.ts";
import { MissingRequestLog, PostgresRequestLog } from "./log-postgres.ts";

export interface OpenRequestLogOptions {
  /** A writer creates the log; a reader of a missing log gets an InputError. */
  create: boolean;
  redact?: (text: string) => string;
  /** SQLite only: the file instead of `<storeDir>/requests.db` (tests, `serve --request-log`). */
  file?: string;
}

type ProjectLike = { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> };

/** `<storeDir>/requests.db`, the SQLite log's file. */
export function requestLogFile(project: ProjectLike): string {
  return join(resolve(project.root, project.config.storeDir), "requests.db");
}

const missing = (where: string) => new InputError(`no request log at ${where}: start \`ragtune serve\` (serve.requestLog: true) and send it requests first`);

export function openRequestLogStore(project: ProjectLike, options: OpenRequestLogOptions): RequestLogStore {
  const url = postgresUrl(project.config);
  if (url === undefined) {
    const file = options.file ?? requestLogFile(project);
    if (!options.create && !existsSync(file)) throw missing(file);
    return new RequestLog(file, options.redact);
  }
  // The process's shared connection (the Postgres store's too): one worker, one pool.
  const connection = PostgresConnection.acquire(url);
  try {
    return new PostgresRequestLog(connection, { create: options.create, ...(options.redact ? { redact: options.redact } : {}), release: () => connection.release() });
  } catch (err) {
    connection.release();
    if (err instanceof MissingRequestLog) throw missing(err.location);
    throw err;
  }
}
