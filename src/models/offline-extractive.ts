/**
 * `offline:extractive` — a Generator that needs no model. For `qa` it picks the context sentence
 * that answers the question and quotes it with an [n] citation, or abstains; `classify` and
 * `extract` are delegated to the lexical baselines in offline-classify.ts / offline-extract.ts.
 *
 * DESIGN NOTES
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

const TUNE: Record<string, number> = {
  heading: 0.6, // credit for a term found only in the unit's headings
  preamble: 0.5, // weight of terms from the non-question sentences of the input
  absent: 0.6, // weight of a term found nowhere in the context, relative to the largest idf (non-entity)
  typeBonus: 1, // answer-type cue, times the type's strength below
  s_quantity: 0.6,
  s_duration: 0.6,
  s_time: 0.5,
  s_identifier: 0.5,
  s_list: 0.5,
  s_person: 0.3,
  s_place: 0.3,
  s_reason: 0.3,
  s_definition: 0.2,
  s_procedure: 0.2,
  s_yesno: 0.1,
  typeMiss: 0.8, // confidence factor when the best unit lacks the expected answer type
  bigram: 0.1,
  chunk: 0.15,
  rank: 0.05,
  generic: 0.85,
  second: 0.6,
  confBlend: 0, // share of context coverage in the confidence
  ...(process.env.RAGTUNE_READER_TUNING ? (JSON.parse(process.env.RAGTUNE_READER_TUNING) as Record<string, number>) : {}),
};

/** Question words that say what kind of answer is wanted, not what it is about. */
const QUESTION_FILLER: ReadonlySet<string> = new Set(
  "please tell know explain describe would could also want need get happen happens exactly anyone someone possible whats whos wheres hows whens whys".split(" "),
);
// "how long does it take", "how much", "is there a way to" … carry no topic words.
const QUESTION_IDIOMS =
  /\b(?:how\s+(?:long|much|many|often|soon|far)|does\s+it\s+take|do\s+i\s+have\s+to|is\s+there\s+(?:a|any)\s+way\s+to|what(?:'s|\s+is)\s+the\s+best\s+way\s+to)\b/gi;
const ABBREVIATIONS = new Set(["e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "approx", "fig", "cf", "inc", "ltd", "jr", "sr"]);

// ---------------------------------------------------------------------------------------------
// Answer types: what kind of sentence answers the question
// ---------------------------------------------------------------------------------------------

export type AnswerType = "quantity" | "duration" | "time" | "identifier" | "list" | "person" | "place" | "reason" | "definition" | "procedure" | "yesno";

const ANSWER_TYPE_PATTERNS: [AnswerType, RegExp][] = [
  [
    "quantity",
    /\bhow\s+(?:many|much|far|often|large|big|small|high|tall|old|wide|deep|heavy|fast)\b|\b(?:maximum|minimum|max|min|limit|limits|cap|quota|percent|percentage|price|prices|cost|costs|fee|fees|rate|number\s+of|amount\s+of|age)\b|\b(?:biggest|largest|smallest|highest|lowest|longest|shortest|most|least|fewest|youngest|oldest|earliest|latest|cheapest|fastest|slowest)\b/,
  ],
  ["duration", /\bhow\s+(?:long|soon|quickly)\b/],
  ["time", /^when\b|\bwhen\s+(?:is|was|were|are|does|do|did|will|can|should)\b|\b(?:what|which)\s+(?:time|date|day|days|year|month|hour)\b|\bwhat\s+time\b/],
  [
    "identifier",
    /\b(?:which|what)(?:\s+[\w-]+)?\s+(?:key|keys|shortcut|shortcuts|command|commands|header|headers|setting|settings|option|options|field|flag|variable|parameter|button|menu|endpoint|url|address|path|file|filename|name|code|role|permission|scope|scopes|credential|token|value|syntax|port|tab|page|status|method|version)\b/,
  ],
  ["list", /\b(?:which|what)\s+(?:[\w-]+\s+)?(?!(?:does|has|was|is|this|its|us|plus|always|access|business|process|status|address|class|less)\b)[a-z]{3,}(?<![su])s\b|\bwhat\s+are\s+(?:the|some|all)\b|\blist\b|\bname\s+(?:the|all|some)\b/],
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
const DURATION_RE = new RegExp(`\\b(?:\\d+(?:[.,]\\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|few|several)(?:\\s*-\\s*|\\s+)${TIME_UNITS}\\b`, "i");
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
    "\\b(?:\\d+(?:st|nd|rd|th)\\s+century|centuries|century|decade|ago|today|tomorrow|yesterday|daily|weekly|monthly|annually|yearly|midnight|noon|utc|gmt)\\b",
    "\\b(?:at|on|by|until|before|after|from)\\s+the\\s+(?:start|end|beginning|first|last)\\b",
  ].join("|"),
  "i",
);
const REASON_RE = /\b(?:because|since|due\s+to|so\s+that|in\s+order\s+to|as\s+a\s+result|therefore|thus|reasons?|caused|causes|leads?\s+to|led\s+to|resulted\s+in|prevents?|otherwise|so\s+your|so\s+the|so\s+you)\b/i;
const DEFINITION_RE = /\b(?:is|are|was|were)\s+(?:a|an|the|one\s+of)\b|\brefers?\s+to\b|\bmeans\b|\bdefined\s+as\b|\bknown\s+as\b|\bconsists?\s+of\b/i;
const INSTRUCTION_RE =
  /^(?:to\s+\w+|open|click|go|select|choose|tap|press|enter|type|use|set|run|add|turn|switch|pick|sign|download|install|visit|follow|contact|email|call|send|upload|connect|check|make\s+sure|create|invite|copy|paste|drag|find|ask|write|fill|submit|change|remove|delete|edit)\b|→|›|\s>\s/i;
const POLARITY_RE =
  /\b(?:not|no|never|cannot|can't|can|only|must|always|yes|don't|doesn't|isn't|aren't|won't|unlimited|every|both|either|neither|required|optional|automatically|also)\b|n't\b/i;
const IDENTIFIER_RE =
  /(?<![\p{L}\p{N}])(?:[A-Za-z][\w]*[-_][\w-]*\w|[a-z]+[A-Z]\w*|[A-Z]{2,}[A-Z0-9]*|[A-Z](?=\s*(?:$|[,.;:+|)]|\s(?:to|for|on|key)\b))|https?:\/\/\S+|\/[\w/{}:.-]+|\w+\.\w{2,}\/\S*)/u;

/** Question-independent cues of one unit, computed once when the unit is split. */
interface UnitCues {
  number: boolean;
  duration: boolean;
  time: boolean;
  /** Count of code / bold / quoted spans in the source markdown that fall inside the unit. */
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
      const prev = words[i - 1] ?? "";
      if (i === 0 || /[.!?:]$/.test(prev)) return;
      const m = /^["'(“‘]?(\p{Lu}[\p{L}\p{N}'’-]*)/u.exec(w);
      if (m && m[1] !== "I") for (const t of tokenize(m[1])) names.push(t);
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

/** How well a unit fits an answer type, 0..1. `newNames` are its names absent from the question. */
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
  /** Content terms → focus weight: 1 in the sentences that ask, `preamble` in the others. */
  terms: Map<string, number>;
  /** Terms written as names (Capitalised inside a sentence, ALL CAPS, or with digits). */
  entities: Set<string>;
  /** Adjacent content-term pairs of the asking sentences, for phrase matches. */
  bigrams: [string, string][];
  types: Set<AnswerType>;
}

const ASKING_RE = /\?\s*$|^(?:who|whom|whose|what|what's|whats|which|when|where|why|how|is|are|was|were|can|could|does|do|did|will|would|should|has|have|may|must|shall)\b/i;

export function analyzeQuestion(question: string): QuestionAnalysis {
  const sentences = splitSentences(question.replace(/\s+/g, " ").trim());
  const asking = sentences.filter((s) => ASKING_RE.test(s));
  const focus = asking.length > 0 ? asking : sentences;
  const terms = new Map<string, number>();
  const entities = new Set<string>();
  const bigrams: [string, string][] = [];
  const types = new Set<AnswerType>();
  for (const sentence of sentences) {
    const isFocus = focus.includes(sentence);
    const toks = sentenceTerms(sentence);
    for (const t of toks) terms.set(t, Math.max(terms.get(t) ?? 0, isFocus ? 1 : TUNE.preamble));
    if (isFocus) {
      for (let i = 1; i < toks.length; i++) if (toks[i - 1] !== toks[i]) bigrams.push([toks[i - 1], toks[i]]);
      const lower = sentence.toLowerCase().replace(/[’]/g, "'");
      for (const [type, re] of ANSWER_TYPE_PATTERNS) if (re.test(lower)) types.add(type);
    }
    sentence.split(/\s+/).forEach((w, i) => {
      const word = w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
      if ((i > 0 && /^\p{Lu}/u.test(word) && word !== "I") || /^\p{Lu}{2,}$/u.test(word) || /\p{N}/u.test(word)) {
        for (const t of tokenize(word)) if (terms.has(t)) entities.add(t);
      }
    });
  }
  if (types.has("duration")) types.delete("quantity");
  return { terms, entities, bigrams, types };
}

function sentenceTerms(sentence: string): string[] {
  const stripped = sentence.replace(QUESTION_IDIOMS, " ");
  for (const terms of [contentTokens(stripped, QUESTION_FILLER), contentTokens(sentence), tokenize(sentence)]) {
    if (terms.length > 0) return terms;
  }
  return [];
}

// ---------------------------------------------------------------------------------------------

type UnitKind = "text" | "row" | "code";

interface Unit {
  chunk: number;
  kind: UnitKind;
  /** Text quoted in the answer: the original sentence cleaned of markdown syntax. */
  quote: string;
  terms: Set<string>;
  /** Tokens in order, for phrase matches. */
  sequence: string[];
  headingTerms: Set<string>;
  length: number;
  cues: UnitCues;
}

interface Scored {
  unit: Unit;
  order: number;
  /** Share of the question's weight the unit covers, counting every question term. */
  coverage: number;
  fit: number;
  score: number;
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
    const units = dedupe(request.context.flatMap((chunk, i) => splitUnits(chunk, i)));
    if (question.terms.size === 0 || units.length === 0) return abstain(0);
    const ranked = rankUnits(question, units, request.context);
    const best = ranked.scored[0];
    const confidence = ranked.confidence;
    if (confidence < minConfidence || best.coverage === 0) return abstain(confidence);

    const selected = [best.unit];
    const credit = ranked.credit;
    for (const candidate of ranked.scored.slice(1)) {
      if (selected.length >= Math.max(1, this.options.maxSentences)) break;
      if (candidate.score < TUNE.second * best.score) break;
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

function rankUnits(question: QuestionAnalysis, units: Unit[], context: ContextChunk[]) {
  const n = units.length;
  const idf = (df: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));
  const maxIdf = idf(0);
  // Selection weights cover only terms the context mentions somewhere; the confidence weights add
  // the missing ones, names at full weight, ordinary words at `absent` of it.
  const weight = new Map<string, number>();
  const missing = new Map<string, number>();
  for (const [t, focus] of question.terms) {
    let df = 0;
    let inHeading = false;
    for (const u of units) {
      if (u.terms.has(t)) df++;
      else if (u.headingTerms.has(t)) inHeading = true;
    }
    if (df > 0 || inHeading) weight.set(t, focus * idf(df));
    else missing.set(t, focus * maxIdf * (question.entities.has(t) ? 1 : TUNE.absent));
  }
  const present = [...weight.values()].reduce((a, b) => a + b, 0);
  const total = present + [...missing.values()].reduce((a, b) => a + b, 0);
  const credit = (u: Unit, t: string): number => (u.terms.has(t) ? 1 : u.headingTerms.has(t) ? TUNE.heading : 0);
  const covered = (u: Unit): number => {
    let sum = 0;
    for (const [t, w] of weight) sum += w * credit(u, t);
    return sum;
  };

  // Chunk-level support: the share of the question the whole chunk covers.
  const chunkCover = new Array<number>(context.length).fill(0);
  for (let c = 0; c < context.length; c++) {
    const own = units.filter((u) => u.chunk === c);
    if (own.length === 0 || present === 0) continue;
    let sum = 0;
    for (const [t, w] of weight) sum += w * Math.max(...own.map((u) => credit(u, t)));
    chunkCover[c] = sum / present;
  }
  const rankBonus = retrievalRankBonus(context);
  const bigramFraction = (u: Unit): number => {
    if (question.bigrams.length === 0) return 0;
    let hits = 0;
    for (const [a, b] of question.bigrams) {
      for (let i = 0; i < u.sequence.length; i++) {
        if (u.sequence[i] !== a) continue;
        if (u.sequence.slice(i + 1, i + 4).includes(b)) {
          hits++;
          break;
        }
      }
    }
    return hits / question.bigrams.length;
  };

  const scored: Scored[] = units.map((unit, order) => {
    const cov = present > 0 ? covered(unit) / present : 0;
    const textMatch = [...weight.keys()].some((t) => unit.terms.has(t));
    const newNames = new Set(unit.cues.names.filter((t) => !question.terms.has(t))).size;
    let fit = 0;
    for (const type of question.types) fit = Math.max(fit, TUNE[`s_${type}`] * typeFit(type, unit.cues, newNames));
    const typeFactor = textMatch ? 1 + TUNE.typeBonus * fit : 1;
    // Generic: the unit matches only terms its chunk's headings already carry (the page topic).
    const topical = [...weight.keys()].filter((t) => unit.terms.has(t));
    const heading = new Set(tokenize(context[unit.chunk].headingPath.join(" ")));
    const generic = topical.length > 0 && topical.every((t) => heading.has(t)) ? TUNE.generic : 1;
    const score =
      (cov + TUNE.bigram * bigramFraction(unit)) * lengthFactor(unit) * typeFactor * generic + TUNE.chunk * chunkCover[unit.chunk] + rankBonus[unit.chunk];
    return { unit, order, coverage: total > 0 ? covered(unit) / total : 0, fit, score };
  });
  scored.sort((a, b) => b.score - a.score || a.order - b.order);
  const best = scored[0];
  let contextCoverage = 0;
  if (total > 0) {
    let sum = 0;
    for (const [t, w] of weight) sum += w * Math.max(...units.map((u) => credit(u, t)));
    contextCoverage = sum / total;
  }
  const typed = question.types.size > 0 && [...question.types].some((t) => t !== "yesno" && t !== "procedure");
  const confidence =
    ((1 - TUNE.confBlend) * best.coverage + TUNE.confBlend * contextCoverage) * (typed && best.fit === 0 ? TUNE.typeMiss : 1);
  return { scored, confidence, credit };
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
  ranked.forEach((c, rank) => (bonus[c.i] = TUNE.rank / (1 + rank)));
  return bonus;
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
    const spans = markedSpans(raw);
    for (const sentence of splitSentences(cleanMarkdown(raw))) push("text", sentence, "", spans.filter((s) => containsSpan(sentence, s)).length);
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

function containsSpan(sentence: string, span: string): boolean {
  const escaped = span.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, "u").test(sentence);
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
