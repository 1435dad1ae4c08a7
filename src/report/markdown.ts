/**
 * report.md: the human-readable report, rendered only from ReportJson so the two never disagree.
 */
import { FAILURE_CAUSES, type FailureCause } from "../evaluate/types.ts";
import type { TaskKind } from "../models/index.ts";
import type { Architecture } from "../decide/types.ts";
import { fmtCount, usd } from "../decide/cost.ts";
import type { Interval, PairedComparison } from "../evaluate/types.ts";
import type { ReportJson, ReportVariant } from "./json.ts";

const LABEL: Record<Architecture, string> = {
  "prompt-only": "Prompt-only",
  "long-context": "Long-context",
  rag: "RAG",
  "fine-tune": "Fine-tune",
  hybrid: "Hybrid (fine-tune + RAG)",
  "stronger-model": "A stronger model",
};

const TASKS: TaskKind[] = ["qa", "classify", "extract"];

/** Table cells may not contain pipes or newlines. */
function cell(x: string): string {
  return x.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
}

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(" | ")} |`;
}

function table(head: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const sep = head.map((_, i) => ((align?.[i] ?? "r") === "l" ? "---" : "---:"));
  return [row(head), `|${sep.join("|")}|`, ...rows.map(row)].join("\n");
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
}

/** A percentage bound without the % sign: "44.6", "0", "100". */
function pctBound(x: number): string {
  return (x * 100).toFixed(x === 1 || x === 0 ? 0 : 1);
}

/** " [44.6–60.9]" after a percentage, or nothing when no interval was computed. */
function ci(i: Interval | undefined): string {
  return i ? ` [${pctBound(i.low)}–${pctBound(i.high)}]` : "";
}

/** Signed number with a real minus sign. */
function signed(x: number, digits: number): string {
  const s = Math.abs(x).toFixed(digits);
  return Number(s) === 0 ? s : `${x < 0 ? "−" : "+"}${s}`;
}

function pValue(p: number): string {
  return p < 0.001 ? "< 0.001" : p.toFixed(p < 0.1 ? 3 : 2);
}

function num(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : x.toFixed(digits);
}

function ms(x: number): string {
  return `${fmtCount(Math.round(x))} ms`;
}

function money(x: number | null | undefined): string {
  return x === null || x === undefined ? "–" : usd(x);
}

/** Free text from cases, made inert: no code spans, emphasis or HTML from user data. */
function quote(text: string): string {
  return text.replace(/`/g, "'").replace(/[*_[\]]/g, (c) => `\\${c}`).replace(/</g, "&lt;");
}

/** `report --from-logs`: the live failures the recommendation was re-run on (docs/logs.md). */
function productionSection(p: NonNullable<ReportJson["recommendation"]["production"]>): string[] {
  const effect = p.effect === "changed" ? `changed the recommendation from ${p.measuredArchitecture}` : p.effect === "confirmed" ? `confirmed ${p.measuredArchitecture}` : `kept ${p.measuredArchitecture}`;
  const causes = Object.entries(p.byCause).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  return [
    "## Production evidence",
    "",
    `${p.labelled} labelled live failures of ${p.requests} answered requests (${p.from} → ${p.to}); they ${effect}.`,
    "",
    "| cause | live failures |",
    "|---|---|",
    ...causes.map(([c, n]) => `| ${c} | ${n} |`),
    "",
    ...p.lines.slice(1).map((l) => `- ${quote(l)}`),
    "",
  ];
}

function verdict(r: ReportJson): string {
  const rec = r.recommendation;
  const best = r.variants.reduce<ReportVariant | undefined>((a, v) => (!a || v.passRate > a.passRate ? v : a), undefined);
  const lead = rec.rationale.slice(0, 2).join(" ");
  return (
    `**Recommendation: ${LABEL[rec.architecture]}** (confidence: ${rec.confidence}). ${lead} ` +
    `Measured on ${r.suite.cases} cases × ${r.variants.length} variant${r.variants.length === 1 ? "" : "s"}` +
    `${best ? ` (best pass rate: ${best.name} ${pct(best.passRate)})` : ""} with \`${r.generator.id}\`; rule \`${rec.rule}\`.`
  );
}

