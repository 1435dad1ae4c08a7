/**
 * What `ragtune ingest` says about an embedding job: one estimate line before a long job
 * ("embedding 4,858 chunks with use-lite: about 4 min (measured 50 ms/chunk on the first 64)"),
 * measured on the job's own first batch rather than guessed, then a one-line progress bar with the
 * time left (TTY only: a pipe or log gets the estimate line and the final summary, no \r noise).
 */
import type { EmbedEstimate, EmbedProgress } from "../retrieve/dense.ts";

/** Jobs expected to take longer than this get the estimate line (ms). */
export const EMBED_ESTIMATE_THRESHOLD_MS = 10_000;

/** "45 s", "4 min", "1 h 20 min". */
export function humanDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

const count = (n: number) => n.toLocaleString("en-US");

export function estimateLine(e: EmbedEstimate): string {
  return `embedding ${count(e.total)} chunks with ${e.embedder}: about ${humanDuration(e.totalMs)} (measured ${Math.round(e.msPerChunk)} ms/chunk on the first ${count(e.measured)})`;
}

const BAR = 20;

/** "embed [#######-------------] 1,700/4,858 with use-lite, about 2 min left". */
export function progressLine(p: EmbedProgress): string {
  const filled = p.total > 0 ? Math.round((BAR * p.done) / p.total) : BAR;
  const left = p.done > 0 && p.done < p.total ? `, about ${humanDuration((p.elapsedMs / p.done) * (p.total - p.done))} left` : "";
  return `embed [${"#".repeat(filled)}${"-".repeat(BAR - filled)}] ${count(p.done)}/${count(p.total)} with ${p.embedder}${left}`;
}
