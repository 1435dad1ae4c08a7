/**
 * Text normalisation shared by every scorer and metric, so "$1,000", "**1000**" and "1000 [2]"
 * compare equal everywhere — offline scoring and online monitoring must agree on what "the same
 * answer" means.
 */

/** Characters that join two word characters into one token ("x-acme-signature", "2.5", "per_page"). */
const JOINERS = new Set(["-", "_", ".", "'", "/", "@", ":", "+"]);
const WORD = /[\p{L}\p{N}]/u;

/**
 * Lowercase, NFKC, strip markdown emphasis/links and [n] citation markers, drop `$` and
 * thousands separators (1,000 → 1000), drop punctuation except where it joins the parts of a
 * number or identifier (`2.5`, `x-acme-signature`, `abp_token`), turn `99.9%` into `99.9`,
 * collapse whitespace.
 */
export function normalizeText(s: string): string {
  let t = s.normalize("NFKC").toLowerCase();
  // Typographic apostrophes/dashes would otherwise split identifiers that users typed with ASCII.
  t = t.replace(/[\u2018\u2019\u02bc]/g, "'").replace(/[\u2010\u2011\u2012\u2013\u2014]/g, "-");
  // [text](url) → text: the URL is not part of the answer.
  t = t.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
  // Citation markers [1], [2, 3], [1-2] say where, not what.
  t = t.replace(/\[\d+(?:\s*[,\u2013-]\s*\d+)*\]/g, " ");
  // Markdown emphasis/code markers; underscores are left to the joiner rule so snake_case survives.
  t = t.replace(/\*+|~~|`+/g, " ");
  t = t.replace(/\$/g, "");
  // Thousands separators: only groups of exactly three digits, so "1,5" (decimal comma) is kept.
  t = t.replace(/(\d),(?=\d{3}(?!\d))/g, "$1");

  let out = "";
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (WORD.test(ch) || /\s/.test(ch)) {
      out += ch;
      continue;
    }
    const prev = t[i - 1] ?? "";
    const next = t[i + 1] ?? "";
    const between = WORD.test(prev) && WORD.test(next);
    if (between && (JOINERS.has(ch) || (ch === "," && /\d/.test(prev) && /\d/.test(next)))) out += ch;
    else out += " ";
  }
  return out.replace(/\s+/g, " ").trim();
}

/** Normalised tokens of `s` (see `normalizeText`). */
export function answerTokens(s: string): string[] {
  const n = normalizeText(s);
  return n === "" ? [] : n.split(" ");
}

/**
 * Whether `needle`'s tokens occur as a contiguous run inside `haystack`'s tokens. Token-level,
 * so "$12" is found in "costs $12 per user" but not in "costs $120".
 */
export function containsTokenSequence(haystack: string[], needle: string[]): boolean {
  return indexOfTokenSequence(haystack, needle) >= 0;
}

/** Index of the first contiguous occurrence of `needle` in `haystack`, or -1. */
export function indexOfTokenSequence(haystack: string[], needle: string[]): number {
  if (needle.length === 0 || needle.length > haystack.length) return -1;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Number of tokens two lists share, counting repeats (multiset intersection size). */
export function multisetOverlap(a: string[], b: string[]): number {
  const counts = new Map<string, number>();
  for (const t of b) counts.set(t, (counts.get(t) ?? 0) + 1);
  let overlap = 0;
  for (const t of a) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      overlap++;
      counts.set(t, c - 1);
    }
  }
  return overlap;
}

/** Token-level F1 (multiset overlap), the SQuAD-style partial-credit measure. */
export function tokenF1(predicted: string[], gold: string[]): number {
  if (predicted.length === 0 || gold.length === 0) return 0;
  const overlap = multisetOverlap(predicted, gold);
  if (overlap === 0) return 0;
  const precision = overlap / predicted.length;
  const recall = overlap / gold.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Shorten `s` for evidence strings: one line, at most `max` characters. */
export function snippet(s: string, max = 80): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length <= max ? one : one.slice(0, max - 1) + "…";
}
