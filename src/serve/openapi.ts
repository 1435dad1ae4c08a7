/**
 * The OpenAPI 3.1 document of the serve API, emitted from the same zod schemas the server
 * validates with (so the document cannot drift from the code). Checked in at schema/openapi.json
 * by `npm run schema`; a test checks the served and checked-in documents are equal.
 */
import { z } from "zod";
import {
  AskRequest,
  AskResponse,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  ErrorResponse,
  FeedbackRequest,
  FeedbackResponse,
  HealthResponse,
  ReadyResponse,
  SearchRequest,
  SearchResponse,
} from "./schemas.ts";

type Schema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Schema {
  const s = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Schema;
  delete s.$schema;
  return s;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ "application/json": { schema: ref(name) } });
const error = (description: string) => ({ description, content: json("Error") });

const COMMON_ERRORS = {
  "400": error("Malformed JSON or a request field of the wrong shape; `error.field` names it."),
  "413": error("Request body larger than serve.bodyLimitBytes."),
  "422": error("Question / query longer than serve.maxQueryChars, or k above serve.maxK; `error.field` names it."),
  "503": error("The index is empty (not ready)."),
  "504": error("The request took longer than serve.timeoutMs."),
};

function post(summary: string, request: string, response: string, extra: Schema = {}, content: Schema = json(response)) {
  return {
    post: {
      summary,
      security: [{ bearer: [] }, {}],
      requestBody: { required: true, content: json(request) },
      responses: { "200": { description: "OK", content }, ...COMMON_ERRORS, ...extra },
    },
  };
}

export function openApiDocument(): Schema {
  const schemas: Record<string, Schema> = {
    AskRequest: jsonSchema(AskRequest, "input"),
    AskResponse: jsonSchema(AskResponse, "output"),
    SearchRequest: jsonSchema(SearchRequest, "input"),
    SearchResponse: jsonSchema(SearchResponse, "output"),
    ChatRequest: jsonSchema(ChatRequest, "input"),
    ChatResponse: jsonSchema(ChatResponse, "output"),
    ChatChunk: jsonSchema(ChatChunk, "output"),
    FeedbackRequest: jsonSchema(FeedbackRequest, "input"),
    FeedbackResponse: jsonSchema(FeedbackResponse, "output"),
    Health: jsonSchema(HealthResponse, "output"),
    Ready: jsonSchema(ReadyResponse, "output"),
    Error: jsonSchema(ErrorResponse, "output"),
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "ragtune serve",
      version: "1",
      description: "Answers from the project's chosen pipeline, with citations, confidence and the served index and model versions. See docs/serve.md.",
    },
    paths: {
      "/v1/ask": post("Answer a question with citations, confidence and a fallback flag.", "AskRequest", "AskResponse"),
      "/v1/search": post("Ranked chunks for a query (the same retrieval /v1/ask answers from).", "SearchRequest", "SearchResponse"),
      "/v1/chat/completions": post(
        "OpenAI-compatible chat completion, retrieval-augmented: the last user message is the question. With `stream: true` the reply is server-sent events ending in `data: [DONE]`.",
        "ChatRequest",
        "ChatResponse",
        {},
        {
          ...json("ChatResponse"),
          "text/event-stream": { schema: { type: "string", description: "With stream: true — `data: <ChatChunk JSON>` events (components.schemas.ChatChunk), then `data: [DONE]`." } },
        },
      ),
      "/v1/feedback": post("Record thumbs up/down, a corrected answer or a comment on an earlier request.", "FeedbackRequest", "FeedbackResponse", {
        "404": error("No logged request has this requestId."),
      }),
      "/healthz": { get: { summary: "The process is up.", responses: { "200": { description: "OK", content: json("Health") } } } },
      "/readyz": {
        get: {
          summary: "The index is open and not empty.",
          responses: { "200": { description: "Ready", content: json("Ready") }, "503": { description: "Not ready", content: json("Ready") } },
        },
      },
      "/metrics": {
        get: { summary: "Prometheus metrics (text exposition format).", responses: { "200": { description: "OK", content: { "text/plain": { schema: { type: "string" } } } } } },
      },
      "/openapi.json": { get: { summary: "This document.", responses: { "200": { description: "OK", content: { "application/json": { schema: { type: "object" } } } } } } },
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "API key, when the server is started with keys (see docs/serve.md)." } },
    },
  };
}
