/**
 * A deterministic "dense" embedder with no model: feature hashing (the hashing trick) of
 *
 * - content-token unigrams (stemmed, stop words dropped — `contentTokens`, the same normalisation
 *   as BM25, so `refunds` and `refunded` share a feature),
 * - content-token bigrams (word order and phrases: "credit card" ≠ "card credit"),
 * - character 3-grams of each token with boundary marks (`<re`, `ref`, …, `ds>`), which match
 *   spelling variants and compound pieces the stemmer does not join,
 *
 * each weighted by its group weight × (1 + ln tf), hashed with FNV-1a (+ a murmur3 finaliser) to a
 * bucket and a sign (the sign makes collisions cancel in expectation instead of piling up), and
 * L2-normalised. Default weights 1 / 0.5 / 0.5 were picked on hotpotqa-dev500 (bench/dense.ts;
 * the spread over sensible weights is ±0.01 nDCG@10, dimensions matter far more). It has no notion of synonyms and no IDF, so it is a lexical method in vector
 * form: useful for tests (deterministic, instant, offline) and as an honest baseline that a real
 * embedding model must beat (bench/dense.ts measures it).
 */
import type { Embedder } from "../index.ts";
import { contentTokens } from "../../retrieve/tokenize.ts";

export const HASHING_DEFAULT_DIMS = 384;
export const HASHING_MIN_DIMS = 8;
export const HASHING_MAX_DIMS = 65_536;

export interface HashingEmbedderOptions {
  /** Vector length (default 384). More dimensions → fewer collisions, more memory per chunk. */
  dims?: number;
  /** Weight of token unigrams (default 1). */
  unigramWeight?: number;
  /** Weight of adjacent-token bigrams (default 0.5). */
  bigramWeight?: number;
  /** Weight of each character 3-gram (default 0.5; a token of n letters yields n of them). */
  charWeight?: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
// Distinct seeds per feature group, so the unigram "ab" and the 3-gram "<ab" never share a hash by construction.
const SEED_UNIGRAM = FNV_OFFSET;
const SEED_BIGRAM = FNV_OFFSET ^ 0x5bd1e995;
const SEED_CHAR = FNV_OFFSET ^ 0x27d4eb2f;

function fnv1a(h: number, s: string, from = 0, to = s.length): number {
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

/** murmur3 fmix32: spreads FNV's weak low/high bits so bucket and sign are independent. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashingEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly unigramWeight: number;
  private readonly bigramWeight: number;
  private readonly charWeight: number;

  constructor(options: HashingEmbedderOptions = {}) {
    const dims = options.dims ?? HASHING_DEFAULT_DIMS;
    if (!Number.isInteger(dims) || dims < HASHING_MIN_DIMS || dims > HASHING_MAX_DIMS) {
      throw new Error(`hashing embedder: dims must be an integer from ${HASHING_MIN_DIMS} to ${HASHING_MAX_DIMS}, got ${dims}`);
    }
    this.dimensions = dims;
    this.unigramWeight = options.unigramWeight ?? 1;
    this.bigramWeight = options.bigramWeight ?? 0.5;
    this.charWeight = options.charWeight ?? 0.5;
    const custom = options.unigramWeight !== undefined || options.bigramWeight !== undefined || options.charWeight !== undefined;
    // The id keys stored vectors: anything that changes the vectors must change the id.
    this.id = custom
      ? `hashing:${dims}(u=${this.unigramWeight},b=${this.bigramWeight},c=${this.charWeight})`
      : `hashing:${dims}`;
  }

  async embed(texts: string[], _kind: "query" | "document"): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }

  /** Synchronous form (the embedder does no I/O); `embed` is this over a batch. */
  embedOne(text: string): Float32Array {
    // feature hash → summed tf; one Map per text keeps tf exact before the log scaling.
    const tf = new Map<number, number>();
    const add = (h: number, weightSlot: number) => {
      // Pack the group into the key so equal hashes from different groups stay separate counts.
      const key = (h >>> 0) * 4 + weightSlot;
      tf.set(key, (tf.get(key) ?? 0) + 1);
    };
    const tokens = contentTokens(text);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (this.unigramWeight) add(fnv1a(SEED_UNIGRAM, t), 0);
      if (this.bigramWeight && i > 0) {
        let h = fnv1a(SEED_BIGRAM, tokens[i - 1]);
        h ^= 0x20;
        h = Math.imul(h, FNV_PRIME);
        add(fnv1a(h, t), 1);
      }
      if (this.charWeight) {
        const padded = `<${t}>`;
        for (let j = 0; j + 3 <= padded.length; j++) add(fnv1a(SEED_CHAR, padded, j, j + 3), 2);
      }
    }
    const weights = [this.unigramWeight, this.bigramWeight, this.charWeight];
    const v = new Float32Array(this.dimensions);
    for (const [key, count] of tf) {
      const group = key % 4;
      const h = fmix((key - group) / 4);
      const w = weights[group] * (1 + Math.log(count));
      v[h % this.dimensions] += h & 0x80000000 ? -w : w;
    }
    return l2Normalize(v);
  }
}

/** Normalise in place to unit length (a zero vector stays zero) and return it. */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}
