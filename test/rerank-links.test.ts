import { test } from "node:test";
import assert from "node:assert/strict";
import type { Chunk } from "../src/ingest/index.ts";
import type { Hit } from "../src/retrieve/index.ts";
import { Bm25Index } from "../src/retrieve/bm25.ts";
import { OfflineReranker } from "../src/retrieve/rerank/offline.ts";
import { DEFAULT_LINK_OPTIONS, nameTerms, occursInBody } from "../src/retrieve/rerank/links.ts";
import { testChunk } from "./helpers/chunks.ts";

const hits = (...chunks: [Chunk, number][]): Hit[] => chunks.map(([c, score], i) => ({ chunk: c, score, rank: i + 1 }));
const ids = (h: Hit[]) => h.map((x) => x.chunk.id);

// A bridge question: the film's paragraph names its director, whose own paragraph shares almost
// no words with the question; a distractor shares more.
const film = testChunk("film", "Big Stone Gap is a romantic comedy film written and directed by Adriana Trigiani.", { title: "Big Stone Gap (film)" });
const director = testChunk("director", "Adriana Trigiani is an American novelist who lives in Greenwich Village.", { title: "Adriana Trigiani" });
const distractor = testChunk("distractor", "New York City hosts a romantic comedy festival every year.", { title: "Comedy festival" });
const query = 'The director of the romantic comedy "Big Stone Gap" is based in what New York city?';
const candidates = () => hits([film, 10], [distractor, 8], [director, 2]);
const specific = () => 5; // every term rare: the names are specific

test("a candidate named in the best candidate's body is lifted to just below it", () => {
  const off = new OfflineReranker({ idf: specific, links: { lift: 0 } }).rerankSync(query, candidates(), 3);
  const on = new OfflineReranker({ idf: specific }).rerankSync(query, candidates(), 3);
  assert.deepEqual(ids(off), ["film", "distractor", "director"]);
  assert.deepEqual(ids(on), ["film", "director", "distractor"]);
  // lift < 1: the anchor keeps its place above what it names.
  assert.ok(on[0].score > on[1].score);
  assert.ok(Math.abs(on[1].score - DEFAULT_LINK_OPTIONS.lift * on[0].score) < 1e-9);
});

test("a generic name (a common term) is not lifted", () => {
  // "adriana" and "trigiani" as common as a stop word: the name identifies nothing.
  const idf = (t: string) => (t === "adriana" || t === "trigiani" ? 0.05 : 5);
  const ranked = new OfflineReranker({ idf }).rerankSync(query, candidates(), 3);
  assert.deepEqual(ids(ranked), ["film", "distractor", "director"]);
});

test("the name must occur as a contiguous phrase, and the qualifier in parentheses is dropped", () => {
  assert.deepEqual(nameTerms(film), ["big", "stone", "gap"]);
  assert.deepEqual(nameTerms(testChunk("h", "x", { title: "Config", headingPath: ["Config", "autoInstallPeers"] })), ["autoinstallpeers", "auto", "instal", "peer"]);
  const scrambled = testChunk("film2", "Trigiani directed it; Adriana was the lead.", { title: "Other film" });
  const ranked = new OfflineReranker({ idf: specific }).rerankSync(query, hits([scrambled, 10], [distractor, 8], [director, 2]), 3);
  assert.equal(ids(ranked).indexOf("director"), 2);
});

test("occursInBody on index-time tokens matches the phrase, not its words apart", () => {
  const index = new Bm25Index([film, director, distractor], { k1: 1.5, b: 0.75, headingBoost: 10, rerankTokens: true });
  const source = index.rerankTokens()!;
  const tok = source.tokensOf(film)!;
  const idsOf = (terms: string[]) => terms.map((t) => source.termId(t));
  assert.equal(occursInBody(tok, idsOf(["adriana", "trigiani"])), true);
  assert.equal(occursInBody(tok, idsOf(["trigiani", "adriana"])), false);
  assert.equal(occursInBody(tok, idsOf(["nonexistent"])), false);
  // Through the index path (tokens computed at index time, the index's own idf) the lift applies too.
  const reranker = new OfflineReranker({ idf: specific, tokens: source });
  assert.deepEqual(ids(reranker.rerankSync(query, candidates(), 3)), ["film", "director", "distractor"]);
});

test("links options are validated", () => {
  assert.throws(() => new OfflineReranker({ links: { lift: Number.NaN } }), /links\.lift/);
});
