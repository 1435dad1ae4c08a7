/**
 * Checks the corpus suites against the documents themselves, so a wrong gold label is caught
 * before it is used to judge ragtune:
 * - every gold source file exists, and its `#Heading` is a heading of that file;
 * - for qa cases, one `answer` (all `contains` phrases, the `regex`) is found in a gold section's text
 *   (the heading's section including its subsections), with the scorers' own normalisation;
 * - one of the `stale_answers` is found in a file of an older version (--verbose lists the files).
 *
 *   node --import tsx bench/corpora/check-suites.ts [--corpus pnpm-docs|fastify-docs] [--verbose]
 *
 * Exit 0 when everything checks out (or the datasets are absent), 1 when a label is wrong.
 * Unanswerable cases cannot be proven absent by a script: they were checked with grep by hand.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { globSync } from "tinyglobby";
import { loadSuite } from "../../src/evaluate/suite.ts";
import { answerTokens, containsTokenSequence } from "../../src/evaluate/normalize.ts";
import { compileCaseRegex, containsNormalized } from "../../src/evaluate/scorers.ts";
import { outline, normalizeHeading } from "./lib/sections.ts";
import type { CorpusProject } from "./project-types.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DATASETS = resolve(ROOT, "../shared/datasets");
const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const only = args.includes("--corpus") ? args[args.indexOf("--corpus") + 1] : undefined;

const slug = (s: string) => normalizeHeading(s).replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "");

/** Text of the section under `heading` (including subsections), or undefined if the file has no such heading. */
function sectionText(file: string, heading: string | undefined): string | undefined {
  const text = readFileSync(file, "utf8");
  if (heading === undefined || heading === "") return text;
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const o = outline(text);
  const want = normalizeHeading(heading);
  const hits = o.headings.filter((h) => normalizeHeading(h.text) === want || slug(h.text) === slug(heading));
  if (hits.length === 0) return undefined;
  return hits
    .map((h) => {
      const end = o.headings.find((x) => x.line > h.line && x.level <= h.level)?.line ?? lines.length + 1;
      return lines.slice(h.line - 1, end - 1).join("\n");
    })
    .join("\n");
}

const has = (text: string, answer: string) => {
  const t = answerTokens(answer);
  return t.length > 0 && containsTokenSequence(answerTokens(text), t);
};

async function checkCorpus(name: string): Promise<number> {
  const base = join(DATASETS, name);
  if (!existsSync(base)) {
    console.log(`${name}: skipped — ${base} is absent`);
    return 0;
  }
  const { project } = (await import(`./${name}/project.ts`)) as { project: CorpusProject };
  const suite = loadSuite(join(ROOT, "bench/corpora", name, "suite.yaml"));
  const older = project.sources.filter((s) => s.version !== project.currentVersion).flatMap((s) => globSync(s.include, { cwd: base }));
  const olderText = new Map(older.map((f) => [f, readFileSync(join(base, f), "utf8")]));
  let problems = 0;
  const problem = (id: string, msg: string) => {
    problems++;
    console.log(`  ${id}: ${msg}`);
  };
  console.log(`${name}: ${suite.cases.length} cases, ${olderText.size} older-version files`);
  for (const c of suite.cases) {
    const sections: string[] = [];
    for (const src of c.sources ?? []) {
      const i = src.indexOf("#");
      const path = i < 0 ? src : src.slice(0, i);
      const heading = i < 0 ? undefined : src.slice(i + 1);
      const file = join(base, path);
      if (!existsSync(file)) {
        problem(c.id, `gold source file ${path} does not exist`);
        continue;
      }
      const text = sectionText(file, heading);
      if (text === undefined) problem(c.id, `gold source ${src}: no heading '${heading}' in ${path}`);
      else sections.push(text);
    }
    if (c.task === "qa" && !c.must_abstain && sections.length > 0) {
      const all = sections.join("\n");
      if (c.answer && !c.answer.some((a) => has(all, a))) problem(c.id, `no answer of ${JSON.stringify(c.answer)} is in the gold sections`);
      for (const p of c.contains ?? []) if (!containsNormalized(all, p)) problem(c.id, `contains '${p}' is not in the gold sections`);
      if (c.regex !== undefined && !compileCaseRegex(c.regex).test(all)) problem(c.id, `regex ${c.regex} does not match the gold sections`);
      if (verbose) console.log(`  ${c.id}: ok (${sections.length} gold section(s))`);
    }
    // Like `answer`, `stale_answers` lists phrasings of one value: at least one must be in the old docs
    // (the others are how a generator may word it).
    if ((c.stale_answers?.length ?? 0) > 0) {
      const found = (c.stale_answers ?? []).map((s) => ({ s, files: [...olderText].filter(([, t]) => has(t, s)).map(([f]) => f) }));
      if (found.every((x) => x.files.length === 0)) problem(c.id, `no stale answer of ${JSON.stringify(c.stale_answers)} is in an older-version file`);
      else if (verbose)
        for (const x of found.filter((f) => f.files.length > 0)) console.log(`  ${c.id}: stale '${x.s}' in ${x.files.length} file(s), e.g. ${x.files.slice(0, 3).join(", ")}`);
    }
    if ((c.stale_answers?.length ?? 0) > 0 && !c.tags?.includes("changed-fact")) problem(c.id, "has stale_answers but no changed-fact tag");
    if (c.tags?.includes("changed-fact") && (c.stale_answers?.length ?? 0) === 0) problem(c.id, "changed-fact without stale_answers");
  }
  console.log(problems === 0 ? `${name}: all gold labels check out` : `${name}: ${problems} problem(s)`);
  return problems;
}

let total = 0;
for (const name of ["pnpm-docs", "fastify-docs"]) if (!only || only === name) total += await checkCorpus(name);
process.exitCode = total === 0 ? 0 : 1;
