/**
 * Rule-based extraction guided by a JSON Schema: the prompt-only baseline for `extract` when no
 * model is configured. It reads each top-level property's schema (type, format, pattern, enum,
 * name) and applies the first rule that fits:
 *
 * - `enum` → the enum value whose words (snake/camel case split, stemmed) all occur in the text;
 *   arrays whose `items` have an enum collect every mentioned value.
 * - `pattern` → first (unanchored) match.
 * - `format: email` (or an `*email*` name) → first e-mail address; `format: date` → first date
 *   (ISO or "March 3, 2024" / "3 March 2024", normalised to YYYY-MM-DD); `date-time`, `uri`,
 *   `*phone*` similarly.
 * - `number`/`integer` → the number closest to words of the property name (`amount_usd` → near
 *   "amount" / "USD"), with a bonus for currency-marked numbers when the name is money-like.
 * - `*name*` strings → `From: Name <email>` header, "my name is …", or a signature line.
 * - `*version*` strings → the version number nearest the name's qualifier (`node_version` → the
 *   version after "node"), without a leading "v" unless the description asks for it as written;
 *   a range prefix (^, ~, >=) is kept when the description says "range" or "as written".
 * - `package` / `module` / `library` / `dependency` strings → the name written before a version
 *   ("typescript 5.4.2", "fastify@4.28.1").
 * - `url` / `route` / `path` / `endpoint` strings → a URL, else the first `/path/:param`.
 * - `boolean` → true when the name's words occur (the head word among them) and are not negated.
 * - numbers respect `minimum` / `maximum`; with no name word near any number, the one number in
 *   range that is not part of a version or date.
 * - anything else → a `Label: value` line whose label words match the property name.
 *
 * A property that no rule finds is omitted rather than guessed. No synonyms or paraphrases are
 * understood — that is the point of a baseline.
 */
import { contentTokens, tokenize } from "../retrieve/tokenize.ts";
import { labelNameText } from "./offline-classify.ts";
import { setOwn } from "../util/own.ts";

type Schema = Record<string, unknown>;

