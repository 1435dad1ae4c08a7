/**
 * The pilot's record: one JSON file per pilot, rewritten atomically after every step, so a crash
 * leaves the last finished step readable and a re-run resumes after it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";
import { InputError } from "../util/errors.ts";

export type StepName = "ingest" | "baseline" | "basic-rag" | "improved-rag" | "failures" | "fine-tune" | "decision";

export interface StepRecord {
  name: StepName;
  status: "done" | "skipped";
  startedAt: string;
  finishedAt: string;
  ms: number;
  /** Runs the step made (ids under runs/). */
  runIds: string[];
  /** One line for the summary table. */
  summary: string;
  /** Step-specific results (pass rates, recall, the chosen settings, failure counts, …). */
  data: Record<string, unknown>;
}

/** What the pilot ran on; a change to any of them invalidates the recorded steps. */
export interface PilotInputs {
  configSha256: string;
  suiteSha256: string;
  /** Index content fingerprint after the ingest step (documents, hashes, chunking). */
  indexFingerprint?: string;
}

export interface PilotState {
  pilotVersion: 1;
  id: string;
  createdAt: string;
  inputs: PilotInputs;
  steps: StepRecord[];
  complete: boolean;
}

export const PILOT_FILE = "pilot.json";

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function pilotDir(runsDir: string, id: string): string {
  return join(runsDir, `pilot-${id}`);
}

export function saveState(dir: string, state: PilotState): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, PILOT_FILE), JSON.stringify(state, null, 2) + "\n");
}

export function loadState(dir: string): PilotState {
  const file = join(dir, PILOT_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new InputError(`${file}: not a readable pilot record (${(error as Error).message}); start a new pilot with --restart`);
  }
  const s = parsed as Partial<PilotState>;
  if (s.pilotVersion !== 1 || typeof s.id !== "string" || !Array.isArray(s.steps) || !s.inputs) {
    throw new InputError(`${file}: pilotVersion, id, inputs or steps missing or unknown; start a new pilot with --restart`);
  }
  return s as PilotState;
}

/** Pilot ids under runs/, oldest first (ids sort by time). */
export function listPilots(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .filter((d) => d.startsWith("pilot-") && existsSync(join(runsDir, d, PILOT_FILE)))
    .map((d) => d.slice("pilot-".length))
    .sort();
}

/** What differs between the recorded inputs and now, in words (empty when nothing). */
export function inputChanges(recorded: PilotInputs, now: PilotInputs): string[] {
  const out: string[] = [];
  if (recorded.configSha256 !== now.configSha256) out.push("ragtune.yaml changed");
  if (recorded.suiteSha256 !== now.suiteSha256) out.push("the suite changed");
  if (recorded.indexFingerprint && now.indexFingerprint && recorded.indexFingerprint !== now.indexFingerprint) out.push("the documents changed (index fingerprint differs)");
  return out;
}
