/**
 * `ragtune worker --queue redis://…`: process eval jobs of `ragtune eval --queue` and parse/embed
 * jobs of `ragtune ingest --queue` (any run, any project on a filesystem this machine sees) until
 * SIGTERM / SIGINT, which finish the jobs in hand. The two kinds are two bullmq queues served by
 * one process: an ingest does not wait behind an eval's backlog, and each has its own concurrency.
 */
import type { Command } from "commander";
import { intArg, invalid, textArg } from "../options.ts";
import { checkQueueUrl } from "../../queue/redis.ts";
import { dim } from "../output.ts";

interface WorkerOpts {
  queue: string;
  queueName?: string;
  concurrency?: number;
  lockMs?: number;
  ingestQueueName?: string;
  ingestConcurrency?: number;
  quiet?: boolean;
}

/** `--queue`: a redis:// or rediss:// URL (checked before anything connects). */
export function queueUrlArg(v: string): string {
  try {
    return checkQueueUrl(v);
  } catch (err) {
    throw invalid(`${(err as Error).message.replace(/^--queue: /, "")}.`);
  }
}

export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("run eval jobs (`ragtune eval --queue`) and ingest jobs (`ragtune ingest --queue`) from Redis; stop with SIGTERM/SIGINT — see docs/queue.md")
    .requiredOption("--queue <url>", "Redis URL, e.g. redis://127.0.0.1:6379", queueUrlArg)
    .option("--queue-name <name>", "bullmq queue name (default ragtune-eval; the same as the coordinator's)", textArg("a queue name"))
    .option("--concurrency <n>", "jobs processed at once by this worker, 1–256 (default 4)", intArg(1, 256))
    .option("--lock-ms <ms>", "job lock; a killed worker's job is taken over within about this long, 1000–600000 (default 30000)", intArg(1000, 600_000))
    .option("--ingest-queue-name <name>", "bullmq queue of parse/embed jobs (default ragtune-ingest; the same as `ingest --queue-name`)", textArg("a queue name"))
    .option("--ingest-concurrency <n>", "parse/embed jobs processed at once by this worker, 1–64 (default 2; files are parsed one at a time per process)", intArg(1, 64))
    .option("--quiet", "no line per job")
    .action(workerCommand);
}

async function workerCommand(opts: WorkerOpts): Promise<void> {
  const { EvalWorker } = await import("../../evaluate/queue/worker.ts");
  const { IngestWorker } = await import("../../ingest/queue/worker.ts");
  const worker = await EvalWorker.start({
    url: opts.queue,
    queueName: opts.queueName,
    concurrency: opts.concurrency,
    lockMs: opts.lockMs,
    onJob: opts.quiet ? undefined : (e) => console.error(dim(`${e.variant} ${e.caseId} ${Math.round(e.ms)} ms${e.cached ? " (cached)" : ""}`)),
  });
  const ingest = await IngestWorker.start({
    url: opts.queue,
    queueName: opts.ingestQueueName,
    concurrency: opts.ingestConcurrency,
    lockMs: opts.lockMs,
    onJob: opts.quiet ? undefined : (e) => console.error(dim(`${e.kind} ${e.items} ${e.kind === "parse" ? "file(s)" : "text(s)"} ${Math.round(e.ms)} ms${e.cached ? ` (${e.cached} cached)` : ""}`)),
  });
  console.error(
    `worker ${process.pid} waiting for jobs on ${opts.queue} (eval queue ${opts.queueName ?? "ragtune-eval"}, concurrency ${opts.concurrency ?? 4}; ` +
      `ingest queue ${opts.ingestQueueName ?? "ragtune-ingest"}, concurrency ${opts.ingestConcurrency ?? 2})`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await Promise.all([worker.close(), ingest.close()]);
}
