/**
 * Tokenizer shared by retrieval (BM25) and the offline readers, so that a question and the
 * documents are always normalised the same way.
 *
 * Pipeline: NFKC → thousands separators dropped (`1,000` → `1000`) → in-word apostrophes dropped
 * (`don't` → `dont`, `user's` → `users`) → runs of Unicode letters/digits/marks, optionally joined
 * by `- _ . / @` (compound identifiers) → lower-case → Porter2 stemming of plain a–z words.
 *
 * A compound (`auto-install-peers`, `autoInstallPeers`, `v2.1`, `docs/setup.md`) is emitted
 * verbatim (lower-cased, unstemmed, so exact identifiers match exactly) followed by its parts,
 * each stemmed like an ordinary word: `auto-install-peers` → `auto-install-peers auto install peer`.
 * Numbers are never stemmed; `$12` yields `12`, `v2.1` yields `v2.1 v2 1`.
 */

/**
 * Identifies this tokenizer's output. Bump it whenever `tokenize` can return different tokens for
 * the same text: persisted term statistics (store `chunk_terms`) written under another version
 * are re-tokenized.
 */
export const TOKENIZER_VERSION = "ragtune-tok-1";

// A word is a run of Unicode letters/digits/marks, optionally joined by single joiners
// `- _ . / @ ‐ ‑` to further runs: /[\p{L}\p{N}\p{M}]+(?:[-_./@\u2010\u2011][\p{L}\p{N}\p{M}]+)*/u,
// scanned by hand in `emitTokens`. A joiner only counts when followed by another letter/digit, so
// sentence-final dots and trailing dashes are not glued on.
const JOINER_RE = /[-_./@\u2010\u2011]+/u;
// camelCase / PascalCase / acronym boundaries: autoInstall, HTTPServer, gpt4Turbo.
const CAMEL_RE = /(?<=\p{Ll})(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})|(?<=\p{N})(?=\p{Lu}\p{Ll})/u;
// A comma between digits followed by exactly three digits is a thousands separator.
const THOUSANDS_RE = /(?<=\d),(?=\d{3}(?!\d))/g;
const APOSTROPHE_RE = /(?<=\p{L})['\u2019](?=\p{L})/gu;

/**
 * Standard English stop words (the NLTK list), plus the apostrophe-less spellings the tokenizer
 * produces for contractions (`don't` → `dont`), plus "per" and "via". One list for retrieval and
 * for the answer-support metric (evaluate/metrics.ts).
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself " +
    "she her hers herself it its itself they them their theirs themselves what which who whom " +
    "this that these those am is are was were be been being have has had having do does did doing " +
    "a an the and but if or because as until while of at by for with about against between into " +
    "through during before after above below to from up down in out on off over under again " +
    "further then once here there when where why how all any both each few more most other some " +
    "such no nor not only own same so than too very s t can will just don should now d ll m o re " +
    "ve y ain aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn " +
    "weren won wouldn " +
    // contractions with the apostrophe removed
    "dont youre youve youll youd shes thatll shouldve arent couldnt didnt doesnt hadnt hasnt " +
    "havent isnt mightnt mustnt neednt shant shouldnt wasnt werent wont wouldnt cant cannot im ive " +
    // rate and route words that carry no claim ("$12 per user", "via the API")
    "per via"
  ).split(" "),
);

/** All tokens of `text`, stop words included (BM25 indexes these). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  emitTokens(text, undefined, out);
  return out;
}

/**
 * Tokens minus stop words. Stop words are matched on the surface form before stemming (Porter2
 * would turn `does` into `doe`). `extraStopWords` lets a caller drop more filler words, e.g. the
 * question words a reader should not require the answer to contain.
 */
export function contentTokens(text: string, extraStopWords?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  emitTokens(text, extraStopWords ? { has: (w: string) => STOP_WORDS.has(w) || extraStopWords.has(w) } : STOP_WORDS, out);
  return out;
}

// Vocabularies are Zipfian, so a memo removes most stemming work; bounded to cap memory.
const STEM_CACHE = new Map<string, string>();
const STEM_CACHE_MAX = 200_000;

function cachedStem(word: string): string {
  let stemmed = STEM_CACHE.get(word);
  if (stemmed === undefined) {
    stemmed = stem(word);
    if (STEM_CACHE.size >= STEM_CACHE_MAX) STEM_CACHE.clear();
    STEM_CACHE.set(word, stemmed);
  }
  return stemmed;
}

// Character classes for the scanner, equivalent to WORD_RE: bit 1 = word character
// ([\p{L}\p{N}\p{M}]), bit 2 = upper-case letter (\p{Lu}). ASCII is precomputed; other code points
// are classified by regex on first sight and memoised.
const WORD = 1;
const UPPER = 2;
const BMP_CLASS = new Uint8Array(0x10000);
const BMP_KNOWN = new Uint8Array(0x10000);
const ASTRAL_CLASS = new Map<number, number>();
const WORD_CHAR_RE = /^[\p{L}\p{N}\p{M}]$/u;
const UPPER_CHAR_RE = /^\p{Lu}$/u;
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  BMP_KNOWN[c] = 1;
  if ((c >= 48 && c <= 57) || (c >= 97 && c <= 122)) BMP_CLASS[c] = WORD;
  else if (c >= 65 && c <= 90) BMP_CLASS[c] = WORD | UPPER;
  ASCII_CLASS[c] = BMP_CLASS[c];
}

