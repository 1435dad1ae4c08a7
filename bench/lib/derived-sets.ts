/**
 * More BEIR-layout retrieval sets, derived honestly from the datasets in ../shared/datasets, so a
 * ranking change can be checked on query and corpus shapes the two native sets (HotpotQA, the
 * ClapNQ gold-passage pool) do not have — the shapes of the BEIR sets we cannot download here:
 *
 * - `clapnq-long`  ArguAna-like long queries: the annotated long answer of each answerable ClapNQ
 *                  dev row (~50 words, written by an annotator from the passage) as the query, its
 *                  gold passage as the one relevant document, over the same passage pool as the
 *                  question set (bench/lib/clapnq.ts).
 * - `banking77-dup` Quora/CQADupStack-like duplicate-question retrieval: corpus = the 10,003 train
 *                  utterances (no titles), queries = a seeded sample of test utterances, relevant =
 *                  every train utterance of the same intent (~130 per query).
 * - `*-notitle`    a set with every title removed (a corpus without titles, like Quora or
 *                  NFCorpus abstracts): the same queries and judgments, no heading field.
 *
 * Every set is split into `tune` and `confirm` halves by a seeded draw of query ids where the
 * queries are our own choice, so one half can choose a setting and the other check it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BeirDataset } from "../../src/bench/beir.ts";
import { mulberry32 } from "./rng.ts";
import { loadClapnqPool } from "./clapnq.ts";

export type Half = "tune" | "confirm";

/** Keep the queries (and their qrels) of one half: a seeded coin per query id, fixed across runs. */
export function splitHalf(ds: BeirDataset, half: Half, seed = 12): BeirDataset {
  const keep = (id: string) => {
    let h = seed >>> 0;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
    return (mulberry32(h)() < 0.5) === (half === "tune");
  };
  const queries = ds.queries.filter((q) => keep(q.id));
  const qrels = new Map(queries.map((q) => [q.id, ds.qrels.get(q.id)!]));
  return { name: `${ds.name}-${half}`, corpus: ds.corpus, queries, qrels };
}

/** The same set with every document title removed. */
export function withoutTitles(ds: BeirDataset): BeirDataset {
  return { ...ds, name: `${ds.name}-notitle`, corpus: ds.corpus.map((d) => ({ ...d, title: "" })) };
}

/** ClapNQ dev long answers as queries against the gold-passage pool (see the module comment). */
export function loadClapnqLongAnswers(dir: string): BeirDataset {
  const pool = loadClapnqPool(dir);
  const idOfText = new Map(pool.corpus.map((d) => [d.text, d.id]));
  const queries: { id: string; text: string }[] = [];
  const qrels = new Map<string, Map<string, number>>();
  for (const line of readFileSync(join(dir, "clapnq_dev_answerable.jsonl"), "utf8").split("\n")) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { id: string; passages: { text: string }[]; output: { answer: string }[] };
    const answer = row.output[0]?.answer?.trim();
    const passage = idOfText.get(row.passages[0].text);
    if (!answer || !passage) continue;
    queries.push({ id: `long-${row.id}`, text: answer });
    qrels.set(`long-${row.id}`, new Map([[passage, 1]]));
  }
  return { name: "clapnq-long", corpus: pool.corpus, queries, qrels };
}

/** A minimal RFC 4180 reader for banking77's two-column `text,category` files. */
function readCsv(file: string): { text: string; category: string }[] {
  const rows: string[][] = [];
  const src = readFileSync(file, "utf8");
  let field = "";
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && src[i + 1] === "\n") i++;
      row.push(field), (field = "");
      if (row.some((x) => x !== "")) rows.push(row);
      row = [];
    } else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  const [header, ...body] = rows;
  if (header?.[0] !== "text" || header?.[1] !== "category") throw new Error(`${file}: expected a 'text,category' header`);
  return body.map((r) => ({ text: r[0], category: r[1] }));
}

