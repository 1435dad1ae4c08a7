/**
 * The worker side of bridge.ts: imports the implementation module named in workerData, calls its
 * `open(init)` export, then answers each request on the bridge's port with the named method's
 * (awaited) result or its error message, and wakes the blocked caller through the shared signal.
 */
import { workerData } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";
import type { BridgeReply, BridgeRequest } from "./bridge.ts";

const { host, init, port, signal } = workerData as { host: string; init: unknown; port: MessagePort; signal: Int32Array };

type Impl = Record<string, unknown> & { close?: () => unknown };

const reply = (m: BridgeReply) => {
  try {
    port.postMessage(m);
  } catch (err) {
    // A result that cannot be cloned (a function, a class with private state) is the method's bug.
    port.postMessage({ id: m.id, error: `the worker's answer could not be sent: ${(err as Error).message}` } satisfies BridgeReply);
  }
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
};

let current: number | undefined;
// A crash in the implementation (an unhandled rejection in a driver callback) would otherwise
// leave the caller blocked until its timeout.
const fail = (err: unknown) => {
  if (current !== undefined) reply({ id: current, error: `worker crashed: ${err instanceof Error ? err.message : String(err)}` });
  current = undefined;
};
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

const opening: Promise<Impl> = import(host).then((m: { open: (init: unknown) => Promise<Impl> }) => m.open(init));
opening.catch(() => undefined); // reported to the first call

// Calls arrive one at a time (the caller blocks), but queue them anyway so a late one cannot overlap.
let queue: Promise<void> = Promise.resolve();
port.on("message", (req: BridgeRequest) => {
  queue = queue.then(async () => {
    current = req.id;
    try {
      const impl = await opening;
      let result: unknown;
      if (req.method === "__open") result = true;
      else if (req.method === "__close") result = await impl.close?.();
      else {
        const fn = impl[req.method];
        if (typeof fn !== "function") throw new Error(`the worker's implementation has no method ${req.method}`);
        result = await (fn as (...a: unknown[]) => unknown).apply(impl, req.args);
      }
      if (current === req.id) reply({ id: req.id, result });
    } catch (err) {
      if (current === req.id) reply({ id: req.id, error: err instanceof Error ? err.message : String(err) });
    } finally {
      current = undefined;
    }
  });
});
