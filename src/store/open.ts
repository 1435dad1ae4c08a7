/**
 * Open the store a project's config names: SQLite (`<storeDir>/index.db`, the default) or
 * PostgreSQL (`store: {kind: postgres, url | urlEnv}`). A bad URL, an unreachable server or a
 * refused login is an InputError (exit 2) naming the config field and carrying the server's message.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { InputError } from "../util/errors.ts";
import type { Store } from "./index.ts";
import { openPostgresStore, redactUrl } from "./postgres/sync.ts";
import { openStore } from "./sqlite.ts";

/** The Postgres URL a config names (from `store.url` or the variable `store.urlEnv` names), or undefined for SQLite. */
export function postgresUrl(config: Pick<RagtuneConfig, "store">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const store = config.store;
  if (store.kind !== "postgres") return undefined;
  const field = store.url !== undefined ? "store.url" : `store.urlEnv (${store.urlEnv})`;
  const url = store.url ?? env[store.urlEnv!];
  if (!url) throw new InputError(`${field}: the environment variable ${store.urlEnv} is not set; set it to a postgres:// URL`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${field}: not a URL; expected postgres://user@host:5432/database`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new InputError(`${field}: ${redactUrl(url)} is not a postgres:// URL (scheme ${parsed.protocol.replace(/:$/, "")})`);
  }
  return url;
}

export function openStoreFromConfig(config: Pick<RagtuneConfig, "store" | "storeDir">, root: string, env: NodeJS.ProcessEnv = process.env): Store {
  const url = postgresUrl(config, env);
  if (url === undefined) return openStore(join(resolve(root, config.storeDir), "index.db"));
  const field = config.store.kind === "postgres" && config.store.url !== undefined ? "store.url" : "store.urlEnv";
  // Runs' pinned copies, caches and scratch files still live in storeDir.
  mkdirSync(resolve(root, config.storeDir), { recursive: true });
  try {
    return openPostgresStore(url);
  } catch (err) {
    throw new InputError(`${field}: cannot open the Postgres store at ${redactUrl(url)}: ${(err as Error).message}`);
  }
}
