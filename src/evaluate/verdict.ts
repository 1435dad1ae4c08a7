/**
 * A case's verdict from its scores and what the variant saw: retrieval metrics against the gold
 * sources (apart from answer quality), pass/fail, and the failure label. One place for the runner
 * and for anything else that must label exactly as a run does (the labeller benchmark).
 */
import type { LabelSpec } from "../models/index.ts";
import type { VariantOutput } from "../pipeline/index.ts";
import type { FailureInput } from "./failures.ts";
import { labelFailure } from "./failures.ts";
import { retrievalScores } from "./scorers.ts";
import type { FailureLabel, RetrievalScores, ScoreResult, SuiteCase } from "./types.ts";

export interface VerdictInput {
  case: SuiteCase;
  output: FailureInput["output"];
  scores: ScoreResult[];
  variant: { usesContext: boolean; usesRetrieval: boolean };
  out: Pick<VariantOutput, "retrieved" | "context" | "truncated">;
  /** The k of hit@k / recall@k. */
  k: number;
  currentVersion?: string;
  corpusPaths: Set<string>;
  labels: LabelSpec[];
  judges?: FailureInput["judges"];
}

export function caseVerdict(x: VerdictInput): { retrieval?: RetrievalScores; passed: boolean; failure?: FailureLabel } {
  const { case: c, out } = x;
  const retrieval =
    x.variant.usesRetrieval && c.sources?.length && c.task !== "extract"
      ? retrievalScores(
          c.sources,
          out.retrieved.map((h) => ({ id: h.chunk.id, path: h.chunk.path, headingPath: h.chunk.headingPath, spans: h.chunk.spans })),
          x.k,
        )
      : undefined;
  const passed = x.scores.every((s) => s.pass);
  const failure = labelFailure({
    case: c,
    output: x.output,
    scores: x.scores,
    passed,
    variant: x.variant,
    contextPaths: [...new Set(out.context.map((ch) => ch.path))],
    contextChunks: out.context.map((ch) => ({ id: ch.id, path: ch.path, headingPath: ch.headingPath, spans: ch.spans, text: ch.text, version: ch.version })),
    currentVersion: x.currentVersion,
    retrieval,
    truncated: out.truncated,
    corpusPaths: x.corpusPaths,
    labels: x.labels,
    ...(x.judges ? { judges: x.judges } : {}),
  });
  return { retrieval, passed, failure };
}
