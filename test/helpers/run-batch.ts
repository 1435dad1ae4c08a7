/** Run many CLI lines in one child process (test/helpers/cli-batch.ts) and return their results. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./cli-batch.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));

export interface BatchResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliBatch(lines: { args: string[]; cwd: string }[]): Promise<BatchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "ragtune-batch-"));
  try {
    const inFile = join(dir, "in.json");
    const outFile = join(dir, "out.json");
    writeFileSync(inFile, JSON.stringify(lines));
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, inFile, outFile], { cwd: REPO, env: { ...process.env, NO_COLOR: "1" } });
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      child.stdout.resume();
      child.on("close", (c) => resolve({ code: c ?? -1, stderr: err }));
    });
    if (code !== 0) throw new Error(`cli-batch exited ${code}: ${stderr}`);
    return JSON.parse(readFileSync(outFile, "utf8")) as BatchResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
