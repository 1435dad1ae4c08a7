/**
 * The decision scenario bank (issue 10): each entry is a small real project whose right answer,
 * and why, is written here before it runs. bench/decisions.ts and test/decide-scenarios.test.ts
 * build and run every one through the real pipeline (build.ts).
 *
 * What the offline generator can and cannot do decides how the situations are made real:
 * - prompt-only has no context, so it abstains on every question about the made-up modules
 *   (missing_knowledge); rag and long-context find the one page that states the fact.
 * - classify without a model is a lexical match of the input against label names/descriptions:
 *   readable labels named in the ticket pass; opaque queue codes ("Q07") fail (wrong_label,
 *   behaviour) until the in-process classifier learns them from labelled tickets.
 * - questions that need arithmetic over a retrieved price fail on rag with the gold page in the
 *   context (weak_reasoning): the generator, not retrieval, is the limit.
 * - the memoriser answers questions near the ones it was trained on (paraphrases here), without
 *   any store — knowledge that a trained model carries.
 */
import type { Decision } from "../../../src/decide/types.ts";
import { premise, rateOf as r, type Scenario } from "./build.ts";
import type { RunSummary } from "../../../src/evaluate/types.ts";
import { factCases, factDocs, factTraining, facts, policyDocs, pricingDocs, ticketCases, ticketLabels, ticketTraining } from "./content.ts";

const BASE = {
  citationsRequired: false,
  queriesPerDay: 200,
  p95LatencyMs: 5000,
  labelledExamples: 0,
  externalDataStoreAllowed: true,
};

const says = (re: RegExp, where: "whatWouldChange" | "rationale" | "both" = "both") => (d: Decision) => {
  const lines = where === "both" ? [...d.whatWouldChange, ...d.rationale] : d[where];
  return lines.some((l) => re.test(l)) ? undefined : `no ${where} line matches ${re}`;
};

const failuresOf = (s: RunSummary, variant: string, cause: string) => s.variants.find((v) => v.name === variant)?.failures[cause as "weak_reasoning"] ?? 0;
const truncated = (s: RunSummary) => s.variants.find((v) => v.name === "long-context")?.context?.truncated === true;

const kb = facts(20);
const pricing = pricingDocs(20);

