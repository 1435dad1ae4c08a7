/**
 * The one place that picks the API key store's backend from `config.store`: SQLite
 * (`<storeDir>/keys.db`, the default) or the project's Postgres database (table `api_keys`, shared
 * by every replica, so a key created or revoked anywhere is seen by all of them).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { postgresUrl } from "../store/open.ts";
import { PostgresConnection } from "../store/postgres/connection.ts";
import { redactUrl } from "../store/postgres/sync.ts";
import { InputError } from "../util/errors.ts";
import { KeyStore, type ApiKeyStore } from "./keys.ts";
import { PostgresKeyStore } from "./keys-postgres.ts";

type ProjectLike = { root: string; config: Pick<RagtuneConfig, "store" | "storeDir"> };

export function keyStoreFile(project: ProjectLike): string {
  return join(resolve(project.root, project.config.storeDir), "keys.db");
}

/**
 * The project's key store. `create`: make it when missing (`keys create`); otherwise a store no
 * key was ever created in is an InputError. `ifMissing: "undefined"` returns undefined instead
 * (`keys list` on a fresh project says "no keys yet").
 */
export function openKeyStore(project: ProjectLike, options: { create: boolean; now?: () => Date }): ApiKeyStore;
export function openKeyStore(project: ProjectLike, options: { create: false; ifMissing: "undefined"; now?: () => Date }): ApiKeyStore | undefined;
export function openKeyStore(project: ProjectLike, options: { create: boolean; ifMissing?: "undefined"; now?: () => Date }): ApiKeyStore | undefined {
  const url = postgresUrl(project.config);
  if (url === undefined) {
    const file = keyStoreFile(project);
    if (options.ifMissing && !existsSync(file)) return undefined;
    return new KeyStore(file, { create: options.create, ...(options.now ? { now: options.now } : {}) });
  }
  let connection: PostgresConnection;
  try {
    connection = PostgresConnection.acquire(url);
  } catch (err) {
    throw new InputError(`store.url: cannot open the API key store at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  try {
    return new PostgresKeyStore(connection, { create: options.create, ...(options.now ? { now: options.now } : {}), release: () => connection.release() });
  } catch (err) {
    connection.release();
    if (options.ifMissing && err instanceof InputError && /^no API key store/.test(err.message)) return undefined;
    throw err;
  }
}