function variantTable(r: ReportJson): string {
  const tasks = TASKS.filter((t) => r.variants.some((v) => v.byTask[t]));
  const head = ["Variant", "Generator", "Pass rate", ...tasks.map((t) => `${t} pass`), "Fallback rate", "p50", "p95", "Cost/query", "Monthly (projected)", "Run cost"];
  const rows = r.variants.map((v) => [
    v.name,
    `\`${v.generator}\``,
    `${pct(v.passRate)}${ci(v.ci?.passRate)} (${v.passed}/${v.cases})`,
    ...tasks.map((t) => (v.byTask[t] ? `${pct(v.byTask[t]!.passRate)}${ci(v.ci?.[`passRate.${t}`])} (${v.byTask[t]!.passed}/${v.byTask[t]!.cases})` : "–")),
    pct(v.fallbackRate),
    ms(v.latencyMs.p50),
    ms(v.latencyMs.p95),
    money(v.perQueryUsd),
    money(v.monthlyUsd),
    money(v.costUsd),
  ]);
  const out = [table(head, rows, ["l", "l"])];
  if (r.variants.some((v) => v.ci?.passRate)) {
    out.push(
      "",
      `Pass rates in brackets: ${Math.round((1 - r.statistics.alpha) * 100)}% bootstrap intervals over cases (${fmtCount(r.statistics.bootstrapSamples)} resamples, seed ${r.statistics.seed}; docs/statistics.md).`,
    );
  }
  if (r.finetunedModels.length) {
    out.push(
      "",
      "Fine-tuned models used by fine-tuned / hybrid (promoted in the model registry; other tasks use the base generator):",
      ...r.finetunedModels.map(
        (m) =>
          `- **${m.task}**: \`${m.id}\` (${m.trainer}${m.baseModel !== "none" ? ` on ${m.baseModel}` : ""}${m.examples !== undefined ? `, ${m.examples} training examples` : ""}, dataset \`${m.datasetHash.slice(0, 12)}\`)` +
          (m.forced ? ` — promoted by force: ${m.forced}; gate: ${m.gate ?? "none"}` : ""),
      ),
    );
  }
  if (r.notConfigured.length) {
    out.push("", ...r.notConfigured.map((n) => `- **${n.name}** — not run: ${n.reason}`));
  }
  out.push("", runLine(r));
  const cache = cacheLine(r);
  if (cache) out.push("", cache);
  if (r.stopped) out.push("", `> **Stopped early:** ${quote(r.stopped)} (resume with \`ragtune eval --resume\`).`);
  return out.join("\n");
}

/** Total cost of the run, split into the variants' own cost and judging. */
function runLine(r: ReportJson): string {
  const judging = r.variants.reduce((a, v) => a + (v.judge?.costUsd ?? 0), 0);
  const parts = r.variants.map((v) => `${v.name} ${usd(v.costUsd)}`);
  if (judging > 0 || r.judge) parts.push(`judging ${usd(judging)}`);
  return `Run cost (at each model's own price): **${usd(r.costUsd)}** — ${parts.join(", ")}.`;
}

function cacheLine(r: ReportJson): string | undefined {
  if (!r.cache) return undefined;
  const { hits, misses } = r.cache;
  const calls = hits + misses;
  if (calls === 0) return undefined;
  const tail = misses === 0 ? " — cached re-run: cost $0." : hits > 0 ? ` (${pct(hits / calls)} of calls served from the cache cost nothing).` : ".";
  return `Response cache: ${fmtCount(hits)} hit${hits === 1 ? "" : "s"}, ${fmtCount(misses)} miss${misses === 1 ? "" : "es"}${tail}`;
}

function comparisonLine(c: PairedComparison): string[] {
  const points = c.metric === "passRate";
  const diff = points ? `${signed(c.diff * 100, 1)} points` : signed(c.diff, 3);
  const interval = c.ci ? (points ? `[${signed(c.ci.low * 100, 1)}, ${signed(c.ci.high * 100, 1)}]` : `[${signed(c.ci.low, 3)}, ${signed(c.ci.high, 3)}]`) : "–";
  const test = c.test === "mcnemar-exact" ? `McNemar exact${c.discordant ? ` (${c.discordant.onlyA} vs ${c.discordant.onlyB} discordant)` : ""}` : "paired bootstrap";
  return [`${c.b} vs ${c.a}`, points ? "pass rate" : c.metric, test, String(c.n), diff, interval, pValue(c.pValue), c.significant ? "**significant**" : "not significant"];
}

