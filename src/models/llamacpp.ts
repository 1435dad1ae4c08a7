/**
 * `llamacpp:<model.gguf>[?lora=<adapter.gguf>]` — a local GGUF chat model run in-process by
 * node-llama-cpp (an optional dependency: `npm install node-llama-cpp`), optionally with a LoRA
 * adapter, which is how a fine-tuned variant is served without a server.
 *
 * The files are checked when the provider is created (exist, are files, start with the GGUF magic),
 * so a wrong path fails at startup on any machine; the package is imported on the first call, with
 * an install hint when it is absent. Calls run one at a time on one context sequence.
 */
import { checkGgufFile } from "./embedders/gguf.ts";
import type { ChatMessage, ChatOptions, ChatProvider, ChatResult } from "./index.ts";
import { importOptional } from "./embedders/onnx.ts";
import { countTokens } from "./tokens.ts";

export const LLAMACPP_PACKAGE = "node-llama-cpp";
export const LLAMACPP_MISSING_PACKAGE = "llamacpp: generators need the optional package node-llama-cpp: run `npm install node-llama-cpp`";

export interface LlamaCppOptions {
  /** The .gguf model (absolute, or relative to `baseDir`). */
  file: string;
  /** A LoRA adapter in GGUF form (absolute, or relative to `baseDir`). */
  lora?: string;
  baseDir?: string;
  /** Context size in tokens (default: node-llama-cpp's choice for the model and memory). */
  contextSize?: number;
  /** Module loader, injectable for tests. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** Parse the part after `llamacpp:`: `<path.gguf>[?lora=<adapter.gguf>]`. */
export function parseLlamaCppRef(rest: string): { file: string; lora?: string } {
  const q = rest.indexOf("?");
  const file = (q < 0 ? rest : rest.slice(0, q)).trim();
  if (q < 0) return { file };
  const params = new URLSearchParams(rest.slice(q + 1));
  const unknown = [...params.keys()].filter((k) => k !== "lora");
  if (unknown.length > 0) throw new Error(`llamacpp:${rest}: unknown option ${unknown.map((k) => `"${k}"`).join(", ")} (only ?lora=<adapter.gguf> is supported)`);
  const lora = params.get("lora")?.trim();
  if (params.has("lora") && !lora) throw new Error(`llamacpp:${rest}: ?lora= needs the path of a LoRA adapter .gguf file`);
  return lora ? { file, lora } : { file };
}

/** Resolve and check a GGUF file; `what` names it in errors ("model", "LoRA adapter"). */
export function checkGguf(what: string, file: string, baseDir = process.cwd()): string {
  return checkGgufFile(file, baseDir, "llamacpp", what);
}

/** The parts of node-llama-cpp we use (v3 API). */
interface LlamaModule {
  getLlama(): Promise<Llama>;
  LlamaChatSession: new (options: { contextSequence: unknown; systemPrompt?: string }) => LlamaChatSession;
}
interface Llama {
  loadModel(options: { modelPath: string }): Promise<LlamaModel>;
  createGrammarForJsonSchema(schema: Record<string, unknown>): Promise<unknown>;
  getGrammarFor(type: "json"): Promise<unknown>;
}
interface LlamaModel {
  createContext(options: { contextSize?: number; lora?: { adapters: { filePath: string }[] } }): Promise<LlamaContext>;
  tokenize(text: string): unknown[];
}
interface LlamaContext {
  getSequence(): { dispose?(): void };
}
interface LlamaChatSession {
  setChatHistory?(history: unknown[]): void;
  prompt(
    text: string,
    options: { maxTokens?: number; temperature?: number; grammar?: unknown; signal?: AbortSignal; seed?: number; onTextChunk?: (text: string) => void },
  ): Promise<string>;
  dispose?(): void;
}

interface Loaded {
  module: LlamaModule;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
}

export class LlamaCppProvider implements ChatProvider {
  readonly id: string;
  readonly model: string;
  readonly path: string;
  readonly loraPath?: string;
  private readonly options: LlamaCppOptions;
  private loaded?: Promise<Loaded>;
  /** One sequence, so calls take turns. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LlamaCppOptions) {
    this.options = options;
    this.path = checkGguf("model", options.file, options.baseDir);
    if (options.lora) this.loraPath = checkGguf("LoRA adapter", options.lora, options.baseDir);
    this.id = `llamacpp:${options.file}${options.lora ? `?lora=${options.lora}` : ""}`;
    this.model = this.id.slice("llamacpp:".length);
  }

  private load(): Promise<Loaded> {
    this.loaded ??= (async () => {
      const module = (await importOptional(LLAMACPP_PACKAGE, LLAMACPP_MISSING_PACKAGE, this.options.importModule)) as LlamaModule;
      const llama = await module.getLlama();
      const model = await llama.loadModel({ modelPath: this.path });
      const context = await model.createContext({
        ...(this.options.contextSize ? { contextSize: this.options.contextSize } : {}),
        ...(this.loraPath ? { lora: { adapters: [{ filePath: this.loraPath }] } } : {}),
      });
      return { module, llama, model, context };
    })();
    // A failed load is not kept: the user may install the package and retry in the same process.
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const turn = this.queue.then(() => this.run(messages, options));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async run(messages: ChatMessage[], options: ChatOptions): Promise<ChatResult> {
    const { module, llama, context } = await this.load();
    const system = messages.filter((m) => m.role === "system").map((m) => m.content).join("\n\n");
    const turns = messages.filter((m) => m.role !== "system");
    const last = turns[turns.length - 1];
    if (!last || last.role !== "user") throw new Error(`${this.id}: the last message must be from the user`);

    let grammar: unknown;
    if (options.jsonSchema) grammar = await llama.createGrammarForJsonSchema(options.jsonSchema.schema);
    else if (options.json) grammar = await llama.getGrammarFor("json");

    const sequence = context.getSequence();
    const session = new module.LlamaChatSession({ contextSequence: sequence, ...(system ? { systemPrompt: system } : {}) });
    try {
      const earlier = turns.slice(0, -1);
      if (earlier.length > 0 && session.setChatHistory) {
        session.setChatHistory([
          ...(system ? [{ type: "system", text: system }] : []),
          ...earlier.map((m) => (m.role === "user" ? { type: "user", text: m.content } : { type: "model", response: [m.content] })),
        ]);
      }
      const text = await session.prompt(last.content, {
        temperature: options.temperature ?? 0,
        ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
        ...(grammar !== undefined ? { grammar } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.onText ? { onTextChunk: options.onText } : {}),
      });
      return {
        text,
        usage: {
          inputTokens: messages.reduce((sum, m) => sum + countTokens(m.content), 0),
          outputTokens: countTokens(text),
        },
        model: this.model,
      };
    } finally {
      session.dispose?.();
      sequence.dispose?.();
    }
  }
}
