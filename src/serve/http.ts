/**
 * The HTTP conventions every serve route shares: errors as `{"error": {code, field?, message}}`,
 * JSON bodies read and validated with zod (the field at fault named), responses checked against
 * their schema before they are sent.
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { ErrorBody } from "./schemas.ts";

export type Status = 400 | 404 | 409 | 413 | 422 | 500 | 503 | 504;

/** An error answered as `{"error": {code, field?, message}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: Status,
    readonly code: ErrorBody["error"]["code"],
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function errorJson(c: Context, e: ApiError) {
  const body: ErrorBody = { error: { code: e.code, ...(e.field ? { field: e.field } : {}), message: e.message } };
  return c.json(body, e.status);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, "malformed_json", undefined, `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (!text.trim()) throw new ApiError(400, "malformed_json", undefined, "the request body is empty; expected a JSON object");
  return parseJson(text);
}

/** A JSON body that may be absent (then `{}`). */
export async function readOptionalJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  return text.trim() ? parseJson(text) : {};
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const path = [...issue.path, ...keys.slice(0, 1)].map(String);
  const field = path.length ? path.join(".") : undefined;
  const message = issue.code === "unrecognized_keys" ? `unknown field '${field}'` : `${field ?? "body"}: ${issue.message}`;
  throw new ApiError(400, "invalid_request", field, message);
}

/** Responses are validated too: a shape the contract does not promise is a server bug (500), never sent. */
export function checked<S extends z.ZodType>(schema: S, body: z.input<S>): z.output<S> {
  return schema.parse(body);
}