function differencesSection(r: ReportJson): string {
  const level = Math.round((1 - r.statistics.alpha) * 100);
  return [
    `Each row pairs two variants on the cases both ran; the difference is the first minus the second. Pass/fail: exact McNemar test on the cases only one of them passed ` +
      `(with repeats: paired bootstrap on each case's pass share); scores: paired bootstrap (${fmtCount(r.statistics.bootstrapSamples)} resamples, seed ${r.statistics.seed}). ` +
      `**Not significant** means p ≥ ${r.statistics.alpha}: a difference this size could be chance, so do not choose between those two on this run alone — add cases or repeats. ` +
      "The verdict follows the test; with few discordant cases the bootstrap interval can be narrower than the exact test warrants.",
    "",
    table(["Comparison", "Metric", "Test", "Cases", "Difference", `${level}% CI`, "p", "Verdict"], r.comparisons.map(comparisonLine), ["l", "l", "l"]),
  ].join("\n");
}

function repeatsSection(r: ReportJson): string {
  const rows = r.variants
    .filter((v) => v.repeats)
    .map((v) => [v.name, String(v.repeats!.n), `${pct(v.passRate)}${ci(v.ci?.passRate)}`, pct(v.repeats!.passAll), pct(v.repeats!.agreement), String(v.repeats!.failedRuns)]);
  return [
    "Every case ran several times. Pass rate is the mean over cases of each case's pass share; pass^N is the share of cases that passed every repeat; " +
      "agreement the share whose verdicts were all the same. Low agreement means verdicts flip between runs (sampling or judge noise).",
    "",
    table(["Variant", "Repeats", "Pass rate (mean)", "pass^N", "Agreement", "Failed runs"], rows, ["l"]),
  ].join("\n");
}

function judgeSection(r: ReportJson): string {
  const judged = r.variants.filter((v) => v.judge);
  const names = [...new Set(judged.flatMap((v) => Object.keys(v.judge!.byJudge)))].sort();
  const rows = judged.map((v) => {
    const j = v.judge!;
    const errors = Object.values(j.byJudge).reduce((a, x) => a + (x?.errors ?? 0), 0);
    const h = j.humanAgreement;
    return [
      v.name,
      ...names.map((n) => {
        const x = j.byJudge[n as keyof typeof j.byJudge];
        return x ? `${x.passed}/${x.judged}${x.errors ? ` (${x.errors} error${x.errors === 1 ? "" : "s"})` : ""}` : "–";
      }),
      String(errors),
      j.unsupportedClaimRate === undefined ? "–" : pct(j.unsupportedClaimRate),
      h ? `${num(h.kappa)} (agreement ${pct(h.agreement)}, n = ${h.n})` : "–",
      usd(j.costUsd),
    ];
  });
  const models = [...new Set([r.judge?.model, ...judged.map((v) => v.judge!.model)].filter((m): m is string => !!m))];
  return [
    `Judge model: ${models.map((m) => `\`${m}\``).join(", ") || "–"}. Cells are passed/judged; a judge_error is a verdict the judge could not give (counted as a failure, never a pass). ` +
      "κ is Cohen's kappa between case verdicts and the suite's `human:` labels (1 perfect, 0 chance).",
    "",
    table(["Variant", ...names.map((n) => `${n}`), "judge_error", "Unsupported claims", "κ vs humans", "Judge cost"], rows, ["l"]),
  ].join("\n");
}

function retrievalTable(r: ReportJson): string {
  const withRetrieval = r.variants.filter((v) => v.retrieval);
  if (!withRetrieval.length) return "_No variant used retrieval (or no case lists gold sources), so retrieval quality was not measured._";
  return table(
    ["Variant", "k", "hit@k", "recall@k", "MRR", "Cases scored"],
    withRetrieval.map((v) => [v.name, String(v.retrieval!.k), pct(v.retrieval!.hitAtK), pct(v.retrieval!.recallAtK), num(v.retrieval!.mrr), String(v.retrieval!.scoredCases || "–")]),
    ["l"],
  );
}

function failureTable(r: ReportJson): string {
  const rows = r.variants.map((v) => {
    // With repeats causes are counted over every run, so the share is of failed runs.
    const failed = v.repeats ? v.repeats.failedRuns : v.cases - v.passed;
    return [
      v.name,
      String(failed),
      ...FAILURE_CAUSES.map((c) => (v.failures[c] ? `${v.failures[c]} (${pct(failed ? v.failures[c] / failed : 0)})` : "–")),
      `${v.failureGroups.knowledge} / ${v.failureGroups.behaviour} / ${v.failureGroups.reasoning}`,
    ];
  });
  return table(["Variant", "Failed", ...FAILURE_CAUSES, "Knowledge / behaviour / reasoning"], rows, ["l"]);
}

const SOURCE_WORD: Record<string, string> = { measured: "measured", declared: "declared", "price-table": "price table", estimated: "estimated" };

/** Each option's cost parts with the arithmetic and where every figure came from. */
function costItemsSection(r: ReportJson): string[] {
  const out: string[] = [];
  for (const x of r.costs) {
    if (!x.items?.length || typeof x.fixedMonthlyUsd !== "number") continue;
    const priced = x.pricedAs ? ` — tokens priced as \`${x.pricedAs.model}\`${x.pricedAs.projected ? " (projected: the run's generator has no per-token price)" : ""}` : "";
    out.push(`**${x.variant}**${x.measured === false ? " (estimated)" : ""}: ${usd(x.perQueryUsd)}/query + ${usd(x.fixedMonthlyUsd)}/month fixed${priced}.`, "");
    for (const item of x.items) {
      const sources = [...new Set(item.figures.map((f) => `${f.label}: ${SOURCE_WORD[f.source] ?? f.source} (${f.from})`))];
      out.push(`- ${item.component} (per ${item.per}): ${item.formula}${sources.length ? `. Sources: ${sources.join("; ")}` : ""}.`);
    }
    out.push("");
  }
  return out;
}

