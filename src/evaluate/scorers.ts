/**
 * Deterministic scorers: each is a pure function from (expectation, output) to a ScoreResult, so
 * two runs over the same outputs always score the same. `scoreCase` runs the ones a case asks for.
 */
import Ajv2020Module from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { RetrievalScores, ScoreResult, SuiteCase } from "./types.ts";
import { answerTokens, containsTokenSequence, normalizeText, snippet, tokenF1 } from "./normalize.ts";
import { getOwn, setOwn } from "../util/own.ts";

export const DEFAULT_F1_THRESHOLD = 0.6;

/** What the scorers look at in a generator's output. */
export interface ScorableOutput {
  text: string;
  abstained: boolean;
  label?: string;
  json?: unknown;
}

export interface ScoreOptions {
  /** Token-F1 at or above which an answer counts as matching (default 0.6). */
  f1Threshold?: number;
}

const pass = (name: string, value = 1, detail?: string): ScoreResult => (detail ? { name, pass: true, value, detail } : { name, pass: true, value });
const fail = (name: string, value: number, detail: string): ScoreResult => ({ name, pass: false, value, detail });

// ---------------------------------------------------------------------------------------------
// answer

/** How an expected answer matched a text (see `matchAnswer`). */
export interface AnswerMatch {
  kind: "exact" | "contains" | "f1";
  answer: string;
  /** 1 for exact/containment, else the token F1. */
  f1: number;
}

/**
 * The `answer` scorer's matching rule, for any text: the first expected answer that equals the
 * text (normalised), occurs in it as a contiguous token sequence ("$12" in "costs $12 per user",
 * not in "$120"), or reaches token-F1 ≥ threshold (best F1 wins). Undefined when none does.
 * Shared with the stale-answer check, so "states this answer" means one thing.
 */
export function matchAnswer(expected: string[], text: string, threshold = DEFAULT_F1_THRESHOLD): AnswerMatch | undefined {
  const r = bestAnswerMatch(expected, text);
  return r.match ?? (r.best >= threshold && r.best > 0 ? { kind: "f1", answer: r.bestAnswer, f1: r.best } : undefined);
}

function bestAnswerMatch(expected: string[], text: string): { match?: AnswerMatch; best: number; bestAnswer: string } {
  const outNorm = normalizeText(text);
  const outTokens = answerTokens(text);
  let best = 0;
  let bestAnswer = expected[0] ?? "";
  for (const answer of expected) {
    const goldTokens = answerTokens(answer);
    if (goldTokens.length === 0) continue;
    if (normalizeText(answer) === outNorm) return { match: { kind: "exact", answer, f1: 1 }, best: 1, bestAnswer: answer };
    if (containsTokenSequence(outTokens, goldTokens)) return { match: { kind: "contains", answer, f1: 1 }, best: 1, bestAnswer: answer };
    const f1 = tokenF1(outTokens, goldTokens);
    if (f1 > best) {
      best = f1;
      bestAnswer = answer;
    }
  }
  return { best, bestAnswer };
}

/**
 * Passes if any expected answer matches the output (`matchAnswer`): normalised exact,
 * contiguous token-sequence containment, or token-F1 ≥ threshold.
 * value = best F1 (1 for exact/containment). Abstaining fails unless the case must abstain.
 */
export function scoreAnswer(expected: string[], out: ScorableOutput, opts: ScoreOptions & { mustAbstain?: boolean } = {}): ScoreResult {
  const threshold = opts.f1Threshold ?? DEFAULT_F1_THRESHOLD;
  if (out.abstained) {
    return opts.mustAbstain ? pass("answer", 1, "abstained, as the case requires") : fail("answer", 0, "abstained instead of answering");
  }
  const { match, best, bestAnswer } = bestAnswerMatch(expected, out.text);
  if (match?.kind === "exact") return pass("answer", 1, `exact match "${snippet(match.answer, 60)}"`);
  if (match?.kind === "contains") return pass("answer", 1, `contains "${snippet(match.answer, 60)}"`);
  const detail = `best token-F1 ${best.toFixed(2)} against "${snippet(bestAnswer, 60)}" (threshold ${threshold})`;
  return best >= threshold ? pass("answer", best, detail) : fail("answer", best, detail);
}

// ---------------------------------------------------------------------------------------------
// contains

/**
 * Normalised substring test with number boundaries: "12" is not found inside "120" or "1.25",
 * but "refund" is found inside "refunds".
 */
