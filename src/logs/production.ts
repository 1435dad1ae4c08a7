/**
 * The production evidence of a window: labelled live failures counted by cause and by the
 * decision's groups (decide/evidence.ts `failureGroup`, the same grouping the measured evidence uses).
 */
import type { ProductionEvidence } from "../decide/types.ts";
import { failureGroup } from "../decide/evidence.ts";
import type { StoredRequest } from "../serve/log.ts";
import type { LiveLabel } from "./index.ts";
import { hasCorrection, isAnswered } from "./triggers.ts";

export function productionEvidence(window: { from: string; to: string; rows: StoredRequest[] }, labels: Map<string, LiveLabel>): ProductionEvidence {
  const p: ProductionEvidence = {
    from: window.from,
    to: window.to,
    requests: window.rows.filter(isAnswered).length,
    labelled: 0,
    corrections: 0,
    thumbsDown: 0,
    monitorOnly: 0,
    byCause: {},
    groups: { knowledge: 0, behaviour: 0, reasoning: 0 },
    causeGroups: {},
  };
  for (const r of window.rows) {
    const l = labels.get(r.id);
    if (!l) continue;
    p.labelled++;
    if (hasCorrection(r)) p.corrections++;
    else if (r.feedback?.thumbs === "down") p.thumbsDown++;
    else p.monitorOnly++;
    p.byCause[l.cause] = (p.byCause[l.cause] ?? 0) + 1;
    const g = failureGroup({ cause: l.cause, signal: l.signal, evidence: l.evidence });
    if (g) {
      p.groups[g]++;
      p.causeGroups[l.cause] = g;
    }
  }
  return p;
}
