/**
 * The SQLite FTS5 and LanceDB peers index and search a tiny corpus, rank the obvious document
 * first, and never throw on text that is query syntax to them (quotes, `-`, `*`, `:`, AND, NEAR…).
 * LanceDB is skipped, with the reason, when its native binary cannot load on this platform.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPeer, PEER_NAMES } from "../src/bench/peers/index.ts";
import { fts5Query } from "../src/bench/peers/sqlite-fts5.ts";

const docs = [
  { id: "refunds", title: "Billing refunds", text: "Annual plans can be refunded within 30 days of payment." },
  { id: "trash", title: "Trash", text: "Deleted cards stay in the trash for 60 days; admins restore them." },
  { id: "setup", title: "Setup", text: "Set auto-install-peers in .npmrc, then upgrade to version 2." },
  { id: "near", title: "Operators", text: "The words AND, OR, NOT and NEAR are ordinary words here." },
];

const hostile = ['he said "refund', '"', 'refund"s', "auto-install-peers", "-refund", "trash*", "*", "title: trash", "text:", "cards AND NEAR", "NEAR(trash cards)", "NOT", "AND OR", "(trash", "^trash", "a + b", "''", "   ", "", "refund \"\" annual"];

async function lancedbLoads(): Promise<string | undefined> {
  try {
    await import("@lancedb/lancedb");
    return undefined;
  } catch (err) {
    return `@lancedb/lancedb native binary failed to load: ${(err as Error).message.split("\n")[0]}`;
  }
}

test("fts5Query quotes every word and joins them with OR", () => {
  assert.equal(fts5Query('refund "annual" plan'), '"refund" OR """annual""" OR "plan"');
  assert.equal(fts5Query("cards AND NEAR"), '"cards" OR "AND" OR "NEAR"');
  assert.equal(fts5Query("- * :"), "");
});

test("both peers are accepted by --compare", () => {
  assert.ok(PEER_NAMES.includes("sqlite-fts5"));
  assert.ok(PEER_NAMES.includes("lancedb"));
});

for (const name of ["sqlite-fts5", "lancedb"]) {
  test(`${name}: indexes a tiny corpus, ranks the matching document first, survives query syntax`, async (t) => {
    if (name === "lancedb") {
      const reason = await lancedbLoads();
      if (reason) return t.skip(reason);
    }
    const peer = await createPeer(name);
    assert.match(peer.settings, /\w/);
    await assert.rejects(async () => peer.search("refund", 3), /index\(\) must be called/);
    await peer.index(docs);
    assert.equal((await peer.search("refunded annual plans", 3))[0], "refunds");
    assert.equal((await peer.search("deleted trash cards", 3))[0], "trash");
    // Stemming: "refunding" finds "refunded".
    assert.ok((await peer.search("refunding", 3)).includes("refunds"));
    assert.ok((await peer.search("refunded annual plans", 1)).length <= 1, "k bounds the results");
    for (const q of hostile) {
      const ids = await peer.search(q, 10);
      assert.ok(Array.isArray(ids), q);
      for (const id of ids) assert.ok(docs.some((d) => d.id === id), `${q}: unknown id ${id}`);
    }
    assert.ok((await peer.search("cards AND NEAR", 10)).includes("trash"), "operators are plain words");
    assert.ok((await peer.search('he said "refund', 10)).includes("refunds"), "a stray quote is plain text");
  });
}