/** Where each constraint, moved alone, flips the recommendation (found by re-deciding the run). */
function sensitivitySection(lines: ReportJson["recommendation"]["sensitivity"]): string[] {
  const head = ["## Sensitivity", "", "Each constraint moved alone, the run decided again:", ""];
  if (!lines.length) return [...head, "- No single constraint change within the searched range (volume ×1/16,000 to ×16,000, every freshness cadence, latency and budget at each option's measured value, 300 and 3,000 labelled examples, citations and store on/off) changes the recommendation.", ""];
  return [...head, ...lines.map((l) => `- ${l.text}`), ""];
}

function costSection(r: ReportJson): string {
  const c = r.constraints;
  const out = [
    `Monthly cost = cost/query × ${fmtCount(c.queriesPerDay)} queries/day × 30 + fixed costs (vector store, embedding and re-indexing for rag/hybrid; training × retrains per year for fine-tuned/hybrid). ` +
      `Tokens are measured in this run; prices come from ragtune.yaml (as of ${r.pricing.asOf}) or the built-in table (as of ${r.pricing.builtInPricesAsOf}). Every figure below says which.`,
    "",
  ];
  const rows = r.costs.map((x) => {
    const est = x.measured === false;
    const fixed = x.fixedMonthlyUsd;
    return [
      `${x.variant}${est ? " (estimated)" : ""}`,
      usd(x.perQueryUsd),
      fixed === undefined ? "–" : usd(fixed),
      usd(x.monthlyUsd),
      x.withinBudget === null ? "no budget set" : x.withinBudget ? "yes" : `**no** (budget ${usd(c.monthlyBudgetUsd ?? 0)})`,
      ms(x.p95LatencyMs),
      x.withinLatency === null ? "no target set" : x.withinLatency ? "yes" : `**no** (target ${ms(c.p95LatencyMs ?? 0)})`,
    ];
  });
  out.push(table(["Option", "Cost/query", "Fixed/month", "Monthly", "Within budget", "p95", "Within latency"], rows, ["l"]));
  out.push("");
  if (r.breakEven.length) {
    out.push("Break-even volumes (queries/day at which two options cost the same):", "");
    for (const b of r.breakEven) out.push(`- **${b.between[0]} vs ${b.between[1]}: ~${fmtCount(b.queriesPerDay)}/day.** ${b.note}`);
  } else {
    out.push("No break-even: at every volume the cheaper option stays cheaper.");
  }
  out.push("", "How each cost is made up:", "", ...costItemsSection(r));
  return out.join("\n").trimEnd();
}

