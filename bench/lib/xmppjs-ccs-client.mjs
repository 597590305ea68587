/**
 * A CCS client built on xmpp.js (`@xmpp/client` 0.14), written the way node-xcs and similar
 * libraries do it: `client({ service: 'xmpps://…', domain: 'gcm.googleapis.com', username, password })`,
 * downstream messages as `<message id=''><gcm xmlns='google:mobile:data'>JSON</gcm></message>`
 * built with `xml()`, and a `stanza` listener that finds the `gcm` child, `JSON.parse`s it and
 * matches ACK/NACK by `message_id` in a `Map` of pending sends.
 *
 * It is the benchmark's baseline, so it gets the same flow control as `CcsClient` (at most
 * `maxPending` un-answered messages on the wire, the rest in a queue bounded by `maxQueued`, with
 * `trySend` / `waitForCapacity`) — a fair comparison measures the libraries, not the window.
 * Left out on purpose (not exercised by the benchmark): NACK retries, resend after a lost
 * connection, draining. Upstream messages and receipts are ACKed so the emulator stays happy.
 */
import { client, xml } from '@xmpp/client';

const NS_GCM = 'google:mobile:data';

/**
 * `@xmpp/client` has no TLS options (CA, servername). Its transports are classes whose
 * `socketParameters(service)` result goes straight to `tls.connect()`: subclass the `xmpps:` one
 * to add ours, and put it first, so only this client instance is affected.
 */
function trustTls(xmpp, tlsOptions) {
  const i = xmpp.transports.findIndex((T) => {
    try {
      return T.prototype.socketParameters('xmpps://127.0.0.1:1')?.port === 1;
    } catch {
      return false;
    }
  });
  if (i < 0) throw new Error('@xmpp/client has no xmpps: transport');
  const Base = xmpp.transports[i];
  class TrustedTls extends Base {
    socketParameters(service) {
      const p = super.socketParameters(service);
      return p === undefined ? undefined : { ...p, ...tlsOptions };
    }
  }
  xmpp.transports.splice(i, 1);
  xmpp.transports.unshift(TrustedTls);
}

export class XmppjsCcsClient {
  /**
   * @param {{ senderId: string, apiKey: string, host: string, port: number,
   *   tls?: { ca?: string|Buffer, servername?: string, rejectUnauthorized?: boolean },
   *   maxPending?: number, maxQueued?: number }} o
   */
  constructor(o) {
    this.maxPending = o.maxPending ?? 1000;
    this.maxQueued = o.maxQueued ?? 10_000;
    /** message_id → { resolve, reject } of messages on the wire. */
    this.pending = new Map();
    /** Messages waiting for a window slot: [payload, resolve, reject] triples, head at `qHead`. */
    this.queue = [];
    this.qHead = 0;
    this.capacityWaiters = [];
    this.counter = 0;
    this.prefix = `x${process.pid.toString(36)}-`;
    this.stats = { sent: 0, acked: 0, nacked: 0, upstream: 0 };
    this.xmpp = client({
      service: `xmpps://${o.host}:${o.port}`,
      domain: 'gcm.googleapis.com',
      // CCS's SASL PLAIN authcid is `SENDER_ID@gcm.googleapis.com` (PROTOCOL.md "Connection").
      username: `${o.senderId}@gcm.googleapis.com`,
      password: o.apiKey, // ASCII: its btoa-based PLAIN is fine
    });
    trustTls(this.xmpp, o.tls ?? {});
    this.xmpp.reconnect.stop(); // a benchmark run must not silently reconnect
    this.lastError = undefined;
    this.xmpp.on('error', (err) => {
      this.lastError = err;
    });
    this.xmpp.on('stanza', (stanza) => this.onStanza(stanza));
  }

  async connect() {
    await this.xmpp.start();
  }

  async close() {
    await this.xmpp.stop();
  }

  get queued() {
    return this.queue.length - this.qHead;
  }

  onStanza(stanza) {
    if (!stanza.is('message')) return;
    const gcm = stanza.getChild('gcm', NS_GCM);
    if (gcm === undefined) return;
    let data;
    try {
      data = JSON.parse(gcm.getText());
    } catch {
      return;
    }
    if (stanza.attrs.type === 'error') return this.settle(data.message_id, new Error(`stanza error for ${data.message_id}`));
    switch (data.message_type) {
      case 'ack':
        this.stats.acked++;
        return this.settle(data.message_id, undefined, data);
      case 'nack':
        this.stats.nacked++;
        return this.settle(data.message_id, new Error(`NACK ${data.error}`));
      case 'control':
        return;
      default: // upstream message or receipt: ACK it
        this.stats.upstream++;
        this.xmpp.send(xml('message', { id: '' }, xml('gcm', { xmlns: NS_GCM },
          JSON.stringify({ to: data.from, message_id: data.message_id, message_type: 'ack' })))).catch(() => {});
    }
  }

  settle(id, err, ack) {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    if (err) p.reject(err);
    else p.resolve({ messageId: id, from: ack.from });
    this.flush();
  }

  /** Sends queued messages while the window has room. */
  flush() {
    const q = this.queue;
    while (this.qHead < q.length && this.pending.size < this.maxPending) {
      const e = q[this.qHead];
      q[this.qHead++] = undefined;
      this.write(e[0], e[1], e[2]);
    }
    if (this.qHead === q.length) {
      q.length = 0;
      this.qHead = 0;
    } else if (this.qHead > 4096 && this.qHead * 2 > q.length) {
      q.splice(0, this.qHead);
      this.qHead = 0;
    }
    if (this.capacityWaiters.length > 0 && this.queued <= this.maxQueued >> 1) {
      for (const w of this.capacityWaiters.splice(0)) w();
    }
  }

  write(msg, resolve, reject) {
    // Register before sending: the ACK can arrive before `xmpp.send()` resolves.
    this.pending.set(msg.message_id, { resolve, reject });
    this.stats.sent++;
    this.xmpp.send(xml('message', { id: '' }, xml('gcm', { xmlns: NS_GCM }, JSON.stringify(msg))))
      .catch((err) => this.settle(msg.message_id, err));
  }

  /** Like CcsClient.trySend: a promise of the ACK, or `undefined` when the queue is full. */
  trySend(message) {
    const msg = message.message_id === undefined ? { ...message, message_id: this.prefix + (++this.counter).toString(36) } : message;
    if (this.queued === 0 && this.pending.size < this.maxPending) {
      return new Promise((resolve, reject) => this.write(msg, resolve, reject));
    }
    if (this.queued >= this.maxQueued) return undefined;
    return new Promise((resolve, reject) => this.queue.push([msg, resolve, reject]));
  }

  send(message) {
    return this.trySend(message) ?? Promise.reject(new Error('queue full'));
  }

  waitForCapacity() {
    if (this.queued < this.maxQueued) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }
}
