/**
 * Cross-encoder reranker from a user-supplied local folder (an ONNX export of e.g.
 * cross-encoder/ms-marco-MiniLM-L-6-v2), run in-process by transformers.js with remote downloads
 * disabled. `@huggingface/transformers` is an optional dependency, imported only when the first
 * query arrives; the folder is validated up front so a bad path fails at startup with the missing
 * piece named:
 *
 *   <folder>/config.json
 *   <folder>/tokenizer.json
 *   <folder>/onnx/model.onnx   (or a quantised variant: model_quantized.onnx, model_fp16.onnx, …)
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "../../util/errors.ts";
import type { Hit, Reranker } from "../index.ts";
import { rerankDocumentText } from "./http.ts";
import { rankByScores } from "./offline.ts";

export const TRANSFORMERS_PACKAGE = "@huggingface/transformers";

/** transformers.js `dtype` for each ONNX file name it loads from `onnx/`, in our order of preference. */
const ONNX_VARIANTS: [file: string, dtype: string][] = [
  ["model.onnx", "fp32"],
  ["model_quantized.onnx", "q8"],
  ["model_fp16.onnx", "fp16"],
  ["model_int8.onnx", "int8"],
  ["model_uint8.onnx", "uint8"],
  ["model_q4.onnx", "q4"],
  ["model_q4f16.onnx", "q4f16"],
  ["model_bnb4.onnx", "bnb4"],
];

export interface OnnxModelFolder {
  /** Absolute folder path. */
  folder: string;
  /** The ONNX file that will be loaded, relative to the folder. */
  onnxFile: string;
  /** transformers.js dtype selecting that file. */
  dtype: string;
}

/** Check that `folder` holds a transformers.js cross-encoder; throws an InputError naming what is missing. */
export function validateOnnxFolder(folder: string, id = `onnx:${folder}`): OnnxModelFolder {
  const abs = resolve(folder);
  const where = `retrieval.rerank "${id}"`;
  if (!existsSync(abs)) throw new InputError(`${where}: model folder ${abs} does not exist`);
  if (!statSync(abs).isDirectory()) throw new InputError(`${where}: ${abs} is not a folder (expected a folder with config.json, tokenizer.json and onnx/*.onnx)`);
  for (const file of ["config.json", "tokenizer.json"]) {
    if (!existsSync(join(abs, file))) throw new InputError(`${where}: ${join(abs, file)} is missing (export the model with its tokenizer, e.g. optimum-cli export onnx)`);
  }
  const onnxDir = join(abs, "onnx");
  if (!existsSync(onnxDir) || !statSync(onnxDir).isDirectory()) {
    throw new InputError(`${where}: ${onnxDir} is missing (transformers.js loads the model from onnx/model.onnx)`);
  }
  const present = new Set(readdirSync(onnxDir).filter((f) => f.endsWith(".onnx")));
  if (present.size === 0) throw new InputError(`${where}: no .onnx file in ${onnxDir} (expected model.onnx or a quantised variant such as model_quantized.onnx)`);
  const variant = ONNX_VARIANTS.find(([file]) => present.has(file));
  if (!variant) {
    throw new InputError(
      `${where}: ${onnxDir} has ${[...present].join(", ")} but transformers.js loads one of ${ONNX_VARIANTS.map(([f]) => f).join(", ")}; rename the file`,
    );
  }
  return { folder: abs, onnxFile: `onnx/${variant[0]}`, dtype: variant[1] };
}

/** The parts of the transformers.js module this reranker uses. */
export interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels?: boolean; localModelPath: string };
  AutoTokenizer: { from_pretrained(id: string, options?: Record<string, unknown>): Promise<TransformersTokenizer> };
  AutoModelForSequenceClassification: { from_pretrained(id: string, options?: Record<string, unknown>): Promise<TransformersModel> };
}
type TransformersTokenizer = (text: string[], options: { text_pair: string[]; padding: boolean; truncation: boolean }) => unknown;
type TransformersModel = (inputs: unknown) => Promise<{ logits: { data: ArrayLike<number>; dims: number[] } }>;

export interface OnnxRerankerOptions {
  /** The id as the user wrote it (default `onnx:<folder>`), used in messages and run records. */
  id?: string;
  /** Pairs scored per model call. */
  batchSize?: number;
  /** Injected for tests; defaults to `import("@huggingface/transformers")`. */
  importTransformers?: () => Promise<TransformersModule>;
}

async function importTransformersPackage(id: string): Promise<TransformersModule> {
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const name = TRANSFORMERS_PACKAGE;
    return (await import(name)) as TransformersModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((error as Error).message).includes(TRANSFORMERS_PACKAGE);
    if (missing) {
      throw new InputError(`retrieval.rerank "${id}" needs the optional package ${TRANSFORMERS_PACKAGE}: run \`npm install ${TRANSFORMERS_PACKAGE}\``);
    }
    throw error;
  }
}

export class OnnxReranker implements Reranker {
  readonly id: string;
  readonly model: OnnxModelFolder;
  private readonly batchSize: number;
  private readonly importTransformers: () => Promise<TransformersModule>;
  private loaded?: Promise<{ tokenizer: TransformersTokenizer; model: TransformersModel }>;

  /** Validates the folder immediately; the package and model load on the first `rerank`. */
  constructor(folder: string, options: OnnxRerankerOptions = {}) {
    this.id = options.id ?? `onnx:${folder}`;
    this.model = validateOnnxFolder(folder, this.id);
    this.batchSize = Math.max(1, options.batchSize ?? 16);
    this.importTransformers = options.importTransformers ?? (() => importTransformersPackage(this.id));
  }

  private load(): Promise<{ tokenizer: TransformersTokenizer; model: TransformersModel }> {
    this.loaded ??= (async () => {
      const tf = await this.importTransformers();
      // Offline by construction: only the user's folder, never the Hugging Face hub.
      tf.env.allowRemoteModels = false;
      tf.env.allowLocalModels = true;
      tf.env.localModelPath = `${dirname(this.model.folder)}/`;
      const id = basename(this.model.folder);
      const tokenizer = await tf.AutoTokenizer.from_pretrained(id, { local_files_only: true });
      const model = await tf.AutoModelForSequenceClassification.from_pretrained(id, { local_files_only: true, dtype: this.model.dtype });
      return { tokenizer, model };
    })();
    // A failed load is retried on the next call instead of caching the rejection.
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }

  async rerank(query: string, hits: Hit[], k: number): Promise<Hit[]> {
    if (hits.length === 0 || k <= 0) return [];
    const { tokenizer, model } = await this.load();
    const scores: number[] = [];
    for (let start = 0; start < hits.length; start += this.batchSize) {
      const batch = hits.slice(start, start + this.batchSize);
      const inputs = tokenizer(
        batch.map(() => query),
        { text_pair: batch.map((h) => rerankDocumentText(h.chunk)), padding: true, truncation: true },
      );
      const { logits } = await model(inputs);
      // [n, labels]: one relevance logit, or for a 2-class head the "relevant" (last) column.
      const labels = logits.dims[1] ?? 1;
      if (logits.data.length !== batch.length * labels) {
        throw new Error(`${this.id}: model returned ${logits.data.length} logits for ${batch.length} pairs (dims ${JSON.stringify(logits.dims)})`);
      }
      for (let i = 0; i < batch.length; i++) scores.push(Number(logits.data[i * labels + labels - 1]));
    }
    return rankByScores(hits, scores, k);
  }
}
