/**
 * The `ragtune.yaml` schema. Every option is documented here, at its type; `npm run schema`
 * emits `schema/ragtune.schema.json` from it so editors can complete and validate the file.
 */
import { z } from "zod";
import { didYouMean } from "../util/errors.ts";
import { modelIdProblem, PROVIDER_NAME, type IdRole } from "./ids.ts";
import { priceFor } from "../models/prices.ts";

/** A non-empty string (whitespace-only counts as empty), at most `max` characters. */
const text = (max = 1_000) =>
  z
    .string()
    .max(max)
    .refine((s) => s.trim().length > 0, { message: "must not be empty" });

/**
 * A map keyed by user text, as a null-prototype object: a key such as 'constructor' or
 * 'toString' finds only what the user wrote, never an Object.prototype member.
 */
function userMap<V extends z.ZodType>(value: V, key: z.ZodType<string> = z.string()) {
  return z
    .record(key, value)
    .default({})
    .transform((r) => Object.assign(Object.create(null), r) as Record<string, z.output<V>>);
}

/** USD amounts: none of ours is above ten million. */
const usd = () => z.number().min(0).max(10_000_000);

export const VARIANT_NAMES = ["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

const Source = z
  .object({
    include: z
      .union([text(), z.array(text()).min(1)])
      .describe("Glob(s) relative to the project folder, e.g. 'docs/v2/**/*.md'."),
    exclude: z.array(text()).default([]).describe("Globs to leave out."),
    version: z
      .string()
      .max(100)
      .default("")
      .describe("Version label stored on every chunk from these files, e.g. 'v2'. Used by filters, version preference and stale-knowledge checks."),
    current: z
      .boolean()
      .default(false)
      .describe(
        "This source holds the current version: its label ranks newest, whatever the labels say (e.g. `docs/` labelled 'next' next to 'v8'). See `versionOrder` for the full order.",
      ),
    allowSymlinksInto: z
      .array(text())
      .max(100)
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
    overlapTokens: z.number().int().min(0).max(4096).default(40).describe("Tokens shared by consecutive windows of one long section (smaller than maxTokens)."),
    headingDepth: z.number().int().min(1).max(6).default(3).describe("Headings at this depth or shallower start a new section."),
    minTokens: z.number().int().min(0).max(8192).default(24).describe("Sections shorter than this are merged into the next section (at most maxTokens)."),
    maxFileBytes: z
      .number()
      .int()
      .min(1)
      .max(500_000_000)
      .default(5_000_000)
      .describe("Files larger than this are skipped with a warning (at most 500 MB: ingest holds a file in memory while it is parsed)."),
  })
  .strict()
  .refine((c) => c.overlapTokens < c.maxTokens, { message: "overlapTokens must be smaller than maxTokens", path: ["overlapTokens"] })
  .refine((c) => c.minTokens <= c.maxTokens, { message: "minTokens must not be larger than maxTokens", path: ["minTokens"] });

const Retrieval = z
  .object({
    k: z.number().int().min(1).max(200).default(5).describe("Chunks retrieved per question (and the k of hit@k / recall@k)."),
    k1: z.number().min(0).max(10).default(1.5).describe("BM25 term-frequency saturation (default chosen on HotpotQA, ClapNQ and the demo suite: bench/lexical-tuning.ts)."),
    b: z.number().min(0).max(1).default(0.75).describe("BM25 length normalisation."),
    headingBoost: z
      .number()
      .min(0)
      .max(100)
      .default(10)
      .describe("Weight of the title + heading-path field relative to the body (BM25F). Titles name what a chunk is about; 10 was best on average over three evaluation sets."),
    versions: z
      .array(text(100))
      .optional()
      .describe("Search only chunks with these version labels (e.g. ['v2']). Default: all versions."),
    paths: z
      .array(text())
      .optional()
      .describe("Search only chunks whose source path matches one of these globs (e.g. ['docs/v2/billing/**']). Default: all paths."),
    tags: z
      .array(text(200))
      .optional()
      .describe("Search only chunks whose document front matter `tags` include one of these. Default: no tag filter."),
    mode: z
      .enum(["lexical", "dense", "hybrid"])
      .default("lexical")
      .describe("lexical = BM25; dense = embeddings (needs models.embedder); hybrid = both, fused (see fusion)."),
    prf: z
      .object({
        enabled: z.boolean().default(false).describe("RM3-style pseudo-relevance feedback: expand the query with terms from the top documents."),
        docs: z.number().int().min(1).max(100).default(10).describe("Feedback documents."),
        terms: z.number().int().min(1).max(200).default(20).describe("Expansion terms added to the query."),
        weight: z.number().min(0).max(1).default(0.9).describe("Weight of the original query (1 − weight goes to expansion terms)."),
      })
      .strict()
      .default({ enabled: false, docs: 10, terms: 20, weight: 0.9 })
      .describe("Query expansion offline (RM3). Off by default: measured −0.01 nDCG@10 on HotpotQA, flat on ClapNQ, +0.01 MRR on the demo; 10/20/0.9 was the best setting on every base configuration."),
    fusion: z
      .object({
        method: z.enum(["rrf", "weighted"]).default("rrf").describe("rrf = reciprocal rank fusion; weighted = min-max normalised score fusion."),
        rrfK: z.number().min(1).max(1000).default(60).describe("RRF constant k in 1/(k + rank)."),
        lexicalWeight: z.number().min(0).max(1).default(0.5).describe("Weight of the lexical scores in weighted fusion (dense gets 1 − this)."),
        candidates: z.number().int().min(1).max(2000).default(100).describe("Candidates taken from each retriever before fusion."),
      })
      .strict()
      .default({ method: "rrf", rrfK: 60, lexicalWeight: 0.5, candidates: 100 })
      .describe("How lexical and dense results are combined in hybrid mode."),
    rerank: z
      .string()
      .max(1_000)
      .default("offline")
      .describe(
        "Reranker: 'offline' (default: BM25 score + query coverage, proximity, heading/title and phrase matches; measured +0.08 nDCG@10 on HotpotQA, +0.05 recall@5 on the demo), 'none', 'onnx:<folder>' (a local cross-encoder), 'cohere:<model>' or 'jina:<model>' (HTTP APIs; base URL and key env in models.providers).",
      ),
    rerankCandidates: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(30)
      .describe("Hits passed to the reranker (API rerankers are billed per candidate)."),
    smallToBig: z
      .boolean()
      .default(false)
      .describe("Retrieve small chunks, return their parent section (all chunks of the same heading path) as context."),
    ann: z
      .enum(["auto", "on", "off"])
      .default("auto")
      .describe("Approximate nearest-neighbour index for dense search: 'auto' uses it above annThreshold chunks, exact search below."),
    annThreshold: z.number().int().min(1).max(100_000_000).default(50_000).describe("Chunk count above which 'auto' switches to ANN."),
    collapseVersions: z
      .boolean()
      .default(true)
      .describe(
        "Keep only the preferred copy of a section that several version labels hold (the same section in docs/v8 and docs/v5, even renamed or moved): the newest by `versionOrder`, or the version a question names. The preferred copy takes the rank the section reached; freed slots refill. Turn off to measure how often an archived copy wins (docs/versions.md).",
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
    fallbackMessage: text(2_000).optional().describe("Text returned when abstaining. Default: a standard 'I don't know' + escalation message."),
    semantic: z
      .enum(["none", "use-lite"])
      .default("none")
      .describe(
        "Semantic signal of the offline reader (offline:extractive): 'use-lite' embeds the question and the answer sentence per answer with Universal Sentence Encoder lite (offline, ~30 ms CPU an answer, ~290 MB RSS, model loaded once per process) and mixes their similarity into the confidence. Independent of models.embedder. Measured in docs/reader.md: it lost on the held-out sets, so the default is none. Other generators ignore it.",
      ),
  })
  .strict();

/** `ragtune serve`: request limits and browser access of the HTTP API (docs/serve.md). */
const Serve = z
  .object({
    bodyLimitBytes: z
      .number()
      .int()
      .min(1_024)
      .max(10_000_000)
      .default(65_536)
      .describe("Largest request body accepted, in bytes; a larger one is refused with 413 before it is read in full."),
    maxQueryChars: z
      .number()
      .int()
      .min(16)
      .max(100_000)
      .default(2_000)
      .describe("Longest question / query / last chat message accepted, in characters; a longer one is refused with 422 naming the field."),
    maxK: z.number().int().min(1).max(200).default(50).describe("Largest `k` (chunks retrieved) a request may ask for; above it the request is refused with 422."),
    timeoutMs: z
      .number()
      .int()
      .min(50)
      .max(600_000)
      .default(30_000)
      .describe("Time one request may take (retrieval + answer) before the server answers 504."),
    corsOrigins: z
      .array(text(500))
      .max(100)
      .default([])
      .describe("Browser origins allowed to call the API (e.g. 'https://support.example.com'); none by default, so no page elsewhere can read answers."),
    requestLog: z.boolean().default(true).describe("Record every request in `<storeDir>/requests.db` (query, retrieved chunks, answer, latency, feedback)."),
    redactPii: z
      .boolean()
      .default(false)
      .describe("Scrub emails, phone numbers and card numbers from queries, answers and feedback before they are logged (the dataset scrubber: `[EMAIL]`, `[PHONE]`, `[CARD]`)."),
    auth: z
      .boolean()
      .default(true)
      .describe("Require an API key (`Authorization: Bearer <key>`, from `ragtune keys create`) on /v1 routes. `false` (or `ragtune serve --no-auth`) is allowed only while the server binds to a loopback address."),
    rateLimitPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(600)
      .describe("Requests per minute per API key (a key created with --rate-limit has its own); over it the answer is 429 with Retry-After."),
    monitors: z
      .object({
        maxFallbackRate: z.number().min(0).max(1).default(0.3).describe("Alert when more answers than this share fall back (\"I don't know\")."),
        maxUnsupportedRate: z.number().min(0).max(1).default(0.1).describe("Alert when more answers than this share have a claim their cited chunks do not back (evaluate/metrics.ts answerSupport)."),
        maxRetrievalMissRate: z.number().min(0).max(1).default(0.3).describe("Alert when more requests than this share retrieve nothing or fall back with retrieval (a proxy: online there is no gold source)."),
        maxCorrectionRate: z.number().min(0).max(1).default(0.2).describe("Alert when more feedback than this share is thumbs-down or a corrected answer."),
        maxErrorRate: z.number().min(0).max(1).default(0.01).describe("Alert when more requests than this share get a 5xx."),
        minCitationRate: z.number().min(0).max(1).default(0.5).describe("Alert when fewer answered requests than this share are answered (not a fallback) with at least one citation."),
        maxStaleCitationRate: z
          .number()
          .min(0)
          .max(1)
          .default(0.1)
          .describe("Alert when more cited answers than this share cite a chunk of a superseded version (a newer version label of the same document is indexed)."),
        windowMinutes: z.number().int().min(1).max(10_080).default(60).describe("Rolling window of the monitor gauges in /metrics (`ragtune_monitor_*`), in minutes."),
      })
      .strict()
      .default({ maxFallbackRate: 0.3, maxUnsupportedRate: 0.1, maxRetrievalMissRate: 0.3, maxCorrectionRate: 0.2, maxErrorRate: 0.01, minCitationRate: 0.5, maxStaleCitationRate: 0.1, windowMinutes: 60 })
      .describe("Thresholds `ragtune monitor` alerts on (p95 latency uses constraints.p95LatencyMs), and the window of the /metrics monitors."),
    traces: z
      .object({
        enabled: z.boolean().default(false).describe("Export a trace per answered request (OpenTelemetry OTLP/HTTP JSON, OpenInference attributes). Off by default."),
        endpoint: text(2_000)
          .optional()
          .describe("OTLP/HTTP traces URL, e.g. 'http://localhost:4318/v1/traces'. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + '/v1/traces', else http://localhost:4318/v1/traces."),
        headers: z.record(z.string().min(1).max(200), text(4_000)).default({}).describe("Extra HTTP headers sent with every export (e.g. an API key header of the collector)."),
        serviceName: text(200).default("ragtune").describe("The `service.name` resource attribute."),
        maxQueueSpans: z.number().int().min(1).max(1_000_000).default(2_048).describe("Spans held for export; when full, new spans are dropped and counted (ragtune_trace_spans_dropped_total), never blocking a request."),
        maxBatchSpans: z.number().int().min(1).max(100_000).default(512).describe("Spans per export request."),
        flushIntervalMs: z.number().int().min(10).max(600_000).default(2_000).describe("How often queued spans are exported."),
        timeoutMs: z.number().int().min(100).max(600_000).default(10_000).describe("Time one export request may take before it is abandoned and counted as an error."),
        maxContentChars: z.number().int().min(0).max(1_000_000).default(2_000).describe("Longest text (question, answer, document content) put in a span attribute; longer text is cut."),
      })
      .strict()
      .default({ enabled: false, headers: {}, serviceName: "ragtune", maxQueueSpans: 2_048, maxBatchSpans: 512, flushIntervalMs: 2_000, timeoutMs: 10_000, maxContentChars: 2_000 })
      .describe("OpenTelemetry trace export of `ragtune serve` (docs/serve.md#traces)."),
  })
  .strict();

/** Retries, concurrency and rate limits of one provider (see docs/providers.md). */
const Limits = {
  maxRetries: z
    .number()
    .int()
    .min(0)
    .max(20)
    .default(4)
    .describe("Retries on 429, 5xx, timeouts and network errors (exponential backoff with jitter, honouring Retry-After). Auth and validation errors are never retried."),
  maxConcurrency: z.number().int().min(1).max(256).default(4).describe("Requests in flight at once to this provider (chat and embeddings together, per process)."),
  requestsPerMinute: z
    .number()
    .gt(0)
    .max(1_000_000)
    .optional()
    .describe("Request rate limit (token bucket) shared by chat and embedding requests to this provider, across queue workers too; above 0; unset = unlimited."),
  tokensPerMinute: z
    .number()
    .gt(0)
    .max(1_000_000_000)
    .optional()
    .describe("Token rate limit per minute: chat calls are charged input + max output tokens, embedding requests the batch's input tokens; above 0; unset = unlimited."),
};

const Provider = z
  .object({
    kind: z
      .enum(["openai", "anthropic"])
      .default("openai")
      .describe("Protocol the endpoint speaks: 'openai' (chat completions: OpenAI, vLLM, llama.cpp server, LM Studio, Together, Ollama /v1) or 'anthropic' (Messages API)."),
    baseUrl: z
      .string()
      .max(2_000)
      .refine((u) => /^https?:\/\/[^\s/]+/i.test(u) && URL.canParse(u), { message: "must be an http:// or https:// URL" })
      .describe("Base URL, e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1, https://api.anthropic.com."),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "must be an environment variable name (letters, digits, _)" })
      .max(200)
      .default("OPENAI_API_KEY")
      .describe("Environment variable that holds the API key (may be unset for local servers)."),
    timeoutMs: z.number().int().min(10).max(3_600_000).default(60_000).describe("Per-request timeout in ms (10 ms to 1 hour)."),
    ...Limits,
  })
  .strict();