export function containsNormalized(haystack: string, needle: string): boolean {
  const h = normalizeText(haystack);
  const n = normalizeText(needle);
  if (n === "") return true;
  let from = 0;
  for (;;) {
    const i = h.indexOf(n, from);
    if (i < 0) return false;
    const before = h[i - 1] ?? "";
    const after = h.slice(i + n.length, i + n.length + 2);
    const badStart = /^\d/.test(n) && /[\d.,]/.test(before);
    const badEnd = /\d$/.test(n) && (/^\d/.test(after) || /^[.,]\d/.test(after));
    if (!badStart && !badEnd) return true;
    from = i + 1;
  }
}

/** All substrings must appear (normalised). value = share found. */
export function scoreContains(needles: string[], out: ScorableOutput): ScoreResult {
  const missing = needles.filter((n) => !containsNormalized(out.text, n));
  const value = needles.length === 0 ? 1 : (needles.length - missing.length) / needles.length;
  return missing.length === 0 ? pass("contains", 1) : fail("contains", value, `missing ${missing.map((m) => `"${m}"`).join(", ")}`);
}

// ---------------------------------------------------------------------------------------------
// regex

/**
 * Compile a suite regex: a plain pattern, or `/pattern/flags` so users can ask for `i`.
 * Throws SyntaxError when it does not compile (the suite loader reports it).
 */
export function compileCaseRegex(source: string, extraFlags = ""): RegExp {
  const m = /^\/(.+)\/([dgimsuyv]*)$/s.exec(source);
  const [pattern, flags] = m ? [m[1], m[2]] : [source, ""];
  const all = [...new Set((flags + extraFlags).replace(/[gy]/g, ""))].join("");
  return new RegExp(pattern, all);
}

/** The raw output text must match the regex. */
export function scoreRegex(pattern: string, out: ScorableOutput): ScoreResult {
  let re: RegExp;
  try {
    re = compileCaseRegex(pattern);
  } catch (e) {
    return fail("regex", 0, `regex does not compile: ${(e as Error).message}`);
  }
  return re.test(out.text) ? pass("regex", 1) : fail("regex", 0, `output does not match /${re.source}/${re.flags}: "${snippet(out.text)}"`);
}

// ---------------------------------------------------------------------------------------------
// abstention

/** For must_abstain cases: passes iff the output abstained. */
export function scoreAbstention(mustAbstain: boolean, out: ScorableOutput): ScoreResult {
  if (mustAbstain === out.abstained) return pass("abstention", 1);
  return fail("abstention", 0, mustAbstain ? `answered an unanswerable question: "${snippet(out.text)}"` : "abstained on an answerable question");
}

// ---------------------------------------------------------------------------------------------
// JSON

type Ajv2020Instance = InstanceType<typeof Ajv2020Module.default>;
// ajv is CommonJS: under NodeNext the class sits on `.default`; at runtime either may hold it.
const Ajv2020Ctor = ((Ajv2020Module as unknown as { default?: typeof Ajv2020Module.default }).default ??
  Ajv2020Module) as unknown as typeof Ajv2020Module.default;

let ajvInstance: Ajv2020Instance | undefined;
function ajv(): Ajv2020Instance {
  if (ajvInstance) return ajvInstance;
  const a = new Ajv2020Ctor({ allErrors: true, strict: false });
  // ajv-formats is not a dependency; these two are what extract schemas use in practice.
  a.addFormat("email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  a.addFormat("date", {
    type: "string",
    validate: (s: string) => {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
      if (!m) return false;
      const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
      const dt = new Date(Date.UTC(y, mo - 1, d));
      return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
    },
  });
  ajvInstance = a;
  return a;
}

const validators = new Map<string, ValidateFunction>();

/** Compile (and cache by schema JSON) a JSON Schema 2020-12 validator. Throws when the schema is invalid. */
export function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    v = ajv().compile(schema);
    validators.set(key, v);
  }
  return v;
}

function formatAjvErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`).join("; ");
}

const NOT_JSON = Symbol("not json");

/** The output's JSON: the parsed `json` when given, else the text parsed (tolerating a ``` fence). */
function outputJson(out: ScorableOutput): unknown {
  if (out.json !== undefined) return out.json;
  const text = out.text.trim().replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i, "$1");
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/** Whether the output carries JSON (parsed `json`, or text that parses). */
export function isJsonOutput(out: ScorableOutput): boolean {
  return outputJson(out) !== NOT_JSON;
}

