/**
 * `openai` trainer — the OpenAI fine-tuning API, and providers that copy it (Together, Fireworks,
 * Azure OpenAI's /openai/v1, self-hosted job servers):
 *
 *   1. the splits become chat JSONL (`{"messages":[system?, user, assistant]}` per line), written to
 *      outDir (train.jsonl, validation.jsonl) and uploaded: POST {base}/files, multipart, purpose
 *      "fine-tune";
 *   2. POST {base}/fine_tuning/jobs {model, training_file, validation_file?, suffix?, hyperparameters?, seed?};
 *   3. poll GET {base}/fine_tuning/jobs/{id} (interval growing by `pollBackoff` up to
 *      `maxPollIntervalMs`), and list its events each time, emitting the new ones oldest first
 *      (messages as log events, `metrics` events as metric events);
 *   4. succeeded → the fine-tuned model as a generator id: `openai:<model>` or, for a named
 *      provider, `openai-compatible:<provider>/<model>`. failed → a JobFailure with the API's
 *      error; cancelled → a JobFailure. An abort (AbortSignal) cancels the job on the server
 *      (POST …/cancel) before rejecting.
 *
 * Events: OpenAI lists them newest first and `after` pages to older ones; we page back until an
 * event we have already seen. A server that lists oldest first (detected from created_at) is
 * asked for `after=<newest seen id>` instead. Either way each event is emitted once, in order.
 *
 * Transient failures while waiting (429, 5xx, network) are retried with backoff (a job runs for
 * minutes to hours; one bad poll must not lose it); uploads and the job creation are retried the
 * same way. Auth and validation errors fail at once with the status and the API's message.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RagtuneConfig } from "../../config/index.ts";
import { fetchFailure, httpError, ProviderError } from "../../models/errors.ts";
import { backoffDelay, realClock } from "../../models/resilience.ts";
import { resolveProviderRef } from "../../models/provider-ref.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import { toOpenAI } from "../dataset/export.ts";
import type { DatasetSplits, TrainedArtifact, Trainer, TrainerEvent, TrainingExample, TrainingTask, TrainOptions } from "../index.ts";
import { setOwn } from "../../util/own.ts";

/** Default system prompts of the chat export, per task (an example's own `system` wins). */
export const DEFAULT_SYSTEM_PROMPTS: Record<TrainingTask, string> = {
  classify: "Classify the user's message. Answer with the label only.",
  qa: "Answer the user's question accurately and concisely.",
  extract: "Extract the requested fields from the user's text. Answer with JSON only.",
};

/** One example as an OpenAI chat fine-tuning line (no trailing newline): the dataset exporter's record. */
export function chatLine(example: TrainingExample, system: string | undefined = DEFAULT_SYSTEM_PROMPTS[example.task]): string {
  return JSON.stringify(toOpenAI(example, system === undefined ? false : { classify: system, qa: system, extract: system }));
}

/** Examples as chat JSONL (one line each, newline-terminated). */
export function toChatJsonl(examples: readonly TrainingExample[], system?: string): string {
  return examples.map((e) => chatLine(e, system ?? DEFAULT_SYSTEM_PROMPTS[e.task]) + "\n").join("");
}

/** The one task of a training set; mixed or empty sets are refused. */
export function taskOf(data: Pick<DatasetSplits, "train" | "validation">, tasks: readonly TrainingTask[], who: string): TrainingTask {
  if (data.train.length === 0) throw new InputError(`${who}: the training split is empty`);
  const task = data.train[0].task;
  for (const e of [...data.train, ...data.validation]) {
    if (e.task !== task) throw new InputError(`${who}: one model learns one task, but ${e.source} (${e.id}) is "${e.task}" and ${data.train[0].source} is "${task}"`);
  }
  if (!tasks.includes(task)) throw new InputError(`${who}: cannot learn task "${task}" (supported: ${tasks.join(", ")})`);
  return task;
}

export type FineTuneStatus = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled" | (string & {});

