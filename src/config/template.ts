/** The commented starter config written by `ragtune init`. Kept valid by test/config.test.ts. */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The JSON Schema inside the installed package (this checkout, or node_modules/ragtune): a file
 * that exists on the user's machine, unlike a URL of a package that is not published.
 */
export const SCHEMA_FILE = fileURLToPath(new URL("../../schema/ragtune.schema.json", import.meta.url));

/** The starter config, its editor modeline pointing at `schemaFile` (left out when that file is missing). */
export function starterConfig(schemaFile: string = SCHEMA_FILE): string {
  const modeline = existsSync(schemaFile) ? `# yaml-language-server: $schema=${schemaFile}\n` : "";
  return `# ragtune project config — every key is documented in docs/config.md of the ragtune package.
${modeline}${STARTER_BODY}`;
}

const STARTER_BODY = `name: my-project

# What to ingest. Globs are relative to this file. A version label is stored on every chunk:
# use it to tell current docs from archived ones (stale-knowledge checks, --version-label filters).
sources:
  - include: "docs/**/*.{md,markdown,mdx,txt,html,htm,pdf,docx}"
    version: current

chunking:
  strategy: paragraphs  # paragraphs | headings | sentences | fixed (see docs/retrieval.md)
  maxTokens: 300        # chunks are packed up to this many tokens
  overlapTokens: 40     # shared between consecutive windows
  headingDepth: 3       # (headings strategy) '#'..'###' start new chunks
  minTokens: 24         # (headings strategy) tiny sections are merged into their neighbour
  maxFileBytes: 5000000 # larger files are skipped with a warning (raise it for big PDFs)

retrieval:
  k: 5                  # chunks per question (also the k of hit@k / recall@k)
  mode: lexical         # lexical (BM25) | dense | hybrid (dense needs models.embedder)
  rerank: offline       # offline | none | onnx:<folder> | cohere:<model> | jina:<model>
  # versions: [current] # search only these version labels

answer:
  minConfidence: 0.35   # below this the reader abstains with a fallback + escalation message

models:
  generator: offline:extractive   # no key, no network. Or: openai:gpt-4.1-mini, anthropic:claude-sonnet-4,
                                  # ollama:llama3.2, openai-compatible:<provider>/<model>, llamacpp:<file.gguf>
  # judge: openai:gpt-4.1         # LLM judges (docs/judges.md); never the model under test
  # providers:
  #   local:
  #     kind: openai              # openai | anthropic (the protocol the endpoint speaks)
  #     baseUrl: http://localhost:8000/v1
  #     apiKeyEnv: LOCAL_API_KEY
  #     maxConcurrency: 4         # requests in flight; also requestsPerMinute / tokensPerMinute
  #     maxRetries: 4             # 429/5xx/timeouts, backoff + jitter, honouring Retry-After

# cache:
#   enabled: true                 # model responses cached on disk: a re-run costs nothing
# evaluate:
#   repeats: 1                    # runs per case (pass^N and agreement when > 1)
#   maxCostUsd: 5                 # refuse or stop a run that would cost more

longContext:
  budgetTokens: auto    # long-context packs the corpus up to the model's context window (or a number of tokens)

suite: suite.yaml

# Variants compared by \`ragtune eval\`. fine-tuned and hybrid run once a model is promoted.
variants: [prompt-only, long-context, rag, fine-tuned, hybrid]

# Labelled data for \`ragtune finetune train\` (docs/finetune.md): one model per entry.
# finetune:
#   datasets:
#     - task: classify            # classify | qa | extract
#       file: tickets.csv
#       inputField: text
#       outputField: queue

# Facts about your situation that the recommendation weighs.
constraints:
  knowledgeChange: monthly        # never | yearly | monthly | weekly | daily
  citationsRequired: false
  # p95LatencyMs: 2000
  queriesPerDay: 1000
  # monthlyBudgetUsd: 500
  labelledExamples: 0             # labelled examples you could fine-tune on
  externalDataStoreAllowed: true  # false if compliance forbids a retrieval store

pricing:
  referenceModel: openai:gpt-4.1-mini   # prices offline runs as if an LLM served them
  # models:
  #   openai:gpt-4.1-mini: {inputPerMTok: 0.4, outputPerMTok: 1.6}
`;

export const STARTER_CONFIG = starterConfig();

export const STARTER_SUITE = `# Evaluation suite — format in docs/suite.md. Aim for 50–100 real tasks from your users.
cases:
  - id: example-qa
    task: qa
    input: What does our refund policy say about annual plans?
    answer: "30 days"
    sources: [docs/refunds.md]
    tags: [billing]

  - id: example-unanswerable
    task: qa
    input: Do you offer on-premise installation?
    must_abstain: true
`;
