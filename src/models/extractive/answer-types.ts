/**
 * Answer types: what kind of sentence answers a question ("how many" → a number, "which setting"
 * → a code span or identifier …), the question-independent cues of a quotable unit, and how well
 * a unit fits a type. See the notes in reader.ts for how they weigh in a unit's score.
 */
import { tokenize } from "../../retrieve/tokenize.ts";

/** What a unit is: prose sentence, table row or code line. */
export type UnitKind = "text" | "row" | "code";

export type AnswerType = "quantity" | "duration" | "time" | "identifier" | "default" | "list" | "person" | "place" | "reason" | "definition" | "procedure" | "yesno";

/** How much a fitting unit is boosted (1 + TYPE_BOOST·strength·fit), and a miss costs confidence (TYPE_MISS·strength). */
export const TYPE_STRENGTH: Record<AnswerType, number> = {
  quantity: 0.6,
  duration: 0.6,
  time: 0.5,
  identifier: 0.5,
  default: 0.6,
  list: 0.5,
  person: 0.3,
  place: 0.3,
  reason: 0.3,
  definition: 0.2,
  procedure: 0.2,
  yesno: 0.1,
};

/** Matched against the lower-cased asking sentence; a question can have several types. */
export const ANSWER_TYPE_PATTERNS: [AnswerType, RegExp][] = [
  [
    "quantity",
    /\bhow\s+(?:many|much|far|often|large|big|small|high|tall|old|wide|deep|heavy)\b|\b(?:maximum|minimum|max|min|limit|limits|cap|quota|percent|percentage|price|prices|cost|costs|fee|fees|rate|number\s+of|amount\s+of|age)\b|\b(?:biggest|largest|smallest|highest|lowest|longest|shortest|most|least|fewest|youngest|oldest|earliest|latest|cheapest|fastest|slowest)\b/,
  ],
  ["duration", /\bhow\s+(?:long|soon|quickly|fast)\b/],
  ["time", /^when\b|\bwhen\s+(?:is|was|were|are|does|do|did|will|can|should)\b|\b(?:what|which)\s+(?:time|date|day|days|year|month|hour)\b/],
  // "What is the default …", "what does X default to", "is X enabled by default?": technical
  // docs state defaults in a labelled line ("Default: `true`") or a "defaults to …" sentence.
  // Any mention of a default, except "by default" qualifying another question in mid-sentence
  // ("which library does it use by default to …"): at the end or in a yes/no question it asks one.
  ["default", /^(?!.*\bby\s+default\b).*\bdefault(?:s|ed)?\b|\bby\s+default\s*\??\s*$|^(?:is|are|was|were|does|do|did|will|can|should)\b.*\bby\s+default\b/],
  [
    "identifier",
    /\b(?:which|what)(?:\s+(?:is|are|was|were|'s))?(?:\s+(?:the|a|an|its|their))?(?:\s+[\w-]+){0,2}?\s+(?:key|keys|shortcut|shortcuts|command|commands|header|headers|setting|settings|option|options|field|flag|flags|variable|parameter|button|menu|endpoint|url|address|path|file|filename|name|code|codes|error|role|permission|scope|scopes|credential|token|value|syntax|port|tab|page|status|method|version|image|hook|hooks|event|events|property|function|directory|folder|extension|protocol|package|plugin|module|library|libraries|argument|format)s?\b/,
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

const STANDALONE_NUMBER_RE = /(?<![\p{L}_-])[$€£¥]?\d+(?:[.,]\d+)*(?:\s?(?:%|[kKmMgGtT]i?[bB]|ms|s|[kK])\b)?(?![\p{L}_])|(?<![\p{L}\p{N}_])\d+(?:st|nd|rd|th|x)\b/u;
const DEFAULT_RE = /\bdefault(?:s|ed)?\b(?:\s+value)?\s*(?:is|to|:|=|of|\()|\bby\s+default\b|\bdefault(?:s|ed)?\s*$/i;
const VALUE_WORD_RE = /\b(?:true|false|null|none|undefined|enabled|disabled|on|off|yes|no|empty)\b/i;

/** Question-independent cues of one unit, computed when the unit is split. */
export interface UnitCues {
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
  /** States a default value: "Default: `x`", "defaults to 5", "(default: none)". */
  defaultValue: boolean;
}

export function unitCues(quote: string, marked: number, kind: UnitKind): UnitCues {
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
    // A quantity, not a digit inside a name ("P1", "SHA-256", "v2", "H1").
    number: STANDALONE_NUMBER_RE.test(quote) || NUMBER_WORDS.test(quote),
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
    defaultValue: DEFAULT_RE.test(quote) && (marked > 0 || /\d/.test(quote) || VALUE_WORD_RE.test(quote) || /["'`]/.test(quote)),
  };
}

/** How well a unit fits an answer type, 0..1. `newNames`: its names the question does not contain. */
export function typeFit(type: AnswerType, c: UnitCues, newNames: number): number {
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
    case "default":
      return c.defaultValue ? 1 : 0;
  }
}
