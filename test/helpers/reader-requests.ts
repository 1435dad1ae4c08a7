/**
 * Reader requests over the demo project's real documents, for the lexical-reader snapshot
 * (test/reader-semantic.test.ts): every qa question of examples/acme-support's suite, with the six
 * documents (whole files, both versions) that share the most words with it as context, scored by
 * that overlap so the reader's retrieval-rank bonus and version handling run too.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSuite } from "../../src/evaluate/suite.ts";
import type { ContextChunk, GenerateRequest } from "../../src/models/index.ts";
import { tokenize } from "../../src/retrieve/tokenize.ts";

const DEMO = resolve(dirname(fileURLToPath(import.meta.url)), "../../examples/acme-support");

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? markdownFiles(p) : name.endsWith(".md") ? [p] : [];
    });
}

export function demoReaderRequests(): { caseId: string; request: GenerateRequest }[] {
  const docs = markdownFiles(join(DEMO, "docs")).map((file) => {
    const path = relative(DEMO, file);
    const text = readFileSync(file, "utf8").replace(/^---\n[\s\S]*?\n---\n/, "");
    const version = path.split("/")[1];
    const title = /^#\s+(.+)$/m.exec(text)?.[1] ?? path;
    return { path, text, version, title, terms: new Set(tokenize(text)) };
  });
  const qa = loadSuite(join(DEMO, "suite.yaml")).cases.filter((c) => c.task === "qa");
  return qa.map((c) => {
    const q = new Set(tokenize(c.input));
    const ranked = docs
      .map((d) => ({ d, score: [...q].filter((t) => d.terms.has(t)).length }))
      .sort((a, b) => b.score - a.score || (a.d.path < b.d.path ? -1 : 1))
      .slice(0, 6);
    const context: ContextChunk[] = ranked.map(({ d, score }) => ({
      id: `${d.path}#0`,
      path: d.path,
      headingPath: [d.title],
      lineStart: 1,
      lineEnd: d.text.split("\n").length,
      version: d.version,
      versionRank: d.version === "v2" ? 0 : 1,
      score,
      text: d.text,
    }));
    return { caseId: c.id, request: { task: "qa", input: c.input, context } };
  });
}
