/**
 * The model registry on Postgres, main-thread side: each method is one blocking call to the
 * "registry" service (store/postgres/registry.ts) over the process's shared connection
 * (store/postgres/connection.ts). User errors come back as values and are rethrown here as the
 * same InputError / JobFailure the SQLite registry throws.
 */
import { createHash, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { PostgresConnection } from "../store/postgres/connection.ts";
import type { Result } from "../store/postgres/registry.ts";
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

export class PostgresModelRegistry implements ModelRegistry {
  readonly location: string;
  private readonly now: () => Date;
  private readonly randomSuffix: () => string;
  private closed = false;

  /** `release` runs on close (the caller's share of the connection). */
  constructor(
    private readonly connection: PostgresConnection,
    options: RegistryOptions & { release?: () => void } = {},
  ) {
    this.location = `postgres ${connection.server}`;
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
    return this.call("register", [artifact, options, this.now().toISOString(), this.randomSuffix()]);
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
