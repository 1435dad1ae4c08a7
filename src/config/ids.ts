/**
 * The grammar of the model ids written in `ragtune.yaml` and on the command line (`--model`,
 * `--judge`): generators, judges, embedders, rerankers and priced models. Checked when the config
 * is loaded, so a typo fails at once with the key and line named instead of at the first model call.
 *
 * Only the syntax is checked here (known kind, non-empty model, provider declared under
 * `models.providers`); files and API keys are checked when the model is created. The kind lists
 * are kept in step with the registries by test/config-ids.test.ts.
 */
import { didYouMean } from "../util/errors.ts";
import { HASHING_MAX_DIMS, HASHING_MIN_DIMS } from "../models/embedders/hashing.ts";

export type IdRole = "generator" | "judge" | "embedder" | "reranker" | "reference";

/** Kinds (the part before the first ':') each role accepts, with the forms shown in errors. */
export const ID_FORMS: Readonly<Record<IdRole, readonly string[]>> = Object.freeze({
  generator: [
    "offline:extractive",
    "openai:<model>",
    "anthropic:<model>",
    "ollama:<model>",
    "openai-compatible:<provider>/<model>",
    "llamacpp:<file.gguf>[?lora=<adapter.gguf>]",
  ],
  judge: ["openai:<model>", "anthropic:<model>", "ollama:<model>", "openai-compatible:<provider>/<model>", "llamacpp:<file.gguf>[?lora=<adapter.gguf>]"],
  embedder: ["none", "hashing[:<dims>]", "use-lite", "onnx:<folder>", "gguf:<file>", "openai:<model>", "ollama:<model>", "openai-compatible:<provider>/<model>"],
  reranker: ["none", "offline", "onnx:<folder>", "cohere:<model>", "jina:<model>"],
  reference: ["openai:<model>", "anthropic:<model>", "ollama:<model>", "openai-compatible:<provider>/<model>", "llamacpp:<file.gguf>"],
});

const kindOf = (form: string) => form.replace(/[[:].*$/, "");

/** Provider names: the part of `openai-compatible:<provider>/<model>` before the '/'. */
export const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const ROLE_NAME: Record<IdRole, string> = {
  generator: "generator",
  judge: "judge model",
  embedder: "embedder",
  reranker: "reranker",
  reference: "reference model",
};

/**
 * Why `id` is not a valid id for `role`, or undefined when it is. `providers` are the names under
 * `models.providers` (a Set, so a name like 'constructor' is never found on Object.prototype);
 * `checkProviders: false` skips the provider lookup (price keys name models, not endpoints).
 */
export function modelIdProblem(role: IdRole, id: string, providers: ReadonlySet<string>, checkProviders = true): string | undefined {
  const forms = ID_FORMS[role];
  const expected = `expected one of: ${forms.join(", ")}`;
  const trimmed = id.trim();
  if (trimmed === "") return `empty ${ROLE_NAME[role]} id; ${expected}`;
  if (/\s/.test(trimmed)) return `'${id}' contains whitespace; ${expected}`;
  const colon = trimmed.indexOf(":");
  const kind = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const rest = colon < 0 ? "" : trimmed.slice(colon + 1);
  const kinds = [...new Set(forms.map(kindOf))];
  if (kind === "offline" && (role === "judge" || role === "reference")) {
    return `'${id}' is not an LLM: a ${ROLE_NAME[role]} must be one; ${expected}`;
  }
  if (!kinds.includes(kind)) {
    const hint = didYouMean(kind, kinds);
    const what = colon < 0 && role !== "embedder" && role !== "reranker" ? `'${id}' has no kind prefix` : `unknown ${ROLE_NAME[role]} kind '${kind}'`;
    return `${what}${hint ? ` (did you mean '${hint}'?)` : ""}; ${expected}`;
  }
  switch (kind) {
    case "none":
      return colon < 0 ? undefined : `'${id}': 'none' takes no argument`;
    case "use-lite":
      return colon < 0 ? undefined : `'${id}': 'use-lite' takes no argument`;
    case "offline":
      if (role === "reranker") return colon < 0 ? undefined : `'${id}': 'offline' takes no argument`;
      if (rest !== "extractive") {
        const hint = didYouMean(rest, ["extractive"]);
        return `unknown offline generator '${id}'${hint ? ` (did you mean 'offline:${hint}'?)` : ""}; the only offline generator is offline:extractive`;
      }
      return undefined;
    case "hashing": {
      if (colon < 0) return undefined;
      const dims = Number(rest);
      if (!/^\d+$/.test(rest) || dims < HASHING_MIN_DIMS || dims > HASHING_MAX_DIMS) {
        return `'${id}': hashing dimensions must be an integer from ${HASHING_MIN_DIMS} to ${HASHING_MAX_DIMS}`;
      }
      return undefined;
    }
    case "openai-compatible": {
      const slash = rest.indexOf("/");
      const name = slash < 0 ? "" : rest.slice(0, slash);
      const model = slash < 0 ? "" : rest.slice(slash + 1);
      if (!name || !model) return `'${id}': expected openai-compatible:<provider>/<model>`;
      if (!checkProviders) return undefined;
      if (!providers.has(name)) {
        const known = [...providers];
        const hint = didYouMean(name, known);
        return (
          `unknown provider '${name}' in '${id}'${hint ? ` (did you mean '${hint}'?)` : ""}: ` +
          (known.length ? `configured providers: ${known.join(", ")}` : `no providers are configured — add models.providers.${name} (baseUrl, apiKeyEnv)`)
        );
      }
      return undefined;
    }
    case "llamacpp": {
      const q = rest.indexOf("?");
      const file = (q < 0 ? rest : rest.slice(0, q)).trim();
      if (!file) return `'${id}': expected llamacpp:<file.gguf>[?lora=<adapter.gguf>]`;
      if (q >= 0) {
        if (role === "reference") return `'${id}': a reference model is a price key; drop the ?${rest.slice(q + 1)} part`;
        const params = new URLSearchParams(rest.slice(q + 1));
        const unknown = [...params.keys()].filter((k) => k !== "lora");
        if (unknown.length) return `'${id}': unknown option '${unknown[0]}' (only ?lora=<adapter.gguf> is supported)`;
        if (!params.get("lora")?.trim()) return `'${id}': ?lora= needs the path of a LoRA adapter .gguf file`;
      }
      return undefined;
    }
    default:
      // openai, anthropic, ollama, onnx, gguf, cohere, jina: one non-empty argument.
      if (!rest) return `'${id}': expected ${forms.find((f) => kindOf(f) === kind)}`;
      return undefined;
  }
}