/** The output must be JSON that satisfies the schema. */
export function scoreJsonSchema(schema: Record<string, unknown>, out: ScorableOutput): ScoreResult {
  const json = outputJson(out);
  if (json === NOT_JSON) return fail("json_schema", 0, "output is not JSON");
  let validate: ValidateFunction;
  try {
    validate = compileSchema(schema);
  } catch (e) {
    return fail("json_schema", 0, `invalid JSON Schema: ${(e as Error).message}`);
  }
  return validate(json) ? pass("json_schema", 1) : fail("json_schema", 0, `schema violations: ${formatAjvErrors(validate.errors)}`);
}

/** Comparable form of a JSON value: numbers numerically, strings normalised, arrays as unordered multisets. */
function canonical(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const n = normalizeText(v);
    // "1,000", "$1000" and 1000 are the same value.
    return n !== "" && /^-?\d+(?:\.\d+)?$/.test(n) ? Number(n) : n;
  }
  if (typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(canonical).map((x) => JSON.stringify(x)).sort();
  if (typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) setOwn(o, k, canonical((v as Record<string, unknown>)[k]));
    return o;
  }
  return String(v);
}

/** Whether two JSON values are equal after normalisation (see `canonical`). */
export function jsonValuesEqual(expected: unknown, actual: unknown): boolean {
  return JSON.stringify(canonical(expected)) === JSON.stringify(canonical(actual));
}

/** Each expected field must equal the output's (normalised). value = share of fields right; pass iff all. */
export function scoreExpectedJson(expected: Record<string, unknown>, out: ScorableOutput): ScoreResult {
  const json = outputJson(out);
  if (json === NOT_JSON) return fail("expected_json", 0, "output is not JSON");
  const obj = json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  const keys = Object.keys(expected);
  const wrong = keys.filter((k) => !jsonValuesEqual(expected[k], getOwn(obj, k)));
  const value = keys.length === 0 ? 1 : (keys.length - wrong.length) / keys.length;
  if (wrong.length === 0) return pass("expected_json", 1);
  const detail = wrong
    .map((k) => `${k}: expected ${JSON.stringify(expected[k])}, got ${getOwn(obj, k) === undefined ? "nothing" : JSON.stringify(getOwn(obj, k))}`)
    .join("; ");
  return fail("expected_json", value, `wrong fields: ${detail}`);
}

// ---------------------------------------------------------------------------------------------
// label, forbidden, tone

/** The chosen label (or, when the generator gave none, the text) must equal the expected label, normalised. */
export function scoreLabel(expected: string, out: ScorableOutput): ScoreResult {
  const got = out.label ?? out.text;
  return normalizeText(got) === normalizeText(expected)
    ? pass("label", 1)
    : fail("label", 0, `expected label "${expected}", got "${snippet(got, 40)}"`);
}

/** Fails if any policy pattern (case-insensitive regex) matches the raw output. */
export function scoreForbidden(patterns: string[], out: ScorableOutput): ScoreResult {
  for (const p of patterns) {
    let re: RegExp;
    try {
      re = compileCaseRegex(p, "i");
    } catch (e) {
      return fail("forbidden", 0, `pattern ${p} does not compile: ${(e as Error).message}`);
    }
    const m = re.exec(out.text);
    if (m) return fail("forbidden", 0, `output matches forbidden pattern /${re.source}/: "${snippet(m[0], 60)}"`);
  }
  return pass("forbidden", 1);
}

/** must_include: all phrases present; must_not_include: none present (normalised, case-insensitive). */
export function scoreTone(rule: { must_include?: string[]; must_not_include?: string[] }, out: ScorableOutput): ScoreResult {
  const missing = (rule.must_include ?? []).filter((p) => !containsNormalized(out.text, p));
  const present = (rule.must_not_include ?? []).filter((p) => containsNormalized(out.text, p));
  if (missing.length === 0 && present.length === 0) return pass("tone", 1);
  const total = (rule.must_include?.length ?? 0) + (rule.must_not_include?.length ?? 0);
  const parts: string[] = [];
  if (missing.length) parts.push(`missing required phrase ${missing.map((p) => `"${p}"`).join(", ")}`);
  if (present.length) parts.push(`contains banned phrase ${present.map((p) => `"${p}"`).join(", ")}`);
  return fail("tone", total === 0 ? 0 : (total - missing.length - present.length) / total, parts.join("; "));
}

// ---------------------------------------------------------------------------------------------
// scoreCase

