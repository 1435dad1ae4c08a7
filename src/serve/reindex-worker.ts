/**
 * The re-index worker: runs `reindexProject` (and single-document deletes) on its own SQLite
 * connection to the served index, off the serving thread. SQLite WAL lets the server keep reading
 * the committed index meanwhile; the ingest commits in one transaction, and the server picks up
 * the new generation on its next read. A throw is reported as a typed failure; a crash or kill
 * leaves the transaction uncommitted, so the index is unchanged (started by reindex-worker-client.ts).
 */
import { join, resolve } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { IngestRefused } from "../ingest/index.ts";
import { ParserSandbox } from "../ingest/sandbox.ts";
import { openProject, type Project } from "../pipeline/index.ts";
import { indexConfigHash, reindexProject } from "../pipeline/reindex.ts";
import { hasSnapshots } from "../store/index.ts";
import { InputError } from "../util/errors.ts";
import type { ReindexFailure, ReindexJob, ReindexWorkerInit, ReindexWorkerMessage } from "./reindex-worker-protocol.ts";

// Library console output must not end up in the server's stdout protocol (there is none, but keep it on stderr like the parser worker).
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

const init = workerData as ReindexWorkerInit;
const port = parentPort!;
const post = (m: ReindexWorkerMessage) => port.postMessage(m);

// The parser's memory limits count from what the process held when the parser worker started
// (sandbox.ts), so the server's own memory does not use up an ingest's headroom.
const sandbox = new ParserSandbox();

let project: Project | undefined;
// The served project's own index is opened from its config (SQLite file or Postgres, with its
// index versions); only a server on another index file (a pinned copy) names the file.
const defaultIndex = join(resolve(init.root, init.config.storeDir), "index.db");
const opened = (): Project =>
  (project ??= openProject({ config: init.config, path: init.configPath, root: init.root }, resolve(init.indexFile) === defaultIndex ? {} : { indexFile: init.indexFile }));

function failureOf(err: unknown): ReindexFailure {
  if (err instanceof IngestRefused) return { kind: "refused", message: err.message, removals: err.removals };
  if (err instanceof InputError) return { kind: "input", message: err.message };
  return { kind: "internal", message: err instanceof Error ? err.message : String(err) };
}

async function run(job: ReindexJob): Promise<ReindexWorkerMessage> {
  const p = opened();
  if (job.kind === "reindex") return { type: "reindexed", id: job.id, stats: await reindexProject(p, { prune: job.prune, sandbox }) };
  if (!p.store.documents().some((d) => d.path === job.path)) return { type: "failed", id: job.id, failure: { kind: "not_found", message: `no document '${job.path}' in the index` } };
  p.store.applyIngest({ upserts: [], removals: [job.path] });
  const v = hasSnapshots(p.store) ? p.indexVersions().record(p.store, { note: `delete ${job.path}`, configHash: indexConfigHash(p) }) : undefined;
  return { type: "deleted", id: job.id, indexVersion: v?.version };
}

port.on("message", async (job: ReindexJob) => {
  post(await run(job).catch((err: unknown): ReindexWorkerMessage => ({ type: "failed", id: job.id, failure: failureOf(err) })));
});
post({ type: "ready" });
