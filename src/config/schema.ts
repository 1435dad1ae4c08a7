/**
 * The `ragtune.yaml` schema. Every option is documented here, at its type; `npm run schema`
 * emits `schema/ragtune.schema.json` from it so editors can complete and validate the file.
 */
import { z } from "zod";

export const VARIANT_NAMES = ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

const Source = z
  .object({
    include: z
      .union([z.string(), z.array(z.string())])
      .describe("Glob(s) relative to the project folder, e.g. 'docs/v2/**/*.md'."),
    exclude: z.array(z.string()).default([]).describe("Globs to leave out."),
    version: z
      .string()
      .default("")
      .describe("Version label stored on every chunk from these files, e.g. 'v2'. Used by filters and stale-knowledge checks."),
    allowSymlinksInto: z
      .array(z.string())
      .default([])
      .describe(
        "Folders outside the project (absolute, or relative to the project folder) that symbolic links under this source may lead into, e.g. ['../shared-docs']. By default ingest follows a link only when its target is inside the project folder; any other link is listed as not indexed. Only regular files are read either way.",
      ),
  })
  .strict();

const Chunking = z
  .object({
    strategy: z
      .enum(["headings", "paragraphs", "sentences", "fixed"])
      .default("paragraphs")
      .describe(
        "How documents are split: 'paragraphs' (default: blank-line blocks — lists, tables, code fences kept whole — packed up to maxTokens, each chunk labelled with its heading path), 'headings' (one chunk per heading section, long ones windowed), 'sentences' (sentences packed up to maxTokens), 'fixed' (plain token windows). Chosen by measurement: see docs/retrieval.md.",
      ),
    maxTokens: z.number().int().min(16).max(8192).default(300).describe("Max tokens per chunk."),
    overlapTokens: z.number().int().min(0).default(40).describe("Tokens shared by consecutive windows of one long section."),
    headingDepth: z.number().int().min(1).max(6).default(3).describe("Headings at this depth or shallower start a new section."),
    minTokens: z.number().int().min(0).default(24).describe("Sections shorter than this are merged into the next section."),
    maxFileBytes: z.number().int().min(1).default(5_000_000).describe("Files larger than this are skipped with a warning."),
  })
  .strict()
  .refine((c) => c.overlapTokens < c.maxTokens, { message: "overlapTokens must be smaller than maxTokens", path: ["overlapTokens"] });

