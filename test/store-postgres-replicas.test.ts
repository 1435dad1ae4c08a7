/**
 * Two `ragtune serve` replicas (separate project folders, as on separate machines) on one
 * PostgreSQL database while a third process re-ingests changed documents again and again: every
 * search answer comes from the old index or the new one, never a mix, and both replicas serve
 * the final state once it is committed (issue 13). Real server from test/helpers/postgres.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { freePort, startServe } from "./helpers/serve-process.ts";
import { makeTinyProject } from "./helpers/project.ts";
import { postgresSkipReason, usePostgres, type PostgresServer } from "./helpers/postgres.ts";


// One ingest changes two documents: a mix would show one old fact next to one new one.
const STATES = {
  A: { trash: "60 days", billing: "within 30 days" },
  B: { trash: "90 days", billing: "within 45 days" },
};

describe("two serve replicas on one Postgres database while a third process ingests", { skip: postgresSkipReason() }, () => {
  let server: PostgresServer;
  const roots: string[] = [];
  usePostgres((s) => (server = s), { roots });

  test("every answer is all-old or all-new; both replicas serve the final state", async () => {
    const url = server.createDatabase("replicas");
    const config = `store:\n  kind: postgres\n  url: "${url}"\n`;
    const writer = makeTinyProject(config);
    const replicas = [makeTinyProject(config), makeTinyProject(config)];
    roots.push(writer, ...replicas);
    const trash = join(writer, "docs/v2/trash.md");
    const billing = join(writer, "docs/v2/billing.md");
    const original = { trash: readFileSync(trash, "utf8"), billing: readFileSync(billing, "utf8") };
    const write = (label: keyof typeof STATES) => {
      writeFileSync(trash, original.trash.replace("60 days", STATES[label].trash));
      writeFileSync(billing, original.billing.replace("within 30 days", STATES[label].billing));
    };
    write("A");
    assert.equal((await runCli(["ingest"], writer)).code, 0);
    const served = await Promise.all(replicas.map(async (r) => startServe(r, ["--no-auth", "--port", String(await freePort())], 60_000)));
    const seen: Record<string, number> = {};
    const search = async (base: string): Promise<string> => {
      const res = await fetch(`${base}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "trash days refunded payment", k: 10 }) });
      assert.equal(res.status, 200);
      const text = ((await res.json()) as { hits: { text: string }[] }).hits.map((h) => h.text).join("\n");
      const has = (label: keyof typeof STATES) => text.includes(STATES[label].trash) || text.includes(STATES[label].billing);
      const full = (label: keyof typeof STATES) => text.includes(STATES[label].trash) && text.includes(STATES[label].billing);
      const state = has("A") && has("B") ? "mixed" : full("A") ? "A" : full("B") ? "B" : "partial";
      seen[state] = (seen[state] ?? 0) + 1;
      return state;
    };
    try {
      let writing = true;
      const flips = (async () => {
        try {
          for (const label of ["B", "A", "B"] as const) {
            write(label);
            const r = await runCli(["ingest"], writer);
            assert.equal(r.code, 0, r.stderr);
          }
        } finally {
          writing = false;
        }
      })();
      while (writing) await Promise.all(served.map((s) => search(s.url)));
      await flips;
      assert.equal(seen.mixed ?? 0, 0, `mixed answers: ${JSON.stringify(seen)}`);
      assert.equal(seen.partial ?? 0, 0, `answers missing a fact: ${JSON.stringify(seen)}`);
      assert.ok((seen.A ?? 0) > 0 && (seen.B ?? 0) > 0, `both states were served during the ingests: ${JSON.stringify(seen)}`);
      for (const s of served) assert.equal(await search(s.url), "B", "the committed final state");
    } finally {
      for (const s of served) s.stop();
    }
  });
});
