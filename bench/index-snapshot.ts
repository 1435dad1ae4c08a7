/**
 * What pinning a run's index costs (evaluate/snapshot.ts), next to what a run already spends
 * reading the index into memory.
 *
 *   node --import tsx bench/index-snapshot.ts [--n 10k,50k] [--project /tmp/fz/ragtune.yaml ...]
 *
 * For each index (synthetic ones of N chunks, ~120 words each, plus any ingested project given
 * with --project), it measures:
 *   - copy:      `VACUUM INTO` of the live index into a run folder (the chosen design): wall ms
 *                and bytes on disk;
 *   - identity:  generation + content fingerprint + manifest, in one read transaction;
 *   - in-memory: what every run already does at start, building BM25 from the persisted term
 *                statistics (`Bm25Index.fromStore`) plus `store.chunks()` and `store.documents()`.
 *                An in-memory snapshot would cost this and nothing more, but it does not survive
 *                the process, so `--resume` after a re-ingest could only refuse.
 * Median of 5 repetitions. Prints a table and writes bench/results/index-snapshot.json.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/index.ts";
import { Bm25Index } from "../src/retrieve/index.ts";
import { loadConfig } from "../src/config/index.ts";
import type { Chunk } from "../src/ingest/index.ts";
import { mulberry32 } from "./lib/rng.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const values = (name: string): string[] => args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]] : []));
const sizes = (values("--n")[0] ?? "10k,50k").split(",").map((v) => Math.round(Number(v.replace(/k$/i, "")) * (/k$/i.test(v) ? 1000 : 1)));
const projects = values("--project");
const REPS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** A synthetic index: docs of 10 chunks, ~120 words each, from a 20k-word vocabulary. */
function buildSynthetic(n: number, dir: string): string {
  const rand = mulberry32(7);
  const vocab = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
  const word = () => vocab[Math.floor(vocab.length * rand() * rand())];
  const file = join(dir, "index.db");
  const store = openStore(file);
  const docs = Math.ceil(n / 10);
  const upserts = [];
  for (let d = 0; d < docs; d++) {
    const path = `docs/d${d}.md`;
    const chunks: Chunk[] = [];
    for (let o = 0; o < 10 && d * 10 + o < n; o++) {
      const text = Array.from({ length: 120 }, word).join(" ") + ".";
      chunks.push({ id: `${path}#${o}`, path, ordinal: o, title: `Doc ${d}`, headingPath: [`Doc ${d}`, `Section ${o}`], text, lineStart: o * 10 + 1, lineEnd: o * 10 + 9, version: "v1", tokens: 160, meta: {} });
    }
    upserts.push({ doc: { path, hash: `h${d}`, version: "v1", title: `Doc ${d}`, bytes: 8000, chunks: chunks.length, ingestedAt: "2026-01-01T00:00:00Z" }, chunks });
  }
  store.applyIngest({ upserts, removals: [], meta: { chunking_hash: "bench" } });
  store.close();
  return file;
}

interface Row {
  index: string;
  chunks: number;
  indexBytes: number;
  copyMs: number;
  copyBytes: number;
  identityMs: number;
  inMemoryMs: number;
}

function measure(label: string, file: string): Row {
  const store = openStore(file);
  const out = mkdtempSync(join(tmpdir(), "ragtune-snapbench-"));
  try {
    const copies: number[] = [];
    let copyBytes = 0;
    for (let i = 0; i < REPS; i++) {
      const target = join(out, `copy-${i}.db`);
      copies.push(time(() => store.snapshotTo(target)));
      copyBytes = statSync(target).size;
      rmSync(target);
    }
    const identities: number[] = [];
    let chunks = 0;
    for (let i = 0; i < REPS; i++) identities.push(time(() => (chunks = store.identity().identity.chunks)));
    const loads: number[] = [];
    for (let i = 0; i < REPS; i++) {
      loads.push(
        time(() => {
          Bm25Index.fromStore(store, { k1: 1.2, b: 0.75, headingBoost: 2 });
          store.chunks();
          store.documents();
        }),
      );
    }
    return { index: label, chunks, indexBytes: statSync(file).size, copyMs: median(copies), copyBytes, identityMs: median(identities), inMemoryMs: median(loads) };
  } finally {
    store.close();
    rmSync(out, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const p of projects) {
  const loaded = loadConfig(p);
  rows.push(measure(loaded.config.name, join(resolve(loaded.root, loaded.config.storeDir), "index.db")));
}
for (const n of sizes) {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-snapbench-src-"));
  try {
    rows.push(measure(`synthetic ${n}`, buildSynthetic(n, dir)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
console.log("index                 chunks   index size   copy (VACUUM INTO)   copy size   identity   in-memory load");
for (const r of rows) {
  console.log(
    `${r.index.padEnd(20)} ${String(r.chunks).padStart(7)}   ${mb(r.indexBytes).padStart(10)}   ${`${r.copyMs.toFixed(1)} ms`.padStart(18)}   ${mb(r.copyBytes).padStart(9)}   ${`${r.identityMs.toFixed(1)} ms`.padStart(8)}   ${`${r.inMemoryMs.toFixed(1)} ms`.padStart(14)}`,
  );
}
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "index-snapshot.json"), JSON.stringify({ measuredAt: new Date().toISOString(), reps: REPS, rows }, null, 2) + "\n");
console.log("wrote bench/results/index-snapshot.json");
