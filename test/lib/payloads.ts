/**
 * The hostile-but-legal GCM payloads the interop suite pushes through a real server: everything
 * JSON can carry that XML makes awkward. Deterministic (no randomness), so a failure names the
 * same message every run.
 */

/** Text pieces, each aimed at one way of getting XML or JSON wrong. */
export const PIECES: readonly string[] = [
  'a < b && c > d',
  'say "hi" and \'bye\' — "double" \'single\'',
  'CDATA end ]]> and ]] > and ]]]>> and ]]&gt;',
  '</gcm></message><message to="x"><![CDATA[',
  'entity look-alikes &amp; &lt; &#x41; &#65; &unknown; &',
  'emoji 🔑😀 family 👩‍👩‍👧 flag 🇩🇪 keycap 1️⃣',
  'RTL שלום עליכם مرحبا بالعالم \u200F mark \u202Eoverride\u202C',
  'line\u2028separator and paragraph\u2029separator',
  'non-characters \uFFFE and \uFFFF and \uFDD0',
  'controls \u0000 \u0001 \u001F tab\there newline\nhere cr\rhere del\u007F nel\u0085',
  'backslash \\ and "\\u0041" and \\\\n literally',
  'lone surrogates \uD800 high \uDC00 low \uDBFF\uDBFF reversed \uDC00\uD800',
  'CJK 密码 日本語 한국어, combining e\u0301 vs é, ligature ﬁ, BOM \uFEFF, NBSP\u00A0',
  '',
];

/** About 3.5 KB of UTF-8 built from every piece, under CCS's 4096-byte `data` limit. */
function bigText(seed: number): string {
  let out = `big#${seed}:`;
  for (let i = 0; Buffer.byteLength(out) < 3_400; i++) out += PIECES[(seed + i) % PIECES.length] as string;
  return out;
}

/** A stanza id that exercises attribute escaping every now and then. */
export function messageId(direction: string, i: number): string {
  return i % 50 === 7 ? `id <&"'> 🔑 ${direction} ${i}` : `m-${direction}-${i}`;
}

/**
 * Upstream-shaped payload number `i` (`message_id`, `from`, `category`, `data`), so that
 * `decodeGcmMessage` reads it as `upstream`.
 */
export function payload(direction: string, i: number): Record<string, unknown> {
  const data: Record<string, unknown> = {
    i: String(i),
    text: PIECES[i % PIECES.length],
    pair: `${PIECES[(i * 7 + 3) % PIECES.length]}|${PIECES[(i * 5 + 1) % PIECES.length]}`,
  };
  if (i % 7 === 0) data['big'] = bigText(i);
  if (i % 11 === 0) data['nested'] = JSON.stringify({ inner: PIECES[i % PIECES.length], n: [1, -0.5, 1e21, null, true] });
  // A key carrying the awkward characters too.
  if (i % 13 === 0) data[`key ${PIECES[(i + 2) % PIECES.length]}`] = 'value';
  return {
    message_id: messageId(direction, i),
    from: `REG-${direction}`,
    category: 'com.example.interop',
    data,
  };
}