function examplesSection(r: ReportJson): string {
  const out: string[] = [];
  for (const v of r.variants) {
    const causes = FAILURE_CAUSES.filter((c) => r.failureExamples[v.name]?.[c]?.length);
    if (!causes.length) continue;
    out.push(`### ${v.name}`, "");
    for (const c of causes as FailureCause[]) {
      out.push(`**${c}** (${v.failures[c]} case${v.failures[c] === 1 ? "" : "s"})`, "");
      for (const e of r.failureExamples[v.name][c]!) {
        out.push(`- \`${e.caseId}\` (${e.task}): “${quote(e.input)}”`);
        out.push(`  - output: ${e.output ? `“${quote(e.output)}”` : "(empty)"}`);
        out.push(`  - evidence (${e.signal}): ${quote(e.evidence)}`);
      }
      out.push("");
    }
  }
  return out.length ? out.join("\n").trimEnd() : "_No failures._";
}

export function renderMarkdown(r: ReportJson): string {
  const rec = r.recommendation;
  const parts = [
    `# ragtune report — ${r.project}`,
    "",
    verdict(r),
    "",
    ...(r.complete ? [] : ["> **Incomplete run:** not every case ran on every variant.", ""]),
    ...(rec.production ? productionSection(rec.production) : []),
    ...(r.generator.offline ? [`> ${r.generator.note}`, ""] : []),
    "## Variant comparison",
    "",
    "Answer quality:",
    "",
    variantTable(r),
    "",
    "Retrieval quality (separate from answer quality):",
    "",
    retrievalTable(r),
    ...(r.retrievalPipeline ? ["", `Retrieval pipeline: \`${r.retrievalPipeline}\`.`] : []),
    "",
    ...(r.comparisons.length ? ["## Differences between variants", "", differencesSection(r), ""] : []),
    ...(r.variants.some((v) => v.repeats) ? ["## Repeats", "", repeatsSection(r), ""] : []),
    ...(r.variants.some((v) => v.judge) ? ["## LLM judges", "", judgeSection(r), ""] : []),
    "## Failure distribution",
    "",
    "Failures per cause, with each cause's share of the variant's failures. Knowledge causes (missing_knowledge, stale_knowledge, wrong_retrieval, hallucination) are fixed by context; " +
      "behaviour causes (bad_format, wrong_tone, policy_violation, and weak_reasoning on classify/extract labels and fields) by fine-tuning; other weak_reasoning by a stronger model.",
    "",
    failureTable(r),
    "",
    "## Why",
    "",
    ...rec.rationale.map((l) => `- ${l}`),
    "",
    "## What would change the recommendation",
    "",
    ...rec.whatWouldChange.map((l) => `- ${l}`),
    "",
    ...sensitivitySection(rec.sensitivity ?? []),
    "## Rollout plan",
    "",
    "In the practitioners' order, each step with what to watch, when to move on, and how to undo it. Retrieval changes (config + index) and model changes (registry) roll back on separate paths.",
    "",
    ...rolloutSection(rec.rollout ?? []),
    "",
    "## Cost & break-even",
    "",
    costSection(r),
    "",
    "## Failure examples",
    "",
    `Up to 3 per variant and cause.`,
    "",
    examplesSection(r),
    "",
    "---",
    "",
    `Generated by ragtune at ${r.generatedAt} · run \`${r.runId}\` · generator \`${r.generator.id}\`${r.generator.offline ? " (offline extractive reader, no LLM)" : ""} · ` +
      `suite \`${r.suite.path}\` (${r.suite.cases} cases) · corpus ${fmtCount(r.corpus.documents)} documents, ${fmtCount(r.corpus.chunks)} chunks, ${fmtCount(r.corpus.tokens)} tokens.`,
    "",
  ];
  return parts.join("\n");
}

function rolloutSection(steps: ReportJson["recommendation"]["rollout"]): string[] {
  const out: string[] = [];
  for (const s of steps) {
    out.push(`${s.step}. **${s.title}** — ${s.what}`);
    out.push(`   - watch: ${s.watch.join("; ")}`);
    out.push(`   - move on when ${s.advanceWhen}`);
    out.push(`   - undo (${s.rollback.kind}): ${s.rollback.how}`);
  }
  return out;
}
