// RFC 6120 §6.4.2: SASL data travels as base64 (RFC 4648 §4) character data, and zero-length data
// is sent as a single `=` so that it differs from "no data at all" (an element with no content).

// The RFC 4648 §4 alphabet in groups of four, the last group padded. No whitespace, no URL-safe
// alphabet: RFC 4648 §3.3 says to reject characters outside the alphabet unless the protocol says
// otherwise, and RFC 6120 does not. Node's own decoder skips anything it does not understand,
// which is why it is never given unchecked input.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Encodes SASL data for the body of `<auth>`, `<challenge>`, `<response>` or `<success>`:
 * standard base64, and `=` for zero-length data (RFC 6120 §6.4.2).
 */
export function encodeSaslData(data: Uint8Array): string {
  if (data.length === 0) return '=';
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/**
 * Decodes SASL data strictly: the RFC 4648 §4 alphabet only, correct padding, zero pad bits (the
 * canonical encoding, RFC 4648 §3.5), and `=` alone for zero-length data. Returns `undefined` for
 * anything else, including the empty string (the caller decides what an element with no content
 * means, because it differs per element).
 */
export function decodeSaslData(text: string): Buffer | undefined {
  if (text === '=') return Buffer.alloc(0);
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  const out = Buffer.from(text, 'base64');
  // Non-zero pad bits (`QR==` instead of `QQ==`) decode to the same bytes; RFC 4648 §3.5 lets a
  // decoder reject them, and a strict server should, so that one payload has one spelling.
  if (out.toString('base64') !== text) return undefined;
  return out;
}
