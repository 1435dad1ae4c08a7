/**
 * Cost of storing a model artifact in Postgres (finetune/artifact-pack.ts): pack (read + sha256 +
 * gzip) and unpack (gunzip + sha256 check) of a trained model folder, 3 rounds.
 * Usage: node --import tsx bench/artifact-pack.ts <model folder>
 * (e.g. one from `ragtune finetune classify --train banking77/train.csv … --out <dir>`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { packArtifact, unpackArtifact } from "../src/finetune/artifact-pack.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: bench/artifact-pack.ts <model folder>");
const rounds = [];
for (let i = 0; i < 3; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const p = packArtifact(dir);
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  unpackArtifact(p.gzip, p.sha256);
  const t2 = performance.now();
  rounds.push({ files: p.files, bytes: p.bytes, gzipBytes: p.gzip.length, packMs: Math.round(t1 - t0), packCpuMs: Math.round((c1.user + c1.system) / 1000), unpackMs: Math.round(t2 - t1) });
}
const result = { dir, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), rounds };
console.log(JSON.stringify(result, null, 2));
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/artifact-pack.json", JSON.stringify(result, null, 2) + "\n");
