/**
 * models/ — everything that produces an answer: task-level `Generator`s and the chat providers
 * they may sit on.
 *
 * - `Generator` is what pipelines call: it takes a task (qa | classify | extract), the question
 *   and the context chunks, and returns an answer with citations, an abstention flag and token usage.
 * - `ChatProvider` is a raw chat-completion API (OpenAI-compatible, …). `LlmGenerator` turns any
 *   ChatProvider into a Generator with prompts that ask for [n] citations, JSON or a label.
 * - `offline:extractive` is a Generator that needs no model: it selects and cites sentences.
 *
 * Adding a provider means adding one file that implements `ChatProvider` and one line in
 * `registry.ts`.
 */

import type { ChunkSpan } from "../core/chunk.ts";

export type TaskKind = "qa" | "classify" | "extract";

/** A chunk handed to a generator, numbered [1..n] in the prompt. */
export interface ContextChunk {
  id: string;
  path: string;
  headingPath: string[];
  lineStart: number;
  lineEnd: number;
  version: string;
  text: string;
  /** Retrieval score, if the chunk came from retrieval (used by the extractive reader). */
  score?: number;
  /** Sections and source lines of the stretches of `text` (see `Chunk.spans`), for citations. */
  spans?: ChunkSpan[];
  /**
   * Position of `version` in the project's version order, 0 = newest; absent when the project
   * has fewer than two versions or the chunk is unlabelled.
   */
  versionRank?: number;
}

export interface LabelSpec {
  name: string;
  description?: string;
}

export interface GenerateRequest {
  task: TaskKind;
  /** The user question / ticket / document to process. */
  input: string;
  /** Retrieved or packed context; empty for prompt-only. */
  context: ContextChunk[];
  /** For classify: the allowed labels. */
  labels?: LabelSpec[];
  /** For extract: the JSON Schema the output must satisfy. */
  jsonSchema?: Record<string, unknown>;
  /** System prompt (the "strong prompt baseline" of prompt-only lives here). */
  system?: string;
  /** Abstain when confidence is below this (0..1). Only meaningful for generators that score. */
  minConfidence?: number;
  /**
   * Version labels the question names ("in v7 …"): answer from them rather than the newest.
   * Absent: when context versions disagree, the newest (`ContextChunk.versionRank` 0) answers.
   */
  preferVersions?: string[];
  /**
   * The whole corpus the context came from, for generators that weigh evidence (the offline
   * reader): a question term that no document contains says the documents do not cover it.
   */
  corpus?: CorpusStats;
  /** Repeat index under `--repeats` (0-based), passed to the provider as `ChatOptions.sample`. */
  sample?: number;
  /** qa: stream the answer; each text delta as it arrives (LLM generators; others ignore it). */
  onText?: (delta: string) => void;
}

/** Corpus statistics over index terms (`tokenize` output: lower-cased, stemmed). */
export interface CorpusStats {
  /** Chunks that contain `term`. */
  documentFrequency(term: string): number;
}

export interface Citation {
  /** 1-based marker number as it appears in the answer: [1]. */
  marker: number;
  chunkId: string;
  path: string;
  /** Heading path of the section the cited sentence is in (not the chunk's first heading). */
  headingPath: string[];
  /** Source lines of the cited sentence (the chunk's lines when it cannot be located). */
  lineStart: number;
  lineEnd: number;
  /** Version label of the cited document ("" when unversioned). */
  version?: string;
  /** The cited text as it appears in the source (markdown kept: code spans, placeholders), when known; several sentences quoted from one section are joined by " … ". */
  quote?: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface GenerateResult {
  /** The answer text shown to a user (with [n] markers for qa). */
  text: string;
  citations: Citation[];
  /** True when the generator declined to answer (fallback message in `text`). */
  abstained: boolean;
  /** 0..1 when the generator can estimate it. */
  confidence?: number;
  /** Parsed JSON for extract tasks (undefined when the output was not valid JSON). */
  json?: unknown;
  /** Chosen label for classify tasks. */
  label?: string;
  usage: Usage;
  /** Which generator produced it, e.g. "offline:extractive" or "openai-compatible:gpt-4.1-mini". */
  generator: string;
  /** Every model call behind this result was served from the response cache (it cost nothing). */
  cached?: boolean;
}

export interface Generator {
  readonly id: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A JSON Schema the reply must satisfy (structured output). */
export interface JsonSchemaSpec {
  /** Short identifier ([a-zA-Z0-9_-]), sent as the schema/tool name. */
  name: string;
  schema: Record<string, unknown>;
}

export interface ChatOptions {
  /** Default 0: evaluation wants the model's most likely answer. */
  temperature?: number;
  maxTokens?: number;
  /** Ask for a JSON object response where the API supports it. */
  json?: boolean;
  /**
   * Constrain the reply to a JSON Schema: OpenAI `response_format: json_schema` (strict),
   * Anthropic a forced tool call whose input is the object. The reply text is the JSON.
   */
  jsonSchema?: JsonSchemaSpec;
  /** Stream the reply (SSE); `onText` receives each text delta. The result is the same either way. */
  stream?: boolean;
  onText?: (delta: string) => void;
  /** Sent where the API supports it (OpenAI `seed`). Part of the cache key. */
  seed?: number;
  /**
   * Distinguishes repeated identical calls (`--repeats`): part of the cache key only, never sent,
   * so repeat i of a rerun hits the cache entry of repeat i.
   */
  sample?: number;
  signal?: AbortSignal;
}

export interface ChatResult {
  text: string;
  /** Usage as reported by the API, or counted locally when absent. */
  usage: Usage;
  model: string;
  /** Served from the response cache (cost nothing this time). */
  cached?: boolean;
  /** Why generation stopped, as the API says ("stop", "length", "end_turn", …). */
  finishReason?: string;
  /** HTTP attempts it took (1 = no retry). */
  attempts?: number;
}

export interface ChatProvider {
  /** e.g. "openai-compatible:local/llama3.2". */
  readonly id: string;
  chat(messages: ChatMessage[], options?: ChatOptions): Promise<ChatResult>;
}

/**
 * Turns text into vectors for dense retrieval. Implementations live in `models/embedders/` and are
 * created by `createEmbedder(id, …)` from `models.embedder` in the config.
 */
export interface Embedder {
  /** e.g. "hashing:256", "onnx:models/bge-small", "openai:text-embedding-3-small". */
  readonly id: string;
  /** Vector length (0 until the first call for providers that only report it then). */
  readonly dimensions: number;
  /** Embed a batch. `kind` lets asymmetric models add their query/passage prefixes. Vectors are L2-normalised. */
  embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]>;
}

/** Message shown when a generator abstains. */
export const FALLBACK_MESSAGE =
  "I don't know based on the available documents. I've flagged this question for a human to follow up.";

export { countTokens } from "./tokens.ts";
export { ExtractiveReader } from "./offline-extractive.ts";
export { OpenAICompatibleProvider } from "./openai-compatible.ts";
export { LlmGenerator } from "./llm-generator.ts";
export { createGenerator } from "./registry.ts";
