import * as dc from 'node:diagnostics_channel';
import { StringDecoder } from 'node:string_decoder';
import type { TypedChannel } from './diagnostics.js';

/**
 * `ccs:wire`: the opt-in wire trace. Each chunk read from a connection's socket (`in`) and each
 * write (`out`), as text, with SASL payloads and the API key redacted. Chunks follow the socket,
 * not stanza boundaries (a stanza may span two `in` messages, a tick's writes are separate).
 */
export interface WireTraceMessage {
  connectionId: string;
  direction: 'in' | 'out';
  data: string;
}

/** The wire trace channel's name. */
export const WIRE_CHANNEL = 'ccs:wire';

/** The wire trace channel (typed). Subscribing to it is the opt-in: nothing is decoded otherwise. */
export const wireChannel = dc.channel(WIRE_CHANNEL) as unknown as TypedChannel<WireTraceMessage>;

const REDACTED = '[redacted]';
/** The content of SASL elements (RFC 6120 §6.4): `<auth>`, `<response>`, `<challenge>`, `<success>`. */
const SASL_ELEMENT = /(<(?:[a-zA-Z0-9_-]+:)?(?:auth|response|challenge|success)\b[^>]*?(?<!\/)>)[^<]*/g;

/**
 * A redactor for one connection's trace: the content of every SASL element, then (in case a
 * payload reached the wire some other way, or a peer echoes it) the API key itself and the base64
 * of the key and of each PLAIN message that could carry it.
 */
export function wireRedactor(apiKey: string, authcid: string): (text: string) => string {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const secrets = [apiKey, b64(apiKey), b64(`\0${authcid}\0${apiKey}`), b64(`${authcid}\0${authcid}\0${apiKey}`)]
    .filter((s) => s.length > 0)
    // Longest first: a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(SASL_ELEMENT, (_m, open: string) => `${open}${REDACTED}`);
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
}

/**
 * One connection's tracer, given to the stream as its `onTrace` handler. Without a subscriber it
 * returns at once; with one it decodes (a `StringDecoder` per direction, so a character split
 * across chunks is not corrupted) and redacts before publishing.
 */
export function wireTracer(connectionId: () => string, apiKey: string, authcid: string): (direction: 'in' | 'out', data: string | Uint8Array) => void {
  let redact: ((text: string) => string) | undefined;
  let decoders: { in: StringDecoder; out: StringDecoder } | undefined;
  return (direction, data) => {
    if (!wireChannel.hasSubscribers) return;
    redact ??= wireRedactor(apiKey, authcid);
    decoders ??= { in: new StringDecoder('utf8'), out: new StringDecoder('utf8') };
    const text = typeof data === 'string' ? data : decoders[direction].write(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (text.length === 0) return;
    wireChannel.publish({ connectionId: connectionId(), direction, data: redact(text) });
  };
}