/** Limits for the built-in `openai:`, `anthropic:` and `ollama:` kinds (named providers carry their own). */
const BuiltinLimits = z
  .object({
    timeoutMs: z.number().int().min(10).max(3_600_000).default(60_000).describe("Per-request timeout in ms (10 ms to 1 hour)."),
    ...Limits,
  })
  .strict();

const Models = z
  .object({
    generator: z
      .string()
      .max(1_000)
      .default("offline:extractive")
      .describe(
        "Generator id: 'offline:extractive' (no key, no network), 'openai:<model>', 'anthropic:<model>', 'ollama:<model>', 'openai-compatible:<provider>/<model>' (<provider> must be declared under `providers`), 'llamacpp:<file.gguf>[?lora=<adapter.gguf>]'. The kind and the provider are checked when the config is loaded; files and API keys when the model is first used.",
      ),
    judge: z
      .string()
      .max(1_000)
      .optional()
      .describe("Model id of the LLM judge (the forms of `generator` except offline:extractive). Unset = deterministic scorers only. Judging with the model under test is refused unless --allow-self-judge."),
    embedder: z
      .string()
      .max(1_000)
      .default("none")
      .describe(
        "Embedder for dense/hybrid retrieval: 'none', 'hashing[:<dims>]' (8–65536 dims; deterministic baseline; measured below BM25, not a default), 'use-lite' (Universal Sentence Encoder lite, 512 dims, shipped in npm packages; offline, no key), 'onnx:<folder>' (local transformers.js model, offline), 'gguf:<file>' (node-llama-cpp), 'openai:<model>', 'ollama:<model>', 'openai-compatible:<provider>/<model>'. Required (not 'none') when retrieval.mode is dense or hybrid.",
      ),
    providers: userMap(Provider, z.string().regex(PROVIDER_NAME, { message: "provider names are letters, digits, '.', '_' and '-' (no '/' or ':')" }))
      .describe("Named endpoints (also used by API embedders and rerankers). Names: letters, digits, '.', '_', '-'."),
    limits: BuiltinLimits.default(BuiltinLimits.parse({})).describe("Timeout, retries, concurrency and rate limits of the built-in openai:, anthropic: and ollama: kinds."),
    systemPrompt: text(100_000)
      .optional()
      .describe("System prompt for LLM generators: the strong prompt baseline of the prompt-only variant."),
  })
  .strict();

