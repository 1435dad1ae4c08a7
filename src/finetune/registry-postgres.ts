/**
 * The model registry on Postgres, main-thread side: each method is one blocking call to the
 * "registry" service (store/postgres/registry.ts) over the process's shared connection
 * (store/postgres/connection.ts). User errors come back as values and are rethrown here as the
 * same InputError / JobFailure the SQLite registry throws.
 *
 * Artifacts: registering a model whose artifact is a local folder or file (the classifier's and
 * the memoriser's `<storeDir>/models/<dir>`) also stores its files in `ft_artifacts`, in the same
 * transaction (artifact-pack.ts), up to ARTIFACT_LIMIT_BYTES; `localArtifact` gives any process a
 * local copy (`<storeDir>/models-cache/<id>`). Provider-hosted models (a generator id) store nothing.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { PostgresConnection } from "../store/postgres/connection.ts";
import type { Result, StoredArtifactInfo } from "../store/postgres/registry.ts";
import { ArtifactNotPacked, materialiseArtifact, packArtifact, type PackedArtifact } from "./artifact-pack.ts";
import { InputError, JobFailure } from "../util/errors.ts";
import type { GateReport, ModelRecord, TrainedArtifact } from "./index.ts";
import {
  checkForce,
  type ModelRegistry,
  type PromoteOptions,
  type PromotionEvent,
  type RegisterOptions,
  type RegistryOptions,
  type RegistryRows,
} from "./registry.ts";

export interface PostgresRegistryOptions {
  /** The project folder: relative artifact paths resolve against it (default: the working directory). */
  root?: string;
  /** Where stored artifacts are materialised (default `<root>/.ragtune/models-cache`; `<storeDir>/models-cache`). */
  cacheDir?: string;
  /** Where the "stored as a local path only" warning goes (default: stderr). */
  onWarning?: (message: string) => void;
  /** Injected for tests; default ARTIFACT_LIMIT_BYTES (64 MB). */
  artifactLimitBytes?: number;
}

export class PostgresModelRegistry implements ModelRegistry {
  readonly location: string;
  private readonly now: () => Date;
  private readonly randomSuffix: () => string;
  private closed = false;

  /** Project folder (artifact paths are relative to it) and where stored artifacts are materialised. */
  private readonly root: string;
  private readonly cacheDir: string;
  private readonly warn: (message: string) => void;
  private readonly artifactLimit: number | undefined;

  /** `release` runs on close (the caller's share of the connection). */
  constructor(
    private readonly connection: PostgresConnection,
    options: RegistryOptions & PostgresRegistryOptions & { release?: () => void } = {},
  ) {
    this.location = `postgres ${connection.server}`;
    this.root = options.root ?? process.cwd();
    this.cacheDir = options.cacheDir ?? join(this.root, ".ragtune", "models-cache");
    this.warn = options.onWarning ?? ((m) => process.stderr.write(`warning: ${m}\n`));
    this.artifactLimit = options.artifactLimitBytes;
    this.now = options.now ?? (() => new Date());
    this.randomSuffix = options.randomSuffix ?? (() => randomBytes(2).toString("hex"));
    this.release = options.release ?? (() => undefined);
  }

  private readonly release: () => void;

  private raw<T>(method: string, args: unknown[] = []): T {
    if (this.closed) throw new Error(`the model registry at ${this.location} is closed (call ${method})`);
    return this.connection.call<T>(`registry.${method}`, args);
  }

  private call<T>(method: string, args: unknown[] = []): T {
    const r = this.raw<Result<T>>(method, args);
    if (r.ok) return r.value;
    throw r.kind === "input" ? new InputError(r.message) : new JobFailure(r.message);
  }

  register(artifact: TrainedArtifact, options: RegisterOptions): ModelRecord {
    const packed = this.pack(artifact);
    const record = this.call<ModelRecord>("register", [artifact, options, this.now().toISOString(), this.randomSuffix(), packed.packed]);
    if (packed.notStored) this.warn(`${record.id}: ${packed.notStored}; it is registered as a local path only, and other machines on this database cannot serve it`);
    return record;
  }

