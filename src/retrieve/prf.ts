/**
 * RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model 1, interpolated with the
 * original query, as in Anserini's RM3):
 *
 *   P(t|R)  ∝ Σ_{d ∈ top docs} P(t|d) · score(d),   P(t|d) = tf(t, d) / |d|
 *   E       = the `terms` terms with the largest P(t|R), their weights renormalised to sum 1
 *   q'(t)   = weight · q(t) + (1 − weight) · E(t),    q(t) = 1/|q| for each distinct query term
 *
 * and the collection is rescored with BM25 weighted per term: score(d) = Σ_t q'(t) · bm25(t, d).
 * tf counts both fields (body + title/headings) and |d| is their combined length. Stop words,
 * one-character terms and terms in more than half the collection are never expansion terms:
 * they carry no topic and would only dilute the query.
 */
import { STOP_WORDS, tokenize } from "./tokenize.ts";

export interface PrfOptions {
  /** Feedback documents: the top `docs` results of the original query. */
  docs: number;
  /** Expansion terms kept from the feedback model. */
  terms: number;
  /** Weight of the original query; 1 − weight goes to the expansion terms. */
  weight: number;
}

/** The index side of feedback: forward (doc → terms) access and term facts. */
export interface FeedbackSource {
  /** Calls `each(termId, count)` for every term of doc `d`; returns |d| (sum of counts). */
  docTerms(d: number, each: (term: number, count: number) => void): number;
  /** May `term` be an expansion term? */
  expandable(term: number): boolean;
  /** Term text, for a deterministic tie-break. */
  termText(term: number): string;
}

let stopTerms: Set<string> | undefined;

/** Index terms that stop words become (`does` → `doe`): never expansion terms. */
export function isStopTerm(term: string): boolean {
  stopTerms ??= new Set([...STOP_WORDS].flatMap((w) => tokenize(w)));
  return stopTerms.has(term);
}

/**
 * The RM3 query: term id → weight. `query` are the distinct original term ids; `feedback` the
 * feedback docs with their first-pass scores (best first).
 */
export function rm3Query(
  query: readonly number[],
  feedback: readonly { doc: number; score: number }[],
  source: FeedbackSource,
  options: PrfOptions,
): Map<number, number> {
  const out = new Map<number, number>();
  const qWeight = query.length > 0 ? 1 / query.length : 0;
  for (const t of query) out.set(t, options.weight * qWeight);
  const totalScore = feedback.reduce((s, f) => s + Math.max(f.score, 0), 0);
  if (feedback.length === 0 || totalScore <= 0 || options.terms <= 0 || options.weight >= 1) return out;

  const model = new Map<number, number>();
  for (const { doc, score } of feedback) {
    const pd = Math.max(score, 0) / totalScore;
    if (pd === 0) continue;
    const entries: [number, number][] = [];
    const len = source.docTerms(doc, (term, count) => entries.push([term, count]));
    if (len <= 0) continue;
    for (const [term, count] of entries) {
      if (!source.expandable(term)) continue;
      model.set(term, (model.get(term) ?? 0) + (count / len) * pd);
    }
  }
  const top = [...model.entries()]
    .sort((a, b) => b[1] - a[1] || (source.termText(a[0]) < source.termText(b[0]) ? -1 : 1))
    .slice(0, options.terms);
  const mass = top.reduce((s, [, w]) => s + w, 0);
  if (mass <= 0) return out;
  for (const [term, w] of top) out.set(term, (out.get(term) ?? 0) + ((1 - options.weight) * w) / mass);
  return out;
}
