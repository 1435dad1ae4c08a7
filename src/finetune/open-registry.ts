/**
 * The one place that picks the model registry's backend, from `config.store`: SQLite in
 * `<storeDir>/index.db` (or in a given index file: a run's pinned snapshot), or the project's
 * Postgres database (over the process's shared connection to it).
 */
import { join, resolve } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { postgresUrl } from "../store/open.ts";
import { PostgresConnection } from "../store/postgres/connection.ts";
import { redactUrl } from "../store/postgres/sync.ts";
import { InputError } from "../util/errors.ts";
import { PostgresModelRegistry, type PostgresRegistryOptions } from "./registry-postgres.ts";
import { SqliteModelRegistry, type ModelRegistry, type RegistryOptions } from "./registry.ts";

export interface OpenRegistryOptions extends RegistryOptions, Pick<PostgresRegistryOptions, "onWarning"> {
  /** Read the registry in this SQLite index file instead (a run's pinned snapshot carries its own). */
  indexFile?: string;
  env?: NodeJS.ProcessEnv;
}

export function openModelRegistry(config: Pick<RagtuneConfig, "store" | "storeDir">, root: string, options: OpenRegistryOptions = {}): ModelRegistry {
  const { indexFile, env, ...registryOptions } = options;
  const url = indexFile === undefined ? postgresUrl(config, env) : undefined;
  if (url === undefined) return new SqliteModelRegistry(indexFile ?? join(resolve(root, config.storeDir), "index.db"), registryOptions);
  let connection: PostgresConnection;
  try {
    connection = PostgresConnection.acquire(url);
  } catch (err) {
    throw new InputError(`store.url: cannot open the model registry at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  const cacheDir = join(resolve(root, config.storeDir), "models-cache");
  return new PostgresModelRegistry(connection, { ...registryOptions, root: resolve(root), cacheDir, release: () => connection.release() });
}

/**
 * Put the project's registry into a SQLite snapshot of its index (a run's pinned copy), so the
 * copy carries the models promoted when it was taken, as a SQLite VACUUM INTO copy does. A no-op
 * on SQLite projects (the copy already has them).
 */
export function carryRegistryInto(config: Pick<RagtuneConfig, "store" | "storeDir">, root: string, snapshotFile: string): void {
  if (postgresUrl(config) === undefined) return;
  const live = openModelRegistry(config, root);
  try {
    const copy = new SqliteModelRegistry(snapshotFile);
    try {
      copy.importRows(live.exportRows());
    } finally {
      copy.close();
    }
  } finally {
    live.close();
  }
}
