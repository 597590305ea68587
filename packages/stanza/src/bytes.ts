/**
 * Byte helpers for reading stanzas straight from socket bytes (the GCM shortcut).
 */

/**
 * Length of the prefix of `buf` that ends on a character boundary: a trailing lead byte whose
 * continuation bytes have not arrived yet is excluded. Invalid sequences are left in place.
 */
export function completePrefixLength(buf: Uint8Array): number {
  const len = buf.length;
  for (let back = 1; back <= 3 && back <= len; back++) {
    const b = buf[len - back] as number;
    if (b < 0x80) return len;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return need > back ? len - back : len;
    }
  }
  return len;
}

// Buffer's un-typed decoders: `toString(enc, a, b)` checks its arguments and dispatches on the
// encoding name on every call; these are what it ends up calling.
interface RawSlices {
  latin1Slice(start?: number, end?: number): string;
  utf8Slice(start?: number, end?: number): string;
}

/** Bytes as latin1 (one char per byte): offsets in the string are byte offsets. */
export function latin1(buf: Buffer, start?: number, end?: number): string {
  return (buf as unknown as RawSlices).latin1Slice(start, end);
}

/** Bytes as UTF-8 (invalid sequences become U+FFFD). */
export function utf8(buf: Buffer, start?: number, end?: number): string {
  return (buf as unknown as RawSlices).utf8Slice(start, end);
}
