/**
 * `ragtune view`: serve the read-only viewer over the project's runs/ (src/view/server.ts) until
 * interrupted. Thin: check flags, start, print the address.
 */
import type { Command } from "commander";
import { isIP } from "node:net";
import { startView } from "../../view/server.ts";
import { runsDir } from "../../evaluate/runs.ts";
import { intArg, invalid } from "../options.ts";
import { loadedFrom } from "./common.ts";
import { bold, dim } from "../output.ts";

export const PORT = intArg(1, 65535);

/** An IP address or a host name (letters, digits, dots, hyphens); no scheme, port or path. */
export function hostArg(v: string): string {
  const h = v.trim();
  if (isIP(h) || /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(h)) return h;
  throw invalid("expected an IP address or host name, e.g. 127.0.0.1 or localhost (no scheme, port or path).");
}

export function registerView(program: Command): void {
  program
    .command("view")
    .description("a read-only local web app over runs/: runs, reports, cases with filters, comparisons, history (see docs/view.md)")
    .option("--port <n>", "port to listen on, 1–65535 (default: 4173)", PORT, 4173)
    .option("--host <address>", "address to bind (default: 127.0.0.1, this machine only; anything else exposes your runs to the network)", hostArg, "127.0.0.1")
    .action(viewCommand);
}

export async function viewCommand(opts: { port: number; host: string }, cmd: Command): Promise<void> {
  const loaded = loadedFrom(cmd);
  const view = await startView({ root: loaded.root, config: loaded.config }, opts).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EADDRINUSE") throw Object.assign(new Error(`--port ${opts.port} is in use; choose another port`), { exitCode: 2 });
    if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") throw Object.assign(new Error(`--host ${opts.host} is not an address of this machine`), { exitCode: 2 });
    throw err;
  });
  console.log(`${bold("ragtune view")} ${view.url} ${dim(`(runs in ${runsDir(loaded.root, loaded.config)}; read-only; Ctrl-C to stop)`)}`);
  await new Promise<void>((done) => {
    const stop = () => void view.close().then(done);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
