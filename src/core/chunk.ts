/**
 * The unit every stage shares: ingest writes chunks, the store keeps them, retrieval ranks them,
 * generators quote them. It lives here, below every stage, so none has to import another stage
 * to name it.
 */

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
  /**
   * Where each stretch of `text` comes from, in order: a chunk packs several sections, and a
   * citation must name the section and lines of the sentence it quotes, not the chunk's first
   * heading. Absent on chunks built before spans existed; readers then fall back to the chunk's
   * own heading path and lines.
   */
  spans?: ChunkSpan[];
}

/** One stretch of a chunk's text that belongs to one section (see `Chunk.spans`). */
export interface ChunkSpan {
  /** Offset in the chunk's `text` where the stretch starts; it runs to the next span's offset. */
  offset: number;
  /** Heading path of the section the stretch belongs to. */
  headingPath: string[];
  /** Source line of the stretch's first line. */
  lineStart: number;
  /** Source line of its last line. */
  lineEnd: number;
  /**
   * True when every line break in the stretch is one source line break (markdown, text), so a
   * line inside it is `lineStart` + the breaks before it; otherwise lines are estimated
   * proportionally between `lineStart` and `lineEnd` (HTML, PDF, DOCX).
   */
  exact: boolean;
}
