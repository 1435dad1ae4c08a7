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
  IngestRequest,
  IngestResponse,
  DeleteDocumentResponse,
  IndexVersionsResponse,
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
  "422": error("Question / query longer than serve.maxQueryChars, k above serve.maxK, or an X-Ragtune-Traffic header other than eval / synthetic; `error.field` names it."),
  "503": error("The index is empty (not ready)."),
  "504": error("The request took longer than serve.timeoutMs."),
};

/** Headers the answering routes read: the eval-traffic tag and W3C trace context (docs/serve.md). */
const ANSWER_HEADERS = [
  {
    name: "X-Ragtune-Traffic",
    in: "header",
    required: false,
    schema: { type: "string", enum: ["live", "eval", "synthetic"] },
    description: "Tags evaluation or synthetic traffic: it is logged with its kind and left out of the monitors (`ragtune monitor`, /metrics) unless they include it. Absent = live. Any other value is refused with 422 (`error.field` = X-Ragtune-Traffic).",
  },
  {
    name: "traceparent",
    in: "header",
    required: false,
    schema: { type: "string" },
    description: "W3C trace context; with trace export on (serve.traces) the request's spans join this trace.",
  },
];

function post(summary: string, request: string, response: string, extra: Schema = {}, content: Schema = json(response), headers: Schema[] = ANSWER_HEADERS) {
  return {
    post: {
      summary,
      security: [{ bearer: [] }, {}],
      ...(headers.length ? { parameters: headers } : {}),
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
    IngestRequest: jsonSchema(IngestRequest, "input"),
    IngestResponse: jsonSchema(IngestResponse, "output"),
    DeleteDocumentResponse: jsonSchema(DeleteDocumentResponse, "output"),
    IndexVersionsResponse: jsonSchema(IndexVersionsResponse, "output"),
  };
  const ADMIN = {
    "401": error("No or unknown API key."),
    "403": error("The key's scope is query; admin routes need an admin key."),
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
      "/v1/search": post("Ranked chunks for a query (the same retrieval /v1/ask answers from).", "SearchRequest", "SearchResponse", {}, json("SearchResponse"), ANSWER_HEADERS.slice(0, 1)),
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
      }, json("FeedbackResponse"), []),
      "/v1/ingest": {
        post: {
          summary: "Admin: bring the index up to date with the documents on disk (as `ragtune ingest`), transactionally, and record an index version.",
          security: [{ bearer: [] }, {}],
          requestBody: { required: false, content: json("IngestRequest") },
          responses: {
            "200": { description: "OK", content: json("IngestResponse") },
            "409": error("Another ingest or delete is running."),
            "422": error("The ingest was refused (e.g. it would remove more than half of the index without prune); nothing changed."),
            ...ADMIN,
          },
        },
      },
      "/v1/documents/{path}": {
        delete: {
          summary: "Admin: remove one document (URL-encoded index path) from the index, in one transaction, and record an index version.",
          security: [{ bearer: [] }, {}],
          parameters: [{ name: "path", in: "path", required: true, schema: { type: "string" }, description: "The document's path in the index, URL-encoded (docs%2Fv2%2Ftrash.md)." }],
          responses: { "200": { description: "OK", content: json("DeleteDocumentResponse") }, "404": error("No such document in the index."), "409": error("Another ingest or delete is running."), ...ADMIN },
        },
      },
      "/v1/index/versions": {
        get: { summary: "Admin: the recorded index versions and the live one.", security: [{ bearer: [] }, {}], responses: { "200": { description: "OK", content: json("IndexVersionsResponse") }, ...ADMIN } },
      },
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
