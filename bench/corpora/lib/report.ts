/** Plain-text tables for the corpus benchmark (no colour codes: they are pasted into READMEs). */
import { KINDS, share, type Count, type VariantMetrics } from "./metrics.ts";

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
}

const pct = (x: number) => (Number.isNaN(x) ? "–" : `${(100 * x).toFixed(1)}%`);
const frac = (c: Count) => (c.of === 0 ? "–" : `${c.n}/${c.of} ${pct(share(c))}`);
const part = (n: number, of: number) => (of === 0 ? "–" : `${n}/${of} ${pct(n / of)}`);

export interface IngestSummary {
  ok: boolean;
  exitCode: number | null;
  documents?: number;
  chunks?: number;
  skipped: { path: string; reason: string }[];
  /** ragtune's own ingest time (its stats), and the wall time of the child process. */
  ms: number;
  wallMs?: number;
  error?: string;
}

export function ingestLines(i: IngestSummary): string[] {
  if (!i.ok) return [`ingest FAILED (exit ${i.exitCode}) after ${(i.ms / 1000).toFixed(1)} s: ${i.error ?? "no message"}`];
  const wall = i.wallMs === undefined ? "" : ` (${(i.wallMs / 1000).toFixed(1)} s wall)`;
  const lines = [`ingest: ${i.documents ?? "?"} documents, ${i.chunks ?? "?"} chunks, ${i.skipped.length} skipped, ${(i.ms / 1000).toFixed(1)} s${wall}`];
  const reasons = new Map<string, number>();
  for (const s of i.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  for (const [reason, n] of reasons) lines.push(`  skipped ${n}: ${reason}`);
  return lines;
}

export function variantTables(variants: Record<string, VariantMetrics>): string {
  const names = Object.keys(variants);
  const out: string[] = [];
  out.push(
    table(
      ["variant", "pass", "dev", "holdout", ...KINDS],
      names.map((v) => [v, frac(variants[v].pass), frac(variants[v].bySplit.dev), frac(variants[v].bySplit.holdout), ...KINDS.map((k) => frac(variants[v].byKind[k]))]),
    ),
  );
  out.push("");
  out.push(
    table(
      ["changed facts", "current (pass)", "stale", "other", "of which abstained", "answered from current version"],
      names.map((v) => {
        const c = variants[v].changedFacts;
        return [v, part(c.current, c.of), part(c.stale, c.of), part(c.other, c.of), String(c.otherAbstained), c.answeredFromCurrent === undefined ? "–" : part(c.answeredFromCurrent, c.of)];
      }),
    ),
  );
  out.push("");
  out.push(
    table(
      ["abstention", "must-abstain", "answerable accuracy", "false abstention"],
      names.map((v) => [v, frac(variants[v].mustAbstain), frac(variants[v].answerableAccuracy), frac(variants[v].falseAbstention)]),
    ),
  );
  const retrieving = names.filter((v) => variants[v].retrieval);
  if (retrieving.length > 0) {
    out.push("");
    const k = variants[retrieving[0]].retrieval!.k;
    out.push(
      table(
        ["retrieval (cases with gold sources)", "cases", `hit@${k}`, "MRR"],
        retrieving.map((v) => {
          const r = variants[v].retrieval!;
          return [v, r.n, r.hitAtK.toFixed(3), r.mrr.toFixed(3)];
        }),
      ),
    );
  }
  out.push("");
  out.push(
    table(
      ["citations", "cited quotes", "located (exact/fuzzy)", "unlocated", "section right", "innermost heading right", "range contains quote"],
      names.map((v) => {
        const c = variants[v].citations;
        return [
          v,
          c.n,
          c.n === 0 ? "–" : `${c.located} (${c.exact}/${c.fuzzy})`,
          c.n === 0 ? "–" : String(c.unlocated),
          part(c.sectionRight, c.n),
          part(c.innermostRight, c.n),
          part(c.rangeContains, c.n),
        ];
      }),
    ),
  );
  out.push("");
  out.push(
    table(
      ["latency", "p50 ms", "p95 ms"],
      names.map((v) => [v, Math.round(variants[v].latencyMs.p50), Math.round(variants[v].latencyMs.p95)]),
    ),
  );
  return out.join("\n");
}
