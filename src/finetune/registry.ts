/**
 * The model registry: every trained model of a project, next to its index — in the SQLite index
 * file (`<storeDir>/index.db`, tables `ft_models` and `ft_promotions`; `SqliteModelRegistry` here)
 * or in the project's Postgres database (same tables; store/postgres/registry.ts behind
 * registry-postgres.ts) — so a model, its data hash, its settings, its metrics and its gate travel
 * with the index they were measured on. Callers get one from `openModelRegistry` (open-registry.ts).
 *
 * - Exactly one model per task is "promoted" (a partial unique index enforces it); promoting
 *   another retires the previous one, which stays in the registry and can be rolled back to.
 * - `ft_promotions` is the history: every promotion (forced ones with their reason) and every
 *   rollback. `rollback(task)` walks it as a stack — promote A, B, C then rollback → B,
 *   rollback → A, rollback → "nothing to roll back to".
 * - Every write is one transaction: a crash leaves the previous state. Writers are serialised
 *   (SQLite: BEGIN IMMEDIATE; Postgres: an advisory lock), so two processes promoting at once
 *   leave one consistent history.
 */
import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { openStore } from "../store/index.ts";
import { didYouMean, InputError, JobFailure } from "../util/errors.ts";
import type { GateReport, ModelRecord, TrainedArtifact, TrainingTask } from "./index.ts";

export const TRAINING_TASKS: readonly TrainingTask[] = ["classify", "qa", "extract"];

export const SQLITE_REGISTRY_SCHEMA = `
CREATE TABLE IF NOT EXISTS ft_models (
  id           TEXT PRIMARY KEY,
  task         TEXT NOT NULL,
  trainer      TEXT NOT NULL,
  base_model   TEXT NOT NULL,
  dataset_hash TEXT NOT NULL,
  config       TEXT NOT NULL,
  metrics      TEXT NOT NULL,
  artifact     TEXT NOT NULL,
  generator_id TEXT,
  parent       TEXT,
  created_at   TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('candidate', 'promoted', 'retired')),
  promoted_at  TEXT,
  forced       TEXT,
  gate         TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ft_models_one_promoted ON ft_models(task) WHERE status = 'promoted';
CREATE INDEX IF NOT EXISTS ft_models_task ON ft_models(task, created_at);
CREATE TABLE IF NOT EXISTS ft_promotions (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  task          TEXT NOT NULL,
  action        TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
  model_id      TEXT NOT NULL REFERENCES ft_models(id),
  previous_id   TEXT,
  forced_reason TEXT,
  at            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ft_promotions_task ON ft_promotions(task, seq);
`;

/** A row of ft_models, as both backends store it (JSON columns as text). */
export interface ModelRow {
  id: string;
  task: string;
  trainer: string;
  base_model: string;
  dataset_hash: string;
  config: string;
  metrics: string;
  artifact: string;
  generator_id: string | null;
  parent: string | null;
  created_at: string;
  status: ModelRecord["status"];
  promoted_at: string | null;
  forced: string | null;
  gate: string | null;
}

/** A row of ft_promotions. */
export interface PromotionRow {
  seq: number;
  task: string;
  action: "promote" | "rollback";
  model_id: string;
  previous_id: string | null;
  forced_reason: string | null;
  at: string;
}

/** One entry of a task's promotion history. */
export interface PromotionEvent {
  seq: number;
  task: TrainingTask;
  action: "promote" | "rollback";
  /** The model promoted by this event. */
  modelId: string;
  /** The model it replaced (now retired), if any. */
  previousId?: string;
  /** Set when the promotion bypassed a failed or missing gate. */
  forcedReason?: string;
  at: string;
}

export interface RegisterOptions {
  /** Content hash of the training data (train + validation). */
  datasetHash: string;
  /** The model promoted for the task when this one was trained: what its gate compared against. */
  parent?: string;
  /** The promotion gate computed by the training command. */
  gate?: GateReport;
}

