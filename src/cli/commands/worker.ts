/**
 * `ragtune worker --queue redis://…`: process eval jobs of `ragtune eval --queue` (any run, any
 * project on a filesystem this machine sees) until SIGTERM / SIGINT, which finish the jobs in hand.
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
    .description("run eval jobs from a Redis queue (`ragtune eval --queue`); stop with SIGTERM/SIGINT — see docs/queue.md")
    .requiredOption("--queue <url>", "Redis URL, e.g. redis://127.0.0.1:6379", queueUrlArg)
    .option("--queue-name <name>", "bullmq queue name (default ragtune-eval; the same as the coordinator's)", textArg("a queue name"))
    .option("--concurrency <n>", "jobs processed at once by this worker, 1–256 (default 4)", intArg(1, 256))
    .option("--lock-ms <ms>", "job lock; a killed worker's job is taken over within about this long, 1000–600000 (default 30000)", intArg(1000, 600_000))
    .option("--quiet", "no line per job")
    .action(workerCommand);
}

async function workerCommand(opts: WorkerOpts): Promise<void> {
  const { EvalWorker } = await import("../../evaluate/queue/worker.ts");
  const worker = await EvalWorker.start({
    url: opts.queue,
    queueName: opts.queueName,
    concurrency: opts.concurrency,
    lockMs: opts.lockMs,
    onJob: opts.quiet ? undefined : (e) => console.error(dim(`${e.variant} ${e.caseId} ${Math.round(e.ms)} ms${e.cached ? " (cached)" : ""}`)),
  });
  console.error(`worker ${process.pid} waiting for jobs on ${opts.queue} (queue ${opts.queueName ?? "ragtune-eval"}, concurrency ${opts.concurrency ?? 4})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await worker.close();
}
