/**
 * BEIR-layout datasets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) and the standard ranking
 * metrics over them, computed the way BEIR/pytrec_eval do: nDCG@10 with graded relevance and log2
 * discount over the ideal ranking of all judged-relevant documents, recall@k over judged-relevant
 * documents, MRR@10 from the first relevant hit.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../util/errors.ts";

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirDataset {
  name: string;
  corpus: BeirDocument[];
  /** Only queries with at least one judged-relevant document, in file order. */
  queries: { id: string; text: string }[];
  /** query id → doc id → relevance grade (> 0 relevant). */
  qrels: Map<string, Map<string, number>>;
}

function readJsonl(file: string): any[] {
  const out: any[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new InputError(`${file}:${i + 1}: not valid JSON`);
      }
    });
  return out;
}

export function loadBeir(dir: string, split = "test"): BeirDataset {
  const need = (f: string) => {
    if (!existsSync(join(dir, f))) throw new InputError(`${dir} is not a BEIR dataset: ${f} is missing`);
    return join(dir, f);
  };
  const corpusFile = need("corpus.jsonl");
  const queriesFile = need("queries.jsonl");
  const qrelsFile = need(`qrels/${split}.tsv`);
  const corpus = readJsonl(corpusFile).map((d, i) => {
    if (d._id === undefined) throw new InputError(`${corpusFile}:${i + 1}: field '_id' is missing`);
    return { id: String(d._id), title: String(d.title ?? ""), text: String(d.text ?? "") };
  });
  const qrels = new Map<string, Map<string, number>>();
  readFileSync(qrelsFile, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const parts = line.trim().split("\t");
      if (parts.length < 3 || (i === 0 && !/^\d+$/.test(parts[2]))) return; // header or blank
      const grade = Number(parts[2]);
      if (!Number.isFinite(grade)) throw new InputError(`${qrelsFile}:${i + 1}: field 'score' is not a number`);
      if (!qrels.has(parts[0])) qrels.set(parts[0], new Map());
      qrels.get(parts[0])!.set(parts[1], grade);
    });
  const queries = readJsonl(queriesFile)
    .map((q) => ({ id: String(q._id), text: String(q.text ?? "") }))
    .filter((q) => [...(qrels.get(q.id)?.values() ?? [])].some((g) => g > 0));
  return { name: dir.split("/").filter(Boolean).pop() ?? dir, corpus, queries, qrels };
}

export interface RankingMetrics {
  ndcg10: number;
  recall10: number;
  recall100: number;
  mrr10: number;
}

/** Metrics of one ranked list of doc ids against its judgments. */
export function rankingMetrics(ranked: string[], judged: Map<string, number>): RankingMetrics {
  const relevant = [...judged.entries()].filter(([, g]) => g > 0);
  const total = relevant.length;
  let dcg = 0;
  let mrr = 0;
  let hits10 = 0;
  let hits100 = 0;
  for (let i = 0; i < Math.min(ranked.length, 100); i++) {
    const g = judged.get(ranked[i]) ?? 0;
    if (g <= 0) continue;
    if (i < 10) {
      dcg += (2 ** g - 1) / Math.log2(i + 2);
      hits10++;
      if (mrr === 0) mrr = 1 / (i + 1);
    }
    hits100++;
  }
  const ideal = relevant.map(([, g]) => g).sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(10, ideal.length); i++) idcg += (2 ** ideal[i] - 1) / Math.log2(i + 2);
  return {
    ndcg10: idcg > 0 ? dcg / idcg : 0,
    recall10: total ? hits10 / total : 0,
    recall100: total ? hits100 / total : 0,
    mrr10: mrr,
  };
}

/** Mean of per-query metrics. `run` maps query id → ranked doc ids (best first). */
export function evaluateRun(dataset: BeirDataset, run: Map<string, string[]>): RankingMetrics {
  const sum: RankingMetrics = { ndcg10: 0, recall10: 0, recall100: 0, mrr10: 0 };
  for (const q of dataset.queries) {
    const m = rankingMetrics(run.get(q.id) ?? [], dataset.qrels.get(q.id)!);
    sum.ndcg10 += m.ndcg10;
    sum.recall10 += m.recall10;
    sum.recall100 += m.recall100;
    sum.mrr10 += m.mrr10;
  }
  const n = dataset.queries.length || 1;
  return { ndcg10: sum.ndcg10 / n, recall10: sum.recall10 / n, recall100: sum.recall100 / n, mrr10: sum.mrr10 / n };
}