export interface PromoteOptions {
  /** The gate's evidence; default: the gate stored on the record (see `register`, `setGate`). */
  gate?: GateReport;
  /** Promote even though the gate refused (or is missing); the reason is recorded. */
  force?: { reason: string };
}

export interface RegistryOptions {
  /** Injected for tests. */
  now?: () => Date;
  /** Injected for tests: 2 random bytes for the id suffix. */
  randomSuffix?: () => string;
}

export function toRecord(r: ModelRow): ModelRecord {
  const rec: ModelRecord = {
    id: r.id,
    trainer: r.trainer,
    task: r.task as TrainingTask,
    baseModel: r.base_model,
    datasetHash: r.dataset_hash,
    config: JSON.parse(r.config) as Record<string, unknown>,
    metrics: JSON.parse(r.metrics) as Record<string, number>,
    artifact: r.artifact,
    createdAt: r.created_at,
    status: r.status,
  };
  if (r.generator_id !== null) rec.generatorId = r.generator_id;
  if (r.parent !== null) rec.parent = r.parent;
  if (r.promoted_at !== null) rec.promotedAt = r.promoted_at;
  if (r.forced !== null) rec.forced = JSON.parse(r.forced) as { reason: string; at: string };
  if (r.gate !== null) rec.gate = JSON.parse(r.gate) as GateReport;
  return rec;
}

export function toEvent(r: PromotionRow): PromotionEvent {
  return {
    seq: Number(r.seq),
    task: r.task as TrainingTask,
    action: r.action,
    modelId: r.model_id,
    ...(r.previous_id !== null ? { previousId: r.previous_id } : {}),
    ...(r.forced_reason !== null ? { forcedReason: r.forced_reason } : {}),
    at: r.at,
  };
}

