/**
 * Cost of the API-key check (src/serve/auth.ts) under good traffic and under floods of bad keys:
 * µs per check through a hono app (in-process, no sockets), and memory after a flood of bad keys
 * from many distinct addresses (the per-address tracker must stay at its bound).
 *
 *   node --expose-gc --import tsx bench/serve-auth.ts [--n 50000] [--addresses 200000]
 *
 * Prints a table and writes bench/results/serve-auth.json (atomically).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { KeyStore } from "../src/serve/keys.ts";
import { RateLimiter } from "../src/serve/rate-limit.ts";
import { keyAuthorizer } from "../src/serve/auth.ts";
import { writeFileAtomic } from "../src/util/fs.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench/results/serve-auth.json");
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? Number(args[i + 1]) : fallback;
};
const N = option("--n", 50_000);
const ADDRESSES = option("--addresses", 200_000);
const MAX_TRACKED = 10_000;

const store = new KeyStore(join(mkdtempSync(join(tmpdir(), "ragtune-bench-auth-")), "keys.db"), { create: true });
for (let i = 0; i < 1000; i++) store.createKey("query"); // a store with some keys in it
const { key, record } = store.createKey("admin");
const limiter = new RateLimiter({ ratePerMinute: 1_000_000_000 });
let address = "127.0.0.1";
const authorize = keyAuthorizer(store, limiter, { rateLimitPerMinute: 1_000_000, badAttemptsPerMinute: 30, maxTrackedClients: MAX_TRACKED, clientAddress: () => address });
const app = new Hono();
app.get("/q", async (c) => (await authorize(c, "query")) ?? c.text("ok"));

async function measure(label: string, n: number, header: (i: number) => string | undefined, addr: (i: number) => string, expect: number) {
  const statuses = new Map<number, number>();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    address = addr(i);
    const h = header(i);
    const res = await app.request("/q", { headers: h === undefined ? {} : { Authorization: h } });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  if (!statuses.has(expect)) throw new Error(`${label}: expected some ${expect}, got ${JSON.stringify([...statuses])}`);
  return { label, n, usPerRequest: Number(us.toFixed(2)), statuses: Object.fromEntries(statuses) };
}

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  return Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1));
};

const fakeKey = () => `rt_${randomBytes(6).toString("hex")}_${randomBytes(32).toString("base64url")}`;
const wrongSecret = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
const rows = [];
rows.push(await measure("valid admin key (hash + compare + bucket)", N, () => `Bearer ${key}`, () => "10.0.0.1", 200));
rows.push(await measure("no header, one address (blocked after 30)", N, () => undefined, () => "10.0.0.2", 429));
rows.push(await measure("malformed key, one address", N, () => "Bearer nope", () => "10.0.0.3", 429));
const heapBefore = heapMb();
rows.push(await measure(`unknown ids, ${ADDRESSES.toLocaleString("en-US")} distinct addresses`, ADDRESSES, () => `Bearer ${fakeKey()}`, (i) => `a${i}`, 401));
rows.push(await measure("valid id + wrong secret, distinct addresses", N, () => `Bearer ${wrongSecret}`, (i) => `b${i}`, 401));
const heapAfter = heapMb();
const result = {
  generatedAt: new Date().toISOString(),
  node: process.version,
  keysInStore: store.list().length,
  rows,
  flood: { addresses: ADDRESSES + N, maxTrackedClients: MAX_TRACKED, trackedClientsAfter: authorize.trackedClients(), heapMbBefore: heapBefore, heapMbAfter: heapAfter, gcExposed: gc !== undefined },
  adminKeyId: record.id,
};
store.close();
for (const r of rows) console.log(`${r.label.padEnd(60)} ${String(r.usPerRequest).padStart(8)} µs/request   ${JSON.stringify(r.statuses)}`);
console.log(`flood: ${result.flood.addresses.toLocaleString("en-US")} addresses → ${result.flood.trackedClientsAfter} tracked (bound ${MAX_TRACKED}); heap ${heapBefore} → ${heapAfter} MB${gc ? "" : " (run with --expose-gc for steadier numbers)"}`);
writeFileAtomic(RESULTS, JSON.stringify(result, null, 2) + "\n");
console.log(`wrote ${RESULTS}`);