/** Run every scorer the case asks for, in a fixed order. */
export function scoreCase(c: SuiteCase, out: ScorableOutput, opts: ScoreOptions = {}): ScoreResult[] {
  const results: ScoreResult[] = [];
  if (c.answer && c.answer.length > 0) results.push(scoreAnswer(c.answer, out, { ...opts, mustAbstain: c.must_abstain === true }));
  if (c.contains && c.contains.length > 0) results.push(scoreContains(c.contains, out));
  if (c.regex !== undefined) results.push(scoreRegex(c.regex, out));
  if (c.must_abstain === true) results.push(scoreAbstention(true, out));
  if (c.json_schema) results.push(scoreJsonSchema(c.json_schema, out));
  if (c.expected_json) results.push(scoreExpectedJson(c.expected_json, out));
  if (c.label !== undefined) results.push(scoreLabel(c.label, out));
  if (c.forbidden && c.forbidden.length > 0) results.push(scoreForbidden(c.forbidden, out));
  if (c.tone && ((c.tone.must_include?.length ?? 0) > 0 || (c.tone.must_not_include?.length ?? 0) > 0)) results.push(scoreTone(c.tone, out));
  return results;
}

// ---------------------------------------------------------------------------------------------
// retrieval

/** The chunk fields source matching needs. */
export interface SourceChunk {
  id: string;
  path: string;
  headingPath?: string[];
  /**
   * The sections the chunk's text spans (core/chunk.ts ChunkSpan). A chunk that merges short
   * sections names only the first in headingPath; a gold section that starts inside it is still in it.
   */
  spans?: { headingPath: string[] }[];
}

const cleanPath = (p: string) => p.trim().replace(/\\/g, "/").replace(/^\.\//, "");
const slug = (s: string) =>
  s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "");

/** Split a gold source into its path and optional fragment. */
export function parseSource(expected: string): { path: string; fragment?: string } {
  const i = expected.indexOf("#");
  if (i < 0) return { path: cleanPath(expected) };
  return { path: cleanPath(expected.slice(0, i)), fragment: expected.slice(i + 1).trim() };
}

/**
 * Does a chunk satisfy a gold source?
 * - `path` — any chunk of that file;
 * - `path#3` — exactly chunk id `path#3`;
 * - `path#Heading Text` — a chunk of that file whose heading path contains that heading
 *   (case-insensitive; the markdown anchor form `#heading-text` works too).
 */
export function sourceMatches(expected: string, chunk: SourceChunk): boolean {
  const { path, fragment } = parseSource(expected);
  if (cleanPath(chunk.path) !== path) return false;
  if (fragment === undefined || fragment === "") return true;
  if (/^\d+$/.test(fragment)) return cleanPath(chunk.id) === `${path}#${fragment}`;
  const want = slug(fragment);
  const named = (path: string[] | undefined) => (path ?? []).some((h) => h.trim().toLowerCase() === fragment.toLowerCase() || slug(h) === want);
  return named(chunk.headingPath) || (chunk.spans ?? []).some((s) => named(s.headingPath));
}

/**
 * hit@k: 1 if any gold source is in the top k; recall@k: share of gold sources matched by some
 * top-k chunk; MRR: 1/rank of the first chunk matching any gold source over the full list.
 * With no gold sources everything is 0 — callers only score cases that have sources.
 */
export function retrievalScores(expected: string[], retrieved: SourceChunk[], k: number): RetrievalScores {
  if (expected.length === 0) return { k, hitAtK: 0, recallAtK: 0, mrr: 0 };
  const top = retrieved.slice(0, k);
  const found = expected.filter((e) => top.some((c) => sourceMatches(e, c))).length;
  const first = retrieved.findIndex((c) => expected.some((e) => sourceMatches(e, c)));
  return { k, hitAtK: found > 0 ? 1 : 0, recallAtK: found / expected.length, mrr: first < 0 ? 0 : 1 / (first + 1) };
}

/**
 * nDCG@k with graded relevances in ranked order: DCG = Σ rel_i / log2(i + 2) over the top k,
 * divided by the DCG of the same relevances sorted best-first. 0 when nothing is relevant.
 */
export function ndcgAtK(relevances: number[], k: number): number {
  const dcg = (rels: number[]) => rels.slice(0, k).reduce((sum, rel, i) => sum + rel / Math.log2(i + 2), 0);
  const ideal = dcg([...relevances].sort((a, b) => b - a));
  return ideal === 0 ? 0 : dcg(relevances) / ideal;
}