const LongContext = z
  .object({
    budgetTokens: z
      .union([z.number().int().min(256).max(10_000_000), z.literal("auto")])
      .default("auto")
      .describe(
        "Context budget of the long-context variant; the corpus is packed newest version first and truncated to it (reported). 'auto' = the generator's context window minus outputReserveTokens (32,000 for generators with an unknown window, and for offline:extractive).",
      ),
    outputReserveTokens: z.number().int().min(0).max(1_000_000).default(4_096).describe("Tokens kept free for the prompt scaffold and the answer when budgetTokens is 'auto'."),
  })
  .strict();

const Cache = z
  .object({
    enabled: z.boolean().default(true).describe("Content-addressed on-disk cache of model responses (key: provider, model, parameters, messages). A cached call costs nothing and is reported as a hit. --no-cache turns it off for one run."),
    dir: text().default(".ragtune/cache").describe("Cache folder, relative to the project (must be a folder, or not exist yet)."),
  })
  .strict();

export const JUDGE_NAMES = ["correctness", "faithfulness", "relevance", "tone", "policy"] as const;
export type JudgeName = (typeof JUDGE_NAMES)[number];

const Evaluate = z
  .object({
    judges: z
      .array(z.enum(JUDGE_NAMES))
      .refine((a) => new Set(a).size === a.length, { message: "lists a judge twice" })
      .default([...JUDGE_NAMES])
      .describe("LLM-judged scorers to run when `models.judge` is set; each runs only on the cases it applies to (docs/judges.md)."),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe("Cases evaluated at once (model calls overlap; each provider's maxConcurrency and rate limits still apply)."),
    repeats: z.number().int().min(1).max(20).default(1).describe("Runs of generation and judging per case (--repeats); pass^N and agreement are reported when > 1."),
    bootstrapSamples: z
      .number()
      .int()
      .min(100)
      .max(100_000)
      .default(2_000)
      .describe("Bootstrap resamples for confidence intervals and paired score comparisons (100–100,000; time grows linearly)."),
    alpha: z.number().gt(0).max(0.5).default(0.05).describe("Significance level of the paired comparisons (95% intervals at 0.05); above 0, at most 0.5."),
    seed: z.number().int().min(0).max(4_294_967_295).default(1).describe("Seed of the bootstrap (a 32-bit unsigned integer), so reports are reproducible."),
    maxCostUsd: usd().optional().describe("Refuse or stop a run whose cost would exceed this (--max-cost)."),
  })
  .strict();

