/**
 * What the viewer reads from runs/: the run list, one run's cases, case-by-case comparisons and a
 * suite's history. Read-only: nothing here writes a file. A run is looked up only among the ids
 * listRuns returns, so a URL can never name a folder outside runs/.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RagtuneConfig } from "../config/index.ts";
import { listRuns, readCaseResults, readSnapshot, readSummary, runsDir, type RunSnapshot } from "../evaluate/runs.ts";
import { mcnemarExact, STATS_DEFAULTS } from "../evaluate/significance.ts";
import type { CaseResult, RunSummary } from "../evaluate/types.ts";
import { didYouMean } from "../util/errors.ts";

export interface ViewSource {
  root: string;
  config: RagtuneConfig;
}

export interface RunListing {
  id: string;
  createdAt: string;
  suite: string;
  generator: string;
  variants: { name: string; passRate: number; passed: number; cases: number }[];
  complete: boolean;
  /** Why the run's files could not be read (the run is still listed). */
  problem?: string;
}

export interface LoadedRun {
  id: string;
  dir: string;
  snapshot: RunSnapshot;
  /** Absent while the run has not finished (no summary.json), or when it cannot be read (summaryProblem). */
  summary?: RunSummary;
  /** Why summary.json could not be read, naming the file; the cases stay viewable. */
  summaryProblem?: string;
  cases: CaseResult[];
}

export class NotFound extends Error {
  constructor(
    message: string,
    /** A close existing id, for a did-you-mean link. */
    readonly suggestion?: { label: string; href: string },
  ) {
    super(message);
  }
}

