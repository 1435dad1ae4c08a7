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
 *      support            = (S + C) / 2 · (best unit fits no expected type ? 1 − TYPE_MISS·strength : 1)
 *      confidence         = support ^ CALIBRATION
 *
 * S is how much of the question the quoted sentence itself supports; C is how much of it the
 * documents mention at all (a question about "Bitcoin" when the context never says the word). A
 * "how many" question whose best sentence has no number loses 30% of its support. The exponent is
 * a monotone calibration only: on both benches answering pays off once about half the question is
 * supported, and 0.5^1.5 ≈ 0.35, so the 0.35 default stays the break-even point. The reader
 * abstains below `minConfidence` (or when no unit covers any question term).
 *
 * The answer is the best unit plus, up to `maxSentences`, a unit that covers a question term the
 * answer misses entirely and scores at least SECOND_SENTENCE_RATIO of the best, with or without the
 * answer-type factor (which may belong to the other half of a two-part question).
 *
 * Measured with `node --import tsx bench/reader.ts` (demo suite + CLAP NQ dev).
 *
 * Not done, on purpose: vocabulary of any particular corpus; preferring the newest `version` when
 * two versions of a page say different things (that is what version filters and the
 * stale_knowledge diagnosis are for).
 */
import { contentTokens, tokenize } from "../retrieve/tokenize.ts";
import { FALLBACK_MESSAGE } from "./index.ts";
import type { Citation, ContextChunk, GenerateRequest, GenerateResult, Generator } from "./index.ts";
import { classifyLexical } from "./offline-classify.ts";
import { extractBySchema } from "./offline-extract.ts";
import { countTokens } from "./tokens.ts";

export interface ExtractiveReaderOptions {
  /** Abstain below this confidence (0..1); a request's `minConfidence` overrides it. */
  minConfidence: number;
  /** Most sentences quoted in one answer. */
  maxSentences: number;
  fallbackMessage?: string;
}

// Weights, chosen on the demo suite and CLAP NQ dev together (bench/reader.ts); see the notes above.
const HEADING_CREDIT = 0.6;
const PREAMBLE_WEIGHT = 0.5;
const BIGRAM = 0.1;
const CHUNK_SUPPORT = 0.15;
const RANK_BONUS = 0.05;
const GENERIC_PENALTY = 0.85;
const TYPE_BOOST = 1.5;
const TYPE_MISS = 0.5;
const SECOND_SENTENCE_RATIO = 0.6;
/** confidence = support^CALIBRATION: puts the measured break-even (support ≈ 0.5) at the 0.35 default. */
const CALIBRATION = 1.5;

