/**
 * serve/ — the HTTP API over the project's answering pipeline (`ragtune serve`, docs/serve.md).
 *
 * - schemas.ts: request/response shapes (zod), validated both ways; the OpenAPI document comes from them.
 * - app.ts:     `createServeApp(options)`, the hono app (testable with `app.request`).
 * - answer.ts:  one answer / search through the project's pipeline, as `ragtune ask` does it.
 * - log.ts:     the durable request log (`<storeDir>/requests.db`), feedback updates its rows.
 * - metrics.ts: the prom-client registry of one app.
 * - server.ts:  start/stop on @hono/node-server.
 */
export * from "./schemas.ts";
export { createServeApp, type ServeAppOptions, type ServeApp } from "./app.ts";
export { startServe, type RunningServe, type StartServeOptions } from "./server.ts";
export { RequestLog, type RequestRow } from "./log.ts";
export { openApiDocument } from "./openapi.ts";
