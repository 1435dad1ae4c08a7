/**
 * report.html's charts: vega-lite specs built from ReportJson, rendered to SVG in Node (vega's
 * headless 'none' renderer, no canvas, no network), so the HTML carries finished SVG and needs no
 * script or library to draw them. A chart whose data the report does not hold is skipped with the
 * reason, never drawn from invented numbers.
 */
import type { TopLevelSpec } from "vega-lite";
import { FAILURE_CAUSES } from "../evaluate/types.ts";
import { DAYS_PER_MONTH, monthlyAt } from "../decide/cost.ts";
import type { ReportJson } from "./json.ts";

export interface Chart {
  id: string;
  title: string;
  /** One sentence on how to read it. */
  caption: string;
  svg: string;
}

export interface SkippedChart {
  id: string;
  title: string;
  reason: string;
}

/** A chart to render, or why it cannot be drawn from this report. */
type ChartSpec = { id: string; title: string; caption: string; spec: TopLevelSpec } | SkippedChart;

const WIDTH = 520;
/** Fonts the viewer already has: the file must not load any. */
const CONFIG = { font: "system-ui, sans-serif", view: { stroke: null }, axis: { labelLimit: 220 } } as const;

function failureCauses(report: ReportJson): ChartSpec {
  const id = "failure-causes";
  const title = "Failure causes per variant";
  const values = report.variants.flatMap((v) => FAILURE_CAUSES.filter((c) => v.failures[c] > 0).map((c) => ({ variant: v.name, cause: c, failures: v.failures[c] })));
  if (!values.length) return { id, title, reason: "no variant failed a case" };
  return {
    id,
    title,
    caption: "Failed cases of each variant, stacked by the labelled cause.",
    spec: {
      width: WIDTH,
      data: { values },
      mark: "bar",
      encoding: {
        y: { field: "variant", type: "nominal", sort: report.variants.map((v) => v.name), title: null },
        x: { field: "failures", type: "quantitative", title: "failed cases", stack: "zero" },
        color: { field: "cause", type: "nominal", scale: { domain: [...FAILURE_CAUSES] }, title: "cause" },
        order: { field: "cause" },
        tooltip: [{ field: "variant" }, { field: "cause" }, { field: "failures" }],
      },
    },
  };
}

/** Pass rate and every metric that has a bootstrap interval, one panel per measure. */
function passRates(report: ReportJson): ChartSpec {
  const id = "pass-rates";
  const title = "Pass rate per variant (95% CI)";
  const values: { variant: string; measure: string; value: number; low?: number; high?: number }[] = [];
  for (const v of report.variants) {
    values.push({ variant: v.name, measure: "passRate", value: v.passRate, ...(v.ci?.passRate ?? {}) });
    for (const [name, interval] of Object.entries(v.ci ?? {})) {
      // Retrieval metrics have their own chart, drawn only for the variants that retrieve.
      if (name === "passRate" || name.startsWith("retrieval.")) continue;
      const value = name.startsWith("passRate.") ? v.byTask[name.slice(9) as keyof typeof v.byTask]?.passRate : v.metrics[name];
      if (typeof value === "number") values.push({ variant: v.name, measure: name, value, ...interval });
    }
  }
  if (!values.length) return { id, title, reason: "the run has no variants" };
  const withCi = values.some((x) => x.low !== undefined);
  // Shares live in [0, 1]; a metric outside it (a count, a score) gets its own scale.
  const shares = values.every((x) => x.value >= 0 && x.value <= 1 && (x.high ?? 0) <= 1);
  const measures = [...new Set(values.map((x) => x.measure))];
  const y = { field: "variant", type: "nominal", sort: report.variants.map((v) => v.name), title: null } as const;
  return {
    id,
    title,
    caption: withCi
      ? `Bars are the measured share; whiskers the ${Math.round((1 - report.statistics.alpha) * 100)}% bootstrap interval over cases (${report.statistics.bootstrapSamples} resamples).`
      : "Bars are the measured share; this run computed no bootstrap intervals, so no whiskers are drawn.",
    spec: {
      data: { values },
      facet: { row: { field: "measure", type: "nominal", sort: measures, title: null, header: { labelAngle: 0, labelAlign: "left" } } },
      spec: {
        width: WIDTH,
        layer: [
          { mark: { type: "bar", color: "#4c78a8" }, encoding: { y, x: { field: "value", type: "quantitative", ...(shares ? { scale: { domain: [0, 1] }, axis: { format: "%" } } : {}), title: null } } },
          ...(withCi ? [{ mark: { type: "errorbar" as const, ticks: true, color: "#222" }, encoding: { y, x: { field: "low", type: "quantitative" as const }, x2: { field: "high" } } }] : []),
        ],
      },
    } as TopLevelSpec,
  };
}