/** `m-YYYYMMDD-HHMMSS-xxxx` (UTC). */
export function modelId(date: Date, suffix: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const d = `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}`;
  const t = `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  return `m-${d}-${t}-${suffix}`;
}

export function checkTask(task: string): TrainingTask {
  if (!(TRAINING_TASKS as readonly string[]).includes(task)) {
    const hint = didYouMean(task, TRAINING_TASKS);
    throw new InputError(`unknown task "${task}"${hint ? ` — did you mean "${hint}"?` : ""} (tasks: ${TRAINING_TASKS.join(", ")})`);
  }
  return task as TrainingTask;
}

/** Every row of a registry, for copies (store migrate, a Postgres run's pinned snapshot). */
export interface RegistryRows {
  models: ModelRow[];
  promotions: PromotionRow[];
}

/** The InputError for an id that is not in the registry, naming the closest one. */
export function unknownModel(id: string, ids: readonly string[]): InputError {
  const hint = didYouMean(id, ids);
  return new InputError(
    `unknown model "${id}"` + (hint ? ` — did you mean "${hint}"?` : ids.length === 0 ? " (the registry is empty: train a model first)" : " (run `ragtune models list`)"),
  );
}

/** The forced-promotion reason check, before anything is read (the same on every backend). */
export function checkForce(options: PromoteOptions): void {
  const force = options.force;
  if (force !== undefined && !force.reason?.trim()) throw new InputError("a forced promotion needs a reason (it is recorded with the model)");
}

/**
 * Whether `model` may replace `current` (see ModelRegistry.promote); returns the gate to store
 * with the promotion. Throws the refusal. Shared by both backends, so they refuse alike.
 */
export function checkPromotion(model: ModelRecord, current: ModelRecord | undefined, options: PromoteOptions): GateReport | undefined {
  const id = model.id;
  if (current?.id === model.id) throw new InputError(`${id} is already the promoted ${model.task} model`);
  const gate = options.gate ?? model.gate;
  if (!options.force) {
    if (!gate) {
      throw new JobFailure(`${id} has no promotion gate report: evaluate it against the baseline and the promoted model, or promote with --force --reason "…"`);
    }
    if (!gate.passed) throw new JobFailure(`promotion of ${id} refused by the gate — ${gate.reason}`);
    if (current && model.parent !== current.id && !gate.comparisons.some((c) => c.against.includes(current.id))) {
      throw new JobFailure(
        `promotion of ${id} refused: its gate compared against ${model.parent ?? "no promoted model"}, but ${current.id} is promoted now — re-run the gate against ${current.id}`,
      );
    }
  }
  return gate;
}

/** The model a rollback re-promotes: the task's history walked as a stack. Throws when there is none. */
export function rollbackTarget(task: TrainingTask, history: readonly PromotionEvent[], current: ModelRecord | undefined): string {
  const stack: string[] = [];
  for (const e of history) {
    if (e.action === "promote") stack.push(e.modelId);
    else stack.pop();
  }
  if (!current) throw new InputError(`no ${task} model is promoted: nothing to roll back`);
  if (stack.length < 2 || stack[stack.length - 1] !== current.id) {
    throw new InputError(`nothing to roll back to: ${current.id} is the first promoted ${task} model in the history`);
  }
  return stack[stack.length - 2];
}

/**
 * A project's model registry, on SQLite (SqliteModelRegistry) or Postgres (PostgresModelRegistry,
 * registry-postgres.ts): the same methods, results, ordering and errors on both
 * (test/registry-contract.test.ts). Get one from `openModelRegistry` (open-registry.ts).
 */
export interface ModelRegistry {
  /** Where it lives, for messages: the index file, or the Postgres server (`host:port/db`). */
  readonly location: string;
  /** Record a trained model as a candidate. */
  register(artifact: TrainedArtifact, options: RegisterOptions): ModelRecord;
  /** Store (or replace) the gate report of a model. */
  setGate(id: string, gate: GateReport): ModelRecord;
  /** Models, newest first (created_at, then id, in byte order); optionally of one task. */
  list(filter?: { task?: string }): ModelRecord[];
  /** The model, or undefined. */
  find(id: string): ModelRecord | undefined;
  /** The model; an InputError naming the closest id when there is none. */
  get(id: string): ModelRecord;
  /** The promoted model of a task, if any. */
  promoted(task: string): ModelRecord | undefined;
  /** Promotions and rollbacks of a task (or all tasks), oldest first. */
  history(task?: string): PromotionEvent[];
  /**
   * Make `id` the promoted model of its task when its gate passed (or with `force` and a reason,
   * which is recorded). The gate must be current: computed against the model promoted now (the
   * record's `parent`, or a comparison naming the promoted model's id) — a gate from before another
   * promotion is refused as stale. Refusals are JobFailures (exit 1) carrying the gate's numbers.
   */
  promote(id: string, options?: PromoteOptions): ModelRecord;
  /**
   * Re-promote the model that was promoted before the current one (walking the history as a
   * stack); the current one is retired. Returns both.
   */
  rollback(task: string): { promoted: ModelRecord; retired: ModelRecord };
  /**
   * The record with `artifact` a path that exists on this machine, for loading the model. SQLite:
   * the record as it is (its folder is next to the index). Postgres: the local folder when it is
   * there, else the copy stored in the database materialised into `<storeDir>/models-cache/<id>`
   * (sha256-checked, written atomically); a JobFailure when neither exists. Records served by a
   * generator id are returned as they are.
   */
  localArtifact(record: ModelRecord): ModelRecord;
  /** Every row, models by id and promotions by seq (for copies). */
  exportRows(): RegistryRows;
  /** Replace every row with these, in one transaction (a copy into a new database or a run's snapshot). */
  importRows(rows: RegistryRows): void;
  close(): void;
}

export class SqliteModelRegistry implements ModelRegistry {

  /** The index file the registry lives in. */
  readonly file: string;
  readonly location: string;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private readonly randomSuffix: () => string;

  /**
   * Open (and create when needed) the registry in a project's index file. The file is opened
   * through the store first: a missing one is initialised as a ragtune index (so `ragtune ingest`
   * keeps working on it), one that is not a ragtune index is refused.
   */
  constructor(file: string, options: RegistryOptions = {}) {
    this.file = file;
    this.location = file;
    this.now = options.now ?? (() => new Date());
    this.randomSuffix = options.randomSuffix ?? (() => randomBytes(2).toString("hex"));
    // The store creates a fresh index, and refuses files that are not ragtune indexes (or newer ones).
    if (file !== ":memory:") openStore(file).close();
    try {
      this.db = new Database(file);
    } catch (err) {
      throw new Error(`cannot open the model registry in ${file}: ${(err as Error).message}`);
    }
    try {
      this.db.pragma("busy_timeout = 5000");
      this.db.pragma("foreign_keys = ON");
      this.db.transaction(() => this.db.exec(SQLITE_REGISTRY_SCHEMA)).immediate();
    } catch (err) {
      this.db.close();
      throw new Error(`cannot open the model registry in ${file}: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Record a trained model as a candidate. */
  register(artifact: TrainedArtifact, options: RegisterOptions): ModelRecord {
    const task = checkTask(artifact.task);
    if (!options.datasetHash) throw new InputError("register: datasetHash is required (hash of the train + validation data)");
    return this.db
      .transaction(() => {
        if (options.parent !== undefined) this.require(options.parent);
        const now = this.now();
        let id = modelId(now, this.randomSuffix());
        for (let i = 0; this.find(id); i++) {
          if (i > 20) throw new Error("register: could not find a free model id");
          id = modelId(now, randomBytes(2).toString("hex"));
        }
        this.db
          .prepare(
            `INSERT INTO ft_models (id, task, trainer, base_model, dataset_hash, config, metrics, artifact, generator_id, parent, created_at, status, gate)
             VALUES (@id, @task, @trainer, @baseModel, @datasetHash, @config, @metrics, @artifact, @generatorId, @parent, @createdAt, 'candidate', @gate)`,
          )
          .run({
            id,
            task,
            trainer: artifact.trainer,
            baseModel: artifact.baseModel,
            datasetHash: options.datasetHash,
            config: JSON.stringify(artifact.config ?? {}),
            metrics: JSON.stringify(artifact.metrics ?? {}),
            artifact: artifact.artifact,
            generatorId: artifact.generatorId ?? null,
            parent: options.parent ?? null,
            createdAt: now.toISOString(),
            gate: options.gate ? JSON.stringify(options.gate) : null,
          });
        return this.get(id);
      })
      .immediate();
  }

  /** Store (or replace) the gate report of a model. */
  setGate(id: string, gate: GateReport): ModelRecord {
    return this.db
      .transaction(() => {
        this.require(id);
        this.db.prepare("UPDATE ft_models SET gate = ? WHERE id = ?").run(JSON.stringify(gate), id);
        return this.get(id);
      })
      .immediate();
  }

  /** Models, newest first; optionally of one task. */
  list(filter: { task?: string } = {}): ModelRecord[] {
    const rows =
      filter.task === undefined
        ? (this.db.prepare("SELECT * FROM ft_models ORDER BY created_at DESC, id DESC").all() as ModelRow[])
        : (this.db.prepare("SELECT * FROM ft_models WHERE task = ? ORDER BY created_at DESC, id DESC").all(checkTask(filter.task)) as ModelRow[]);
    return rows.map(toRecord);
  }

  /** The model, or undefined. */
  find(id: string): ModelRecord | undefined {
    const row = this.db.prepare("SELECT * FROM ft_models WHERE id = ?").get(id) as ModelRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The model; an InputError naming the closest id when there is none. */
  get(id: string): ModelRecord {
    return this.require(id);
  }

  /** The promoted model of a task, if any. */
  promoted(task: string): ModelRecord | undefined {
    const row = this.db.prepare("SELECT * FROM ft_models WHERE task = ? AND status = 'promoted'").get(checkTask(task)) as ModelRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Promotions and rollbacks of a task (or all tasks), oldest first. */
  history(task?: string): PromotionEvent[] {
    const rows =
      task === undefined
        ? (this.db.prepare("SELECT * FROM ft_promotions ORDER BY seq").all() as PromotionRow[])
        : (this.db.prepare("SELECT * FROM ft_promotions WHERE task = ? ORDER BY seq").all(checkTask(task)) as PromotionRow[]);
    return rows.map(toEvent);
  }

  /**
   * Make `id` the promoted model of its task when its gate passed (or with `force` and a reason,
   * which is recorded). The gate must be current: computed against the model promoted now (the
   * record's `parent`, or a comparison naming the promoted model's id) — a gate from before another
   * promotion is refused as stale. Refusals are JobFailures (exit 1) carrying the gate's numbers.
   */
  promote(id: string, options: PromoteOptions = {}): ModelRecord {
    checkForce(options);
    const force = options.force;
    return this.db
      .transaction(() => {
        const model = this.require(id);
        const current = this.promoted(model.task);
        const gate = checkPromotion(model, current, options);
        const at = this.now().toISOString();
        if (current) this.db.prepare("UPDATE ft_models SET status = 'retired' WHERE id = ?").run(current.id);
        this.db
          .prepare("UPDATE ft_models SET status = 'promoted', promoted_at = ?, forced = ?, gate = ? WHERE id = ?")
          .run(at, force ? JSON.stringify({ reason: force.reason.trim(), at }) : null, gate ? JSON.stringify(gate) : null, id);
        this.db
          .prepare("INSERT INTO ft_promotions (task, action, model_id, previous_id, forced_reason, at) VALUES (?, 'promote', ?, ?, ?, ?)")
          .run(model.task, id, current?.id ?? null, force ? force.reason.trim() : null, at);
        return this.get(id);
      })
      .immediate();
  }

  /**
   * Re-promote the model that was promoted before the current one (walking the history as a
   * stack); the current one is retired. Returns both.
   */
  rollback(task: string): { promoted: ModelRecord; retired: ModelRecord } {
    const t = checkTask(task);
    return this.db
      .transaction(() => {
        const current = this.promoted(t);
        const target = rollbackTarget(t, this.history(t), current)!;
        const retiring = current!;
        const at = this.now().toISOString();
        this.db.prepare("UPDATE ft_models SET status = 'retired' WHERE id = ?").run(retiring.id);
        this.db.prepare("UPDATE ft_models SET status = 'promoted', promoted_at = ? WHERE id = ?").run(at, target);
        this.db
          .prepare("INSERT INTO ft_promotions (task, action, model_id, previous_id, forced_reason, at) VALUES (?, 'rollback', ?, ?, NULL, ?)")
          .run(t, target, retiring.id, at);
        return { promoted: this.get(target), retired: this.get(retiring.id) };
      })
      .immediate();
  }

  localArtifact(record: ModelRecord): ModelRecord {
    return record;
  }

  exportRows(): RegistryRows {
    return {
      models: this.db.prepare("SELECT * FROM ft_models ORDER BY id").all() as ModelRow[],
      promotions: this.db.prepare("SELECT * FROM ft_promotions ORDER BY seq").all() as PromotionRow[],
    };
  }

  importRows(rows: RegistryRows): void {
    this.db
      .transaction(() => {
        this.db.exec("DELETE FROM ft_promotions; DELETE FROM ft_models;");
        const m = this.db.prepare(
          `INSERT INTO ft_models (id, task, trainer, base_model, dataset_hash, config, metrics, artifact, generator_id, parent, created_at, status, promoted_at, forced, gate)
           VALUES (@id, @task, @trainer, @base_model, @dataset_hash, @config, @metrics, @artifact, @generator_id, @parent, @created_at, @status, @promoted_at, @forced, @gate)`,
        );
        for (const r of rows.models) m.run(r);
        const p = this.db.prepare(
          "INSERT INTO ft_promotions (seq, task, action, model_id, previous_id, forced_reason, at) VALUES (@seq, @task, @action, @model_id, @previous_id, @forced_reason, @at)",
        );
        for (const r of rows.promotions) p.run({ ...r, seq: Number(r.seq) });
      })
      .immediate();
  }

  private require(id: string): ModelRecord {
    const found = this.find(id);
    if (found) return found;
    throw unknownModel(id, (this.db.prepare("SELECT id FROM ft_models").all() as { id: string }[]).map((r) => r.id));
  }
}
