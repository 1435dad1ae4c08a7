/**
 * Peer retrievers: the search libraries a TypeScript team would otherwise use, behind one small
 * interface so the benchmark runs ragtune and each of them the same way, in the same process, on
 * the same corpus.
 *
 * Every peer is configured with its documented BM25 defaults (each file says which, and
 * `settings` repeats it in every report) and indexes the same two fields: the BEIR `title` and
 * `text`. The libraries are dev/optional dependencies, loaded with a dynamic `import()` so ragtune
 * itself never needs them; a missing one is a clear error naming the install command.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BeirDocument } from "../beir.ts";
import { InputError } from "../../util/errors.ts";

export interface PeerRetriever {
  /** Library name as on npm, e.g. "minisearch". */
  readonly name: string;
  /** Installed version of the library (from its package.json). */
  readonly version: string;
  /** The BM25 settings used, in words: fields, weights, k1/b (and δ), tokenizer, stemming, stop words. */
  readonly settings: string;
  /** Build the index over `docs` (called once). */
  index(docs: BeirDocument[]): Promise<void>;
  /** Ids of the best `k` documents for `query`, best first. */
  search(query: string, k: number): Promise<string[]> | string[];
}

/** Names accepted by `--compare`, each with the package(s) it needs. */
export const PEER_NAMES = ["minisearch", "orama", "wink", "sqlite-fts5", "lancedb"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** Create a peer by name (dynamic import, so only the libraries asked for are loaded). */
export async function createPeer(name: string): Promise<PeerRetriever> {
  switch (name) {
    case "minisearch":
      return (await import("./minisearch.ts")).createMiniSearchPeer();
    case "orama":
      return (await import("./orama.ts")).createOramaPeer();
    case "wink":
      return (await import("./wink.ts")).createWinkPeer();
    case "sqlite-fts5":
      return (await import("./sqlite-fts5.ts")).createSqliteFts5Peer();
    case "lancedb":
      return (await import("./lancedb.ts")).createLanceDbPeer();
    default:
      throw new InputError(`unknown library '${name}' for --compare (choose from: ${PEER_NAMES.join(", ")})`);
  }
}

const require = createRequire(import.meta.url);

/**
 * `import()` an optional library, or throw an InputError that says how to install it. The
 * specifier is a plain string so TypeScript does not need the package's types (wink has none).
 */
export async function importOptional(pkg: string, installHint = `npm i -D ${pkg}`): Promise<any> {
  try {
    return await import(pkg);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new InputError(`${pkg} is not installed: ${installHint}`);
    }
    throw err;
  }
}

/** Installed version of a package: the nearest package.json above its entry point with that name. */
export function packageVersion(pkg: string): string {
  let dir: string;
  try {
    dir = dirname(require.resolve(pkg));
  } catch {
    return "unknown";
  }
  for (let i = 0; i < 8; i++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const json = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
        if (json.name === pkg && json.version) return json.version;
      } catch {
        // not a readable package.json: keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return "unknown";
}
