/**
 * Which pipeline `ragtune serve` serves when --variant is not given: the one the decision over
 * the latest run recommends, so the service runs what the measurements chose.
 */
import type { RagtuneConfig, VariantName } from "../config/index.ts";
import { decide, VARIANT_OF, type Architecture } from "../decide/index.ts";
import { listRuns, readCaseResults, readSummary, runsDir } from "../evaluate/runs.ts";
import { join } from "node:path";

/** A stronger model is a generator change (models.generator), not a pipeline: serve rag with it. */
function variantOf(a: Architecture): VariantName {
  return (VARIANT_OF[a] as VariantName | undefined) ?? "rag";
}

export function chosenVariant(root: string, config: RagtuneConfig): { variant: VariantName; why: string } {
  const dir = runsDir(root, config);
  const ids = listRuns(dir);
  if (!ids.length) return { variant: "rag", why: "no run yet, so rag (run `ragtune eval` to let the decision choose)" };
  const runDir = join(dir, ids[ids.length - 1]);
  try {
    const d = decide(readSummary(runDir), readCaseResults(runDir), config);
    const variant = variantOf(d.architecture);
    const note = d.architecture === "stronger-model" ? "; the decision asks for a stronger generator: set models.generator" : "";
    return { variant, why: `the decision over run ${ids[ids.length - 1]} recommends ${d.architecture} (${d.confidence} confidence)${note}` };
  } catch (err) {
    return { variant: "rag", why: `rag: the latest run could not be decided (${(err as Error).message})` };
  }
}