const FinetuneDataset = z
  .object({
    task: z.enum(["classify", "qa", "extract"]).describe("What the examples teach: classify (input → label), qa (question → answer), extract (text → JSON)."),
    file: text().describe("Labelled CSV or JSONL file, relative to the project (checked by `ragtune finetune train`)."),
    inputField: text(200).default("input").describe("Column / key holding the input text."),
    outputField: text(200).default("output").describe("Column / key holding the expected output (label, answer or JSON)."),
    trainer: z
      .enum(["classifier", "memoriser", "openai", "command"])
      .optional()
      .describe("Trainer (default: classifier for classify, memoriser for qa; extract needs openai or command). classifier learns only classify, memoriser only qa."),
    settings: userMap(z.unknown()).describe(
      "Trainer settings, recorded with the model. classifier: its options (docs/classifier.md), e.g. {encoder: use-lite} for sentence-embedding features (opt-in; ~10–20 ms a prediction).",
    ),
  })
  .strict()
  .superRefine((d, ctx) => {
    const only: Record<string, string> = { classifier: "classify", memoriser: "qa" };
    if (d.trainer && Object.hasOwn(only, d.trainer) && only[d.trainer] !== d.task) {
      ctx.addIssue({ code: "custom", path: ["trainer"], message: `trainer '${d.trainer}' learns only ${only[d.trainer]} tasks, not ${d.task}` });
    }
    if (d.task === "extract" && !d.trainer) {
      ctx.addIssue({ code: "custom", path: ["task"], message: "no in-process trainer learns extract tasks: set trainer: openai or trainer: command" });
    }
  });

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
    knowledgeChangeShare: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Share of the corpus that changes at each knowledge change; ragtune re-embeds only changed documents, so this sets the re-indexing cost."),
    citationsRequired: z.boolean().default(false).describe("Answers must cite their sources."),
    p95LatencyMs: z.number().min(1).max(3_600_000).optional().describe("p95 latency target per query, in milliseconds."),
    queriesPerDay: z.number().min(0).max(1_000_000_000).default(1000).describe("Expected production volume."),
    monthlyBudgetUsd: usd().optional().describe("Monthly budget for inference (and training amortised)."),
    labelledExamples: z.number().int().min(0).max(1_000_000_000).default(0).describe("Labelled examples available for fine-tuning."),
    externalDataStoreAllowed: z
      .boolean()
      .default(true)
      .describe("Compliance: may documents be kept in an external/vector store at query time?"),
  })
  .strict();

