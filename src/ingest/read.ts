/**
 * Read one selected file, safely: only a regular file, only inside the folders its source may
 * read, and never more than the size limit, whatever `stat` said (a `/proc` file reports size 0
 * and a device has no end).
 */
import { constants } from "node:fs";
import { open, readlink } from "node:fs/promises";
import type { FoundFile } from "./walk.ts";

export type ReadResult = { bytes: Uint8Array } | { reason: string };

// O_NONBLOCK: opening a FIFO (swapped in after the walk) must not hang; O_NOFOLLOW: nor may the
// last component have become a link. Both are no-ops on a regular file.
const FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const CHUNK = 1 << 20;

const inside = (real: string, dir: string) => real === dir || real.startsWith(dir.endsWith("/") ? dir : `${dir}/`);

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "EACCES" || code === "EPERM") return "unreadable: permission denied";
  if (code === "ELOOP") return "unreadable: became a symbolic link after the folder was listed";
  if (code === "ENOENT") return "unreadable: removed while ingest ran";
  if (code === "ENAMETOOLONG") return "unreadable: path too long";
  return `unreadable: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * The file's bytes in an ArrayBuffer of their own (so they can be transferred to the parser
 * worker), or why it was not read.
 */
export async function readSelected(file: FoundFile, maxBytes: number): Promise<ReadResult> {
  let handle;
  try {
    handle = await open(file.open, FLAGS);
  } catch (err) {
    return { reason: reasonOf(err) };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { reason: "not a regular file (it changed type after the folder was listed)" };
    // Linux tells which file an open descriptor really is: the last word on "inside the project",
    // whatever was renamed or relinked since the walk.
    const real = await readlink(`/proc/self/fd/${handle.fd}`, { encoding: "buffer" }).catch(() => undefined);
    if (real && real[0] === 0x2f && !file.allowed.some((dir) => inside(real.toString("latin1"), dir))) {
      return { reason: "not read: it resolves outside the project (it changed after the folder was listed)" };
    }
    if (info.size > maxBytes) return { reason: `file is ${info.size} bytes, larger than chunking.maxFileBytes (${maxBytes})` };
    // Read until end of file, but never past the limit: the size above may be stale or fake.
    let buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (buffer.length > maxBytes) break;
        const grown = new Uint8Array(Math.min(buffer.length + CHUNK, maxBytes + 1));
        grown.set(buffer);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { reason: `file is larger than chunking.maxFileBytes (${maxBytes})` };
    return { bytes: length === buffer.length ? buffer : buffer.slice(0, length) };
  } catch (err) {
    return { reason: reasonOf(err) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
