/**
 * Index versions in the project's Postgres database, main-thread side: each call is one blocking
 * call to the "versions" service (postgres/versions.ts) over the shared connection. Recording
 * writes the store's snapshot to a temp file, gzips it and sends it with the entry; the service
 * numbers it under a lock. A rollback fetches the copy into a temp file and restores from it.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { SnapshotSource } from "./index.ts";
import type { PostgresConnection } from "./postgres/connection.ts";
import type { NewVersion, VersionCopy } from "./postgres/versions.ts";
import {
  documentsByVersionOf,
  KEEP_SNAPSHOTS,
  rollbackVersions,
  type IndexVersion,
  type IndexVersions,
  type RecordOptions,
  type RollbackResult,
  type VersionCopies,
} from "./versions.ts";

// A copy is a whole index: give its transfer more time than a query.
const COPY_TIMEOUT_MS = 10 * 60_000;

export class PostgresIndexVersions implements IndexVersions, VersionCopies {
  readonly location: string;
  private closed = false;

  constructor(
    private readonly connection: PostgresConnection,
    private readonly release: () => void = () => undefined,
  ) {
    this.location = `postgres ${connection.server}`;
  }

  private call<T>(method: string, args: unknown[] = [], timeoutMs?: number): T {
    if (this.closed) throw new Error(`the index versions at ${this.location} are closed (call ${method})`);
    return this.connection.call<T>(`versions.${method}`, args, timeoutMs);
  }

  list(): IndexVersion[] {
    return this.call("list");
  }

  versionOf(fingerprint: string): number | null {
    return this.call("versionOf", [fingerprint]);
  }

  record(store: SnapshotSource, options: RecordOptions): IndexVersion | undefined {
    const { identity, manifest } = store.identity();
    const last = this.call<IndexVersion | null>("last");
    if (!options.force && last && last.identity.fingerprint === identity.fingerprint) return undefined;
    const dir = mkdtempSync(join(tmpdir(), "ragtune-version-"));
    try {
      const file = join(dir, "copy.db");
      store.snapshotTo(file);
      const raw = readFileSync(file);
      const copy: VersionCopy = { gz: gzipSync(raw), bytes: raw.length, sha256: createHash("sha256").update(raw).digest("hex") };
      const entry: NewVersion = { createdAt: new Date().toISOString(), note: options.note, identity, configHash: options.configHash, documentsByVersion: documentsByVersionOf(manifest) };
      return this.call<IndexVersion | null>("insert", [entry, copy, !!options.force, KEEP_SNAPSHOTS], COPY_TIMEOUT_MS) ?? undefined;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  rollback(store: SnapshotSource, n: number, configHash: string): RollbackResult {
    return rollbackVersions(this, store, n, configHash);
  }

  materialise(version: IndexVersion, dir: string): string | undefined {
    const copy = this.call<VersionCopy | null>("copy", [version.version], COPY_TIMEOUT_MS);
    if (!copy) return undefined;
    const raw = gunzipSync(copy.gz);
    const sha = createHash("sha256").update(raw).digest("hex");
    if (sha !== copy.sha256) throw new Error(`the copy of index version ${version.version} is damaged (sha256 ${sha}, recorded ${copy.sha256})`);
    const file = join(dir, `v${version.version}.db`);
    writeFileSync(file, raw);
    return file;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}
