/**
 * Run many ragtune command lines in one process (one Node start instead of one per line), for
 * table-driven CLI tests. Usage: node --import tsx cli-batch.ts <in.json> <out.json>, where in.json
 * is [{args, cwd}] and out.json receives [{code, stdout, stderr}] in the same order. Each line goes
 * through main() exactly as bin/ragtune.js runs it; stdout and stderr are captured per line.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { main } from "../../src/cli/main.ts";

interface Line {
  args: string[];
  cwd: string;
}

const [inFile, outFile] = process.argv.slice(2);
const lines = JSON.parse(readFileSync(inFile, "utf8")) as Line[];
const results: { code: number; stdout: string; stderr: string }[] = [];
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
process.env.NO_COLOR = "1";

for (const line of lines) {
  let stdout = "";
  let stderr = "";
  process.chdir(line.cwd);
  process.exitCode = undefined;
  (process.stdout as { write: unknown }).write = (chunk: string | Uint8Array) => ((stdout += String(chunk)), true);
  (process.stderr as { write: unknown }).write = (chunk: string | Uint8Array) => ((stderr += String(chunk)), true);
  let code: number;
  try {
    code = await main(["node", "ragtune", ...line.args]);
  } catch (err) {
    stderr += `uncaught: ${(err as Error).stack}`;
    code = -1;
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ code, stdout, stderr });
}
process.exitCode = 0;
writeFileSync(outFile, JSON.stringify(results));
