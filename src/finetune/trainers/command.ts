/**
 * `command` trainer — runs the user's own training command (Axolotl, Unsloth, mlx-lm,
 * LLaMA-Factory, a script) and registers what it produced:
 *
 *   1. unless the caller gives the data files, train/validation are written into outDir as chat
 *      JSONL (train.jsonl, validation.jsonl);
 *   2. the command runs with `{train}`, `{validation}`, `{outDir}` (and `{baseModel}`) replaced —
 *      as a shell string (the values are shell-quoted) or as an argv array (no shell) — in its own
 *      process group, so an abort (AbortSignal) stops it and everything it started. The values are
 *      also in the environment: RAGTUNE_TRAIN_FILE, RAGTUNE_VALIDATION_FILE, RAGTUNE_OUT_DIR,
 *      RAGTUNE_BASE_MODEL;
 *   3. stdout/stderr lines go to `onEvent` as log events and to `outDir/train.log`; numbers that look
 *      like training metrics (`loss: 1.2`, `'eval_loss': 0.9`, `train_loss=…`) become metric events;
 *   4. a non-zero exit fails with the code and the last 20 log lines;
 *   5. the artifact is found under outDir (`artifactGlob`, default `**\/*.gguf` and
 *      `**\/adapter_model.safetensors`; the newest wins) and returned. Its generator id:
 *        - `llamacpp:<base.gguf>?lora=<adapter.gguf>` when the base model and the artifact are GGUF
 *          (the adapter's magic bytes are checked);
 *        - `openai-compatible:<provider>/<model>` when `serveAs` says where it is served (e.g. a vLLM
 *          endpoint with the adapter loaded);
 *        - otherwise none: the artifact path is recorded with a note that it needs serving.
 */
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, statSync, writeFileSync, type WriteStream } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { glob } from "tinyglobby";
import { checkGgufFile } from "../../models/embedders/gguf.ts";
import { InputError, JobFailure } from "../../util/errors.ts";
import type { DatasetSplits, TrainedArtifact, Trainer, TrainerEvent, TrainingTask, TrainOptions } from "../index.ts";
import { taskOf, toChatJsonl } from "./openai.ts";
import { hasOwn, setOwn } from "../../util/own.ts";

export const DEFAULT_ARTIFACT_GLOBS = ["**/*.gguf", "**/adapter_model.safetensors"];
export const LOG_TAIL_LINES = 20;

export interface CommandTrainerOptions {
  /**
   * The training command: a shell string or an argv array, with placeholders `{train}`,
   * `{validation}`, `{outDir}`, `{baseModel}`. E.g.
   * `accelerate launch -m axolotl.cli.train axolotl.yaml --output_dir {outDir}`.
   */
  command: string | readonly string[];
  /** What the run fine-tunes: a base .gguf (for llama.cpp LoRA serving) or a model name. */
  baseModel?: string;
  /** Globs (relative to outDir) of the produced artifact; default DEFAULT_ARTIFACT_GLOBS. */
  artifactGlob?: string | readonly string[];
  /** Where the result is served, for `openai-compatible:<provider>/<model>`. */
  serveAs?: { provider: string; model: string };
  /** Training data files exported by the caller; default: written into outDir. */
  trainFile?: string;
  validationFile?: string;
  /** Working directory of the command (default: outDir). */
  cwd?: string;
  /** Extra environment variables for the command. */
  env?: Record<string, string>;
  /** Tasks this command can learn (default all). */
  tasks?: readonly TrainingTask[];
  /** Wait after SIGTERM before SIGKILL on abort (default 5 s). */
  killGraceMs?: number;
}

