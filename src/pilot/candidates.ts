/**
 * The retrieval settings the pilot tries against the project's own (step "improved RAG"), and
 * how one is judged better: higher mean recall@k on the same cases with a paired bootstrap that
 * says the gain is not chance, and a pass rate that is not significantly worse (exact McNemar).
 */
import type { RagtuneConfig } from "../config/schema.ts";
import type { CaseResult } from "../evaluate/types.ts";
import { mcnemarExact, pairedBootstrap } from "../evaluate/significance.ts";

export type CandidateSet = "standard" | "quick";

export interface RetrievalCandidate {
  /** Short name, also the folder of its index (letters, digits, '-'). */
  name: string;
  /** What differs from the project's settings, in words. */
  change: string;
  chunking: RagtuneConfig["chunking"];
  retrieval: RagtuneConfig["retrieval"];
  /** Whether the candidate needs its own index (chunking differs). */
  reindex: boolean;
}

/**
 * The bounded set tried: every other chunking strategy at the project's size; the project's
 * strategy at half and double the chunk size; the reranker switched; hybrid retrieval when an
 * embedder is configured. `quick` (for tests and smoke runs): the reranker switch and one strategy.
 */
export function retrievalCandidates(config: RagtuneConfig, set: CandidateSet = "standard"): RetrievalCandidate[] {
  const c = config.chunking;
  const r = config.retrieval;
  const out: RetrievalCandidate[] = [];
  const strategies = (["headings", "paragraphs", "sentences", "fixed"] as const).filter((s) => s !== c.strategy);
  for (const s of strategies) {
    out.push({ name: `chunk-${s}`, change: `chunking.strategy: ${s}`, chunking: { ...c, strategy: s }, retrieval: r, reindex: true });
  }
  for (const size of [Math.max(64, Math.round(c.maxTokens / 2)), Math.min(8192, c.maxTokens * 2)]) {
    if (size === c.maxTokens) continue;
    out.push({ name: `chunk-${size}`, change: `chunking.maxTokens: ${size}`, chunking: { ...c, maxTokens: size, overlapTokens: Math.min(c.overlapTokens, size - 1) }, retrieval: r, reindex: true });
  }
  const rerank = r.rerank === "none" ? "offline" : "none";
  out.push({ name: `rerank-${rerank}`, change: `retrieval.rerank: ${rerank}`, chunking: c, retrieval: { ...r, rerank }, reindex: false });
  if (config.models.embedder && config.models.embedder !== "none" && r.mode === "lexical") {
    out.push({ name: "mode-hybrid", change: "retrieval.mode: hybrid", chunking: c, retrieval: { ...r, mode: "hybrid" }, reindex: true });
  }
  if (set === "quick") return out.filter((x) => x.name.startsWith("rerank-") || x.name === `chunk-${strategies[0]}`);
  return out;
}

export interface CandidateScore {
  name: string;
  change: string;
  runId: string;
  cases: number;
  passRate: number;
  /** Mean recall@k over the cases with gold sources (null when none has them). */
  recall: number | null;
  /** Against the project's settings on the same cases. */
  vsBasic?: { recallDiff: number; recallP: number; passDiff: number; passP: number; better: boolean; why: string };
}

/** Per-case recall@k and pass of a rag run, keyed by case id. */
export function perCase(cases: CaseResult[]): Map<string, { recall?: number; passed: boolean }> {
  const m = new Map<string, { recall?: number; passed: boolean }>();
  for (const c of cases) if (c.variant === "rag" && !c.repeat) m.set(c.caseId, { recall: c.retrieval?.recallAtK, passed: c.passed });
  return m;
}

export function meanRecall(cases: Map<string, { recall?: number }>): number | null {
  const r = [...cases.values()].map((c) => c.recall).filter((x): x is number => typeof x === "number");
  return r.length ? r.reduce((a, b) => a + b, 0) / r.length : null;
}

/** Is `cand` better than `basic`: a significant recall gain without a significant pass-rate loss. */
export function compareToBasic(basic: Map<string, { recall?: number; passed: boolean }>, cand: Map<string, { recall?: number; passed: boolean }>, alpha: number, seed: number): NonNullable<CandidateScore["vsBasic"]> {
  const diffs: number[] = [];
  const pairs: { a: boolean; b: boolean }[] = [];
  for (const [id, b] of basic) {
    const c = cand.get(id);
    if (!c) continue;
    pairs.push({ a: b.passed, b: c.passed });
    if (typeof b.recall === "number" && typeof c.recall === "number") diffs.push(c.recall - b.recall);
  }
  const boot = diffs.length ? pairedBootstrap(diffs, { seed }) : { diff: 0, pValue: 1 };
  const mc = mcnemarExact(pairs);
  const passDiff = pairs.length ? (mc.onlyB - mc.onlyA) / pairs.length : 0;
  const recallGain = boot.diff > 0 && boot.pValue < alpha;
  const passLoss = passDiff < 0 && mc.pValue < alpha;
  const better = recallGain && !passLoss;
  const why = !diffs.length
    ? "no case has gold sources, so recall cannot be compared"
    : better
      ? `recall +${boot.diff.toFixed(3)} (paired bootstrap p = ${boot.pValue.toPrecision(2)}, n = ${diffs.length})`
      : recallGain
        ? `recall +${boot.diff.toFixed(3)} but pass rate ${(passDiff * 100).toFixed(1)} points, significantly worse (McNemar p = ${mc.pValue.toPrecision(2)})`
        : boot.diff < 0 && boot.pValue < alpha
          ? `recall ${boot.diff.toFixed(3)}, significantly lower (paired bootstrap p = ${boot.pValue.toPrecision(2)}, n = ${diffs.length})`
          : `recall ${boot.diff >= 0 ? "+" : ""}${boot.diff.toFixed(3)}, not a significant gain (paired bootstrap p = ${boot.pValue.toPrecision(2)}, n = ${diffs.length})`;
  return { recallDiff: boot.diff, recallP: boot.pValue, passDiff, passP: mc.pValue, better, why };
}
