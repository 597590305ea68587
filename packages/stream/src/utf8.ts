/**
 * UTF-8 helpers for a byte stream cut at arbitrary points (TLS records split characters).
 */

/**
 * Length of the prefix of `buf` that ends on a character boundary: a trailing lead byte whose
 * continuation bytes have not arrived yet is excluded (and must be carried to the next chunk).
 * Invalid sequences are left in place for the validator to reject.
 */
export function completePrefixLength(buf: Uint8Array): number {
  const len = buf.length;
  // Look back at most 3 bytes for the lead byte of the last character. Before the start of a
  // shorter buffer `b` is undefined, neither ASCII nor a lead byte: the loop just runs out.
  for (let back = 1; back <= 3; back++) {
    const b = buf[len - back] as number;
    if (b < 0x80) return len; // ASCII: complete
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return need > back ? len - back : len;
    }
    // continuation byte: keep looking for its lead
  }
  return len;
}

/**
 * Index of the first byte that does not start (or continue) a valid UTF-8 sequence, per the
 * Unicode well-formedness table (no overlongs, no surrogates, nothing above U+10FFFF); -1 if none.
 * Only used on the failure path, after `isUtf8` said no.
 */
export function firstInvalidUtf8(buf: Uint8Array): number {
  const len = buf.length;
  let i = 0;
  while (i < len) {
    const b = buf[i] as number;
    if (b < 0x80) { i++; continue; }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    // A sequence cut short by the end of the buffer is invalid here: callers pass only the
    // prefix that completePrefixLength() said was complete.
    if (i + need > len - 1) return i;
    const c1 = buf[i + 1] as number;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = buf[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
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

/** Bytes as UTF-8; the caller has already checked they are valid. */
export function utf8(buf: Buffer, start?: number, end?: number): string {
  return (buf as unknown as RawSlices).utf8Slice(start, end);
}
