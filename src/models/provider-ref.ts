/**
 * `openai-compatible:<provider>/<model>` references, shared by generators and embedders: the
 * provider name (no '/') names an entry of `models.providers`; the model may contain '/'
 * (e.g. "BAAI/bge-m3", "meta-llama/Llama-3.1-8B").
 */
import type { RagtuneConfig } from "../config/index.ts";

export interface ResolvedProvider {
  name: string;
  model: string;
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
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
  const provider = models.providers[name];
  if (!provider) {
    const known = Object.keys(models.providers);
    throw new Error(
      `${what} "${id}" needs a provider named "${name}": add models.providers.${name} (baseUrl, apiKeyEnv, timeoutMs) to ragtune.yaml` +
        (known.length > 0 ? ` (configured providers: ${known.join(", ")})` : " (no providers are configured)"),
    );
  }
  return { name, model, baseUrl: provider.baseUrl, apiKey: env[provider.apiKeyEnv] || undefined, timeoutMs: provider.timeoutMs };
}
