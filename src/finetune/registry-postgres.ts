/**
 * The model registry on Postgres, main-thread side: each method is one blocking call to the
 * "registry" service (store/postgres/registry.ts) over the process's shared connection
 * (store/postgres/connection.ts). User errors come back as values and are rethrown here as the
 * same InputError / JobFailure the SQLite registry throws.
 */
import { randomBytes } from "node:crypto";
import type { PostgresConnection } from "../store/postgres/connection.ts";
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
