/**
 * Source expansion: which files the `sources` globs select, walked with our own byte-safe walker
 * instead of a glob library, because ingest must decide per entry what a glob library decides
 * silently:
 *
 * - names are bytes: directories are read with `encoding: "buffer"`, files are opened by the bytes
 *   read, and the stored path is the reversible escaping of `names.ts` (a `\` in a name stays a
 *   character; nothing is ever re-parsed as a path);
 * - symbolic links are followed only when their real target is inside the project folder (or a
 *   folder the source allows with `allowSymlinksInto`); others are listed, not followed;
 * - every real folder is walked once per pattern, so a link back to an ancestor (a loop) or to a
 *   folder walked anyway is listed instead of indexing the same files again; links to folders are
 *   followed after the plain tree, so a file keeps its own path rather than a link's;
 * - only regular files are candidates: FIFOs, sockets and devices are listed with their type;
 * - dangling links, link loops and unreadable folders are listed too.
 *
 * Matching follows what tinyglobby did before (`dot: false`; a pattern not ending in `*` also
 * matches files below it, `docs` = `docs/**`; `node_modules` and `.git` are left out unless the
 * pattern names them), so existing configs select the same files.
 */
import { lstat, readdir, readlink, realpath, stat } from "node:fs/promises";
import type { Dirent, Stats } from "node:fs";
import { isAbsolute, posix, resolve } from "node:path";
import picomatch from "picomatch";
import { didYouMean, InputError } from "../util/errors.ts";
import type { SkippedFile } from "./index.ts";
import { escapeName } from "./names.ts";

export interface WalkSource {
  include: string | string[];
  exclude: string[];
  version: string;
  /** Folders outside the project that symbolic links in this source may lead into. */
  allowSymlinksInto?: string[];
}

/** A regular file selected by a source. */
export interface FoundFile {
  /** Stored path: relative to the project, `/`-separated, names escaped (names.ts). */
  path: string;
  /** The bytes of the absolute path to open (a link's resolved target for a link). */
  open: Buffer;
  /** Real path (latin1 key of its bytes): links to one file are the same file. */
  real: string;
  /** Set when the file was reached through a symbolic link: the link's target path, for messages. */
  viaLink?: string;
  version: string;
  /** Folders (real, latin1) this file may be read from: the project, plus the source's allowances. */
  allowed: string[];
}

/** What one include pattern did, for error messages and removal decisions. */
export interface PatternWalk {
  source: number;
  include: number;
  pattern: string;
  /** The folder the walk started from, relative to the project ("" = the project folder). */
  start: string;
  /** `walked`, or why not: the folder does not exist, is not a folder, or is a link leading out. */
  state: "walked" | "missing" | "not-a-folder" | "outside" | "unreadable";
  /** Entries the pattern selected: files found plus entries listed as not indexed. */
  matched: number;
  /** When `missing`: the first folder on the way that does not exist, and the closest existing name. */
  missing?: { path: string; didYouMean?: string };
  /** Whether a path (stored form) is selected by this pattern and not excluded by its source. */
  selects: (path: string) => boolean;
}

export interface Expansion {
  /** Selected files by stored path (the first source that selects a path owns it). */
  files: Map<string, FoundFile>;
  /** Entries a pattern selected that are not indexable, with the reason. */
  skipped: SkippedFile[];
  patterns: PatternWalk[];
  /** Folders (stored form) whose contents could not be listed: their files' fate is unknown. */
  unlisted: string[];
}

const latin1 = (b: Buffer) => b.toString("latin1");
const bytesOf = (s: string) => Buffer.from(s, "latin1");
const inside = (real: string, dir: string) => real === dir || real.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
const displayPath = (realLatin1: string) => escapeName(bytesOf(realLatin1));

function typeName(s: Stats | Dirent<Buffer>): string | undefined {
  if (s.isFIFO()) return "a named pipe (FIFO)";
  if (s.isSocket()) return "a socket";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  return undefined;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "";
}

function describeFsError(err: unknown): string {
  const code = errorCode(err);
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENAMETOOLONG") return "path too long";
  if (code === "ELOOP") return "too many levels of symbolic links";
  return (err as Error)?.message ?? String(err);
}

/** `where` names the config location of include `j` of source `i` in error messages. */
export type IncludeLocator = (source: number, include: number) => string;

const defaultLocator: IncludeLocator = (i, j) => `sources[${i}].include[${j}]`;