const EMAIL_RE = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}/u;
const URL_RE = /\bhttps?:\/\/[^\s<>()"']+[^\s<>()"'.,;:!?]/u;
const PHONE_RE = /(?<![\p{L}\p{N}])\+?\d[\d ().-]{6,}\d(?![\p{L}\p{N}])/u;
const ISO_DATE_TIME_RE = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/;
const ISO_DATE_RE = /\b(\d{4})-(\d{2})-(\d{2})\b/;
const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const MONTH = "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const MDY_RE = new RegExp(`\\b${MONTH}\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, "i");
const DMY_RE = new RegExp(`\\b(\\d{1,2})(?:st|nd|rd|th)?\\s+${MONTH}\\.?,?\\s+(\\d{4})\\b`, "i");
// A number, optionally with a currency symbol before or a currency code / % after it.
const NUMBER_RE =
  /(?<![\p{L}\p{N}#.,/-])([$€£¥])?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\p{N}]|[.,/-]\d)(?:\s?(usd|eur|gbp|dollars?|euros?|pounds?|%))?(?![\p{L}\p{N}])/giu;
// Stemmed, to compare with the stemmed words of a property name.
const MONEY_WORDS = new Set(
  "amount price cost total fee usd eur gbp dollar euro refund charge paid payment balance invoice budget salary"
    .split(" ")
    .map((w) => tokenize(w)[0]),
);
const NAME_PART = "[\\p{Lu}][\\p{L}'’.-]*";
const PERSON_NAME_RE = new RegExp(`^${NAME_PART}(?:\\s+${NAME_PART}){0,3}$`, "u");
const SIGN_OFF_RE = /^(?:thanks|thank you|many thanks|best|best regards|regards|kind regards|warm regards|cheers|sincerely|yours|all the best)\s*[,.!]?\s*$/i;
const NOT_A_PERSON = /company|organi[sz]ation|org|business|product|file|user_?name|host|domain|project|team|brand|merchant/i;

/** Extract values for the schema's top-level properties from `text`. */
export function extractBySchema(text: string, schema: Schema): Record<string, unknown> {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = {};
  const context = new TextIndex(text);
  for (const [name, raw] of Object.entries(properties)) {
    if (!isObject(raw)) continue;
    const value = extractProperty(name, raw, context);
    if (value !== undefined) setOwn(out, name, value);
  }
  return out;
}

function extractProperty(name: string, prop: Schema, text: TextIndex): unknown {
  const types = typesOf(prop);
  if (Array.isArray(prop.enum)) return matchEnum(prop.enum, name, text);
  if (types.includes("array")) {
    const items = isObject(prop.items) ? prop.items : undefined;
    if (items && Array.isArray(items.enum)) {
      const found = items.enum.filter((v) => matchEnum([v], name, text) !== undefined);
      return found.length > 0 ? found : undefined;
    }
    return undefined;
  }
  if (types.includes("number") || types.includes("integer")) {
    const n = numberNear(name, text, types.includes("integer") && !types.includes("number"), rangeOf(prop));
    if (n !== undefined) return n;
  }
  if (types.includes("boolean")) {
    const b = booleanFlag(name, text);
    if (b !== undefined) return b;
  }
  if (types.includes("string")) return stringValue(name, prop, text);
  return undefined;
}

const VERSION_RE = /(?<![\w.])((?:\^|~|[<>]=?|=)?)(v?)(\d+(?:\.\d+){1,3}(?:-[0-9A-Za-z.-]+)?|\d+(?=\.x\b))(?![\w])/g;
const PATH_RE = /(?<![\w/.:])\/(?:[\w.~%{}*@!$&'()+,;=:-]+\/?)*(?![\w])/g;
const PACKAGE_RE = /^(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;
const NEGATION_RE = /\b(?:not|no|never|without|don'?t|doesn'?t|isn'?t)\s+(?:\w+\s+){0,4}$/i;

/** Words of the property name that qualify it ("node" in node_version), stemmed. */
function qualifierTerms(name: string, head: RegExp): string[] {
  return contentTokens(labelNameText(name)).filter((t) => !head.test(t));
}

/** The version number nearest the property name's qualifier words (see the notes on top). */
function versionNear(name: string, prop: Schema, text: TextIndex): string | undefined {
  const description = typeof prop.description === "string" ? prop.description.toLowerCase() : "";
  const keepRange = /range|as (?:the user )?wr[io]te|exactly as/.test(description);
  const keepV = /leading v\b(?! *\))/.test(description) && !/no leading v|without (?:a |the )?leading v/.test(description);
  const qualifiers = qualifierTerms(name, /^(?:version|ver|v)$/);
  let best: { value: string; score: number } | undefined;
  for (const m of text.raw.matchAll(VERSION_RE)) {
    const [, range, v, number] = m;
    const value = `${keepRange ? range : ""}${keepV ? v : ""}${number}`;
    const at = text.wordIndexAt(m.index ?? 0);
    let score = qualifiers.length === 0 ? 1 / (1 + at) : 0;
    for (const q of qualifiers) {
      // Qualifier words come before their version: "node v20", "fastify@4.28.1", "`pnpm -v` says 11.4.1".
      const d = text.distanceBefore(q, at);
      if (d <= 6) score += 1 / (1 + d);
    }
    if (score > 0 && (!best || score > best.score)) best = { value, score };
  }
  return best?.value;
}

/** The package name written just before a version ("lodash-es ^4.17.21", "fastify@4.28.1"). */
function packageBeforeVersion(text: TextIndex): string | undefined {
  for (const m of text.raw.matchAll(VERSION_RE)) {
    const before = text.raw.slice(0, m.index).replace(/[@\s]+$/, "");
    const word = /([@\w./-]+)$/.exec(before)?.[1];
    if (word && PACKAGE_RE.test(word) && !/^(?:version|v|node|to|at|is|of|on|and|or)$/i.test(word) && !/^\d/.test(word)) return word;
  }
  return undefined;
}

/** True when the name's words occur, the head (last) word among them, and are not negated. */
function booleanFlag(name: string, text: TextIndex): boolean | undefined {
  const terms = contentTokens(labelNameText(name));
  if (terms.length === 0) return undefined;
  const head = terms[terms.length - 1];
  const present = terms.filter((t) => text.positions.has(t));
  if (!present.includes(head) || present.length * 2 < terms.length) return undefined;
  const at = text.wordStartOffset(text.positions.get(head)!);
  return NEGATION_RE.test(text.raw.slice(Math.max(0, at - 40), at)) ? false : true;
}

function rangeOf(prop: Schema): { min: number; max: number } {
  const num = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) ? v : fallback);
  return {
    min: Math.max(num(prop.minimum, -Infinity), num(prop.exclusiveMinimum, -Infinity) + (typeof prop.exclusiveMinimum === "number" ? Number.EPSILON : 0)),
    max: Math.min(num(prop.maximum, Infinity), num(prop.exclusiveMaximum, Infinity) - (typeof prop.exclusiveMaximum === "number" ? Number.EPSILON : 0)),
  };
}

function stringValue(name: string, prop: Schema, text: TextIndex): string | undefined {
  const lowerName = name.toLowerCase();
  const format = typeof prop.format === "string" ? prop.format : undefined;
  if (typeof prop.pattern === "string") return firstPatternMatch(prop.pattern, text.raw);
  if (format === "email" || (!format && /e-?mail/.test(lowerName))) return text.raw.match(EMAIL_RE)?.[0];
  if (format === "date") return firstDate(text.raw);
  if (format === "date-time") return text.raw.match(ISO_DATE_TIME_RE)?.[0];
  if (format === "uri" || format === "url") return text.raw.match(URL_RE)?.[0];
  if (!format && /url|link|website|route|path|endpoint|uri/.test(lowerName)) {
    const url = text.raw.match(URL_RE)?.[0];
    if (url || /link|website/.test(lowerName)) return url;
    // A route or path written without a host: "/api/users/:id".
    return text.raw.match(PATH_RE)?.find((p) => p.length > 1)?.replace(/[.,;:]+$/, "");
  }
  if (/phone|mobile|tel/.test(lowerName)) return text.raw.match(PHONE_RE)?.[0]?.trim();
  if (/version|(?:^|_)ver(?:$|_)/.test(lowerName)) return versionNear(name, prop, text);
  if (/package|module|library|dependency|(?:^|_)dep(?:$|_)|plugin/.test(lowerName)) {
    const pkg = packageBeforeVersion(text);
    if (pkg) return pkg;
  }

  if (/name/.test(lowerName) && !NOT_A_PERSON.test(lowerName)) {
    const person = personName(text.raw);
    if (person) return person;
  }
  return labelledValue(name, text);
}

/** JSON Schema patterns are unanchored, but authors often write ^…$; drop those to search. */
function firstPatternMatch(pattern: string, raw: string): string | undefined {
  const unanchored = pattern.replace(/^\^/, "").replace(/(?<!\\)\$$/, "");
  for (const flags of ["u", ""]) {
    try {
      return raw.match(new RegExp(unanchored, flags))?.[0];
    } catch {
      // Not valid with the `u` flag (e.g. `\-` escapes); retry without it.
    }
  }
  return undefined;
}

function firstDate(raw: string): string | undefined {
  const candidates: { index: number; value: string }[] = [];
  const iso = ISO_DATE_RE.exec(raw);
  if (iso) candidates.push({ index: iso.index, value: iso[0] });
  const mdy = MDY_RE.exec(raw);
  if (mdy) candidates.push({ index: mdy.index, value: ymd(mdy[3], monthNumber(mdy[1]), mdy[2]) });
  const dmy = DMY_RE.exec(raw);
  if (dmy) candidates.push({ index: dmy.index, value: ymd(dmy[3], monthNumber(dmy[2]), dmy[1]) });
  candidates.sort((a, b) => a.index - b.index);
  return candidates[0]?.value;
}

function monthNumber(name: string): number {
  const lower = name.toLowerCase().slice(0, 3);
  return MONTHS.findIndex((m) => m.startsWith(lower)) + 1;
}

function ymd(year: string, month: number, day: string): string {
  return `${year}-${String(month).padStart(2, "0")}-${day.padStart(2, "0")}`;
}

function personName(raw: string): string | undefined {
  const from = /^\s*from:\s*"?([^"<\n]+?)"?\s*<[^>\n]+>/im.exec(raw) ?? /^\s*from:\s*([^\n<@]+?)\s*$/im.exec(raw);
  if (from && PERSON_NAME_RE.test(from[1].trim())) return from[1].trim();
  // "This is" only counts before "from/at/here" ("This is Urgent" is not a name).
  const introduced =
    /\b[Mm]y name is\s+(\p{Lu}[\p{L}'’-]+(?:\s+\p{Lu}[\p{L}'’-]+){0,2})/u.exec(raw) ??
    /\b[Tt]his is\s+(\p{Lu}[\p{L}'’-]+(?:\s+\p{Lu}[\p{L}'’-]+){0,2})(?=\s+(?:from|at|here|with)\b)/u.exec(raw);
  if (introduced) return introduced[1];
  const lines = raw.split(/\r?\n/).map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    const dash = /^(?:--|—|–)\s*(.+)$/.exec(lines[i]);
    if (dash && PERSON_NAME_RE.test(dash[1].trim())) return dash[1].trim();
    if (!SIGN_OFF_RE.test(lines[i])) continue;
    const next = lines.slice(i + 1).find((l) => l.length > 0);
    if (next && PERSON_NAME_RE.test(next)) return next;
  }
  return undefined;
}

