/**
 * Chosen requests as regression cases in the suite format (docs/suite.md), appended to a suite
 * file without losing its content (comments and order kept: the yaml Document API), written
 * atomically, never twice for one request (case id `log-<request id>`).
 *
 *   corrected answer                       → `answer:` the correction, `sources:` the chunks that hold it
 *   correction that says "I don't know" /
 *   unsupported answer with a thumbs down  → `must_abstain: true` (the right outcome was the fallback)
 *   anything else                          → skipped, with why (no expectation is known)
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { isMap, isSeq, parseDocument, YAMLSeq, type Document } from "yaml";
import type { StoredRequest } from "../serve/log.ts";
import type { Chunk } from "../core/chunk.ts";
import { loadSuite, SuiteError } from "../evaluate/suite.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { InputError } from "../util/errors.ts";
import type { LabelIndex } from "./label.ts";
import { locateCorrection } from "./locate.ts";
import { hasCorrection, isAnswered } from "./triggers.ts";

/** A case as written to the file (snake_case keys of the suite format). */
export interface LogCase {
  id: string;
  input: string;
  answer?: string[];
  must_abstain?: true;
  sources?: string[];
  tags: string[];
}

export interface CasesFromRequests {
  cases: LogCase[];
  skipped: { requestId: string; reason: string }[];
}

export const caseIdOf = (requestId: string) => `log-${requestId}`;

/** A correction that says the right answer was not to answer. */
const REFUSAL = /\b(i\s+don'?t\s+know|not\s+(?:in|covered\s+by)\s+the\s+(?:docs|documentation)|(?:docs|documentation)\s+(?:do(?:es)?\s+not|don'?t)\s+(?:say|cover)|should\s+(?:have\s+)?(?:fall(?:en)?\s+back|escalated?|abstain(?:ed)?))\b/i;

const MAX_SOURCES = 3;

export function casesFromRequests(rows: StoredRequest[], index: LabelIndex): CasesFromRequests {
  const out: CasesFromRequests = { cases: [], skipped: [] };
  for (const r of rows) {
    const base = { id: caseIdOf(r.id), input: r.query, tags: ["from-logs"] };
    if (!isAnswered(r)) {
      out.skipped.push({ requestId: r.id, reason: `not an answered request (${r.route}, status ${r.status})` });
      continue;
    }
    if (hasCorrection(r)) {
      const correction = r.feedback!.correctedAnswer!.trim();
      if (REFUSAL.test(correction)) {
        out.cases.push({ ...base, must_abstain: true, tags: [...base.tags, "expect-fallback"] });
        continue;
      }
      const retrieved = r.retrieved.map((h) => index.chunk(h.id)).filter((c): c is Chunk => c !== undefined);
      const where = locateCorrection(correction, retrieved, index.candidates(correction), index.isOlder);
      // Source hints: the retrieved chunks that hold the correction, else any current chunk that does.
      const hint = where.inRetrieved.filter((c) => !index.isOlder(c.version));
      const sources = (hint.length ? hint : where.current).slice(0, MAX_SOURCES).map((c) => c.id);
      out.cases.push({ ...base, answer: [correction], ...(sources.length ? { sources } : {}) });
      continue;
    }
    if (r.feedback?.thumbs === "down" && r.support !== null && r.support < 1 && !r.fallback) {
      out.cases.push({ ...base, must_abstain: true, tags: [...base.tags, "expect-fallback"] });
      continue;
    }
    out.skipped.push({ requestId: r.id, reason: r.feedback ? "no corrected answer, so no expected answer is known" : "no feedback, so no expected answer is known" });
  }
  return out;
}

/** The sequence of cases of a suite document (top-level list, or `cases:`), created when absent. */
function casesSeq(doc: Document, file: string): YAMLSeq {
  const root = doc.contents;
  if (root === null || root === undefined) {
    doc.contents = doc.createNode({ cases: [] }) as typeof doc.contents;
    return doc.get("cases", true) as unknown as YAMLSeq;
  }
  if (isSeq(root)) return root;
  if (isMap(root)) {
    const existing = root.get("cases", true);
    if (existing === undefined || existing === null) {
      root.set("cases", new YAMLSeq());
      return root.get("cases", true) as unknown as YAMLSeq;
    }
    if (isSeq(existing)) return existing;
  }
  throw new InputError(`${file}: expected a list of cases or a mapping with 'cases:' at the top level`);
}

function idsIn(seq: YAMLSeq): Set<string> {
  const ids = new Set<string>();
  for (const item of seq.items) if (isMap(item)) ids.add(String(item.get("id")));
  return ids;
}

/**
 * Append `cases` to the YAML suite `file` (created when missing), skipping ids it (or `alsoCheck`,
 * the project's whole suite) already has. The result must load with the suite loader (`validate`:
 * the suite file that includes it, else the file itself); if it does not, the file is restored.
 */
export function appendCasesToSuite(file: string, cases: LogCase[], options: { alsoHas?: Set<string>; validate?: string } = {}): { added: string[]; duplicates: string[] } {
  if (!/\.ya?ml$/i.test(file)) throw new InputError(`--to ${file}: cases are appended to a YAML suite file (.yaml or .yml)`);
  const before = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  const doc = before === undefined ? parseDocument("# Regression cases from production logs (ragtune suite add-from-logs)\n") : parseDocument(before);
  if (doc.errors.length) throw new InputError(`${file}: not valid YAML: ${doc.errors[0].message}`);
  const seq = casesSeq(doc, file);
  const have = idsIn(seq);
  const added: string[] = [];
  const duplicates: string[] = [];
  for (const c of cases) {
    if (have.has(c.id) || options.alsoHas?.has(c.id)) {
      duplicates.push(c.id);
      continue;
    }
    seq.add(doc.createNode(c));
    have.add(c.id);
    added.push(c.id);
  }
  if (!added.length) return { added, duplicates };
  writeFileAtomic(file, doc.toString({ lineWidth: 0 }));
  try {
    loadSuite(options.validate ?? file);
  } catch (e) {
    if (before === undefined) rmSync(file, { force: true });
    else writeFileAtomic(file, before);
    const why = e instanceof SuiteError ? e.message : (e as Error).message;
    throw new InputError(`the suite would not load with the new cases, so ${file} was left as it was: ${why}`);
  }
  return { added, duplicates };
}
