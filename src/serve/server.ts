/**
 * Start/stop `ragtune serve` on @hono/node-server. Bound to 127.0.0.1 unless a host is given; when
 * bound to loopback, the app refuses requests addressed to other host names (see app.ts).
 */
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { isLoopback } from "../view/server.ts";
import { createServeApp, type ServeApp, type ServeAppOptions } from "./app.ts";

export interface StartServeOptions extends Omit<ServeAppOptions, "loopbackOnly"> {
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

export interface RunningServe {
  url: string;
  port: number;
  app: ServeApp;
  /** Stop accepting connections, finish open requests, export queued trace spans, close the request log. */
  close(): Promise<void>;
}

/** Resolves once it is listening. The project stays open (the caller closes it). */
export function startServe(opts: StartServeOptions): Promise<RunningServe> {
  const host = opts.host ?? "127.0.0.1";
  const app = createServeApp({ ...opts, loopbackOnly: isLoopback(host) });
  return new Promise((resolvePromise, reject) => {
    const onError = (err: Error) => {
      app.close();
      reject(err);
    };
    const server = serve({ fetch: app.fetch, port: opts.port, hostname: host }, (info) => {
      server.off("error", onError);
      const shown = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolvePromise({
        url: `http://${shown}:${info.port}`,
        port: info.port,
        app,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => {
              // Queued trace spans are exported before the log closes (each batch bounded by serve.traces.timeoutMs).
              void app.shutdown().finally(done);
            });
            (server as Server).closeIdleConnections?.();
          }),
      });
    }) as Server;
    // Slow clients: headers must arrive within 10 s and a whole request within the timeout + 10 s,
    // so a client that trickles bytes cannot hold a connection open for ever.
    server.headersTimeout = 10_000;
    server.requestTimeout = app.limits.timeoutMs + 10_000;
    server.once("error", onError);
  });
}