  /**
   * The artifact's files to store with the registry row: for in-process models (no generator id)
   * whose artifact is an existing local path. Too large (or not plain files): stored as a path
   * only, with the reason — refusing would throw away a finished training run and its gate, and
   * the training machine can still serve the model; other machines get a clear error naming why.
   */
  private pack(artifact: TrainedArtifact): { packed?: PackedArtifact; notStored?: string } {
    if (artifact.generatorId) return {};
    const path = resolve(this.root, artifact.artifact);
    if (!existsSync(path)) return {};
    try {
      return { packed: packArtifact(path, this.artifactLimit) };
    } catch (err) {
      if (err instanceof ArtifactNotPacked) return { notStored: err.message };
      throw err;
    }
  }

  localArtifact(record: ModelRecord): ModelRecord {
    if (record.generatorId) return record;
    const local = resolve(this.root, record.artifact);
    if (existsSync(local)) return record;
    const stored = this.raw<(StoredArtifactInfo & { gzip: Uint8Array }) | undefined>("artifact", [record.id]) ?? undefined;
    if (!stored) {
      throw new JobFailure(
        `model ${record.id}: its artifact ${local} is not on this machine and ${this.location} holds no copy of it (registered before artifacts were stored, or over the size limit): copy the folder here, re-register it with \`ragtune store migrate\`, or retrain`,
      );
    }
    try {
      return { ...record, artifact: materialiseArtifact(this.cacheDir, record.id, stored) };
    } catch (err) {
      throw new JobFailure(`model ${record.id}: ${(err as Error).message}`);
    }
  }

  /** What `ft_artifacts` holds, without the bytes (by model id). */
  storedArtifacts(): StoredArtifactInfo[] {
    return this.raw("artifacts");
  }

  /** Store the files of a registered model (store migrate). */
  storeArtifact(id: string, packed: PackedArtifact): StoredArtifactInfo {
    return this.call("storeArtifact", [id, packed]);
  }

  setGate(id: string, gate: GateReport): ModelRecord {
    return this.call("setGate", [id, gate]);
  }

  list(filter: { task?: string } = {}): ModelRecord[] {
    return this.call("list", [filter]);
  }

  find(id: string): ModelRecord | undefined {
    return this.raw<ModelRecord | undefined>("find", [id]) ?? undefined;
  }

  get(id: string): ModelRecord {
    return this.call("get", [id]);
  }

  promoted(task: string): ModelRecord | undefined {
    return this.call<ModelRecord | undefined>("promoted", [task]) ?? undefined;
  }

  history(task?: string): PromotionEvent[] {
    return this.call("history", [task]);
  }

  promote(id: string, options: PromoteOptions = {}): ModelRecord {
    checkForce(options);
    return this.call("promote", [id, options, this.now().toISOString()]);
  }

  rollback(task: string): { promoted: ModelRecord; retired: ModelRecord } {
    return this.call("rollback", [task, this.now().toISOString()]);
  }

  exportRows(): RegistryRows {
    return this.raw("exportRows");
  }

