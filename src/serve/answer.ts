/**
 * One answer or search through the project's pipeline, the way `ragtune ask` / `ragtune search`
 * do it (pipeline/ answerContext → the project's generator), so the server and the CLI answer a
 * question identically. Other variants (hybrid, fine-tuned, …) run through pipeline/ buildVariants,
 * exactly as evaluation runs them.
 */
import type { IndexVersions } from "../store/versions.ts";
import { DEFAULT_SYSTEM_PROMPT, answerContext, buildVariants, corpusStats, retrievalFilter, retrieveForAnswer, type Project, type Variant } from "../pipeline/index.ts";
import type { ContextChunk, GenerateResult } from "../models/index.ts";
import type { Hit } from "../retrieve/index.ts";
import type { ChunkFilter } from "../store/index.ts";
import { hasSnapshots } from "../store/index.ts";
import type { VariantName } from "../config/index.ts";
import { answerSupport } from "../evaluate/metrics.ts";
import { costUsd, priceFor } from "../models/prices.ts";
import { InputError } from "../util/errors.ts";
import type { ServedVersion } from "./schemas.ts";

export interface Answered {
  result: GenerateResult;
  hits: Hit[];
  context: ContextChunk[];
  /** evaluate/metrics.ts answerSupport ratio; undefined when there was nothing to check. */
  support: number | undefined;
  unsupported: boolean;
  costUsd: number | null;
  /** The reranker's input and output when one reordered the candidates (traces' RERANKER span). */
  rerank?: { model: string; input: Hit[]; output: Hit[]; start: number; end: number };
  /** Wall-clock spans of the stages (epoch ms, sub-ms precision), for traces; one span when a variant runs both. */
  timings: { retrieval: [number, number]; generation: [number, number] };
}

/** Epoch milliseconds with sub-millisecond precision. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface AnswerOptions {
  k?: number;
  filter?: ChunkFilter;
  /** Called with each piece of answer text as the generator produces it (streaming). */
  onText?: (delta: string) => void;
}

/** The pipeline a server answers with: the project plus the chosen variant, built once. */
/** The newest recorded index version with this content (null when none; a bad versions file is not the request's fault). */
function versionOf(versions: IndexVersions, fingerprint: string): number | null {
  try {
    return versions.versionOf(fingerprint);
  } catch {
    return null;
  }
}

export class AnswerEngine {
  private readonly variantRunner: Variant | undefined;
  private readonly promoted: string[];
  private versionCache: { generation: number; version: ServedVersion } | undefined;

  constructor(
    readonly project: Project,
    readonly variant: VariantName,
  ) {
    if (variant === "rag") {
      this.promoted = [];
    } else {
      const built = buildVariants(project, [variant]);
      const missing = built.notConfigured.find((n) => n.name === variant);
      if (missing) throw new InputError(`--variant ${variant} cannot be served: ${missing.reason}`);
      this.variantRunner = built.variants[0];
      this.promoted = built.finetuned.map((m) => m.id);
    }
  }

  /** True when `k` and `filters` apply (the rag variant retrieves per request). */
  get takesRetrievalOptions(): boolean {
    return this.variant === "rag";
  }

  generatorId(): string {
    return this.project.generatorId();
  }

  /** The index and model being served; the index part is recomputed only when the store changes. */
  served(): ServedVersion {
    const generation = this.project.store.generation();
    if (!this.versionCache || this.versionCache.generation !== generation) {
      const store = this.project.store;
      const index = hasSnapshots(store)
        ? store.identity().identity
        : { generation, fingerprint: "unknown", documents: store.documents().length, chunks: store.chunks().length };
      this.versionCache = {
        generation,
        version: {
          index: { generation: index.generation, fingerprint: index.fingerprint, documents: index.documents, chunks: index.chunks, version: versionOf(this.project.indexVersions(), index.fingerprint) },
          model: { variant: this.variant, generator: this.generatorId(), promoted: this.promoted },
        },
      };
    }
    return this.versionCache.version;
  }

  async answer(question: string, opts: AnswerOptions = {}): Promise<Answered> {
    const { project } = this;
    const { config } = project;
    let result: GenerateResult;
    let hits: Hit[];
    let context: ContextChunk[];
    const started = epochMs();
    let retrieved = started;
    let rerank: Answered["rerank"];
    if (this.variantRunner) {
      const out = await this.variantRunner.run({ task: "qa", input: question });
      ({ result, retrieved: hits, context } = out);
    } else {
      const filter = opts.filter ?? retrievalFilter(config.retrieval);
      const ctx = await answerContext(project, question, opts.k ?? config.retrieval.k, filter, {
        onRerank: (r) => (rerank = { model: r.reranker, input: r.input, output: r.output, start: r.start, end: r.end }),
      });
      ({ hits, context } = ctx);
      retrieved = epochMs();
      result = await project.generator().generate({
        task: "qa",
        input: question,
        context,
        corpus: corpusStats(project),
        ...(ctx.preferVersions.length > 0 ? { preferVersions: ctx.preferVersions } : {}),
        system: config.models.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
        minConfidence: config.answer.minConfidence,
        ...(opts.onText ? { onText: opts.onText } : {}),
      });
    }
    const generated = epochMs();
    const support = answerSupport("qa", result, context);
    const price = priceFor(result.generator, config.pricing.models) ?? priceFor(this.generatorId(), config.pricing.models);
    return {
      result,
      hits,
      context,
      support: support?.ratio,
      unsupported: support !== undefined && support.unsupportedSentences.length > 0,
      costUsd: result.cached ? 0 : price ? costUsd(result.usage, price) : null,
      ...(rerank ? { rerank } : {}),
      timings: this.variantRunner ? { retrieval: [started, generated], generation: [started, generated] } : { retrieval: [started, retrieved], generation: [retrieved, generated] },
    };
  }

  async search(query: string, k?: number): Promise<{ retriever: string; hits: Hit[] }> {
    const { project } = this;
    const retrieval = await project.retrieval();
    const hits = await retrieveForAnswer(project, query, k ?? project.config.retrieval.k, retrievalFilter(project.config.retrieval));
    return { retriever: retrieval.name, hits };
  }

  /** Non-empty index: what /readyz checks. */
  ready(): { ok: true } | { ok: false; reason: string } {
    return this.served().index.documents > 0 ? { ok: true } : { ok: false, reason: "the index is empty — run `ragtune ingest` first" };
  }
}
