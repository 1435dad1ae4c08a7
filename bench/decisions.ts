/**
 * Decision scenario bank: builds every scenario of bench/lib/scenarios/bank.ts as a real project,
 * runs ingest → finetune train → eval (offline generator) → decide, and compares the decision with
 * the answer written down beforehand. Prints a table and an accuracy line, writes
 * bench/results/decisions.json, exits 1 when any scenario is wrong.
 *
 *   node --import tsx bench/decisions.ts [--only id,id]
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SCENARIOS } from "./lib/scenarios/bank.ts";
import { runScenario, type ScenarioResult } from "./lib/scenarios/build.ts";

const only = (() => {
  const i = process.argv.indexOf("--only");
  return i > 0 ? new Set(process.argv[i + 1].split(",")) : undefined;
})();
const selected = SCENARIOS.filter((s) => !only || only.has(s.id));
const results: Omit<ScenarioResult, "decision">[] = [];
const detail: Record<string, unknown> = {};
const started = performance.now();
for (const s of selected) {
  const r = await runScenario(s);
  const { decision, summary: _summary, dir: _dir, ...row } = r;
  results.push(row);
  detail[s.id] = { reason: s.reason, rationale: decision.rationale, whatWouldChange: decision.whatWouldChange };
  process.stderr.write(`${r.pass ? "ok  " : "FAIL"} ${s.id} (${r.ms} ms)\n`);
}
const totalMs = Math.round(performance.now() - started);

const rows = results.map((r) => [r.id, r.expected, r.got, r.rule, r.confidence, r.pass ? "pass" : "FAIL"]);
const head = ["scenario", "expected", "got", "rule fired", "confidence", "result"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
const correct = results.filter((r) => r.pass).length;
console.log(`\naccuracy: ${correct}/${results.length} (${((correct / Math.max(1, results.length)) * 100).toFixed(1)}%) · generator: ${results[0]?.generator ?? "-"} · ${(totalMs / 1000).toFixed(1)} s`);
for (const r of results) if (r.problem) console.log(`  ${r.id}: ${r.problem}`);

const outDir = join(fileURLToPath(new URL(".", import.meta.url)), "results");
mkdirSync(outDir, { recursive: true });
const out = join(outDir, "decisions.json");
writeFileSync(`${out}.tmp`, JSON.stringify({ generator: results[0]?.generator, accuracy: correct / Math.max(1, results.length), correct, total: results.length, totalMs, scenarios: results, detail }, null, 2) + "\n");
renameSync(`${out}.tmp`, out);
console.log(`wrote ${out}`);
if (correct !== results.length) process.exitCode = 1;