/** Question words that say what kind of answer is wanted, not what it is about. */
const QUESTION_FILLER: ReadonlySet<string> = new Set(
  "please tell know explain describe would could also want need get happen happens exactly anyone someone possible whats whos wheres hows whens whys".split(
    " ",
  ),
);
// "how long does it take", "how much", "is there a way to" … carry no topic words.
const QUESTION_IDIOMS =
  /\b(?:how\s+(?:long|much|many|often|soon|far)|does\s+it\s+take|do\s+i\s+have\s+to|is\s+there\s+(?:a|any)\s+way\s+to|what(?:'s|\s+is)\s+the\s+best\s+way\s+to)\b/gi;
const ABBREVIATIONS = new Set(["e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "approx", "fig", "cf", "inc", "ltd", "jr", "sr"]);

// ---------------------------------------------------------------------------------------------
// Answer types: what kind of sentence answers the question
// ---------------------------------------------------------------------------------------------

export type AnswerType = "quantity" | "duration" | "time" | "identifier" | "list" | "person" | "place" | "reason" | "definition" | "procedure" | "yesno";

/** How much a fitting unit is boosted (1 + TYPE_BOOST·strength·fit), and a miss costs confidence (TYPE_MISS·strength). */
const TYPE_STRENGTH: Record<AnswerType, number> = {
  quantity: 0.6,
  duration: 0.6,
  time: 0.5,
  identifier: 0.5,
  list: 0.5,
  person: 0.3,
  place: 0.3,
  reason: 0.3,
  definition: 0.2,
  procedure: 0.2,
  yesno: 0.1,
};

/** Matched against the lower-cased asking sentence; a question can have several types. */
const ANSWER_TYPE_PATTERNS: [AnswerType, RegExp][] = [
  [
    "quantity",
    /\bhow\s+(?:many|much|far|often|large|big|small|high|tall|old|wide|deep|heavy)\b|\b(?:maximum|minimum|max|min|limit|limits|cap|quota|percent|percentage|price|prices|cost|costs|fee|fees|rate|number\s+of|amount\s+of|age)\b|\b(?:biggest|largest|smallest|highest|lowest|longest|shortest|most|least|fewest|youngest|oldest|earliest|latest|cheapest|fastest|slowest)\b/,
  ],
  ["duration", /\bhow\s+(?:long|soon|quickly|fast)\b/],
  ["time", /^when\b|\bwhen\s+(?:is|was|were|are|does|do|did|will|can|should)\b|\b(?:what|which)\s+(?:time|date|day|days|year|month|hour)\b/],
  [
    "identifier",
    /\b(?:which|what)(?:\s+[\w-]+)?\s+(?:key|keys|shortcut|shortcuts|command|commands|header|headers|setting|settings|option|options|field|flag|variable|parameter|button|menu|endpoint|url|address|path|file|filename|name|code|role|permission|scope|scopes|credential|token|value|syntax|port|tab|page|status|method|version)\b/,
  ],
  [
    "list",
    // "which (export) formats are …", "which apps can …", "… on which plans?": a plural noun, told
    // from a verb ("which header carries …") by what follows it.
    /\b(?:which|what)\s+(?:[\w-]+\s+)?(?!(?:does|has|was|is|this|its|us|plus|always|access|business|process|status|address|class|less)\b)[a-z]{3,}(?<![su])s(?:\s+(?:are|were|do|did|does|can|could|will|would|should|have|has|is|was|come|include|support|let|allow|offer|work|exist|get|need|[a-z]+ed)\b|\s*\?|\s*$)|\bwhat\s+are\s+(?:the|some|all)\b|\blist\b|\bname\s+(?:the|all|some)\b/,
  ],
  ["person", /\bwho(?:m|se)?\b/],
  ["place", /\bwhere\b/],
  ["reason", /\bwhy\b|\bwhat\s+(?:causes|caused)\b|\breasons?\b/],
  ["definition", /^(?:what|who)\s+(?:is|are|was|were)\s|\bwhat\s+does\s+.+\s+mean\b|\bmeaning\s+of\b|\bdefin(?:e|ition)\b/],
  ["procedure", /\bhow\s+(?:do|does|can|could|should|would|to|is|are)\b/],
  ["yesno", /^(?:is|are|was|were|can|could|does|do|did|will|would|should|has|have|had|may|must|shall)\b/],
];

const NUMBER_WORDS =
  /\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|dozen|unlimited|half|twice|double)\b/i;
const TIME_UNITS = "(?:second|sec|minute|min|hour|hr|day|business\\s+day|working\\s+day|week|month|year|decade|century)s?";
const DURATION_RE = new RegExp(
  `\\b(?:\\d+(?:[.,]\\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|few|several)(?:\\s*-\\s*|\\s+)${TIME_UNITS}\\b`,
  "i",
);
const MONTH = "(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\\.?";
const TIME_RE = new RegExp(
  [
    `\\b${MONTH}\\s+\\d{1,2}\\b`,
    `\\b\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\b`,
    `\\b${MONTH}\\s+(?:of\\s+)?\\d{4}\\b`,
    "\\b(?:1[0-9]|20)\\d{2}s?\\b",
    "\\b\\d{4}-\\d{2}-\\d{2}\\b",
    "\\b\\d{1,2}:\\d{2}\\b",
    "\\b\\d{1,2}\\s*(?:am|pm|a\\.m\\.|p\\.m\\.)",
    "\\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekdays?|weekends?)\\b",
    "\\b(?:\\d+(?:st|nd|rd|th)\\s+century|centuries|century|decade|ago|today|tomorrow|yesterday|midnight|noon|utc|gmt)\\b",
    "\\b(?:at|on|by|until|before|after|from)\\s+the\\s+(?:start|end|beginning|first|last)\\b",
    "\\b(?:each|every)\\s+(?:day|week|month|year|morning|evening|night)\\b",
    "\\bthe\\s+same\\s+(?:day|date|time)\\b",
  ].join("|"),
  "i",
);
const REASON_RE =
  /\b(?:because|since|due\s+to|so\s+that|in\s+order\s+to|as\s+a\s+result|therefore|thus|reasons?|caused|causes|leads?\s+to|led\s+to|resulted\s+in|prevents?|otherwise|so\s+your|so\s+the|so\s+you)\b/i;
const DEFINITION_RE = /\b(?:is|are|was|were)\s+(?:a|an|the|one\s+of)\b|\brefers?\s+to\b|\bmeans\b|\bdefined\s+as\b|\bknown\s+as\b|\bconsists?\s+of\b/i;
const INSTRUCTION_RE =
  /^(?:to\s+\w+|open|click|go|select|choose|tap|press|enter|type|use|set|run|add|turn|switch|pick|sign|download|install|visit|follow|contact|email|call|send|upload|connect|check|make\s+sure|create|invite|copy|paste|drag|find|ask|write|fill|submit|change|remove|delete|edit)\b|→|›|\s>\s/i;
const POLARITY_RE =
  /\b(?:not|no|never|cannot|only|must|always|yes|unlimited|every|both|either|neither|required|optional|automatically)\b|n't\b/i;
// kebab/snake_case, camelCase, ACRONYMS, a lone capital used as a key ("press N"), URLs and paths.
const IDENTIFIER_RE =
  /(?<![\p{L}\p{N}])(?:[A-Za-z][\w]*[-_][\w-]*\w|[a-z]+[A-Z]\w*|[A-Z]{2,}[A-Z0-9]*|[A-Z](?=\s*(?:$|[,.;:+|)]|\s(?:to|for|on|key)\b))|https?:\/\/\S+|\/[\w/{}:.-]+|\w+\.\w{2,}\/\S*)/u;

/** Question-independent cues of one unit, computed when the unit is split. */
interface UnitCues {
  number: boolean;
  duration: boolean;
  time: boolean;
  /** Code, bold and quoted spans of the source markdown that fall inside the unit. */
  marked: number;
  identifier: boolean;
  /** Stems of Capitalised words that do not start a sentence or a table cell. */
  names: string[];
  commas: number;
  conjunction: boolean;
  reason: boolean;
  definition: boolean;
  instruction: boolean;
  polarity: boolean;
}

function unitCues(quote: string, marked: number, kind: UnitKind): UnitCues {
  const names: string[] = [];
  for (const cell of quote.split(" | ")) {
    const words = cell.split(/\s+/);
    words.forEach((w, i) => {
      if (i === 0 || /[.!?:]$/.test(words[i - 1])) return;
      const m = /^["'(“‘]?(\p{Lu}[\p{L}\p{N}'’-]*)/u.exec(w);
      if (m && m[1] !== "I") names.push(...tokenize(m[1]));
    });
  }
  return {
    number: /\d/.test(quote) || NUMBER_WORDS.test(quote),
    duration: DURATION_RE.test(quote),
    time: TIME_RE.test(quote),
    marked,
    identifier: kind === "code" || IDENTIFIER_RE.test(quote),
    names,
    commas: (quote.match(/,/g) ?? []).length + (quote.match(/ \| /g) ?? []).length,
    conjunction: /\b(?:and|or)\b/i.test(quote),
    reason: REASON_RE.test(quote),
    definition: DEFINITION_RE.test(quote),
    instruction: INSTRUCTION_RE.test(quote) || marked > 0,
    polarity: POLARITY_RE.test(quote),
  };
}

/** How well a unit fits an answer type, 0..1. `newNames`: its names the question does not contain. */
function typeFit(type: AnswerType, c: UnitCues, newNames: number): number {
  switch (type) {
    case "quantity":
      return c.number ? 1 : 0;
    case "duration":
      return c.duration ? 1 : c.number || c.time ? 0.5 : 0;
    case "time":
      return c.time ? 1 : c.duration ? 0.6 : 0;
    case "identifier":
      return c.marked > 0 ? 1 : c.identifier ? 0.7 : 0;
    case "list":
      return newNames >= 3 || (c.commas >= 2 && c.conjunction) ? 1 : newNames === 2 || (c.commas >= 1 && c.conjunction) ? 0.6 : 0;
    case "person":
      return newNames >= 2 ? 1 : newNames === 1 ? 0.6 : 0;
    case "place":
      return newNames >= 1 || c.marked > 0 ? 1 : 0;
    case "reason":
      return c.reason ? 1 : 0;
    case "definition":
      return c.definition ? 1 : 0;
    case "procedure":
      return c.instruction ? 1 : 0;
    case "yesno":
      return c.polarity ? 1 : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Question analysis
// ---------------------------------------------------------------------------------------------

export interface QuestionAnalysis {
  /** Content terms → focus: 1 in the sentences that ask, PREAMBLE_WEIGHT in the others. */
  terms: Map<string, number>;
  /** Adjacent content-term pairs of the asking sentences, for phrase matches. */
  bigrams: [string, string][];
  types: Set<AnswerType>;
}

const ASKING_RE = /\?\s*$|^(?:who|whom|whose|what|what's|whats|which|when|where|why|how|is|are|was|were|can|could|does|do|did|will|would|should|has|have|may|must|shall)\b/i;

export function analyzeQuestion(question: string): QuestionAnalysis {
  const sentences = splitSentences(question.replace(/\s+/g, " ").trim());
  const asking = sentences.filter((s) => ASKING_RE.test(s));
  const focus = new Set(asking.length > 0 ? asking : sentences);
  const terms = new Map<string, number>();
  const bigrams: [string, string][] = [];
  const types = new Set<AnswerType>();
  for (const sentence of sentences) {
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
  return { terms, bigrams, types };
}

function sentenceTerms(sentence: string): string[] {
  return contentTokens(sentence.replace(QUESTION_IDIOMS, " "), QUESTION_FILLER);
}

// ---------------------------------------------------------------------------------------------

type UnitKind = "text" | "row" | "code";

interface Unit {
  chunk: number;
  kind: UnitKind;
  /** Text quoted in the answer: the original sentence cleaned of markdown syntax. */
  quote: string;
  terms: Set<string>;
  /** Content tokens in order, for phrase matches. */
  sequence: string[];
  headingTerms: Set<string>;
  length: number;
  cues: UnitCues;
}

interface Scored {
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

  constructor(options: ExtractiveReaderOptions) {
    this.options = options;
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

  private answer(request: GenerateRequest): GenerateResult {
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
    const units = dedupe(request.context.flatMap((chunk, i) => cachedUnits(chunk, i)));
    if (question.terms.size === 0 || units.length === 0) return abstain(0);
    const { scored, confidence, credit } = rankUnits(question, units, request.context);
    const best = scored[0];
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

    // Markers are numbered by first appearance, one per distinct chunk.
    const markerOf = new Map<number, number>();
    const citations: Citation[] = [];
    const parts = selected.map((unit) => {
      let marker = markerOf.get(unit.chunk);
      if (marker === undefined) {
        marker = citations.length + 1;
        markerOf.set(unit.chunk, marker);
        const c = request.context[unit.chunk];
        citations.push({ marker, chunkId: c.id, path: c.path, headingPath: c.headingPath, lineStart: c.lineStart, lineEnd: c.lineEnd });
      }
      return `${unit.quote} [${marker}]`;
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

/** Scores every unit (best first) and the confidence that the best one answers; see the notes on top. */
function rankUnits(question: QuestionAnalysis, units: Unit[], context: ContextChunk[]) {
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
  const topicTerms = context.map((c) => new Set(tokenize(c.headingPath.join(" "))));
  const rankBonus = retrievalRankBonus(context);
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
    const typeFactor = matched.length > 0 ? 1 + TYPE_BOOST * fit : 1;
    const generic = matched.length > 0 && matched.every((t) => topicTerms[unit.chunk].has(t)) ? GENERIC_PENALTY : 1;
    const lexical = (coverage + BIGRAM * phraseShare(unit)) * lengthFactor(unit) * generic;
    const passage = CHUNK_SUPPORT * chunkCoverage[unit.chunk] + rankBonus[unit.chunk];
    return { unit, order, coverage, fit, score: lexical * typeFactor + passage, base: lexical + passage };
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);

  const best = scored[0];
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
  const typeMiss = best.fit === 0 ? 1 - TYPE_MISS * strength : 1;
  const support = total > 0 ? ((sentenceSupport + contextSupport) / (2 * total)) * typeMiss : 0;
  return { scored, confidence: support ** CALIBRATION, credit };
}

function lengthFactor(unit: Unit): number {
  const len = unit.length;
  if (len > 80) return Math.max(0.5, 80 / len);
  if (unit.kind !== "text") return len < 2 ? 0.7 : 1;
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

/** Overlapping chunk windows repeat sentences; keep the first (best-ranked) copy. */
function dedupe(units: Unit[]): Unit[] {
  const seen = new Set<string>();
  return units.filter((u) => {
    const key = u.quote.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Markdown → sentence units
// ---------------------------------------------------------------------------------------------

const FENCE_RE = /^\s*(```|~~~)/;
const ATX_HEADING_RE = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM_RE = /^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$/;
const TABLE_SEPARATOR_RE = /^\|?\s*:?-{1,}:?\s*(?:\|\s*:?-{1,}:?\s*)*\|?$/;
const RULE_RE = /^\s*(?:[-*_]\s*){3,}$/;
const SETEXT_RE = /^\s*(=+|-+)\s*$/;

/** Split one context chunk into quotable units. */
export function splitUnits(chunk: ContextChunk, chunkIndex: number): Unit[] {
  const units: Unit[] = [];
  const localHeadings: { level: number; text: string }[] = [];
  let paragraph: string[] = [];
  let inFence = false;
  let tableHeader: string[] | undefined;
  let lastRow: { unit: Unit; cells: string[] } | undefined;

  const headingText = (): string => [...chunk.headingPath, ...localHeadings.map((h) => h.text)].join(" ");
  const push = (kind: UnitKind, quote: string, extraHeading = "", marked = 0): Unit | undefined => {
    const terms = tokenize(quote);
    if (terms.length === 0) return undefined;
    const unit: Unit = {
      chunk: chunkIndex,
      kind,
      quote,
      terms: new Set(terms),
      sequence: contentTokens(quote),
      headingTerms: new Set(tokenize(`${headingText()} ${extraHeading}`)),
      length: terms.length,
      cues: unitCues(quote, marked, kind),
    };
    units.push(unit);
    return unit;
  };
  const flushParagraph = (): void => {
    if (paragraph.length === 0) return;
    const raw = paragraph.join(" ");
    const spans = markedSpans(raw).map(spanMatcher);
    for (const sentence of splitSentences(cleanMarkdown(raw))) push("text", sentence, "", spans.filter((s) => s(sentence)).length);
    paragraph = [];
  };

  for (const line of chunk.text.split(/\r?\n/)) {
    if (FENCE_RE.test(line)) {
      flushParagraph();
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      if (line.trim()) push("code", line.trim(), "", 1);
      continue;
    }
    const trimmed = line.trim();
    if (!trimmed.startsWith("|")) {
      tableHeader = undefined;
      lastRow = undefined;
    }
    if (!trimmed) {
      flushParagraph();
      continue;
    }
    const atx = ATX_HEADING_RE.exec(line);
    if (atx) {
      flushParagraph();
      const level = atx[1].length;
      while (localHeadings.length > 0 && localHeadings[localHeadings.length - 1].level >= level) localHeadings.pop();
      localHeadings.push({ level, text: cleanMarkdown(atx[2]) });
      continue;
    }
    if (SETEXT_RE.test(line) && paragraph.length === 1) {
      // "Title\n=====": the paragraph line was a heading.
      localHeadings.length = 0;
      localHeadings.push({ level: line.includes("=") ? 1 : 2, text: cleanMarkdown(paragraph[0]) });
      paragraph = [];
      continue;
    }
    if (RULE_RE.test(line)) {
      flushParagraph();
      continue;
    }
    if (trimmed.startsWith("|")) {
      flushParagraph();
      if (TABLE_SEPARATOR_RE.test(trimmed)) {
        // The row above was the header: it describes the columns, it is not an answer.
        if (lastRow) {
          tableHeader = lastRow.cells;
          units.splice(units.indexOf(lastRow.unit), 1);
          lastRow = undefined;
        }
        continue;
      }
      const cells = tableCells(trimmed);
      const quote = cells.filter(Boolean).join(" | ");
      const unit = push("row", quote, tableHeader?.join(" ") ?? "", markedSpans(trimmed).length);
      lastRow = unit && !tableHeader ? { unit, cells } : undefined;
      continue;
    }
    const item = LIST_ITEM_RE.exec(line);
    if (item) {
      flushParagraph();
      paragraph.push(item[1]);
      continue;
    }
    paragraph.push(trimmed.replace(/^(?:>\s?)+/, ""));
  }
  flushParagraph();
  return units;
}

/** Inner text of `code`, **bold** and quoted spans: names of keys, settings, headers, UI items. */
function markedSpans(markdown: string): string[] {
  const spans: string[] = [];
  for (const m of markdown.matchAll(/(`+)(.+?)\1|(\*\*|__)(?=\S)(.+?)(?<=\S)\3|["“]([^"”]{1,60})["”]/g)) {
    const span = cleanMarkdown(m[2] ?? m[4] ?? m[5] ?? "");
    // "**Note:**" and the like label a paragraph; they name nothing.
    if (span && !/:$/.test(span)) spans.push(span);
  }
  return spans;
}

/** Tests whether a sentence contains the span as a whole word or phrase ("N" in "press N", not in "Note"). */
function spanMatcher(span: string): (sentence: string) => boolean {
  let re: RegExp | undefined;
  return (sentence) => {
    if (!sentence.includes(span)) return false;
    re ??= new RegExp(`(?<![\\p{L}\\p{N}])${span.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\p{L}\\p{N}])`, "u");
    return re.test(sentence);
  };
}

function tableCells(row: string): string[] {
  const inner = row.replace(/^\|/, "").replace(/(?<!\\)\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => cleanMarkdown(cell.replace(/\\\|/g, "|")));
}

/** Markdown syntax removed, the words kept: links → their text, emphasis/code marks dropped. */
export function cleanMarkdown(text: string): string {
  return (
    text
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
      .replace(/\[([^\]]+)\]\[[^\]]*\]/g, "$1")
      .replace(/\[\^[^\]]*\]/g, "")
      .replace(/<((?:https?|mailto):[^>\s]+)>/g, "$1")
      .replace(/<\/?[A-Za-z][^>]*>/g, " ")
      .replace(/(`+)(.+?)\1/g, "$2")
      .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, "$2")
      .replace(/(^|[^\p{L}\p{N}*])\*(?=\S)(.+?)(?<=\S)\*(?![\p{L}\p{N}*])/gu, "$1$2")
      // `_` only at word boundaries, so snake_case identifiers survive.
      .replace(/(^|[^\p{L}\p{N}_])_(?=\S)(.+?)(?<=\S)_(?![\p{L}\p{N}_])/gu, "$1$2")
      .replace(/~~(.+?)~~/g, "$1")
      // Bracketed numbers would be mistaken for our citation markers.
      .replace(/\[\d+\]/g, "")
      .replace(/\s+/g, " ")
      .trim()
  );
}

/** Sentence split on . ! ? followed by a capital, digit or opening quote — not after abbreviations. */
export function splitSentences(text: string): string[] {
  const pieces = text.split(/(?<=[.!?]["'”’)\]]?)\s+(?=["'“‘(\[]?[\p{Lu}\p{N}])/u);
  const out: string[] = [];
  for (const piece of pieces) {
    const prev = out[out.length - 1];
    if (prev !== undefined) {
      const lastWord = /([\p{L}.]+)\.$/u.exec(prev)?.[1]?.toLowerCase();
      if (lastWord && (ABBREVIATIONS.has(lastWord) || /^\p{L}$/u.test(lastWord))) {
        out[out.length - 1] = `${prev} ${piece}`;
        continue;
      }
    }
    out.push(piece);
  }
  return out.map((s) => s.trim()).filter(Boolean);
}
