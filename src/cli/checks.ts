/**
 * Checks of command-line values against the project: ids that must exist (runs, suite tags,
 * version labels, front-matter tags, path globs, providers), model ids, and the suite file named by
 * the config. Each error names the option (or the config key, with file:line) and lists what exists.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import picomatch from "picomatch";
import { configKeyError, type LoadedConfig } from "../config/index.ts";
import { modelIdProblem, type IdRole } from "../config/ids.ts";
import type { RagtuneConfig } from "../config/index.ts";
import { listRuns, resolveRunDir, runsDir } from "../evaluate/runs.ts";
import type { Suite } from "../evaluate/types.ts";
import type { Project } from "../pipeline/index.ts";
import type { Store } from "../store/index.ts";
import { InputError } from "../util/errors.ts";
import { hintFor } from "./options.ts";

/** At most `n` names, then "… (N in all)". */
function listSome(names: readonly string[], n = 12): string {
  return names.length <= n ? names.join(", ") : `${names.slice(0, n).join(", ")}, … (${names.length} in all)`;
}

/** A `--model` / `--judge` value: the same grammar as the config keys, providers from the config. */
export function checkModelFlag(flag: string, role: IdRole, id: string | undefined, config: RagtuneConfig): void {
  if (id === undefined) return;
  const problem = modelIdProblem(role, id, new Set(Object.keys(config.models.providers)));
  if (problem) throw new InputError(`${flag}: ${problem}`);
}

/** A run reference (`--run`, `--resume`, `[run]`): an id under runsDir, a run folder, or 'latest'. */
export function resolveRunFlag(flag: string, root: string, config: RagtuneConfig, ref: string | undefined): string {
  if (ref === undefined || ref === "latest") {
    const dir = runsDir(root, config);
    if (listRuns(dir).length === 0) throw new InputError(`${flag}: no runs in ${dir} yet — run \`ragtune eval\` first`);
    return resolveRunDir(root, config, ref);
  }
  if (ref.trim() === "") throw new InputError(`${flag}: expected a run id, a run folder or 'latest', got an empty string`);
  const dir = runsDir(root, config);
  const ids = listRuns(dir);
  if (existsSync(resolve(ref, "config.json")) || ids.includes(ref)) return resolveRunDir(root, config, ref);
  const recent = [...ids].reverse();
  throw new InputError(
    `${flag}: no run '${ref}' in ${dir}${hintFor(ref, ids)}; ` +
      (ids.length ? `recorded runs (newest first): ${listSome(recent, 5)} — or 'latest'` : "no runs are recorded yet — run `ragtune eval` first"),
  );
}

/** `--tags`: every tag must be on at least one case of the suite. */
export function checkSuiteTags(tags: readonly string[] | undefined, suite: Suite): void {
  if (!tags?.length) return;
  const known = [...new Set(suite.cases.flatMap((c) => c.tags ?? []))].sort();
  for (const tag of tags) {
    if (!known.includes(tag)) {
      throw new InputError(
        `--tags: no case in ${suite.path} has the tag '${tag}'${hintFor(tag, known)}; ` + (known.length ? `tags in the suite: ${listSome(known, 30)}` : "the suite's cases have no tags"),
      );
    }
  }
}

export interface FilterSources {
  versions?: { values: string[]; flag?: string };
  paths?: { values: string[]; flag?: string };
  tags?: { values: string[]; flag?: string };
}

/**
 * Retrieval filters (`--version-label`, `--path`, `--tag`, or `retrieval.versions/paths/tags` in the
 * config) must each match something in the index: a filter that matches nothing makes every
 * search come back empty, which reads like a retrieval failure rather than the typo it is.
 */
