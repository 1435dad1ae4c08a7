/**
 * Index versions: every ingest that changes the index records a version — a consistent copy of
 * the index (VACUUM INTO) with its identity, the document set and the chunking/sources hash — in
 * `<storeDir>/index-versions/`. `rollback` restores the retrieval state of an earlier version
 * into the live index in one transaction, without touching the model registry (models roll back
 * on their own path: `ragtune models rollback`). A rollback first records the current state as a
 * version, so it can itself be undone. The newest KEEP_SNAPSHOTS copies are kept; older versions
 * stay listed without a copy (they cannot be restored, and say so).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
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
export function recordIndexVersion(store: SnapshotSource, indexFile: string, options: { note: string; configHash: string; force?: boolean }): IndexVersion | undefined {
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
  const documentsByVersion: Record<string, number> = {};
  for (const m of manifest) documentsByVersion[m.version] = (documentsByVersion[m.version] ?? 0) + 1;
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
export function rollbackIndex(store: SnapshotSource, indexFile: string, n: number, configHash: string): { restored: IndexVersion; saved?: IndexVersion; now?: IndexVersion } {
  const versions = listIndexVersions(indexFile);
  const target = versions.find((v) => v.version === n);
  if (!target) {
    const known = versions.map((v) => `v${v.version}`).join(", ");
    throw new InputError(`index version ${n} does not exist (${known ? `versions: ${known}` : "no versions recorded yet: each ingest that changes the index records one"})`);
  }
  if (!target.snapshot || !existsSync(join(versionsDir(indexFile), target.snapshot))) {
    throw new InputError(`index version ${n} has no copy left (only the newest ${KEEP_SNAPSHOTS} are kept); restorable: ${versions.filter((v) => v.snapshot).map((v) => `v${v.version}`).join(", ") || "none"}`);
  }
  const saved = recordIndexVersion(store, indexFile, { note: `before rollback to v${n}`, configHash });
  store.restoreRetrievalFrom(join(versionsDir(indexFile), target.snapshot));
  const now = recordIndexVersion(store, indexFile, { note: `rollback to v${n}`, configHash: target.configHash });
  return { restored: target, ...(saved ? { saved } : {}), ...(now ? { now } : {}) };
}
