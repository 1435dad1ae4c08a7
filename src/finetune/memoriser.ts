/**
 * The nearest-example memoriser — clearly named as what it is. It stands in, offline, for
 * "fine-tuning a model to inject knowledge": trained on question → answer pairs, it answers a new
 * question with the answer of the most similar question it has seen (tf-idf cosine over the
 * retrieval tokenizer's stemmed content tokens), and says "I don't know" below a similarity
 * threshold. That reproduces, measurably, what the framework warns about:
 *
 * - it answers questions it has seen (or close paraphrases) and nothing else;
 * - it cannot cite: its knowledge has no source;
 * - it goes stale: an answer learned from last year's docs stays last year's answer after the
 *   documents change, until it is retrained.
 *
 * It is not a language model and never pretends to be one: its generator id says "memoriser".
 */
import { contentTokens } from "../retrieve/tokenize.ts";
import type { TrainingExample } from "./index.ts";

export const MEMORISER_FORMAT = "ragtune-memoriser";
export const MEMORISER_VERSION = 1;

export interface MemoriserOptions {
  /**
   * Minimum cosine similarity between the question and a seen question to answer (default 0.5):
   * below it the memoriser abstains. Paraphrases of a seen question score 0.5–0.9 with this
   * tokenizer; unrelated questions on the same product score under 0.35.
   */
  threshold?: number;
}

export interface MemorisedAnswer {
  answer: string;
  /** Cosine similarity to the matched training question, 0..1. */
  similarity: number;
  /** The training question it matched (evidence for the failure labels and the report). */
  matched: string;
  /** Source of the training example (file:line). */
  source: string;
}

interface Entry {
  question: string;
  answer: string;
  source: string;
}

/** Serialised form (`memoriser.json`). */
export interface MemoriserJson {
  format: typeof MEMORISER_FORMAT;
  version: number;
  threshold: number;
  examples: Entry[];
}

export class NearestExampleMemoriser {
  readonly threshold: number;
  private readonly entries: Entry[];
  private readonly vectors: Map<string, number>[];
  private readonly idf: Map<string, number>;

  constructor(examples: readonly Pick<TrainingExample, "input" | "output" | "source">[], options: MemoriserOptions = {}) {
    this.threshold = options.threshold ?? 0.5;
    if (!(this.threshold >= 0 && this.threshold <= 1)) throw new Error(`memoriser threshold must be in [0, 1], got ${this.threshold}`);
    this.entries = examples.map((e) => ({ question: e.input, answer: e.output, source: e.source }));
    const docs = this.entries.map((e) => contentTokens(e.question));
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
    const n = docs.length;
    this.idf = new Map([...df].map(([t, f]) => [t, Math.log(1 + n / f)]));
    this.vectors = docs.map((d) => this.vector(d));
  }

  get size(): number {
    return this.entries.length;
  }

  private vector(tokens: string[]): Map<string, number> {
    const tf = new Map<string, number>();
    for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
    const out = new Map<string, number>();
    let norm = 0;
    for (const [t, c] of tf) {
      // Unseen terms get the largest idf: a question full of words never seen is far from everything.
      const w = (1 + Math.log(c)) * (this.idf.get(t) ?? Math.log(1 + Math.max(1, this.entries.length)));
      out.set(t, w);
      norm += w * w;
    }
    norm = Math.sqrt(norm) || 1;
    for (const [t, w] of out) out.set(t, w / norm);
    return out;
  }

  /** The closest seen question and its similarity (undefined when nothing is learned). */
  nearest(question: string): MemorisedAnswer | undefined {
    const q = this.vector(contentTokens(question));
    let best = -1;
    let bestSim = 0;
    this.vectors.forEach((v, i) => {
      let dot = 0;
      const [small, large] = q.size < v.size ? [q, v] : [v, q];
      for (const [t, w] of small) dot += w * (large.get(t) ?? 0);
      if (dot > bestSim) {
        bestSim = dot;
        best = i;
      }
    });
    if (best < 0) return undefined;
    const e = this.entries[best];
    return { answer: e.answer, similarity: bestSim, matched: e.question, source: e.source };
  }

  /** The answer when the nearest seen question is at least `threshold` similar; else undefined. */
  answer(question: string): MemorisedAnswer | undefined {
    const hit = this.nearest(question);
    return hit && hit.similarity >= this.threshold ? hit : undefined;
  }

  toJSON(): MemoriserJson {
    return { format: MEMORISER_FORMAT, version: MEMORISER_VERSION, threshold: this.threshold, examples: this.entries };
  }

  static fromJSON(json: unknown, where = "memoriser"): NearestExampleMemoriser {
    const j = json as Partial<MemoriserJson>;
    if (j?.format !== MEMORISER_FORMAT) throw new Error(`${where}: not a ragtune memoriser (format ${JSON.stringify(j?.format)})`);
    if (j.version !== MEMORISER_VERSION) throw new Error(`${where}: memoriser format version ${j.version} is not supported (expected ${MEMORISER_VERSION})`);
    if (!Array.isArray(j.examples)) throw new Error(`${where}: 'examples' is missing`);
    return new NearestExampleMemoriser(
      j.examples.map((e) => ({ input: e.question, output: e.answer, source: e.source })),
      { threshold: j.threshold },
    );
  }
}
