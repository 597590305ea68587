/**
 * The ceiling for bench/ccs-client.mjs: the least a CCS client can do and still be one. Raw
 * `tls.connect`, the handshake as template strings matched with `indexOf`, downstream messages as
 * template strings (the payload is known to need no escaping), ACKs found by scanning the bytes for
 * `"message_id":"` with `indexOf`, a `Map` of what is in flight, a fixed window per connection,
 * one write per batch. No validation, no retries, no reconnect, no promises per message — nothing a
 * real client could leave out.
 */
import * as tls from 'node:tls';

const ID_KEY = Buffer.from('"message_id":"', 'latin1');
const MESSAGE_END = Buffer.from('</message>', 'latin1');
const QUOTE = 0x22;

/**
 * Opens one connection through the whole handshake (TLS, SASL PLAIN, the second stream, bind);
 * resolves with the socket, online. Also the API floor's (bench/lib/floor-ccs-client.mjs): both
 * contenders connect alike, so they differ only per message.
 * @param {{ host: string, port: number, ca: string, senderId: string, apiKey: string }} o
 * @returns {Promise<tls.TLSSocket>}
 */
export function open(o) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: o.host, port: o.port, ca: o.ca, servername: 'localhost' });
    socket.setNoDelay(true);
    let text = '';
    let step = 0;
    const header = "<stream:stream to='gcm.googleapis.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    const auth = Buffer.from(`\0${o.senderId}@gcm.googleapis.com\0${o.apiKey}`).toString('base64');
    socket.once('secureConnect', () => socket.write(header));
    socket.on('error', reject);
    const onData = (chunk) => {
      text += chunk.toString('utf8');
      if (step === 0 && text.includes('</stream:features>')) {
        text = '';
        step = 1;
        socket.write(`<auth mechanism='PLAIN' xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${auth}</auth>`);
      } else if (step === 1 && text.includes('<success')) {
        text = '';
        step = 2;
        socket.write(header);
      } else if (step === 2 && text.includes('</stream:features>')) {
        text = '';
        step = 3;
        socket.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
      } else if (step === 3 && text.includes('</iq>')) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve(socket);
      }
    };
    socket.on('data', onData);
  });
}

export class TrivialCcsClient {
  /** @param {{ host: string, port: number, ca: string, senderId: string, apiKey: string, to: string, maxPending: number, connections: number }} o */
  constructor(o) {
    this.o = o;
    this.sockets = [];
    this.acked = 0;
  }

  async connect() {
    this.sockets = await Promise.all(Array.from({ length: this.o.connections }, () => open(this.o)));
  }

  /**
   * Sends `n` messages (ids from `base`) over all connections, each keeping `maxPending` in
   * flight; resolves when every one is ACKed.
   */
  run(base, n) {
    const { to, maxPending } = this.o;
    let next = 0;
    let acked = 0;
    return new Promise((resolve) => {
      for (const socket of this.sockets) {
        const inflight = new Map();
        let pending = Buffer.alloc(0);
        const fill = () => {
          let batch = '';
          while (inflight.size < maxPending && next < n) {
            const i = base + next++;
            const id = `t${i.toString(36)}`;
            inflight.set(id, i);
            batch += `<message id=""><gcm xmlns="google:mobile:data">{"to":"${to}","message_id":"${id}","data":{"type":"chat","title":"New message","body":"Alice: are we still on for 7pm?","thread":"th-42","seq":"${i}"}}</gcm></message>`;
          }
          if (batch !== '') socket.write(batch);
        };
        const onData = (chunk) => {
          const buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
          let pos = 0;
          for (;;) {
            const end = buf.indexOf(MESSAGE_END, pos);
            if (end < 0) break;
            const k = buf.indexOf(ID_KEY, pos);
            if (k >= 0 && k < end) {
              const idStart = k + ID_KEY.length;
              const id = buf.latin1Slice(idStart, buf.indexOf(QUOTE, idStart));
              if (inflight.delete(id)) acked++;
            }
            pos = end + MESSAGE_END.length;
          }
          pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
          if (acked === n) {
            for (const s of this.sockets) s.removeAllListeners('data');
            this.acked += n;
            resolve();
            return;
          }
          fill();
        };
        socket.on('data', onData);
        fill();
      }
    });
  }

  close() {
    for (const s of this.sockets) {
      // Closing, so a reset from the peer (the stub stopped before our end reached it) is no news.
      s.on('error', ignore);
      s.end("</stream:stream>");
    }
    this.sockets = [];
  }
}

function ignore() {}