/** Normalise a pattern the way the glob library did; reject what would reach outside the project. */
function normalizePattern(pattern: string, where: string): string {
  if (pattern.startsWith("!")) throw new InputError(`${where}: '${pattern}' is a negated pattern; put it in this source's exclude list instead`);
  if (isAbsolute(pattern)) throw new InputError(`${where}: '${pattern}' is an absolute path; patterns are relative to the project folder, which is all ingest reads`);
  let p = pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  p = posix.normalize(p).replace(/^\.\//, "");
  if (p === ".." || p.startsWith("../") || p.split("/").includes("..")) {
    throw new InputError(`${where}: '${pattern}' leads outside the project folder; ingest reads only inside it (link a folder in and list its target in sources[].allowSymlinksInto)`);
  }
  return p === "." ? "**" : p;
}

/** The glob library's "a pattern not ending in * also matches what is below it". */
const expand = (p: string) => (p.endsWith("*") ? p : `${p}/**`);

/** Could a path below folder `dir` match one of these patterns? (segment-wise, like tinyglobby) */
function partialMatcher(patterns: string[]): (dir: string) => boolean {
  const compiled = patterns.map((p) => {
    const parts = p.split("/");
    // A brace with a slash inside cannot be split by segments: let everything through.
    if (/\{[^}]*\/[^}]*\}/.test(p)) return undefined;
    return parts.map((part) => ({ part, match: picomatch(part, { dot: false, posix: true }) }));
  });
  return (dir) => {
    if (dir === "") return true;
    const segs = dir.split("/");
    return compiled.some((parts) => {
      if (!parts) return true;
      for (let j = 0; j < Math.min(segs.length, parts.length); j++) {
        if (!parts[j].match(segs[j])) return false;
        if (parts[j].part === "**") return true;
      }
      return segs.length <= parts.length || parts[parts.length - 1].part === "**";
    });
  };
}

interface DirTask {
  /** Stored form, relative to the project ("" = project folder). */
  rel: string;
  /** Absolute path bytes, latin1. */
  abs: string;
  /** Real path bytes, latin1. */
  real: string;
  /** Reached through a link to a folder (its files then prefer their own path when found too). */
  linked: boolean;
}

interface PendingLink {
  rel: string;
  abs: string;
  real: string;
  /** Real path of the folder holding the link. */
  parentReal: string;
}

/** Resolve `allowSymlinksInto` entries to real folders; a missing one is a config error. */
async function allowedFolders(rootReal: string, root: string, source: WalkSource, i: number): Promise<string[]> {
  const out = [rootReal];
  for (const [j, folder] of (source.allowSymlinksInto ?? []).entries()) {
    try {
      const real = latin1(await realpath(resolve(root, folder), { encoding: "buffer" }));
      if (!(await stat(bytesOf(real))).isDirectory()) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
      out.push(real);
    } catch (err) {
      throw new InputError(`sources[${i}].allowSymlinksInto[${j}]: '${folder}' is not a folder (${describeFsError(err)})`);
    }
  }
  return out;
}

/**
 * Walk every include pattern of every source. Throws InputError for a pattern that cannot be
 * walked at all (absolute, `..`, negated); a pattern that selects nothing is reported in
 * `patterns` (matched 0) for the caller to turn into an error with the config line.
 */