export function runIds(src: ViewSource): string[] {
  return listRuns(runsDir(src.root, src.config));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Every run, newest first; a run whose files cannot be read is listed with the problem. */
export function listRunListings(src: ViewSource): RunListing[] {
  const dir = runsDir(src.root, src.config);
  return listRuns(dir)
    .reverse()
    .map((id): RunListing => {
      const runDir = join(dir, id);
      try {
        const snap = readSnapshot(runDir);
        const base = { id, createdAt: snap.createdAt, suite: snap.suitePath, generator: snap.generator };
        if (!existsSync(join(runDir, "summary.json"))) return { ...base, variants: [], complete: false };
        let s: RunSummary;
        try {
          s = readSummary(runDir);
        } catch (err) {
          throw new Error(`${join(runDir, "summary.json")}: ${errorText(err)}`);
        }
        return {
          ...base,
          createdAt: s.createdAt,
          suite: s.suite.path,
          generator: s.generator,
          complete: s.complete,
          variants: s.variants.map((v) => ({ name: v.name, passRate: v.passRate, passed: v.passed, cases: v.cases })),
        };
      } catch (err) {
        return { id, createdAt: "", suite: "", generator: "", variants: [], complete: false, problem: errorText(err) };
      }
    });
}

/** The run with this exact id, or NotFound naming the closest id. */
export function loadRun(src: ViewSource, id: string): LoadedRun {
  const ids = runIds(src);
  if (!ids.includes(id)) {
    const near = didYouMean(id, ids);
    throw new NotFound(`no run '${id}' in ${runsDir(src.root, src.config)}`, near ? { label: near, href: `/runs/${encodeURIComponent(near)}` } : undefined);
  }
  const dir = join(runsDir(src.root, src.config), id);
  const snapshot = readSnapshot(dir);
  let summary: RunSummary | undefined;
  let summaryProblem: string | undefined;
  try {
    summary = existsSync(join(dir, "summary.json")) ? readSummary(dir) : undefined;
  } catch (err) {
    summaryProblem = `${join(dir, "summary.json")}: ${errorText(err)}`;
  }
  return { id, dir, snapshot, summary, summaryProblem, cases: readCaseResults(dir) };
}

export function variantsOf(run: LoadedRun): string[] {
  const names = run.summary?.variants.map((v) => v.name) ?? run.snapshot.variants;
  const seen = new Set(run.cases.map((c) => c.variant));
  return [...names.filter((n) => seen.has(n)), ...[...seen].filter((n) => !names.includes(n))];
}

export interface CaseFilter {
  variant?: string;
  cause?: string;
  tag?: string;
  task?: string;
}

export function filterCases(cases: CaseResult[], f: CaseFilter): CaseResult[] {
  return cases.filter(
    (c) =>
      (!f.variant || c.variant === f.variant) &&
      (!f.cause || (f.cause === "passed" ? c.passed : c.failure?.cause === f.cause)) &&
      (!f.tag || c.tags.includes(f.tag)) &&
      (!f.task || c.task === f.task),
  );
}

/** The results of one case (every variant and repeat), or NotFound naming the closest case id. */
export function caseResults(run: LoadedRun, caseId: string): CaseResult[] {
  const results = run.cases.filter((c) => c.caseId === caseId);
  if (results.length === 0) {
    const near = didYouMean(caseId, [...new Set(run.cases.map((c) => c.caseId))]);
    throw new NotFound(
      `run ${run.id} has no case '${caseId}'`,
      near ? { label: near, href: `/runs/${encodeURIComponent(run.id)}/cases/${encodeURIComponent(near)}` } : undefined,
    );
  }
  return results;
}

export type Transition = "fixed" | "broken" | "still failing" | "still passing";
export const TRANSITIONS: readonly Transition[] = ["fixed", "broken", "still failing", "still passing"];

export interface CasePair {
  caseId: string;
  a: CaseResult[];
  b: CaseResult[];
  transition: Transition;
}

export interface Comparison {
  /** What is compared, in words, e.g. "rag → hybrid" or "run x → run y (rag)". */
  title: string;
  pairs: CasePair[];
  counts: Record<Transition, number>;
  onlyA: string[];
  onlyB: string[];
  mcnemar: { n: number; onlyA: number; onlyB: number; pValue: number };
  alpha: number;
}

/** A case passes when every one of its repeats passed (pass^N; one repeat = its verdict). */
function passedAll(results: CaseResult[]): boolean {
  return results.every((r) => r.passed);
}

function groupByCase(results: CaseResult[]): Map<string, CaseResult[]> {
  const m = new Map<string, CaseResult[]>();
  for (const r of results) {
    const list = m.get(r.caseId);
    if (list) list.push(r);
    else m.set(r.caseId, [r]);
  }
  return m;
}

/** Pair the cases of two result sets by case id: fixed / broken / still failing / still passing, and exact McNemar. */
export function compareResults(title: string, a: CaseResult[], b: CaseResult[], alpha: number = STATS_DEFAULTS.alpha): Comparison {
  const ga = groupByCase(a);
  const gb = groupByCase(b);
  const pairs: CasePair[] = [];
  const counts: Record<Transition, number> = { fixed: 0, broken: 0, "still failing": 0, "still passing": 0 };
  for (const [caseId, ra] of ga) {
    const rb = gb.get(caseId);
    if (!rb) continue;
    const pa = passedAll(ra);
    const pb = passedAll(rb);
    const transition: Transition = pa ? (pb ? "still passing" : "broken") : pb ? "fixed" : "still failing";
    counts[transition]++;
    pairs.push({ caseId, a: ra, b: rb, transition });
  }
  const order = (t: Transition) => TRANSITIONS.indexOf(t);
  pairs.sort((x, y) => order(x.transition) - order(y.transition) || x.caseId.localeCompare(y.caseId));
  return {
    title,
    pairs,
    counts,
    onlyA: [...ga.keys()].filter((k) => !gb.has(k)).sort(),
    onlyB: [...gb.keys()].filter((k) => !ga.has(k)).sort(),
    mcnemar: mcnemarExact(pairs.map((p) => ({ a: passedAll(p.a), b: passedAll(p.b) }))),
    alpha,
  };
}

export function alphaOf(config: RagtuneConfig): number {
  return (config as { evaluate?: { alpha?: number } }).evaluate?.alpha ?? STATS_DEFAULTS.alpha;
}

export interface SuiteHistory {
  suite: string;
  variants: string[];
  /** Oldest first. */
  points: { runId: string; createdAt: string; passRates: Record<string, number> }[];
}

/** Each suite's pass rate per variant over its finished runs, oldest first. */
export function history(src: ViewSource): SuiteHistory[] {
  const bySuite = new Map<string, SuiteHistory>();
  for (const r of listRunListings(src).reverse()) {
    if (r.problem || r.variants.length === 0) continue;
    let h = bySuite.get(r.suite);
    if (!h) bySuite.set(r.suite, (h = { suite: r.suite, variants: [], points: [] }));
    const passRates: Record<string, number> = Object.create(null);
    for (const v of r.variants) {
      passRates[v.name] = v.passRate;
      if (!h.variants.includes(v.name)) h.variants.push(v.name);
    }
    h.points.push({ runId: r.id, createdAt: r.createdAt, passRates });
  }
  return [...bySuite.values()];
}