  importRows(rows: RegistryRows): void {
    this.raw("importRows", [rows]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}

/** What `ragtune store migrate` reports per copied part (store/migrate.ts). */
export interface CopiedPart {
  name: string;
  counts: Record<string, number>;
  /** sha256 of the part's canonical content, equal on both sides (the copy is verified). */
  checksum: string;
}

/** sha256 over every column of every row (models by id, promotions by seq). */
export function registryChecksum(rows: RegistryRows): string {
  const h = createHash("sha256");
  for (const m of [...rows.models].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) h.update(JSON.stringify(Object.entries(m).sort()) + "\n");
  for (const p of [...rows.promotions].sort((a, b) => Number(a.seq) - Number(b.seq))) h.update(JSON.stringify(Object.entries({ ...p, seq: Number(p.seq) }).sort()) + "\n");
  return h.digest("hex");
}

/** The registry rows of a SQLite index file, read-only (none when it has no registry tables). */
export function readSqliteRegistry(file: string): RegistryRows {
  const db = new Database(file, { readonly: true });
  try {
    const has = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('ft_models', 'ft_promotions')").get() as { n: number };
    if (has.n < 2) return { models: [], promotions: [] };
    return {
      models: db.prepare("SELECT * FROM ft_models ORDER BY id").all() as RegistryRows["models"],
      promotions: db.prepare("SELECT * FROM ft_promotions ORDER BY seq").all() as RegistryRows["promotions"],
    };
  } finally {
    db.close();
  }
}

/**
 * Copy the model registry of a SQLite index file into an empty Postgres registry (one
 * transaction), then compare counts and checksums of both sides.
 */
export function migrateRegistry(file: string, url: string, options: { timeoutMs?: number } = {}): CopiedPart {
  const source = readSqliteRegistry(file);
  const connection = PostgresConnection.acquire(url, options);
  const target = new PostgresModelRegistry(connection, { release: () => connection.release() });
  try {
    const already = target.exportRows();
    if (already.models.length > 0) throw new Error(`the target database already holds ${already.models.length} models; migrate into an empty database`);
    target.importRows(source);
    const copied = target.exportRows();
    const sum = registryChecksum(source);
    const counts = { models: source.models.length, promotions: source.promotions.length };
    const got = { models: copied.models.length, promotions: copied.promotions.length, checksum: registryChecksum(copied) };
    for (const k of ["models", "promotions"] as const) {
      if (counts[k] !== got[k]) throw new Error(`the registry copy differs from the source (${k}: ${counts[k]} vs ${got[k]})`);
    }
    if (sum !== got.checksum) throw new Error(`the registry copy differs from the source (checksum ${sum} vs ${got.checksum})`);
    return { name: "model registry", counts, checksum: sum };
  } finally {
    target.close();
  }
}

/**
 * Store the artifacts of the locally trained models of a migrated registry (after
 * migrateRegistry): every model without a generator id whose artifact exists under `root` is packed
 * and stored (ArtifactNotPacked ones — over the limit, symlinks — stay local paths and are
 * counted), then the target's list of stored artifacts is compared with what was packed: counts
 * and a checksum over (model id, sha256) lines. Undefined when the registry has no such model.
 */
export function migrateArtifacts(file: string, url: string, options: { root: string; timeoutMs?: number; artifactLimitBytes?: number }): CopiedPart | undefined {
  const local = readSqliteRegistry(file).models.filter((m) => m.generator_id === null);
  if (local.length === 0) return undefined;
  const connection = PostgresConnection.acquire(url, options);
  const target = new PostgresModelRegistry(connection, { root: options.root, release: () => connection.release() });
  try {
    const packed: { id: string; sha256: string }[] = [];
    let missing = 0;
    let notStored = 0;
    let bytes = 0;
    for (const m of local) {
      const path = resolve(options.root, m.artifact);
      if (!existsSync(path)) {
        missing++;
        continue;
      }
      let p: PackedArtifact;
      try {
        p = packArtifact(path, options.artifactLimitBytes);
      } catch (err) {
        if (!(err instanceof ArtifactNotPacked)) throw err;
        notStored++;
        continue;
      }
      target.storeArtifact(m.id, p);
      packed.push({ id: m.id, sha256: p.sha256 });
      bytes += p.bytes;
    }
    const sum = (xs: { id: string; sha256: string }[]) => {
      const h = createHash("sha256");
      for (const x of [...xs].sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)))) h.update(`${x.id} ${x.sha256}\n`);
      return h.digest("hex");
    };
    const stored = target.storedArtifacts().map((s) => ({ id: s.modelId, sha256: s.sha256 }));
    if (stored.length !== packed.length) throw new Error(`the artifact copy differs from the source (artifacts: ${packed.length} vs ${stored.length})`);
    const checksum = sum(packed);
    if (sum(stored) !== checksum) throw new Error(`the artifact copy differs from the source (checksum ${checksum} vs ${sum(stored)})`);
    return { name: "model artifacts", counts: { artifacts: packed.length, bytes, "folders not found": missing, "over the limit": notStored }, checksum };
  } finally {
    target.close();
  }
}
