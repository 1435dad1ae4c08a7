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
import { bold, dim } from "../output.ts";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("an HTTP API over the project's pipeline: /v1/ask, /v1/search, OpenAI-compatible /v1/chat/completions, /v1/feedback, /metrics (see docs/serve.md)")
    .option("--port <n>", "port to listen on, 1–65535 (default: 8787)", PORT, 8787)
    .option("--host <address>", "address to bind (default: 127.0.0.1, this machine only; anything else exposes the API to the network)", hostArg, "127.0.0.1")
    .addOption(new Option("--variant <name>", "pipeline to serve (default: rag)").choices(VARIANT_NAMES).default("rag"))
    .action(serveCommand);
}

export async function serveCommand(opts: { port: number; host: string; variant: VariantName }, cmd: Command): Promise<void> {
  const { project } = openFrom(cmd);
  let running;
  try {
    running = await startServe({ project, port: opts.port, host: opts.host, variant: opts.variant });
  } catch (err) {
    project.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") throw Object.assign(new Error(`--port ${opts.port} is in use; choose another port`), { exitCode: 2 });
    if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND") throw Object.assign(new Error(`--host ${opts.host} is not an address of this machine`), { exitCode: 2 });
    throw err;
  }
  const served = running.app.engine.served();
  console.log(
    `${bold("ragtune serve")} ${running.url} ${dim(`(variant ${opts.variant}, generator ${served.model.generator}, index generation ${served.index.generation}, ${served.index.documents} documents; Ctrl-C to stop)`)}`,
  );
  const server = running;
  await new Promise<void>((done) => {
    const stop = () => void server.close().then(done);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  project.close();
}
