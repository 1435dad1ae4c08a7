/**
 * Admin routes (scope "admin"): update the index while serving and read its versions.
 * `POST /v1/ingest` runs the same reindex as `ragtune ingest` (transactional: a request being
 * answered reads the old index or the new one, never a half-built one; a failed ingest changes
 * nothing), one at a time (409 while one runs). `DELETE /v1/documents/:path` removes one
 * document in one transaction (its file, if still there, comes back at the next ingest).
 * Both record an index version, so `ragtune index rollback` can undo them.
 */
import type { Context, Hono } from "hono";
import type { Project } from "../pipeline/index.ts";
import { indexConfigHash, reindexProject } from "../pipeline/reindex.ts";
import { IngestRefused } from "../ingest/index.ts";
import { hasSnapshots } from "../store/index.ts";
import { listIndexVersions, recordIndexVersion } from "../store/versions.ts";
import { InputError } from "../util/errors.ts";
import type { AnswerEngine } from "./answer.ts";
import { ApiError, checked, parseBody, readOptionalJson } from "./http.ts";
import { DeleteDocumentResponse, IndexVersionsResponse, IngestRequest, IngestResponse, type Authorize } from "./schemas.ts";

export interface AdminContext {
  project: Project;
  engine: AnswerEngine;
  authorize?: Authorize;
}

export const ADMIN_ROUTES = ["/v1/ingest", "/v1/index/versions"] as const;

export function registerAdminRoutes(app: Hono, ctx: AdminContext): void {
  const { project, engine } = ctx;
  const guard = async (c: Context) => (ctx.authorize ? ctx.authorize(c, "admin") : undefined);
  let busy = false;

  /** One index change at a time; the answer path keeps reading the committed index meanwhile. */
  const exclusive = async <T>(work: () => Promise<T>): Promise<T> => {
    if (busy) throw new ApiError(409, "conflict", undefined, "an ingest or delete is already running; retry when it finishes");
    busy = true;
    try {
      return await work();
    } finally {
      busy = false;
    }
  };

  app.post("/v1/ingest", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    // The body is optional: none means the defaults.
    const req = parseBody(IngestRequest, await readOptionalJson(c));
    const stats = await exclusive(async () => {
      try {
        return await reindexProject(project, { prune: req.prune });
      } catch (err) {
        // Refusals (a pattern that matches nothing, a removal needing --prune) are the request's fault.
        if (err instanceof IngestRefused || err instanceof InputError) throw new ApiError(422, "invalid_request", err instanceof IngestRefused ? "prune" : undefined, (err as Error).message);
        throw err;
      }
    });
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
    const version = await exclusive(async () => {
      if (!project.store.documents().some((d) => d.path === path)) throw new ApiError(404, "not_found", "path", `no document '${path}' in the index`);
      project.store.applyIngest({ upserts: [], removals: [path] });
      return hasSnapshots(project.store) ? recordIndexVersion(project.store, project.indexFile, { note: `delete ${path}`, configHash: indexConfigHash(project) }) : undefined;
    });
    return c.json(checked(DeleteDocumentResponse, { path, removed: true, indexVersion: version?.version ?? null, served: engine.served() }));
  });

  app.get("/v1/index/versions", async (c) => {
    const denied = await guard(c);
    if (denied) return denied;
    const versions = listIndexVersions(project.indexFile).map((v) => ({
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
