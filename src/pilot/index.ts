/**
 * pilot/ — the seven-day plan as one resumable command (docs/pilot.md): baseline → basic RAG →
 * improved RAG → the failures RAG leaves, by cause → is fine-tuning justified (and, with a
 * trainer, train + gate) → decision, report and rollout metrics.
 *
 * Every step is recorded in `runs/pilot-<id>/pilot.json` with the inputs it ran on (config,
 * suite and index fingerprints) and what it produced (run ids, the chosen retrieval settings).
 * A re-run continues from the first unfinished step; if the inputs changed it names what changed
 * and stops (exit 2) unless --restart. Candidate retrieval settings are measured on their own
 * index inside the pilot folder: the project's index and ragtune.yaml are never written.
 */
export { runPilot, PILOT_STEPS, type PilotOptions, type PilotResult } from "./run.ts";
export { type PilotState, type StepRecord, type StepName } from "./state.ts";
export { retrievalCandidates, type RetrievalCandidate, type CandidateSet } from "./candidates.ts";
