import type { Command } from "commander";
import { hitJson } from "../../retrieve/index.ts";
import { openFrom, printJson, applyFilterFlags, type FilterFlags } from "./common.ts";
import { DEFAULT_SYSTEM_PROMPT, answerContext, corpusStats, retrievalFilter, retrieveForAnswer } from "../../pipeline/index.ts";
import { bold, dim, cyan, yellow } from "../output.ts";
import { InputError } from "../../util/errors.ts";
import type { Project } from "../../pipeline/index.ts";
import type { LoadedConfig } from "../../config/index.ts";

interface QueryOpts extends FilterFlags {
  k?: number;
  json?: boolean;
  model?: string;
  stream?: boolean;
  raw?: boolean;
}

function requireIndex(project: Project): void {
  if (project.store.documents().length === 0) throw new InputError("the index is empty — run `ragtune ingest` first");
}

function filterOf(project: Project, opts: QueryOpts, loaded: LoadedConfig) {
  applyFilterFlags(project, opts, loaded);
  return retrievalFilter(project.config.retrieval);
}

/**
 * By default the answering retrieval (what `ask` and eval's rag variant see: rerank, version
 * collapsing, small-to-big as configured); `--raw` shows plain BM25 scores instead.
 */
export async function searchCommand(query: string, opts: QueryOpts, cmd: Command): Promise<void> {
  const { loaded, project } = openFrom(cmd);
  try {
    requireIndex(project);
    const k = opts.k ?? project.config.retrieval.k;
    const filter = filterOf(project, opts, loaded);
    let retrieverName: string;
    let hits;
    if (opts.raw) {
      const bm25 = project.retriever();
      retrieverName = bm25.name;
      hits = bm25.search(query, { k, filter });
    } else {
      retrieverName = (await project.retrieval()).name;
      hits = await retrieveForAnswer(project, query, k, filter);
    }
    if (opts.json) {
      printJson({
        query,
        retriever: retrieverName,
        hits: hits.map(hitJson),
      });
      return;
    }
    console.log(dim(`retrieval: ${retrieverName}`));
    if (hits.length === 0) console.log("no matches");
    for (const h of hits) {
      const heading = h.chunk.headingPath.join(" › ");
      console.log(`${bold(`${h.rank}.`)} ${cyan(h.chunk.path)}:${h.chunk.lineStart}-${h.chunk.lineEnd} ${dim(`score ${h.score.toFixed(3)}`)}${h.chunk.version ? dim(` [${h.chunk.version}]`) : ""}`);
      if (heading) console.log(`   ${heading}`);
      console.log(`   ${dim(snippet(h.chunk.text))}`);
    }
  } finally {
    project.close();
  }
}

export async function askCommand(question: string, opts: QueryOpts, cmd: Command): Promise<void> {
  if (opts.stream && opts.json) throw new InputError("--stream and --json cannot be combined: --json prints one object when the answer is complete");
  const { loaded, project } = openFrom(cmd, { model: opts.model });
  try {
    requireIndex(project);
    const { config } = project;
    const { hits, context, preferVersions } = await answerContext(project, question, opts.k ?? config.retrieval.k, filterOf(project, opts, loaded));
    const generator = project.generator();
    const started = performance.now();
    // --stream prints the answer as it arrives; the final, parsed answer (citations) follows.
    let streamed = false;
    const result = await generator.generate({
      task: "qa",
      input: question,
      context,
      corpus: corpusStats(project),
      ...(preferVersions.length > 0 ? { preferVersions } : {}),
      system: config.models.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
      minConfidence: config.answer.minConfidence,
      ...(opts.stream && !opts.json
        ? {
            onText: (delta: string) => {
              streamed = true;
              process.stdout.write(delta);
            },
          }
        : {}),
    });
    if (streamed) process.stdout.write("\n");
    const latencyMs = performance.now() - started;
    if (opts.json) {
      printJson({ question, ...result, latencyMs: Math.round(latencyMs), retrieved: hits.map((h) => ({ id: h.chunk.id, score: h.score })) });
      return;
    }
    if (!streamed || result.abstained) console.log(result.abstained ? yellow(result.text) : result.text);
    if (result.citations.length) {
      console.log("");
      for (const c of result.citations) {
        const heading = c.headingPath.length ? ` › ${c.headingPath.join(" › ")}` : "";
        const version = c.version ? dim(` · ${c.version}${versionNote(project, c.version)}`) : "";
        console.log(`${dim(`[${c.marker}]`)} ${c.path}${heading} ${dim(`(lines ${c.lineStart}–${c.lineEnd})`)}${version}`);
      }
    }
    const conf = result.confidence !== undefined ? `, confidence ${result.confidence.toFixed(2)}` : "";
    console.log(dim(`\nanswered by ${result.generator}${conf}`));
  } finally {
    project.close();
  }
}

/** "(newest)" or "(newest is v8)" when the project has several versions. */
function versionNote(project: Project, version: string): string {
  const order = project.versions();
  if (order.labels.length < 2) return "";
  return order.rank(version) === 0 ? " (newest)" : ` (newest is ${order.labels[0]})`;
}

function snippet(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
