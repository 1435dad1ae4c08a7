/** A tiny project with two real runs (all variants, then rag + prompt-only) for the viewer's tests. */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTinyProject } from "./project.ts";
import { runCli } from "./cli.ts";

export const HOSTILE = `<img src=x onerror="alert(1)"></script><script>alert("x")</script> refund?`;

export async function makeViewProject(): Promise<{ root: string; runs: string[] }> {
  const root = makeTinyProject();
  const suite = readFileSync(join(root, "suite.yaml"), "utf8")
    .replace("    sources: [docs/v2/billing.md]\n", "    sources: [docs/v2/billing.md]\n    tags: [billing]\n")
    .replace("    sources: [docs/v2/trash.md]\n", "    sources: [docs/v2/trash.md]\n    tags: [trash]\n")
    .replace("cases:\n", `cases:\n  - id: hostile-input\n    task: qa\n    input: ${JSON.stringify(HOSTILE)}\n    answer: "30 days"\n    sources: [docs/v2/billing.md]\n`);
  writeFileSync(join(root, "suite.yaml"), suite);
  for (const args of [["ingest"], ["eval"], ["eval", "--variants", "rag,prompt-only"]]) {
    const r = await runCli(args, root);
    if (r.code !== 0) throw new Error(`ragtune ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  }
  return { root, runs: readdirSync(join(root, "runs")).sort() };
}
