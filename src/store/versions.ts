/**
 * Index versions: every ingest that changes the index records a version — a consistent copy of
 * the index (VACUUM INTO) with its identity, the document set and the chunking/sources hash — in
 * `<storeDir>/index-versions/`. `rollback` restores the retrieval state of an earlier version
 * into the live index in one transaction, without touching the model registry (models roll back
 * on their own path: `ragtune models rollback`). A rollback first records the current state as a
 * version, so it can itself be undone. The newest KEEP_SNAPSHOTS copies are kept; older versions
 * stay listed without a copy (they cannot be restored, and say so).
 *
 * Two backends behind one interface (`IndexVersions`): this file's `FileIndexVersions` (the list
 * in `<storeDir>/index-versions/versions.json`, copies `vN.db` next to it) and, for a Postgres
 * project, `PostgresIndexVersions` (versions-postgres.ts: list and copies in the database, so
 * every replica and machine sees the same versions). `openIndexVersions` (open-versions.ts) picks.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";
import { InputError } from "../util/errors.ts";
import type { IndexIdentity, SnapshotSource } from "./index.ts";

/** Copies kept (each is a full copy of the index: disk, not time, is the cost; VACUUM INTO takes ~0.2 s at 50k chunks). */
export const KEEP_SNAPSHOTS = 5;
const MANIFEST = "versions.json";

export interface IndexVersion {
  version: number;
  createdAt: string;
  /** Why it was recorded: "ingest", "rollback to v3", … */
  note: string;
  identity: IndexIdentity;
  /** sha256 of the sources and chunking settings the index was built with. */
  configHash: string;
  /** Documents by version label at that moment. */
  documentsByVersion: Record<string, number>;
  /** File name of the copy under index-versions/, or null once pruned. */
  snapshot: string | null;
}

export interface RecordOptions {
  note: string;
  configHash: string;
  /** Record even when the newest version has the same content. */
  force?: boolean;
}

export interface RollbackResult {
  restored: IndexVersion;
  /** The state before the rollback, recorded first (absent when it was the newest version already). */
  saved?: IndexVersion;
  /** The state after it. */
  now?: IndexVersion;
}

/**
 * A project's index versions: the same entries, numbering, pruning and errors on both backends
 * (test/versions-contract.test.ts). Version numbers are unique even when two processes record at
 * once. `record` copies the store (`snapshotTo`); `rollback` restores one copy into it.
 */
export interface IndexVersions {
  /** Where they live, for messages. */
  readonly location: string;
  /** Every version, oldest first. */
  list(): IndexVersion[];
  /** The newest version with this content fingerprint, or null (the server calls this when its generation changes). */
  versionOf(fingerprint: string): number | null;
  /** Record the store's current state, unless the newest version already has this content (then undefined). */
  record(store: SnapshotSource, options: RecordOptions): IndexVersion | undefined;
  /** Restore the retrieval state of version `n`; the current state is recorded first, so a rollback can be undone. */
  rollback(store: SnapshotSource, n: number, configHash: string): RollbackResult;
  close(): void;
}

/**
 * The backend half a rollback needs: a restorable copy of a version as a SQLite file in a temp
 * folder (the caller deletes the folder), or undefined when none is kept.
 */
export interface VersionCopies {
  materialise(version: IndexVersion, dir: string): string | undefined;
}

/**
 * The one rollback sequence of both backends. The copy is materialised before the current state
 * is recorded: that record prunes the oldest copy, which may be the one being restored.
 */
