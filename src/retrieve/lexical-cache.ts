/**
 * Per-chunk term statistics: what BM25 needs from a chunk, computed once by tokenizing it and
 * then kept — in memory as a `LexicalCorpus`, and persisted in the store (`chunk_terms`) so an
 * index can be rebuilt without re-tokenizing anything.
 *
 * A chunk has two fields: the body (`text`) and the heading field (title + heading path, see
 * `headingFieldText`). Its statistics are its two field lengths in tokens and, per distinct term,
 * the term's count in each field. Everything that changes these numbers for the same chunk (the
 * tokenizer, the choice of heading field) is folded into `LEXICAL_ANALYZER`; persisted rows
 * written under another key are stale and get re-analysed.
 *
 * Persisted encoding (`chunk_terms.terms`): the chunk's (term id, body tf, heading tf) triples,
 * sorted by term id, as unsigned LEB128 varints of (id − previous id, body tf, heading tf). Term
 * ids index a per-store dictionary table (`lexical_terms`), so a term's text is stored once per
 * store, not once per chunk. A typical triple takes 3–5 bytes.
 *
 * Also kept (`chunk_terms.content`, and in memory when asked): the chunk's *content-token
 * sequences* — body then heading field, stop words dropped, as term ids of the same dictionary —
 * which the offline reranker needs for positions, proximity and phrases (rerank-tokens.ts). They
 * are computed here, at index time, so no query pays for tokenizing a chunk it touches first.
 * Encoding: varint body length, then the body ids, then the heading ids, each an unsigned varint.
 */
import type { Chunk } from "../ingest/index.ts";
import { contentTokens, TOKENIZER_VERSION, tokenize } from "./tokenize.ts";

/** Key of the analysis: bump the suffix when `headingFieldText` or the statistics change. */
export const LEXICAL_ANALYZER = `${TOKENIZER_VERSION};fields=body,title+headings;content;v2`;

/** Title and heading path as one field; the title is skipped when it repeats the top heading. */
export function headingFieldText(chunk: Pick<Chunk, "title" | "headingPath">): string {
  const parts = chunk.headingPath[0] === chunk.title ? chunk.headingPath : [chunk.title, ...chunk.headingPath];
  return parts.join("\n");
}

/** Append-only Int32 array with amortised doubling; avoids one JS object per entry. */
export class GrowableInt32 {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** The used part, trimmed to size (a copy only when there is slack). */
  toArray(): Int32Array {
    return this.length === this.data.length ? this.data : this.data.slice(0, this.length);
  }
}

/**
 * Term statistics of a corpus, doc-major: doc `d`'s entries are `docStart[d]..docStart[d+1]`, each
 * a term id (index into `terms`) with its body and heading counts. Doc order is chunk order.
 */
export interface LexicalCorpus {
  /** Term text by id. May hold terms no doc uses (a persisted dictionary keeps removed terms). */
  terms: string[];
  docStart: Int32Array;
  entryTerm: Int32Array;
  entryBody: Int32Array;
  entryHead: Int32Array;
  /** Body length in tokens, per doc. */
  bodyLen: Int32Array;
  /** Heading-field length in tokens, per doc. */
  headLen: Int32Array;
  /** Content-token sequences (see the module comment), when every doc has them. */
  content?: ContentSequences;
}

/** Content-token id sequences of every doc: doc d's body is `bodyIds[bodyStart[d]..bodyStart[d+1]]`, likewise the heading field. */
export interface ContentSequences {
  bodyStart: Int32Array;
  bodyIds: Int32Array;
  headStart: Int32Array;
  headIds: Int32Array;
}

/** Statistics of one chunk, entries in first-occurrence order (body first). */
export interface ChunkTerms {
  bodyLen: number;
  headLen: number;
  ids: number[];
  body: number[];
  head: number[];
  /** Content-token ids of the body, in text order (with `withContent`). */
  content?: number[];
  /** Content-token ids of the heading field, in order (with `withContent`). */
  headContent?: number[];
}

/**
 * Tokenizes chunks into term statistics against a term dictionary. The dictionary is either the
 * builder's own (ids 0, 1, 2, … in order of first sight) or an external one (`idFor`), e.g. the
 * store's `lexical_terms` table.
 */
export class ChunkAnalyzer {
  /** Scratch counts by term id; only the slots of the current chunk are non-zero. */
  private tfBody = new Int32Array(1024);
  private tfHead = new Int32Array(1024);
  private readonly idFor: (term: string) => number;
  private readonly withContent: boolean;

  /** `withContent`: also return the content-token sequences (for the offline reranker). */
  constructor(idFor: (term: string) => number, withContent = false) {
    this.idFor = idFor;
    this.withContent = withContent;
  }

  private ensure(id: number): void {
    if (id < this.tfBody.length) return;
    let size = this.tfBody.length;
    while (size <= id) size *= 2;
    const body = new Int32Array(size);
    body.set(this.tfBody);
    const head = new Int32Array(size);
    head.set(this.tfHead);
    this.tfBody = body;
    this.tfHead = head;
  }