function comparisons(report: ReportJson): ChartSpec {
  const id = "comparisons";
  const title = "Paired comparisons";
  const values = report.comparisons.map((c) => ({
    pair: `${c.b} − ${c.a} (${c.metric})`,
    diff: c.diff,
    low: c.ci?.low ?? c.diff,
    high: c.ci?.high ?? c.diff,
    verdict: c.significant ? "significant" : "not distinguishable",
    p: c.pValue,
    test: c.test,
  }));
  if (!values.length) return { id, title, reason: "the run has no paired comparisons (one variant, or a run that predates them)" };
  const y = { field: "pair", type: "nominal", sort: values.map((v) => v.pair), title: null, axis: { labelLimit: 400 } } as const;
  return {
    id,
    title,
    caption: `Difference b − a on the same cases, with its interval; filled = significant at α = ${report.statistics.alpha} (${[...new Set(values.map((v) => v.test))].join(", ")}).`,
    spec: {
      width: WIDTH,
      data: { values },
      layer: [
        { mark: { type: "rule", color: "#888", strokeDash: [4, 3] }, data: { values: [{ zero: 0 }] }, encoding: { x: { field: "zero", type: "quantitative" } } },
        { mark: { type: "errorbar", ticks: true }, encoding: { y, x: { field: "low", type: "quantitative", title: "difference (b − a)" }, x2: { field: "high" } } },
        {
          mark: { type: "point", size: 80, filled: true },
          encoding: {
            y,
            x: { field: "diff", type: "quantitative" },
            color: { field: "verdict", type: "nominal", scale: { domain: ["significant", "not distinguishable"], range: ["#d62728", "#999999"] }, title: null },
            tooltip: [{ field: "pair" }, { field: "diff", format: ".3f" }, { field: "p", format: ".3g" }, { field: "verdict" }],
          },
        },
      ],
    },
  };
}

function latency(report: ReportJson): ChartSpec {
  const id = "latency";
  const title = "Latency per variant (p50, p95)";
  const values = report.variants.flatMap((v) => [
    { variant: v.name, percentile: "p50", ms: v.latencyMs.p50 },
    { variant: v.name, percentile: "p95", ms: v.latencyMs.p95 },
  ]);
  if (!values.length) return { id, title, reason: "the run has no variants" };
  const target = report.constraints.p95LatencyMs;
  const y = { field: "variant", type: "nominal", sort: report.variants.map((v) => v.name), title: null } as const;
  return {
    id,
    title,
    caption:
      target === undefined
        ? "Measured per-case latency; no p95 target is declared (constraints.p95LatencyMs)."
        : `Measured per-case latency; the red line is the declared p95 target (${target} ms).`,
    spec: {
      width: WIDTH,
      layer: [
        {
          data: { values },
          mark: "bar",
          encoding: {
            y,
            yOffset: { field: "percentile" },
            x: { field: "ms", type: "quantitative", title: "milliseconds" },
            color: { field: "percentile", type: "nominal", scale: { range: ["#9ecae9", "#4c78a8"] }, title: null },
            tooltip: [{ field: "variant" }, { field: "percentile" }, { field: "ms", format: ".1f" }],
          },
        },
        ...(target === undefined ? [] : [{ data: { values: [{ target }] }, mark: { type: "rule" as const, color: "#d62728", strokeWidth: 2 }, encoding: { x: { field: "target", type: "quantitative" as const } } }]),
      ],
    } as TopLevelSpec,
  };
}

function retrieval(report: ReportJson): ChartSpec {
  const id = "retrieval";
  const title = `Retrieval quality (k = ${report.retrievalK})`;
  const values = report.variants.flatMap((v) =>
    v.retrieval
      ? (
          [
            [`hit@${v.retrieval.k}`, v.retrieval.hitAtK],
            [`recall@${v.retrieval.k}`, v.retrieval.recallAtK],
            ["MRR", v.retrieval.mrr],
          ] as const
        )
          .filter(([, x]) => x !== null)
          .map(([measure, value]) => ({ variant: v.name, measure, value }))
      : [],
  );
  if (!values.length) return { id, title, reason: "no variant retrieved chunks scored against gold sources" };
  return {
    id,
    title,
    caption: "Mean over the cases with gold sources, for the variants that retrieve; kept apart from answer quality.",
    spec: {
      width: WIDTH,
      data: { values },
      mark: "bar",
      encoding: {
        y: { field: "variant", type: "nominal", title: null },
        yOffset: { field: "measure" },
        x: { field: "value", type: "quantitative", scale: { domain: [0, 1] }, title: null },
        color: { field: "measure", type: "nominal", title: null },
        tooltip: [{ field: "variant" }, { field: "measure" }, { field: "value", format: ".3f" }],
      },
    },
  };
}

/**
 * monthly(q) = perQuery(q) × q × 30 + fixed (decide/cost.ts monthlyAt; long-context's per-query
 * cost falls with volume where a prompt cache stays warm), drawn per option over a volume range
 * that shows the declared volume and every break-even. Needs each option's fixed cost, which
 * report files written before decide/cost.ts lack.
 */
