/**
 * A stub CCS server for measuring a client alone (bench/ccs-client.mjs): the real handshake over
 * TLS (stream header, SASL PLAIN offered and accepted, stream restart, resource binding), then for
 * every downstream message the cheapest possible answer — a pre-encoded canonical ACK with the
 * message's id spliced in, all ACKs of one socket read written at once. No XML parser, no
 * validation, no ledger: the emulator (packages/emulator) is the faithful peer; this one exists so
 * that the client's cost is not hidden behind the server's (~5 µs per message for the emulator).
 *
 *   node bench/lib/stub-ccs.mjs [--from TOKEN] [--no-ack] [--lifeline]
 *
 * Prints one JSON line `{ "port", "ca" }` when listening (127.0.0.1, a free port; `ca` is a
 * self-signed certificate made in process), then serves until SIGTERM. `--from` is the `from` of
 * every ACK (send to that token: the ACK is then canonical for every client); `--no-ack` never
 * answers (memory per pending message). `--lifeline` exits when its stdin closes: `startStub` holds
 * the other end of that pipe, so a parent that dies without `stop()` (a crashed test or benchmark,
 * SIGKILL) takes the stub with it instead of leaving a server running.
 */
import * as tls from 'node:tls';
import { parseArgs } from 'node:util';
import { generateDevCertificate } from '@ccs-xmpp/stream';

const { values: args } = parseArgs({
  options: { from: { type: 'string' }, 'no-ack': { type: 'boolean' }, lifeline: { type: 'boolean' } },
});
const FROM = args.from ?? 'stub-device-token';
const ACK = args['no-ack'] !== true;

const HEADER = (id) =>
  `<?xml version='1.0'?><stream:stream from='gcm.googleapis.com' id='${id}' version='1.0' xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>`;
const FEATURES_SASL =
  "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
const FEATURES_BIND = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
const SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";

const ACK_HEAD = Buffer.from(`<message><gcm xmlns="google:mobile:data">{"from":"${FROM}","message_id":"`, 'latin1');
const ACK_TAIL = Buffer.from('","message_type":"ack"}</gcm></message>', 'latin1');
const MESSAGE_END = Buffer.from('</message>', 'latin1');
const ID_KEY = Buffer.from('"message_id":"', 'latin1');
const QUOTE = 0x22;

const { cert, key } = generateDevCertificate();
let sessions = 0;

const server = tls.createServer({ cert, key }, (socket) => {
  socket.setNoDelay(true);
  const sid = `stub-${++sessions}`;
  let phase = 0; // 0 header, 1 auth, 2 second header, 3 bind, 4 online
  let text = '';
  let pending = Buffer.alloc(0);
  // Reused output slab for the ACKs of one read.
  let out = Buffer.allocUnsafe(64 * 1024);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    if (phase < 4) {
      text += chunk.toString('utf8');
      for (;;) {
        if (phase === 0 || phase === 2) {
          const at = text.indexOf('<stream:stream');
          const gt = at < 0 ? -1 : text.indexOf('>', at);
          if (gt < 0) return;
          text = text.slice(gt + 1);
          socket.write(HEADER(sid) + (phase === 0 ? FEATURES_SASL : FEATURES_BIND));
          phase++;
        } else if (phase === 1) {
          const end = text.indexOf('</auth>');
          if (end < 0) return;
          text = text.slice(end + 7);
          socket.write(SUCCESS);
          phase = 2;
        } else if (phase === 3) {
          const bind = text.indexOf('urn:ietf:params:xml:ns:xmpp-bind');
          const end = text.indexOf('</iq>', bind);
          if (bind < 0 || end < 0) return;
          const idm = /<iq[^>]*\sid=["']([^"']*)["']/.exec(text);
          text = text.slice(end + 5);
          socket.write(`<iq type='result' id='${idm ? idm[1] : ''}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>bench@gcm.googleapis.com/${sid}</jid></bind></iq>`);
          phase = 4;
          if (text.length === 0) return;
          chunk = Buffer.from(text, 'utf8');
          text = '';
          break;
        }
      }
    }
    // Online: every `</message>` ends a downstream message; its `"message_id":"…"` is spliced into
    // the pre-encoded ACK. Anything else (whitespace, pings) is skipped.
    let buf = chunk;
    if (pending.length > 0) buf = Buffer.concat([pending, chunk]);
    let pos = 0;
    let used = 0;
    for (;;) {
      const end = buf.indexOf(MESSAGE_END, pos);
      if (end < 0) break;
      if (ACK) {
        const k = buf.indexOf(ID_KEY, pos);
        if (k >= 0 && k < end) {
          const idStart = k + ID_KEY.length;
          const idEnd = buf.indexOf(QUOTE, idStart);
          const need = ACK_HEAD.length + (idEnd - idStart) + ACK_TAIL.length;
          if (used + need > out.length) {
            socket.write(Buffer.from(out.subarray(0, used)));
            if (need > out.length) out = Buffer.allocUnsafe(need);
            used = 0;
          }
          used += ACK_HEAD.copy(out, used);
          used += buf.copy(out, used, idStart, idEnd);
          used += ACK_TAIL.copy(out, used);
        }
      }
      pos = end + MESSAGE_END.length;
    }
    if (buf.includes('</stream:stream>', pos)) {
      socket.end('</stream:stream>');
      return;
    }
    pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    // A copy of what was filled (the socket may hold on to what it is given): the slab is reused.
    if (used > 0) socket.write(Buffer.from(out.subarray(0, used)));
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, ca: cert })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
if (args.lifeline === true) {
  // The pipe closes when the parent exits, however it exits; nothing is ever written to it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