const Price = z
  .object({
    inputPerMTok: z.number().min(0).max(10_000).describe("USD per 1M input tokens."),
    outputPerMTok: z.number().min(0).max(10_000).describe("USD per 1M output tokens."),
    cachedInputPerMTok: z.number().min(0).max(10_000).optional().describe("USD per 1M input tokens read from the provider's prompt cache (omit when the provider has no prompt cache). Used for long-context's repeated corpus prefix."),
    cacheWritePerMTok: z.number().min(0).max(10_000).optional().describe("USD per 1M tokens written to the prompt cache (omit: a write costs inputPerMTok)."),
    trainingPerMTok: z.number().min(0).max(10_000).optional().describe("USD per 1M training tokens (examples' tokens × epochs) to fine-tune this model."),
    fineTunedInputPerMTok: z.number().min(0).max(10_000).optional().describe("USD per 1M input tokens on a fine-tuned copy of this model (omit: as inputPerMTok)."),
    fineTunedOutputPerMTok: z.number().min(0).max(10_000).optional().describe("USD per 1M output tokens on a fine-tuned copy of this model (omit: as outputPerMTok)."),
  })
  .strict();

const Pricing = z
  .object({
    asOf: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, { message: "must be a date YYYY-MM-DD" })
      .default("2026-11-01")
      .describe("Date the prices were checked (YYYY-MM-DD)."),
    models: userMap(Price, text(1_000)).describe("Prices per generator id (e.g. 'openai:gpt-4.1-mini', kind checked) or bare model name; overrides the built-in table."),
    referenceModel: z
      .string()
      .max(1_000)
      .default("openai:gpt-4.1-mini")
      .describe("LLM id used to project the cost of offline runs as if they were served by an LLM; it must have a price (built in, or under pricing.models)."),
    fineTuneTrainingUsd: usd()
      .optional()
      .describe("Declared cost of one fine-tuning run. Omit it to compute training examples × tokens per example × trainingEpochs × the reference model's trainingPerMTok."),
    trainingEpochs: z.number().int().min(1).max(100).default(3).describe("Epochs per fine-tuning run (training tokens = examples' tokens × epochs)."),
    dataPreparationUsd: usd().default(0).describe("Cost of preparing the training data for one fine-tuning run (review, labelling, cleaning), paid at every retrain."),
    retrainsPerYear: z
      .number()
      .min(0)
      .max(10_000)
      .optional()
      .describe("Fine-tuning runs per year. Default: from constraints.knowledgeChange for fine-tuned (a model that holds knowledge goes stale: yearly 1, monthly 12, weekly 52, daily 365, never 1) and 1 for hybrid (its model learns behaviour; knowledge comes from retrieval)."),
    vectorStoreMonthlyUsd: usd().default(25).describe("Fixed monthly cost of running retrieval infrastructure."),
    promptCacheTtlMinutes: z
      .number()
      .min(0)
      .max(1_440)
      .default(5)
      .describe("How long the provider keeps a prompt-cache entry without use (minutes); at low volume the cache expires between queries and long-context pays full price."),
  })
  .strict();