export const SCENARIOS: Scenario[] = [
  {
    id: "fast-changing-support-docs",
    title: "Support docs that change daily; questions need the docs",
    expected: "rag",
    reason: "Every failure of prompt-only is missing knowledge and retrieval fixes it. The docs change daily (never trained into a model; not 'stable' for long-context), and at 20,000 queries/day packing the corpus into every prompt costs several times rag.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "prompt-only") <= 0.1, "prompt-only should fail the questions"], [r(s, "rag") >= 0.9, "rag should answer them"]),
    variants: ["prompt-only", "long-context", "rag"],
    constraints: { ...BASE, knowledgeChange: "daily", queriesPerDay: 20000 },
  },
  {
    id: "strict-format-many-labels",
    title: "Stable ticket routing into 12 opaque queues, 480 labelled tickets",
    expected: "fine-tune",
    reason: "Failures are wrong labels (behaviour), context does not fix them, knowledge is not the issue, and there are enough labels: the trained classifier learns the queues.",
    docs: policyDocs(),
    suite: { labels: ticketLabels(true), cases: ticketCases(22, true) },
    premise: (s) => premise([r(s, "prompt-only") <= 0.2, "prompt-only should miss the opaque queues"], [r(s, "fine-tuned") >= r(s, "prompt-only") + 0.5, "the trained classifier should learn them"]),
    variants: ["prompt-only", "rag", "fine-tuned"],
    constraints: { ...BASE, knowledgeChange: "never", labelledExamples: 480 },
    // Forced: the promotion gate's own baseline is few-shot kNN over the same labelled tickets, which
    // ties the classifier at 100% on this synthetic data; the variant must still be measured.
    datasets: [{ task: "classify", rows: ticketTraining(480, true), promote: "force" }],
  },
  {
    id: "citations-and-strict-format",
    title: "Cited answers from the docs plus strict ticket routing",
    expected: "hybrid",
    reason: "Knowledge failures that retrieval fixes and wrong-label failures that remain with retrieval; citations are required, so the trained model must answer with retrieved passages.",
    docs: { ...factDocs(kb.slice(0, 10)), ...policyDocs() },
    suite: { labels: ticketLabels(true), cases: [...factCases(kb.slice(0, 10)), ...ticketCases(12, true)] },
    premise: (s) => premise([r(s, "rag") > r(s, "prompt-only") + 0.3, "rag should fix the knowledge questions"], [r(s, "hybrid") >= r(s, "rag") + 0.3, "hybrid should also fix the routing"]),
    variants: ["prompt-only", "rag", "fine-tuned", "hybrid"],
    constraints: { ...BASE, knowledgeChange: "monthly", citationsRequired: true, labelledExamples: 480 },
    // Forced: the promotion gate's own baseline is few-shot kNN over the same labelled tickets, which
    // ties the classifier at 100% on this synthetic data; the variant must still be measured.
    datasets: [{ task: "classify", rows: ticketTraining(480, true), promote: "force" }],
  },
  {
    id: "small-stable-low-volume",
    title: "A dozen pages that never change, 20 questions a day",
    expected: "long-context",
    reason: "The whole corpus fits the context budget and fixes the knowledge failures; it never changes, and at 20 queries/day packing it costs less than running a vector store.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "long-context") >= 0.9 && !truncated(s), "the whole corpus should fit and answer"]),
    variants: ["prompt-only", "long-context", "rag"],
    constraints: { ...BASE, knowledgeChange: "never", queriesPerDay: 20 },
  },
  {
    id: "reasoning-dominated",
    title: "Yearly totals that need arithmetic over the retrieved price",
    expected: "stronger-model",
    reason: "rag retrieves the gold pricing page for every question and still answers wrongly (weak reasoning): the generator is the limit, not the context.",
    docs: pricing.docs,
    suite: { cases: pricing.cases },
    premise: (s) => premise([failuresOf(s, "rag", "weak_reasoning") >= 0.9 * s.suite.cases, "rag should fail by weak reasoning with the gold page in context"]),
    variants: ["prompt-only", "rag"],
    constraints: { ...BASE, knowledgeChange: "monthly" },
  },
  {
    id: "nothing-fails",
    title: "Tickets whose text names their queue",
    expected: "prompt-only",
    reason: "The prompt-only baseline (lexical label match) already routes every ticket right; nothing needs adding.",
    docs: policyDocs(),
    suite: { labels: ticketLabels(false), cases: ticketCases(20, false) },
    premise: (s) => premise([r(s, "prompt-only") >= 0.95, "prompt-only should really pass"]),
    variants: ["prompt-only", "rag"],
    constraints: { ...BASE, knowledgeChange: "monthly" },
  },
  {
    id: "compliance-forbids-store",
    title: "Documents may not sit in an external store; stable facts; 320 labelled Q&A pairs",
    expected: "fine-tune",
    reason: "rag would fix the knowledge failures but the store is forbidden; the corpus does not fit a small context budget; the knowledge is stable and a trained model carries it.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "rag") >= 0.9, "rag would work if allowed"], [truncated(s) && r(s, "long-context") < 0.5, "the corpus should not fit the context budget"], [r(s, "fine-tuned") >= 0.8, "the memoriser should carry the facts"]),
    variants: ["prompt-only", "long-context", "rag", "fine-tuned"],
    longContextBudgetTokens: 400,
    constraints: { ...BASE, knowledgeChange: "yearly", externalDataStoreAllowed: false, labelledExamples: 320 },
    // The memoriser's held-out gate refuses it (memorising does not generalise), so it is promoted forced.
    datasets: [{ task: "qa", rows: factTraining(kb), promote: "force" }],
  },
  {
    id: "too-few-labels",
    title: "Opaque queues but only 60 labelled tickets",
    expected: "prompt-only",
    reason: "The failures point to fine-tuning, but 60 labels is under the 300 needed: collect labelled examples first; until then keep the simplest option (nothing measured beats it).",
    docs: policyDocs(),
    suite: { labels: ticketLabels(true), cases: ticketCases(20, true) },
    premise: (s) => premise([r(s, "prompt-only") <= 0.2 && r(s, "rag") <= 0.2, "the opaque queues should fail without a trained model"]),
    variants: ["prompt-only", "rag"],
    constraints: { ...BASE, knowledgeChange: "monthly", labelledExamples: 60 },
    check: (d) => (d.architecture === "fine-tune" || d.architecture === "hybrid" ? "recommends training with 60 labels" : says(/[Cc]ollect .*labelled examples/, "whatWouldChange")(d)),
  },
  {
    id: "budget-demotes-rag",
    title: "Daily-changing docs, a tiny corpus and a budget below the vector store's fixed cost",
    expected: "long-context",
    reason: "rag fixes the knowledge failures but its fixed vector-store cost alone is over the monthly budget; long-context also fixes them, within budget, with no index.",
    docs: factDocs(kb.slice(0, 10)),
    suite: { cases: factCases(kb.slice(0, 10)).concat(factCases(kb.slice(0, 10)).map((c, i) => ({ ...c, id: `kb-again-${i + 1}`, input: `${String(c.input).replace("How many days", "For how many days")}` }))) },
    premise: (s) => premise([r(s, "rag") >= 0.9 && r(s, "long-context") >= 0.9, "both context variants should answer"]),
    variants: ["prompt-only", "long-context", "rag"],
    constraints: { ...BASE, knowledgeChange: "daily", queriesPerDay: 10, monthlyBudgetUsd: 5 },
  },
  {
    id: "citations-required-knowledge",
    title: "Small stable corpus, low volume, but answers must cite their source",
    expected: "rag",
    reason: "Same situation as long-context's, but required citations need retrieved passages: rag.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "rag") >= 0.9 && r(s, "long-context") >= 0.9, "both context variants should answer"]),
    variants: ["prompt-only", "long-context", "rag"],
    constraints: { ...BASE, knowledgeChange: "never", queriesPerDay: 20, citationsRequired: true },
  },
  {
    id: "weekly-knowledge-no-store",
    title: "No external store, weekly-changing facts, a corpus over the context budget, a memoriser that knows them",
    expected: "long-context",
    reason:
      "The store is forbidden and the corpus only partly fits the prompt, while a trained memoriser answers more; but facts that change weekly must not be trained into weights (stale within a week, a training run per change). long-context is the only allowed option that stays current; raising the budget would recover the rest.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([truncated(s) && r(s, "long-context") >= 0.5, "long-context should fix most, truncated"], [r(s, "fine-tuned") > r(s, "long-context"), "the memoriser should answer more"]),
    variants: ["prompt-only", "long-context", "rag", "fine-tuned"],
    longContextBudgetTokens: 900,
    constraints: { ...BASE, knowledgeChange: "weekly", externalDataStoreAllowed: false, labelledExamples: 320 },
    datasets: [{ task: "qa", rows: factTraining(kb), promote: "force" }],
    check: says(/fine-tune.*knowledge changes weekly/, "rationale"),
  },
  {
    id: "weekly-knowledge-corpus-over-budget",
    title: "As above, but only a third of the corpus fits the prompt: no rule's condition holds",
    expected: "long-context",
    reason:
      "Neither context option fixes most knowledge failures, so the fallback picks the best measured allowed option; the memoriser passes most but its pass rate rests on trained-in facts that change weekly, so the knowledge constraint rules it out there too. long-context is the best allowed option.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "long-context") < 0.5 && r(s, "long-context") > 0, "long-context should fix some but not most"], [r(s, "fine-tuned") > r(s, "long-context"), "the memoriser should answer more"]),
    variants: ["prompt-only", "long-context", "rag", "fine-tuned"],
    longContextBudgetTokens: 600,
    constraints: { ...BASE, knowledgeChange: "weekly", externalDataStoreAllowed: false, labelledExamples: 320 },
    datasets: [{ task: "qa", rows: factTraining(kb), promote: "force" }],
    check: says(/fine-tune.*knowledge changes weekly/, "rationale"),
  },
  {
    id: "not-distinguishable-simpler",
    title: "Daily-changing docs at 10 queries/day; rag leads long-context by two cases",
    expected: "long-context",
    reason:
      "The failures point to rag, but its lead over long-context (a corpus slightly over the budget) is two cases, not significant; long-context costs a fraction of rag's fixed vector store at this volume, and packs the current docs at query time, so the simpler, cheaper option is recommended.",
    docs: factDocs(kb),
    suite: { cases: factCases(kb) },
    premise: (s) => premise([r(s, "rag") - r(s, "long-context") > 0 && r(s, "rag") - r(s, "long-context") <= 0.15, "rag should lead long-context by a case or two"]),
    variants: ["prompt-only", "long-context", "rag"],
    longContextBudgetTokens: 1500,
    constraints: { ...BASE, knowledgeChange: "daily", queriesPerDay: 10 },
    check: says(/not distinguishable/, "rationale"),
  },
  {
    id: "finetuned-does-not-help",
    title: "Opaque queues, 480 labels, but the labels are noise (the classifier learns nothing)",
    expected: "prompt-only",
    reason: "The failures point to fine-tuning and it was measured: trained on labels that ignore the text it gains nothing over prompt-only, so it is not recommended; nothing beats the simplest option.",
    docs: policyDocs(),
    suite: { labels: ticketLabels(true), cases: ticketCases(22, true) },
    premise: (s) => premise([r(s, "fine-tuned") < r(s, "prompt-only") + 0.15, "the classifier trained on noise should not learn the queues"]),
    variants: ["prompt-only", "rag", "fine-tuned"],
    constraints: { ...BASE, knowledgeChange: "never", labelledExamples: 480 },
    datasets: [{ task: "classify", rows: ticketTraining(480, true, { shuffle: true }), promote: "force" }],
    check: says(/fine-tuned was measured/, "rationale"),
  },
];
