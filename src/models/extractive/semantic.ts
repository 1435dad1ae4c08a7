/**
 * The offline reader's optional semantic signal (`answer.semantic: use-lite`): the cosine similarity
 * between the question and a candidate sentence, from a sentence encoder (an `Embedder`).
 *
 * - Selection (off by default: SEMANTIC_SELECTION_WEIGHT). The reader ranks every unit lexically first; only the top `candidates` are embedded
 *   (with the question, in one batch) and get `selectionWeight · max(0, cos)` added to their score.
 *   A sentence outside the lexical top few is not rescued: embedding every unit of a long context
 *   would cost ~20 ms a sentence.
 * - Abstention. The support becomes (1 − confidenceWeight)·support + confidenceWeight·g(cos of the
 *   answer sentence), g mapping [simFloor, simFull] linearly onto [0, 1] (clamped): a question whose
 *   best sentence is semantically far from it loses confidence, one phrased differently from its
 *   answer gains some.
 *
 * Vectors are kept per text in a bounded in-process map, so a sentence quoted again (the same help
 * page retrieved for many questions, the serve path's repeated questions) is embedded once.
 *
 * The default weights were chosen on the tune half of CLAP NQ dev (bench/reader.ts --semantic); on
 * the held-out half and the real-docs suites they lose to the lexical reader, which is why
 * `answer.semantic` defaults to none (docs/reader.md "Semantic signal").
 */
import type { Embedder } from "../index.ts";

export interface ReaderSemanticOptions {
  /** Sentence encoder; vectors must be L2-normalised (every ragtune Embedder's are). */
  encoder: Pick<Embedder, "id" | "embed">;
  /** Weight of cos(question, sentence) added to a candidate's score (default SEMANTIC_SELECTION_WEIGHT). */
  selectionWeight?: number;
  /** Share of the support taken from the answer sentence's similarity (default SEMANTIC_CONFIDENCE_WEIGHT). */
  confidenceWeight?: number;
  /** Similarity that counts as no support at all (default SEMANTIC_SIM_FLOOR). */
  simFloor?: number;
  /** Similarity that counts as full support (default SEMANTIC_SIM_FULL). */
  simFull?: number;
  /** Lexical top units embedded per answer (default SEMANTIC_CANDIDATES). */
  candidates?: number;
}

export const SEMANTIC_CANDIDATES = 8;
/**
 * 0: on the CLAP NQ tune half no weight from 0.1 to 1.2 picked better sentences than the lexical
 * score alone (73.0% at 0 and 1.2, 71.7–72.4% between), so by default the encoder does not reorder.
 */
export const SEMANTIC_SELECTION_WEIGHT = 0;
/** Best overall accuracy at 0.35 on the tune half (68.2% vs 64.9% lexical); it did not hold on the held-out half. */
export const SEMANTIC_CONFIDENCE_WEIGHT = 0.5;
export const SEMANTIC_SIM_FLOOR = 0.2;
export const SEMANTIC_SIM_FULL = 0.7;
/** Texts whose vectors are kept (512 floats each: ~8 MB). */
const VECTOR_CACHE_SIZE = 4096;

/** A scored unit, as far as the semantic signal needs it. */
interface Candidate {
  unit: { plain: string };
  order: number;
  score: number;
  base: number;
}

export class SemanticSignal {
  readonly encoderId: string;
  readonly selectionWeight: number;
  readonly confidenceWeight: number;
  readonly simFloor: number;
  readonly simFull: number;
  readonly candidates: number;
  private readonly encoder: ReaderSemanticOptions["encoder"];
  private readonly vectors = new Map<string, Float32Array>();

  constructor(options: ReaderSemanticOptions) {
    this.encoder = options.encoder;
    this.encoderId = options.encoder.id;
    this.selectionWeight = options.selectionWeight ?? SEMANTIC_SELECTION_WEIGHT;
    this.confidenceWeight = options.confidenceWeight ?? SEMANTIC_CONFIDENCE_WEIGHT;
    this.simFloor = options.simFloor ?? SEMANTIC_SIM_FLOOR;
    this.simFull = options.simFull ?? SEMANTIC_SIM_FULL;
    this.candidates = options.candidates ?? SEMANTIC_CANDIDATES;
    if (!(this.simFull > this.simFloor)) throw new Error(`reader semantic signal: simFull (${this.simFull}) must be above simFloor (${this.simFloor})`);
  }

  /** Vectors for `texts`, embedding only the ones not seen before (in one batch). */
  private async vectorsOf(texts: string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((t) => !this.vectors.has(t)))];
    if (missing.length > 0) {
      const fresh = await this.encoder.embed(missing, "document");
      if (fresh.length !== missing.length) throw new Error(`${this.encoderId} returned ${fresh.length} vectors for ${missing.length} texts`);
      missing.forEach((t, i) => this.vectors.set(t, fresh[i]));
      // Oldest first: a Map iterates in insertion order.
      for (const key of this.vectors.keys()) {
        if (this.vectors.size <= VECTOR_CACHE_SIZE) break;
        this.vectors.delete(key);
      }
    }
    return texts.map((t) => this.vectors.get(t)!);
  }

  /** cos(question, text) for each text. */
  async similarities(question: string, texts: string[]): Promise<number[]> {
    const [q, ...rest] = await this.vectorsOf([question, ...texts]);
    return rest.map((v) => {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += q[i] * v[i];
      return dot;
    });
  }

  /**
   * Adds the similarity bonus to the lexical top candidates of `scored` (sorted best first) and
   * sorts again, keeping the lexical order on ties. Returns each rescored unit's similarity.
   */
  async rescore<S extends Candidate>(question: string, scored: S[]): Promise<Map<S["unit"], number>> {
    // Nothing to reorder: only the answer sentence is embedded, for the confidence.
    if (this.selectionWeight === 0) return new Map();
    const top = scored.slice(0, this.candidates);
    const sims = await this.similarities(question, top.map((s) => s.unit.plain));
    const similarity = new Map<S["unit"], number>();
    top.forEach((s, i) => {
      similarity.set(s.unit, sims[i]);
      const bonus = this.selectionWeight * Math.max(0, sims[i]);
      s.score += bonus;
      s.base += bonus;
    });
    scored.sort((a, b) => b.score - a.score || a.order - b.order);
    return similarity;
  }

  /** The support blended with the answer sentence's similarity (see the notes on top). */
  blendSupport(support: number, similarity: number): number {
    const g = Math.min(1, Math.max(0, (similarity - this.simFloor) / (this.simFull - this.simFloor)));
    return (1 - this.confidenceWeight) * support + this.confidenceWeight * g;
  }
}
