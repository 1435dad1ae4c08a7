/**
 * A local HTTP server speaking the OpenAI fine-tuning API, for tests (no network):
 *
 * - POST /v1/files (multipart/form-data, parsed with the platform's FormData) → {id: "file-<n>"};
 *   the uploads are recorded (purpose, filename, text);
 * - POST /v1/fine_tuning/jobs → the job, status "validating_files";
 * - GET /v1/fine_tuning/jobs/{id} → the next entry of `states` (the last one repeats);
 * - GET /v1/fine_tuning/jobs/{id}/events?after=&limit= → the events released so far: `events[k]`
 *   becomes visible once the job has been read k times (events[0] at creation). Listed newest
 *   first with `after` paging to older events (OpenAI), or oldest first with `after` meaning
 *   "newer than" (`eventOrder: "oldest-first"`), at most `pageSize` per page;
 * - POST /v1/fine_tuning/jobs/{id}/cancel → status "cancelled";
 * - `apiKey` set: other keys get 401 with OpenAI's error body; `inject(request)` may answer any
 *   request instead (e.g. a 503 once).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ServerEvent {
  message?: string;
  level?: string;
  type?: string;
  data?: Record<string, unknown>;
}

export interface Upload {
  purpose: string | null;
  filename: string;
  contentType: string;
  text: string;
}

export interface FtRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface FineTuneServerOptions {
  states: Record<string, unknown>[];
  events?: ServerEvent[][];
  eventOrder?: "newest-first" | "oldest-first";
  pageSize?: number;
  apiKey?: string;
  inject?: (req: FtRequest, index: number) => { status: number; body: unknown } | undefined;
}

export interface FineTuneServer {
  url: string;
  requests: FtRequest[];
  uploads: Upload[];
  jobBodies: Record<string, unknown>[];
  cancelled: string[];
  close(): Promise<void>;
}

export async function startFineTuneServer(options: FineTuneServerOptions): Promise<FineTuneServer> {
  const requests: FtRequest[] = [];
  const uploads: Upload[] = [];
  const jobBodies: Record<string, unknown>[] = [];
  const cancelled: string[] = [];
  const jobs = new Map<string, { job: Record<string, unknown>; reads: number; events: { id: string; created_at: number; object: string; level: string; message: string; type: string; data?: unknown }[] }>();
  let clock = 1_700_000_000;
  const release = (entry: NonNullable<ReturnType<typeof jobs.get>>, stage: number) => {
    for (const e of options.events?.[stage] ?? []) {
      const n = entry.events.length + 1;
      entry.events.push({ id: `ftevent-${n}`, created_at: clock++, object: "fine_tuning.job.event", level: e.level ?? "info", message: e.message ?? "", type: e.type ?? "message", ...(e.data ? { data: e.data } : {}) });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://localhost");
      const ct = String(req.headers["content-type"] ?? "");
      let body: unknown = undefined;
      if (ct.startsWith("application/json")) body = JSON.parse(raw.toString("utf8"));
      else if (raw.length) body = raw.toString("utf8");
      const record: FtRequest = { method: req.method ?? "GET", path: url.pathname + url.search, headers: req.headers, body };
      const index = requests.length;
      requests.push(record);
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(payload));
      };
      const injected = options.inject?.(record, index);
      if (injected) return send(injected.status, injected.body);
      if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return send(401, { error: { message: "Incorrect API key provided: sk-wrong.", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
      }
      const p = url.pathname;
      if (req.method === "POST" && p === "/v1/files") {
        const form = await new Response(raw, { headers: { "content-type": ct } }).formData();
        const file = form.get("file");
        if (!(file instanceof Blob)) return send(400, { error: { message: "Missing file" } });
        uploads.push({ purpose: form.get("purpose") as string | null, filename: (file as File).name, contentType: ct, text: await file.text() });
        return send(200, { id: `file-${uploads.length}`, object: "file", purpose: form.get("purpose"), filename: (file as File).name, bytes: file.size });
      }
      if (req.method === "POST" && p === "/v1/fine_tuning/jobs") {
        const b = body as Record<string, unknown>;
        jobBodies.push(b);
        const id = `ftjob-${jobBodies.length}`;
        const entry = { job: { id, object: "fine_tuning.job", model: b.model, status: "validating_files", fine_tuned_model: null, error: null, training_file: b.training_file, validation_file: b.validation_file ?? null }, reads: 0, events: [] };
        jobs.set(id, entry);
        release(entry, 0);
        return send(200, entry.job);
      }
      const m = /^\/v1\/fine_tuning\/jobs\/([^/]+)(\/events|\/cancel)?$/.exec(p);
      const entry = m ? jobs.get(decodeURIComponent(m[1])) : undefined;
      if (!m || !entry) return send(404, { error: { message: `No such route or job: ${req.method} ${p}` } });
      if (req.method === "GET" && !m[2]) {
        entry.reads++;
        if (entry.job.status !== "cancelled") Object.assign(entry.job, options.states[Math.min(entry.reads - 1, options.states.length - 1)]);
        release(entry, entry.reads);
        return send(200, entry.job);
      }
      if (req.method === "POST" && m[2] === "/cancel") {
        cancelled.push(entry.job.id as string);
        entry.job.status = "cancelled";
        return send(200, entry.job);
      }
      if (req.method === "GET" && m[2] === "/events") {
        const limit = Math.min(Number(url.searchParams.get("limit") ?? 20), options.pageSize ?? 100);
        const after = url.searchParams.get("after");
        const oldestFirst = options.eventOrder === "oldest-first";
        const list = oldestFirst ? [...entry.events] : [...entry.events].reverse();
        const start = after ? list.findIndex((e) => e.id === after) + 1 : 0;
        const page = list.slice(start, start + limit);
        return send(200, { object: "list", data: page, has_more: start + limit < list.length });
      }
      return send(405, { error: { message: "method not allowed" } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    uploads,
    jobBodies,
    cancelled,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
