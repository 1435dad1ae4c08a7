/**
 * The rollout plan behind a recommendation, in the practitioners' order: prompt baseline → RAG →
 * log failures → fix retrieval → fine-tune the stable behaviour (or a stronger model when the
 * generator is the limit). Each step says what to watch — with this run's measured value where it
 * has one — when to move on, and how to undo it. Retrieval changes and model changes roll back on
 * separate paths: retrieval is the config and the index built from it (versioned with the project
 * in git; every run records the exact config in runs/<id>/config.json and reads a pinned copy of the
 * index), models are versions in the registry (`ragtune models rollback`). Undoing one never
 * touches the other.
 */
import type { Evidence, VariantEvidence } from "./evidence.ts";
import type { Architecture, RolloutStep } from "./types.ts";

const pct = (x: number | undefined): string => (typeof x === "number" && Number.isFinite(x) ? `${Math.round(x * 1000) / 10}%` : "not measured");
const ms = (x: number | undefined): string => (typeof x === "number" && Number.isFinite(x) ? `${Math.round(x)} ms` : "not measured");

function metric(v: VariantEvidence | undefined, key: string): number | undefined {
  const x = v?.summary.metrics[key];
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

const RETRIEVAL_ROLLBACK =
  "retrieval path: revert the `chunking`/`retrieval`/`sources` change in ragtune.yaml (git; the run's config.json holds the exact config that was measured) and run `ragtune ingest`; trained models are not touched";
const MODEL_ROLLBACK = "model path: `ragtune models rollback <task>` restores the previously promoted version; the index and retrieval config are not touched";
const CONFIG_ROLLBACK = "config path: set `models.generator` (or `models.systemPrompt`) back in ragtune.yaml; nothing is re-indexed or retrained";

/** The steps for `architecture`, with this run's numbers. */
export function rolloutPlan(ev: Evidence, architecture: Architecture): RolloutStep[] {
  const base = ev.get("prompt-only");
  const rag = ev.get("rag") ?? ev.get("hybrid");
  const ft = ev.get("fine-tuned");
  const hybrid = ev.get("hybrid");
  const target = ev.constraints.p95LatencyMs;
  const steps: Omit<RolloutStep, "step">[] = [];

  steps.push({
    title: "Prompt baseline",
    what: "Serve the strong prompt baseline (`models.systemPrompt`) with no retrieval; it is the floor every later step must beat.",
    watch: [`pass rate (prompt-only: ${pct(base?.summary.passRate)})`, `fallback rate (${pct(metric(base, "fallbackRate"))})`],
    advanceWhen: "it is measured on the suite and the failures are labelled (this run did both).",
    rollback: { kind: "config", how: CONFIG_ROLLBACK },
  });
  if (architecture === "prompt-only") return number(steps);

  if (architecture === "long-context") {
    steps.push({
      title: "Long context",
      what: "Pack the whole corpus into the prompt (`longContext.budgetTokens`), newest version first.",
      watch: [`pass rate (long-context: ${pct(ev.get("long-context")?.summary.passRate)})`, `truncation (${ev.get("long-context")?.truncated ? "the corpus was truncated" : "none"})`, `p95 latency (${ms(ev.get("long-context")?.summary.latencyMs.p95)}${target ? ` vs target ${target} ms` : ""})`],
      advanceWhen: "the pass rate holds on live traffic and the corpus still fits the budget after each docs change.",
      rollback: { kind: "config", how: CONFIG_ROLLBACK },
    });
    return number(steps);
  }

  if (architecture !== "fine-tune") {
    steps.push({
      title: "Basic RAG",
      what: "Index the documents (`ragtune ingest`) and answer from the top-k chunks with citations.",
      watch: [
        `pass rate (${rag?.name ?? "rag"}: ${pct(rag?.summary.passRate)})`,
        `retrieval hit@k (${pct(metric(rag, "retrieval.hitAtK"))}), kept apart from answer quality`,
        `abstention accuracy (${pct(metric(rag, "abstention.accuracy"))})`,
        `p95 latency (${ms(rag?.summary.latencyMs.p95)}${target ? ` vs target ${target} ms` : ""})`,
      ],
      advanceWhen: "it beats the prompt baseline with a significant paired difference, and hit@k is known.",
      rollback: { kind: "retrieval", how: RETRIEVAL_ROLLBACK },
    });
    steps.push({
      title: "Log failures",
      what: "Serve it and record every failure with its cause (the same labels as this evaluation); add the new failures to the suite.",
      watch: ["share of failures by cause (missing knowledge, wrong retrieval, stale knowledge point at retrieval; format, tone, labels at behaviour)"],
      advanceWhen: "a week of traffic or 50+ new labelled failures, enough to see which cause dominates.",
      rollback: { kind: "none", how: "logging changes nothing that answers; turn it off in the service config" },
    });
    steps.push({
      title: "Fix retrieval",
      what: "Attack retrieval failures first: chunking strategy, reranker, dense or hybrid search, version labels (`ragtune bench retrieval --suite`), re-measured on the suite with a paired test.",
      watch: [`hit@k and MRR (now ${pct(metric(rag, "retrieval.hitAtK"))} / ${pct(metric(rag, "retrieval.mrr"))})`, "knowledge failures left on rag", "p95 latency after each change"],
      advanceWhen: "hit@k stops improving, or the remaining failures are not knowledge failures.",
      rollback: { kind: "retrieval", how: RETRIEVAL_ROLLBACK },
    });
  }

  if (architecture === "stronger-model") {
    steps.push({
      title: "Stronger model",
      what: "Measure a stronger generator on the same suite and index (`ragtune eval --model <id>`) before switching; decompose multi-step tasks if it is not enough.",
      watch: ["weak-reasoning failures with the gold passage retrieved", "cost per query at the new model's prices", "p95 latency"],
      advanceWhen: "the stronger model's gain over the current one is significant on the paired test.",
      rollback: { kind: "config", how: CONFIG_ROLLBACK },
    });
  }

  if (architecture === "fine-tune" || architecture === "hybrid") {
    const trained = architecture === "hybrid" ? hybrid : ft;
    steps.push({
      title: "Fine-tune the stable behaviour",
      what:
        architecture === "hybrid"
          ? "Train a model for the behaviour retrieval does not fix (formats, labels, tone) on the labelled examples (`ragtune finetune train`); keep retrieval for knowledge."
          : "Train a model on the labelled examples (`ragtune finetune train`): the gate promotes it only if it beats the prompt baseline and the promoted model on held-out data.",
      watch: [
        `pass rate (${trained?.name ?? architecture}: ${pct(trained?.summary.passRate)})`,
        "held-out accuracy vs the prompt baseline at the promotion gate (McNemar)",
        "stale-knowledge failures (a trained model does not see docs that changed after training)",
      ],
      advanceWhen: "the gate passes on held-out data and the live failure share of that behaviour falls.",
      rollback: { kind: "model", how: MODEL_ROLLBACK },
    });
  }
  return number(steps);
}

function number(steps: Omit<RolloutStep, "step">[]): RolloutStep[] {
  return steps.map((s, i) => ({ step: i + 1, ...s }));
}
