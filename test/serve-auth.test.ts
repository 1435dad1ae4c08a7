/**
 * API keys (src/serve/keys.ts), the token-bucket limiter (src/serve/rate-limit.ts) and the
 * authorizer the HTTP app calls (src/serve/auth.ts), driven through a tiny hono app.
 */
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import Database from "better-sqlite3";
import { KeyStore, parseKey } from "../src/serve/keys.ts";
import { RateLimiter } from "../src/serve/rate-limit.ts";
import { API_KEY_VAR, keyAuthorizer, socketAddress, type AuthDefaults } from "../src/serve/auth.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "ragtune-keys-"));
const storeIn = (dir = tmp()) => new KeyStore(join(dir, ".ragtune", "keys.db"), { create: true });

/** Swap the last character of a key's secret for another valid one: same id, wrong secret. */
const wrongSecret = (key: string) => key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");

// ---------------------------------------------------------------- the store

test("keys: created keys verify; only a salted hash reaches the disk", () => {
  const dir = tmp();
  const file = join(dir, ".ragtune", "keys.db");
  const store = new KeyStore(file, { create: true });
  const q = store.createKey("query", { name: "support bot", rateLimitPerMinute: 120 });
  const a = store.createKey("admin");
  assert.match(q.key, /^rt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  const parsed = parseKey(q.key)!;
  assert.equal(parsed.id, q.record.id);
  assert.equal(Buffer.from(parsed.secret, "base64url").length, 32, "256-bit secret");
  assert.notEqual(q.key, a.key);
  assert.deepEqual(store.verify(q.key), { id: q.record.id, scope: "query", name: "support bot", rateLimitPerMinute: 120, createdAt: q.record.createdAt, revokedAt: null });
  assert.equal(store.verify(a.key)?.scope, "admin");
  assert.equal(store.verify(a.key)?.rateLimitPerMinute, null);
  store.close();

  // Neither the whole key nor the secret (in any usual encoding) is in the file.
  const bytes = readFileSync(file);
  for (const { key } of [q, a]) {
    const secret = parseKey(key)!.secret;
    assert.equal(bytes.includes(Buffer.from(key)), false, "plain key on disk");
    assert.equal(bytes.includes(Buffer.from(secret)), false, "secret on disk");
    assert.equal(bytes.includes(Buffer.from(secret, "base64url")), false, "secret bytes on disk");
    assert.equal(bytes.includes(Buffer.from(secret, "base64url").toString("hex")), false, "secret hex on disk");
  }
  // Two keys have different salts, and the stored hash is not an unsalted hash of the secret.
  const db = new Database(file, { readonly: true });
  const rows = db.prepare("SELECT id, salt, hash FROM api_keys").all() as { id: string; salt: Buffer; hash: Buffer }[];
  db.close();
  assert.equal(rows.length, 2);
  assert.notDeepEqual(rows[0].salt, rows[1].salt);
  const qRow = rows.find((r) => r.id === q.record.id)!;
  assert.notDeepEqual(qRow.hash, crypto.createHash("sha256").update(parseKey(q.key)!.secret).digest());
  if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);

  // Reopened from disk, the keys still verify.
  const again = new KeyStore(file);
  assert.equal(again.verify(q.key)?.id, q.record.id);
  again.close();
});

test("keys: wrong secret with a valid id, malformed and unknown keys are refused; the compare is timingSafeEqual", () => {
  const store = storeIn();
  const { key, record } = store.createKey("query");
  const spy = mock.method(crypto, "timingSafeEqual");
  try {
    assert.equal(store.verify(wrongSecret(key)), undefined);
    assert.equal(spy.mock.callCount(), 1, "a known id is checked with timingSafeEqual");
    assert.equal(store.verify(key)?.id, record.id);
    assert.equal(spy.mock.callCount(), 2);
    // Unknown ids and malformed keys never reach the hash comparison.
    const unknownId = key.replace(/^rt_[0-9a-f]{12}/, "rt_" + (record.id === "000000000000" ? "111111111111" : "000000000000"));
    for (const bad of [unknownId, "", "rt_", key + "x", key.slice(0, -1), key.toUpperCase(), `Bearer ${key}`, "rt_zzzzzzzzzzzz_" + "a".repeat(43)]) {
      assert.equal(store.verify(bad), undefined, bad);
    }
    assert.equal(spy.mock.callCount(), 2, "no compare for unknown ids or malformed keys");
  } finally {
    spy.mock.restore();
    store.close();
  }
});

