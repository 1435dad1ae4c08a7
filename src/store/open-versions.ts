/**
 * The one place that picks where a project's index versions live, from `config.store`: files in
 * `<storeDir>/index-versions/` next to the SQLite index (or next to a given index file), or the
 * project's Postgres database, shared by every replica.
 */
import { join, resolve } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { InputError } from "../util/errors.ts";
import { postgresUrl } from "./open.ts";
import { PostgresConnection } from "./postgres/connection.ts";
import { redactUrl } from "./postgres/sync.ts";
import { PostgresIndexVersions } from "./versions-postgres.ts";
import { FileIndexVersions, type IndexVersions } from "./versions.ts";

export function openIndexVersions(
  config: Pick<RagtuneConfig, "store" | "storeDir">,
  root: string,
  options: { indexFile?: string; env?: NodeJS.ProcessEnv } = {},
): IndexVersions {
  const url = options.indexFile === undefined ? postgresUrl(config, options.env) : undefined;
  if (url === undefined) return new FileIndexVersions(options.indexFile ?? join(resolve(root, config.storeDir), "index.db"));
  let connection: PostgresConnection;
  try {
    connection = PostgresConnection.acquire(url);
  } catch (err) {
    throw new InputError(`store.url: cannot open the index versions at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  return new PostgresIndexVersions(connection, () => connection.release());
}
