/**
 * Question analysis: the content terms a question asks about (weighted by whether they are in an
 * asking sentence or in preamble), its adjacent term pairs, and the answer types it expects.
 */
import { contentTokens, tokenize } from "../../retrieve/tokenize.ts";
import { ANSWER_TYPE_PATTERNS, type AnswerType } from "./answer-types.ts";
import { splitSentences } from "./units.ts";

/** Terms of a preamble sentence ("I deleted a card by mistake.") weigh this much. */
export const PREAMBLE_WEIGHT = 0.5;

/** Question words that say what kind of answer is wanted, not what it is about. */
export const QUESTION_FILLER: ReadonlySet<string> = new Set(
  "please tell know explain describe would could also want need get happen happens exactly anyone someone anybody somebody nobody everybody everyone noone nothing something anything everything possible whats whos wheres hows whens whys".split(
    " ",
  ),
);
// "how long does it take", "how much", "is there a way to" … carry no topic words.
const QUESTION_IDIOMS =
  /\b(?:how\s+(?:long|much|many|often|soon|far)|does\s+it\s+take|do\s+i\s+have\s+to|is\s+there\s+(?:a|any)\s+way\s+to|what(?:'s|\s+is)\s+the\s+best\s+way\s+to)\b/gi;

export interface QuestionAnalysis {
  /** Content terms → focus: 1 in the sentences that ask, PREAMBLE_WEIGHT in the others. */
  terms: Map<string, number>;
  /** Adjacent content-term pairs of the asking sentences, for phrase matches. */
  bigrams: [string, string][];
  types: Set<AnswerType>;
  /**
   * Terms the question writes as names: capitalised inside a sentence, ALL CAPS, or with digits
   * or inner capitals ("Helm", "PyPI", "gRPC", "S3"). When the documents never contain such a
   * term, they do not talk about the thing asked — unlike a common word a user paraphrased.
   */
  names: Set<string>;
  /** The question as asked. */
  text: string;
}

const ASKING_RE = /\?\s*$|^(?:who|whom|whose|what|what's|whats|which|when|where|why|how|is|are|was|were|can|could|does|do|did|will|would|should|has|have|may|must|shall)\b/i;

export function analyzeQuestion(question: string): QuestionAnalysis {
  const sentences = splitSentences(question.replace(/\s+/g, " ").trim());
  const asking = sentences.filter((s) => ASKING_RE.test(s));
  const focus = new Set(asking.length > 0 ? asking : sentences);
  const terms = new Map<string, number>();
  const bigrams: [string, string][] = [];
  const types = new Set<AnswerType>();
  const names = new Set<string>();
  for (const sentence of sentences) {
    sentence.split(/\s+/).forEach((word, i) => {
      const w = word.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
      if (!w || QUESTION_FILLER.has(w.toLowerCase()) || w === "I") return;
      const nameLike = (i > 0 && /^\p{Lu}/u.test(w)) || /^\p{Lu}{2,}$/u.test(w) || /\p{Ll}\p{Lu}/u.test(w) || (/\d/.test(w) && /\p{L}/u.test(w));
      if (nameLike) for (const t of contentTokens(w)) names.add(t);
    });
    const isFocus = focus.has(sentence);
    const toks = sentenceTerms(sentence);
    for (const t of toks) terms.set(t, Math.max(terms.get(t) ?? 0, isFocus ? 1 : PREAMBLE_WEIGHT));
    if (!isFocus) continue;
    for (let i = 1; i < toks.length; i++) if (toks[i - 1] !== toks[i]) bigrams.push([toks[i - 1], toks[i]]);
    const lower = sentence.toLowerCase().replace(/’/g, "'");
    for (const [type, re] of ANSWER_TYPE_PATTERNS) if (re.test(lower)) types.add(type);
  }
  // A question made only of filler and stop words ("What is it?") keeps whatever words it has.
  if (terms.size === 0) {
    for (const fallback of [contentTokens(question), tokenize(question)]) {
      for (const t of fallback) terms.set(t, 1);
      if (terms.size > 0) break;
    }
  }
  // "How long" asks for a duration, which the quantity cue (any number) would blur.
  if (types.has("duration")) types.delete("quantity");
  return { terms, bigrams, types, names, text: question };
}

function sentenceTerms(sentence: string): string[] {
  return contentTokens(sentence.replace(QUESTION_IDIOMS, " "), QUESTION_FILLER);
}
