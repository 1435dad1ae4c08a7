/**
 * `openai-compatible:<provider>/<model>` references, shared by generators and embedders: the
 * provider name (no '/') names an entry of `models.providers`; the model may contain '/'
 * (e.g. "BAAI/bge-m3", "meta-llama/Llama-3.1-8B").
 */
import type { RagtuneConfig } from "../config/index.ts";
import { InputError } from "../util/errors.ts";

export interface ResolvedProvider {
  name: string;
  model: string;
  /** Protocol of the endpoint (`models.providers.<name>.kind`). */
  kind: "openai" | "anthropic";
  baseUrl: string;
  apiKey: string | undefined;
  /** The variable the key is read from, named in auth errors. */
  apiKeyEnv: string;
  timeoutMs: number;
  /** Retries, concurrency and rate limits of this endpoint. */
  limits: ProviderLimitsConfig;
}

/** Retry and rate settings as configured (see resilience.ts for what they do). */
export interface ProviderLimitsConfig {
  maxRetries: number;
  maxConcurrency: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** The limit fields of a provider or `models.limits` entry. */
export function limitsOf(config: Partial<ProviderLimitsConfig>): ProviderLimitsConfig {
  return {
    maxRetries: config.maxRetries ?? 4,
    maxConcurrency: config.maxConcurrency ?? 4,
    ...(config.requestsPerMinute !== undefined ? { requestsPerMinute: config.requestsPerMinute } : {}),
    ...(config.tokensPerMinute !== undefined ? { tokensPerMinute: config.tokensPerMinute } : {}),
  };
}

/**
 * The key under which calls share one concurrency limit and rate budget (resilience.ts
 * `sharedLimits`): every model on one configured provider, or on one built-in kind's base URL.
 * Chat providers (registry.ts) and embedders (embedders/index.ts) use the same key, because the
 * configured limits are the endpoint's: `requestsPerMinute: 600` on a provider means 600 requests
 * to it, whether they are completions or embeddings.
 */
export function providerLimitKey(name: string): string {
  return `providers.${name}`;
}

/** The shared-limit key of a built-in kind (`openai:`, `anthropic:`, `ollama:`) on `baseUrl`. */
export function endpointLimitKey(kind: "openai" | "anthropic" | "ollama", baseUrl: string): string {
  return `${kind}:${baseUrl}`;
}

/**
 * Resolve `rest` (the part after "openai-compatible:") against the config. `what` names the
 * caller in errors ("Generator", "Embedder"); a malformed reference returns undefined so the
 * caller can report it with its own list of supported forms.
 */
export function resolveProviderRef(
  what: string,
  id: string,
  rest: string,
  models: Pick<RagtuneConfig["models"], "providers">,
  env: NodeJS.ProcessEnv,
): ResolvedProvider | undefined {
  const slash = rest.indexOf("/");
  const name = slash < 0 ? "" : rest.slice(0, slash);
  const model = slash < 0 ? "" : rest.slice(slash + 1);
  if (!name || !model) return undefined;
  const provider = Object.hasOwn(models.providers, name) ? models.providers[name] : undefined;
  if (!provider) {
    const known = Object.keys(models.providers);
    throw new InputError(
      `${what} "${id}" needs a provider named "${name}": add models.providers.${name} (baseUrl, apiKeyEnv, timeoutMs) to ragtune.yaml` +
        (known.length > 0 ? ` (configured providers: ${known.join(", ")})` : " (no providers are configured)"),
    );
  }
  // Configs built in code (not parsed) may lack the defaulted fields.
  const kind = provider.kind ?? "openai";
  const apiKeyEnv = provider.apiKeyEnv ?? (kind === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY");
  return {
    name,
    model,
    kind,
    baseUrl: provider.baseUrl,
    apiKey: env[apiKeyEnv] || undefined,
    apiKeyEnv,
    timeoutMs: provider.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    limits: limitsOf(provider),
  };
}

/** Endpoint settings of the built-in `openai:`, `anthropic:` and `ollama:` kinds. */
export interface Endpoint {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";
const OLLAMA_DEFAULT_HOST = "http://localhost:11434";
const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * `openai:<model>`: OPENAI_BASE_URL / OPENAI_API_KEY like the official SDK. Fails now rather than on
 * the first request when no key is set for OpenAI itself (a custom base URL may be a keyless local server).
 */
export function openaiEndpoint(what: string, id: string, env: NodeJS.ProcessEnv): Endpoint {
  const baseUrl = env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL;
  const apiKey = env.OPENAI_API_KEY || undefined;
  if (!apiKey && baseUrl === OPENAI_DEFAULT_BASE_URL) {
    throw new InputError(`${what} "${id}" needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server).`);
  }
  return { baseUrl, apiKey, timeoutMs: DEFAULT_TIMEOUT_MS };
}

/** `ollama:<model>`: OLLAMA_HOST may be `host:port`, `http://host:port` or already end in /v1. */
export function ollamaEndpoint(env: NodeJS.ProcessEnv): Endpoint {
  let url = (env.OLLAMA_HOST || OLLAMA_DEFAULT_HOST).trim().replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(url)) url = `http://${url}`;
  return { baseUrl: url.endsWith("/v1") ? url : `${url}/v1`, apiKey: undefined, timeoutMs: DEFAULT_TIMEOUT_MS };
}

/**
 * `anthropic:<model>`: ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY like the official SDK; fails now when
 * no key is set for Anthropic itself (a custom base URL may be a keyless proxy or test server).
 */
export function anthropicEndpoint(what: string, id: string, env: NodeJS.ProcessEnv): Endpoint {
  const baseUrl = env.ANTHROPIC_BASE_URL || ANTHROPIC_DEFAULT_BASE_URL;
  const apiKey = env.ANTHROPIC_API_KEY || undefined;
  if (!apiKey && baseUrl === ANTHROPIC_DEFAULT_BASE_URL) {
    throw new InputError(`${what} "${id}" needs an API key: set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a proxy or local server).`);
  }
  return { baseUrl, apiKey, timeoutMs: DEFAULT_TIMEOUT_MS };
}