const PostgresVectors = z
  .object({
    search: z
      .enum(["auto", "server", "memory"])
      .default("auto")
      .describe(
        "Dense search on Postgres: 'server' asks the database per query (pgvector HNSW; without pgvector, exact over the plain table in the connection's worker), so with pgvector a replica does not hold the vectors; 'memory' loads them once per index generation and searches in process (retrieval.ann applies); 'auto' = server with pgvector, memory without (measured in docs/store-vectors.md).",
      ),
    pgvector: z
      .enum(["auto", "off"])
      .default("auto")
      .describe("'auto' uses pgvector when `CREATE EXTENSION vector` works (or it is installed); 'off' always keeps vectors in the plain table (exact search)."),
    efSearch: z.number().int().min(1).max(1_000).default(40).describe("pgvector HNSW candidate list per query (hnsw.ef_search; raised to k when k is larger). Higher = better recall, slower."),
  })
  .strict();

const StoreConfig = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("sqlite").describe("One SQLite file, `<storeDir>/index.db` (the default).") }).strict(),
    z
      .object({
        kind: z.literal("postgres").describe("A PostgreSQL database shared by several processes or replicas (docs/store.md)."),
        url: text(2_000)
          .optional()
          .describe("Connection URL, e.g. 'postgres://ragtune@db:5432/ragtune'. Prefer `urlEnv` for a URL with a password."),
        urlEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
          .optional()
          .describe("Name of an environment variable holding the connection URL (e.g. DATABASE_URL); used when `url` is not set."),
        vectors: PostgresVectors.default(PostgresVectors.parse({})).describe("Chunk vectors in the same database (docs/store-vectors.md)."),
      })
      .strict()
      .refine((s) => s.url !== undefined || s.urlEnv !== undefined, { message: "store.kind 'postgres' needs store.url or store.urlEnv" }),
  ])
  .describe(
    "Where the index (documents, chunks, term statistics, vectors) lives. The model registry, index versions and request logs stay in `<storeDir>` files for now (docs/store.md).",
  );

