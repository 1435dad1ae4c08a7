/**
 * Just enough ZIP for a DOCX package: the central directory, bounded extraction of one entry,
 * and a check of the whole package BEFORE a library unpacks it. A ZIP says in its directory how
 * large each entry is unpacked; a zip bomb either declares gigabytes or lies. The check refuses
 * the first by the sizes and the second by inflating each entry with a cap at its declared size.
 */
import { inflateRawSync } from "node:zlib";
import { LIMITS, LimitError } from "../limits.ts";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  local: number;
}

/** The central directory, or undefined when the bytes are not a (non-ZIP64) ZIP archive. */
export function zipDirectory(bytes: Uint8Array): ZipEntry[] | undefined {
  if (bytes.length < 22) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) return entries;
    const nameLength = view.getUint16(at + 28, true);
    entries.push({
      method: view.getUint16(at + 10, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      name: decoder.decode(bytes.subarray(at + 46, Math.min(bytes.length, at + 46 + nameLength))),
      local: view.getUint32(at + 42, true),
    });
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return entries;
}

/**
 * The unpacked bytes of one entry, never more than its declared size (a larger result throws
 * LimitError), or undefined when the entry's data cannot be located or uses another method.
 */
export function unpackEntry(bytes: Uint8Array, entry: ZipEntry): Uint8Array | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (entry.local + 30 > bytes.length || view.getUint32(entry.local, true) !== 0x04034b50) return undefined;
  const start = entry.local + 30 + view.getUint16(entry.local + 26, true) + view.getUint16(entry.local + 28, true);
  const data = bytes.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return data.subarray(0, entry.size);
  if (entry.method !== 8) return undefined;
  try {
    // One byte of headroom tells "exactly the declared size" from "more than declared".
    const out = inflateRawSync(data, { maxOutputLength: entry.size + 1 });
    if (out.length > entry.size) throw new LimitError(`package entry ${entry.name} unpacks to more than the ${entry.size} bytes its directory declares (a zip bomb or a damaged file)`);
    return out;
  } catch (err) {
    if (err instanceof LimitError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new LimitError(`package entry ${entry.name} unpacks to more than the ${entry.size} bytes its directory declares (a zip bomb or a damaged file)`);
    }
    return undefined; // damaged data: the DOCX library reports it
  }
}

/** Entries a DOCX conversion never unpacks (images are not decompressed: see docx.ts). */
const isMedia = (name: string) => /^word\/(media|embeddings)\//.test(name);

/**
 * Refuse a package whose unpacking would cost more than the limits allow, before any library
 * unpacks it. Returns the directory (undefined: not a ZIP, left to the library to report).
 */
export function checkPackage(bytes: Uint8Array): ZipEntry[] | undefined {
  const entries = zipDirectory(bytes);
  if (!entries) return undefined;
  if (entries.length > LIMITS.zipEntries) throw new LimitError(`package holds ${entries.length} files (limit ${LIMITS.zipEntries})`);
  let total = 0;
  for (const e of entries) {
    if (e.size === 0xffffffff || e.compressedSize === 0xffffffff) throw new LimitError(`package entry ${e.name} is a ZIP64 entry (over 4 GB): not read`);
    if (isMedia(e.name)) continue;
    total += e.size;
    if (total > LIMITS.zipUnpackedBytes) {
      throw new LimitError(`package unpacks to more than ${LIMITS.zipUnpackedBytes} bytes of document parts (limit; entry ${e.name} declares ${e.size})`);
    }
  }
  // Declared sizes can lie: inflate each part with a cap at its declared size.
  for (const e of entries) if (!isMedia(e.name) && e.method === 8) unpackEntry(bytes, e);
  return entries;
}
