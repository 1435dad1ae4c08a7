/**
 * Model artifacts stored with a Postgres registry (finetune/artifact-pack.ts, the registry
 * service's `ft_artifacts`): packed deterministically, stored in the register transaction,
 * materialised on a machine without the folder, corrupt copies and oversize artifacts refused.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import pg from "pg";
import { postgresSkipReason, startPostgres, type PostgresServer } from "./helpers/postgres.ts";
import { PostgresConnection } from "../src/store/postgres/connection.ts";
import { PostgresModelRegistry, type PostgresRegistryOptions } from "../src/finetune/registry-postgres.ts";
import { SqliteModelRegistry } from "../src/finetune/registry.ts";
import { packArtifact, unpackArtifact, ArtifactNotPacked } from "../src/finetune/artifact-pack.ts";
import type { TrainedArtifact } from "../src/finetune/index.ts";

const skip = postgresSkipReason();
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "ragtune-art-"));
  dirs.push(d);
  return d;
}

/** A project folder with a trained-looking artifact at models/m1 (two files, one in a subfolder). */
function projectWithArtifact(): string {
  const root = tmp();
  mkdirSync(join(root, "models", "m1", "sub"), { recursive: true });
  writeFileSync(join(root, "models", "m1", "model.json"), JSON.stringify({ format: "test", labels: ["a", "b"] }));
  writeFileSync(join(root, "models", "m1", "sub", "weights.bin"), Buffer.from([0, 1, 2, 3, 255, 10, 13]));
  return root;
}

const classifier: TrainedArtifact = { trainer: "classifier", task: "classify", artifact: "models/m1", baseModel: "none", metrics: {}, config: {} };

describe("pack format", () => {
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test("deterministic: the same files give the same sha256 and gzip bytes, whatever their creation order; round-trips", () => {
    const a = projectWithArtifact();
    const b = tmp();
    mkdirSync(join(b, "m1", "sub"), { recursive: true });
    writeFileSync(join(b, "m1", "sub", "weights.bin"), Buffer.from([0, 1, 2, 3, 255, 10, 13]));
    writeFileSync(join(b, "m1", "model.json"), JSON.stringify({ format: "test", labels: ["a", "b"] }));
    const pa = packArtifact(join(a, "models", "m1"));
    const pb = packArtifact(join(b, "m1"));
    assert.equal(pa.sha256, pb.sha256);
    assert.deepEqual(Buffer.from(pa.gzip), Buffer.from(pb.gzip));
    assert.deepEqual([pa.kind, pa.files, pa.bytes], ["folder", 2, 7 + readFileSync(join(a, "models", "m1", "model.json")).length]);
    const back = unpackArtifact(pa.gzip, pa.sha256);
    assert.deepEqual(back.files.map((f) => f.path), ["model.json", "sub/weights.bin"]);
    assert.deepEqual([...back.files[1].data], [0, 1, 2, 3, 255, 10, 13]);
    // Byte order of paths, not the directory's listing order (created z, a, B).
    const c = join(tmp(), "art");
    mkdirSync(c);
    for (const n of ["z", "a", "B"]) writeFileSync(join(c, n), n);
    assert.deepEqual(unpackArtifact(packArtifact(c).gzip, packArtifact(c).sha256).files.map((f) => f.path), ["B", "a", "z"]);
    writeFileSync(join(b, "m1", "model.json"), "{}");
    assert.notEqual(packArtifact(join(b, "m1")).sha256, pa.sha256, "content is hashed");
  });

  test("refused: symlinks, oversize folders, unsafe paths in a pack, a wrong sha256", () => {
    const a = projectWithArtifact();
    symlinkSync("/etc/hostname", join(a, "models", "m1", "link"));
    assert.throws(() => packArtifact(join(a, "models", "m1")), (e: Error) => e instanceof ArtifactNotPacked && /link is a symlink/.test(e.message));
    const c = projectWithArtifact();
    assert.throws(() => packArtifact(join(c, "models", "m1"), 10), /m1 is \d+ bytes, over the 10 bytes limit for models stored in the database/);
    const evil = Buffer.from("ragtune-artifact 1\nkind folder\nf 1 ../x\nA\n");
    const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    assert.throws(() => unpackArtifact(gzipSync(evil), sha(evil)), /unsafe path: \.\.\/x/);
    const good = packArtifact(join(c, "models", "m1"));
    assert.throws(() => unpackArtifact(good.gzip, "0".repeat(64)), /corrupt: sha256 [0-9a-f]{64} does not match/);
  });
});


