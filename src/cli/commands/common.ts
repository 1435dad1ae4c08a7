import type { Command } from "commander";
import { loadConfig } from "../../config/index.ts";
import { openProject, type Project } from "../../pipeline/index.ts";

/** Open the project named by the global --config flag (and optional --model / --judge / --no-cache). */
export function projectFrom(cmd: Command, model?: string, extra: { judge?: string; noCache?: boolean } = {}): Project {
  const { config } = cmd.optsWithGlobals() as { config?: string };
  return openProject(loadConfig(config), { model, ...extra });
}

/** Flags that narrow retrieval, shared by search, ask and eval. */
export interface FilterFlags {
  versionLabel?: string[];
  path?: string[];
  tag?: string[];
}

/** Apply --version-label/--path/--tag over the config's retrieval filter (flags win). */
export function applyFilterFlags(project: Project, flags: FilterFlags): void {
  const r = project.config.retrieval;
  if (flags.versionLabel?.length) r.versions = flags.versionLabel;
  if (flags.path?.length) r.paths = flags.path;
  if (flags.tag?.length) r.tags = flags.tag;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option("--version-label <label...>", "only chunks with these version labels (e.g. v2); overrides retrieval.versions")
    .option("--path <glob...>", "only chunks whose source path matches these globs; overrides retrieval.paths")
    .option("--tag <tag...>", "only chunks whose front matter tags include one of these; overrides retrieval.tags");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
