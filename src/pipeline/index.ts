/**
 * pipeline/ — the variants compared by an evaluation. Each variant decides what context the
 * generator sees; the generator is the same for all of them, so differences are due to context.
 *
 * - prompt-only:  no context; the system prompt is the "strong prompt baseline".
 * - long-context: the whole corpus packed into the prompt up to `longContext.budgetTokens`.
 * - rag:          the top-k retrieved chunks.
 * - fine-tuned:   a trained model from the registry (not configured until a model is trained).
 * - hybrid:       fine-tuned model + retrieval (idem).
 */
import type { Chunk } from "../ingest/index.ts";
import type { ContextChunk, CorpusStats, GenerateResult, Generator, LabelSpec, TaskKind } from "../models/index.ts";
import type { Hit } from "../retrieve/index.ts";
import { chunkFilterPredicate, type ChunkFilter } from "../store/index.ts";
import type { VariantName } from "../config/index.ts";
import type { Project } from "./project.ts";
import { countTokens } from "../models/index.ts";
import { versionsNamed, type VersionOrder } from "../core/versions.ts";
import { configFilter, type RetrieveOptions } from "../retrieve/pipeline.ts";
import { longContextBudget } from "../models/limits.ts";
import { describeFineTuned, FineTunedGenerator, loadFineTunedModels, type FineTunedModels } from "./finetuned.ts";
import type { ModelRecord } from "../finetune/index.ts";
import { compareNaturalDesc } from "../core/versions.ts";

export { openProject, openProjectFromPath, type Project } from "./project.ts";

export interface VariantInput {
  task: TaskKind;
  input: string;
  labels?: LabelSpec[];
  jsonSchema?: Record<string, unknown>;
  /** Repeat index under --repeats (0-based): repeated calls are separate cache entries. */
  sample?: number;
}

export interface VariantOutput {
  result: GenerateResult;
  context: ContextChunk[];
  retrieved: Hit[];
  contextTokens: number;
  truncated: boolean;
}

export interface Variant {
  name: VariantName;
  /** True when the generator sees any document context. */
  usesContext: boolean;
  /** True when the context comes from retrieval (so retrieval metrics apply). */
  usesRetrieval: boolean;
  run(input: VariantInput): Promise<VariantOutput>;
  /** Long-context packing facts, for the summary. */
  packing?: PackingInfo;
  /** fine-tuned / hybrid: the promoted models used, in words. */
  models?: string;
}

export interface PackingInfo {
  budgetTokens: number;
  corpusTokens: number;
  packedTokens: number;
  truncated: boolean;
  /** Chunks that did not fit. */
  droppedChunks: number;
  /** Where the budget came from (configured number, or the model's context window for "auto"). */
  budgetSource?: string;
}

export const DEFAULT_SYSTEM_PROMPT = [
  "You are the support assistant for the product described by the user's documents.",
  "Answer precisely and briefly. When context passages are provided, use only them and cite each claim with its passage number like [1].",
  "If the answer is not in the context (or you are not sure), reply exactly: I don't know.",
  "Never invent prices, limits, dates or settings. Be courteous and neutral.",
].join(" ");

/** A chunk as generator context; with `versions`, its place in the version order (when there are ≥ 2 versions). */
export function toContextChunk(chunk: Chunk, score?: number, versions?: VersionOrder): ContextChunk {
  const versionRank = versions && versions.labels.length > 1 && chunk.version ? versions.rank(chunk.version) : undefined;
  return {
    id: chunk.id,
    path: chunk.path,
    headingPath: chunk.headingPath,
    lineStart: chunk.lineStart,
    lineEnd: chunk.lineEnd,
    version: chunk.version,
    text: chunk.text,
    score,
    ...(chunk.spans ? { spans: chunk.spans } : {}),
    ...(versionRank !== undefined ? { versionRank } : {}),
  };
}

/**
 * Pack chunks into a token budget: newest version first (so truncation drops archived docs before
 * current ones), then by path and ordinal. Returns the packed chunks and what was dropped.
 */
