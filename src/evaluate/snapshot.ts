/**
 * A run reads one index from start to end. At run start the index is copied into the run folder
 * (`runs/<id>/index.db`, SQLite `VACUUM INTO`: one consistent read, not blocked by an ingest and
 * not seeing one), and every read of the run — retrieval, chunk lookups, the long-context pack,
 * vectors, the model registry, the summary — goes to that copy. An `ingest` that commits
 * mid-run changes the live index only.
 *
 * The copy's identity (generation + content fingerprint) is recorded in config.json, its
 * document list in `index-manifest.json`. `--resume` runs against the same copy, so a run is
 * resumable against its version even after a re-ingest. The copy is deleted when the run
 * completes; resuming a completed run (e.g. with other --tags) copies the live index again and
 * accepts it only when its fingerprint is the recorded one. Otherwise it refuses, naming what
 * changed (InputError, exit 2).
 *
 * Why a copy rather than an in-memory snapshot or a long read transaction: only a copy survives
 * the process, which `--resume` after a re-ingest needs. Every reader (BM25 statistics, dense
 * vectors, the HNSW file, promoted models) then reads it through the ordinary code paths, with
 * no second implementation. A read transaction held for hours also fails when the store must
 * write (term statistics, vectors). bench/index-snapshot.ts measures the cost.
 */
