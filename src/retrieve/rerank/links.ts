/**
 * The offline reranker's second pass: **named by a top candidate**. After the first pass has
 * ordered the candidates, a candidate whose name (the most specific heading, else the title, with
 * a trailing "(qualifier)" dropped) occurs as a contiguous phrase in the body of one of the top
 * `anchors` candidates is lifted to just below that anchor:
 *
 *   score'(c) = max(score(c), lift · score(a))    for the best anchor a ≠ c whose body names c
 *
 * A lift (< 1) rather than an added constant keeps the anchor above what it names, so the best
 * match stays first (an added bonus lost MRR on HotpotQA and nDCG on the ClapNQ pool).
 *
 * Why: a question often needs a second document that the best-matching one *names* — the
 * director of the film, the university a professor taught at, the setting a docs page links to —
 * while the question itself shares few words with it (multi-hop questions; on HotpotQA dev, in 110
 * of the 248 questions whose second gold paragraph ranked below 2, its title was written in the
 * other gold paragraph's body). BM25 and the query-match features cannot see that link.
 *
 * Only specific names count (their rarest term's idf at least `minSpecificity` of the idf ceiling):
 * documentation headings such as "Options" or "Hooks" are written in half the corpus, and lifting
 * them cost the fastify dev suite two cases. Without an idf function the guard is skipped.
 * Nothing changes for a corpus without titles or headings, nor for candidates no top candidate
 * names, so the pass only reorders where such a link exists.
 */
import type { Chunk } from "../../ingest/index.ts";
import { contentTokens } from "../tokenize.ts";
import type { ChunkTokens } from "../rerank-tokens.ts";

export interface LinkOptions {
  /** A named candidate's score becomes at least `lift` × its anchor's (0 turns the pass off; < 1 keeps the anchor first). */
  lift: number;
  /** How many of the first pass's best candidates act as anchors (0 turns the pass off). */
  anchors: number;
  /**
   * How specific a name must be: the idf of its rarest term over the idf ceiling (a term no chunk
   * has), in [0, 1]. Generic headings ("Options", "Hooks") are named by half the corpus.
   */
  minSpecificity: number;
}

/**
 * Chosen on the tune sets only (bench/rerank-sets.ts, bench/corpora --split dev): lift 0.8–0.99 and
 * 1–3 anchors all scored within 0.004 of each other on HotpotQA, so the middle of that plateau, not
 * its peak. Without the specificity guard the fastify dev suite lost 2 of 34 cases (hit@5 0.95 →
 * 0.85: generic headings lifted); 0.5 fixed fastify but cost pnpm dev MRR (0.838 → 0.820); 0.6
 * left both suites exactly as without links and kept HotpotQA at 0.887 (0.7: 0.886, 0.8: 0.877).
 */
export const DEFAULT_LINK_OPTIONS: Readonly<LinkOptions> = Object.freeze({ lift: 0.9, anchors: 2, minSpecificity: 0.6 });

const NAME_CACHE = new WeakMap<Chunk, string[]>();

/** A chunk's name as content tokens: its last heading (else its title) without a trailing "(…)". */
export function nameTerms(chunk: Chunk): string[] {
  let terms = NAME_CACHE.get(chunk);
  if (!terms) {
    const name = (chunk.headingPath.length > 0 ? chunk.headingPath[chunk.headingPath.length - 1] : chunk.title) ?? "";
    terms = contentTokens(name.replace(/\s*\([^()]*\)\s*$/, ""));
    NAME_CACHE.set(chunk, terms);
  }
  return terms;
}

function findTerm(terms: Int32Array, id: number): number {
  let lo = 0;
  let hi = terms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (terms[mid] < id) lo = mid + 1;
    else if (terms[mid] > id) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** Whether position `p` is in `positions[from..to)` (ascending). */
function hasPosition(positions: Int32Array, from: number, to: number, p: number): boolean {
  let lo = from;
  let hi = to - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (positions[mid] < p) lo = mid + 1;
    else if (positions[mid] > p) hi = mid - 1;
    else return true;
  }
  return false;
}

/** Whether the term-id sequence `seq` occurs contiguously in the body of `tok`. */
export function occursInBody(tok: ChunkTokens, seq: ArrayLike<number>): boolean {
  if (seq.length === 0) return false;
  const slots: number[] = [];
  for (let i = 0; i < seq.length; i++) {
    const j = seq[i] < 0 ? -1 : findTerm(tok.terms, seq[i]);
    if (j < 0) return false;
    slots.push(j);
  }
  const j0 = slots[0];
  for (let s = tok.start[j0]; s < tok.start[j0 + 1]; s++) {
    const p = tok.positions[s];
    let ok = true;
    for (let i = 1; i < slots.length && ok; i++) ok = hasPosition(tok.positions, tok.start[slots[i]], tok.start[slots[i] + 1], p + i);
    if (ok) return true;
  }
  return false;
}

/** A candidate's name as term ids of one id space, and its specificity (rarest idf / ceiling). */
export interface NameInfo {
  ids: Int32Array;
  specificity: number;
}

/** Per-chunk name ids and specificity, valid for one token source and idf (one reranker). */
export type NameCache = WeakMap<Chunk, NameInfo>;

function nameInfo(chunk: Chunk, termIdOf: (term: string) => number, idf: (term: string) => number, ceiling: number): NameInfo {
  const name = nameTerms(chunk);
  let rarest = 0;
  for (const t of name) rarest = Math.max(rarest, idf(t));
  return { ids: Int32Array.from(name, termIdOf), specificity: ceiling > 0 ? rarest / ceiling : 1 };
}

/**
 * Apply the lift to `scores` in place (see the module comment). `toks[i]` are the tokens of
 * `chunks[i]`; `termIdOf` maps a term to the id space of those tokens (-1 when unknown). `cache`
 * (only for a fixed id space and idf, e.g. an index's token table) saves re-deriving each name.
 */
export function liftNamedCandidates(
  chunks: readonly Chunk[],
  toks: readonly ChunkTokens[],
  scores: Float64Array | number[],
  termIdOf: (term: string) => number,
  idf: (term: string) => number,
  options: LinkOptions,
  cache?: NameCache,
): void {
  const n = chunks.length;
  if (options.lift <= 0 || options.anchors < 1 || n < 2) return;
  // The anchors: the best `anchors` candidates by score, ties to the earlier one (a selection
  // rather than a sort: this runs on every query's 30 candidates).
  const want = Math.min(n, Math.max(0, Math.floor(options.anchors)));
  const anchors: number[] = [];
  const anchorBase: number[] = [];
  for (let a = 0; a < want; a++) {
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (anchors.includes(i)) continue;
      if (best < 0 || scores[i] > scores[best] || (Number.isNaN(scores[best]) && !Number.isNaN(scores[i]))) best = i;
    }
    anchors.push(best);
    anchorBase.push(scores[best]);
  }
  const ceiling = idf("\u0000"); // no chunk has this term: the df = 0 idf
  for (let i = 0; i < n; i++) {
    let info = cache?.get(chunks[i]);
    if (!info) {
      info = nameInfo(chunks[i], termIdOf, idf, ceiling);
      cache?.set(chunks[i], info);
    }
    const ids = info.ids;
    if (ids.length === 0 || info.specificity < options.minSpecificity) continue;
    for (let a = 0; a < anchors.length; a++) {
      if (anchors[a] !== i && occursInBody(toks[anchors[a]], ids)) {
        // Lifted against the anchor's score before any lift (an anchor may itself be named).
        scores[i] = Math.max(scores[i], options.lift * anchorBase[a]);
        break;
      }
    }
  }
}
