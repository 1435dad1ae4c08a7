/**
 * The offline *prompt baseline* for classification: what a model gets from a prompt, measured
 * without one, so "fine-tuned vs strong prompt" has an offline number too.
 *
 *   few-shot   (used when labelled examples exist) — putting examples in a prompt lets a model copy
 *              the label of the most similar ones. Here: the k = 5 nearest training examples by
 *              tf-idf cosine (word unigrams + bigrams), each voting for its label with its
 *              similarity; confidence = the winner's share of the votes.
 *   zero-shot  (no examples, only label names and optional descriptions) — a prompt listing the
 *              labels. Here: each label is a document (its name split on `_`, `-`, `/`, spaces
 *              and camelCase, plus its description); the text goes to the most similar label by
 *              tf-idf cosine over word and character n-grams (so "refund" still meets "refunds");
 *              confidence = softmax of the similarities (temperature 0.1).
 *
 * Neither learns weights: they are the "no training" reference a trained classifier must beat.
 */
import { Vectorizer, type SparseVector } from "./classifier/features.ts";

export interface LabelInfo {
  name: string;
  description?: string;
}

export interface BaselinePrediction {
  label: string;
  confidence: number;
}

export interface PromptBaseline {
  /** "few-shot-knn(k=5)" or "zero-shot-descriptions". */
  name: string;
  predict(text: string): BaselinePrediction;
}

/** Nearest examples used by the few-shot baseline. 5: a typical number of examples in a prompt. */
export const FEW_SHOT_K = 5;

/**
 * Few-shot k-NN over `train` when it has examples, else zero-shot over `labels` (required then).
 * With examples, only labels seen in them can be predicted — like a prompt whose examples cover
 * those labels; `labels` is then unused.
 */
export function promptBaseline(train: readonly { text: string; label: string }[], labels?: readonly LabelInfo[]): PromptBaseline {
  if (train.length > 0) return fewShot(train, FEW_SHOT_K);
  if (!labels || labels.length === 0) throw new Error("the prompt baseline needs labelled examples or label names");
  return zeroShot(labels);
}

/** Inverted index over sparse vectors: cosine similarity of a query with every document. */
class SparseIndex {
  private readonly postings: Map<number, { docs: number[]; weights: number[] }> = new Map();
  constructor(readonly size: number, vectors: SparseVector[]) {
    vectors.forEach((v, d) => {
      for (let k = 0; k < v.indices.length; k++) {
        const f = v.indices[k];
        let p = this.postings.get(f);
        if (!p) this.postings.set(f, (p = { docs: [], weights: [] }));
        p.docs.push(d);
        p.weights.push(v.values[k]);
      }
    });
  }
  similarities(q: SparseVector): Float64Array {
    const sims = new Float64Array(this.size);
    for (let k = 0; k < q.indices.length; k++) {
      const p = this.postings.get(q.indices[k]);
      if (!p) continue;
      const v = q.values[k];
      for (let j = 0; j < p.docs.length; j++) sims[p.docs[j]] += v * p.weights[j];
    }
    return sims;
  }
}

export function fewShot(train: readonly { text: string; label: string }[], k = FEW_SHOT_K): PromptBaseline {
  const vectorizer = Vectorizer.fit(
    train.map((e) => e.text),
    { wordNgrams: 2, charNgrams: null, minDf: 1 },
  );
  const index = new SparseIndex(
    train.length,
    train.map((e) => vectorizer.transform(e.text)),
  );
  const majority = mostCommon(train.map((e) => e.label));
  return {
    name: `few-shot-knn(k=${k})`,
    predict(text: string): BaselinePrediction {
      const sims = index.similarities(vectorizer.transform(text));
      const top = topK(sims, k);
      const votes = new Map<string, number>();
      let total = 0;
      for (const i of top) {
        if (sims[i] <= 0) continue;
        votes.set(train[i].label, (votes.get(train[i].label) ?? 0) + sims[i]);
        total += sims[i];
      }
      if (total === 0) return { label: majority, confidence: 0 };
      let best = "";
      let bestVote = -1;
      // Ties go to the label of the nearer example (insertion order of `votes` follows `top`).
      for (const [label, v] of votes) if (v > bestVote) [best, bestVote] = [label, v];
      return { label: best, confidence: bestVote / total };
    },
  };
}

