/**
 * File-system checks of the path-valued keys, run when a config is loaded from disk: the obvious
 * failures (a file where a folder is needed, a folder where a file is needed, a folder that
 * cannot be created because a file is in the way) are reported with the key named, before any
 * command writes anything. Files that do not exist yet are fine here: ingest and eval create the
 * folders, and the commands that read a file (eval: the suite, finetune train: a dataset) say
 * when it is missing.
 */
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { RagtuneConfig } from "./schema.ts";

export interface ConfigProblem {
  /** Key path of the value at fault, e.g. ["storeDir"]. */
  path: (string | number)[];
  /** Where the line number is taken from when it is not `path` (an unknown key's own line). */
  linePath?: (string | number)[];
  message: string;
}

type Kind = "file" | "folder" | "other" | "missing";

function kindOf(path: string): Kind {
  try {
    const s = statSync(path);
    return s.isDirectory() ? "folder" : s.isFile() ? "file" : "other";
  } catch (err) {
    // ENOTDIR: a file sits where a parent folder should be; the caller walks up and names it.
    return "missing";
  }
}

/** Why a folder cannot be used or created at `abs`, or undefined. */
export function folderProblem(abs: string): string | undefined {
  const kind = kindOf(abs);
  if (kind === "folder") return undefined;
  if (kind !== "missing") return `${abs} is a ${kind === "file" ? "file" : "special file"}, not a folder`;
  for (let dir = dirname(abs), prev = abs; dir !== prev; prev = dir, dir = dirname(dir)) {
    const k = kindOf(dir);
    if (k === "folder") return undefined;
    if (k !== "missing") return `cannot create ${abs}: ${dir} is a file, not a folder`;
  }
  return undefined;
}

/** Why `abs` cannot be read as a file (when it exists), or undefined. */
export function fileProblem(abs: string): string | undefined {
  const kind = kindOf(abs);
  if (kind === "folder") return `${abs} is a folder, not a file`;
  if (kind === "other") return `${abs} is not a regular file`;
  return undefined;
}

export function pathProblems(config: RagtuneConfig, root: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const folder = (path: (string | number)[], value: string) => {
    const problem = folderProblem(resolve(root, value));
    if (problem) problems.push({ path, message: problem });
    return problem;
  };
  const file = (path: (string | number)[], value: string) => {
    const problem = fileProblem(resolve(root, value));
    if (problem) problems.push({ path, message: problem });
  };
  if (!folder(["storeDir"], config.storeDir)) {
    const db = join(resolve(root, config.storeDir), "index.db");
    if (kindOf(db) === "folder" || kindOf(db) === "other") problems.push({ path: ["storeDir"], message: `${db} (the index) is not a regular file` });
  }
  folder(["runsDir"], config.runsDir);
  folder(["cache", "dir"], config.cache.dir);
  file(["suite"], config.suite);
  config.finetune.datasets.forEach((d, i) => file(["finetune", "datasets", i, "file"], d.file));
  return problems;
}