export interface FineTuneJob {
  id: string;
  status: FineTuneStatus;
  model?: string;
  fine_tuned_model?: string | null;
  error?: { code?: string | null; message?: string | null; param?: string | null } | null;
  trained_tokens?: number | null;
  hyperparameters?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FineTuneEvent {
  id: string;
  created_at?: number;
  level?: string;
  message?: string;
  type?: string;
  data?: Record<string, unknown> | null;
}

export interface OpenAIFineTuneOptions {
  /** Base model to fine-tune, e.g. `gpt-4.1-mini-2025-04-14`. */
  model: string;
  /**
   * A named provider (`models.providers.<name>`): its baseUrl and apiKeyEnv are used and the
   * result is `openai-compatible:<name>/<model>`. Without it: OPENAI_BASE_URL / OPENAI_API_KEY.
   */
  provider?: { name: string; baseUrl: string; apiKeyEnv?: string };
  /** Environment to read keys and OPENAI_BASE_URL from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Suffix in the fine-tuned model's name (OpenAI: up to 64 characters). */
  suffix?: string;
  /** e.g. `{ n_epochs: 3, batch_size: "auto", learning_rate_multiplier: 1.8 }`. */
  hyperparameters?: Record<string, unknown>;
  seed?: number;
  /** System prompt of the chat export (default: per task, see DEFAULT_SYSTEM_PROMPTS). */
  systemPrompt?: string;
  /** First wait between polls (default 10 s). */
  pollIntervalMs?: number;
  /** Longest wait between polls (default 60 s). */
  maxPollIntervalMs?: number;
  /** Growth of the wait after each poll (default 1.5). */
  pollBackoff?: number;
  /** Give up (and cancel the job) after this long; default: no limit. */
  maxWaitMs?: number;
  /** Retries of one failed request when the failure is transient (default 5). */
  maxRetries?: number;
  /** Per-request timeout (default 120 s: uploads can be large). */
  timeoutMs?: number;
  /** Injected for tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

/** Waiting longer than `maxWaitMs`: the job is cancelled on the server. */
class WaitTimeout extends JobFailure {}

const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/**
 * A trainer from a model reference as written in ragtune.yaml: `openai:<base model>` or
 * `openai-compatible:<provider>/<base model>`.
 */
export function openAITrainerFromRef(
  ref: string,
  models: Pick<RagtuneConfig["models"], "providers">,
  options: Omit<OpenAIFineTuneOptions, "model" | "provider"> = {},
): OpenAIFineTuneTrainer {
  const env = options.env ?? process.env;
  if (ref.startsWith("openai:") && ref.length > "openai:".length) {
    return new OpenAIFineTuneTrainer({ ...options, model: ref.slice("openai:".length) });
  }
  if (ref.startsWith("openai-compatible:")) {
    const resolved = resolveProviderRef("Fine-tuning base model", ref, ref.slice("openai-compatible:".length), models, env);
    if (resolved) {
      if (resolved.kind !== "openai") throw new InputError(`Fine-tuning base model "${ref}": provider "${resolved.name}" speaks ${resolved.kind}, not the OpenAI fine-tuning API`);
      return new OpenAIFineTuneTrainer({ ...options, model: resolved.model, provider: { name: resolved.name, baseUrl: resolved.baseUrl, apiKeyEnv: resolved.apiKeyEnv } });
    }
  }
  throw new InputError(`Fine-tuning base model "${ref}": expected openai:<model> or openai-compatible:<provider>/<model>`);
}

export class OpenAIFineTuneTrainer implements Trainer {
  readonly kind = "openai";
  readonly tasks: readonly TrainingTask[] = ["classify", "qa", "extract"];
  readonly baseUrl: string;
  /** Provider id used in errors: `openai` or `openai-compatible:<name>`. */
  readonly providerId: string;
  private readonly apiKey: string | undefined;
  private readonly apiKeyEnv: string;
  private readonly options: OpenAIFineTuneOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(options: OpenAIFineTuneOptions) {
    if (!options.model) throw new InputError("openai trainer: a base model is required (e.g. gpt-4.1-mini-2025-04-14)");
    this.options = options;
    const env = options.env ?? process.env;
    if (options.provider) {
      this.baseUrl = options.provider.baseUrl;
      this.apiKeyEnv = options.provider.apiKeyEnv ?? "OPENAI_API_KEY";
      this.providerId = `openai-compatible:${options.provider.name}`;
    } else {
      this.baseUrl = env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL;
      this.apiKeyEnv = "OPENAI_API_KEY";
      this.providerId = "openai";
      if (!env.OPENAI_API_KEY && this.baseUrl === OPENAI_DEFAULT_BASE_URL) {
        throw new InputError("openai trainer needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)");
      }
    }
    this.baseUrl = this.baseUrl.replace(/\/+$/, "");
    this.apiKey = env[this.apiKeyEnv] || undefined;
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? realClock.sleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** The generator id of a fine-tuned model from this endpoint. */
  generatorIdFor(fineTunedModel: string): string {
    return this.options.provider ? `openai-compatible:${this.options.provider.name}/${fineTunedModel}` : `openai:${fineTunedModel}`;
  }

  async train(data: Pick<DatasetSplits, "train" | "validation">, options: TrainOptions): Promise<TrainedArtifact> {
    const task = taskOf(data, this.tasks, "openai trainer");
    const settings = options.settings ?? {};
    const model = typeof settings.model === "string" ? settings.model : this.options.model;
    const suffix = typeof settings.suffix === "string" ? settings.suffix : this.options.suffix;
    const seed = typeof settings.seed === "number" ? settings.seed : this.options.seed;
    const hyperparameters = (settings.hyperparameters as Record<string, unknown> | undefined) ?? this.options.hyperparameters;
    const emit = options.onEvent ?? (() => {});
    const signal = options.signal;

    mkdirSync(options.outDir, { recursive: true });
    const trainJsonl = toChatJsonl(data.train, this.options.systemPrompt);
    const validationJsonl = data.validation.length > 0 ? toChatJsonl(data.validation, this.options.systemPrompt) : undefined;
    writeFileSync(join(options.outDir, "train.jsonl"), trainJsonl);
    if (validationJsonl) writeFileSync(join(options.outDir, "validation.jsonl"), validationJsonl);

    signal?.throwIfAborted();
    emit({ type: "status", status: "uploading" });
    const trainingFile = await this.upload("train.jsonl", trainJsonl, signal);
    emit({ type: "log", message: `uploaded train.jsonl (${data.train.length} examples) as ${trainingFile}` });
    let validationFile: string | undefined;
    if (validationJsonl) {
      validationFile = await this.upload("validation.jsonl", validationJsonl, signal);
      emit({ type: "log", message: `uploaded validation.jsonl (${data.validation.length} examples) as ${validationFile}` });
    }

    const body: Record<string, unknown> = { model, training_file: trainingFile };
    if (validationFile) body.validation_file = validationFile;
    if (suffix) body.suffix = suffix;
    if (hyperparameters && Object.keys(hyperparameters).length > 0) body.hyperparameters = hyperparameters;
    if (seed !== undefined) body.seed = seed;
    let job = await this.request<FineTuneJob>("POST", "/fine_tuning/jobs", { json: body, signal });
    if (!job?.id) throw new ProviderError(this.providerId, "the job creation answer has no job id", { kind: "malformed", retryable: false });
    const jobFile = join(options.outDir, "job.json");
    writeFileSync(jobFile, JSON.stringify(job, null, 2) + "\n");
    emit({ type: "log", message: `created fine-tuning job ${job.id} (base model ${model})` });

    try {
      job = await this.wait(job, emit, signal);
    } catch (err) {
      if (signal?.aborted || err instanceof WaitTimeout) {
        await this.cancel(job.id).catch((e: unknown) => emit({ type: "log", message: `could not cancel ${job.id}: ${(e as Error).message}` }));
        emit({ type: "status", status: "cancelled" });
      }
      if (signal?.aborted) throw new ProviderError(this.providerId, `fine-tuning job ${job.id} was cancelled (aborted)`, { kind: "aborted", cause: err });
      throw err;
    } finally {
      writeFileSync(jobFile, JSON.stringify(job, null, 2) + "\n");
    }

    const fineTuned = job.fine_tuned_model;
    if (!fineTuned) throw new ProviderError(this.providerId, `job ${job.id} succeeded but names no fine_tuned_model`, { kind: "malformed", retryable: false });
    const generatorId = this.generatorIdFor(fineTuned);
    const metrics: Record<string, number> = { ...this.lastMetrics };
    if (typeof job.trained_tokens === "number") metrics.trained_tokens = job.trained_tokens;
    return {
      trainer: this.kind,
      task,
      artifact: generatorId,
      baseModel: model,
      metrics,
      config: {
        provider: this.providerId,
        baseUrl: this.baseUrl,
        model,
        jobId: job.id,
        fineTunedModel: fineTuned,
        trainingFile,
        ...(validationFile ? { validationFile } : {}),
        ...(suffix ? { suffix } : {}),
        ...(seed !== undefined ? { seed } : {}),
        hyperparameters: job.hyperparameters ?? hyperparameters ?? {},
        trainExamples: data.train.length,
        validationExamples: data.validation.length,
      },
      generatorId,
    };
  }

  /** Cancel a job (also done on abort). Returns the job as the server reports it. */
  async cancel(jobId: string): Promise<FineTuneJob> {
    return this.request<FineTuneJob>("POST", `/fine_tuning/jobs/${encodeURIComponent(jobId)}/cancel`, {});
  }

  /** The job's current state. */
  async retrieve(jobId: string, signal?: AbortSignal): Promise<FineTuneJob> {
    return this.request<FineTuneJob>("GET", `/fine_tuning/jobs/${encodeURIComponent(jobId)}`, { signal });
  }

  // ------------------------------------------------------------------------------------------

  private lastMetrics: Record<string, number> = {};
  private seen = new Set<string>();
  private newestSeen: string | undefined;
  private eventOrder: "newest-first" | "oldest-first" | undefined;

  private async wait(created: FineTuneJob, emit: (e: TrainerEvent) => void, signal?: AbortSignal): Promise<FineTuneJob> {
    this.lastMetrics = {};
    this.seen = new Set();
    this.newestSeen = undefined;
    this.eventOrder = undefined;
    const start = this.now();
    let job = created;
    let lastStatus = "";
    let interval = this.options.pollIntervalMs ?? 10_000;
    const maxInterval = this.options.maxPollIntervalMs ?? 60_000;
    const growth = this.options.pollBackoff ?? 1.5;
    for (let first = true; ; first = false) {
      if (!first) job = await this.retrieve(created.id, signal);
      if (job.status !== lastStatus) {
        emit({ type: "status", status: job.status });
        lastStatus = job.status;
      }
      await this.pollEvents(job.id, emit, signal);
      if (job.status === "succeeded") return job;
      if (job.status === "failed") {
        const e = job.error;
        const what = e?.message ? `${e.message}${e.code ? ` (${e.code}${e.param ? `, ${e.param}` : ""})` : ""}` : "no error message given";
        throw new JobFailure(`fine-tuning job ${job.id} failed: ${what}`);
      }
      if (job.status === "cancelled") throw new JobFailure(`fine-tuning job ${job.id} was cancelled`);
      if (this.options.maxWaitMs !== undefined && this.now() - start >= this.options.maxWaitMs) {
        throw new WaitTimeout(`fine-tuning job ${job.id} timed out after ${Math.round(this.options.maxWaitMs / 1000)} s (status ${job.status}); it is being cancelled`);
      }
      if (!first) interval = Math.min(maxInterval, interval * growth);
      await this.sleep(interval, signal);
    }
  }

  /** Emit the events not seen yet, oldest first (see the module comment on ordering). */
  private async pollEvents(jobId: string, emit: (e: TrainerEvent) => void, signal?: AbortSignal): Promise<void> {
    const base = `/fine_tuning/jobs/${encodeURIComponent(jobId)}/events?limit=100`;
    const fresh: FineTuneEvent[] = [];
    let cursor = this.eventOrder === "oldest-first" ? this.newestSeen : undefined;
    let pageList: FineTuneEvent[] = [];
    for (let page = 0; page < 50; page++) {
      const res = await this.request<{ data?: FineTuneEvent[]; has_more?: boolean }>("GET", cursor ? `${base}&after=${encodeURIComponent(cursor)}` : base, { signal });
      const list = Array.isArray(res?.data) ? res.data.filter((e) => e && typeof e.id === "string") : [];
      pageList = pageList.concat(list);
      const unseen = list.filter((e) => !this.seen.has(e.id));
      fresh.push(...unseen);
      if (!res?.has_more || list.length === 0 || unseen.length < list.length) break;
      cursor = list[list.length - 1].id;
    }
    if (this.eventOrder === undefined && pageList.length > 1) {
      const a = pageList[0].created_at;
      const b = pageList[pageList.length - 1].created_at;
      if (typeof a === "number" && typeof b === "number" && a !== b) this.eventOrder = a > b ? "newest-first" : "oldest-first";
    }
    // Server order → chronological; ties keep the server's (reversed) order.
    const chronological = this.eventOrder === "oldest-first" ? fresh : [...fresh].reverse();
    const ordered = chronological.map((e, i) => ({ e, i })).sort((x, y) => (x.e.created_at ?? 0) - (y.e.created_at ?? 0) || x.i - y.i).map((x) => x.e);
    for (const e of ordered) {
      this.seen.add(e.id);
      this.newestSeen = e.id;
      this.emitEvent(e, emit);
    }
  }

  private emitEvent(e: FineTuneEvent, emit: (ev: TrainerEvent) => void): void {
    if (e.type === "metrics" && e.data && typeof e.data === "object") {
      const step = typeof e.data.step === "number" ? e.data.step : undefined;
      for (const [name, value] of Object.entries(e.data)) {
        if (name === "step" || typeof value !== "number" || !Number.isFinite(value)) continue;
        setOwn(this.lastMetrics, name, value);
        emit({ type: "metric", name, value, ...(step !== undefined ? { step } : {}) });
      }
      return;
    }
    if (e.message) emit({ type: "log", message: e.level && e.level !== "info" ? `[${e.level}] ${e.message}` : e.message });
  }

  private async upload(filename: string, jsonl: string, signal?: AbortSignal): Promise<string> {
    const res = await this.request<{ id?: string }>("POST", "/files", {
      form: () => {
        const form = new FormData();
        form.append("purpose", "fine-tune");
        form.append("file", new Blob([jsonl], { type: "application/jsonl" }), filename);
        return form;
      },
      signal,
    });
    if (!res?.id) throw new ProviderError(this.providerId, `the upload of ${filename} answered without a file id`, { kind: "malformed", retryable: false });
    return res.id;
  }

  /** One API call with retries of transient failures; HTTP errors carry status and the API's message. */
  private async request<T>(method: string, path: string, opts: { json?: unknown; form?: () => FormData; signal?: AbortSignal }): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const maxRetries = this.options.maxRetries ?? 5;
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      const headers: Record<string, string> = { accept: "application/json" };
      if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
      let body: string | FormData | undefined;
      if (opts.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(opts.json);
      } else if (opts.form) {
        body = opts.form(); // fetch sets the multipart content type with its boundary
      }
      let error: ProviderError;
      try {
        const res = await this.fetchImpl(url, { method, headers, body, signal });
        const raw = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(raw) as T;
          } catch {
            throw new ProviderError(this.providerId, `HTTP ${res.status} from ${method} ${url} is not JSON: ${raw.slice(0, 200)}`, { status: res.status, kind: "malformed" });
          }
        }
        error = httpError(this.providerId, `${method} ${url}`, res.status, raw, res.headers, { apiKeyEnv: this.apiKeyEnv });
      } catch (err) {
        error = fetchFailure(this.providerId, url, err, { timeout, timeoutMs, signal: opts.signal });
      }
      if (!error.retryable || attempt > maxRetries) {
        if (attempt > 1 && error.retryable) throw new ProviderError(this.providerId, `${error.detail} (gave up after ${attempt} attempts)`, { status: error.status, kind: error.kind, cause: error, attempts: attempt });
        throw error;
      }
      const delay = Math.max(backoffDelay(attempt, this.random, 1_000, 60_000), error.retryAfterMs ?? 0);
      await this.sleep(delay, opts.signal);
    }
  }
}
