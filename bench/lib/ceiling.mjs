// The ceiling of bench/stream-parse.mjs (and bench/micro/vs-ceiling.mjs): a bare indexOf scanner
// over the CCS mix (bench/lib/ccs-mix.mjs) — what extracting and parsing every gcm payload costs
// with no validation at all.

const GCM_OPEN = Buffer.from('gcm xmlns');
const GT = 0x3e;
const LT = 0x3c;
const END = Buffer.from('</message>');
const ENT = /&(lt|gt|amp|quot|apos);/g;
const ENT_MAP = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function indexOfScanner(chunks, out) {
  // The ceiling: no validation at all, just find the payload between `<…gcm …>` and `</`, decode
  // it as UTF-8 (correct across chunk splits because it works on bytes), unescape, JSON.parse.
  let n = 0;
  let pending = null;
  let started = false;
  for (let c = 0; c < chunks.length; c++) {
    let buf = pending ? Buffer.concat([pending, chunks[c]]) : chunks[c];
    pending = null;
    let pos = 0;
    if (!started) {
      const h = buf.indexOf(GT, buf.indexOf('<stream:stream'));
      if (h < 0) {
        pending = buf;
        continue;
      }
      started = true;
      pos = h + 1;
    }
    for (;;) {
      const end = buf.indexOf(END, pos);
      if (end < 0) break;
      const g = buf.indexOf(GCM_OPEN, pos);
      const open = buf.indexOf(GT, g) + 1;
      // The payload holds no `<` (it is escaped): its end tag is the next one. (A backward string
      // search from `end` costs time proportional to the buffer on Node 20: 16 KiB chunks suffered.)
      const close = buf.indexOf(LT, open);
      let text = buf.toString('utf8', open, close);
      if (text.includes('&')) text = text.replace(ENT, (_, e) => ENT_MAP[e]);
      const payload = JSON.parse(text);
      if (out) out.push(payload);
      n++;
      pos = end + END.length;
    }
    if (pos < buf.length) pending = buf.subarray(pos);
  }
  return n;
}