const Retrieval = z
  .object({
    k: z.number().int().min(1).max(200).default(5).describe("Chunks retrieved per question (and the k of hit@k / recall@k)."),
    k1: z.number().min(0).default(1.5).describe("BM25 term-frequency saturation (default chosen on HotpotQA, ClapNQ and the demo suite: bench/lexical-tuning.ts)."),
    b: z.number().min(0).max(1).default(0.75).describe("BM25 length normalisation."),
    headingBoost: z
      .number()
      .min(0)
      .default(10)
      .describe("Weight of the title + heading-path field relative to the body (BM25F). Titles name what a chunk is about; 10 was best on average over three evaluation sets."),
    versions: z
      .array(z.string())
      .optional()
      .describe("Search only chunks with these version labels (e.g. ['v2']). Default: all versions."),
    paths: z
      .array(z.string())
      .optional()
      .describe("Search only chunks whose source path matches one of these globs (e.g. ['docs/v2/billing/**']). Default: all paths."),
    tags: z
      .array(z.string())
      .optional()
      .describe("Search only chunks whose document front matter `tags` include one of these. Default: no tag filter."),
    mode: z
      .enum(["lexical", "dense", "hybrid"])
      .default("lexical")
      .describe("lexical = BM25; dense = embeddings (needs models.embedder); hybrid = both, fused (see fusion)."),
    prf: z
      .object({
        enabled: z.boolean().default(false).describe("RM3-style pseudo-relevance feedback: expand the query with terms from the top documents."),
        docs: z.number().int().min(1).default(10).describe("Feedback documents."),
        terms: z.number().int().min(1).default(20).describe("Expansion terms added to the query."),
        weight: z.number().min(0).max(1).default(0.9).describe("Weight of the original query (1 − weight goes to expansion terms)."),
      })
      .strict()
      .default({ enabled: false, docs: 10, terms: 20, weight: 0.9 })
      .describe("Query expansion offline (RM3). Off by default: measured −0.01 nDCG@10 on HotpotQA, flat on ClapNQ, +0.01 MRR on the demo; 10/20/0.9 was the best setting on every base configuration."),
    fusion: z
      .object({
        method: z.enum(["rrf", "weighted"]).default("rrf").describe("rrf = reciprocal rank fusion; weighted = min-max normalised score fusion."),
        rrfK: z.number().min(1).default(60).describe("RRF constant k in 1/(k + rank)."),
        lexicalWeight: z.number().min(0).max(1).default(0.5).describe("Weight of the lexical scores in weighted fusion (dense gets 1 − this)."),
        candidates: z.number().int().min(1).default(100).describe("Candidates taken from each retriever before fusion."),
      })
      .strict()
      .default({ method: "rrf", rrfK: 60, lexicalWeight: 0.5, candidates: 100 })
      .describe("How lexical and dense results are combined in hybrid mode."),
    rerank: z
      .string()
      .default("offline")
      .describe(
        "Reranker: 'offline' (default: BM25 score + query coverage, proximity, heading/title and phrase matches; measured +0.08 nDCG@10 on HotpotQA, +0.05 recall@5 on the demo), 'none', 'onnx:<folder>' (a local cross-encoder), 'cohere:<model>' or 'jina:<model>' (HTTP APIs; base URL and key env in models.providers).",
      ),
    rerankCandidates: z.number().int().min(1).default(30).describe("Hits passed to the reranker."),
    smallToBig: z
      .boolean()
      .default(false)
      .describe("Retrieve small chunks, return their parent section (all chunks of the same heading path) as context."),
    ann: z
      .enum(["auto", "on", "off"])
      .default("auto")
      .describe("Approximate nearest-neighbour index for dense search: 'auto' uses it above annThreshold chunks, exact search below."),
    annThreshold: z.number().int().min(1).default(50_000).describe("Chunk count above which 'auto' switches to ANN."),
    collapseVersions: z
      .boolean()
      .default(true)
      .describe(
        "When near-duplicate chunks from different version labels are retrieved (the same section in docs/v1 and docs/v2), keep only the newest (natural sort of labels) and fill the freed slots. Turn off to measure how often the archived copy wins.",
      ),
  })
  .strict();

const Answer = z
  .object({
    minConfidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.35)
      .describe("Abstain (fallback + escalation) when the reader's confidence is below this."),
    maxSentences: z.number().int().min(1).max(10).default(2).describe("Sentences the extractive reader may cite in one answer."),
    fallbackMessage: z.string().optional().describe("Text returned when abstaining. Default: a standard 'I don't know' + escalation message."),
  })
  .strict();

/** Retries, concurrency and rate limits of one provider (see docs/providers.md). */
const Limits = {
  maxRetries: z
    .number()
    .int()
    .min(0)
    .default(4)
    .describe("Retries on 429, 5xx, timeouts and network errors (exponential backoff with jitter, honouring Retry-After). Auth and validation errors are never retried."),
  maxConcurrency: z.number().int().min(1).default(4).describe("Requests in flight at once to this provider."),
  requestsPerMinute: z.number().min(0).optional().describe("Request rate limit (token bucket); unset = unlimited."),
  tokensPerMinute: z.number().min(0).optional().describe("Token rate limit (input + estimated output tokens per minute); unset = unlimited."),
};

const Provider = z
  .object({
    kind: z
      .enum(["openai", "anthropic"])
      .default("openai")
      .describe("Protocol the endpoint speaks: 'openai' (chat completions: OpenAI, vLLM, llama.cpp server, LM Studio, Together, Ollama /v1) or 'anthropic' (Messages API)."),
    baseUrl: z.string().url().describe("Base URL, e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1, https://api.anthropic.com."),
    apiKeyEnv: z.string().default("OPENAI_API_KEY").describe("Environment variable that holds the API key (may be unset for local servers)."),
    timeoutMs: z.number().int().min(1).default(60_000).describe("Per-request timeout."),
    ...Limits,
  })
  .strict();