/** `Order number: A-123` → "A-123" for a property named order_number. */
function labelledValue(name: string, text: TextIndex): string | undefined {
  const wanted = new Set(contentTokens(labelNameText(name)).filter((t) => !t.includes("-") && !t.includes("_")));
  if (wanted.size === 0) return undefined;
  for (const line of text.raw.split(/\r?\n/)) {
    const m = /^\s*[-*]?\s*([\p{L}][\p{L}\p{N} _/-]{0,40}?)\s*[:=]\s*(\S.*?)\s*$/u.exec(line);
    if (!m) continue;
    const label = new Set(contentTokens(labelNameText(m[1])));
    let overlap = 0;
    for (const t of wanted) if (label.has(t)) overlap++;
    if (overlap > 0 && (overlap === wanted.size || overlap === label.size)) return m[2].replace(/[.;,]+$/, "");
  }
  return undefined;
}

function matchEnum(values: unknown[], propertyName: string, text: TextIndex): unknown {
  const nameTerms = new Set(contentTokens(labelNameText(propertyName)));
  let best: { value: unknown; score: number; position: number } | undefined;
  for (const value of values) {
    if (typeof value !== "string" && typeof value !== "number") continue;
    const str = String(value);
    let words = contentTokens(labelNameText(str));
    if (words.length === 0) words = tokenize(labelNameText(str));
    // `high_priority` for a `priority` property: "high" is what distinguishes the value.
    const distinctive = words.filter((w) => !nameTerms.has(w) && !w.includes("-") && !w.includes("_"));
    const needed = distinctive.length > 0 ? distinctive : words;
    if (needed.length === 0 || !needed.every((w) => text.positions.has(w))) continue;
    const position = Math.min(...needed.map((w) => text.positions.get(w) ?? Infinity));
    // The value spelled out as-is ("high_priority" or "high priority") is stronger evidence.
    const phrase = [str, labelNameText(str)].some((form) =>
      new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(form)}(?![\\p{L}\\p{N}])`, "iu").test(text.raw),
    )
      ? 1
      : 0;
    const score = needed.length + phrase;
    if (!best || score > best.score || (score === best.score && position < best.position)) best = { value, score, position };
  }
  return best?.value;
}

function numberNear(propertyName: string, text: TextIndex, integer: boolean, range = { min: -Infinity, max: Infinity }): number | undefined {
  const nameTerms = contentTokens(labelNameText(propertyName));
  const moneyLike = nameTerms.some((t) => MONEY_WORDS.has(t));
  const percentLike = /percent|pct|rate|ratio|discount/i.test(propertyName);
  let best: { value: number; score: number } | undefined;
  const inRange: number[] = [];
  const bounded = Number.isFinite(range.min) && Number.isFinite(range.max);
  // Numbers inside versions and dates ("5.2.1", "2024-03-01") are not quantities.
  const versionSpans = Array.from(text.raw.matchAll(VERSION_RE), (m) => [m.index!, m.index! + m[0].length]);
  for (const m of text.raw.matchAll(NUMBER_RE)) {
    const [, symbol, whole, fraction, suffix] = m;
    const value = Number(whole.replace(/,/g, "") + (fraction ? `.${fraction}` : ""));
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) continue;
    if (value < range.min || value > range.max) continue;
    if (versionSpans.some(([a, b]) => m.index! >= a && m.index! < b)) continue;
    inRange.push(value);
    const at = text.wordIndexAt(m.index ?? 0);
    let score = 0;
    for (const term of nameTerms) {
      const d = text.distanceTo(term, at);
      if (d <= 8) score += 1 / (1 + d);
    }
    const currency = Boolean(symbol) || (suffix !== undefined && suffix !== "%");
    if (moneyLike && currency) score += 1;
    if (percentLike && suffix === "%") score += 1;
    if (score > 0 && (!best || score > best.score)) best = { value, score };
  }
  // No name word near any number, but the schema bounds it (an HTTP status 100–599): the one fitting number.
  if (!best && bounded && new Set(inRange).size === 1) return inRange[0];
  return best?.value;
}

/** Word positions of a text, for "is this word near that number" questions. */
class TextIndex {
  readonly raw: string;
  /** First word position of each stemmed term. */
  readonly positions = new Map<string, number>();
  private readonly occurrences = new Map<string, number[]>();
  private readonly wordStarts: number[] = [];

  constructor(raw: string) {
    this.raw = raw;
    let position = 0;
    for (const m of raw.matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
      this.wordStarts.push(m.index ?? 0);
      for (const term of tokenize(m[0])) {
        if (!this.positions.has(term)) this.positions.set(term, position);
        const list = this.occurrences.get(term) ?? [];
        list.push(position);
        this.occurrences.set(term, list);
      }
      position++;
    }
  }

  /** Index of the first word starting at or after a character offset. */
  wordIndexAt(offset: number): number {
    let lo = 0;
    let hi = this.wordStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.wordStarts[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Character offset where word `i` starts. */
  wordStartOffset(i: number): number {
    return this.wordStarts[Math.min(i, this.wordStarts.length - 1)] ?? 0;
  }

  /** Distance in words back from `at` to the nearest occurrence of `term` at or before it (Infinity when none). */
  distanceBefore(term: string, at: number): number {
    let best = Infinity;
    for (const p of this.occurrences.get(term) ?? []) if (p <= at) best = Math.min(best, at - p);
    return best;
  }

  /** Distance in words from `at` to the nearest occurrence of `term` (Infinity when absent). */
  distanceTo(term: string, at: number): number {
    let best = Infinity;
    for (const p of this.occurrences.get(term) ?? []) best = Math.min(best, Math.abs(p - at));
    return best;
  }
}

function typesOf(prop: Schema): string[] {
  if (typeof prop.type === "string") return [prop.type];
  if (Array.isArray(prop.type)) return prop.type.filter((t): t is string => typeof t === "string");
  if (Array.isArray(prop.enum)) return [...new Set(prop.enum.map((v) => (typeof v === "number" ? "number" : "string")))];
  return [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