import { carryRegistryInto } from "../finetune/open-registry.ts";
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Project } from "../pipeline/index.ts";
import { hasSnapshots, type IndexIdentity, type ManifestEntry, type SnapshotSource } from "../store/index.ts";
import { openVectorStoreFor } from "../store/vectors-open.ts";
import { embedPending } from "../retrieve/dense.ts";
import { InputError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/fs.ts";

export const SNAPSHOT_FILE = "index.db";
export const MANIFEST_FILE = "index-manifest.json";

/** What config.json records of the index a run read. */
export interface RunIndex extends IndexIdentity {
  /** The copy in the run folder while the run is resumable (deleted when it completes). */
  file: string;
}

export interface Manifest {
  chunkingHash?: string;
  documents: ManifestEntry[];
}

export interface PinnedIndex {
  /** The project over the run's copy: use it for everything the run reads. */
  project: Project;
  identity: IndexIdentity;
  manifest: Manifest;
  /** The live index's identity when it differs from the run's (a resume after an ingest). */
  liveIdentity?: IndexIdentity;
}

function snapshotSource(project: Project): SnapshotSource {
  if (!hasSnapshots(project.store)) throw new Error("this store cannot be snapshotted (a run needs the SQLite index)");
  return project.store;
}

const sidecars = (file: string) => [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];

/** Dense modes: embed chunks missing a vector in the live index first, so the work outlives the run. */
async function embedLivePending(project: Project): Promise<void> {
  if (project.config.retrieval.mode === "lexical") return;
  const embedder = project.embedder();
  if (!embedder) return;
  const vectors = openVectorStoreFor(project);
  try {
    if (vectors.pendingCount(embedder.id) > 0) await embedPending(vectors, embedder);
  } finally {
    vectors.close();
  }
}

/** Copy the live index (and any saved HNSW graphs, checked by fingerprint when opened) into runDir. */
function copyIndex(project: Project, runDir: string): string {
  const target = join(runDir, SNAPSHOT_FILE);
  const tmp = `${target}.tmp`;
  for (const f of [...sidecars(tmp), ...sidecars(target)]) rmSync(f, { force: true });
  snapshotSource(project).snapshotTo(tmp);
  // A Postgres project's registry is not in its SQLite snapshot: the pinned copy carries it, as on SQLite.
  carryRegistryInto(project.config, project.root, tmp);
  renameSync(tmp, target);
  const storeDir = dirname(project.indexFile);
  for (const name of readdirSync(storeDir)) {
    if (/^ann-.*\.hnsw$/.test(name)) copyFileSync(join(storeDir, name), join(runDir, name));
  }
  return target;
}

function open(project: Project, file: string): { project: Project; identity: IndexIdentity; manifest: Manifest } {
  const pinned = project.withIndex(file);
  try {
    const { identity, manifest, chunkingHash } = snapshotSource(pinned).identity();
    return { project: pinned, identity, manifest: { ...(chunkingHash !== undefined ? { chunkingHash } : {}), documents: manifest } };
  } catch (err) {
    pinned.close();
    throw err;
  }
}

/** A new run: copy the live index into runDir, write its manifest, and open the copy. */
export async function pinNewRun(project: Project, runDir: string): Promise<PinnedIndex> {
  await embedLivePending(project);
  const file = copyIndex(project, runDir);
  const pinned = open(project, file);
  writeFileAtomic(join(runDir, MANIFEST_FILE), JSON.stringify(pinned.manifest) + "\n");
  return pinned;
}

export function readManifest(runDir: string): Manifest | undefined {
  const file = join(runDir, MANIFEST_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as Manifest;
}

/**
 * Resume: the run's own copy when it is still there (whatever happened to the live index since);
 * otherwise a fresh copy of the live index, accepted only when its fingerprint is the recorded one.
 * `legacyCorpusHash` checks runs recorded before index snapshots existed.
 */
export function pinForResume(
  project: Project,
  runDir: string,
  runId: string,
  recorded: RunIndex | undefined,
  legacy?: { corpusHash: string; fingerprintOf: (p: Project) => string },
): PinnedIndex {
  const live = snapshotSource(project).identity();
  const copy = join(runDir, recorded?.file ?? SNAPSHOT_FILE);
  if (recorded && existsSync(copy)) {
    const pinned = open(project, copy);
    if (pinned.identity.fingerprint !== recorded.fingerprint) {
      pinned.project.close();
      throw new InputError(
        `cannot resume ${runId}: its index snapshot ${copy} has fingerprint ${pinned.identity.fingerprint}, but the run recorded ${recorded.fingerprint}; ` +
          "the file was replaced — start a new run (`ragtune eval`)",
      );
    }
    return { ...pinned, ...(live.identity.fingerprint !== recorded.fingerprint ? { liveIdentity: live.identity } : {}) };
  }
  // No copy (the run completed, or it predates snapshots): only an unchanged live index will do.
  const same = recorded ? live.identity.fingerprint === recorded.fingerprint : legacy ? legacy.fingerprintOf(project) === legacy.corpusHash : false;
  if (!same) {
    const what = recorded
      ? describeIndexChange(recorded, readManifest(runDir), live.identity, { chunkingHash: live.chunkingHash, documents: live.manifest })
      : "its documents differ from the ones it recorded (this run predates index snapshots, so the changed files cannot be named)";
    throw new InputError(
      `cannot resume ${runId}: the index changed since the run started and the run's copy of it (${copy}) is gone: ${what}. ` +
        "Start a new run (`ragtune eval`), or re-ingest the documents the run used.",
    );
  }
  const file = copyIndex(project, runDir);
  const pinned = open(project, file);
  if (recorded && pinned.identity.fingerprint !== recorded.fingerprint) {
    // An ingest committed between the check and the copy.
    pinned.project.close();
    throw new InputError(`cannot resume ${runId}: the index changed while the run was being resumed; try again when the ingest has finished`);
  }
  writeFileAtomic(join(runDir, MANIFEST_FILE), JSON.stringify(pinned.manifest) + "\n");
  return pinned;
}

/** Delete the run's copy of the index once the run is complete (the manifest stays). */
export function releaseSnapshot(runDir: string, file = SNAPSHOT_FILE): void {
  for (const f of sidecars(join(runDir, file))) rmSync(f, { force: true });
  for (const name of readdirSync(runDir)) if (/^ann-.*\.hnsw$/.test(name)) rmSync(join(runDir, name), { force: true });
}

function listPaths(paths: string[], max = 5): string {
  return paths.slice(0, max).join(", ") + (paths.length > max ? `, … (${paths.length - max} more)` : "");
}

/**
 * "generation 3 → 5; 2 documents changed (docs/a.md, docs/b.md), 1 added (docs/new.md), 1 removed (docs/old.md)".
 */
export function describeIndexChange(before: IndexIdentity, beforeManifest: Manifest | undefined, after: IndexIdentity, afterManifest: Manifest): string {
  const parts = [`generation ${before.generation} → ${after.generation}`, `fingerprint ${before.fingerprint} → ${after.fingerprint}`];
  if (!beforeManifest) {
    parts.push(`${before.documents} → ${after.documents} documents, ${before.chunks} → ${after.chunks} chunks`);
    return parts.join("; ");
  }
  const old = new Map(beforeManifest.documents.map((d) => [d.path, d]));
  const now = new Map(afterManifest.documents.map((d) => [d.path, d]));
  const changed = [...now.values()].filter((d) => old.has(d.path) && (old.get(d.path)!.hash !== d.hash || old.get(d.path)!.version !== d.version)).map((d) => d.path);
  const added = [...now.keys()].filter((p) => !old.has(p));
  const removed = [...old.keys()].filter((p) => !now.has(p));
  const n = (k: number, what: string) => `${k} document${k === 1 ? "" : "s"} ${what}`;
  if (changed.length) parts.push(`${n(changed.length, "changed")} (${listPaths(changed)})`);
  if (added.length) parts.push(`${n(added.length, "added")} (${listPaths(added)})`);
  if (removed.length) parts.push(`${n(removed.length, "removed")} (${listPaths(removed)})`);
  if (!changed.length && !added.length && !removed.length) {
    parts.push(
      (beforeManifest.chunkingHash ?? "") !== (afterManifest.chunkingHash ?? "")
        ? "the same documents, re-chunked with other chunking settings"
        : `the same documents, ${before.chunks} → ${after.chunks} chunks`,
    );
  }
  return parts.join("; ");
}
