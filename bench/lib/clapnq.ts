/**
 * ClapNQ dev as a retrieval set (../shared/datasets/clapnq/annotated_data/dev): every gold passage
 * of the answerable and unanswerable dev questions pooled (de-duplicated by text), the answerable
 * questions as queries, each judged against its own passage. Small and easy for BM25; used as a
 * held-out check with a different query style (Natural Questions search queries).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BeirDataset } from "../../src/bench/beir.ts";

export function loadClapnqPool(dir: string): BeirDataset {
  const corpus: { id: string; title: string; text: string }[] = [];
  const idOfText = new Map<string, string>();
  const queries: { id: string; text: string }[] = [];
  const qrels = new Map<string, Map<string, number>>();
  for (const file of ["clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"]) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as { id: string; input: string; passages: { title: string; text: string }[] };
      const passage = row.passages[0];
      let id = idOfText.get(passage.text);
      if (!id) {
        id = `p${corpus.length}`;
        idOfText.set(passage.text, id);
        corpus.push({ id, title: passage.title, text: passage.text });
      }
      if (file.includes("_answerable")) {
        queries.push({ id: row.id, text: row.input });
        qrels.set(row.id, new Map([[id, 1]]));
      }
    }
  }
  return { name: "clapnq-dev-pool", corpus, queries, qrels };
}
