/**
 * `offline:extractive` — a Generator that needs no model. For `qa` it quotes the context sentence
 * that answers the question, with an [n] citation, or abstains; `classify` and `extract` are
 * delegated to the lexical baselines in offline-classify.ts / offline-extract.ts.
 *
 * ## How a qa answer is chosen
 *
 * The context is split into units: paragraph sentences, list items, table rows (the header row
 * counts as their heading), code lines. The question is split into sentences too; the ones that ask
 * (end in "?" or start with a question word) are its focus, the others are preamble ("I deleted a
 * card by mistake.") whose terms weigh PREAMBLE_WEIGHT. Terms are stemmed content words
 * (`contentTokens`), minus question filler ("how long", "what's", "please").
 *
 * 1. Coverage. A unit covers a term fully when its text contains it and at HEADING_CREDIT when
 *    only its headings do (chunk heading path, headings inside the chunk, the table header):
 *
 *      coverage(u) = Σ_t focus(t)·credit(u,t) / Σ_t focus(t)   over the terms the context mentions
 *
 *    Terms count by focus only. We tried in-context idf (a term in few units weighs more): over
 *    5–40 sentences it is too noisy, and uniform weights picked better sentences on both benches.
 * 2. Answer type. Patterns on the asking sentence say what kind of sentence answers it: "how many /
 *    maximum / price" → a number; "how long" → a duration; "when / what time" → a date or time;
 *    "which key / setting / header" → a code span, bold or quoted UI text, or an identifier;
 *    "which plans / apps" → a list or several names; "who" → names; "where" → names or UI paths;
 *    "why" → because/so that; "what is" → a definition; yes/no → a negation or "only/must/always".
 *    A unit that fits gets ×(1 + TYPE_BOOST·strength(type)·fit), but only if its text shares a
 *    term with the question — otherwise every sentence with a number would answer every "how many".
 *    Strengths (TYPE_STRENGTH) reflect how reliably the cue marks the answer: a number for "how
 *    many" is near-certain; a capitalised word for "who" is weak evidence.
 * 3. The rest of the score:
 *
 *      score(u) = (coverage(u) + BIGRAM·phrases(u)) · length(u) · type(u) · generic(u)
 *                 + CHUNK_SUPPORT·coverage(u's chunk) + RANK_BONUS / (1 + retrieval rank of u's chunk)
 *
 *    phrases = share of the question's adjacent term pairs that occur within three words of each
 *    other in the unit; length penalises fragments (< 4 tokens ×0.6, < 6 ×0.85) and run-ons (> 80
 *    tokens); generic = GENERIC_PENALTY when every term the unit matches is already in its chunk's
 *    heading path (an intro sentence that only names the page topic); the chunk term lets a
 *    sentence in a passage that covers the whole question beat a stray match elsewhere; the rank
 *    bonus applies only when chunks carry retrieval scores.
 *
 * ## Confidence and abstention
 *
 *      sentence support S = Σ_t focus(t)·credit(best,t) / Σ_t focus(t)      over all question terms
 *      context support  C = Σ_t focus(t)·[some unit's text contains t] / Σ_t focus(t)
 *      support            = (S + C) / 2 · (best unit fits no expected type ? 1 − miss·strength : 1)
 *                                       · ABSENT_NAME_FACTOR ^ (names of the asking sentence no document contains)
 *      confidence         = support ^ CALIBRATION
 *
 * S is how much of the question the quoted sentence itself supports; C is how much of it the
 * documents mention at all (a question about "Bitcoin" when the context never says the word). A
 * "how many" question whose best sentence has no number loses 48% of its support (miss =
 * TYPE_MISS_NUMERIC), other types' misses cost TYPE_MISS·strength. A term the question writes as a
 * name (capitalised mid-sentence, ALL CAPS, digits or inner capitals: "Helm", "PyPI", "gRPC") that
 * no chunk of the corpus contains (`GenerateRequest.corpus`) costs 40% per name: the documents do
 * not talk about the thing asked — unlike a lower-case word, which may be a paraphrase. When the
 * question names a section (`linkWorkspacePackages`) and asks its default, the section's default
 * line has support NAMED_DEFAULT_SUPPORT at least. The exponent is
 * a monotone calibration only: on both benches answering pays off once about half the question is
 * supported, and 0.5^1.5 ≈ 0.35, so the 0.35 default stays the break-even point. The reader
 * abstains below `minConfidence` (or when no unit covers any question term).
 *
 * The answer is the best unit plus, up to `maxSentences`, a unit that covers a question term the
 * answer misses entirely and scores at least SECOND_SENTENCE_RATIO of the best, with or without the
 * answer-type factor (which may belong to the other half of a two-part question).
 *
 * ## Structure of reference docs
 *
 * - A unit's heading terms are those of its own section (from the chunk's spans), so a sentence
 *   under `### server.port` is not credited with `server.host`'s heading.
 * - "Default: `x`" / "Type: number" lines are not fragments; a "default" question boosts the
 *   default line of the section it names; when the best unit is a section's description and the
 *   question wants a default or a quantity it does not state, the section's labelled value line
 *   answers (the description follows).
 * - When the asked-for key, flag or code is the section heading (`### --update-checksums`), the
 *   heading leads the answer.
 * - Code lines answer "which command / key" and "how do I"; otherwise they score CODE_FACTOR.
 *
 * ## Versions
 *
 * With several versions in the context (`ContextChunk.versionRank`), units of chunks other than the
 * preferred version — the version the question names, else the newest present — score
 * OLDER_VERSION_FACTOR; and when the best unit comes from an older copy of a section whose preferred
 * copy is in the context, the preferred copy's best unit answers (docs/versions.md).
 *
 * Measured with `node --import tsx bench/reader.ts` (demo suite + CLAP NQ dev) and
 * `node --import tsx bench/corpora/run.ts` (real pnpm and fastify docs, dev split for tuning).
 *
 * Not done, on purpose: vocabulary of any particular corpus.
 */