  analyze(chunk: Pick<Chunk, "text" | "title" | "headingPath">): ChunkTerms {
    const ids: number[] = [];
    const bodyTokens = tokenize(chunk.text);
    const headTokens = tokenize(headingFieldText(chunk));
    for (const term of bodyTokens) {
      const id = this.idFor(term);
      this.ensure(id);
      if (this.tfBody[id] === 0) ids.push(id);
      this.tfBody[id]++;
    }
    for (const term of headTokens) {
      const id = this.idFor(term);
      this.ensure(id);
      if (this.tfBody[id] === 0 && this.tfHead[id] === 0) ids.push(id);
      this.tfHead[id]++;
    }
    const body = new Array<number>(ids.length);
    const head = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      body[i] = this.tfBody[id];
      head[i] = this.tfHead[id];
      this.tfBody[id] = 0;
      this.tfHead[id] = 0;
    }
    const stats: ChunkTerms = { bodyLen: bodyTokens.length, headLen: headTokens.length, ids, body, head };
    if (this.withContent) {
      stats.content = contentTokens(chunk.text).map(this.idFor);
      stats.headContent = contentTokens(headingFieldText(chunk)).map(this.idFor);
    }
    return stats;
  }
}

/** Accumulates per-chunk statistics into a `LexicalCorpus`. */
export class CorpusBuilder {
  private readonly docStart = new GrowableInt32();
  private readonly entryTerm = new GrowableInt32(4096);
  private readonly entryBody = new GrowableInt32(4096);
  private readonly entryHead = new GrowableInt32(4096);
  private readonly bodyLen = new GrowableInt32();
  private readonly headLen = new GrowableInt32();
  private readonly bodyStart = new GrowableInt32();
  private readonly bodyIds = new GrowableInt32(4096);
  private readonly headStart = new GrowableInt32();
  private readonly headIds = new GrowableInt32(1024);
  /** Whether every doc so far came with content sequences. */
  private allContent = true;

  constructor() {
    this.docStart.push(0);
    this.bodyStart.push(0);
    this.headStart.push(0);
  }

  get docs(): number {
    return this.bodyLen.length;
  }

  add(stats: ChunkTerms): void {
    for (let i = 0; i < stats.ids.length; i++) {
      this.entryTerm.push(stats.ids[i]);
      this.entryBody.push(stats.body[i]);
      this.entryHead.push(stats.head[i]);
    }
    if (stats.content && stats.headContent && this.allContent) {
      for (const id of stats.content) this.bodyIds.push(id);
      for (const id of stats.headContent) this.headIds.push(id);
    } else this.allContent = false;
    this.finishDoc(stats.bodyLen, stats.headLen);
  }

  /**
   * Add a doc from its persisted encoding. Returns false, adding nothing, when the encoding is
   * damaged or names a term missing from `terms` (the caller then re-analyses the chunk).
   */
  addEncoded(bodyLen: number, headLen: number, encoded: Uint8Array, terms: readonly (string | undefined)[], content?: Uint8Array): boolean {
    const mark = this.entryTerm.length;
    const bodyMark = this.bodyIds.length;
    const headMark = this.headIds.length;
    let ok = true;
    try {
      decodeTerms(encoded, (id, body, head) => {
        if (terms[id] === undefined) ok = false;
        this.entryTerm.push(id);
        this.entryBody.push(body);
        this.entryHead.push(head);
      });
      if (!content) this.allContent = false;
      else if (this.allContent) {
        decodeContent(content, (id, inHead) => {
          if (terms[id] === undefined) ok = false;
          (inHead ? this.headIds : this.bodyIds).push(id);
        });
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      this.entryTerm.length = this.entryBody.length = this.entryHead.length = mark;
      this.bodyIds.length = bodyMark;
      this.headIds.length = headMark;
      return false;
    }
    this.finishDoc(bodyLen, headLen);
    return true;
  }

  private finishDoc(bodyLen: number, headLen: number): void {
    this.bodyLen.push(bodyLen);
    this.headLen.push(headLen);
    this.docStart.push(this.entryTerm.length);
    this.bodyStart.push(this.bodyIds.length);
    this.headStart.push(this.headIds.length);
  }

  finish(terms: string[]): LexicalCorpus {
    return {
      terms,
      docStart: this.docStart.toArray(),
      entryTerm: this.entryTerm.toArray(),
      entryBody: this.entryBody.toArray(),
      entryHead: this.entryHead.toArray(),
      bodyLen: this.bodyLen.toArray(),
      headLen: this.headLen.toArray(),
      ...(this.allContent
        ? { content: { bodyStart: this.bodyStart.toArray(), bodyIds: this.bodyIds.toArray(), headStart: this.headStart.toArray(), headIds: this.headIds.toArray() } }
        : {}),
    };
  }
}

/** Tokenize chunks into a corpus with its own dictionary (the from-scratch path); `withContent` keeps the content-token sequences too. */
export function analyzeChunks(chunks: readonly Pick<Chunk, "text" | "title" | "headingPath">[], withContent = false): LexicalCorpus {
  const ids = new Map<string, number>();
  const terms: string[] = [];
  const analyzer = new ChunkAnalyzer((term) => {
    let id = ids.get(term);
    if (id === undefined) {
      id = terms.length;
      ids.set(term, id);
      terms.push(term);
    }
    return id;
  }, withContent);
  const builder = new CorpusBuilder();
  for (const chunk of chunks) builder.add(analyzer.analyze(chunk));
  return builder.finish(terms);
}

// ---------------------------------------------------------------------------------------------
// Packed encoding

function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** Encode one chunk's (id, body tf, heading tf) entries, sorted by id, as delta varints. */
export function encodeTerms(stats: Pick<ChunkTerms, "ids" | "body" | "head">): Buffer {
  const order = stats.ids.map((_, i) => i).sort((a, b) => stats.ids[a] - stats.ids[b]);
  const bytes: number[] = [];
  let prev = 0;
  for (const i of order) {
    writeVarint(bytes, stats.ids[i] - prev);
    writeVarint(bytes, stats.body[i]);
    writeVarint(bytes, stats.head[i]);
    prev = stats.ids[i];
  }
  return Buffer.from(bytes);
}

/** Encode a chunk's content-token sequences (body, heading field) as varints, body length first. */
export function encodeContent(body: readonly number[], head: readonly number[]): Buffer {
  const bytes: number[] = [];
  writeVarint(bytes, body.length);
  for (const id of body) writeVarint(bytes, id);
  for (const id of head) writeVarint(bytes, id);
  return Buffer.from(bytes);
}

/** Decode `encodeContent` output, calling `each(id, inHead)` in sequence order. */
export function decodeContent(bytes: Uint8Array, each: (id: number, inHead: boolean) => void): void {
  let pos = 0;
  const n = bytes.length;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= n) throw new Error("chunk_terms: truncated content sequence");
      const byte = bytes[pos++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  };
  if (n === 0) throw new Error("chunk_terms: empty content sequence");
  const bodyLen = read();
  for (let i = 0; i < bodyLen; i++) each(read(), false);
  while (pos < n) each(read(), true);
}

