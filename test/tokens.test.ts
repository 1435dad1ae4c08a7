import { test } from "node:test";
import assert from "node:assert/strict";
import { countTokens, textPieces } from "../src/models/tokens.ts";

test("countTokens counts ordinary text exactly and special-token text as plain text", () => {
  assert.equal(countTokens(""), 0);
  assert.equal(countTokens("hello world"), 2);
  // gpt-tokenizer throws on special tokens by default; documents about LLMs contain them.
  assert.ok(countTokens("the model emits <|endoftext|> at the end") > 5);
});

test("long runs are cut into pieces so counting stays linear; ordinary text is one piece", () => {
  assert.equal(textPieces("a normal sentence with spaces").length, 1);
  const run = "=".repeat(200_000);
  const pieces = textPieces(run);
  assert.ok(pieces.length >= 200);
  assert.equal(pieces.map((p) => p.text).join(""), run, "pieces cover the text exactly");
  assert.ok(countTokens(run) > 0);
});
