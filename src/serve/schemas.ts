/**
 * The request and response shapes of every route (zod). The server validates both directions with
 * them and the OpenAPI document (openapi.ts) is emitted from them. Length limits that come from
 * config (`serve.maxQueryChars`, `serve.maxK`) are checked after the shape, so the published
 * document does not depend on a project's config.
 */
import { z } from "zod";
import type { Context } from "hono";

/** Undefined = allowed; a Response = the request is rejected with it (auth.ts implements this). */
export type Authorize = (c: Context, scope: "query" | "admin") => Promise<Response | undefined>;

const filters = z
  .object({
    versions: z.array(z.string().min(1).max(200)).max(100).optional().describe("Only chunks with one of these version labels."),
    paths: z.array(z.string().min(1).max(500)).max(100).optional().describe("Only chunks whose path matches one of these globs."),
    pathPrefix: z.string().min(1).max(500).optional().describe("Only chunks whose path starts with this."),
    tags: z.array(z.string().min(1).max(200)).max(100).optional().describe("Only chunks of documents tagged with one of these."),
  })
  .strict();

const k = z.number().int().min(1).describe("Chunks to retrieve (default: retrieval.k; at most serve.maxK).");

export const AskRequest = z
  .object({
    question: z.string().min(1).describe("The user's question (at most serve.maxQueryChars characters)."),
    filters: filters.optional(),
    k: k.optional(),
  })
  .strict();
export type AskRequest = z.infer<typeof AskRequest>;

export const SearchRequest = z
  .object({
    query: z.string().min(1).describe("Search text (at most serve.maxQueryChars characters)."),
    k: k.optional(),
  })
  .strict();
export type SearchRequest = z.infer<typeof SearchRequest>;

const chatContent = z.union([
  z.string(),
  z.array(z.object({ type: z.string(), text: z.string().optional() }).loose()).describe("Content parts; only text parts are read."),
]);

export const ChatRequest = z
  .object({
    model: z.string().max(200).optional().describe("Ignored: the server answers with the pipeline it serves (its id is in the reply's `model`)."),
    messages: z
      .array(z.object({ role: z.enum(["system", "user", "assistant", "developer", "tool"]), content: chatContent.nullable().optional() }).loose())
      .min(1)
      .max(200)
      .describe("The conversation; the last user message is the question."),
    stream: z.boolean().optional(),
  })
  .loose();
export type ChatRequest = z.infer<typeof ChatRequest>;

export const FeedbackRequest = z
  .object({
    requestId: z.string().min(1).max(100).describe("The `requestId` of an earlier /v1/ask, /v1/search or /v1/chat/completions reply."),
    thumbs: z.enum(["up", "down"]),
    correctedAnswer: z.string().max(20_000).optional().describe("What the answer should have been."),
    text: z.string().max(20_000).optional().describe("Free-text comment."),
  })
  .strict();
export type FeedbackRequest = z.infer<typeof FeedbackRequest>;

/** Which index and which model answered: quoted in every answer and in /metrics. */
export const ServedVersion = z.object({
  index: z.object({
    generation: z.number().int().describe("The store's generation counter (bumped by every ingest that changes it)."),
    fingerprint: z.string().describe("Content fingerprint of the index (documents, hashes, versions, chunking)."),
    documents: z.number().int(),
    chunks: z.number().int(),
    version: z.number().int().nullable().describe("The index version (`ragtune index versions`) with this content; null when none was recorded."),
  }),
  model: z.object({
    variant: z.string().describe("The pipeline served: rag, hybrid, …"),
    generator: z.string().describe("The base generator id, e.g. offline:extractive."),
    promoted: z.array(z.string()).describe("Ids of the promoted fine-tuned models in use (fine-tuned / hybrid)."),
  }),
});
export type ServedVersion = z.infer<typeof ServedVersion>;

