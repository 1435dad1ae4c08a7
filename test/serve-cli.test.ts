import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { makeTinyProject } from "./helpers/project.ts";
import { runCli } from "./helpers/cli.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";


test("ragtune serve requires API keys by default: no key 401, a query key answers; --no-auth only on loopback", async () => {
  const dir = makeTinyProject();
  try {
    assert.equal((await runCli(["ingest"], dir)).code, 0);
    // No key store yet: a clear error, exit 2.
    const none = await runCli(["serve", "--port", String(await freePort())], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no API key store at .*keys\.db; create a key first: ragtune keys create --scope query/);
    const open = await runCli(["serve", "--no-auth", "--host", "0.0.0.0"], dir);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /--host 0\.0\.0\.0: a server without API keys \(--no-auth\) may only bind a loopback address/);

    const created = await runCli(["keys", "create", "--scope", "query"], dir);
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim().split("\n").pop()!;
    const elsewhere = await runCli(["serve", "--host", "192.0.2.1"], dir);
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, /--host 192\.0\.2\.1 is not an address of this machine/);
    const server = await startServe(dir, ["--port", String(await freePort())]);
    assert.match(server.banner, /variant rag \(no run yet, so rag/);
    try {
      const ask = (headers: Record<string, string>) =>
        fetch(`${server.url}/v1/ask`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ question: "How long do deleted cards stay in the trash?" }) });
      const anon = await ask({});
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get("www-authenticate")?.startsWith("Bearer"), true);
      const wrong = await ask({ authorization: `Bearer ${key.slice(0, -4)}AAAA` });
      assert.equal(wrong.status, 401);
      const ok = await ask({ authorization: `Bearer ${key}` });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { answer: string };
      assert.match(body.answer, /60 days/);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, "health needs no key");
    } finally {
      server.stop();
    }
    // After a run, the decision picks the pipeline.
    assert.equal((await runCli(["eval", "--variants", "prompt-only,rag"], dir)).code, 0);
    const loopback = await startServe(dir, ["--no-auth", "--port", String(await freePort())]);
    assert.match(loopback.banner, /variant \S+ \(the decision over run \S+ recommends \S+ \(\w+ confidence\)/);
    try {
      const r = await fetch(`${loopback.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "trash retention" }) });
      assert.equal(r.status, 200);
    } finally {
      loopback.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
