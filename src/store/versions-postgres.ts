/**
 * Index versions in the project's Postgres database, main-thread side: each call is one blocking
 * call to the "versions" service (postgres/versions.ts) over the shared connection. Recording
 * writes the store's snapshot to a temp file, gzips it and sends it with the entry; the service
 * numbers it under a lock. A rollback fetches the copy into a temp file and restores from it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { SnapshotSource } from "./index.ts";
import { PostgresConnection } from "./postgres/connection.ts";
import type { NewVersion, VersionCopy } from "./postgres/versions.ts";
import {
  documentsByVersionOf,
  KEEP_SNAPSHOTS,
  listIndexVersions,
  versionsDir,
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

/** sha256 over every version entry and the sha256 of each kept copy (the copied file's content). */
function versionsChecksum(items: { entry: IndexVersion; sha256: string | null }[]): string {
  const h = createHash("sha256");
  for (const { entry, sha256 } of items) h.update(JSON.stringify([entry.version, entry.createdAt, entry.note, entry.identity, entry.configHash, entry.documentsByVersion, entry.snapshot, sha256]) + "\n");
  return h.digest("hex");
}

/**
 * Copy the index versions next to a SQLite index file (versions.json and the kept vN.db copies)
 * into an empty Postgres database, numbers kept, in one transaction; then read every entry and
 * copy back and compare counts and checksums (of the entries and of each copy's bytes).
 */
export function migrateIndexVersions(indexFile: string, url: string, options: { timeoutMs?: number } = {}): { name: string; counts: Record<string, number>; checksum: string } {
  const dir = versionsDir(indexFile);
  const items = listIndexVersions(indexFile).map((entry) => {
    const file = entry.snapshot ? join(dir, entry.snapshot) : undefined;
    if (!file || !existsSync(file)) return { entry: { ...entry, snapshot: null }, copy: null };
    const raw = readFileSync(file);
    return { entry, copy: { gz: gzipSync(raw), bytes: raw.length, sha256: createHash("sha256").update(raw).digest("hex") } satisfies VersionCopy };
  });
  const sourceSum = versionsChecksum(items.map((i) => ({ entry: i.entry, sha256: i.copy?.sha256 ?? null })));
  const connection = PostgresConnection.acquire(url, options);
  const target = new PostgresIndexVersions(connection, () => connection.release());
  try {
    connection.call("versions.importVersions", [items], COPY_TIMEOUT_MS);
    const listed = target.list();
    const back = listed.map((entry) => {
      const copy = entry.snapshot ? connection.call<VersionCopy | null>("versions.copy", [entry.version], COPY_TIMEOUT_MS) : null;
      return { entry, sha256: copy ? createHash("sha256").update(gunzipSync(copy.gz)).digest("hex") : null };
    });
    const counts = { versions: items.length, copies: items.filter((i) => i.copy).length };
    const got = { versions: listed.length, copies: back.filter((b) => b.sha256).length };
    for (const k of ["versions", "copies"] as const) {
      if (counts[k] !== got[k]) throw new Error(`the index versions copy differs from the source (${k}: ${counts[k]} vs ${got[k]})`);
    }
    const targetSum = versionsChecksum(back);
    if (targetSum !== sourceSum) throw new Error(`the index versions copy differs from the source (checksum ${sourceSum} vs ${targetSum})`);
    return { name: "index versions", counts, checksum: sourceSum };
  } finally {
    target.close();
  }
}