export const CitationOut = z.object({
  marker: z.number().int(),
  chunkId: z.string(),
  path: z.string(),
  headingPath: z.array(z.string()),
  lines: z.tuple([z.number().int(), z.number().int()]),
  version: z.string(),
  /** "path › heading › lines 3–5", ready to show. */
  label: z.string(),
  quote: z.string().optional(),
});

export const AskResponse = z.object({
  requestId: z.string(),
  answer: z.string(),
  citations: z.array(CitationOut),
  confidence: z.number().nullable().describe("0..1 when the generator estimates it."),
  fallback: z.boolean().describe("True when the pipeline abstained; `escalation` then says what the user should do."),
  escalation: z.string().nullable(),
  support: z.number().nullable().describe("Share of the answer's claims backed by the cited chunks (evaluate/metrics.ts supportRatio); null when there was nothing to check."),
  generator: z.string().describe("Which generator produced the answer."),
  served: ServedVersion,
  latencyMs: z.number(),
});
export type AskResponse = z.infer<typeof AskResponse>;

export const SearchResponse = z.object({
  requestId: z.string(),
  query: z.string(),
  retriever: z.string(),
  hits: z.array(
    z.object({
      rank: z.number().int(),
      score: z.number(),
      id: z.string(),
      path: z.string(),
      headingPath: z.array(z.string()),
      lines: z.tuple([z.number().int(), z.number().int()]),
      version: z.string(),
      text: z.string(),
    }),
  ),
  served: ServedVersion,
});
export type SearchResponse = z.infer<typeof SearchResponse>;

export const ChatResponse = z.object({
  id: z.string(),
  object: z.literal("chat.completion"),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal("assistant"), content: z.string() }),
      finish_reason: z.literal("stop"),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }),
  /** ragtune's own fields: the same as /v1/ask returns. */
  ragtune: AskResponse,
});
export type ChatResponse = z.infer<typeof ChatResponse>;

/** One server-sent event of a streamed chat completion (`stream: true`). */
export const ChatChunk = z.object({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({ role: z.literal("assistant").optional(), content: z.string().optional() }),
      finish_reason: z.literal("stop").nullable(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() }).optional(),
  /** On the last chunk: the same fields as /v1/ask returns. */
  ragtune: AskResponse.optional(),
});

export const FeedbackResponse = z.object({ requestId: z.string(), recorded: z.literal(true) });

export const ErrorResponse = z.object({
  error: z.object({
    code: z.enum(["invalid_request", "too_long", "malformed_json", "body_too_large", "not_found", "timeout", "not_ready", "forbidden_host", "conflict", "internal"]),
    field: z.string().optional().describe("The request field at fault (dotted path), when one is."),
    message: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorResponse>;

export const HealthResponse = z.object({ status: z.literal("ok") });
export const ReadyResponse = z.object({ status: z.enum(["ready", "not_ready"]), reason: z.string().optional(), served: ServedVersion.optional() });

// --- admin routes (scope "admin") ---------------------------------------------------------------

export const IngestRequest = z
  .object({ prune: z.boolean().optional().describe("Allow removing more than half of the index (as `ragtune ingest --prune`).") })
  .strict();

const IndexVersionOut = z.object({
  version: z.number().int(),
  createdAt: z.string(),
  note: z.string(),
  documents: z.number().int(),
  chunks: z.number().int(),
  fingerprint: z.string(),
  restorable: z.boolean(),
});

export const IngestResponse = z.object({
  added: z.number().int(),
  changed: z.number().int(),
  removed: z.number().int(),
  unchanged: z.number().int(),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  documents: z.number().int(),
  chunks: z.number().int(),
  indexVersion: z.number().int().nullable().describe("The index version this ingest recorded; null when nothing changed."),
  served: ServedVersion,
});

export const DeleteDocumentResponse = z.object({ path: z.string(), removed: z.literal(true), indexVersion: z.number().int().nullable(), served: ServedVersion });

export const IndexVersionsResponse = z.object({ versions: z.array(IndexVersionOut), live: z.object({ generation: z.number().int(), fingerprint: z.string() }) });
