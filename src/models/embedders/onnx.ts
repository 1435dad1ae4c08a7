/**
 * `onnx:<folder>` — a sentence-embedding model on disk, run in-process by transformers.js
 * (`@huggingface/transformers`, an optional dependency) with no network: `allowRemoteModels` is
 * off and `localModelPath` is the folder's parent, so the model id is the folder name.
 *
 * The folder is what `optimum-cli export onnx` or a Hugging Face "Xenova/…" / "onnx-community/…"
 * repository contains: `config.json`, `tokenizer.json`, `tokenizer_config.json` and `onnx/model*.onnx`. It is validated
 * before the package is imported, so a wrong path fails with the missing file named, even on a
 * machine without transformers.js.
 *
 * Asymmetric models need prefixes: e5 wants "query: " / "passage: ", bge-en "Represent this
 * sentence for searching relevant passages: " on queries, nomic "search_query: " /
 * "search_document: ". They are taken, in order, from the options, from sentence-transformers'
 * `config_sentence_transformers.json` prompts, or from the model name (config.json's
 * `_name_or_path`, else the folder name). Pooling is read from `1_Pooling/config.json` (CLS for
 * bge, mean otherwise); vectors are normalised.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Embedder } from "../index.ts";
import { l2Normalize } from "./hashing.ts";

export const ONNX_MISSING_PACKAGE =
  "onnx embedders need @huggingface/transformers: npm i @huggingface/transformers (set ONNXRUNTIME_NODE_INSTALL=skip if its install script cannot reach the network)";

export type Pooling = "mean" | "cls";

export interface OnnxEmbedderOptions {
  /** The model folder (absolute, or relative to `baseDir`). */
  folder: string;
  baseDir?: string;
  /** Override the detected query / document prefixes ("" for none). */
  queryPrefix?: string;
  documentPrefix?: string;
  /** Override the detected pooling. */
  pooling?: Pooling;
  /** transformers.js dtype, i.e. which onnx/model*.onnx to load; default: the best one present (fp32 > q8 > int8 > uint8 > fp16 > q4…). */
  dtype?: string;
  /** Texts per forward pass (default 16): padding makes big batches of uneven texts wasteful on CPU. */
  batchSize?: number;
  /** Module loader, injectable for tests. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** transformers.js v3 dtype → the file it loads from onnx/. */
export const ONNX_DTYPE_FILES: Record<string, string> = {
  fp32: "model.onnx",
  q8: "model_quantized.onnx",
  int8: "model_int8.onnx",
  uint8: "model_uint8.onnx",
  fp16: "model_fp16.onnx",
  q4: "model_q4.onnx",
  q4f16: "model_q4f16.onnx",
  bnb4: "model_bnb4.onnx",
};

export interface OnnxModelInfo {
  folder: string;
  /** `model_type`, `_name_or_path` and friends from config.json. */
  config: Record<string, unknown>;
  /** `hidden_size` from config.json (0 when absent; learnt from the first batch then). */
  dimensions: number;
  dtype: string;
  queryPrefix: string;
  documentPrefix: string;
  pooling: Pooling;
}

const BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: ";

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`onnx embedder: cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new Error(`onnx embedder: ${file} is not a JSON object`);
}

/**
 * Check the folder holds a loadable model and work out dtype, prefixes and pooling, without
 * importing transformers.js. Throws an Error that names every missing piece.
 */
export function inspectOnnxFolder(folder: string, overrides: Omit<OnnxEmbedderOptions, "folder" | "importModule"> = {}): OnnxModelInfo {
  const dir = resolve(overrides.baseDir ?? process.cwd(), folder);
  if (!existsSync(dir)) throw new Error(`onnx embedder: model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`onnx embedder: ${dir} is a file; onnx:<folder> needs the model folder (with config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx)`);

  const missing: string[] = [];
  if (!existsSync(join(dir, "config.json"))) missing.push("config.json");
  if (!existsSync(join(dir, "tokenizer.json"))) missing.push("tokenizer.json");
  // transformers.js loads both tokenizer files and fails without either.
  if (!existsSync(join(dir, "tokenizer_config.json"))) missing.push("tokenizer_config.json");
  const onnxDir = join(dir, "onnx");
  const onnxFiles = existsSync(onnxDir) && statSync(onnxDir).isDirectory() ? readdirSync(onnxDir).filter((f) => f.endsWith(".onnx")).sort() : [];
  if (onnxFiles.length === 0) missing.push("onnx/*.onnx (e.g. onnx/model.onnx)");
  if (missing.length > 0) {
    throw new Error(
      `onnx embedder: ${dir} is not a transformers.js model folder: missing ${missing.join(", ")}. ` +
        "Export one with `optimum-cli export onnx --model <hf-model> <folder>` (then move model.onnx into <folder>/onnx/) or download a Xenova/… or onnx-community/… repository.",
    );
  }

  let dtype = overrides.dtype;
  if (dtype !== undefined) {
    const file = ONNX_DTYPE_FILES[dtype];
    if (!file) throw new Error(`onnx embedder: unknown dtype "${dtype}"; expected one of ${Object.keys(ONNX_DTYPE_FILES).join(", ")}`);
    if (!onnxFiles.includes(file)) throw new Error(`onnx embedder: dtype "${dtype}" needs ${join(onnxDir, file)}, which is missing (found: ${onnxFiles.join(", ")})`);
  } else {
    dtype = Object.keys(ONNX_DTYPE_FILES).find((d) => onnxFiles.includes(ONNX_DTYPE_FILES[d]));
    if (!dtype) {
      throw new Error(
        `onnx embedder: no model file with a name transformers.js loads in ${onnxDir} (found: ${onnxFiles.join(", ")}; expected one of ${Object.values(ONNX_DTYPE_FILES).join(", ")})`,
      );
    }
  }

  const config = readJson(join(dir, "config.json"));
  const hidden = config.hidden_size ?? config.d_model ?? config.dim;
  const name = `${typeof config._name_or_path === "string" ? config._name_or_path : ""} ${basename(dir)}`.toLowerCase();

  // Prefixes: options > sentence-transformers prompts > known model families.
  let queryPrefix = "";
  let documentPrefix = "";
  const stFile = join(dir, "config_sentence_transformers.json");
  const prompts = existsSync(stFile) ? (readJson(stFile).prompts as Record<string, unknown> | undefined) : undefined;
  if (prompts && typeof prompts === "object") {
    queryPrefix = typeof prompts.query === "string" ? prompts.query : "";
    const doc = prompts.document ?? prompts.passage ?? prompts.corpus;
    documentPrefix = typeof doc === "string" ? doc : "";
  } else if (/\be5\b|[-_/]e5[-_]/.test(name) && !name.includes("instruct")) {
    queryPrefix = "query: ";
    documentPrefix = "passage: ";
  } else if (/nomic-embed/.test(name)) {
    queryPrefix = "search_query: ";
    documentPrefix = "search_document: ";
  } else if ((/bge-.*-en|bge-en/.test(name) && !/bge-m3/.test(name)) || /mxbai-embed|arctic-embed/.test(name)) {
    queryPrefix = BGE_QUERY_INSTRUCTION;
  }
  if (overrides.queryPrefix !== undefined) queryPrefix = overrides.queryPrefix;
  if (overrides.documentPrefix !== undefined) documentPrefix = overrides.documentPrefix;

  let pooling: Pooling = /bge|arctic-embed|mxbai-embed/.test(name) ? "cls" : "mean";
  const poolingFile = join(dir, "1_Pooling", "config.json");
  if (existsSync(poolingFile)) {
    const p = readJson(poolingFile);
    if (p.pooling_mode_cls_token === true) pooling = "cls";
    else if (p.pooling_mode_mean_tokens === true) pooling = "mean";
  }
  if (overrides.pooling) pooling = overrides.pooling;

  return {
    folder: dir,
    config,
    dimensions: typeof hidden === "number" && Number.isInteger(hidden) ? hidden : 0,
    dtype,
    queryPrefix,
    documentPrefix,
    pooling,
  };
}

/** Import an optional package, turning "not installed" into `missingMessage`. */
export async function importOptional(
  specifier: string,
  missingMessage: string,
  importModule: (specifier: string) => Promise<unknown> = (s) => import(s),
): Promise<any> {
  try {
    return await importModule(specifier);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = (error as Error).message ?? "";
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" || /Cannot find (package|module)/.test(message)) {
      // Only when the package itself is missing; a broken dependency inside it is reported as such.
      if (message.includes(specifier) || !message) throw new Error(missingMessage, { cause: error });
    }
    throw new Error(`failed to load ${specifier}: ${message}`, { cause: error });
  }
}

interface FeatureExtractor {
  (texts: string[], options: { pooling: Pooling; normalize: boolean }): Promise<{ data: ArrayLike<number>; dims: number[] }>;
}

export class OnnxEmbedder implements Embedder {
  readonly id: string;
  readonly info: OnnxModelInfo;
  private dims: number;
  private readonly batchSize: number;
  private readonly importModule?: (specifier: string) => Promise<unknown>;
  private extractor?: Promise<FeatureExtractor>;

  constructor(options: OnnxEmbedderOptions) {
    this.info = inspectOnnxFolder(options.folder, options);
    this.id = `onnx:${options.folder}`;
    this.dims = this.info.dimensions;
    this.batchSize = options.batchSize ?? 16;
    this.importModule = options.importModule;
  }

  get dimensions(): number {
    return this.dims;
  }

  private load(): Promise<FeatureExtractor> {
    this.extractor ??= (async () => {
      const transformers = await importOptional("@huggingface/transformers", ONNX_MISSING_PACKAGE, this.importModule);
      const { env, pipeline } = transformers;
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = dirname(this.info.folder) + sep;
      return (await pipeline("feature-extraction", basename(this.info.folder), { dtype: this.info.dtype, local_files_only: true })) as FeatureExtractor;
    })();
    // A failed load is not cached: the user may install the package and retry in the same process.
    this.extractor.catch(() => (this.extractor = undefined));
    return this.extractor;
  }

  async embed(texts: string[], kind: "query" | "document"): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const extractor = await this.load();
    const prefix = kind === "query" ? this.info.queryPrefix : this.info.documentPrefix;
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      const batch = texts.slice(start, start + this.batchSize).map((t) => prefix + t);
      const tensor = await extractor(batch, { pooling: this.info.pooling, normalize: true });
      const [rows, dims] = tensor.dims;
      if (rows !== batch.length || !dims) throw new Error(`${this.id}: expected a [${batch.length}, dims] tensor, got [${tensor.dims.join(", ")}]`);
      if (this.dims === 0) this.dims = dims;
      if (dims !== this.dims) throw new Error(`${this.id}: model returned ${dims}-dimensional vectors, config.json says ${this.dims}`);
      const data = tensor.data;
      for (let r = 0; r < rows; r++) {
        const v = new Float32Array(dims);
        for (let i = 0; i < dims; i++) v[i] = data[r * dims + i];
        out.push(l2Normalize(v));
      }
    }
    return out;
  }
}
