/**
 * The numbers the corpus benchmark reports for one variant, computed from a run's cases.jsonl and
 * the suite's own expectations (tags, must_abstain, stale_answers, sources).
 */
import { readFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { SuiteCase } from "../../../src/evaluate/types.ts";
import { answerTokens, containsTokenSequence } from "../../../src/evaluate/normalize.ts";
import { checkCitation, citedQuotes, parseSourceFile, type CitationCheck, type CitationRecord, type SourceFile } from "./citations.ts";

/** The fields of a cases.jsonl row this benchmark reads. */
export interface CaseRow {
  caseId: string;
  variant: string;
  repeat?: number;
  task: string;
  output: string;
  abstained: boolean;
  passed: boolean;
  citations?: CitationRecord[];
  retrieval?: { k: number; hitAtK: number; recallAtK: number; mrr: number };
  failure?: { cause?: string; signal?: string } | null;
  latencyMs?: number;
}

export const KINDS = ["knowledge", "changed-fact", "unanswerable", "classify", "extract"] as const;

export interface Count {
  n: number;
  of: number;
}

export interface VariantMetrics {
  cases: number;
  pass: Count;
  byKind: Record<string, Count>;
  /** Pass counts of the dev and holdout splits (tags set by dev.yaml / holdout.yaml). */
  bySplit: Record<string, Count>;
  /**
   * `answeredFromCurrent`: passed (the current value stated), or answered with the first citation
   * from the current version and no stale answer stated — version handling right, whether or not
   * the reader quoted the right sentence of it (that is `current`, the pass).
   */
  changedFacts: { of: number; current: number; stale: number; other: number; otherAbstained: number; answeredFromCurrent: number };
  mustAbstain: Count;
  answerableAccuracy: Count;
  falseAbstention: Count;
  retrieval?: { n: number; k: number; hitAtK: number; mrr: number };
  citations: {
    n: number;
    located: number;
    exact: number;
    fuzzy: number;
    unlocated: number;
    sectionRight: number;
    innermostRight: number;
    rangeContains: number;
    /** A few citations whose section was wrong or that could not be located, for reading. */
    examples: { caseId: string; check: CitationCheck }[];
  };
  latencyMs: { p50: number; p95: number };
}

export const share = (c: Count): number => (c.of === 0 ? Number.NaN : c.n / c.of);

export function readCaseRows(runDir: string): CaseRow[] {
  const rows: CaseRow[] = [];
  for (const line of readFileSync(join(runDir, "cases.jsonl"), "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as CaseRow);
    } catch {
      // A torn last line (a crash mid-write) is not a case result.
    }
  }
  return rows;
}

/** Does the output state one of the answers (normalised token-sequence containment)? */
const states = (output: string, answers: string[] | undefined) =>
  (answers ?? []).some((a) => {
    const t = answerTokens(a);
    return t.length > 0 && containsTokenSequence(answerTokens(output), t);
  });

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Metrics of one variant's rows. `readSource` returns a parsed source file (cached) or an error. */
export function variantMetrics(
  rows: CaseRow[],
  cases: Map<string, SuiteCase>,
  readSource: (path: string) => SourceFile | { error: string },
  currentVersion?: string,
): VariantMetrics {
  const count = (): Count => ({ n: 0, of: 0 });
  const m: VariantMetrics = {
    cases: rows.length,
    pass: count(),
    byKind: Object.fromEntries(KINDS.map((k) => [k, count()])),
    bySplit: { dev: count(), holdout: count() },
    changedFacts: { of: 0, current: 0, stale: 0, other: 0, otherAbstained: 0, answeredFromCurrent: 0 },
    mustAbstain: count(),
    answerableAccuracy: count(),
    falseAbstention: count(),
    citations: { n: 0, located: 0, exact: 0, fuzzy: 0, unlocated: 0, sectionRight: 0, innermostRight: 0, rangeContains: 0, examples: [] },
    latencyMs: { p50: quantile(rows.map((r) => r.latencyMs ?? 0), 0.5), p95: quantile(rows.map((r) => r.latencyMs ?? 0), 0.95) },
  };
  const retrieval: { hit: number; mrr: number; n: number; k: number } = { hit: 0, mrr: 0, n: 0, k: 0 };
  for (const r of rows) {
    const c = cases.get(r.caseId);
    const tags = c?.tags ?? [];
    m.pass.of++;
    if (r.passed) m.pass.n++;
    for (const k of KINDS) {
      if (!tags.includes(k)) continue;
      m.byKind[k].of++;
      if (r.passed) m.byKind[k].n++;
    }
    for (const s of ["dev", "holdout"]) {
      if (!tags.includes(s)) continue;
      m.bySplit[s].of++;
      if (r.passed) m.bySplit[s].n++;
    }
    if (tags.includes("changed-fact")) {
      m.changedFacts.of++;
      const stale = !r.abstained && states(r.output, c?.stale_answers);
      const cited = r.citations ?? [];
      // States the current value (passed), or quotes the current version first and no stale value.
      if (r.passed || (!r.abstained && !stale && currentVersion !== undefined && cited[0]?.version === currentVersion)) m.changedFacts.answeredFromCurrent++;
      if (r.passed) m.changedFacts.current++;
      else if (stale) m.changedFacts.stale++;
      else {
        m.changedFacts.other++;
        if (r.abstained) m.changedFacts.otherAbstained++;
      }
    }
    if (c?.task === "qa") {
      if (c.must_abstain) {
        m.mustAbstain.of++;
        if (r.abstained) m.mustAbstain.n++;
      } else {
        m.answerableAccuracy.of++;
        m.falseAbstention.of++;
        if (r.passed) m.answerableAccuracy.n++;
        if (r.abstained) m.falseAbstention.n++;
      }
    }
    if (r.retrieval && (c?.sources?.length ?? 0) > 0) {
      retrieval.n++;
      retrieval.k = r.retrieval.k;
      retrieval.hit += r.retrieval.hitAtK;
      retrieval.mrr += r.retrieval.mrr;
    }
    for (const { citation, quote } of citedQuotes(r.output, r.citations ?? [])) {
      const src = readSource(citation.path);
      const check = "error" in src ? checkCitation(citation, quote, undefined, src.error) : checkCitation(citation, quote, src);
      const cs = m.citations;
      cs.n++;
      if (check.located) {
        cs.located++;
        if (check.located.how.startsWith("exact")) cs.exact++;
        else cs.fuzzy++;
      } else cs.unlocated++;
      if (check.sectionRight) cs.sectionRight++;
      if (check.innermostRight) cs.innermostRight++;
      if (check.rangeContains) cs.rangeContains++;
      if ((!check.sectionRight || !check.located) && cs.examples.length < 25) cs.examples.push({ caseId: r.caseId, check });
    }
  }
  if (retrieval.n > 0) m.retrieval = { n: retrieval.n, k: retrieval.k, hitAtK: retrieval.hit / retrieval.n, mrr: retrieval.mrr / retrieval.n };
  return m;
}

/** A source-file reader for `variantMetrics`: paths relative to `root`, parsed once. */
export function sourceReader(root: string): (path: string) => SourceFile | { error: string } {
  const cache = new Map<string, SourceFile | { error: string }>();
  return (path) => {
    let f = cache.get(path);
    if (!f) {
      const abs = resolve(root, path);
      try {
        // A citation path names a file of the project; never read outside it.
        if (!abs.startsWith(resolve(root) + sep)) throw new Error("path is outside the project");
        f = parseSourceFile(readFileSync(abs, "utf8"));
      } catch (e) {
        f = { error: `cannot read ${path}: ${(e as Error).message}` };
      }
      cache.set(path, f);
    }
    return f;
  };
}
