import { test } from "node:test";
import assert from "node:assert/strict";
import { STOP_WORDS, contentTokens, stem, tokenize } from "../src/retrieve/tokenize.ts";

test("keeps compound identifiers and their (stemmed) parts", () => {
  assert.deepEqual(tokenize("auto-install-peers"), ["auto-install-peers", "auto", "instal", "peer"]);
  assert.deepEqual(tokenize("autoInstallPeers"), ["autoinstallpeers", "auto", "instal", "peer"]);
  assert.deepEqual(tokenize("HTTPServer"), ["httpserver", "http", "server"]);
  assert.deepEqual(tokenize("snake_case_name"), ["snake_case_name", "snake", "case", "name"]);
  assert.deepEqual(tokenize("docs/setup.md"), ["docs/setup.md", "doc", "setup", "md"]);
});

test("versions and numbers", () => {
  // A sentence-final dot is not a joiner.
  assert.deepEqual(tokenize("Upgrade to v2.1."), ["upgrad", "to", "v2.1", "v2", "1"]);
  assert.deepEqual(tokenize("1,000 users"), ["1000", "user"]);
  assert.deepEqual(tokenize("10,000,000"), ["10000000"]);
  assert.deepEqual(tokenize("$12"), ["12"]);
  assert.deepEqual(tokenize("$1,200.00"), ["1200.00", "1200", "00"]);
  // Not a thousands separator: a list of numbers stays a list.
  assert.deepEqual(tokenize("1,2,3"), ["1", "2", "3"]);
});

test("NFKC, case folding, apostrophes, Unicode letters", () => {
  assert.deepEqual(tokenize("ＡＰＩ Keys"), ["api", "key"]);
  assert.deepEqual(tokenize("Don't"), ["dont"]);
  assert.deepEqual(tokenize("the user’s token"), ["the", "user", "token"]);
  // Non-ASCII words are kept whole and never stemmed.
  assert.deepEqual(tokenize("Café naïve Straße"), ["café", "naïve", "straße"]);
  assert.deepEqual(tokenize("Привет, мир!"), ["привет", "мир"]);
  assert.deepEqual(tokenize("  ...  "), []);
  assert.deepEqual(tokenize(""), []);
});

test("light stemming conflates inflections", () => {
  const same = (words: string[]) => assert.equal(new Set(words.map(stem)).size, 1, words.join(","));
  same(["refund", "refunds", "refunded", "refunding"]);
  same(["configure", "configured", "configuring", "configuration"]);
  same(["install", "installs", "installed", "installing"]);
  same(["policy", "policies"]);
  same(["hop", "hopping", "hopped"]);
});

test("Porter2 matches the Snowball reference vocabulary", () => {
  // Pairs from snowballstem/snowball-data english/diffs.txt.
  const pairs = `abandoned abandon|abasement abas|abate abat|abed abe|abilities abil|abnormally abnorm
    abominably abomin|aborigines aborigin|abuses abus|abysses abyss|academy academi|accidental accident
    accompanied accompani|accountabilities account|accuracy accuraci|ace ace|aches ach|aching ach
    acquittal acquitt|acquitted acquit|actuality actual|adding ad|additional addit|administration administr
    admiralty admiralti|shamefully shame|shanties shanti|sharply sharpli|sheaves sheav|shedding shed
    shied shi|shies shi|shiny shini|shoed sho|shy shi|shyly shyli|shyness shyness|sickly sick
    sightedness sighted|signalize signal|signification signif|signifieth signifieth|simplicity simplic
    simultaneously simultan|sinfulness sin|singeing sing|singly singl|sinister sinist|sinning sin
    skies sky|dying die|news news|succeed succeed|generously generous|communication communic`;
  for (const pair of pairs.split(/[|\n]/)) {
    const [word, expected] = pair.trim().split(" ");
    assert.equal(stem(word), expected, word);
  }
});

test("stemming is deterministic and leaves short/non-ASCII words alone", () => {
  assert.equal(stem("is"), "is");
  assert.equal(stem("v2"), "v2");
  assert.equal(stem("éditions"), "éditions");
  assert.deepEqual(tokenize("Running refunds quickly"), tokenize("Running refunds quickly"));
});

test("contentTokens drops stop words on the surface form", () => {
  // "does" would stem to "doe" — it must be removed before stemming.
  assert.deepEqual(contentTokens("How does the refund policy work?"), ["refund", "polici", "work"]);
  assert.deepEqual(contentTokens("What can't I do?"), []);
  assert.deepEqual(contentTokens("how much is the Pro plan", new Set(["much"])), ["pro", "plan"]);
  // In a compound only the stop-word parts go; the identifier itself stays.
  assert.deepEqual(contentTokens("and/or"), ["and/or"]);
  assert.ok(STOP_WORDS.has("the") && STOP_WORDS.has("doesnt") && !STOP_WORDS.has("refund"));
});