import { FALLBACK_MESSAGE } from "../index.ts";
import type { Citation, ContextChunk, CorpusStats, GenerateRequest, GenerateResult, Generator } from "../index.ts";
import { classifyLexical } from "../offline-classify.ts";
import { extractBySchema } from "../offline-extract.ts";
import { countTokens } from "../tokens.ts";
import { tokenize } from "../../retrieve/tokenize.ts";
import { sectionKey } from "../../core/versions.ts";
import { TYPE_STRENGTH, typeFit } from "./answer-types.ts";
import { analyzeQuestion, type QuestionAnalysis } from "./question.ts";
import { splitUnits, type Unit } from "./units.ts";
import { SemanticSignal, type ReaderSemanticOptions } from "./semantic.ts";
import { answerFromSectionValueLine, headingAnswer, LABELLED_VALUE_RE, preferredVersionChunks, preferSectionOfPreferredVersion } from "./structure.ts";

export interface ExtractiveReaderOptions {
  /** Abstain below this confidence (0..1); a request's `minConfidence` overrides it. */
  minConfidence: number;
  /** Most sentences quoted in one answer. */
  maxSentences: number;
  fallbackMessage?: string;
  /**
   * Question–sentence similarity from a sentence encoder, for sentence choice and confidence
   * (`answer.semantic`; semantic.ts). Absent: the reader is lexical only.
   */
  semantic?: ReaderSemanticOptions;
}

