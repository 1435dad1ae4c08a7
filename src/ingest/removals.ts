/**
 * What an ingest may remove from the index. A config typo must lose nothing, so:
 *
 * - a pattern that selects nothing is an error, before anything changes (`checkPatterns`);
 * - a document leaves the index on its own only when the walk proves its file is gone: a pattern
 *   that selects its path walked the folder it was in and did not find it; or when its file is
 *   still selected but can no longer be indexed (it changed into something skipped for its content);
 * - a file skipped for this run's conditions (unreadable, or a parser time or memory limit: they
 *   depend on the machine's load and on what else the process holds) keeps its previous version;
 * - a document whose file was not looked for (no pattern selects its path any more) is kept until
 *   `--prune` confirms; so is one whose folder or file could not be read this run;
 * - removing more than half of the index needs `--prune` as well (`IngestRefused`, exit 2).
 */
import { InputError } from "../util/errors.ts";
import type { StoredDocument } from "../store/index.ts";
import type { SkippedFile } from "./index.ts";
import { inUnlistedFolder, type Expansion, type IncludeLocator, type PatternWalk } from "./walk.ts";

/** An ingest held back by a safety check: nothing was written. */
export class IngestRefused extends InputError {
  constructor(
    message: string,
    /** The removals the run would have made. */
    readonly removals: SkippedFile[],
  ) {
    super(message);
    this.name = "IngestRefused";
  }
}

function whyEmpty(p: PatternWalk): string {
  const folder = p.start || "the project folder";
  switch (p.state) {
    case "missing": {
      const at = p.missing?.path ?? p.start;
      return `${at} does not exist${p.missing?.didYouMean ? `; did you mean ${p.missing.didYouMean}?` : ""}`;
    }
    case "not-a-folder":
      return `${p.start} is not a folder`;
    case "outside":
      return `${p.start} is a symbolic link leading out of the project, which is not followed`;
    case "unreadable":
      return `${p.start} cannot be read`;
    default:
      return /[*?[{]/.test(p.pattern) ? `no file in ${folder} matches it` : `${p.pattern} does not exist`;
  }
}

/** Refuse patterns that selected nothing: a typo there would otherwise read as "delete everything". */
export function checkPatterns(expansion: Expansion, locate: IncludeLocator): void {
  const empty = expansion.patterns.filter((p) => p.matched === 0);
  if (empty.length === 0) return;
  const lines = empty.map((p) => `${locate(p.source, p.include)}: '${p.pattern}' matched no files (${whyEmpty(p)})`);
  throw new InputError(
    `${lines.join("\n")}\nnothing was changed: fix the pattern${empty.length > 1 ? "s" : ""}, or remove ${empty.length > 1 ? "them" : "it"} from sources (documents ingested from ${empty.length > 1 ? "them" : "it"} stay in the index until \`ragtune ingest --prune\`)`,
  );
}

export interface RemovalPlan {
  removals: SkippedFile[];
  /** Documents not found this run but kept, and why. */
  kept: SkippedFile[];
}

const LISTED = 20;

export function planRemovals(input: {
  stored: Map<string, StoredDocument>;
  keep: Set<string>;
  expansion: Expansion;
  skipped: SkippedFile[];
  prune: boolean;
}): RemovalPlan {
  const { stored, keep, expansion, prune } = input;
  const skipOf = new Map(input.skipped.map((s) => [s.path, s]));
  const removals: SkippedFile[] = [];
  const kept: SkippedFile[] = [];
  for (const path of stored.keys()) {
    if (keep.has(path)) continue;
    const skip = skipOf.get(path);
    if (skip !== undefined) {
      // Unreadable or over a limit this run says nothing about the content: keep the last good version.
      if (skip.reason.startsWith("unreadable:")) kept.push({ path, reason: `could not be read this run (${skip.reason}); the previous version stays indexed` });
      else if (skip.transient) kept.push({ path, reason: `could not be indexed this run (${skip.reason}); the previous version stays indexed` });
      else removals.push({ path, reason: `now skipped: ${skip.reason}` });
      continue;
    }
    if (inUnlistedFolder(path, expansion.unlisted)) {
      kept.push({ path, reason: "its folder could not be listed this run; the previous version stays indexed" });
      continue;
    }
    if (expansion.patterns.some((p) => p.state === "walked" && p.selects(path))) {
      const behind = input.skipped.find((s) => path.startsWith(`${s.path}/`));
      removals.push({ path, reason: behind ? `now inside ${behind.path}, which is not walked: ${behind.reason}` : "file deleted" });
      continue;
    }
    if (prune) removals.push({ path, reason: "no longer selected by any source (--prune)" });
    else kept.push({ path, reason: "no longer selected by any source; kept until `ragtune ingest --prune`" });
  }
  if (!prune && removals.length > 0 && removals.length * 2 > stored.size) {
    const listed = removals.slice(0, LISTED).map((r) => `  ${r.path}: ${r.reason}`);
    if (removals.length > LISTED) listed.push(`  … and ${removals.length - LISTED} more`);
    throw new IngestRefused(
      `ingest would remove ${removals.length} of the ${stored.size} documents in the index (more than half); nothing was changed:\n${listed.join("\n")}\n` +
        "if that is intended, run `ragtune ingest --prune` (or `--yes`) to confirm; if not, check `sources` in the config",
      removals,
    );
  }
  return { removals, kept };
}