describe("artifacts in a Postgres registry", { skip }, () => {
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(() => {
    server?.stop();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  function open(url: string, options: PostgresRegistryOptions): PostgresModelRegistry {
    const c = PostgresConnection.acquire(url);
    return new PostgresModelRegistry(c, { ...options, release: () => c.release() });
  }

  test("stored with the row; another folder materialises it into its cache (atomic: no temp folder left) and reuses it", () => {
    const url = server.createDatabase("art_store_fetch");
    const trainer = projectWithArtifact();
    const reg = open(url, { root: trainer });
    const rec = reg.register(classifier, { datasetHash: "h" });
    const openai = reg.register({ ...classifier, trainer: "openai", artifact: "ft:gpt-4.1-mini:x", generatorId: "openai:ft:gpt-4.1-mini:x" }, { datasetHash: "h" });
    const stored = reg.storedArtifacts();
    assert.deepEqual(stored.map((s) => [s.modelId, s.kind, s.files]), [[rec.id, "folder", 2]], "provider-hosted models store nothing");
    assert.equal(stored[0].sha256, packArtifact(join(trainer, "models", "m1")).sha256);
    assert.equal(reg.localArtifact(rec).artifact, "models/m1", "the trainer's own folder is used as it is");
    assert.equal(reg.localArtifact(openai), openai);
    reg.close();

    const replica = tmp();
    const cacheDir = join(replica, ".ragtune", "models-cache");
    const other = open(url, { root: replica, cacheDir });
    try {
      const local = other.localArtifact(other.get(rec.id));
      assert.equal(local.artifact, join(cacheDir, rec.id));
      assert.deepEqual(readFileSync(join(local.artifact, "model.json")), readFileSync(join(trainer, "models", "m1", "model.json")));
      assert.deepEqual([...readFileSync(join(local.artifact, "sub", "weights.bin"))], [0, 1, 2, 3, 255, 10, 13]);
      assert.deepEqual(readdirSync(cacheDir), [rec.id]);
      writeFileSync(join(local.artifact, "marker"), "x");
      assert.equal(other.localArtifact(other.get(rec.id)).artifact, local.artifact);
      assert.ok(existsSync(join(local.artifact, "marker")), "an existing cache copy is reused, not rewritten");
    } finally {
      other.close();
    }
  });

  test("a stored copy whose sha256 does not match is refused and nothing is written to the cache", async () => {
    const url = server.createDatabase("art_sha");
    const reg = open(url, { root: projectWithArtifact() });
    const rec = reg.register(classifier, { datasetHash: "h" });
    reg.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("UPDATE ft_artifacts SET gzip = $1 WHERE model_id = $2", [gzipSync(Buffer.from("ragtune-artifact 1\nkind folder\n")), rec.id]);
    await client.end();
    const replica = tmp();
    const other = open(url, { root: replica, cacheDir: join(replica, "cache") });
    try {
      assert.throws(() => other.localArtifact(other.get(rec.id)), new RegExp(`model ${rec.id}: the stored artifact is corrupt: sha256 [0-9a-f]{64} does not match`));
      assert.equal(existsSync(join(replica, "cache", rec.id)), false);
    } finally {
      other.close();
    }
  });

  test("over the size limit: registered as a local path with a warning; another machine gets a clear error", () => {
    const url = server.createDatabase("art_limit");
    const warnings: string[] = [];
    const reg = open(url, { root: projectWithArtifact(), artifactLimitBytes: 16, onWarning: (m) => warnings.push(m) });
    const rec = reg.register(classifier, { datasetHash: "h" });
    assert.equal(reg.storedArtifacts().length, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`^${rec.id}: the artifact .*m1 is \\d+ bytes, over the 16 bytes limit .*local path only, and other machines on this database cannot serve it`));
    reg.close();
    const other = open(url, { root: tmp() });
    try {
      assert.throws(() => other.localArtifact(other.get(rec.id)), /is not on this machine and postgres .* holds no copy of it/);
    } finally {
      other.close();
    }
  });

  test("SQLite registry: localArtifact is the record itself", () => {
    const reg = new SqliteModelRegistry(":memory:");
    try {
      const rec = reg.register(classifier, { datasetHash: "h" });
      assert.equal(reg.localArtifact(rec), rec);
    } finally {
      reg.close();
    }
  });
});