function classify(cp: number): number {
  if (cp < 0x10000) {
    if (BMP_KNOWN[cp] === 0) {
      const ch = String.fromCharCode(cp);
      BMP_CLASS[cp] = (WORD_CHAR_RE.test(ch) ? WORD : 0) | (UPPER_CHAR_RE.test(ch) ? UPPER : 0);
      BMP_KNOWN[cp] = 1;
    }
    return BMP_CLASS[cp];
  }
  let cls = ASTRAL_CLASS.get(cp);
  if (cls === undefined) {
    const ch = String.fromCodePoint(cp);
    cls = (WORD_CHAR_RE.test(ch) ? WORD : 0) | (UPPER_CHAR_RE.test(ch) ? UPPER : 0);
    ASTRAL_CLASS.set(cp, cls);
  }
  return cls;
}

function isJoiner(c: number): boolean {
  return c === 45 || c === 95 || c === 46 || c === 47 || c === 64 || c === 0x2010 || c === 0x2011;
}

const NON_ASCII_RE = /[^\x00-\x7f]/;

// Plain ASCII words (most words) are memoised in an open-addressing table keyed by their
// lower-case characters, hashed while scanning: a word seen before costs no allocation at all (no
// slice, no toLowerCase, no Map lookup of a fresh string). Cleared when full, like STEM_CACHE.
const WORD_SLOTS = 1 << 18;
const WORD_TABLE_MAX = 100_000;
const wordKeys: (string | undefined)[] = new Array<string | undefined>(WORD_SLOTS).fill(undefined);
const wordStems: string[] = new Array<string>(WORD_SLOTS).fill("");
let wordCount = 0;

/** Slot of the lower-cased ASCII word `text[start, end)` with hash `hash`, inserting it when new. */
function asciiWordSlot(text: string, start: number, end: number, hash: number): number {
  const len = end - start;
  let slot = hash & (WORD_SLOTS - 1);
  for (;;) {
    const key = wordKeys[slot];
    if (key === undefined) break;
    if (key.length === len) {
      let j = 0;
      while (j < len) {
        let c = text.charCodeAt(start + j);
        if (c >= 65 && c <= 90) c += 32;
        if (key.charCodeAt(j) !== c) break;
        j++;
      }
      if (j === len) return slot;
    }
    slot = (slot + 1) & (WORD_SLOTS - 1);
  }
  if (wordCount >= WORD_TABLE_MAX) {
    wordKeys.fill(undefined);
    wordCount = 0;
    slot = hash & (WORD_SLOTS - 1);
  }
  const word = text.slice(start, end).toLowerCase();
  wordKeys[slot] = word;
  wordStems[slot] = stem(word);
  wordCount++;
  return slot;
}

function emitTokens(text: string, stop: { has(word: string): boolean } | undefined, out: string[]): void {
  if (!text) return;
  // Each rewrite only when it can apply: most text is ASCII without thousands or apostrophes.
  let normalised = NON_ASCII_RE.test(text) ? text.normalize("NFKC") : text;
  if (normalised.includes(",")) normalised = normalised.replace(THOUSANDS_RE, "");
  if (normalised.includes("'") || normalised.includes("\u2019")) normalised = normalised.replace(APOSTROPHE_RE, "");
  // Hand-rolled scan for WORD_RE (runs of word characters joined by single joiners), which
  // avoids a match object per word. `compound`: the word has a joiner or an inner capital;
  // `ascii`: every character is ASCII, and `hash` (FNV-1a of the lower-cased characters) is valid.
  const n = normalised.length;
  let i = 0;
  while (i < n) {
    let cp = normalised.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) cp = normalised.codePointAt(i)!;
    const first = cp < 128 ? ASCII_CLASS[cp] : classify(cp);
    if ((first & WORD) === 0) {
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const start = i;
    let compound = false;
    let ascii = cp < 128;
    let hash = Math.imul(0x811c9dc5 ^ (cp >= 65 && cp <= 90 ? cp + 32 : cp), 0x01000193);
    i += cp > 0xffff ? 2 : 1;
    while (i < n) {
      let c = normalised.charCodeAt(i);
      if (c < 128) {
        const cls = ASCII_CLASS[c];
        if (cls & WORD) {
          if (cls & UPPER) {
            compound = true;
            c += 32;
          }
          hash = Math.imul(hash ^ c, 0x01000193);
          i++;
          continue;
        }
      } else {
        if (c >= 0xd800 && c <= 0xdbff) c = normalised.codePointAt(i)!;
        const cls = classify(c);
        if (cls & WORD) {
          if (cls & UPPER) compound = true;
          ascii = false;
          i += c > 0xffff ? 2 : 1;
          continue;
        }
      }
      if (!isJoiner(c) || i + 1 >= n) break;
      let next = normalised.charCodeAt(i + 1);
      if (next >= 0xd800 && next <= 0xdbff) next = normalised.codePointAt(i + 1)!;
      if (((next < 128 ? ASCII_CLASS[next] : classify(next)) & WORD) === 0) break;
      compound = true;
      i++;
    }
    if (!compound && ascii) {
      const slot = asciiWordSlot(normalised, start, i, hash >>> 0);
      if (!stop?.has(wordKeys[slot]!)) out.push(wordStems[slot]);
    } else emitWord(normalised.slice(start, i), compound, stop, out);
  }
}

