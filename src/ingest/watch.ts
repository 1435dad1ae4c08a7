/**
 * Watching a project's sources for `ragtune ingest --watch` and `ragtune serve --watch`: file
 * events under the sources' folders are collected, debounced, and handed to one re-index at a
 * time (the caller's: the same reindex `ragtune ingest` runs). A change during a re-index is not
 * lost: another one follows when it finishes. A failing re-index is reported and the loop keeps
 * watching (the ingest is transactional, so the previous index stays). `stop()` waits for a
 * running re-index to commit or roll back.
 *
 * Events: `fs.watch(folder, { recursive: true })` (inotify on Linux with Node 20, FSEvents on
 * macOS); where that is unavailable, or with `mode: "poll"`, a bounded poll compares each file's
 * size and modification time every `pollMs`.
 */
import { watch, readdirSync, statSync, type FSWatcher } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import picomatch from "picomatch";
import type { WalkSource } from "./walk.ts";

export interface WatchOptions {
  /** Project folder (stored paths and patterns are relative to it). */
  root: string;
  sources: Pick<WalkSource, "include">[];
  /** Folders (relative to root) whose changes never count: the index itself, runs, caches. */
  ignore: string[];
  /** Quiet time after the last change before re-indexing, ms. */
  debounceMs: number;
  /** "auto": fs.watch, polling if unavailable; "poll": always poll. */
  mode?: "auto" | "poll";
  /** Poll interval, ms (bounded to 200 … 10,000). */
  pollMs?: number;
}

/** The folders a set of include patterns can select files under (their static prefixes). */
export function watchedFolders(root: string, sources: Pick<WalkSource, "include">[]): string[] {
  const bases = new Set<string>();
  for (const s of sources) {
    for (const pattern of Array.isArray(s.include) ? s.include : [s.include]) {
      const base = picomatch.scan(pattern).base.replace(/^\.\/?/, "").replace(/\/+$/, "");
      bases.add(base);
    }
  }
  // A base inside another is covered by it.
  const sorted = [...bases].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const b of sorted) if (!kept.some((k) => k === "" || b === k || b.startsWith(`${k}/`))) kept.push(b);
  return kept.map((b) => resolve(root, b));
}

const IGNORED_ALWAYS = [".git", "node_modules"];

/** Watches the sources' folders and calls `onChange` with the changed paths (relative to root, `/`-separated). */
export class SourceWatcher {
  readonly mode: "fs.watch" | "poll";
  readonly folders: string[];
  private readonly watchers: FSWatcher[] = [];
  private pollTimer?: NodeJS.Timeout;
  private readonly ignored: string[];
  private readonly root: string;

  constructor(opts: WatchOptions, private readonly onChange: (paths: string[]) => void) {
    this.root = resolve(opts.root);
    this.folders = watchedFolders(this.root, opts.sources);
    this.ignored = [...IGNORED_ALWAYS, ...opts.ignore].map((d) => relative(this.root, resolve(this.root, d)).split(sep).join("/")).filter((d) => d && !d.startsWith(".."));
    let mode: "fs.watch" | "poll" = opts.mode === "poll" ? "poll" : "fs.watch";
    if (mode === "fs.watch") {
      try {
        for (const folder of this.folders) {
          const w = watch(folder, { recursive: true }, (_event, name) => {
            const rel = relative(this.root, name ? join(folder, name.toString()) : folder).split(sep).join("/");
            if (!this.isIgnored(rel)) this.onChange([rel]);
          });
          // A watched folder that disappears ends its watcher; the poll would not notice either until it is back.
          w.on("error", () => undefined);
          this.watchers.push(w);
        }
      } catch {
        // Recursive watching unavailable (or a folder missing at start): poll instead.
        for (const w of this.watchers.splice(0)) w.close();
        mode = "poll";
      }
    }
    this.mode = mode;
    if (mode === "poll") {
      const every = Math.min(10_000, Math.max(200, opts.pollMs ?? 1_000));
      let before = this.scan();
      this.pollTimer = setInterval(() => {
        const now = this.scan();
        const changed: string[] = [];
        for (const [path, sig] of now) if (before.get(path) !== sig) changed.push(path);
        for (const path of before.keys()) if (!now.has(path)) changed.push(path);
        before = now;
        if (changed.length) this.onChange(changed);
      }, every);
    }
  }

  private isIgnored(rel: string): boolean {
    return rel.startsWith("..") || this.ignored.some((d) => rel === d || rel.startsWith(`${d}/`));
  }

  /** path → "size:mtime" of every file under the watched folders (links are not followed). */
  private scan(): Map<string, string> {
    const out = new Map<string, string>();
    const visit = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        const rel = relative(this.root, full).split(sep).join("/");
        if (this.isIgnored(rel)) continue;
        if (e.isDirectory()) visit(full);
        else if (e.isFile()) {
          try {
            const st = statSync(full);
            out.set(rel, `${st.size}:${st.mtimeMs}`);
          } catch {
            // Gone between listing and stat: the next scan sees it missing.
          }
        }
      }
    };
    for (const f of this.folders) visit(f);
    return out;
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
    clearInterval(this.pollTimer);
  }
}

export interface WatchLoopOptions<R> extends WatchOptions {
  /** One re-index (resolves after its commit, or rejects having changed nothing). */
  reindex: () => Promise<R>;
  /** After each re-index: its result, the changed paths that caused it, its wall time. */
  onReindexed: (result: R, info: { paths: string[]; ms: number }) => void;
  /** A re-index that failed; the loop keeps watching. */
  onError: (err: unknown, info: { paths: string[] }) => void;
  /** Errors that mean "try again after the debounce" (another index change was running). */
  retryable?: (err: unknown) => boolean;
}

/** Debounced, one-at-a-time re-indexing on source changes. */
export class WatchLoop<R> {
  private readonly watcher: SourceWatcher;
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly opts: WatchLoopOptions<R>) {
    this.watcher = new SourceWatcher(opts, (paths) => this.changed(paths));
  }

  get mode(): "fs.watch" | "poll" {
    return this.watcher.mode;
  }

  get folders(): string[] {
    return this.watcher.folders;
  }

  private changed(paths: string[]): void {
    if (this.stopped) return;
    for (const p of paths) this.pending.add(p);
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.opts.debounceMs);
  }

  private fire(): void {
    // A change while a re-index runs is picked up when it finishes (see below).
    if (this.stopped || this.running || this.pending.size === 0) return;
    const paths = [...this.pending].sort();
    this.pending.clear();
    const started = performance.now();
    this.running = this.opts
      .reindex()
      .then(
        (result) => this.opts.onReindexed(result, { paths, ms: performance.now() - started }),
        (err: unknown) => {
          if (this.opts.retryable?.(err)) for (const p of paths) this.pending.add(p);
          else this.opts.onError(err, { paths });
        },
      )
      .catch((err: unknown) => this.opts.onError(err, { paths }))
      .finally(() => {
        this.running = undefined;
        if (this.pending.size > 0 && !this.stopped) this.schedule();
      });
  }

  /** Stop watching; resolves when a running re-index has committed or rolled back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher.close();
    await this.running;
  }
}

/** The project folders ragtune itself writes to: their changes never trigger a re-index. */
export function projectWriteFolders(config: { storeDir: string; runsDir: string; cache: { dir: string } }): string[] {
  return [config.storeDir, config.runsDir, config.cache.dir];
}

/** Default quiet time after the last change, ms. */
export const DEFAULT_DEBOUNCE_MS = 300;
