// The standard CCS inbound mix, written once and used by every benchmark (and by tests that want
// realistic traffic): what an app server's connection receives from CCS.
//   ~60% ACKs (half in the prefixed `data:gcm` form, as real CCS sent them)
//   ~30% upstream data messages with 2–10 data keys
//   ~5%  NACKs, ~5% delivery receipts
//   a few percent carry XML entities in the JSON (user data with `<`, `&`, `>` and quotes),
//   some carry non-ASCII text (accents, CJK, emoji) so multi-byte UTF-8 gets split across chunks.

/** Deterministic PRNG (mulberry32) so every run and every peer sees the same bytes. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const NON_ASCII = ['café', 'naïve', 'Grüße', '東京', 'привет', '🎉🚀', '½ price', 'שלום'];
const ENTITY_TEXT = ['a < b', 'Tom & Jerry', '5 > 3 && 2 < 4', '<b>bold</b>', 'R&D "quoted"'];
const NACK_CODES = ['BAD_REGISTRATION', 'DEVICE_UNREGISTERED', 'SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR', 'DEVICE_MESSAGE_RATE_EXCEEDED'];

function token(rnd) {
  let s = '';
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < 152; i++) s += chars[Math.floor(rnd() * chars.length)];
  return s;
}

function escapeXmlText(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Generates `count` stanzas of the mix.
 * @returns {{ header: string, stanzas: string[], payloads: object[], kinds: string[] }}
 *   `stanzas[i]` is the XML of one `<message>`, `payloads[i]` the JSON object inside it.
 */
export function generateCcsMix(count, seed = 42) {
  const rnd = prng(seed);
  const tokens = Array.from({ length: 64 }, () => token(rnd));
  const stanzas = [];
  const payloads = [];
  const kinds = [];
  for (let i = 0; i < count; i++) {
    const r = rnd();
    const to = tokens[Math.floor(rnd() * tokens.length)];
    const id = `m-${i}-${Math.floor(rnd() * 1e9).toString(36)}`;
    let payload;
    let kind;
    if (r < 0.6) {
      kind = 'ack';
      payload = { from: to, message_id: id, message_type: 'ack' };
    } else if (r < 0.9) {
      kind = 'upstream';
      const data = {};
      const keys = 2 + Math.floor(rnd() * 9);
      for (let k = 0; k < keys; k++) {
        const pick = rnd();
        data[`${WORDS[k % WORDS.length]}_${k}`] =
          pick < 0.06 ? ENTITY_TEXT[Math.floor(rnd() * ENTITY_TEXT.length)]
          : pick < 0.16 ? NON_ASCII[Math.floor(rnd() * NON_ASCII.length)]
          : `${WORDS[Math.floor(rnd() * WORDS.length)]}-${Math.floor(rnd() * 100000)}`;
      }
      payload = { category: 'com.example.yourapp', data, message_id: id, from: to, time_to_live: 86400 };
    } else if (r < 0.95) {
      kind = 'nack';
      const code = NACK_CODES[Math.floor(rnd() * NACK_CODES.length)];
      payload = { from: to, message_id: id, message_type: 'nack', error: code, error_description: `Error ${code.toLowerCase()}` };
    } else {
      kind = 'receipt';
      payload = {
        message_type: 'receipt', message_id: `dr2:${id}`, from: 'gcm.googleapis.com', category: 'com.example.yourapp',
        data: { message_status: 'MESSAGE_SENT_TO_DEVICE', original_message_id: id, device_registration_id: to, message_sent_timestamp: String(1430277821658 + i) },
      };
    }
    const json = escapeXmlText(JSON.stringify(payload));
    let xml;
    if (kind === 'ack' && rnd() < 0.5) {
      xml = `<message><data:gcm xmlns:data="google:mobile:data">${json}</data:gcm></message>`;
    } else if (kind === 'upstream' || kind === 'receipt') {
      xml = `<message to="1234567890@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal" id="${id}"><gcm xmlns="google:mobile:data">${json}</gcm></message>`;
    } else {
      xml = `<message id=""><gcm xmlns="google:mobile:data">${json}</gcm></message>`;
    }
    stanzas.push(xml);
    payloads.push(payload);
    kinds.push(kind);
  }
  const header = `<?xml version='1.0'?><stream:stream from="gcm.googleapis.com" id="5B2E7A4C1F0E0D11" version="1.0" xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client">`;
  return { header, stanzas, payloads, kinds };
}

/** Splits a buffer into chunks of `size` bytes (the last may be shorter): how TLS records arrive. */
export function chunked(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, Math.min(buf.length, i + size)));
  return out;
}

/**
 * The text of a `<message>` element's gcm child (`google:mobile:data`), or undefined: found without
 * a DOM walk (on this traffic it is the message's only child), as a consumer of elements would.
 */
export function gcmPayloadOf(el) {
  const kids = el.children;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i];
    if (typeof k !== 'string' && k.local === 'gcm' && k.uri === 'google:mobile:data') return k.children[0] ?? '';
  }
  return undefined;
}