/** banking77 duplicate-utterance retrieval (see the module comment); `sample` test utterances, seeded. */
export function loadBanking77Duplicates(dir: string, sample = 600, seed = 77): BeirDataset {
  const train = readCsv(join(dir, "train.csv"));
  const test = readCsv(join(dir, "test.csv"));
  const corpus = train.map((r, i) => ({ id: `t${i}`, title: "", text: r.text }));
  const byIntent = new Map<string, string[]>();
  train.forEach((r, i) => byIntent.set(r.category, [...(byIntent.get(r.category) ?? []), `t${i}`]));
  const rand = mulberry32(seed);
  const order = test.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const queries: { id: string; text: string }[] = [];
  const qrels = new Map<string, Map<string, number>>();
  for (const i of order.slice(0, sample)) {
    const id = `q${i}`;
    queries.push({ id, text: test[i].text });
    qrels.set(id, new Map((byIntent.get(test[i].category) ?? []).map((d) => [d, 1])));
  }
  return { name: "banking77-dup", corpus, queries, qrels };
}

/** Write a dataset in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv) under `dir`. */
export function writeBeir(ds: BeirDataset, dir: string): string {
  mkdirSync(join(dir, "qrels"), { recursive: true });
  const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  writeFileSync(join(dir, "corpus.jsonl"), jsonl(ds.corpus.map((d) => ({ _id: d.id, title: d.title, text: d.text }))));
  writeFileSync(join(dir, "queries.jsonl"), jsonl(ds.queries.map((q) => ({ _id: q.id, text: q.text }))));
  const qrels = ["query-id\tcorpus-id\tscore"];
  for (const [q, docs] of ds.qrels) for (const [d, grade] of docs) qrels.push(`${q}\t${d}\t${grade}`);
  writeFileSync(join(dir, "qrels/test.tsv"), qrels.join("\n") + "\n");
  return dir;
}

export interface NamedSet {
  name: string;
  /** tune: may choose settings; confirm: only checks them (declared before any tuning). */
  role: Half;
  /** What the set is, in a few words (for tables). */
  shape: string;
  load: () => BeirDataset;
}

/**
 * Every BEIR-layout set we can build here, with its declared role. HotpotQA and the ClapNQ question
 * pool chose the current defaults, so they are tune sets; the derived sets are split in halves, and
 * the title-less copies of tune sets are confirm sets for corpus *shape* only (their queries are a
 * tune set's), which the table says.
 */
export function allSets(datasets: string, loadBeirDir: (dir: string) => BeirDataset): NamedSet[] {
  const hotpot = join(datasets, "hotpotqa-dev500");
  const clapnq = join(datasets, "clapnq/annotated_data/dev");
  const banking = join(datasets, "banking77");
  const out: NamedSet[] = [];
  if (existsSync(join(hotpot, "corpus.jsonl"))) {
    out.push({ name: "hotpotqa-dev500", role: "tune", shape: "multi-hop questions, titled paragraphs", load: () => loadBeirDir(hotpot) });
    out.push({ name: "hotpotqa-dev500-notitle", role: "confirm", shape: "same queries, titles removed", load: () => withoutTitles(loadBeirDir(hotpot)) });
  }
  if (existsSync(join(clapnq, "clapnq_dev_answerable.jsonl"))) {
    out.push({ name: "clapnq-dev-pool", role: "tune", shape: "NQ questions, titled passages", load: () => loadClapnqPool(clapnq) });
    out.push({ name: "clapnq-dev-pool-notitle", role: "confirm", shape: "same queries, titles removed", load: () => withoutTitles(loadClapnqPool(clapnq)) });
    out.push({ name: "clapnq-long-tune", role: "tune", shape: "~50-word answer as query (half)", load: () => splitHalf(loadClapnqLongAnswers(clapnq), "tune") });
    out.push({ name: "clapnq-long-confirm", role: "confirm", shape: "~50-word answer as query (other half)", load: () => splitHalf(loadClapnqLongAnswers(clapnq), "confirm") });
  }
  if (existsSync(join(banking, "train.csv"))) {
    out.push({ name: "banking77-dup-tune", role: "tune", shape: "duplicate utterances, no titles (half)", load: () => splitHalf(loadBanking77Duplicates(banking), "tune") });
    out.push({ name: "banking77-dup-confirm", role: "confirm", shape: "duplicate utterances, no titles (other half)", load: () => splitHalf(loadBanking77Duplicates(banking), "confirm") });
  }
  return out;
}