test("keys: revoke, list (never secrets), and bad input", () => {
  let clock = Date.parse("2026-12-03T10:00:00Z");
  const dir = tmp();
  const store = new KeyStore(join(dir, "k.db"), { create: true, now: () => new Date((clock += 1000)) });
  const a = store.createKey("query", { name: "a" });
  const b = store.createKey("admin", { name: "b" });
  const revoked = store.revoke(a.record.id);
  assert.equal(revoked.revokedAt, "2026-12-03T10:00:03.000Z");
  assert.equal(store.verify(a.key), undefined, "revoked keys are refused");
  assert.equal(store.verify(b.key)?.id, b.record.id);
  assert.equal(store.revoke(a.record.id).revokedAt, revoked.revokedAt, "revoking twice keeps the first time");
  const listed = store.list();
  assert.deepEqual(listed.map((k) => [k.name, k.scope, k.revokedAt !== null]), [["a", "query", true], ["b", "admin", false]]);
  assert.doesNotMatch(JSON.stringify(listed), new RegExp(parseKey(b.key)!.secret));
  assert.deepEqual(Object.keys(listed[0]).sort(), ["createdAt", "id", "name", "rateLimitPerMinute", "revokedAt", "scope"]);
  assert.throws(() => store.revoke("nope"), /unknown API key id 'nope'/);
  assert.throws(() => store.createKey("root" as never), /unknown key scope 'root'/);
  assert.throws(() => store.createKey("query", { rateLimitPerMinute: 0 }), /rate limit must be an integer from 1/);
  assert.throws(() => store.createKey("query", { rateLimitPerMinute: 1.5 }), /rate limit must be an integer/);
  store.close();
});

test("keys: a revoke through another connection (the CLI while serving) takes effect on the next verify", () => {
  const dir = tmp();
  const file = join(dir, "keys.db");
  const serving = new KeyStore(file, { create: true });
  const { key, record } = serving.createKey("query");
  assert.equal(serving.verify(key)?.id, record.id);
  const cli = new KeyStore(file);
  const later = cli.createKey("admin");
  cli.revoke(record.id);
  cli.close();
  assert.equal(serving.verify(key), undefined, "revoked elsewhere");
  assert.equal(serving.verify(later.key)?.scope, "admin", "created elsewhere");
  serving.close();
});

test("keys: a missing, corrupt or foreign file is refused naming the file", () => {
  const dir = tmp();
  const missing = join(dir, "nope", "keys.db");
  assert.throws(() => new KeyStore(missing), (e: Error & { exitCode?: number }) => e.message.includes(missing) && /no API key store/.test(e.message) && e.exitCode === 2);
  assert.equal(existsSync(missing), false, "opening without create writes nothing");

  const corrupt = join(dir, "corrupt.db");
  writeFileSync(corrupt, "this is not sqlite at all, just some text that is long enough ".repeat(100));
  assert.throws(() => new KeyStore(corrupt, { create: true }), (e: Error) => e.message.includes(corrupt) && /corrupt or not SQLite/.test(e.message));

  const foreign = join(dir, "index.db");
  const db = new Database(foreign);
  db.exec("CREATE TABLE t (x)");
  db.close();
  assert.throws(() => new KeyStore(foreign, { create: true }), (e: Error) => e.message.includes(foreign) && /not a ragtune API key store/.test(e.message));

  assert.throws(() => new KeyStore(dir, { create: true }), (e: Error) => e.message.includes(dir) && /not a file/.test(e.message));
});

// ---------------------------------------------------------------- the limiter

test("rate limit: a bucket of one minute's allowance that refills continuously", () => {
  const limiter = new RateLimiter({ ratePerMinute: 60 });
  const t0 = 1_000_000;
  for (let i = 0; i < 60; i++) assert.deepEqual(limiter.take("k", t0), { ok: true }, `request ${i}`);
  assert.deepEqual(limiter.take("k", t0), { ok: false, retryAfterSeconds: 1 });
  assert.deepEqual(limiter.take("other", t0), { ok: true }, "buckets are per id");
  assert.deepEqual(limiter.take("k", t0 + 999), { ok: false, retryAfterSeconds: 1 });
  assert.deepEqual(limiter.take("k", t0 + 1000), { ok: true }, "one token a second at 60/min");
  assert.equal(limiter.take("k", t0 + 1000).ok, false);
  assert.equal(limiter.wait("k", t0 + 1000), 1);
  assert.equal(limiter.wait("fresh", t0), 0);

  // A per-call rate (the key's own limit): 2 a minute → 30 s between requests.
  for (let i = 0; i < 2; i++) assert.equal(limiter.take("slow", t0, 2).ok, true);
  assert.deepEqual(limiter.take("slow", t0, 2), { ok: false, retryAfterSeconds: 30 });
  assert.deepEqual(limiter.take("slow", t0 + 10_000, 2), { ok: false, retryAfterSeconds: 20 });
  assert.equal(limiter.take("slow", t0 + 30_000, 2).ok, true);
  // A clock that steps back refills nothing and does not break the bucket.
  assert.equal(limiter.take("slow", t0, 2).ok, false);
});

