/**
 * runs/<id>/ — everything a run did, so it can be resumed, compared and reported:
 *   config.json   config snapshot + suite/corpus fingerprints + generator id + the pinned index's identity
 *   index.db      the run's copy of the index, read by the whole run; deleted when the run completes
 *                 (evaluate/snapshot.ts)
 *   index-manifest.json  the documents of that copy, to name what changed when a resume is refused
 *   cases.jsonl   one CaseResult per line, appended as cases finish (a crash loses at most the line in flight)
 *   summary.json  RunSummary, written atomically when the run completes
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import type { CaseResult, RunSummary } from "./types.ts";
import type { RagtuneConfig } from "../config/index.ts";
import { InputError } from "../util/errors.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { RunIndex } from "./snapshot.ts";

export interface RunSnapshot {
  runId: string;
  createdAt: string;
  ragtuneVersion: string;
  configPath: string;
  config: RagtuneConfig;
  suitePath: string;
  suiteHash: string;
  corpusHash: string;
  /** The index the run reads (generation + content fingerprint) and its copy in the run folder; absent in older runs. */
  index?: RunIndex;
  generator: string;
  variants: string[];
  /** Runs of each case (--repeats); absent in runs made before repeats existed = 1. */
  repeats?: number;
  /** Judge model id, when LLM judging ran. */
  judge?: string;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, "-").replace("T", "_").slice(0, 19);
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

export function runsDir(root: string, config: RagtuneConfig): string {
  return resolve(root, config.runsDir);
}

/** Resolve a run reference: an id, a path to a run folder, "latest", or undefined (= latest). */
export function resolveRunDir(root: string, config: RagtuneConfig, ref?: string): string {
  const dir = runsDir(root, config);
  if (ref && ref !== "latest") {
    const candidates = [resolve(ref), join(dir, ref)];
    for (const c of candidates) if (existsSync(join(c, "config.json"))) return c;
    throw new InputError(`run not found: ${ref} (looked in ${dir})`);
  }
  const ids = listRuns(dir);
  if (ids.length === 0) throw new InputError(`no runs in ${dir} — run \`ragtune eval\` first`);
  return join(dir, ids[ids.length - 1]);
}

/** Run ids, oldest first (ids sort by time). */
export function listRuns(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, "config.json")) && statSync(join(dir, d)).isDirectory())
    .sort();
}

export function createRunDir(dir: string, snapshot: RunSnapshot): string {
  const runDir = join(dir, snapshot.runId);
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(join(runDir, "config.json"), JSON.stringify(snapshot, null, 2) + "\n");
  return runDir;
}

/** Rewrite config.json (atomically). */
export function writeSnapshot(runDir: string, snapshot: RunSnapshot): void {
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(join(runDir, "config.json"), JSON.stringify(snapshot, null, 2) + "\n");
}

export function readSnapshot(runDir: string): RunSnapshot {
  return JSON.parse(readFileSync(join(runDir, "config.json"), "utf8")) as RunSnapshot;
}

export function appendCaseResult(runDir: string, result: CaseResult): void {
  appendFileSync(join(runDir, "cases.jsonl"), JSON.stringify(result) + "\n");
}

/**
 * Read cases.jsonl. A torn last line (crash while writing) is dropped, not fatal: that case is
 * simply run again on resume.
 */
export function readCaseResults(runDir: string): CaseResult[] {
  const file = join(runDir, "cases.jsonl");
  if (!existsSync(file)) return [];
  const out: CaseResult[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as CaseResult);
    } catch {
      if (i < lines.length - 2) throw new InputError(`${file}:${i + 1}: corrupt result line (not JSON)`);
    }
  });
  return out;
}

/**
 * Drop a torn last line (a crash mid-append) so that appending resumes on a clean line boundary.
 * Returns the number of bytes removed.
 */
export function repairCaseLog(runDir: string): number {
  const file = join(runDir, "cases.jsonl");
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, "utf8");
  if (text === "" || text.endsWith("\n")) return 0;
  const keep = text.slice(0, text.lastIndexOf("\n") + 1);
  writeFileAtomic(file, keep);
  return text.length - keep.length;
}

export function writeSummary(runDir: string, summary: RunSummary): void {
  writeFileAtomic(join(runDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
}

export function readSummary(runDir: string): RunSummary {
  const file = join(runDir, "summary.json");
  if (!existsSync(file)) {
    throw new InputError(`${runDir} has no summary.json — the run did not finish; resume it with \`ragtune eval --resume ${runDir}\``);
  }
  return JSON.parse(readFileSync(file, "utf8")) as RunSummary;
}
