/**
 * The README's "Use it on your project" commands are the ones .ci/run executes from a folder
 * outside the checkout, so the documented path is the tested path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), "utf8");

test("every command of README's 'Use it on your project' block is run verbatim by .ci/run", () => {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Use it on your project"));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, "the section has a sh block");
  const commands = block[1]
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l.startsWith("ragtune ") || l.startsWith("npm "));
  assert.ok(commands.includes("npm link") && commands.includes("ragtune init") && commands.length >= 8, commands.join("\n"));
  const ci = new Set(read(".ci/run").split("\n").map((l) => l.trim()));
  const missing = commands.filter((c) => !ci.has(c));
  assert.deepEqual(missing, [], ".ci/run must run these exactly as the README writes them");
  assert.doesNotMatch(section.slice(0, section.indexOf("| command |")), /npx ragtune init/, "npx would look the unpublished package up in the registry");
});