test("rate limit: memory is bounded; idle (refilled) buckets are dropped first", () => {
  const limiter = new RateLimiter({ ratePerMinute: 10, maxBuckets: 100 });
  const t0 = 0;
  // A busy key drains its bucket, then a flood of new ids arrives later.
  for (let i = 0; i < 10; i++) limiter.take("busy", t0);
  for (let i = 0; i < 100; i++) limiter.take(`idle-${i}`, t0);
  assert.equal(limiter.size, 100);
  for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`, t0 + 1000);
  assert.ok(limiter.size <= 100, `size ${limiter.size}`);
  // With room for 3: a half-empty bucket outlives older full ones, so its limit is not reset.
  const small = new RateLimiter({ ratePerMinute: 2, maxBuckets: 3 });
  small.take("hot", 0);
  small.take("hot", 0); // drained
  small.take("idle", 0);
  small.take("x", 0);
  // At 30 s: "hot" has 1 token of 2 (busy), "idle" and "x" are full again (idle).
  small.take("y", 30_000);
  assert.equal(small.size, 3);
  assert.equal(small.has("idle"), false, "the oldest idle bucket is dropped");
  assert.equal(small.has("hot"), true, "the older but busy bucket is kept");
  assert.equal(small.take("hot", 30_000).ok, true);
  assert.equal(small.take("hot", 30_000).ok, false, "its state survived: a fresh bucket would allow 2");
  small.take("z", 30_000); // "x" is full again, so it is the idle one dropped
  assert.equal(small.has("x"), false);
  // Now all of y, hot, z are busy: the least recently used (y) goes, and the bound holds.
  small.take("w", 30_000);
  assert.equal(small.size, 3);
  assert.deepEqual(["y", "hot", "z", "w"].map((id) => small.has(id)), [false, true, true, true]);
  // The bucket just used is never the one evicted: a new id on a full map is still limited.
  assert.deepEqual([1, 2, 3].map(() => small.take("v", 30_000).ok), [true, true, false]);
  assert.equal(small.size, 3);
});

// ---------------------------------------------------------------- the authorizer through hono

function app(defaults: Partial<AuthDefaults> = {}) {
  const store = storeIn();
  let clock = 1_000_000;
  const limiter = new RateLimiter({ ratePerMinute: 100 });
  let client = "10.0.0.1";
  const authorize = keyAuthorizer(store, limiter, {
    rateLimitPerMinute: 100,
    now: () => clock,
    clientAddress: () => client,
    ...defaults,
  });
  const hono = new Hono();
  hono.post("/v1/ask", async (c) => (await authorize(c, "query")) ?? c.json({ ok: true, key: (c.get(API_KEY_VAR as never) as { id: string }).id }));
  hono.post("/v1/ingest", async (c) => (await authorize(c, "admin")) ?? c.json({ ok: true }));
  const call = (path: string, auth?: string) => hono.request(path, { method: "POST", headers: auth === undefined ? {} : { Authorization: auth } });
  return {
    store,
    limiter,
    authorize,
    call,
    tick: (ms: number) => (clock += ms),
    from: (addr: string) => (client = addr),
  };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return body.error;
}

test("auth: no or malformed header, unknown and revoked keys → 401 with WWW-Authenticate: Bearer", async () => {
  const { store, call } = app();
  const { key, record } = store.createKey("query");
  const ok = await call("/v1/ask", `Bearer ${key}`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { ok: true, key: record.id });
  assert.equal((await call("/v1/ask", `bearer   ${key}`)).status, 200, "the scheme is case-insensitive");

  for (const auth of [undefined, "", "Basic dXNlcjpwYXNz", key, `Bearer`, `Bearer ${key} extra`, `Bearer ${wrongSecret(key)}`, "Bearer rt_nope", `Bearer ${"x".repeat(5000)}`]) {
    const res = await call("/v1/ask", auth);
    assert.equal(res.status, 401, String(auth).slice(0, 40));
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b/);
    assert.equal((await errorOf(res)).code, "unauthorized");
  }
  const missing = await errorOf(await call("/v1/ask"));
  assert.match(missing.message, /needs an API key/);

  store.revoke(record.id);
  const res = await call("/v1/ask", `Bearer ${key}`);
  assert.equal(res.status, 401, "revoked");
  assert.match(res.headers.get("www-authenticate")!, /error="invalid_token"/);
});

test("auth: a query key on an admin route → 403; admin keys may call query routes", async () => {
  const { store, call } = app({ badAttemptsPerMinute: 1000 });
  const q = store.createKey("query").key;
  const a = store.createKey("admin").key;
  const denied = await call("/v1/ingest", `Bearer ${q}`);
  assert.equal(denied.status, 403);
  assert.equal((await errorOf(denied)).code, "forbidden");
  assert.equal((await call("/v1/ingest", `Bearer ${a}`)).status, 200);
  assert.equal((await call("/v1/ask", `Bearer ${a}`)).status, 200);
  assert.equal((await call("/v1/ask", `Bearer ${q}`)).status, 200);
});

test("auth: past the key's rate → 429 with Retry-After; the key's own limit beats the default", async () => {
  const { store, call, tick } = app();
  const slow = store.createKey("query", { rateLimitPerMinute: 3 }).key;
  const normal = store.createKey("query").key; // default 100/min
  for (let i = 0; i < 3; i++) assert.equal((await call("/v1/ask", `Bearer ${slow}`)).status, 200);
  const limited = await call("/v1/ask", `Bearer ${slow}`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "20");
  const err = (await limited.json()) as { error: { code: string; retryAfterSeconds: number } };
  assert.equal(err.error.code, "rate_limited");
  assert.equal(err.error.retryAfterSeconds, 20);
  // Other keys are not affected.
  for (let i = 0; i < 50; i++) assert.equal((await call("/v1/ask", `Bearer ${normal}`)).status, 200);
  tick(19_000);
  assert.equal((await call("/v1/ask", `Bearer ${slow}`)).headers.get("retry-after"), "1");
  tick(1_000);
  assert.equal((await call("/v1/ask", `Bearer ${slow}`)).status, 200, "a token after 20 s at 3/min");
});

test("auth: a flood of bad keys is cut off per address, never hashed for unknown ids, and bounded in memory", async () => {
  const { store, call, from, tick, authorize } = app({ badAttemptsPerMinute: 5, maxTrackedClients: 50 });
  const { key } = store.createKey("query");
  const verify = mock.method(store, "verify");
  const compare = mock.method(crypto, "timingSafeEqual");
  try {
    from("10.0.0.66");
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await call("/v1/ask", `Bearer rt_${crypto.randomBytes(6).toString("hex")}_${"a".repeat(43)}`)).status);
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(15).fill(429)]);
    assert.equal(verify.mock.callCount(), 5, "blocked requests do not reach the store");
    assert.equal(compare.mock.callCount(), 0, "unknown ids are never hashed and compared");
    const blocked = await call("/v1/ask", `Bearer ${key}`);
    assert.equal(blocked.status, 429, "the address is blocked until its bucket refills");
    assert.ok(Number(blocked.headers.get("retry-after")) >= 1);
    // Another address is not affected.
    from("10.0.0.7");
    assert.equal((await call("/v1/ask", `Bearer ${key}`)).status, 200);
    // After a refill (5/min → one every 12 s), the flooding address may try again.
    from("10.0.0.66");
    tick(12_000);
    assert.equal((await call("/v1/ask", `Bearer ${key}`)).status, 200);

    // Thousands of addresses, each with a bad key: the per-address map stays at its bound.
    for (let i = 0; i < 2000; i++) {
      from(`198.51.${i >> 8}.${i & 255}`);
      assert.equal((await call("/v1/ask", "Bearer garbage")).status, 401);
    }
    assert.equal(authorize.trackedClients(), 50);
  } finally {
    verify.mock.restore();
    compare.mock.restore();
  }
});

// ---------------------------------------------------------------- the CLI (child processes)

test("cli: keys create prints the key alone on the last line of stdout, once; keys list and revoke never show it", async () => {
  const { runCli } = await import("./helpers/cli.ts");
  const { makeTinyProject } = await import("./helpers/project.ts");
  const root = makeTinyProject();
  const created = await runCli(["keys", "create", "--scope", "query", "--name", "support bot", "--rate-limit", "30"], root);
  assert.equal(created.code, 0, created.stderr);
  const lines = created.stdout.split("\n");
  assert.equal(lines.at(-1), "", "stdout ends with a newline");
  const key = lines.at(-2)!;
  assert.match(key, /^rt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/, "the last line is the key, alone");
  assert.equal(created.stdout.split(key).length - 1, 1, "printed once");
  assert.equal(created.stderr.includes(key), false, "not on stderr");
  assert.equal(created.stderr.includes(parseKey(key)!.secret), false);
  assert.match(created.stderr, /created query key [0-9a-f]{12} \(support bot\)/);

  const file = join(root, ".ragtune", "keys.db");
  const store = new KeyStore(file);
  assert.equal(store.verify(key)?.rateLimitPerMinute, 30, "the printed key verifies against the project's store");
  store.close();

  // The rest in one child process (one Node start), in order.
  const { runCliBatch } = await import("./helpers/run-batch.ts");
  const empty = makeTinyProject();
  const id = parseKey(key)!.id;
  const [admin, list, listJson, revoke, again, unknown, none, noStore] = await runCliBatch(
    [
      ["keys", "create", "--scope", "admin"],
      ["keys", "list"],
      ["keys", "list", "--json"],
      ["keys", "revoke", id],
      ["keys", "revoke", id],
      ["keys", "revoke", "nope"],
      ["keys", "list"],
      ["keys", "revoke", "abc"],
    ].map((args, i) => ({ args, cwd: i < 6 ? root : empty })),
  );
  assert.equal(admin.code, 0, admin.stderr);
  const adminKey = admin.stdout.trim().split("\n").at(-1)!;
  assert.match(adminKey, /^rt_/);
  for (const r of [list, listJson, revoke, again]) {
    assert.equal(r.code, 0, r.stderr);
    for (const k of [key, adminKey]) {
      const secret = parseKey(k)!.secret;
      assert.equal(r.stdout.includes(secret) || r.stderr.includes(secret), false, "a secret was printed again");
    }
  }
  assert.match(list.stdout, new RegExp(`${id}\\s+query\\s+support bot\\s+30/min`));
  const rows = JSON.parse(listJson.stdout) as { id: string; scope: string; revokedAt: string | null }[];
  assert.deepEqual(rows.map((r) => [r.scope, r.revokedAt]), [["query", null], ["admin", null]]);
  assert.match(revoke.stdout, new RegExp(`revoked key ${id}`));
  assert.match(again.stdout, /already revoked/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error: unknown API key id 'nope' in .*keys\.db/);
  const after = new KeyStore(file);
  assert.equal(after.verify(key), undefined);
  assert.equal(after.verify(adminKey)?.scope, "admin");
  after.close();

  // No store yet: list says so (exit 0), revoke names the file (exit 2).
  assert.equal(none.code, 0);
  assert.match(none.stdout, /no API keys yet/);
  assert.equal(noStore.code, 2);
  assert.match(noStore.stderr, /no API key store at .*keys\.db/);
});

test("auth over a real socket: bad attempts are counted by the socket's address (not X-Forwarded-For)", async () => {
  const { serve } = await import("@hono/node-server");
  const store = storeIn();
  const { key } = store.createKey("query");
  const authorize = keyAuthorizer(store, new RateLimiter({ ratePerMinute: 100 }), { rateLimitPerMinute: 100, badAttemptsPerMinute: 3 });
  const hono = new Hono();
  hono.get("/v1/search", async (c) => (await authorize(c, "query")) ?? c.json({ ok: true, address: socketAddress(c) }));
  const server = await new Promise<ReturnType<typeof serve>>((resolveServer) => {
    const s = serve({ fetch: hono.fetch, port: 0, hostname: "127.0.0.1" }, () => resolveServer(s));
  });
  try {
    const { port } = server.address() as { port: number };
    const get = (auth: string, forwarded: string) => fetch(`http://127.0.0.1:${port}/v1/search`, { headers: { Authorization: auth, "X-Forwarded-For": forwarded } });
    const ok = await get(`Bearer ${key}`, "1.1.1.1");
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, address: "127.0.0.1" }, "the socket's address, not the header's");
    const statuses: number[] = [];
    // A new X-Forwarded-For each time does not earn a new budget.
    for (let i = 0; i < 5; i++) statuses.push((await get("Bearer wrong", `203.0.113.${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    assert.equal(authorize.trackedClients(), 1);
  } finally {
    await new Promise((r) => server.close(r));
    store.close();
  }
});
