import { test } from "node:test";
import assert from "node:assert/strict";
import { SyncWorkerBridge } from "../src/store/postgres/bridge.ts";

const HOST = new URL("./helpers/bridge-host.ts", import.meta.url);

test("the bridge makes async worker methods synchronous, in order, with structured-cloned results", () => {
  const bridge = new SyncWorkerBridge(HOST, { base: 100 });
  try {
    const results = [1, 2, 3].map((i) => bridge.call<number>("add", [i, i]));
    assert.deepEqual(results, [102, 104, 106]);
    const got = bridge.call<{ buf: Uint8Array; list: unknown[] }>("bytes", [5]);
    assert.deepEqual([...got.buf], [7, 7, 7, 7, 7]);
    assert.deepEqual(got.list, [1, "two", { three: 3 }]);
  } finally {
    bridge.close();
  }
});

test("errors in the worker are re-thrown with their message, and the bridge keeps working", () => {
  const bridge = new SyncWorkerBridge(HOST, { base: 0 });
  try {
    assert.throws(() => bridge.call("boom", ["relation \"x\" does not exist"]), /relation "x" does not exist/);
    assert.throws(() => bridge.call("nope"), /no method nope/);
    assert.equal(bridge.call("add", [1, 1]), 2);
  } finally {
    bridge.close();
  }
});

test("an error in open() is thrown by the constructor", () => {
  assert.throws(() => new SyncWorkerBridge(HOST, { base: 0, failOpen: "server unreachable: ECONNREFUSED" }), /server unreachable: ECONNREFUSED/);
});

test("a call without an answer in time throws, and the bridge is closed after it", () => {
  const bridge = new SyncWorkerBridge(HOST, { base: 0 }, { timeoutMs: 200 });
  const t0 = Date.now();
  assert.throws(() => bridge.call("sleep", [5_000]), /no answer to sleep within/);
  assert.ok(Date.now() - t0 < 3_000, "the timeout, not the sleep, ended the call");
  assert.throws(() => bridge.call("add", [1, 1]), /no answer to sleep/);
  bridge.close();
});

test("close() is idempotent and later calls fail clearly", () => {
  const bridge = new SyncWorkerBridge(HOST, { base: 0 });
  bridge.close();
  bridge.close();
  assert.throws(() => bridge.call("add", [1, 1]), /closed/);
});