/**
 * The few-shot baseline over sentence embeddings instead of tf-idf: the k nearest training
 * examples by cosine of their (unit-length) embeddings vote with their similarity, as in `fewShot`.
 * A stronger "prompt" reference for the fine-tune gate when an encoder is available (a prompt
 * built by semantic example selection); docs/classifier.md has its numbers.
 */
export function fewShotEmbedded(train: readonly { text: string; label: string; vector?: Float32Array }[], k = FEW_SHOT_K, encoder = "embeddings"): EmbeddedBaseline {
  if (train.length === 0) throw new Error("the embedded few-shot baseline needs labelled examples");
  const dims = train[0].vector?.length ?? 0;
  const matrix = new Float32Array(train.length * dims);
  train.forEach((e, i) => {
    if (!e.vector || e.vector.length !== dims || dims === 0) throw new Error(`few-shot baseline: training example ${i + 1} has no embedding${dims ? ` of ${dims} dimensions` : ""}`);
    matrix.set(e.vector, i * dims);
  });
  const majority = mostCommon(train.map((e) => e.label));
  return {
    name: `few-shot-knn(k=${k}, ${encoder})`,
    predict(vector: Float32Array): BaselinePrediction {
      if (vector.length !== dims) throw new Error(`few-shot baseline: expected a ${dims}-dimensional embedding, got ${vector.length}`);
      const sims = new Float64Array(train.length);
      for (let i = 0; i < train.length; i++) {
        let s = 0;
        const o = i * dims;
        for (let j = 0; j < dims; j++) s += matrix[o + j] * vector[j];
        sims[i] = s;
      }
      const top = topK(sims, k);
      const votes = new Map<string, number>();
      let total = 0;
      for (const i of top) {
        votes.set(train[i].label, (votes.get(train[i].label) ?? 0) + sims[i]);
        total += sims[i];
      }
      if (total <= 0) return { label: majority, confidence: 0 };
      let best = "";
      let bestVote = -1;
      for (const [label, v] of votes) if (v > bestVote) [best, bestVote] = [label, v];
      return { label: best, confidence: bestVote / total };
    },
  };
}

/** A baseline that reads a text's embedding (fewShotEmbedded). */
export interface EmbeddedBaseline {
  name: string;
  predict(vector: Float32Array): BaselinePrediction;
}

/** Words of a label name: `card_not_working` → "card not working", `lostCard` → "lost card". */
export function labelWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_\-/.:]+/g, " ")
    .toLowerCase();
}

export function zeroShot(labels: readonly LabelInfo[]): PromptBaseline {
  const docs = labels.map((l) => `${labelWords(l.name)} ${l.description ?? ""}`);
  const vectorizer = Vectorizer.fit(docs, { wordNgrams: 1, charNgrams: [3, 5], minDf: 1 });
  const vecs = docs.map((d) => vectorizer.transform(d));
  const index = new SparseIndex(labels.length, vecs);
  const T = 0.1;
  return {
    name: "zero-shot-descriptions",
    predict(text: string): BaselinePrediction {
      const sims = index.similarities(vectorizer.transform(text));
      let best = 0;
      for (let i = 1; i < sims.length; i++) if (sims[i] > sims[best]) best = i;
      let sum = 0;
      for (let i = 0; i < sims.length; i++) sum += Math.exp((sims[i] - sims[best]) / T);
      return { label: labels[best].name, confidence: 1 / sum };
    },
  };
}

function topK(sims: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < sims.length; i++) {
    if (sims[i] <= 0) continue;
    if (best.length < k) {
      best.push(i);
      best.sort((a, b) => sims[b] - sims[a] || a - b);
    } else if (sims[i] > sims[best[k - 1]]) {
      best[k - 1] = i;
      best.sort((a, b) => sims[b] - sims[a] || a - b);
    }
  }
  return best;
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  for (const [v, n] of counts) if (n > (counts.get(best) ?? 0)) best = v;
  return best;
}