// Weights, chosen on the demo suite and CLAP NQ dev together (bench/reader.ts); see the notes above.
const HEADING_CREDIT = 0.6;
const BIGRAM = 0.1;
const CHUNK_SUPPORT = 0.15;
const RANK_BONUS = 0.05;
const GENERIC_PENALTY = 0.85;
const TYPE_BOOST = 1.5;
const TYPE_MISS = 0.5;
/** TYPE_MISS for questions that ask for a quantity. */
const TYPE_MISS_NUMERIC = 0.8;
const SECOND_SENTENCE_RATIO = 0.6;
/** Score factor of a sentence from an older version than the newest (or named) one in the context. */
const OLDER_VERSION_FACTOR = 0.7;
/** Support factor per name in the asking sentence that no document of the corpus contains. */
const ABSENT_NAME_FACTOR = 0.6;
/** Score factor of a default-stating line in the section the question names, for "default" questions. */
const NAMED_DEFAULT_BOOST = 2;
/** Support of that line: 0.75^1.5 ≈ 0.65 confidence. */
const NAMED_DEFAULT_SUPPORT = 0.75;
/** Score factor of a code line when the question asks for no identifier or procedure. */
const CODE_FACTOR = 0.75;
/** confidence = support^CALIBRATION: puts the measured break-even (support ≈ 0.5) at the 0.35 default. */
const CALIBRATION = 1.5;

export interface Scored {
  unit: Unit;
  order: number;
  /** Share of the question (terms the context mentions) the unit covers. */
  coverage: number;
  /** Strength-weighted answer-type fit, 0 when the question has no type or the unit fits none. */
  fit: number;
  score: number;
  /** The score without the answer-type factor, which belongs to one part of a two-part question. */
  base: number;
}

export class ExtractiveReader implements Generator {
  readonly id = "offline:extractive";
  private readonly options: ExtractiveReaderOptions;
  private readonly semantic?: SemanticSignal;

  constructor(options: ExtractiveReaderOptions) {
    this.options = options;
    if (options.semantic) this.semantic = new SemanticSignal(options.semantic);
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    switch (request.task) {
      case "qa":
        return this.answer(request);
      case "classify":
        return this.classify(request);
      case "extract":
        return this.extract(request);
      default:
        throw new Error(`offline:extractive: unsupported task ${String((request as { task: unknown }).task)}`);
    }
  }

  private inputTokens(request: GenerateRequest): number {
    return countTokens(request.input) + request.context.reduce((sum, c) => sum + countTokens(c.text), 0);
  }

  private async answer(request: GenerateRequest): Promise<GenerateResult> {
    const minConfidence = request.minConfidence ?? this.options.minConfidence;
    const inputTokens = this.inputTokens(request);
    const abstain = (confidence: number): GenerateResult => {
      const text = this.options.fallbackMessage ?? FALLBACK_MESSAGE;
      return {
        text,
        citations: [],
        abstained: true,
        confidence,
        usage: { inputTokens, outputTokens: countTokens(text) },
        generator: this.id,
      };
    };

    const question = analyzeQuestion(request.input);
    // A sentence addressed to the model ("ignore previous instructions …") is never the answer: it is data.
    const units = dedupe(request.context.flatMap((chunk, i) => cachedUnits(chunk, i))).filter((u) => !u.injected);
    if (question.terms.size === 0 || units.length === 0) return abstain(0);
    const { scored, credit, preferredChunk } = scoreUnits(question, units, request.context, request.preferVersions);
    const similarity = this.semantic ? await this.semantic.rescore(request.input, scored) : undefined;
    reorderByStructure(scored, question, preferredChunk);
    const best = scored[0];
    let blend: ((support: number) => number) | undefined;
    if (this.semantic) {
      const semantic = this.semantic;
      // The structure rules may have promoted a unit the encoder has not seen (a section's value line).
      const sim = similarity?.get(best.unit) ?? (await semantic.similarities(request.input, [best.unit.plain]))[0];
      blend = (support) => semantic.blendSupport(support, sim);
    }
    const confidence = supportOf(question, units, best, credit, request.corpus, blend) ** CALIBRATION;
    if (confidence < minConfidence || best.coverage === 0) return abstain(confidence);

    const selected = [best.unit];
    for (const candidate of scored.slice(1)) {
      if (selected.length >= Math.max(1, this.options.maxSentences)) break;
      // Close to the best either with or without the answer-type factor, which may belong to the
      // other part of a two-part question ("Which email …, and how many seats …?").
      if (candidate.score < SECOND_SENTENCE_RATIO * best.score && candidate.base < SECOND_SENTENCE_RATIO * best.base) continue;
      // Only a sentence that covers a question term the answer misses entirely adds anything.
      const addsTerm = [...question.terms.keys()].some((t) => credit(candidate.unit, t) > 0 && selected.every((u) => credit(u, t) === 0));
      if (addsTerm) selected.push(candidate.unit);
    }

    // Markers are numbered by first appearance, one per section of a chunk: each citation names
    // the heading and lines of the sentences it quotes.
    const citationOf = new Map<string, Citation>();
    const citations: Citation[] = [];
    const parts = selected.map((unit) => {
      const key = `${unit.chunk}\u0000${unit.headingPath.join("\u0000")}`;
      let citation = citationOf.get(key);
      if (citation === undefined) {
        const c = request.context[unit.chunk];
        citation = {
          marker: citations.length + 1,
          chunkId: c.id,
          path: c.path,
          headingPath: [...unit.headingPath],
          lineStart: unit.lineStart,
          lineEnd: unit.lineEnd,
          version: c.version,
          quote: unit.quote,
        };
        citationOf.set(key, citation);
        citations.push(citation);
      } else {
        citation.lineStart = Math.min(citation.lineStart, unit.lineStart);
        citation.lineEnd = Math.max(citation.lineEnd, unit.lineEnd);
        citation.quote = `${citation.quote} … ${unit.quote}`;
      }
      const lead = unit === best.unit ? headingAnswer(unit, question, request.input) : undefined;
      return `${lead ? `${lead}: ` : ""}${unit.quote} [${citation.marker}]`;
    });
    const text = parts.join(" ");
    return {
      text,
      citations,
      abstained: false,
      confidence,
      usage: { inputTokens, outputTokens: countTokens(text) },
      generator: this.id,
    };
  }