export function packCorpus(chunks: Chunk[], budgetTokens: number, versions?: VersionOrder): { packed: Chunk[]; info: PackingInfo } {
  const ordered = [...chunks].sort((a, b) => versionPackingOrder(a.version, b.version, versions) || a.path.localeCompare(b.path) || a.ordinal - b.ordinal);
  const packed: Chunk[] = [];
  let used = 0;
  let corpusTokens = 0;
  for (const c of ordered) {
    // Each passage costs its text plus a short header line ("[n] path › heading").
    const cost = c.tokens + 12;
    corpusTokens += cost;
    if (used + cost <= budgetTokens) {
      packed.push(c);
      used += cost;
    }
  }
  return {
    packed,
    info: {
      budgetTokens,
      corpusTokens,
      packedTokens: used,
      truncated: packed.length < ordered.length,
      droppedChunks: ordered.length - packed.length,
    },
  };
}


/** The metadata filter declared in `retrieval.{versions, paths, tags}` (undefined when none). */
export { configFilter as retrievalFilter } from "../retrieve/pipeline.ts";

/** Newest version first; unlabelled documents after the versioned ones. */
function versionPackingOrder(a: string, b: string, versions?: VersionOrder): number {
  if (a === b) return 0;
  if (a === "") return 1;
  if (b === "") return -1;
  return versions ? versions.compare(a, b) : compareNaturalDesc(a, b);
}

/** The version labels `question` names, among the project's ("in v7 …", "pnpm 9.x"). */
export function namedVersions(project: Project, question: string): string[] {
  const labels = project.versions().labels;
  return labels.length > 1 ? versionsNamed(question, labels, project.config.name) : [];
}

/** Retrieval as every answering path uses it (rag, hybrid, `ask`, the server): the project's pipeline. */
export async function retrieveForAnswer(project: Project, query: string, k: number, filter?: ChunkFilter): Promise<Hit[]> {
  return (await project.retrieval()).retrieve(query, { k, filter, preferVersions: namedVersions(project, query) });
}

/** Document frequencies of the project's index, for generators that weigh evidence. */
export function corpusStats(project: Project): CorpusStats {
  return { documentFrequency: (term) => project.retriever().df(term) };
}

/** What a generator answers from: the retrieved hits as context, and the versions the question names. */
export interface AnswerContext {
  hits: Hit[];
  context: ContextChunk[];
  preferVersions: string[];
}

export async function answerContext(project: Project, query: string, k: number, filter?: ChunkFilter, observe?: Pick<RetrieveOptions, "onRerank">): Promise<AnswerContext> {
  const preferVersions = namedVersions(project, query);
  const hits = await (await project.retrieval()).retrieve(query, { k, filter, preferVersions, ...observe });
  const versions = project.versions();
  return { hits, context: hits.map((h) => toContextChunk(h.chunk, h.score, versions)), preferVersions };
}

const NO_CONTEXT: AnswerContext = { hits: [], context: [], preferVersions: [] };

export interface BuiltVariants {
  variants: Variant[];
  notConfigured: { name: VariantName; reason: string }[];
  /** The promoted models behind fine-tuned / hybrid (empty when neither was built). */
  finetuned: ModelRecord[];
}