function costCurves(report: ReportJson): ChartSpec {
  const id = "cost";
  const title = "Cost per month vs queries/day";
  const costs = report.costs.filter((c) => typeof c.fixedMonthlyUsd === "number");
  if (!costs.length) return { id, title, reason: "the report's costs do not record fixed monthly costs (a decision made before decide/cost.ts)" };
  if (costs.every((c) => c.perQueryUsd === 0 && c.fixedMonthlyUsd === 0)) return { id, title, reason: "every option costs $0 (no priced reference model)" };
  const declared = report.constraints.queriesPerDay;
  const qMax = Math.max(declared * 2, ...report.breakEven.map((b) => b.queriesPerDay * 1.5), 10);
  // Lines are straight in dollars but curved on the symlog axes: sample densely (log-spaced).
  const samples = Array.from({ length: 64 }, (_, i) => Math.pow(qMax, i / 63));
  const xs = [...new Set([0, declared, ...samples, ...report.breakEven.map((b) => b.queriesPerDay)])].sort((a, b) => a - b);
  const at = (c: (typeof costs)[number], q: number) => monthlyAt(c, q);
  const lines = costs.flatMap((c) => xs.map((q) => ({ option: c.measured === false ? `${c.variant} (estimated)` : c.variant, q, usd: at(c, q) })));
  const points = report.breakEven.flatMap((b) => {
    const a = costs.find((c) => c.variant === b.between[0]);
    return a ? [{ q: b.queriesPerDay, usd: at(a, b.queriesPerDay), label: `${b.between[0]} = ${b.between[1]} at ${b.queriesPerDay}/day` }] : [];
  });
  // symlog: break-evens at tens and at thousands of queries/day both stay visible, and 0 stays on the axis.
  const decades = (max: number) => [0, ...Array.from({ length: Math.max(1, Math.ceil(Math.log10(Math.max(max, 1)))) + 1 }, (_, i) => 10 ** i).filter((t) => t <= max * 1.01)];
  const x = { field: "q", type: "quantitative", title: "queries per day (symlog scale)", scale: { type: "symlog" }, axis: { values: decades(qMax), format: ",.0f" } } as const;
  const yMax = Math.max(...costs.map((c) => at(c, qMax)));
  return {
    id,
    title,
    caption:
      `Monthly cost: per-query cost × volume × ${DAYS_PER_MONTH} + fixed costs, tokens measured in this run and priced as ${[...new Set(costs.map((c) => c.pricedAs?.model ?? report.pricing.referenceModel))].join(", ")}` +
      `${costs.some((c) => c.promptCache) ? " (long-context reads its corpus prefix from the prompt cache once volume keeps it warm)" : ""}. ` +
      `Dashed line: declared volume (${declared}/day)` +
      (points.length ? "; circles: break-even points." : "; no two options break even at any positive volume."),
    spec: {
      width: WIDTH,
      height: 300,
      layer: [
        {
          data: { values: lines },
          mark: { type: "line", point: false },
          encoding: { x, y: { field: "usd", type: "quantitative", title: "USD per month (symlog scale)", scale: { type: "symlog" }, axis: { values: decades(yMax), format: "$,.0f" } }, color: { field: "option", type: "nominal", title: null }, tooltip: [{ field: "option" }, { field: "q" }, { field: "usd", format: "$.2f" }] },
        },
        { data: { values: [{ q: declared }] }, mark: { type: "rule", strokeDash: [4, 3], color: "#555" }, encoding: { x } },
        ...(points.length
          ? [
              {
                data: { values: points },
                mark: { type: "point" as const, size: 90, shape: "circle", color: "#d62728", filled: false, strokeWidth: 2 },
                encoding: { x, y: { field: "usd", type: "quantitative" as const }, tooltip: [{ field: "label" }] },
              },
            ]
          : []),
      ],
    } as TopLevelSpec,
  };
}

/** vega-lite → vega → SVG string, in-process. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded here, not at import: every CLI command imports report/, only report and demo draw charts.
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  const compiled = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  // A loader that refuses every fetch: the charts use inline data only, and the report must not touch the network.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`report charts load no data (asked for ${uri})`);
  };
  const view = new vega.View(vega.parse(compiled), { renderer: "none", loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Every chart the report's data supports, rendered, plus the ones skipped and why. */
export async function renderCharts(report: ReportJson): Promise<{ charts: Chart[]; skipped: SkippedChart[] }> {
  const specs = [failureCauses(report), passRates(report), comparisons(report), latency(report), retrieval(report), costCurves(report)];
  const charts: Chart[] = [];
  const skipped: SkippedChart[] = [];
  for (const s of specs) {
    if ("reason" in s) skipped.push(s);
    else charts.push({ id: s.id, title: s.title, caption: s.caption, svg: await renderSvg(s.spec) });
  }
  return { charts, skipped };
}