  private classify(request: GenerateRequest): GenerateResult {
    const labels = request.labels ?? [];
    if (labels.length === 0) throw new Error("offline:extractive: a classify request needs `labels`");
    const result = classifyLexical(request.input, labels);
    const text = result.label ?? "";
    return {
      text,
      label: result.label,
      citations: [],
      abstained: false,
      confidence: result.confidence,
      usage: { inputTokens: this.inputTokens(request), outputTokens: countTokens(text) },
      generator: this.id,
    };
  }

  private extract(request: GenerateRequest): GenerateResult {
    if (!request.jsonSchema) throw new Error("offline:extractive: an extract request needs `jsonSchema`");
    const json = extractBySchema(request.input, request.jsonSchema);
    const text = JSON.stringify(json);
    return {
      text,
      json,
      citations: [],
      abstained: false,
      usage: { inputTokens: this.inputTokens(request), outputTokens: countTokens(text) },
      generator: this.id,
    };
  }
}

/** Scores every unit lexically, best first; see the notes on top. */
function scoreUnits(question: QuestionAnalysis, units: Unit[], context: ContextChunk[], preferVersions?: readonly string[]) {
  const preferredChunk = preferredVersionChunks(context, preferVersions);
  const versionFactor = preferredChunk.map((p) => (p ? 1 : OLDER_VERSION_FACTOR));
  const credit = (u: Unit, t: string): number => (u.terms.has(t) ? 1 : u.headingTerms.has(t) ? HEADING_CREDIT : 0);
  // Terms the context never mentions cannot tell units apart; they only lower the confidence.
  const weight = new Map<string, number>();
  for (const [t, focus] of question.terms) if (units.some((u) => credit(u, t) > 0)) weight.set(t, focus);
  const present = [...weight.values()].reduce((a, b) => a + b, 0);
  const coverageOf = (u: Unit): number => {
    if (present === 0) return 0;
    let sum = 0;
    for (const [t, w] of weight) sum += w * credit(u, t);
    return sum / present;
  };

  const byChunk = context.map((): Unit[] => []);
  for (const u of units) byChunk[u.chunk].push(u);
  const chunkCoverage = byChunk.map((own) => {
    if (own.length === 0 || present === 0) return 0;
    let sum = 0;
    for (const [t, w] of weight) {
      let best = 0;
      for (const u of own) best = Math.max(best, credit(u, t));
      sum += w * best;
    }
    return sum / present;
  });
  // A unit's topic is its own section's heading path.
  const topicTerms = new Map<Unit, Set<string>>();
  const topicOf = (u: Unit): Set<string> => {
    let t = topicTerms.get(u);
    if (!t) topicTerms.set(u, (t = new Set(tokenize(u.headingPath.join(" ")))));
    return t;
  };
  const rankBonus = retrievalRankBonus(context);
  const questionKey = sectionKey(question.text);
  const namesSection = (u: Unit): boolean => unitNamesSection(u, questionKey);
  const phraseShare = (u: Unit): number => {
    if (question.bigrams.length === 0) return 0;
    let hits = 0;
    for (const [a, b] of question.bigrams) {
      for (let i = 0; i < u.sequence.length; i++) {
        if (u.sequence[i] === a && u.sequence.slice(i + 1, i + 4).includes(b)) {
          hits++;
          break;
        }
      }
    }
    return hits / question.bigrams.length;
  };

  const scored: Scored[] = units.map((unit, order) => {
    const coverage = coverageOf(unit);
    const matched = [...weight.keys()].filter((t) => unit.terms.has(t));
    const newNames = new Set(unit.cues.names.filter((t) => !question.terms.has(t))).size;
    let fit = 0;
    for (const type of question.types) fit = Math.max(fit, TYPE_STRENGTH[type] * typeFit(type, unit.cues, newNames));
    let typeFactor = matched.length > 0 ? 1 + TYPE_BOOST * fit : 1;
    // "Is X on by default?", "what does X default to": the line stating the default in the section
    // the question names is the answer, however few of the question's other words it repeats.
    if (question.types.has("default") && unit.cues.defaultValue && namesSection(unit)) typeFactor *= NAMED_DEFAULT_BOOST;
    const generic = matched.length > 0 && matched.every((t) => topicOf(unit).has(t)) ? GENERIC_PENALTY : 1;
    // A code line answers "which command / key" and "how do I"; for other questions it is an
    // example that merely repeats the question's words.
    const code = unit.kind === "code" && !question.types.has("identifier") && !question.types.has("procedure") ? CODE_FACTOR : 1;
    const lexical = (coverage + BIGRAM * phraseShare(unit)) * lengthFactor(unit) * generic * code;
    const passage = CHUNK_SUPPORT * chunkCoverage[unit.chunk] + rankBonus[unit.chunk];
    const v = versionFactor[unit.chunk];
    return { unit, order, coverage, fit, score: (lexical * typeFactor + passage) * v, base: (lexical + passage) * v };
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);
  return { scored, credit, preferredChunk };
}

/** The structure rules that override the score order: the preferred version's section, a section's value line. */
function reorderByStructure(scored: Scored[], question: QuestionAnalysis, preferredChunk: boolean[]): void {
  preferSectionOfPreferredVersion(scored, preferredChunk);
  answerFromSectionValueLine(scored, question);
}

/**
 * How much of the question the best unit and the context support (before calibration); `blend`
 * mixes in the semantic signal before the named-default floor.
 */
function supportOf(
  question: QuestionAnalysis,
  units: Unit[],
  best: Scored,
  credit: (u: Unit, t: string) => number,
  corpus: CorpusStats | undefined,
  blend?: (support: number) => number,
): number {
  let total = 0;
  let sentenceSupport = 0;
  let contextSupport = 0;
  for (const [t, focus] of question.terms) {
    total += focus;
    sentenceSupport += focus * credit(best.unit, t);
    if (units.some((u) => u.terms.has(t))) contextSupport += focus;
  }
  let strength = 0;
  for (const type of question.types) strength = Math.max(strength, TYPE_STRENGTH[type]);
  // A missing number for "how much / how many" is the surest sign the sentence does not answer;
  // other cues are weaker evidence.
  const miss = question.types.has("quantity") ? TYPE_MISS_NUMERIC : TYPE_MISS;
  const typeMiss = best.fit === 0 ? 1 - miss * strength : 1;
  // Terms of the asking sentence that no document of the corpus contains ("helm", "pypi"): the
  // documents do not talk about what is asked, whatever else matches.
  // A common word that is absent is more likely a paraphrase ("cap" for "limit"); only names count.
  let absent = 0;
  // A joined compound ("json-encode") is the user's spelling of words the corpus may well have; its
  // parts are terms of their own.
  if (corpus) for (const [t, focus] of question.terms) if (focus === 1 && question.names.has(t) && !/[^\p{L}\p{N}]/u.test(t) && corpus.documentFrequency(t) === 0) absent++;
  let support = total > 0 ? ((sentenceSupport + contextSupport) / (2 * total)) * typeMiss * ABSENT_NAME_FACTOR ** absent : 0;
  if (blend) support = blend(support);
  // The section the question names states the default it asks for: that is the answer, even when
  // the rest of a long question is scenery the line does not repeat.
  if (question.types.has("default") && best.unit.cues.defaultValue && unitNamesSection(best.unit, sectionKey(question.text))) support = Math.max(support, NAMED_DEFAULT_SUPPORT);
  return support;
}

/** The question names the unit's own section (`linkWorkspacePackages`); `questionKey` = sectionKey(question). */
function unitNamesSection(u: Unit, questionKey: string): boolean {
  const key = sectionKey(u.headingPath[u.headingPath.length - 1] ?? "");
  return key.length >= 4 && questionKey.includes(key);
}

function lengthFactor(unit: Unit): number {
  const len = unit.length;
  if (len > 80) return Math.max(0.5, 80 / len);
  if (unit.kind !== "text") return len < 2 ? 0.7 : 1;
  // "Default: `true`", "Type: number": a labelled value is short by nature, not a fragment.
  if (len < 6 && LABELLED_VALUE_RE.test(unit.plain) && (unit.cues.marked > 0 || unit.cues.number || unit.cues.identifier)) return 1;
  if (len < 4) return 0.6;
  if (len < 6) return 0.85;
  return 1;
}

/** Bonus per context index by retrieval-score rank; none when the chunks carry no scores. */
function retrievalRankBonus(context: ContextChunk[]): number[] {
  const bonus = new Array<number>(context.length).fill(0);
  const ranked = context.map((c, i) => ({ i, score: c.score })).filter((c) => typeof c.score === "number");
  ranked.sort((a, b) => (b.score as number) - (a.score as number) || a.i - b.i);
  ranked.forEach((c, rank) => (bonus[c.i] = RANK_BONUS / (1 + rank)));
  return bonus;
}

// Long-context requests hand the reader the same few hundred chunk objects for every question;
// splitting them is most of the work, so units are kept per chunk object (and its text).
const UNIT_CACHE = new WeakMap<ContextChunk, { text: string; headingPath: string; units: Unit[] }>();

function cachedUnits(chunk: ContextChunk, chunkIndex: number): Unit[] {
  const headingPath = chunk.headingPath.join("\u0000");
  let entry = UNIT_CACHE.get(chunk);
  if (!entry || entry.text !== chunk.text || entry.headingPath !== headingPath) {
    entry = { text: chunk.text, headingPath, units: splitUnits(chunk, chunkIndex) };
    UNIT_CACHE.set(chunk, entry);
  }
  return entry.units[0]?.chunk === chunkIndex ? entry.units : entry.units.map((u) => ({ ...u, chunk: chunkIndex }));
}

/** Overlapping chunk windows repeat sentences of a section; keep the first (best-ranked) copy. */
function dedupe(units: Unit[]): Unit[] {
  const seen = new Set<string>();
  return units.filter((u) => {
    // The same words in two sections are two facts ("Default: false" of two settings).
    const key = `${u.headingPath.join("\u0000")}\u0001${u.quote.toLowerCase()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

