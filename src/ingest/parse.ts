/**
 * One file's bytes → its chunks: decode, load, bound, chunk. Runs inside the parser worker
 * (sandbox.ts); every failure comes back as a skip reason that names the file, never as a throw.
 */
import { chunkDocument } from "./chunk.ts";
import type { Chunk, ChunkingOptions, LoadedDocument, LoaderInput } from "./index.ts";
import { boundTitle, LIMITS, LimitError } from "./limits.ts";
import { loaderFor } from "./loaders/registry.ts";

export interface ParseRequest {
  /** Stored path (names.ts escaping): chunk ids and messages use it; the loader never opens it. */
  path: string;
  version: string;
  bytes: Uint8Array;
  chunking: ChunkingOptions;
}

/** A chunk as the worker sends it back: the document's metadata travels once, not per chunk. */
export type ParsedChunk = Omit<Chunk, "meta">;

export type ParseResult =
  | { ok: true; title: string; meta: Record<string, unknown>; chunks: ParsedChunk[] }
  | { ok: false; reason: string; /** The run's conditions, not the file's content, made it fail (see SkippedFile.transient). */ transient?: boolean };

/** Decode file bytes as text, or say why they are not text. */
export function decodeText(bytes: Uint8Array): { text: string } | { binary: string } {
  // UTF-16 files (common from Windows tools) are full of NULs but are text: honour their BOM.
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder("utf-16le").decode(bytes) };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder("utf-16le").decode(swapPairs(bytes)) };
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) {
    // Without a BOM, UTF-16 shows as a NUL in every other byte of mostly-ASCII text.
    const order = utf16WithoutBom(head);
    if (order === "le") return { text: new TextDecoder("utf-16le").decode(bytes) };
    if (order === "be") return { text: new TextDecoder("utf-16le").decode(swapPairs(bytes)) };
    return { binary: "binary file (NUL bytes)" };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder("utf-8").decode(bytes);
    const bad = text.match(/\uFFFD/g)?.length ?? 0;
    // Legacy 8-bit text stays well under this share of undecodable bytes; binary data does not.
    if (bad / Math.max(text.length, 1) > 0.3) return { binary: "binary file (mostly invalid UTF-8)" };
    // Invalid bytes but no valid multi-byte character at all: a legacy 8-bit encoding, not damage.
    if (!/[^\x00-\x7f\uFFFD]/.test(text)) text = Buffer.from(bytes).toString("latin1");
  }
  const controls = text.match(/[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]/g)?.length ?? 0;
  if (controls / Math.max(text.length, 1) > 0.1) return { binary: "binary file (control characters)" };
  return { text };
}

function swapPairs(bytes: Uint8Array): Uint8Array {
  const swapped = new Uint8Array(bytes.length - (bytes.length % 2));
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    swapped[i] = bytes[i + 1];
    swapped[i + 1] = bytes[i];
  }
  return swapped;
}

/** "le"/"be" when NULs sit in (nearly) only the odd/even bytes, as UTF-16 ASCII text has them. */
function utf16WithoutBom(head: Uint8Array): "le" | "be" | undefined {
  let even = 0;
  let odd = 0;
  const pairs = Math.floor(head.length / 2);
  if (pairs < 2) return undefined;
  for (let i = 0; i + 1 < head.length; i += 2) {
    if (head[i] === 0) even++;
    if (head[i + 1] === 0) odd++;
  }
  if (odd >= pairs * 0.6 && even <= pairs * 0.02) return "le";
  if (even >= pairs * 0.6 && odd <= pairs * 0.02) return "be";
  return undefined;
}

/** Metadata as plain JSON values: cycles (YAML anchors can build them) and BigInts cannot be stored. */
function jsonSafe(value: unknown, stack: object[] = []): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return undefined; // functions, symbols, undefined: JSON drops them too
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return jsonSafe((toJSON as () => unknown).call(value), stack);
  if (stack.includes(value)) return "[circular]";
  stack.push(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v) => jsonSafe(v, stack) ?? null);
  else {
    // Own keys only, defined as data: a key "__proto__" stays a key.
    const obj: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = jsonSafe((value as Record<string, unknown>)[key], stack);
      if (v !== undefined) Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    out = obj;
  }
  stack.pop();
  return out;
}

/** A library's or our own error as the skip reason, naming the file. */
export function reasonFor(path: string, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  let reason = message;
  if (err instanceof RangeError && /call stack/i.test(message)) reason = "nested too deeply to parse (the parser ran out of call stack)";
  else if (/Invalid string length|Cannot create a string longer|Array buffer allocation failed|Invalid array length|Invalid typed array length/.test(message)) {
    reason = `too large to parse (${message})`;
  }
  return reason.startsWith(path) ? reason : `${path}: ${reason}`;
}

/** Title, heading paths and metadata within the limits (they are repeated on every chunk). */
function bounded(doc: LoadedDocument): LoadedDocument {
  const meta = (jsonSafe(doc.meta) ?? {}) as Record<string, unknown>;
  const size = JSON.stringify(meta).length;
  if (size > LIMITS.metaBytes) throw new LimitError(`metadata is ${size} bytes as JSON (limit ${LIMITS.metaBytes}): it would be copied onto every chunk`);
  const sections = doc.sections.map((s) => (s.headingPath.some((h) => h.length > LIMITS.titleChars) ? { ...s, headingPath: s.headingPath.map(boundTitle) } : s));
  return { title: boundTitle(doc.title), meta, sections };
}

export async function parseFile(req: ParseRequest): Promise<ParseResult> {
  const { path, bytes, version, chunking } = req;
  const loader = loaderFor(path);
  if (!loader) return { ok: false, reason: "unsupported file type" };
  try {
    let input: LoaderInput;
    if (loader.binary) {
      // PDF, DOCX: the loader parses the bytes itself; text sniffing would call them binary.
      if (bytes.length === 0) return { ok: false, reason: "empty file" };
      input = { path, bytes };
    } else {
      const decoded = decodeText(bytes);
      if ("binary" in decoded) return { ok: false, reason: decoded.binary };
      if (!decoded.text.trim()) return { ok: false, reason: "empty file" };
      input = { path, bytes, text: decoded.text };
    }
    const doc = bounded(await loader.load(input));
    const chunks = chunkDocument(doc, { path, version }, chunking);
    if (chunks.length === 0) return { ok: false, reason: "produced no chunks (no text content)" };
    return { ok: true, title: doc.title, meta: doc.meta, chunks: chunks.map(({ meta: _meta, ...c }) => c) };
  } catch (err) {
    return { ok: false, reason: reasonFor(path, err) };
  }
}