function emitWord(raw: string, compound: boolean, stop: { has(word: string): boolean } | undefined, out: string[]): void {
  if (!compound) {
    // Fast path for the common plain word: nothing to split.
    const word = raw.toLowerCase();
    if (!stop?.has(word)) out.push(cachedStem(word));
    return;
  }
  const parts: string[] = [];
  for (const piece of raw.split(JOINER_RE)) {
    if (!piece) continue;
    for (const sub of piece.split(CAMEL_RE)) if (sub) parts.push(sub.toLowerCase());
  }
  if (parts.length === 1) {
    const word = parts[0];
    if (!stop?.has(word)) out.push(cachedStem(word));
    return;
  }
  const compoundWord = raw.toLowerCase();
  if (!stop?.has(compoundWord)) out.push(compoundWord);
  for (const part of parts) if (!stop?.has(part)) out.push(cachedStem(part));
}

// ---------------------------------------------------------------------------------------------
// Porter2 ("English") stemmer, following the Snowball reference algorithm
// (snowballstem.org/algorithms/english/stemmer.html). Applied only to plain a–z words; anything
// with digits or non-ASCII letters is returned unchanged, since the rules are English-specific.
// ---------------------------------------------------------------------------------------------

// A Map, not an object literal: a lookup keyed by document words must not find Object.prototype
// members ("constructor", "toString"…), which once turned a token into a function.
const EXCEPTIONS1: ReadonlyMap<string, string> = new Map([
  ["skis", "ski"],
  ["skies", "sky"],
  ["dying", "die"],
  ["lying", "lie"],
  ["tying", "tie"],
  ["idly", "idl"],
  ["gently", "gentl"],
  ["ugly", "ugli"],
  ["early", "earli"],
  ["only", "onli"],
  ["singly", "singl"],
  ["sky", "sky"],
  ["news", "news"],
  ["howe", "howe"],
  ["atlas", "atlas"],
  ["cosmos", "cosmos"],
  ["bias", "bias"],
  ["andes", "andes"],
]);

const EXCEPTIONS2 = new Set(["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"]);

const STEP2: [string, string][] = [
  ["ization", "ize"],
  ["ational", "ate"],
  ["fulness", "ful"],
  ["ousness", "ous"],
  ["iveness", "ive"],
  ["tional", "tion"],
  ["biliti", "ble"],
  ["lessli", "less"],
  ["entli", "ent"],
  ["ation", "ate"],
  ["alism", "al"],
  ["aliti", "al"],
  ["ousli", "ous"],
  ["iviti", "ive"],
  ["fulli", "ful"],
  ["enci", "ence"],
  ["anci", "ance"],
  ["abli", "able"],
  ["izer", "ize"],
  ["ator", "ate"],
  ["alli", "al"],
  ["bli", "ble"],
  ["ogi", "og"],
  ["li", ""],
];

const STEP3: [string, string][] = [
  ["ational", "ate"],
  ["tional", "tion"],
  ["alize", "al"],
  ["icate", "ic"],
  ["iciti", "ic"],
  ["ative", ""],
  ["ical", "ic"],
  ["ness", ""],
  ["ful", ""],
];

// Longest first, so the first hit is the longest match as the algorithm requires.
const STEP4 = ["ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous", "ive", "ize", "ion", "al", "er", "ic"];

const DOUBLES = new Set(["bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt"]);
const LI_ENDING = new Set(["c", "d", "e", "g", "h", "k", "m", "n", "r", "t"]);
const PLAIN_WORD = /^[a-z]+$/;

