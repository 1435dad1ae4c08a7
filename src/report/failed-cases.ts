/**
 * The failed-case rows of report.html: every failed case of the run (cases.jsonl), with what the
 * suite expected and where each retrieved chunk comes from (path › heading, lines).
 *
 * Neither is in cases.jsonl, so both are looked up, and only where the lookup describes the run:
 * the suite when its fingerprint is the run's, the index when its content fingerprint is the one the
 * run read. Otherwise the row says "not recorded" rather than showing a newer suite or corpus.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CaseResult, FailureLabel, SuiteCase } from "../evaluate/types.ts";
import type { TaskKind } from "../models/index.ts";
import { readSnapshot } from "../evaluate/runs.ts";
import { loadSuite } from "../evaluate/suite.ts";
import { fingerprint } from "../evaluate/runner.ts";
import { openStore } from "../store/index.ts";

export interface ChunkPlace {
  headingPath: string[];
  lineStart: number;
  lineEnd: number;
}

export interface RetrievedChunk {
  id: string;
  path: string;
  score: number;
  version: string;
  /** Section and lines, when known (cited by the answer, or found in the index the run read). */
  place?: ChunkPlace;
}

export interface FailedCaseRow {
  caseId: string;
  variant: string;
  /** Repeat index under --repeats (absent = single run). */
  repeat?: number;
  task: TaskKind;
  tags: string[];
  input: string;
  /** What the suite expected, in words; null when the suite the run used is not available. */
  expected: string | null;
  output: string;
  abstained: boolean;
  /** Label the model gave (classify). */
  label?: string;
  retrieved: RetrievedChunk[];
  failure: FailureLabel;
}

/** What report.html can add to cases.jsonl, and notes on what it could not. */
export interface CaseContext {
  expected?: Map<string, string>;
  chunk?: (id: string) => ChunkPlace | undefined;
  notes: string[];
}

function quoteList(xs: string[]): string {
  return xs.map((x) => JSON.stringify(x)).join(" or ");
}

/** The suite's expectation of one case, in words. */
export function expectedOf(c: SuiteCase): string {
  const parts: string[] = [];
  if (c.must_abstain) parts.push("abstain (the documents do not answer it)");
  if (c.answer?.length) parts.push(`answer ${quoteList(c.answer)}`);
  if (c.contains?.length) parts.push(`contains ${c.contains.map((x) => JSON.stringify(x)).join(" and ")}`);
  if (c.regex) parts.push(`matches /${c.regex}/`);
  if (c.label) parts.push(`label ${JSON.stringify(c.label)}`);
  if (c.expected_json) parts.push(`fields ${JSON.stringify(c.expected_json)}`);
  if (c.json_schema) parts.push("output valid against the case's JSON Schema");
  if (c.forbidden?.length) parts.push(`never matches ${c.forbidden.map((x) => `/${x}/`).join(", ")}`);
  if (c.stale_answers?.length) parts.push(`not the outdated ${quoteList(c.stale_answers)}`);
  if (c.sources?.length) parts.push(`sources ${c.sources.join(", ")}`);
  return parts.length ? parts.join("; ") : "no expectation beyond the scorers";
}

export function failedCaseRows(cases: CaseResult[], variants: string[], ctx: CaseContext = { notes: [] }): FailedCaseRow[] {
  const order = new Map(variants.map((v, i) => [v, i]));
  const failed = cases.filter((c) => !c.passed && c.failure && order.has(c.variant));
  failed.sort((a, b) => order.get(a.variant)! - order.get(b.variant)! || a.caseId.localeCompare(b.caseId) || (a.repeat ?? 0) - (b.repeat ?? 0));
  return failed.map((c) => {
    const cited = new Map(c.citations.map((ct) => [ct.chunkId, ct]));
    return {
      caseId: c.caseId,
      variant: c.variant,
      ...(c.repeat !== undefined ? { repeat: c.repeat } : {}),
      task: c.task,
      tags: c.tags ?? [],
      input: c.input,
      expected: ctx.expected?.get(c.caseId) ?? null,
      output: c.output,
      abstained: c.abstained,
      ...(c.label !== undefined ? { label: c.label } : {}),
      retrieved: c.retrieved.map((r) => {
        const ct = cited.get(r.id);
        // A citation names the quoted sentence's section; the index names the chunk's.
        const place = ctx.chunk?.(r.id) ?? (ct ? { headingPath: ct.headingPath, lineStart: ct.lineStart, lineEnd: ct.lineEnd } : undefined);
        return { id: r.id, path: r.path, score: r.score, version: r.version, ...(place ? { place } : {}) };
      }),
      failure: c.failure!,
    };
  });
}

/**
 * Expected answers from the run's suite and chunk places from the project index, each only when
 * it is the one the run used (fingerprints recorded in runs/<id>/config.json).
 */
export function loadCaseContext(runDir: string, indexFile: string | undefined): CaseContext {
  const notes: string[] = [];
  const ctx: CaseContext = { notes };
  let snapshot;
  try {
    snapshot = readSnapshot(runDir);
  } catch {
    notes.push("The run's config.json is unreadable: expected answers and chunk sections are not shown.");
    return ctx;
  }
  try {
    const suitePath = resolve(snapshot.suitePath);
    if (!existsSync(suitePath)) notes.push(`Expected answers are not shown: the suite ${snapshot.suitePath} is gone.`);
    else {
      const suite = loadSuite(suitePath);
      const hash = fingerprint(readFileSync(suite.path, "utf8") + JSON.stringify(suite.cases.map((c) => c.id)));
      if (hash !== snapshot.suiteHash) notes.push(`Expected answers are not shown: the suite ${snapshot.suitePath} changed since the run.`);
      else ctx.expected = new Map(suite.cases.map((c) => [c.id, expectedOf(c)]));
    }
  } catch (e) {
    notes.push(`Expected answers are not shown: the suite ${snapshot.suitePath} does not load (${(e as Error).message.split("\n")[0]}).`);
  }
  const recorded = snapshot.index?.fingerprint;
  const pinned = snapshot.index?.file ? join(runDir, snapshot.index.file) : undefined;
  // The run's own copy while it exists (an unfinished run), else the project index if unchanged.
  const file = pinned && existsSync(pinned) ? pinned : indexFile && existsSync(indexFile) ? indexFile : undefined;
  if (!recorded || !file) {
    notes.push("Sections and lines of retrieved chunks are shown only where the answer cited them (the index the run read is not available).");
    return ctx;
  }
  const store = openStore(file);
  try {
    if (store.identity().identity.fingerprint !== recorded) {
      notes.push("Sections and lines of retrieved chunks are shown only where the answer cited them: the index changed since the run.");
      return ctx;
    }
    const places = new Map<string, ChunkPlace>();
    for (const ch of store.chunks()) places.set(ch.id, { headingPath: ch.headingPath, lineStart: ch.lineStart, lineEnd: ch.lineEnd });
    ctx.chunk = (id) => places.get(id);
  } finally {
    store.close();
  }
  return ctx;
}
