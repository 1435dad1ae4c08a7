/**
 * ingest/ — turn files on disk into metadata-rich chunks.
 *
 * Contract: a `Loader` turns one file's text into a `LoadedDocument` (clean text + structure);
 * `chunkDocument` splits it by heading structure, then by token windows with overlap.
 * Adding a format means adding one file in `loaders/` that implements `Loader` and registering it
 * in `loaders/registry.ts`.
 */

/** One heading-delimited block of a document, before token windowing. */
export interface Section {
  /** Heading titles from the document root down to this section, e.g. ["Billing", "Refunds"]. */
  headingPath: string[];
  /** Section body (markdown/plain text) without the heading line itself. */
  text: string;
  /** 1-based line in the source file where this section's body starts. */
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

export interface Loader {
  /** Lower-case extensions this loader handles, with the dot: [".md", ".markdown"]. */
  extensions: string[];
  /** Parse `text` (the file's UTF-8 content). Throw an Error with a clear message on bad input. */
  load(text: string, path: string): LoadedDocument;
}

/** A retrievable unit stored in the index. */
export interface Chunk {
  /** Stable id: `<source path>#<ordinal>`; unchanged while the file is unchanged. */
  id: string;
  /** Source path relative to the project root, forward slashes. */
  path: string;
  /** Ordinal of the chunk inside its document (0-based). */
  ordinal: number;
  /** Document title. */
  title: string;
  headingPath: string[];
  text: string;
  lineStart: number;
  lineEnd: number;
  /** Version label of the source that produced it (from config `sources[].version`), or "". */
  version: string;
  /** Token count of `text` (cl100k-compatible tokenizer). */
  tokens: number;
  /** Free metadata from the document (front matter) — e.g. updated date, tags. */
  meta: Record<string, unknown>;
}

export interface ChunkingOptions {
  /** Max tokens per chunk; longer sections are split into overlapping windows. */
  maxTokens: number;
  /** Tokens shared by consecutive windows of one section. */
  overlapTokens: number;
  /** Headings at this depth or shallower start a new section (1–6). */
  headingDepth: number;
  /** Sections shorter than this many tokens are merged into the following section of the same parent. */
  minTokens: number;
}

export interface IngestStats {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  skipped: SkippedFile[];
  chunks: number;
  ms: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export { chunkDocument } from "./chunk.ts";
export { ingestProject, chunkingHash, decodeText, PIPELINE_VERSION, type IngestOptions, type IngestSource } from "./ingest.ts";
export { loaderFor, loaders, extensionOf } from "./loaders/registry.ts";
