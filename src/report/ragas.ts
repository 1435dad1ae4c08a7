/**
 * RAGAS-style rows of one variant's qa cases (JSONL, one object per line): the field names RAGAS
 * evaluation datasets use (`user_input`, `response`, `retrieved_contexts`, `reference`), plus what
 * ragtune knows about the case under one namespaced key, `ragtune`, which other tools ignore.
 *
 * Pure: the caller supplies the chunk texts (from the run's pinned index when it is still there,
 * else the live one) and the suite's expected answers; what could not be found is listed, not
 * invented.
 */
import type { CaseResult } from "../evaluate/types.ts";

export interface RagasRow {
  user_input: string;
  response: string;
  retrieved_contexts: string[];
  /** The case's first expected answer; absent when the suite has none for it (abstain cases, changed suite). */
  reference?: string;
  ragtune: {
    run: string;
    variant: string;
    case_id: string;
    passed: boolean;
    abstained: boolean;
    failure_cause?: string;
    failure_signal?: string;
    /** Chunk ids of retrieved_contexts, in the same order. */
    retrieved_ids: string[];
    retrieval?: CaseResult["retrieval"];
    scores: { name: string; pass: boolean; value: number }[];
    tags: string[];
  };
}

export interface RagasExportInput {
  cases: CaseResult[];
  variant: string;
  /** Chunk text by id; undefined when the chunk is no longer in the index. */
  chunkText: (id: string) => string | undefined;
  /** Expected answers by case id, with the input they were written for (a changed case is not used). */
  references: ReadonlyMap<string, { input: string; answers: string[] }>;
}

export interface RagasExport {
  rows: RagasRow[];
  /** Human-readable notes on what was left out (missing chunks, references not used). */
  notes: string[];
}

export function ragasRows({ cases, variant, chunkText, references }: RagasExportInput): RagasExport {
  const notes: string[] = [];
  const rows: RagasRow[] = [];
  const missingChunks = new Set<string>();
  for (const r of cases) {
    // Repeats score the same sample again: RAGAS rows are samples, so the first repeat stands for the case.
    if (r.variant !== variant || r.task !== "qa" || (r.repeat ?? 0) !== 0) continue;
    const contexts: string[] = [];
    const ids: string[] = [];
    for (const h of r.retrieved) {
      const text = chunkText(h.id);
      if (text === undefined) missingChunks.add(h.id);
      else {
        contexts.push(text);
        ids.push(h.id);
      }
    }
    const ref = references.get(r.caseId);
    let reference: string | undefined;
    if (ref && ref.input !== r.input) notes.push(`case '${r.caseId}': its input changed in the suite since the run — reference left out`);
    else if (ref?.answers.length) reference = ref.answers[0];
    rows.push({
      user_input: r.input,
      response: r.output,
      retrieved_contexts: contexts,
      ...(reference !== undefined ? { reference } : {}),
      ragtune: {
        run: r.runId,
        variant: r.variant,
        case_id: r.caseId,
        passed: r.passed,
        abstained: r.abstained,
        ...(r.failure ? { failure_cause: r.failure.cause, failure_signal: r.failure.signal } : {}),
        retrieved_ids: ids,
        ...(r.retrieval ? { retrieval: r.retrieval } : {}),
        scores: r.scores.map((s) => ({ name: s.name, pass: s.pass, value: s.value })),
        tags: r.tags,
      },
    });
  }
  if (missingChunks.size) {
    const some = [...missingChunks].slice(0, 5).join(", ");
    notes.push(`${missingChunks.size} retrieved chunk(s) are no longer in the index and were left out of retrieved_contexts: ${some}${missingChunks.size > 5 ? ", …" : ""}`);
  }
  return { rows, notes };
}

export const ragasJsonl = (rows: RagasRow[]): string => rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length ? "\n" : "");