/** `generator` overrides the project's (the dry-run estimate passes a recording one). */
export function buildVariants(project: Project, names: VariantName[], generator: Generator = project.generator()): BuiltVariants {
  const { config } = project;
  const system = config.models.systemPrompt ?? DEFAULT_SYSTEM_PROMPT;
  const minConfidence = config.answer.minConfidence;
  const filter = configFilter(config.retrieval);
  const variants: Variant[] = [];
  const notConfigured: BuiltVariants["notConfigured"] = [];

  const versions = project.versions();
  const corpus = corpusStats(project);
  // Generators prefer the versions a qa question names; retrieval has found them already when it ran.
  const preferOf = (input: VariantInput, named = namedVersions(project, input.input)) =>
    input.task === "qa" && named.length > 0 ? { preferVersions: named } : {};
  const timedGenerate = async (input: VariantInput, context: ContextChunk[], named?: string[]) =>
    generator.generate({
      task: input.task,
      input: input.input,
      context,
      labels: input.labels,
      jsonSchema: input.jsonSchema,
      system,
      minConfidence,
      sample: input.sample,
      corpus,
      ...preferOf(input, named),
    });

  let promoted: ModelRecord[] | undefined;
  let loaded: FineTunedModels | undefined;
  for (const name of names) {
    if (name === "prompt-only") {
      variants.push({
        name,
        usesContext: false,
        usesRetrieval: false,
        async run(input) {
          const result = await timedGenerate(input, []);
          return { result, context: [], retrieved: [], contextTokens: 0, truncated: false };
        },
      });
    } else if (name === "long-context") {
      const budget = longContextBudget(config.longContext.budgetTokens, config.longContext.outputReserveTokens, generator.id);
      const { packed, info } = packCorpus(project.store.chunks().filter(chunkFilterPredicate(filter)), budget.tokens, versions);
      info.budgetSource = budget.source;
      const context = packed.map((c) => toContextChunk(c, undefined, versions));
      variants.push({
        name,
        usesContext: true,
        usesRetrieval: false,
        packing: info,
        async run(input) {
          const result = await timedGenerate(input, context);
          return { result, context, retrieved: [], contextTokens: info.packedTokens, truncated: info.truncated };
        },
      });
    } else if (name === "rag") {
      const k = config.retrieval.k;
      variants.push({
        name,
        usesContext: true,
        usesRetrieval: true,
        async run(input) {
          // Extraction works on the input document itself; retrieved help pages add only tokens.
          const { hits, context, preferVersions } = input.task === "extract" ? NO_CONTEXT : await answerContext(project, input.input, k, filter);
          const result = await timedGenerate(input, context, preferVersions);
          const contextTokens = context.reduce((n, c) => n + countTokens(c.text), 0);
          return { result, context, retrieved: hits, contextTokens, truncated: false };
        },
      });
    } else {
      // fine-tuned / hybrid: the promoted models on top of the base generator (pipeline/finetuned.ts).
      // Read the registry and load the artifacts once for both fine-tuned and hybrid.
      promoted ??= project.promotedModels();
      const records = promoted;
      if (records.length === 0) {
        notConfigured.push({
          name,
          reason: "no trained model is promoted for this project (`ragtune finetune train`); the variant is not run and never simulated",
        });
        continue;
      }
      const models = (loaded ??= loadFineTunedModels(records, (id) => project.generatorFor(id), project.root));
      const ft = new FineTunedGenerator(generator, models, name, config.answer.fallbackMessage);
      const generate = (input: VariantInput, context: ContextChunk[], named?: string[]) =>
        ft.generate({ task: input.task, input: input.input, context, labels: input.labels, jsonSchema: input.jsonSchema, system, minConfidence, sample: input.sample, corpus, ...preferOf(input, named) });
      if (name === "fine-tuned") {
        variants.push({
          name,
          usesContext: false,
          usesRetrieval: false,
          models: describeFineTuned(models),
          async run(input) {
            const result = await generate(input, []);
            return { result, context: [], retrieved: [], contextTokens: 0, truncated: false };
          },
        });
      } else {
        const k = config.retrieval.k;
        variants.push({
          name,
          usesContext: true,
          usesRetrieval: true,
          models: describeFineTuned(models),
          async run(input) {
            const { hits, context, preferVersions } = input.task === "extract" ? NO_CONTEXT : await answerContext(project, input.input, k, filter);
            const result = await generate(input, context, preferVersions);
            const contextTokens = context.reduce((n, c) => n + countTokens(c.text), 0);
            return { result, context, retrieved: hits, contextTokens, truncated: false };
          },
        });
      }
    }
  }
  return { variants, notConfigured, finetuned: loaded ? promoted ?? [] : [] };
}
