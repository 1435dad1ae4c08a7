/**
 * The last `ragtune bench retrieval --suite` verdict on semantic retrieval (use-lite hybrid vs
 * lexical), kept in the project's store folder so `ragtune decide` / `report` can quote the
 * measured number in the decision's evidence instead of a generic hint. Written atomically;
 * a missing or unreadable file just means "not measured".
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SemanticVerdict } from "./retrieval.ts";

export interface StoredSemanticVerdict extends SemanticVerdict {
  suite: string;
  measuredAt: string;
}

const FILE = "semantic-verdict.json";

function fileOf(root: string, storeDir: string): string {
  return join(resolve(root, storeDir), FILE);
}

export function writeSemanticVerdict(root: string, storeDir: string, verdict: SemanticVerdict, suite: string): string {
  const file = fileOf(root, storeDir);
  mkdirSync(resolve(root, storeDir), { recursive: true });
  const stored: StoredSemanticVerdict = { ...verdict, suite, measuredAt: new Date().toISOString() };
  writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(stored, null, 2) + "\n");
  renameSync(`${file}.${process.pid}.tmp`, file);
  return file;
}

export function readSemanticVerdict(root: string, storeDir: string): StoredSemanticVerdict | undefined {
  const file = fileOf(root, storeDir);
  if (!existsSync(file)) return undefined;
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as StoredSemanticVerdict;
    return typeof v.advice === "string" && typeof v.recallGain === "number" ? v : undefined;
  } catch {
    return undefined;
  }
}