export function rollbackVersions(versions: IndexVersions & VersionCopies, store: SnapshotSource, n: number, configHash: string): RollbackResult {
  const all = versions.list();
  const target = all.find((v) => v.version === n);
  if (!target) {
    const known = all.map((v) => `v${v.version}`).join(", ");
    throw new InputError(`index version ${n} does not exist (${known ? `versions: ${known}` : "no versions recorded yet: each ingest that changes the index records one"})`);
  }
  const dir = mkdtempSync(join(tmpdir(), "ragtune-rollback-"));
  try {
    const copy = target.snapshot ? versions.materialise(target, dir) : undefined;
    if (!copy) {
      throw new InputError(`index version ${n} has no copy left (only the newest ${KEEP_SNAPSHOTS} are kept); restorable: ${all.filter((v) => v.snapshot).map((v) => `v${v.version}`).join(", ") || "none"}`);
    }
    const saved = versions.record(store, { note: `before rollback to v${n}`, configHash });
    store.restoreRetrievalFrom(copy);
    const now = versions.record(store, { note: `rollback to v${n}`, configHash: target.configHash });
    return { restored: target, ...(saved ? { saved } : {}), ...(now ? { now } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Documents by version label, from a store's manifest. */
export function documentsByVersionOf(manifest: readonly { version: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of manifest) out[m.version] = (out[m.version] ?? 0) + 1;
  return out;
}

/** Index versions in `<storeDir>/index-versions/` next to a SQLite index file. */
export class FileIndexVersions implements IndexVersions, VersionCopies {
  readonly location: string;
  constructor(readonly indexFile: string) {
    this.location = versionsDir(indexFile);
  }
  list(): IndexVersion[] {
    return listIndexVersions(this.indexFile);
  }
  versionOf(fingerprint: string): number | null {
    const match = this.list().filter((v) => v.identity.fingerprint === fingerprint);
    return match.length ? match[match.length - 1].version : null;
  }
  record(store: SnapshotSource, options: RecordOptions): IndexVersion | undefined {
    return recordIndexVersion(store, this.indexFile, options);
  }
  rollback(store: SnapshotSource, n: number, configHash: string): RollbackResult {
    return rollbackVersions(this, store, n, configHash);
  }
  materialise(version: IndexVersion, dir: string): string | undefined {
    const file = join(versionsDir(this.indexFile), version.snapshot!);
    if (!existsSync(file)) return undefined;
    const copy = join(dir, version.snapshot!);
    copyFileSync(file, copy);
    return copy;
  }
  close(): void {}
}

export interface VersionsFile {
  versions: IndexVersion[];
}

export function versionsDir(indexFile: string): string {
  return join(dirname(indexFile), "index-versions");
}

export function listIndexVersions(indexFile: string): IndexVersion[] {
  const file = join(versionsDir(indexFile), MANIFEST);
  if (!existsSync(file)) return [];
  let parsed: VersionsFile;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as VersionsFile;
  } catch (error) {
    throw new InputError(`${file}: not readable as an index version list (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed.versions)) throw new InputError(`${file}: versions: expected a list`);
  return parsed.versions;
}

export function configHashOf(settings: unknown): string {
  return createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16);
}

/**
 * Record the index's current state as a new version, unless the newest version already has this
 * content (same fingerprint): re-ingesting unchanged documents records nothing.
 */
export function recordIndexVersion(store: SnapshotSource, indexFile: string, options: RecordOptions): IndexVersion | undefined {
  const dir = versionsDir(indexFile);
  const versions = listIndexVersions(indexFile);
  const { identity, manifest } = store.identity();
  const last = versions[versions.length - 1];
  if (!options.force && last && last.identity.fingerprint === identity.fingerprint) return undefined;
  mkdirSync(dir, { recursive: true });
  const version = (last?.version ?? 0) + 1;
  const snapshot = `v${version}.db`;
  const target = join(dir, snapshot);
  rmSync(target, { force: true }); // a copy left by a crash before its manifest entry was written
  store.snapshotTo(target);
  const documentsByVersion = documentsByVersionOf(manifest);
  const entry: IndexVersion = { version, createdAt: new Date().toISOString(), note: options.note, identity, configHash: options.configHash, documentsByVersion, snapshot };
  const next = [...versions, entry];
  // Prune copies beyond the newest KEEP_SNAPSHOTS (files this module wrote, in its own folder).
  const withCopies = next.filter((v) => v.snapshot);
  const drop = withCopies.slice(0, Math.max(0, withCopies.length - KEEP_SNAPSHOTS));
  for (const v of drop) v.snapshot = null;
  writeFileAtomic(join(dir, MANIFEST), JSON.stringify({ versions: next } satisfies VersionsFile, null, 2) + "\n");
  for (const v of drop) rmSync(join(dir, `v${v.version}.db`), { force: true });
  return entry;
}

/** Restore the retrieval state of version `n`; the current state is recorded first. */
export function rollbackIndex(store: SnapshotSource, indexFile: string, n: number, configHash: string): RollbackResult {
  return new FileIndexVersions(indexFile).rollback(store, n, configHash);
}
