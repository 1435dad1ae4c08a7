/**
 * Token counting for budgets and cost estimates. Uses the o200k/cl100k-compatible BPE from
 * gpt-tokenizer; counts are exact for OpenAI models and a close estimate for others.
 *
 * Two guards make it safe on arbitrary documents: special-token text such as `<|endoftext|>` is
 * counted as ordinary text (gpt-tokenizer throws on it by default), and pathological runs are cut
 * first so counting stays linear-time.
 */
import { encode } from "gpt-tokenizer";

const NO_SPECIAL = { disallowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  if (!text) return 0;
  let n = 0;
  for (const p of textPieces(text)) n += encode(p.text, NO_SPECIAL).length;
  return n;
}

/**
 * BPE cost grows with the square of a pre-token's length, so one 200 KB run of "=" or spaces
 * would stall ingest for minutes. Runs longer than this (all whitespace or no whitespace) are
 * cut into pieces before tokenizing; ordinary text has no such runs and is counted exactly.
 */
const MAX_RUN = 1000;

/** Offsets where long runs are cut (never between the halves of a surrogate pair). */
function runCuts(text: string): number[] {
  const cuts: number[] = [];
  let runStart = 0;
  let runSpace = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x3000;
    if (i === 0 || space !== runSpace) {
      runStart = i;
      runSpace = space;
    } else if (i - runStart >= MAX_RUN && !(c >= 0xdc00 && c <= 0xdfff)) {
      cuts.push(i);
      runStart = i;
    }
  }
  return cuts;
}

/** Text split at long runs (see MAX_RUN): a single piece for ordinary text. */
export function textPieces(text: string): { text: string; offset: number }[] {
  const cuts = runCuts(text);
  if (cuts.length === 0) return [{ text, offset: 0 }];
  const out: { text: string; offset: number }[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    out.push({ text: text.slice(from, cut), offset: from });
    from = cut;
  }
  return out;
}