const ConfigObject = z
  .object({
    $schema: z.string().optional(),
    name: text(200).default("ragtune-project").describe("Project name shown in reports."),
    sources: z.array(Source).min(1).max(1_000).describe("Document sources to ingest."),
    versionOrder: z
      .array(text(200))
      .max(1_000)
      .optional()
      .describe(
        "Version labels, newest first (e.g. ['v8', 'v7', 'v5']). Retrieval keeps the newest copy of a section, the reader answers from it, long-context packs it first. Default: labels of `current: true` sources first, then natural order — 'current'/'latest'/'stable' first, then by number (v10 > v9 > 2.x), then other words, then 'legacy'/'archived'/'deprecated'.",
      ),
    chunking: Chunking.default(Chunking.parse({})),
    retrieval: Retrieval.default(Retrieval.parse({})),
    answer: Answer.default(Answer.parse({})),
    serve: Serve.default(Serve.parse({})),
    models: Models.default(Models.parse({})),
    longContext: LongContext.default(LongContext.parse({})),
    cache: Cache.default(Cache.parse({})),
    finetune: Finetune.default(Finetune.parse({})),
    evaluate: Evaluate.default(Evaluate.parse({})),
    suite: text().default("suite.yaml").describe("Path of the evaluation suite (YAML or JSONL), relative to the project; must be a file when it exists."),
    variants: z
      .array(z.enum(VARIANT_NAMES))
      .min(1)
      .refine((a) => new Set(a).size === a.length, { message: "lists a variant twice" })
      .default(["prompt-only", "long-context", "rag", "fine-tuned", "hybrid"])
      .describe("Variants to evaluate. 'fine-tuned' and 'hybrid' run only when a trained model exists."),
    constraints: Constraints.default(Constraints.parse({})),
    pricing: Pricing.default(Pricing.parse({})),
    store: StoreConfig.default({ kind: "sqlite" }),
    storeDir: text().default(".ragtune").describe("Folder for the index database, relative to the project (must be a folder, or not exist yet)."),
    runsDir: text().default("runs").describe("Folder for evaluation runs, relative to the project (must be a folder, or not exist yet)."),
  })
  .strict();

