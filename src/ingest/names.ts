/**
 * File names are bytes. The index stores a path as text, so a name is written as its UTF-8 text
 * with a reversible escaping of what text cannot carry faithfully or would mislead a reader:
 *
 * - `\` becomes `\\` (a backslash is an ordinary character in a POSIX name, never a separator);
 * - a byte that is not part of valid UTF-8, and every ASCII control character (newline, tab, …),
 *   becomes `\xHH`;
 * - Unicode bidirectional controls (U+202A–U+202E, U+2066–U+2069) become `\u202e` etc., so a
 *   name cannot reorder what a terminal shows.
 *
 * Nothing else changes: a name made of printable UTF-8 without backslashes (every name in normal
 * documentation) is stored exactly as it is. `unescapeName` gives back the original bytes.
 * Ingest never turns a stored path back into a file path: it opens files by the bytes it read
 * from the directory, so no escaping can make it read another file.
 */

const HEX = "0123456789abcdef";
const hex2 = (b: number) => HEX[b >> 4] + HEX[b & 15];
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function utf8Length(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  if (b < 0x80) return 1;
  const cont = (k: number) => i + k < bytes.length && (bytes[i + k] & 0xc0) === 0x80;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const b1 = bytes[i + 1];
    if (b === 0xe0 && b1 < 0xa0) return 0; // overlong
    if (b === 0xed && b1 >= 0xa0) return 0; // UTF-16 surrogate
    return 3;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const b1 = bytes[i + 1];
    if (b === 0xf0 && b1 < 0x90) return 0; // overlong
    if (b === 0xf4 && b1 >= 0x90) return 0; // beyond U+10FFFF
    return 4;
  }
  return 0;
}

const decoder = new TextDecoder("utf-8");

/** One directory entry's name (raw bytes) as stored text. */
export function escapeName(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const n = utf8Length(bytes, i);
    if (n === 0) {
      out += `\\x${hex2(bytes[i])}`;
      i++;
      continue;
    }
    if (n === 1) {
      const b = bytes[i];
      out += b === 0x5c ? "\\\\" : b < 0x20 || b === 0x7f ? `\\x${hex2(b)}` : String.fromCharCode(b);
      i++;
      continue;
    }
    const ch = decoder.decode(bytes.subarray(i, i + n));
    out += BIDI.test(ch) ? `\\u${ch.codePointAt(0)!.toString(16).padStart(4, "0")}` : ch;
    i += n;
  }
  return out;
}

/** The bytes of a name written by `escapeName`. */
export function unescapeName(text: string): Buffer {
  const parts: Buffer[] = [];
  let plain = "";
  const flush = () => {
    if (plain) parts.push(Buffer.from(plain, "utf8"));
    plain = "";
  };
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "\\") {
      plain += text[i];
      continue;
    }
    const next = text[i + 1];
    if (next === "\\") {
      plain += "\\";
      i++;
    } else if (next === "x" && /^[0-9a-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      flush();
      parts.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
      i += 3;
    } else if (next === "u" && /^[0-9a-f]{4}$/.test(text.slice(i + 2, i + 6))) {
      plain += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      throw new Error(`not an escaped file name: stray backslash at ${i} in ${JSON.stringify(text)}`);
    }
  }
  flush();
  return Buffer.concat(parts);
}

/** The stored path of a relative path given as bytes: each `/`-separated name escaped on its own. */
export function storedPath(path: Uint8Array): string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === 0x2f) {
      parts.push(escapeName(path.subarray(from, i)));
      from = i + 1;
    }
  }
  return parts.join("/");
}
