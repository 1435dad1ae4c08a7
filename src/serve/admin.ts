/**
 * Admin routes (scope "admin"): update the index while serving and read its versions.
 * `POST /v1/ingest` runs the same reindex as `ragtune ingest` in a worker thread on its own
 * connection (reindex-worker-client.ts), so answering never waits on chunking; transactional: a
 * request being answered reads the old index or the new one, never a half-built one; a failed or
 * crashed ingest changes nothing), one at a time (409 while one runs). `DELETE /v1/documents/:path` removes one
 * document in one transaction, in the same worker (its file, if still there, comes back at the next ingest).
 * Both record an index version, so `ragtune index rollback` can undo them.
 */
import type { Context, Hono } from "hono";
import type { Project } from "../pipeline/index.ts";
import type { IngestStats } from "../ingest/index.ts";
import { IndexBusy, IndexUpdater, indexUpdaterFor, ReindexFailed } from "./reindex-worker-client.ts";
import type { AnswerEngine } from "./answer.ts";
import { ApiError, checked, parseBody, readOptionalJson } from "./http.ts";
import { DeleteDocumentResponse, IndexVersionsResponse, IngestRequest, IngestResponse, type Authorize } from "./schemas.ts";

export interface AdminContext {
  project: Project;
  engine: AnswerEngine;
  authorize?: Authorize;
  /** Where index changes run (default: the project's shared worker, reindex-worker-client.ts). */
  updater?: IndexUpdater;
}

export const ADMIN_ROUTES = ["/v1/ingest", "/v1/index/versions"] as const;

export function registerAdminRoutes(app: Hono, ctx: AdminContext): void {
  const { project, engine } = ctx;
  const guard = async (c: Context) => (ctx.authorize ? ctx.authorize(c, "admin") : undefined);
  // The worker that changes the index off this thread; shared with `serve --watch` (one change at a time).
  // Looked up per request (not at registration), so a caller may set the project's updater up first.
  const updater = () => ctx.updater ?? indexUpdaterFor(project);

  /** The worker's errors as API errors: busy → 409, the request's fault → 404/422, the rest → 500 naming what happened. */
  const apiErrorOf = (err: unknown, field?: string): unknown => {
    if (err instanceof IndexBusy) return new ApiError(409, "conflict", undefined, err.message);
    if (!(err instanceof ReindexFailed)) return err;
    if (err.kind === "not_found") return new ApiError(404, "not_found", "path", err.message);
    if (err.kind === "refused" || err.kind === "input") return new ApiError(422, "invalid_request", err.kind === "refused" ? "prune" : field, err.message);
    return new ApiError(500, "internal", undefined, `the ingest failed: ${err.message}`);
  };

  app.post("/v1/ingest", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    // The body is optional: none means the defaults.
    const req = parseBody(IngestRequest, await readOptionalJson(c));
    let stats: IngestStats;
    try {
      stats = await updater().reindex({ prune: req.prune });
    } catch (err) {
      throw apiErrorOf(err);
    }
    return c.json(
      checked(IngestResponse, {
        added: stats.added,
        changed: stats.changed,
        removed: stats.removed,
        unchanged: stats.unchanged,
        skipped: stats.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        documents: stats.documents,
        chunks: stats.chunks,
        indexVersion: stats.indexVersion ?? null,
        served: engine.served(),
      }),
    );
  });

  app.delete("/v1/documents/:path{.+}", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const path = decodeURIComponent(c.req.param("path"));
    let version: number | undefined;
    try {
      version = await updater().deleteDocument(path);
    } catch (err) {
      throw apiErrorOf(err, "path");
    }
    return c.json(checked(DeleteDocumentResponse, { path, removed: true, indexVersion: version ?? null, served: engine.served() }));
  });

  app.get("/v1/index/versions", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const versions = project.indexVersions().list().map((v) => ({
      version: v.version,
      createdAt: v.createdAt,
      note: v.note,
      documents: v.identity.documents,
      chunks: v.identity.chunks,
      fingerprint: v.identity.fingerprint,
      restorable: v.snapshot !== null,
    }));
    const served = engine.served();
    return c.json(checked(IndexVersionsResponse, { versions, live: { generation: served.index.generation, fingerprint: served.index.fingerprint } }));
  });
}