export const ConfigSchema = ConfigObject.superRefine(checkCrossFields);

/** Rules that read more than one key: model ids against the declared providers, mode vs embedder. */
function checkCrossFields(c: z.output<typeof ConfigObject>, ctx: z.RefinementCtx): void {
  const providers = new Set(Object.keys(c.models.providers));
  const id = (role: IdRole, value: string | undefined, path: (string | number)[], checkProviders = true) => {
    if (value === undefined) return;
    const problem = modelIdProblem(role, value, providers, checkProviders);
    if (problem) ctx.addIssue({ code: "custom", path, message: problem });
    return problem;
  };
  id("generator", c.models.generator, ["models", "generator"]);
  id("judge", c.models.judge, ["models", "judge"]);
  id("embedder", c.models.embedder, ["models", "embedder"]);
  id("reranker", c.retrieval.rerank, ["retrieval", "rerank"]);
  for (const key of Object.keys(c.pricing.models)) {
    if (key.includes(":")) id("reference", key, ["pricing", "models", key], false);
  }
  const ref = c.pricing.referenceModel;
  if (!id("reference", ref, ["pricing", "referenceModel"], false) && !priceFor(ref.trim(), c.pricing.models)) {
    ctx.addIssue({
      code: "custom",
      path: ["pricing", "referenceModel"],
      message: `no price known for '${ref}': add pricing.models['${ref}'] with inputPerMTok and outputPerMTok, or use a model with a built-in price (e.g. openai:gpt-4.1-mini)`,
    });
  }
  // Version order: every declared label must be one a source gives, once; `current` needs a label.
  const labels = [...new Set(c.sources.map((s) => s.version).filter(Boolean))];
  const seen = new Set<string>();
  (c.versionOrder ?? []).forEach((label, i) => {
    if (seen.has(label)) ctx.addIssue({ code: "custom", path: ["versionOrder", i], message: `'${label}' is listed twice` });
    seen.add(label);
    if (!labels.includes(label)) {
      const hint = didYouMean(label, labels);
      ctx.addIssue({
        code: "custom",
        path: ["versionOrder", i],
        message: `no source has version '${label}'${hint ? ` (did you mean '${hint}'?)` : ""}; sources' versions: ${labels.join(", ") || "(none)"}`,
      });
    }
  });
  const current = [...new Set(c.sources.filter((s) => s.current).map((s) => s.version))];
  c.sources.forEach((s, i) => {
    if (s.current && !s.version) ctx.addIssue({ code: "custom", path: ["sources", i, "current"], message: "current: true needs a version label on this source (sources[].version)" });
  });
  if (current.length > 1) {
    const i = c.sources.findIndex((s, k) => s.current && c.sources.findIndex((t) => t.current) !== k);
    ctx.addIssue({ code: "custom", path: ["sources", i, "current"], message: `sources of different versions are marked current (${current.join(", ")}): mark one, or order them with versionOrder` });
  }
  if (current.length === 1 && c.versionOrder?.length && c.versionOrder[0] !== current[0]) {
    ctx.addIssue({ code: "custom", path: ["versionOrder", 0], message: `versionOrder starts with '${c.versionOrder[0]}' but the source marked current is '${current[0]}'` });
  }
  if (c.retrieval.mode !== "lexical" && c.models.embedder.trim() === "none") {
    ctx.addIssue({
      code: "custom",
      path: ["retrieval", "mode"],
      message: `retrieval.mode is '${c.retrieval.mode}' but models.embedder is 'none' — set models.embedder (e.g. hashing, onnx:<folder>, openai:<model>) or use mode: lexical`,
    });
  }
}

export type RagtuneConfig = z.infer<typeof ConfigSchema>;
export type Constraints = RagtuneConfig["constraints"];
