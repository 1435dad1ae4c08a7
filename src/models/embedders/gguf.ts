/**
 * `gguf:<file>` — a GGUF embedding model (nomic-embed-text, bge, e5, gte, mxbai… as published by
 * llama.cpp / Ollama users) run in-process by node-llama-cpp, an optional dependency.
 *
 * The file is checked (exists, is a file, starts with the GGUF magic bytes) before the package is
 * imported, so a wrong path fails clearly on any machine. Texts are embedded one at a time (what
 * node-llama-cpp's embedding context does), truncated to the context size, and normalised.
 * Query/document prefixes come from the options or, for known families, from the file name
 * (nomic "search_query: ", e5 "query: ", bge-en instruction).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Embedder } from "../index.ts";
import { l2Normalize } from "./hashing.ts";
import { importOptional } from "./onnx.ts";

export const GGUF_MISSING_PACKAGE = "gguf embedders need node-llama-cpp: npm i node-llama-cpp";

export interface GgufEmbedderOptions {
  /** The .gguf file (absolute, or relative to `baseDir`). */
  file: string;
  baseDir?: string;
  queryPrefix?: string;
  documentPrefix?: string;
  /** Tokens the model sees per text (default 512); longer texts are truncated. */
  contextSize?: number;
  /** Module loader, injectable for tests. */
  importModule?: (specifier: string) => Promise<unknown>;
}

const GGUF_MAGIC = "GGUF";

/**
 * Resolve and check a GGUF file (exists, is a file, starts with the GGUF magic bytes); returns its
 * absolute path. `who` prefixes errors ("gguf embedder", "llamacpp"), `what` names the file
 * ("model", "LoRA adapter"). Shared by the GGUF embedder and the llamacpp: generator.
 */
export function checkGgufFile(file: string, baseDir = process.cwd(), who = "gguf embedder", what = "model"): string {
  const path = resolve(baseDir, file);
  if (!existsSync(path)) throw new Error(`${who}: ${what} file ${path} does not exist`);
  const stat = statSync(path);
  if (!stat.isFile()) throw new Error(`${who}: ${path} is not a file; it must be the path of a .gguf ${what} file`);
  const head = Buffer.alloc(4);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const magic = head.subarray(0, read).toString("latin1");
  if (magic !== GGUF_MAGIC) {
    const hex = [...head.subarray(0, read)].map((b) => b.toString(16).padStart(2, "0")).join(" ") || "nothing (empty file)";
    const old = ["ggml", "ggmf", "ggjt", "lmgg", "fmgg", "tjgg"].includes(magic) ? " — an old GGML-format model; convert it to GGUF with llama.cpp" : "";
    throw new Error(`${who}: ${path} is not a GGUF file (starts with ${hex}, expected the magic bytes 47 47 55 46 "GGUF")${old}`);
  }
  return path;
}

function detectPrefixes(name: string): { queryPrefix: string; documentPrefix: string } {
  const n = name.toLowerCase();
  if (n.includes("nomic-embed")) return { queryPrefix: "search_query: ", documentPrefix: "search_document: " };
  if (/(^|[-_./])e5[-_.]/.test(n) && !n.includes("instruct")) return { queryPrefix: "query: ", documentPrefix: "passage: " };
  if ((/bge-.*en|bge-en/.test(n) && !n.includes("bge-m3")) || /mxbai-embed|arctic-embed/.test(n)) {
    return { queryPrefix: "Represent this sentence for searching relevant passages: ", documentPrefix: "" };
  }
  return { queryPrefix: "", documentPrefix: "" };
}

interface LlamaBits {
  model: { tokenize(text: string): unknown[] };
  context: { getEmbeddingFor(input: string | unknown[]): Promise<{ vector: ArrayLike<number> }> };
}

export class GgufEmbedder implements Embedder {
  readonly id: string;
  readonly path: string;
  readonly queryPrefix: string;
  readonly documentPrefix: string;
  private dims = 0;
  private readonly contextSize: number;
  private readonly importModule?: (specifier: string) => Promise<unknown>;
  private loaded?: Promise<LlamaBits>;

  constructor(options: GgufEmbedderOptions) {
    this.path = checkGgufFile(options.file, options.baseDir);
    this.id = `gguf:${options.file}`;
    const detected = detectPrefixes(basename(this.path));
    this.queryPrefix = options.queryPrefix ?? detected.queryPrefix;
    this.documentPrefix = options.documentPrefix ?? detected.documentPrefix;
    this.contextSize = options.contextSize ?? 512;
    this.importModule = options.importModule;
  }

  get dimensions(): number {
    return this.dims;
  }

  private load(): Promise<LlamaBits> {
    this.loaded ??= (async () => {
      const { getLlama } = await importOptional("node-llama-cpp", GGUF_MISSING_PACKAGE, this.importModule);
      const llama = await getLlama();
      const model = await llama.loadModel({ modelPath: this.path });
      const context = await model.createEmbeddingContext({ contextSize: this.contextSize });
      return { model, context } as LlamaBits;
    })();
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  async embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const { model, context } = await this.load();
    const prefix = kind === "query" ? this.queryPrefix : this.documentPrefix;
    const out: Float32Array[] = [];
    for (const text of texts) {
      let input: string | unknown[] = prefix + text;
      const tokens = model.tokenize(input);
      // Room for the BOS/EOS tokens the context adds; the rest of a long chunk is dropped.
      if (tokens.length > this.contextSize - 4) input = tokens.slice(0, this.contextSize - 4);
      const { vector } = await context.getEmbeddingFor(input);
      if (this.dims === 0) this.dims = vector.length;
      if (vector.length !== this.dims) throw new Error(`${this.id}: embedding length changed from ${this.dims} to ${vector.length}`);
      out.push(l2Normalize(Float32Array.from(vector)));
    }
    return out;
  }
}
