/**
 * ingest/ — turn files on disk into metadata-rich chunks.
 *
 * Contract: a `Loader` turns one file (its bytes, and its decoded text for text formats) into a
 * `LoadedDocument` (clean text + structure); `chunkDocument` splits it by heading structure, then
 * by token windows with overlap.
 * Adding a format means adding one file in `loaders/` that implements `Loader` and registering it
 * in `loaders/registry.ts`.
 */

/** One heading-delimited block of a document, before token windowing. */
export interface Section {
  /** Heading titles from the document root down to this section, e.g. ["Billing", "Refunds"]. */
  headingPath: string[];
  /** Section body (markdown/plain text) without the heading line itself. */
  text: string;
  /**
   * 1-based line in the source file where this section's body starts. Formats without source lines
   * define their own: PDF counts text lines within the page named in `headingPath`, DOCX counts
   * the document's blocks (paragraphs, list items, table rows); see docs/loaders.md.
   */
  lineStart: number;
  /** 1-based line where it ends (inclusive). */
  lineEnd: number;
  /**
   * Heading level 1–6 (0 for text before the first heading). The chunker compares it with
   * `headingDepth`; when absent it uses `headingPath.length`.
   */
  level?: number;
  /**
   * The heading as written in the source (e.g. "## Refunds"). Used as the first line of this
   * section's text when the chunker folds it into another section's chunk. Default: the last
   * entry of `headingPath`.
   */
  heading?: string;
  /** 1-based line of the heading itself (default: `lineStart`). */
  headingLine?: number;
}

/** What a loader produces from one file. */
export interface LoadedDocument {
  /** Title from front matter, the first H1, <title>, or the file name. */
  title: string;
  /** Front-matter or meta fields kept as metadata (e.g. `updated`, `tags`). */
  meta: Record<string, unknown>;
  /** The document as ordered sections (a document without headings is one section). */
  sections: Section[];
}

/** What ingest hands a loader for one file. */
export interface LoaderInput {
  /**
   * Path relative to the project root, forward slashes, names escaped (ingest/names.ts). Errors
   * name it. A loader never opens it: the bytes are all it reads.
   */
  path: string;
  /** The file's bytes, exactly as read. */
  bytes: Uint8Array;
  /**
   * The bytes decoded as text (UTF-8, UTF-16 with BOM or legacy 8-bit; see `decodeText`). Ingest
   * sets it for text loaders only; a text loader called without it decodes `bytes` as UTF-8.
   */
  text?: string;
}

export interface Loader {
  /** Lower-case extensions this loader handles, with the dot: [".md", ".markdown"]. */
  extensions: string[];
  /**
   * True for formats read from bytes (PDF, DOCX): ingest skips its text decoding and binary-file
   * check and passes `bytes` only. Text loaders (the default) get `text` too.
   */
  binary?: boolean;
  /**
   * Parse one file. May be async (binary formats are parsed by async libraries). Throw (or reject
   * with) an Error whose message names the file and the problem, e.g.
   * "docs/x.pdf: not a readable PDF: Invalid PDF structure."; ingest turns it into a skipped entry.
   */
  load(input: LoaderInput): LoadedDocument | Promise<LoadedDocument>;
}

export type { Chunk, ChunkSpan } from "../core/chunk.ts";

/**
 * How a document is cut into chunks (see chunk.ts for the details of each):
 * - `headings`: heading sections (`headingDepth`, `minTokens`), long ones windowed with overlap;
 * - `paragraphs`: blank-line blocks (a list, a table or a code fence is one block; a heading line
 *   is a block too) packed greedily up to `maxTokens`, across headings;
 * - `sentences`: sentences (a list item, a table row, a heading line and a code fence count as
 *   one) packed greedily up to `maxTokens`;
 * - `fixed`: plain token windows over the whole document text, structure ignored.
 */
export type ChunkingStrategy = "headings" | "paragraphs" | "sentences" | "fixed";

export interface ChunkingOptions {
  /** Splitting strategy; default `headings`. */
  strategy?: ChunkingStrategy;
  /**
   * Max tokens per chunk, for every strategy. Only a single run of text with no boundary inside it
   * (no sentence end, line break or space) can need cutting mid-run; it is windowed, still ≤ max.
   */
  maxTokens: number;
  /**
   * Tokens shared by consecutive chunks. `headings`: between windows of one long section;
   * `paragraphs`/`sentences`: whole trailing paragraphs/sentences of the previous chunk that fit in
   * this budget (none when the next chunk starts at a heading); `fixed`: exactly this many tokens.
   */
  overlapTokens: number;
  /** Headings at this depth or shallower start a new section (1–6). `headings` strategy only. */
  headingDepth: number;
  /** Sections shorter than this many tokens are merged into the following section of the same parent. `headings` strategy only. */
  minTokens: number;
}

export interface IngestStats {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Every selected entry that was not indexed this run (files, links, folders), with the reason. */
  skipped: SkippedFile[];
  /** The documents removed from the index, with the reason (`removed` counts them). */
  removedDocuments: SkippedFile[];
  /** Documents not found this run but kept in the index, with the reason (see removals.ts). */
  kept: SkippedFile[];
  /** The index version this ingest recorded (store/versions.ts), when it changed the index. */
  indexVersion?: number;
  /** Documents in the index after the run. */
  documents: number;
  chunks: number;
  ms: number;
  embedded?: EmbedStats;
  /** Set by `ragtune ingest --queue`: what the queue did (ingest/queue/coordinator.ts). */
  queue?: {
    parseJobs: number;
    embedJobs: number;
    /** Jobs finished by an earlier, interrupted run of the coordinator: collected, not redone. */
    collected: number;
    duplicateCompletions: number;
    /** Vectors read from the Redis embedding cache instead of being computed again. */
    cachedVectors: number;
  };
}

/** Set by `ragtune ingest` when an embedder is configured. */
export interface EmbedStats {
  embedder: string;
  embedded: number;
  upToDate: number;
  ms: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
  /**
   * The reason is this run's conditions (a file that could not be read, a time or memory limit of the
   * parser, which depend on the machine's load and on what the process holds), not the file's
   * content: a previous version of the document stays indexed instead of being removed.
   */
  transient?: boolean;
}

export { chunkDocument } from "./chunk.ts";
export { ingestProject, chunkingHash, decodeText, PIPELINE_VERSION, type IngestOptions, type IngestSource } from "./ingest.ts";
export { IngestRefused } from "./removals.ts";
export { LIMITS } from "./limits.ts";
export { escapeName, storedPath, unescapeName } from "./names.ts";
export { loaderFor, loaders, extensionOf } from "./loaders/registry.ts";
