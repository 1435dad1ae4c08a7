/**
 * Creating and version-checking the tables of the Postgres services added beside the index
 * (keys.ts, requests.ts, registry.ts, versions.ts): each creates its tables under an advisory lock
 * of its own, so replicas starting together create them once, and refuses tables a newer ragtune
 * wrote. Two ways of recording the version exist and stay (changing them would change the
 * databases already written): a key/value `<x>_meta` row `schema_version` (keys, requests), and a
 * one-row `<x>_schema` table (registry, versions).
 */
import type { SqlExecutor } from "./executor.ts";

/** Run each statement of `ddl` (`;`-separated) inside `tx`, holding the advisory lock `lock`. */
export async function createSchema(tx: SqlExecutor, lock: number, ddl: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1)", [lock]);
  for (const statement of ddl.split(";").map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
}

export async function tableExists(db: SqlExecutor, name: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [name]);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

/** What a refusal says: "the request log was" (whose tables, with its verb) and "requests" (whose schema). */
export interface SchemaOwner {
  subject: string;
  label: string;
  readsUpTo: number;
}

/** Record `schema_version` in the key/value table `metaTable` if none is recorded (inside the creating transaction). */
export async function stampMetaVersion(tx: SqlExecutor, metaTable: string, version: number): Promise<void> {
  await tx.query(`INSERT INTO ${metaTable} (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO NOTHING`, [String(version)]);
}

/** Refuse a `schema_version` in `metaTable` that is newer than this ragtune reads (or not a number). */
export async function checkMetaVersion(db: SqlExecutor, metaTable: string, owner: SchemaOwner): Promise<void> {
  const { rows } = await db.query<{ value: string }>(`SELECT value FROM ${metaTable} WHERE key = 'schema_version'`);
  const v = rows[0]?.value;
  if (v !== undefined && (!Number.isInteger(Number(v)) || Number(v) > owner.readsUpTo)) {
    throw new Error(`${owner.subject} written by a newer ragtune (${owner.label} schema_version ${v}, this ragtune reads up to ${owner.readsUpTo})`);
  }
}

/** The one-row `versionTable`: insert this ragtune's version when empty, refuse a newer one. */
export async function stampOrCheckVersionRow(tx: SqlExecutor, versionTable: string, owner: SchemaOwner): Promise<void> {
  const { rows } = await tx.query<{ version: number }>(`SELECT version FROM ${versionTable}`);
  if (rows.length === 0) await tx.query(`INSERT INTO ${versionTable} (version) VALUES ($1)`, [owner.readsUpTo]);
  else if (Number(rows[0].version) > owner.readsUpTo) {
    throw new Error(`${owner.subject} written by a newer ragtune (${owner.label} schema ${rows[0].version}, this ragtune reads up to ${owner.readsUpTo})`);
  }
}

/**
 * The tables of a service whose version is a `schema_version` row in `metaTable` (keys, requests):
 * `ensure` creates them (writers), `exists` says whether a writer ever did without creating
 * anything (readers), and both refuse a newer schema. Remembered once true.
 */
export class MetaVersionedTables {
  private ready = false;

  constructor(
    private readonly db: { transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> } & SqlExecutor,
    private readonly spec: { lock: number; ddl: string; metaTable: string; mainTable: string; owner: SchemaOwner },
  ) {}

  async ensure(): Promise<void> {
    if (this.ready) return;
    const { lock, ddl, metaTable, owner } = this.spec;
    await this.db.transaction(async (tx) => {
      await createSchema(tx, lock, ddl);
      await stampMetaVersion(tx, metaTable, owner.readsUpTo);
    });
    await checkMetaVersion(this.db, metaTable, owner);
    this.ready = true;
  }

  async exists(): Promise<boolean> {
    if (this.ready) return true;
    if (!(await tableExists(this.db, this.spec.mainTable))) return false;
    await checkMetaVersion(this.db, this.spec.metaTable, this.spec.owner);
    this.ready = true;
    return true;
  }
}
