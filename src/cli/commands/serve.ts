/**
 * `ragtune serve`: the HTTP API over the project's pipeline (src/serve/), until interrupted.
 * Thin: check flags, open the project, start, print the address.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { startServe } from "../../serve/server.ts";
import { VARIANT_NAMES, type VariantName } from "../../config/index.ts";
import { openFrom } from "./common.ts";
import { hostArg, PORT } from "./view.ts";
import { bold, dim, red, yellow } from "../output.ts";
import type { ApiKeyStore } from "../../serve/keys.ts";
import { openKeyStore } from "../../serve/keys-open.ts";
import { keyLimiterFor } from "../../serve/rate-limit-shared.ts";
import { keyAuthorizer } from "../../serve/auth.ts";
import type { Authorize } from "../../serve/schemas.ts";
import { InputError } from "../../util/errors.ts";
import { chosenVariant } from "../../serve/chosen.ts";
import { IndexBusy, indexUpdaterFor, type IndexUpdater } from "../../serve/reindex-worker-client.ts";
import { DEFAULT_DEBOUNCE_MS, projectWriteFolders, WatchLoop } from "../../ingest/watch.ts";
import type { IngestStats } from "../../ingest/index.ts";
import type { Project } from "../../pipeline/index.ts";
import { intArg } from "../options.ts";
import { watchLine } from "./ingest.ts";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("an HTTP API over the project's pipeline: /v1/ask, /v1/search, OpenAI-compatible /v1/chat/completions, /v1/feedback, /metrics (see docs/serve.md)")
    .option("--port <n>", "port to listen on, 1–65535 (default: 8787)", PORT, 8787)
    .option("--host <address>", "address to bind (default: 127.0.0.1, this machine only; anything else exposes the API to the network)", hostArg, "127.0.0.1")
    .addOption(new Option("--variant <name>", "pipeline to serve (default: the one the decision over the latest run recommends; rag without a run)").choices(VARIANT_NAMES))
    .option("--no-auth", "serve /v1 without API keys (only on a loopback address; default: keys required, see `ragtune keys create`)")
    .option("--watch", "re-index on every change to the sources while serving, in the same worker as POST /v1/ingest (see docs/serve.md)")
    .option("--debounce-ms <n>", "with --watch: quiet time after the last change before re-indexing, 0–60000 ms (default: 300)", intArg(0, 60_000))
    .action(serveCommand);
}

/** Loopback addresses: the only ones a server without API keys may bind. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export async function serveCommand(
  opts: { port: number; host: string; variant?: VariantName; auth: boolean; watch?: boolean; debounceMs?: number },
  cmd: Command,
): Promise<void> {
  if (opts.debounceMs !== undefined && !opts.watch) throw new InputError("--debounce-ms only applies with --watch");
  const { loaded, project } = openFrom(cmd);
  let chosen = opts.variant ? { variant: opts.variant, why: "--variant" } : chosenVariant(loaded.root, project.config);
  const auth = opts.auth && project.config.serve.auth;
  if (!auth && !LOOPBACK.test(opts.host)) {
    project.close();
    throw new InputError(`--host ${opts.host}: a server without API keys (${opts.auth ? "serve.auth: false" : "--no-auth"}) may only bind a loopback address; create a key with \`ragtune keys create --scope query\``);
  }
  let authorize: Authorize | undefined;
  if (auth) {
    let keys: ApiKeyStore;
    try {
      keys = openKeyStore({ root: loaded.root, config: project.config }, { create: false });
    } catch (err) {
      project.close();
      throw err;
    }
    const rate = project.config.serve.rateLimitPerMinute;
    authorize = keyAuthorizer(keys, keyLimiterFor(keys, rate), { rateLimitPerMinute: rate });
  }
  let running;
  try {
    const start = (variant: VariantName) => startServe({ project, port: opts.port, host: opts.host, variant, ...(authorize ? { authorize } : {}) });
    try {
      running = await start(chosen.variant);
    } catch (err) {
      // The decision chose a trained variant whose model is not promoted here: serve rag and say why.
      if (opts.variant || !/cannot be served/.test((err as Error).message)) throw err;
      chosen = { variant: "rag", why: `${chosen.why}, but ${(err as Error).message}; serving rag` };
      running = await start("rag");
    }
  } catch (err) {
    project.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") throw Object.assign(new Error(`--port ${opts.port} is in use; choose another port`), { exitCode: 2 });
    if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") throw Object.assign(new Error(`--host ${opts.host} is not an address of this machine`), { exitCode: 2 });
    throw err;
  }
  const served = running.app.engine.served();
  console.log(
    `${bold("ragtune serve")} ${running.url} ${dim(`(${auth ? "API keys required" : "no API keys: loopback only"}, variant ${chosen.variant} (${chosen.why}), generator ${served.model.generator}, index generation ${served.index.generation}, ${served.index.documents} documents; Ctrl-C to stop)`)}`,
  );
  const server = running;
  const updater = indexUpdaterFor(project);
  const watching = opts.watch ? watchWhileServing(project, updater, opts.debounceMs ?? DEFAULT_DEBOUNCE_MS) : undefined;
  await new Promise<void>((done) => {
    // A running re-index commits or rolls back before the server stops.
    const stop = () =>
      void (watching?.stop() ?? Promise.resolve())
        .then(() => server.close())
        .then(() => updater.close())
        .then(done);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  project.close();
}

/**
 * `serve --watch`: source changes re-index through the server's worker (the POST /v1/ingest path);
 * one line per re-index. A change while an admin ingest runs waits for it (IndexBusy is retried).
 */
function watchWhileServing(project: Project, updater: IndexUpdater, debounceMs: number): WatchLoop<IngestStats> {
  const loop = new WatchLoop<IngestStats>({
    root: project.root,
    sources: project.config.sources,
    ignore: projectWriteFolders(project.config),
    debounceMs,
    reindex: () => updater.reindex(),
    retryable: (err) => err instanceof IndexBusy,
    onReindexed: (stats, info) => {
      console.log(watchLine(stats, info));
      for (const s of stats.skipped) console.log(`  ${yellow("skipped")} ${s.path}: ${s.reason}`);
    },
    onError: (err) => console.log(`${red("re-index failed")} (still serving the previous index; still watching): ${err instanceof Error ? err.message : String(err)}`),
  });
  console.log(dim(`watching ${loop.folders.length} folder(s) with ${loop.mode}, debounce ${debounceMs} ms: changes are re-indexed in the background`));
  return loop;
}