/** Decode `encodeTerms` output, calling `each(id, bodyTf, headTf)` in id order. */
export function decodeTerms(bytes: Uint8Array, each: (id: number, body: number, head: number) => void): void {
  let pos = 0;
  const n = bytes.length;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= n) throw new Error("chunk_terms: truncated term statistics");
      const byte = bytes[pos++];
      v += (byte & 0x7f) * mul;
      if (byte < 0x80) return v;
      mul *= 128;
    }
  };
  let id = 0;
  while (pos < n) {
    id += read();
    const body = read();
    const head = read();
    each(id, body, head);
  }
}

// ---------------------------------------------------------------------------------------------
// The store side

/** One chunk with its persisted statistics (absent or stale ones are re-analysed by the reader). */
export interface StoredLexicalRow {
  chunk: Chunk;
  /** Analyzer key the row was written with, or undefined when the chunk has no row. */
  analyzer: string | undefined;
  bodyLen: number;
  headLen: number;
  terms: Uint8Array | undefined;
  /** `encodeContent` of the chunk's content-token sequences (absent in rows written before them). */
  content?: Uint8Array;
}

/**
 * What a store offers to persist term statistics. The SQLite store implements it; a store without
 * it still works, the index is then built by tokenizing `store.chunks()`.
 */
export interface LexicalStatsSource {
  /**
   * Every chunk in `store.chunks()` order with its statistics, after (re)writing the rows that
   * are missing or were written under another analyzer key, when the store is writable.
   */
  lexicalRows(): { rows: StoredLexicalRow[]; terms: string[] };
}

export function hasLexicalStats(store: object): store is LexicalStatsSource {
  return typeof (store as Partial<LexicalStatsSource>).lexicalRows === "function";
}

/**
 * The corpus of a store from its persisted statistics; chunks whose rows are missing, stale
 * (another analyzer) or damaged are analysed here against the same dictionary, so the result is
 * always the same as analysing `store.chunks()` from scratch.
 */
export function corpusFromRows(rows: StoredLexicalRow[], terms: string[]): { chunks: Chunk[]; corpus: LexicalCorpus } {
  const chunks = new Array<Chunk>(rows.length);
  const builder = new CorpusBuilder();
  let analyzer: ChunkAnalyzer | undefined;
  let ids: Map<string, number> | undefined;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    chunks[i] = row.chunk;
    if (row.analyzer === LEXICAL_ANALYZER && row.terms && row.content && builder.addEncoded(row.bodyLen, row.headLen, row.terms, terms, row.content)) continue;
    if (!analyzer) {
      const dict = new Map<string, number>();
      terms.forEach((t, id) => dict.set(t, id));
      ids = dict;
      analyzer = new ChunkAnalyzer((term) => {
        let id = ids!.get(term);
        if (id === undefined) {
          id = terms.length;
          ids!.set(term, id);
          terms.push(term);
        }
        return id;
      }, true);
    }
    builder.add(analyzer.analyze(row.chunk));
  }
  return { chunks, corpus: builder.finish(terms) };
}