/** Limits for the built-in `openai:`, `anthropic:` and `ollama:` kinds (named providers carry their own). */
const BuiltinLimits = z
  .object({
    timeoutMs: z.number().int().min(1).default(60_000).describe("Per-request timeout."),
    ...Limits,
  })
  .strict();

const Models = z
  .object({
    generator: z
      .string()
      .default("offline:extractive")
      .describe(
        "Generator id: 'offline:extractive' (no key, no network), 'openai:<model>', 'anthropic:<model>', 'ollama:<model>', 'openai-compatible:<provider>/<model>' (<provider> under `providers`), 'llamacpp:<file.gguf>[?lora=<adapter.gguf>]'.",
      ),
    judge: z
      .string()
      .optional()
      .describe("Model id of the LLM judge (same forms as `generator`). Unset = deterministic scorers only. Judging with the model under test is refused unless --allow-self-judge."),
    embedder: z
      .string()
      .default("none")
      .describe(
        "Embedder for dense/hybrid retrieval: 'none', 'hashing[:<dims>]' (deterministic baseline; measured below BM25, not a default), 'onnx:<folder>' (local transformers.js model, offline), 'gguf:<file>' (node-llama-cpp), 'openai:<model>', 'ollama:<model>', 'openai-compatible:<provider>/<model>'.",
      ),
    providers: z.record(z.string(), Provider).default({}).describe("Named endpoints (also used by API embedders and rerankers)."),
    limits: BuiltinLimits.default(BuiltinLimits.parse({})).describe("Timeout, retries, concurrency and rate limits of the built-in openai:, anthropic: and ollama: kinds."),
    systemPrompt: z
      .string()
      .optional()
      .describe("System prompt for LLM generators: the strong prompt baseline of the prompt-only variant."),
  })
  .strict();

const LongContext = z
  .object({
    budgetTokens: z
      .union([z.number().int().min(256), z.literal("auto")])
      .default("auto")
      .describe(
        "Context budget of the long-context variant; the corpus is packed newest version first and truncated to it (reported). 'auto' = the generator's context window minus outputReserveTokens (32,000 for generators with an unknown window, and for offline:extractive).",
      ),
    outputReserveTokens: z.number().int().min(0).default(4_096).describe("Tokens kept free for the prompt scaffold and the answer when budgetTokens is 'auto'."),
  })
  .strict();

const Cache = z
  .object({
    enabled: z.boolean().default(true).describe("Content-addressed on-disk cache of model responses (key: provider, model, parameters, messages). A cached call costs nothing and is reported as a hit. --no-cache turns it off for one run."),
    dir: z.string().default(".ragtune/cache").describe("Cache folder, relative to the project."),
  })
  .strict();

export const JUDGE_NAMES = ["correctness", "faithfulness", "relevance", "tone", "policy"] as const;
export type JudgeName = (typeof JUDGE_NAMES)[number];

const Evaluate = z
  .object({
    judges: z
      .array(z.enum(JUDGE_NAMES))
      .default([...JUDGE_NAMES])
      .describe("LLM-judged scorers to run when `models.judge` is set; each runs only on the cases it applies to (docs/judges.md)."),
    concurrency: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe("Cases evaluated at once (model calls overlap; each provider's maxConcurrency and rate limits still apply)."),
    repeats: z.number().int().min(1).max(20).default(1).describe("Runs of generation and judging per case (--repeats); pass^N and agreement are reported when > 1."),
    bootstrapSamples: z.number().int().min(100).default(2_000).describe("Bootstrap resamples for confidence intervals and paired score comparisons."),
    alpha: z.number().gt(0).lt(1).default(0.05).describe("Significance level of the paired comparisons (95% intervals at 0.05)."),
    seed: z.number().int().default(1).describe("Seed of the bootstrap, so reports are reproducible."),
    maxCostUsd: z.number().min(0).optional().describe("Refuse or stop a run whose cost would exceed this (--max-cost)."),
  })
  .strict();