function isVowel(c: string | undefined): boolean {
  // 'Y' (a consonant-y marked by the prelude) is deliberately not a vowel.
  return c === "a" || c === "e" || c === "i" || c === "o" || c === "u" || c === "y";
}

/** Start of the region after the first non-vowel that follows a vowel, searching from `from`. */
function regionAfter(w: string, from: number): number {
  for (let i = from; i < w.length - 1; i++) {
    if (isVowel(w[i]) && !isVowel(w[i + 1])) return i + 2;
  }
  return w.length;
}

/** Does `w` end in a short syllable? */
function endsShortSyllable(w: string): boolean {
  const n = w.length;
  if (n === 2) return isVowel(w[0]) && !isVowel(w[1]);
  if (n < 3) return false;
  const last = w[n - 1];
  return !isVowel(w[n - 3]) && isVowel(w[n - 2]) && !isVowel(last) && last !== "w" && last !== "x" && last !== "Y";
}

function hasVowel(w: string, end: number): boolean {
  for (let i = 0; i < end; i++) if (isVowel(w[i])) return true;
  return false;
}

/** Porter2 stem of a lower-case word. Deterministic; words of ≤ 2 letters are unchanged. */
export function stem(word: string): string {
  if (word.length <= 2 || !PLAIN_WORD.test(word)) return word;
  const exception = EXCEPTIONS1.get(word);
  if (exception !== undefined) return exception;

  // Prelude: mark consonant-y (initial, or after a vowel) as 'Y'.
  let w = "";
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    w += c === "y" && (i === 0 || isVowel(w[i - 1])) ? "Y" : c;
  }

  let p1: number;
  if (w.startsWith("gener") || w.startsWith("arsen")) p1 = 5;
  else if (w.startsWith("commun")) p1 = 6;
  else p1 = regionAfter(w, 0);
  const p2 = regionAfter(w, p1);

  // Step 1a: plurals and -ied/-ies.
  if (w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.endsWith("ied") || w.endsWith("ies")) w = w.length > 4 ? w.slice(0, -2) : w.slice(0, -1);
  else if (w.endsWith("us") || w.endsWith("ss")) {
    // unchanged
  } else if (w.endsWith("s") && hasVowel(w, w.length - 2)) w = w.slice(0, -1);

  if (EXCEPTIONS2.has(w)) return w.replace(/Y/g, "y");

  // Step 1b: -eed/-ed/-ing (and their -ly forms).
  const s1b = ["eedly", "ingly", "edly", "eed", "ing", "ed"].find((s) => w.endsWith(s));
  if (s1b === "eed" || s1b === "eedly") {
    if (w.length - s1b.length >= p1) w = w.slice(0, -s1b.length) + "ee";
  } else if (s1b !== undefined && hasVowel(w, w.length - s1b.length)) {
    w = w.slice(0, -s1b.length);
    if (w.endsWith("at") || w.endsWith("bl") || w.endsWith("iz")) w += "e";
    else if (DOUBLES.has(w.slice(-2))) w = w.slice(0, -1);
    else if (p1 >= w.length && endsShortSyllable(w)) w += "e";
  }

  // Step 1c: consonant + y/Y → i (not when the consonant is the first letter).
  const lastC = w[w.length - 1];
  if ((lastC === "y" || lastC === "Y") && w.length > 2 && !isVowel(w[w.length - 2])) w = w.slice(0, -1) + "i";

  // Step 2.
  for (const [suffix, replacement] of STEP2) {
    if (!w.endsWith(suffix)) continue;
    const at = w.length - suffix.length;
    if (at >= p1) {
      if (suffix === "ogi") {
        if (w[at - 1] === "l") w = w.slice(0, at) + replacement;
      } else if (suffix === "li") {
        if (LI_ENDING.has(w[at - 1])) w = w.slice(0, at);
      } else w = w.slice(0, at) + replacement;
    }
    break;
  }

  // Step 3.
  for (const [suffix, replacement] of STEP3) {
    if (!w.endsWith(suffix)) continue;
    const at = w.length - suffix.length;
    if (at >= p1 && (suffix !== "ative" || at >= p2)) w = w.slice(0, at) + replacement;
    break;
  }

  // Step 4.
  for (const suffix of STEP4) {
    if (!w.endsWith(suffix)) continue;
    const at = w.length - suffix.length;
    if (at >= p2 && (suffix !== "ion" || w[at - 1] === "s" || w[at - 1] === "t")) w = w.slice(0, at);
    break;
  }

  // Step 5.
  const n = w.length;
  if (w[n - 1] === "e") {
    if (n - 1 >= p2 || (n - 1 >= p1 && !endsShortSyllable(w.slice(0, -1)))) w = w.slice(0, -1);
  } else if (w[n - 1] === "l" && n - 1 >= p2 && w[n - 2] === "l") {
    w = w.slice(0, -1);
  }

  return w.replace(/Y/g, "y");
}
