/**
 * Reranker ids → Rerankers. The id is what users write in `retrieval.rerank`:
 *
 *   none              no reranking (undefined is returned)
 *   offline           feature reranker: proximity, coverage, heading/title and phrase matches (./offline.ts)
 *   onnx:<folder>     local cross-encoder run by transformers.js (./onnx.ts)
 *   cohere:<model>    Cohere rerank API; models.providers.cohere or https://api.cohere.com/v2 + COHERE_API_KEY
 *   jina:<model>      Jina rerank API;   models.providers.jina   or https://api.jina.ai/v1 + JINA_API_KEY
 */
import { isAbsolute, resolve } from "node:path";
import type { RagtuneConfig } from "../../config/schema.ts";
import { didYouMean, InputError } from "../../util/errors.ts";
import type { Reranker } from "../index.ts";
import { HTTP_RERANK_DEFAULTS, HttpReranker, type HttpRerankerKind } from "./http.ts";
import { OfflineReranker, type OfflineFeatureWeights, type OfflineRerankerOptions } from "./offline.ts";
import { OnnxReranker, type OnnxRerankerOptions } from "./onnx.ts";

export { OfflineReranker, DEFAULT_OFFLINE_WEIGHTS } from "./offline.ts";
export { OnnxReranker, validateOnnxFolder } from "./onnx.ts";
export { HttpReranker } from "./http.ts";

const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

export const RERANKER_FORMS = ["none", "offline", "onnx:<folder>", "cohere:<model>", "jina:<model>"] as const;

export interface CreateRerankerOptions {
  /** Folder that relative `onnx:` paths are resolved against (the project root). Default: cwd. */
  root?: string;
  /** idf of an index term for the offline reranker (e.g. from the BM25 index). */
  idf?: (term: string) => number;
  /** Chunk tokens computed at index time for the offline reranker (`Bm25Index.rerankTokens()`). */
  tokens?: OfflineRerankerOptions["tokens"];
  /** Offline reranker weight overrides. */
  offlineWeights?: Partial<OfflineFeatureWeights>;
  /** Injected for tests. */
  fetchImpl?: typeof fetch;
  importTransformers?: OnnxRerankerOptions["importTransformers"];
}

function unsupported(id: string, reason: string): InputError {
  const hint = didYouMean(id.split(":")[0], ["none", "offline", "onnx", "cohere", "jina"]);
  return new InputError(
    `retrieval.rerank "${id}": ${reason}.${hint && hint !== id.split(":")[0] ? ` Did you mean "${hint}"?` : ""} Supported: ${RERANKER_FORMS.join(", ")}`,
  );
}

/** The configured reranker, or undefined for `none`. Throws an InputError for a bad id or setup. */
export function createReranker(
  id: string,
  models: Pick<RagtuneConfig["models"], "providers">,
  env: NodeJS.ProcessEnv = process.env,
  options: CreateRerankerOptions = {},
): Reranker | undefined {
  const trimmed = id.trim();
  if (trimmed === "" || trimmed === "none") return undefined;
  if (trimmed === "offline") return new OfflineReranker({ idf: options.idf, weights: options.offlineWeights, tokens: options.tokens });
  const colon = trimmed.indexOf(":");
  const kind = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const rest = colon < 0 ? "" : trimmed.slice(colon + 1).trim();
  switch (kind) {
    case "onnx": {
      if (!rest) throw unsupported(id, "expected onnx:<folder>");
      const folder = isAbsolute(rest) ? rest : resolve(options.root ?? process.cwd(), rest);
      return new OnnxReranker(folder, { id: `onnx:${rest}`, importTransformers: options.importTransformers });
    }
    case "cohere":
    case "jina": {
      if (!rest) throw unsupported(id, `expected ${kind}:<model>`);
      return createHttpReranker(kind, rest, models, env, options.fetchImpl);
    }
    default:
      throw unsupported(id, colon < 0 ? "unknown reranker" : `unknown kind "${kind}"`);
  }
}

function createHttpReranker(
  kind: HttpRerankerKind,
  model: string,
  models: Pick<RagtuneConfig["models"], "providers">,
  env: NodeJS.ProcessEnv,
  fetchImpl?: typeof fetch,
): HttpReranker {
  const provider = models.providers[kind];
  const defaults = HTTP_RERANK_DEFAULTS[kind];
  const baseUrl = provider?.baseUrl ?? defaults.baseUrl;
  const apiKeyEnv = provider?.apiKeyEnv ?? defaults.apiKeyEnv;
  const apiKey = env[apiKeyEnv] || undefined;
  // Fail at startup rather than on the first query; a configured provider may be a keyless local server.
  if (!apiKey && !provider) {
    throw new InputError(
      `retrieval.rerank "${kind}:${model}" needs an API key: set ${apiKeyEnv} (or configure models.providers.${kind} with baseUrl and apiKeyEnv)`,
    );
  }
  return new HttpReranker({ kind, model, baseUrl, apiKey, timeoutMs: provider?.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS, fetchImpl });
}
