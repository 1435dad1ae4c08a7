import type { Command } from "commander";
import { loadConfig, type LoadedConfig } from "../../config/index.ts";
import { openProject, type Project } from "../../pipeline/index.ts";
import { checkFilters, checkModelFlag, filterSources } from "../checks.ts";
import type { IdRole } from "../../config/ids.ts";
import { textListArg } from "../options.ts";

/** The config named by the global --config flag. */
export function loadedFrom(cmd: Command): LoadedConfig {
  const { config } = cmd.optsWithGlobals() as { config?: string };
  return loadConfig(config);
}

export interface OpenOptions {
  /** `--model`: checked against the config's providers before the project opens. */
  model?: string;
  /** `--judge`: idem. */
  judge?: string;
  noCache?: boolean;
}

/** Open the project named by the global --config flag, after checking --model / --judge. */
export function openFrom(cmd: Command, options: OpenOptions = {}): { loaded: LoadedConfig; project: Project } {
  const loaded = loadedFrom(cmd);
  const models: [string, IdRole, string | undefined][] = [
    ["--model", "generator", options.model],
    ["--judge", "judge", options.judge],
  ];
  for (const [flag, role, id] of models) checkModelFlag(flag, role, id, loaded.config);
  return { loaded, project: openProject(loaded, { model: options.model, judge: options.judge, noCache: options.noCache }) };
}

/** Open the project named by the global --config flag (and optional --model / --judge / --no-cache). */
export function projectFrom(cmd: Command, model?: string, extra: { judge?: string; noCache?: boolean } = {}): Project {
  return openFrom(cmd, { model, ...extra }).project;
}

/** Flags that narrow retrieval, shared by search, ask and eval. */
export interface FilterFlags {
  versionLabel?: string[];
  path?: string[];
  tag?: string[];
}

/**
 * Apply --version-label/--path/--tag over the config's retrieval filter (flags win), after
 * checking that each label, glob and tag in effect matches something in the index.
 */
export function applyFilterFlags(project: Project, flags: FilterFlags, loaded?: Pick<LoadedConfig, "where" | "path">): void {
  checkFilters(project.store, loaded ?? { path: project.configPath }, filterSources(project.config, flags));
  const r = project.config.retrieval;
  if (flags.versionLabel?.length) r.versions = flags.versionLabel;
  if (flags.path?.length) r.paths = flags.path;
  if (flags.tag?.length) r.tags = flags.tag;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option(
      "--version-label <label...>",
      "only chunks with these version labels (e.g. v2); each must exist in the index; overrides retrieval.versions",
      textListArg("a version label"),
    )
    .option("--path <glob...>", "only chunks whose source path matches these globs; each must match an indexed file; overrides retrieval.paths", textListArg("a glob"))
    .option(
      "--tag <tag...>",
      "only chunks whose front matter tags include one of these; each must be on an indexed document; overrides retrieval.tags",
      textListArg("a tag"),
    );
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
