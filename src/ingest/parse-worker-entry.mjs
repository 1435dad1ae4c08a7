// Worker bootstrap: the sources are TypeScript run through tsx, and a worker thread starts
// without the main thread's loader, so register it before importing the worker module.
import { workerData } from "node:worker_threads";

if (workerData.tsx) (await import(workerData.tsx)).register();
await import(workerData.module);