/** Quote for POSIX sh (single quotes), or for cmd.exe (double quotes) on Windows. */
export function shellQuote(value: string): string {
  if (process.platform === "win32") return `"${value.replace(/"/g, '""')}"`;
  if (/^[\w@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Replace `{name}` placeholders; unknown placeholders are left alone (they may be the tool's own). */
export function fillPlaceholders(template: string, values: Record<string, string>, quote: (v: string) => string = (v) => v): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (hasOwn(values, name) ? quote(values[name]) : whole));
}

const METRIC_RE = /['"]?\b(loss|train_loss|eval_loss|val_loss|valid_loss|learning_rate|lr|grad_norm|epoch|accuracy|eval_accuracy)\b['"]?\s*[:=]\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)/g;
const STEP_RE = /\b(?:step|iter|it)\b['"]?\s*[:=]?\s*(\d+)/i;

/** Training metrics printed on a log line (HF Trainer dicts, `loss=…`, mlx-lm `Train loss 1.2`). */
export function metricsInLine(line: string): { name: string; value: number; step?: number }[] {
  const out: { name: string; value: number; step?: number }[] = [];
  const stepMatch = STEP_RE.exec(line);
  const step = stepMatch ? Number(stepMatch[1]) : undefined;
  for (const m of line.matchAll(METRIC_RE)) {
    const value = Number(m[2]);
    if (Number.isFinite(value)) out.push({ name: m[1] === "lr" ? "learning_rate" : m[1], value, ...(step !== undefined ? { step } : {}) });
  }
  const mlx = /\b(Train|Val) loss\s+([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)/.exec(line);
  if (mlx && out.length === 0) out.push({ name: mlx[1] === "Train" ? "train_loss" : "eval_loss", value: Number(mlx[2]), ...(step !== undefined ? { step } : {}) });
  return out;
}

export class CommandTrainer implements Trainer {
  readonly kind = "command";
  readonly tasks: readonly TrainingTask[];
  private readonly options: CommandTrainerOptions;

  constructor(options: CommandTrainerOptions) {
    const empty = typeof options.command === "string" ? !options.command.trim() : options.command.length === 0 || !options.command[0];
    if (empty) throw new InputError("command trainer: the training command is empty");
    if (options.serveAs && (!options.serveAs.provider || !options.serveAs.model)) {
      throw new InputError("command trainer: serveAs needs both provider and model (openai-compatible:<provider>/<model>)");
    }
    this.options = options;
    this.tasks = options.tasks ?? ["classify", "qa", "extract"];
  }

  async train(data: Pick<DatasetSplits, "train" | "validation">, options: TrainOptions): Promise<TrainedArtifact> {
    const settings = options.settings ?? {};
    const str = (k: string) => (typeof settings[k] === "string" ? (settings[k] as string) : undefined);
    const outDir = resolve(options.outDir);
    mkdirSync(outDir, { recursive: true });
    const emit = options.onEvent ?? (() => {});
    const signal = options.signal;

    // Data: the caller's exported files, or chat JSONL written here.
    let trainFile = str("trainFile") ?? this.options.trainFile;
    let validationFile = str("validationFile") ?? this.options.validationFile;
    const task = taskOf(data, this.tasks, "command trainer");
    if (!trainFile) {
      trainFile = join(outDir, "train.jsonl");
      writeFileSync(trainFile, toChatJsonl(data.train));
    } else if (!existsSync(trainFile)) {
      throw new InputError(`command trainer: training file ${trainFile} does not exist`);
    }
    if (!validationFile) {
      validationFile = join(outDir, "validation.jsonl");
      writeFileSync(validationFile, toChatJsonl(data.validation));
    }
    trainFile = resolve(trainFile);
    validationFile = resolve(validationFile);

    const baseModel = str("baseModel") ?? this.options.baseModel;
    const values: Record<string, string> = { train: trainFile, validation: validationFile, outDir, ...(baseModel ? { baseModel } : {}) };
    const cwd = this.options.cwd ? resolve(this.options.cwd) : outDir;
    const commandText = typeof this.options.command === "string" ? fillPlaceholders(this.options.command, values, shellQuote) : this.options.command.map((a) => fillPlaceholders(a, values)).join(" ");

    const logFile = join(outDir, "train.log");
    const log = createWriteStream(logFile, { flags: "a" });
    const startedAt = Date.now();
    const metrics: Record<string, number> = {};
    emit({ type: "status", status: "running" });
    emit({ type: "log", message: `$ ${commandText}` });
    log.write(`$ ${commandText}\n`);
    let tail: string[];
    let result: { code: number | null; signal: NodeJS.Signals | null };
    try {
      ({ tail, result } = await this.run(values, cwd, log, emit, metrics, signal));
    } finally {
      await new Promise<void>((r) => log.end(r));
    }
    if (signal?.aborted) {
      emit({ type: "status", status: "cancelled" });
      throw new JobFailure(`training command was aborted and stopped (log: ${logFile})`);
    }
    if (result.code !== 0) {
      const how = result.code === null ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
      const hint = result.code === 127 ? " — command not found: check that the training tool is installed and on PATH" : "";
      emit({ type: "status", status: "failed" });
      throw new JobFailure(
        `training command ${how}${hint}: ${commandText}\nlast ${Math.min(LOG_TAIL_LINES, tail.length)} log lines (full log: ${logFile}):\n${tail.join("\n")}`,
      );
    }

    const artifact = await this.findArtifact(outDir, baseModel, startedAt);
    const config: Record<string, unknown> = {
      command: this.options.command,
      cwd,
      trainFile,
      validationFile,
      logFile,
      artifactGlob: this.globs(),
      trainExamples: data.train.length,
      validationExamples: data.validation.length,
    };
    let generatorId: string | undefined;
    if (this.options.serveAs) {
      generatorId = `openai-compatible:${this.options.serveAs.provider}/${this.options.serveAs.model}`;
    } else if (artifact.endsWith(".gguf") && baseModel?.toLowerCase().endsWith(".gguf")) {
      checkGgufFile(artifact, outDir, "command trainer", "LoRA adapter");
      generatorId = `llamacpp:${baseModel}?lora=${artifact}`;
    } else {
      config.note = `the artifact ${artifact} needs serving: load it in an OpenAI-compatible server (vLLM, llama.cpp server) and set serveAs, or give a .gguf base model for llama.cpp`;
      emit({ type: "log", message: String(config.note) });
    }
    emit({ type: "status", status: "succeeded" });
    return {
      trainer: this.kind,
      task,
      artifact,
      baseModel: baseModel ?? "unknown",
      metrics,
      config,
      ...(generatorId ? { generatorId } : {}),
    };
  }

  private globs(): string[] {
    const g = this.options.artifactGlob;
    return g === undefined ? DEFAULT_ARTIFACT_GLOBS : typeof g === "string" ? [g] : [...g];
  }

  /** The newest matching file under outDir (an adapter_model.safetensors stands for its folder). */
  private async findArtifact(outDir: string, baseModel: string | undefined, startedAt: number): Promise<string> {
    const base = baseModel ? resolve(baseModel) : undefined;
    const files = (await glob(this.globs(), { cwd: outDir, absolute: true, onlyFiles: true, dot: false })).filter((f) => resolve(f) !== base);
    if (files.length === 0) {
      throw new JobFailure(
        `training command succeeded but produced no artifact matching ${this.globs().join(", ")} under ${outDir}: set artifactGlob to what your tool writes (e.g. "**/adapter_model.safetensors", "**/*.gguf")`,
      );
    }
    const newest = files
      .map((f) => ({ f, mtime: statSync(f).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime || a.f.localeCompare(b.f))[0];
    const stale = newest.mtime < startedAt - 2_000;
    const path = newest.f.endsWith("adapter_model.safetensors") ? dirname(newest.f) : newest.f;
    if (stale) {
      throw new JobFailure(`training command succeeded but the newest artifact ${relative(outDir, newest.f)} predates this run: it wrote nothing new`);
    }
    return path;
  }

  private run(
    values: Record<string, string>,
    cwd: string,
    log: WriteStream,
    emit: (e: TrainerEvent) => void,
    metrics: Record<string, number>,
    signal?: AbortSignal,
  ): Promise<{ tail: string[]; result: { code: number | null; signal: NodeJS.Signals | null } }> {
    return new Promise((resolvePromise, reject) => {
      if (signal?.aborted) return resolvePromise({ tail: [], result: { code: null, signal: "SIGTERM" } });
      // The same values as environment variables, for tools configured by a file (envsubst, YAML templates).
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        RAGTUNE_TRAIN_FILE: values.train,
        RAGTUNE_VALIDATION_FILE: values.validation,
        RAGTUNE_OUT_DIR: values.outDir,
        ...(values.baseModel ? { RAGTUNE_BASE_MODEL: values.baseModel } : {}),
        ...this.options.env,
      };
      const detached = process.platform !== "win32";
      const child =
        typeof this.options.command === "string"
          ? spawn(fillPlaceholders(this.options.command, values, shellQuote), { cwd, env, shell: true, detached, stdio: ["ignore", "pipe", "pipe"] })
          : spawn(fillPlaceholders(this.options.command[0], values), this.options.command.slice(1).map((a) => fillPlaceholders(a, values)), {
              cwd,
              env,
              detached,
              stdio: ["ignore", "pipe", "pipe"],
            });
      const tail: string[] = [];
      const onLine = (line: string) => {
        log.write(line + "\n");
        tail.push(line);
        if (tail.length > LOG_TAIL_LINES) tail.shift();
        emit({ type: "log", message: line });
        for (const m of metricsInLine(line)) {
          setOwn(metrics, m.name, m.value);
          emit({ type: "metric", ...m });
        }
      };
      const lineReader = () => {
        let buffer = "";
        return {
          push: (chunk: Buffer) => {
            buffer += chunk.toString("utf8");
            // \r: progress bars redraw a line; each redraw is a line of the log.
            const parts = buffer.split(/\r?\n|\r/);
            buffer = parts.pop() ?? "";
            for (const p of parts) if (p.trim()) onLine(p);
          },
          flush: () => {
            if (buffer.trim()) onLine(buffer);
            buffer = "";
          },
        };
      };
      const out = lineReader();
      const err = lineReader();
      child.stdout!.on("data", out.push);
      child.stderr!.on("data", err.push);

      let killTimer: NodeJS.Timeout | undefined;
      const kill = (sig: NodeJS.Signals) => {
        try {
          if (detached && child.pid !== undefined) process.kill(-child.pid, sig);
          else child.kill(sig);
        } catch {
          // already gone
        }
      };
      const onAbort = () => {
        kill("SIGTERM");
        killTimer = setTimeout(() => kill("SIGKILL"), this.options.killGraceMs ?? 5_000);
        killTimer.unref();
      };
      signal?.addEventListener("abort", onAbort, { once: true });

      child.on("error", (e: NodeJS.ErrnoException) => {
        signal?.removeEventListener("abort", onAbort);
        if (killTimer) clearTimeout(killTimer);
        const cmd = typeof this.options.command === "string" ? this.options.command : this.options.command[0];
        reject(
          e.code === "ENOENT"
            ? new InputError(`training command not found: ${cmd} (check that it is installed and on PATH${this.options.cwd ? `, and that ${cwd} exists` : ""})`)
            : new JobFailure(`training command could not start: ${e.message}`),
        );
      });
      child.on("close", (code, sig) => {
        signal?.removeEventListener("abort", onAbort);
        if (killTimer) clearTimeout(killTimer);
        // The group may still hold children that ignored the pipe closing: make sure they go.
        if (signal?.aborted) kill("SIGKILL");
        out.flush();
        err.flush();
        resolvePromise({ tail, result: { code, signal: sig } });
      });
    });
  }
}