export function checkFilters(store: Store, loaded: Pick<LoadedConfig, "where" | "path">, sources: FilterSources): void {
  const name = (flag: string | undefined, key: string, value: string, message: string) =>
    flag ? new InputError(`${flag}: ${message}`) : configKeyError(loaded, ["retrieval", key], `'${value}': ${message}`);
  const docs = store.documents();
  if (sources.versions) {
    const known = [...new Set(docs.map((d) => d.version))].filter(Boolean).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    for (const v of sources.versions.values) {
      if (!docs.some((d) => d.version === v)) {
        throw name(
          sources.versions.flag,
          "versions",
          v,
          `no indexed document has the version label '${v}'${hintFor(v, known)}; ` + (known.length ? `labels in the index: ${listSome(known, 30)}` : "the index has no version labels (sources[].version)"),
        );
      }
    }
  }
  if (sources.paths) {
    for (const glob of sources.paths.values) {
      const match = picomatch(glob, { dot: true });
      if (!docs.some((d) => match(d.path))) {
        const sample = docs.slice(0, 3).map((d) => d.path);
        throw name(sources.paths.flag, "paths", glob, `the glob '${glob}' matches no indexed document (paths are relative to the project, e.g. ${sample.join(", ")})`);
      }
    }
  }
  if (sources.tags) {
    const known = new Set<string>();
    for (const chunk of store.chunks()) {
      const own = chunk.meta?.tags;
      const list = Array.isArray(own) ? own : typeof own === "string" ? own.split(",") : [];
      for (const t of list) known.add(String(t).trim().toLowerCase());
    }
    const sorted = [...known].sort();
    for (const tag of sources.tags.values) {
      if (!known.has(tag.trim().toLowerCase())) {
        throw name(
          sources.tags.flag,
          "tags",
          tag,
          `no indexed document has the front-matter tag '${tag}'${hintFor(tag.toLowerCase(), sorted)}; ` + (sorted.length ? `tags in the index: ${listSome(sorted, 30)}` : "no indexed document has front-matter tags"),
        );
      }
    }
  }
}

/** The filters a command will use: flags win over the config's retrieval section. */
export function filterSources(config: RagtuneConfig, flags: { versionLabel?: string[]; path?: string[]; tag?: string[] }): FilterSources {
  const r = config.retrieval;
  const pick = (flagValues: string[] | undefined, flag: string, configValues: string[] | undefined) =>
    flagValues?.length ? { values: flagValues, flag } : configValues?.length ? { values: configValues } : undefined;
  return {
    versions: pick(flags.versionLabel, "--version-label", r.versions),
    paths: pick(flags.path, "--path", r.paths),
    tags: pick(flags.tag, "--tag", r.tags),
  };
}

/** The suite file named by `--suite` (relative to the current folder) or by the config's `suite` key. */
export function suitePath(loaded: LoadedConfig, flag: string | undefined): string {
  if (flag !== undefined) return resolve(flag);
  const path = resolve(loaded.root, loaded.config.suite);
  if (!existsSync(path)) throw configKeyError(loaded, ["suite"], `suite file not found: ${path} (write one — docs/suite.md — or pass --suite FILE)`);
  return path;
}

/**
 * fine-tuned and hybrid run only with a promoted model. Asked for by `--variants`, one that cannot
 * run is an error; listed in the config's `variants` (the default lists all five), it is reported
 * as not configured — unless no listed variant can run, which would record an empty run.
 */
export function checkVariantsRunnable(project: Project, loaded: Pick<LoadedConfig, "where" | "path">, flag: readonly string[] | undefined): void {
  const variants = flag ?? project.config.variants;
  const needModel = variants.filter((v) => v === "fine-tuned" || v === "hybrid");
  if (needModel.length === 0 || project.promotedModels().length > 0) return;
  const why = `${needModel.join(" and ")} ${needModel.length > 1 ? "need" : "needs"} a promoted fine-tuned model and this project has none — run \`ragtune finetune train\` first`;
  if (flag) throw new InputError(`--variants: ${why} (or leave ${needModel.join("/")} out)`);
  if (needModel.length === variants.length) throw configKeyError(loaded, ["variants"], `${why}, or list another variant (${variants.join(", ")} cannot run)`);
}
