/**
 * Copy a SQLite index into a Postgres store losslessly: every document and chunk in one
 * transaction (one applyIngest, so an interrupted copy leaves the target empty), the index's
 * meta (chunking settings etc.) with them, then the copy is verified: counts, a checksum over
 * every field of every document and chunk, and the content fingerprint must match on both sides.
 * Term statistics are rebuilt on the target by the copy (its own term dictionary). Chunk vectors
 * are copied and verified too (postgres/vectors-migrate.ts), and so are the model registry, the
 * index versions (entries and kept copies), and the request log and API keys next to the index
 * (`requests.db`, `keys.db`, when present; serve/log-postgres.ts, serve/keys-postgres.ts).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { migrateKeys, type KeysMigration } from "../serve/keys-postgres.ts";
import { migrateRequestLog, type RequestLogMigration } from "../serve/log-postgres.ts";
import type { Store } from "./index.ts";
import { openStore } from "./sqlite.ts";
import { openPostgresStore, redactUrl, type PostgresStore } from "./postgres/sync.ts";
import { readSqliteMeta } from "./postgres/snapshots.ts";
import { migrateVectors, type VectorMigration } from "./postgres/vectors-migrate.ts";
import { migrateArtifacts, migrateRegistry, type CopiedPart } from "../finetune/registry-postgres.ts";
import { migrateIndexVersions } from "./versions-postgres.ts";


export interface StoreChecksum {
  documents: number;
  chunks: number;
  /** sha256 over every field of every document and chunk in path/ordinal order. */
  checksum: string;
}

/** A canonical checksum of a store's content (key order fixed, so equal content hashes equal on any backend). */
export function storeChecksum(store: Store): StoreChecksum {
  const h = createHash("sha256");
  const docs = store.documents();
  for (const d of docs) h.update(JSON.stringify([d.path, d.hash, d.version, d.title, d.bytes, d.chunks, d.ingestedAt]) + "\n");
  const chunks = store.chunks();
  for (const c of chunks) {
    h.update(JSON.stringify([c.id, c.path, c.ordinal, c.title, c.headingPath, c.text, c.lineStart, c.lineEnd, c.version, c.tokens, canonical(c.meta), c.spans ?? []]) + "\n");
  }
  return { documents: docs.length, chunks: chunks.length, checksum: h.digest("hex") };
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

export interface MigrationReport {
  from: string;
  to: string;
  source: StoreChecksum & { fingerprint: string };
  target: StoreChecksum & { fingerprint: string; generation: number };
  meta: string[];
  /** Present when the source had vectors. */
  vectors?: VectorMigration;
  /** The request log copied from `<storeDir>/requests.db`; absent when there was none. */
  requestLog?: RequestLogMigration;
  /** The API keys copied from `<storeDir>/keys.db`; absent when there were none. */
  keys?: KeysMigration;
  /** The other parts copied with the index, each verified (counts and checksum equal on both sides). */
  copied?: CopiedPart[];
}

/** `root`: the project folder model artifact paths are relative to (default: the folder above the index's). */
export function migrateSqliteToPostgres(file: string, url: string, options: { timeoutMs?: number; root?: string } = {}): MigrationReport {
  if (!existsSync(file)) throw new Error(`no SQLite index at ${file}: run \`ragtune ingest\` first, or name one with --from`);
  const source = openStore(file);
  let target: PostgresStore | undefined;
  try {
    const meta = readSqliteMeta(file);
    target = openPostgresStore(url, { timeoutMs: options.timeoutMs ?? 30 * 60_000 });
    const already = target.documents().length;
    if (already > 0) throw new Error(`the target database already holds ${already} documents; migrate into an empty database`);
    const chunksByPath = new Map<string, ReturnType<Store["chunks"]>>();
    for (const c of source.chunks()) {
      const list = chunksByPath.get(c.path);
      if (list) list.push(c);
      else chunksByPath.set(c.path, [c]);
    }
    const upserts = source.documents().map((doc) => ({ doc, chunks: chunksByPath.get(doc.path) ?? [] }));
    target.applyIngest({ upserts, removals: [], meta });
    const sourceSum = { ...storeChecksum(source), fingerprint: source.identity().identity.fingerprint };
    const ident = target.identity().identity;
    const targetSum = { ...storeChecksum(target), fingerprint: ident.fingerprint, generation: ident.generation };
    const report: MigrationReport = { from: file, to: redactUrl(url), source: sourceSum, target: targetSum, meta: Object.keys(meta).sort() };
    for (const k of ["documents", "chunks", "checksum", "fingerprint"] as const) {
      if (sourceSum[k] !== targetSum[k]) throw new Error(`the copy differs from the source (${k}: ${sourceSum[k]} vs ${targetSum[k]}); the target now holds a partial copy — drop its tables before retrying`);
    }
    const vectors = migrateVectors(file, target);
    if (vectors) report.vectors = vectors;
    // Registry and index versions next to the index (each verified by its own counts and checksum).
    const same = { timeoutMs: options.timeoutMs ?? 30 * 60_000 }; // the store's connection, shared
    report.copied = [migrateRegistry(file, url, same), migrateIndexVersions(file, url, same)];
    const artifacts = migrateArtifacts(file, url, { ...same, root: options.root ?? dirname(dirname(file)) });
    if (artifacts) report.copied.push(artifacts);
    const dir = dirname(file);
    const requestLog = migrateRequestLog(join(dir, "requests.db"), target.connection);
    const keys = migrateKeys(join(dir, "keys.db"), target.connection);
    return { ...report, ...(requestLog ? { requestLog } : {}), ...(keys ? { keys } : {}) };
  } finally {
    source.close();
    target?.close();
  }
}
