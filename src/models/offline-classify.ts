/**
 * Zero-shot lexical classifier: the prompt-only baseline for `classify` when no model is
 * configured. Each label is treated as a tiny document (its snake_case/camelCase name split into
 * words, plus its description) and scored against the input with BM25:
 *
 *   score(label) = Σ_{t ∈ input} idf(t) · qtf'(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))
 *   tf           = 2·tf_name + tf_description          (the name is the stronger signal)
 *   idf(t)       = ln(1 + (L − df + 0.5) / (df + 0.5))  over the L labels
 *   qtf'(t)      = qtf·(k3+1) / (qtf + k3)             (repetition in the input helps, saturating)
 *
 * Confidence is margin-based: with s1 ≥ s2 the two best scores,
 *
 *   confidence = (s1 − s2)/s1 · (1 − e^(−s1))
 *
 * i.e. how clearly the winner beats the runner-up, damped when the winning evidence itself is
 * thin. Ties (including "no label overlaps the input at all") go to the label listed first and get
 * confidence 0.
 */
import type { LabelSpec } from "./index.ts";
import { contentTokens } from "../retrieve/tokenize.ts";

const K1 = 1.2;
const B = 0.75;
const K3 = 1.2;
const NAME_WEIGHT = 2;

export interface LabelScore {
  label: string;
  score: number;
}

export interface LexicalClassification {
  /** Best label (the first label when nothing overlaps). Undefined only when `labels` is empty. */
  label: string | undefined;
  confidence: number;
  /** Scores per label, in the order the labels were given. */
  scores: LabelScore[];
}

/** Words of a label name: `billing_refund` / `billingRefund` / `billing-refund` → billing refund. */
export function labelNameText(name: string): string {
  return name.replace(/[_\-./]+/g, " ").replace(/(?<=\p{Ll})(?=\p{Lu})/gu, " ");
}

export function classifyLexical(input: string, labels: LabelSpec[]): LexicalClassification {
  if (labels.length === 0) return { label: undefined, confidence: 0, scores: [] };

  const docs = labels.map((l) => {
    const tf = new Map<string, number>();
    const name = contentTokens(labelNameText(l.name));
    const description = contentTokens(l.description ?? "");
    for (const t of name) tf.set(t, (tf.get(t) ?? 0) + NAME_WEIGHT);
    for (const t of description) tf.set(t, (tf.get(t) ?? 0) + 1);
    return { tf, length: name.length + description.length };
  });
  const avgLength = docs.reduce((sum, d) => sum + d.length, 0) / docs.length || 1;
  const df = new Map<string, number>();
  for (const d of docs) for (const t of d.tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);

  const qtf = new Map<string, number>();
  for (const t of contentTokens(input)) qtf.set(t, (qtf.get(t) ?? 0) + 1);

  const scores: LabelScore[] = labels.map((l, i) => {
    const doc = docs[i];
    const norm = K1 * (1 - B + (B * doc.length) / avgLength);
    let score = 0;
    for (const [term, q] of qtf) {
      const tf = doc.tf.get(term);
      if (!tf) continue;
      const n = df.get(term) ?? 0;
      const idf = Math.log(1 + (labels.length - n + 0.5) / (n + 0.5));
      score += ((idf * (q * (K3 + 1))) / (q + K3)) * ((tf * (K1 + 1)) / (tf + norm));
    }
    return { label: l.name, score };
  });

  // Stable: a later label must score strictly higher to displace an earlier one.
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i].score > scores[best].score) best = i;
  const s1 = scores[best].score;
  let s2 = 0;
  for (let i = 0; i < scores.length; i++) if (i !== best) s2 = Math.max(s2, scores[i].score);
  const confidence = s1 > 0 ? ((s1 - s2) / s1) * (1 - Math.exp(-s1)) : 0;
  return { label: labels[best].name, confidence, scores };
}