const FinetuneDataset = z
  .object({
    task: z.enum(["classify", "qa", "extract"]).describe("What the examples teach: classify (input → label), qa (question → answer), extract (text → JSON)."),
    file: z.string().describe("Labelled CSV or JSONL file, relative to the project."),
    inputField: z.string().default("input").describe("Column / key holding the input text."),
    outputField: z.string().default("output").describe("Column / key holding the expected output (label, answer or JSON)."),
    trainer: z
      .enum(["classifier", "memoriser", "openai", "command"])
      .optional()
      .describe("Trainer (default: classifier for classify, memoriser for qa; openai or command for anything else)."),
    settings: z.record(z.string(), z.unknown()).default({}).describe("Trainer settings, recorded with the model."),
  })
  .strict();

const Finetune = z
  .object({
    datasets: z.array(FinetuneDataset).default([]).describe("Labelled data `ragtune finetune train` (and the demo) trains on, one model per entry."),
    decontaminate: z.boolean().default(true).describe("Drop training examples that duplicate (or nearly duplicate) eval suite inputs, so fine-tuned variants are never scored on their training data."),
  })
  .strict();

const Constraints = z
  .object({
    knowledgeChange: z
      .enum(["never", "yearly", "monthly", "weekly", "daily"])
      .default("monthly")
      .describe("How often the underlying knowledge changes."),
    citationsRequired: z.boolean().default(false).describe("Answers must cite their sources."),
    p95LatencyMs: z.number().min(1).optional().describe("p95 latency target per query, in milliseconds."),
    queriesPerDay: z.number().min(0).default(1000).describe("Expected production volume."),
    monthlyBudgetUsd: z.number().min(0).optional().describe("Monthly budget for inference (and training amortised)."),
    labelledExamples: z.number().int().min(0).default(0).describe("Labelled examples available for fine-tuning."),
    externalDataStoreAllowed: z
      .boolean()
      .default(true)
      .describe("Compliance: may documents be kept in an external/vector store at query time?"),
  })
  .strict();

const Price = z
  .object({
    inputPerMTok: z.number().min(0).describe("USD per 1M input tokens."),
    outputPerMTok: z.number().min(0).describe("USD per 1M output tokens."),
  })
  .strict();

const Pricing = z
  .object({
    asOf: z.string().default("2026-11-01").describe("Date the prices were checked."),
    models: z.record(z.string(), Price).default({}).describe("Prices per generator id; overrides the built-in table."),
    referenceModel: z
      .string()
      .default("openai:gpt-4.1-mini")
      .describe("Model used to project the cost of offline runs as if they were served by an LLM."),
    fineTuneTrainingUsd: z.number().min(0).default(50).describe("One-off cost of a fine-tuning run, amortised over 12 months in the cost model."),
    vectorStoreMonthlyUsd: z.number().min(0).default(25).describe("Fixed monthly cost of running retrieval infrastructure."),
  })
  .strict();

export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().default("ragtune-project").describe("Project name shown in reports."),
    sources: z.array(Source).min(1).describe("Document sources to ingest."),
    chunking: Chunking.default(Chunking.parse({})),
    retrieval: Retrieval.default(Retrieval.parse({})),
    answer: Answer.default(Answer.parse({})),
    models: Models.default(Models.parse({})),
    longContext: LongContext.default(LongContext.parse({})),
    cache: Cache.default(Cache.parse({})),
    finetune: Finetune.default(Finetune.parse({})),
    evaluate: Evaluate.default(Evaluate.parse({})),
    suite: z.string().default("suite.yaml").describe("Path of the evaluation suite (YAML or JSONL)."),
    variants: z
      .array(z.enum(VARIANT_NAMES))
      .min(1)
      .default(["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"])
      .describe("Variants to evaluate. 'fine-tuned' and 'hybrid' run only when a trained model exists."),
    constraints: Constraints.default(Constraints.parse({})),
    pricing: Pricing.default(Pricing.parse({})),
    storeDir: z.string().default(".ragtune").describe("Folder for the index database."),
    runsDir: z.string().default("runs").describe("Folder for evaluation runs."),
  })
  .strict();

export type RagtuneConfig = z.infer<typeof ConfigSchema>;
export type Constraints = RagtuneConfig["constraints"];