export async function expandSources(root: string, sources: WalkSource[], where: IncludeLocator = defaultLocator): Promise<Expansion> {
  const rootAbs = resolve(root);
  const rootReal = latin1(await realpath(rootAbs, { encoding: "buffer" }));
  const files = new Map<string, FoundFile>();
  const skipped: SkippedFile[] = [];
  const skippedPaths = new Set<string>();
  const patterns: PatternWalk[] = [];
  const unlisted = new Set<string>();
  /** A real path as a message shows it: project-relative when inside the project. */
  const shown = (real: string) =>
    real === rootReal ? "(the project folder)" : inside(real, rootReal) ? displayPath(real.slice(rootReal.length + (rootReal.endsWith("/") ? 0 : 1))) : displayPath(real);
  const skip = (path: string, reason: string) => {
    if (skippedPaths.has(path) || files.has(path)) return;
    skippedPaths.add(path);
    skipped.push({ path, reason });
  };

  for (const [i, source] of sources.entries()) {
    const includes = Array.isArray(source.include) ? source.include : [source.include];
    const allowed = await allowedFolders(rootReal, rootAbs, source, i);
    const allowedHint = `allow it with sources[${i}].allowSymlinksInto`;
    for (const [j, raw] of includes.entries()) {
      const pattern = normalizePattern(raw, where(i, j));
      // Dependency and VCS folders are never documentation, unless the pattern names them.
      const auto = ["node_modules", ".git"].filter((d) => !raw.includes(d)).map((d) => `**/${d}/**`);
      const excludes = source.exclude.map((e) => expand(normalizePattern(e, `sources[${i}].exclude`)));
      const opts = { dot: false, posix: true };
      const isMatch = picomatch(expand(pattern), opts);
      const isIgnored = picomatch([...excludes, ...auto], opts);
      const couldHold = partialMatcher([expand(pattern)]);
      const selects = (p: string) => isMatch(p) && !isIgnored(p);
      const wantsDots = pattern.startsWith(".") || pattern.includes("/.");
      const scan = picomatch.scan(pattern);
      const base = scan.isGlob ? scan.base : pattern;
      // A literal pattern names a file or a folder: walk its parent so either kind is seen.
      const start = scan.isGlob ? base : posix.dirname(base) === "." ? "" : posix.dirname(base);
      const report: PatternWalk = { source: i, include: j, pattern: raw, start: base, state: "walked", matched: 0, selects };
      patterns.push(report);
      const found = (f: Omit<FoundFile, "version" | "allowed">) => {
        report.matched++;
        if (!files.has(f.path) && !skippedPaths.has(f.path)) files.set(f.path, { ...f, version: source.version, allowed });
      };
      const listed = (path: string, reason: string) => {
        report.matched++;
        skip(path, reason);
      };

      // The folder the walk starts from (it may itself be a link).
      const startAbs = start ? `${latin1(Buffer.from(rootAbs))}/${latin1(Buffer.from(start))}` : latin1(Buffer.from(rootAbs));
      let startReal: string;
      try {
        startReal = latin1(await realpath(bytesOf(startAbs), { encoding: "buffer" }));
        if (!(await stat(bytesOf(startReal))).isDirectory()) {
          report.state = "not-a-folder";
          continue;
        }
      } catch (err) {
        report.state = errorCode(err) === "ENOENT" || errorCode(err) === "ENOTDIR" ? "missing" : "unreadable";
        if (report.state === "unreadable") unlisted.add(start);
        else report.missing = await firstMissing(rootAbs, start);
        continue;
      }
      if (!allowed.some((a) => inside(startReal, a))) {
        report.state = "outside";
        skip(start, `symbolic link to ${displayPath(startReal)}, outside the project: not followed (${allowedHint})`);
        continue;
      }

      const walkedReal = new Map<string, string>();
      const tasks: DirTask[] = [{ rel: start, abs: startAbs, real: startReal, linked: false }];
      const pending: PendingLink[] = [];
      const descend = (rel: string, name: string) =>
        !(name.startsWith(".") && !wantsDots) && !isIgnored(rel) && couldHold(rel) && (scan.isGlob || (`${base}/`.startsWith(`${rel}/`) || rel.startsWith(`${base}/`) || rel === base));

      const visit = async (task: DirTask) => {
        const seen = walkedReal.get(task.real);
        if (seen !== undefined) {
          // Only possible below a followed link: the same real folder, reached a second time.
          listed(task.rel, `folder already indexed as ${seen || "(the project folder)"} (reached again through a symbolic link): not walked again`);
          return;
        }
        walkedReal.set(task.real, task.rel);
        let entries: Dirent<Buffer>[];
        try {
          entries = await readdir(bytesOf(task.abs), { withFileTypes: true, encoding: "buffer" });
        } catch (err) {
          unlisted.add(task.rel);
          if (task.rel) listed(task.rel, `folder could not be listed: ${describeFsError(err)}`);
          return;
        }
        entries.sort((a, b) => Buffer.compare(a.name, b.name));
        for (const entry of entries) {
          const name = escapeName(entry.name);
          const rel = task.rel ? `${task.rel}/${name}` : name;
          const abs = `${task.abs}/${latin1(entry.name)}`;
          const real = `${task.real}/${latin1(entry.name)}`;
          let kind: Dirent<Buffer> | Stats = entry;
          if (!entry.isFile() && !entry.isDirectory() && !entry.isSymbolicLink() && !typeName(entry)) {
            try {
              kind = await lstat(bytesOf(abs)); // file system without entry types
            } catch (err) {
              if (selects(rel)) listed(rel, `unreadable: ${describeFsError(err)}`);
              continue;
            }
          }
          if (kind.isDirectory()) {
            if (descend(rel, name)) tasks.push({ rel, abs, real, linked: task.linked });
          } else if (kind.isFile()) {
            if (selects(rel)) found({ path: rel, open: bytesOf(abs), real, ...(task.linked ? { viaLink: shown(real) } : {}) });
          } else if (kind.isSymbolicLink()) {
            await link(rel, abs, task.real, name);
          } else if (selects(rel)) {
            listed(rel, `not a regular file: ${typeName(kind) ?? "unknown type"}`);
          }
        }
      };

      const link = async (rel: string, abs: string, parentReal: string, name: string) => {
        let target = "";
        try {
          target = escapeName(await readlink(bytesOf(abs), { encoding: "buffer" }));
        } catch {
          // Reported below through realpath's error.
        }
        let real: string;
        try {
          real = latin1(await realpath(bytesOf(abs), { encoding: "buffer" }));
        } catch (err) {
          if (!selects(rel)) return;
          const code = errorCode(err);
          if (code === "ENOENT" || code === "ENOTDIR") listed(rel, `dangling symbolic link: its target ${target} does not exist`);
          else if (code === "ELOOP") listed(rel, `symbolic link loop: ${target} leads back to itself`);
          else listed(rel, `symbolic link could not be resolved: ${describeFsError(err)}`);
          return;
        }
        let info: Stats;
        try {
          info = await stat(bytesOf(real));
        } catch (err) {
          if (selects(rel)) listed(rel, `symbolic link target unreadable: ${describeFsError(err)}`);
          return;
        }
        const isDir = info.isDirectory();
        const relevant = isDir ? descend(rel, name) || selects(rel) : selects(rel);
        if (!relevant) return;
        if (!allowed.some((a) => inside(real, a))) {
          listed(rel, `symbolic link to ${displayPath(real)}, outside the project: not followed (${allowedHint})`);
          return;
        }
        if (isDir) pending.push({ rel, abs, real, parentReal });
        else if (info.isFile()) found({ path: rel, open: bytesOf(real), real, viaLink: shown(real) });
        else listed(rel, `symbolic link to ${typeName(info) ?? "a special file"} (${shown(real)}): only regular files are read`);
      };

      // Plain folders first; then links to folders, each real folder walked once.
      for (;;) {
        while (tasks.length > 0) await visit(tasks.pop()!);
        pending.sort((a, b) => (a.rel < b.rel ? -1 : 1));
        const next = pending.shift();
        if (!next) break;
        const seen = walkedReal.get(next.real);
        if (inside(next.parentReal, next.real)) {
          listed(next.rel, `symbolic link loop: leads back to its own ancestor folder ${shown(next.real)}: not followed`);
          continue;
        }
        if (seen !== undefined) {
          listed(next.rel, `symbolic link to folder ${seen || "(the project folder)"}, which is indexed already: not followed again`);
          continue;
        }
        tasks.push({ rel: next.rel, abs: next.abs, real: next.real, linked: true });
      }
    }
  }

  // One real file, one version label: reached twice (a link and its target), it is indexed once,
  // under its own path when that was found, else the first path.
  const byReal = new Map<string, FoundFile[]>();
  for (const f of files.values()) {
    const key = `${f.version}\0${f.real}`;
    const group = byReal.get(key);
    if (group) group.push(f);
    else byReal.set(key, [f]);
  }
  for (const group of byReal.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => Number(a.viaLink !== undefined) - Number(b.viaLink !== undefined) || (a.path < b.path ? -1 : 1));
    for (const dup of group.slice(1)) {
      files.delete(dup.path);
      skip(dup.path, `same file as ${group[0].path} (through a symbolic link): indexed once`);
    }
  }
  return { files, skipped, patterns, unlisted: [...unlisted] };
}

/** The first component of `rel` that does not exist, with the closest name in its parent folder. */
async function firstMissing(rootAbs: string, rel: string): Promise<{ path: string; didYouMean?: string }> {
  const parts = rel.split("/");
  for (let k = 1; k <= parts.length; k++) {
    const path = parts.slice(0, k).join("/");
    try {
      await stat(resolve(rootAbs, path));
    } catch {
      const parent = parts.slice(0, k - 1).join("/");
      const names = await readdir(resolve(rootAbs, parent || ".")).catch(() => [] as string[]);
      const hint = didYouMean(parts[k - 1], names);
      return { path, didYouMean: hint === undefined ? undefined : parent ? `${parent}/${hint}` : hint };
    }
  }
  return { path: rel };
}

/** Whether a stored path lies in a folder that could not be listed this run. */
export function inUnlistedFolder(path: string, unlisted: string[]): boolean {
  return unlisted.some((dir) => dir === "" || path.startsWith(`${dir}/`));
}
